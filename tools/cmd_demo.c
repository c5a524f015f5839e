/* SPDX-License-Identifier: MIT */
/* tools/cmd_demo.c - "zerocp demo": the seed's client, as a self-check.
 *
 * Takes the three chunks the seed's server held (200, 800 and 3000 bytes:
 * "zerocp serve" is a daemon and takes none), then runs the seed's client steps against a running server and checks each
 * of the seed's verification points on the way (attach, automatic pool
 * choice, data written and read back, reference count 1 -> 2 -> 1, used
 * and free moving with allocation and release).  Every failed check is
 * printed as "FAIL: ..." and makes the exit status 1, so the scenario
 * script can rely on it.  --socket PATH attaches through a "serve --socket"
 * server's broker instead of by name.
 */
#include "tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s demo [--name N | --socket PATH] [--owner UID] [--hold SECONDS]\n"
		"\n"
		"Attach to the running manager N and perform the seed's steps: take the\n"
		"seed server's 200, 800 and 3000 bytes (held to the end), then the client's:\n"
		"allocate 100, 512 and 2048 bytes, write and read back data, take and\n"
		"drop a reference, release everything.  Exit 1 if any check fails.\n"
		"  --socket PATH   attach through the socket of a \"serve --socket\"\n"
		"  --owner UID     the user (uid or name) that must own the manager, its\n"
		"                  socket and the broker (default: ours)\n"
		"  --hold SECONDS  before releasing, print \"holding\" and stay attached\n"
		"                  with the chunks that long (to watch with stat, or to\n"
		"                  kill and see the server reclaim them)\n",
		zcp_tool_progname);
}

/* Failed checks so far; the exit status. */
static int failures;

/* Seconds to stay attached holding the chunks (--hold), 0 for none. */
static double hold_seconds;

/* Sleep for --hold; a signal that does not kill us just ends it early. */
static void hold(void)
{
	struct timespec ts;

	ts.tv_sec = (time_t)hold_seconds;
	ts.tv_nsec = (long)((hold_seconds - (double)ts.tv_sec) * 1e9);
	printf("holding the chunks for %g s (pid %ld)\n", hold_seconds, (long)getpid());
	fflush(stdout);
	nanosleep(&ts, NULL);
}

/* Record one check: print FAIL with the reason when cond is false. */
static int check(int cond, const char *what)
{
	if (!cond) {
		printf("FAIL: %s\n", what);
		failures++;
	}
	return cond;
}

/* Snapshot of every pool's used count (at most ZCP_MAX_POOLS pools). */
static int used_counts(const zcp_mempool_manager *m, uint64_t *used, int n)
{
	for (int i = 0; i < n; i++) {
		zcp_pool_stats s;
		if (zcp_mempool_manager_pool_stats(m, i, &s) != 0)
			return -1;
		used[i] = s.used;
	}
	return 0;
}

/* The steps themselves, on an attached manager. */
static void run(zcp_mempool_manager *m)
{
	static const uint64_t sizes[] = {100, 512, 2048};
	static const uint64_t server_sizes[] = {200, 800, 3000};
	static const char hello[] = "Hello from client!";
	zcp_chunk *c[3] = {NULL, NULL, NULL}, *srv[3] = {NULL, NULL, NULL};
	uint64_t before[ZCP_MAX_POOLS], after[ZCP_MAX_POOLS];
	int npools = zcp_mempool_manager_pool_count(m);
	char msg[160];

	printf("Attached to manager %s (%d pools)\n", zcp_tool_q(zcp_mempool_manager_name(m)),
	       npools);
	if (!check(npools > 0 && npools <= ZCP_MAX_POOLS, "the manager has pools"))
		return;
	printf("Pool status:\n");
	zcp_mempool_manager_print_stats(m, stdout);

	/* The seed's server took these three at start and held them until
	 * it stopped; "zerocp serve" is a daemon that takes nothing, so the
	 * demo plays that part, holding them to its end. */
	printf("Server-side allocations (the seed's server): %d, %d and %d bytes...\n",
	       (int)server_sizes[0], (int)server_sizes[1], (int)server_sizes[2]);
	for (int k = 0; k < 3; k++) {
		srv[k] = zcp_chunk_get(m, server_sizes[k]);
		if (srv[k] == NULL) {
			int e = -errno;
			snprintf(msg, sizeof msg, "allocating %d bytes: %s", (int)server_sizes[k],
				 zcp_strerror(e));
			check(0, msg);
			continue;
		}
		printf("  %d bytes: pool %d (chunk_size=%llu)\n", (int)server_sizes[k],
		       zcp_chunk_pool_index(srv[k]), (unsigned long long)zcp_chunk_capacity(srv[k]));
	}
	printf("Pool status after the server-side allocations:\n");
	zcp_mempool_manager_print_stats(m, stdout);
	check(used_counts(m, before, npools) == 0, "reading the pools' status");

	printf("Allocating %d, %d and %d bytes...\n", (int)sizes[0], (int)sizes[1],
	       (int)sizes[2]);
	for (int k = 0; k < 3; k++) {
		c[k] = zcp_chunk_get(m, sizes[k]);
		if (c[k] == NULL) {
			int e = -errno;
			snprintf(msg, sizeof msg, "allocating %d bytes: %s", (int)sizes[k],
				 zcp_strerror(e));
			check(0, msg);
			continue;
		}
		printf("  %d bytes: pool %d (chunk_size=%llu)\n", (int)sizes[k],
		       zcp_chunk_pool_index(c[k]), (unsigned long long)zcp_chunk_capacity(c[k]));
		snprintf(msg, sizeof msg, "chunk of %d bytes is large enough", (int)sizes[k]);
		check(zcp_chunk_capacity(c[k]) >= sizes[k] && zcp_chunk_data(c[k]) != NULL, msg);
	}
	printf("Pool status after allocation:\n");
	zcp_mempool_manager_print_stats(m, stdout);
	/* Each allocation raised `used` of its own pool by one (assuming
	 * nobody else allocates meanwhile, as in the seed's scenario). */
	if (used_counts(m, after, npools) == 0) {
		for (int k = 0; k < 3; k++)
			if (c[k] != NULL)
				before[zcp_chunk_pool_index(c[k])]++;
		for (int i = 0; i < npools; i++) {
			snprintf(msg, sizeof msg, "pool %d: used is %llu after allocation, expected %llu",
				 i, (unsigned long long)after[i], (unsigned long long)before[i]);
			check(after[i] == before[i], msg);
		}
	}

	if (c[0] != NULL) {
		char *p = zcp_chunk_data(c[0]);
		memcpy(p, hello, sizeof hello);
		printf("Chunk 1 data: %s\n", p);
		check(strcmp(p, hello) == 0, "chunk 1 reads back what was written");
	}
	if (c[1] != NULL) {
		int *v = zcp_chunk_data(c[1]);
		int ok = 1;
		for (int i = 0; i < 10; i++)
			v[i] = i * 100;
		printf("Chunk 2 data:");
		for (int i = 0; i < 10; i++) {
			printf(" %d", v[i]);
			ok &= v[i] == i * 100;
		}
		printf("\n");
		check(ok, "chunk 2 reads back 0, 100, ..., 900");
	}

	if (c[0] != NULL) {
		uint64_t r1 = zcp_chunk_refcount(c[0]), r2, r3;
		int err = zcp_chunk_ref(m, c[0]);
		snprintf(msg, sizeof msg, "zcp_chunk_ref: %s", zcp_strerror(err));
		check(err == 0, msg);
		r2 = zcp_chunk_refcount(c[0]);
		err = zcp_chunk_release(m, c[0]);
		snprintf(msg, sizeof msg, "zcp_chunk_release of the extra reference: %s",
			 zcp_strerror(err));
		check(err == 0, msg);
		r3 = zcp_chunk_refcount(c[0]);
		printf("Chunk 1 reference count: %llu -> %llu -> %llu\n", (unsigned long long)r1,
		       (unsigned long long)r2, (unsigned long long)r3);
		check(r1 == 1 && r2 == 2 && r3 == 1, "reference count goes 1 -> 2 -> 1");
	}

	if (hold_seconds > 0)
		hold();
	printf("Releasing the chunks...\n");
	for (int k = 0; k < 3; k++) {
		if (c[k] == NULL)
			continue;
		int err = zcp_chunk_release(m, c[k]);
		snprintf(msg, sizeof msg, "releasing chunk %d: %s", k + 1, zcp_strerror(err));
		check(err == 0, msg);
		snprintf(msg, sizeof msg, "chunk %d has no reference left", k + 1);
		check(zcp_chunk_refcount(c[k]) == 0, msg);
	}
	printf("Pool status after release:\n");
	zcp_mempool_manager_print_stats(m, stdout);
	if (used_counts(m, after, npools) == 0) {
		for (int k = 0; k < 3; k++)
			if (c[k] != NULL)
				before[zcp_chunk_pool_index(c[k])]--;
		for (int i = 0; i < npools; i++) {
			snprintf(msg, sizeof msg, "pool %d: used is %llu after release, expected %llu",
				 i, (unsigned long long)after[i], (unsigned long long)before[i]);
			check(after[i] == before[i], msg);
		}
	}
	printf("Releasing the server-side chunks...\n");
	for (int k = 0; k < 3; k++) {
		if (srv[k] == NULL)
			continue;
		int err = zcp_chunk_release(m, srv[k]);
		snprintf(msg, sizeof msg, "releasing server-side chunk %d: %s", k + 1,
			 zcp_strerror(err));
		check(err == 0, msg);
	}
}

/* Entry point of "zerocp demo". */
int zcp_tool_demo(int argc, char **argv)
{
	struct zcp_tool_target t = {NULL, NULL, ZCP_OWNER_SELF, 0, 0};
	zcp_mempool_manager *m;
	int err;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if ((r = zcp_tool_opt("demo", argc, argv, &i, "--name", &v)) != 0) {
			if (r < 0 || zcp_tool_check_name("demo", v) != 0)
				return ZCP_TOOL_USAGE;
			t.name = v;
		} else if ((r = zcp_tool_opt("demo", argc, argv, &i, "--socket", &v)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
			t.socket = v;
		} else if ((r = zcp_tool_opt("demo", argc, argv, &i, "--owner", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_owner("demo", v, &t.owner) != 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt("demo", argc, argv, &i, "--hold", &v)) != 0) {
			char *end;
			if (r < 0)
				return ZCP_TOOL_USAGE;
			hold_seconds = strtod(v, &end);
			if (end == v || *end != '\0' || !(hold_seconds >= 0) ||
			    hold_seconds > 86400.0) {
				zcp_tool_err("demo", "bad --hold %s: seconds, 0 to 86400",
					     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
		} else {
			zcp_tool_err("demo", "unknown option %s", zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		}
	}
	if (t.socket != NULL && t.name != NULL) {
		/* The socket decides the manager: a --name beside it would
		 * be silently ignored. */
		zcp_tool_err("demo", "--name and --socket exclude each other");
		return ZCP_TOOL_USAGE;
	}
	if (t.socket == NULL && zcp_tool_check_env_name("demo", t.name) != 0)
		return ZCP_TOOL_USAGE;
	if (t.socket != NULL)
		printf("Attaching through socket %s...\n", zcp_tool_q(t.socket));
	else
		printf("Attaching to manager %s...\n", zcp_tool_q(zcp_tool_name(t.name)));
	err = zcp_tool_attach("demo", &t, &m, NULL);
	if (err != 0) {
		zcp_tool_attach_error("demo", &t, err);
		if (err == ZCP_ENOENT || err == ZCP_ECONNREFUSED)
			zcp_tool_err("demo", "is the server running?");
		return ZCP_TOOL_FAIL;
	}
	run(m);
	zcp_mempool_manager_detach(m);
	if (failures != 0) {
		printf("demo: %d check(s) FAILED\n", failures);
		return ZCP_TOOL_FAIL;
	}
	printf("demo: all checks passed\n");
	return ZCP_TOOL_OK;
}
