/* SPDX-License-Identifier: MIT */
/* tools/cmd_stat.c - "zerocp stat": what a manager looks like now.
 *
 * Attaches read-only (no process slot taken, so it works with a full
 * process table, and nothing in the manager changes), prints the pools
 * with the seed's status lines and the process table (each process's pid,
 * process id, liveness, chunks held and lent references not yet settled,
 * and its holdings per pool), the topics (as "zerocp topics"), with
 * --chunks every held chunk (zcp_mempool_manager_chunks()), then detaches.  --json gives the same facts as one JSON object on one
 * line (schema: docs/json.md), for scripts without a JSON parser to grep; its "read_only" says
 * whether the attach was read-only (a library without read-only attach
 * makes stat a process of the table, listed as "self").  --socket PATH
 * attaches through a "serve --socket" server's broker instead of by name;
 * --owner UID names the user that must own the manager (default: us).
 */
#include "tool.h"
#include "topic_tool.h"

#include <stdio.h>
#include <string.h>

/* Chunks one process slot holds, per pool (zcp_mempool_manager_chunks()). */
struct held {
	uint64_t n[ZCP_MAX_POOLS];
};

static int count_held(const zcp_chunk_info *ci, void *arg)
{
	struct held *h = arg;
	if (ci->pool >= 0 && ci->pool < ZCP_MAX_POOLS)
		h->n[ci->pool]++;
	return 0;
}

static int get_held(const zcp_mempool_manager *m, int slot, struct held *h)
{
	memset(h, 0, sizeof *h);
	return zcp_mempool_manager_chunks(m, slot, count_held, h);
}

/* An age for display: "850ms", "1.2s", "3m04s", "2h05m"; "?" unknown. */
static void fmt_age(char *out, size_t len, uint64_t ns)
{
	uint64_t ms = ns / 1000000, s = ns / 1000000000ULL;

	if (ns == 0)
		snprintf(out, len, "?");
	else if (ms < 1000)
		snprintf(out, len, "%llums", (unsigned long long)ms);
	else if (s < 60)
		snprintf(out, len, "%.1fs", (double)ns / 1e9);
	else if (s < 3600)
		snprintf(out, len, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(out, len, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60));
}

/* One line of "stat --chunks". */
static int print_chunk_text(const zcp_chunk_info *ci, void *arg)
{
	char age[32];
	const char *sep = "";

	(void)arg;
	fmt_age(age, sizeof age, ci->age_ns);
	printf("  pool %d chunk %u: size %llu of %llu, holders ", ci->pool, (unsigned)ci->index,
	       (unsigned long long)ci->size, (unsigned long long)ci->capacity);
	for (int b = 0; b < 64; b++) {
		if (!(ci->holders >> b & 1))
			continue;
		if (b == ZCP_HOLDER_TOPIC)
			printf("%stopic", sep);
		else
			printf("%s%d", sep, b);
		sep = ",";
	}
	if (*sep == '\0')
		printf("none");
	printf(", age %s, handle 0x%016llx\n", age, (unsigned long long)ci->handle);
	return 0;
}

/* One object of the --json "chunks" array; arg points at the separator. */
static int print_chunk_json(const zcp_chunk_info *ci, void *arg)
{
	const char **sepp = arg;
	const char *sep = "";

	printf("%s{\"pool\":%d,\"index\":%u,\"size\":%llu,\"capacity\":%llu,\"holders\":[",
	       *sepp, ci->pool, (unsigned)ci->index, (unsigned long long)ci->size,
	       (unsigned long long)ci->capacity);
	for (int b = 0; b < 64; b++) {
		if (b == ZCP_HOLDER_TOPIC || !(ci->holders >> b & 1))
			continue;
		printf("%s%d", sep, b);
		sep = ",";
	}
	printf("],\"topic\":%s,\"age_ns\":", ci->holders >> ZCP_HOLDER_TOPIC & 1 ? "true" : "false");
	if (ci->age_ns == 0)
		printf("null");
	else
		printf("%llu", (unsigned long long)ci->age_ns);
	printf(",\"handle\":%llu}", (unsigned long long)ci->handle);
	*sepp = ",";
	return 0;
}

/* The topics of the text form: one line per topic, then its endpoints. */
static int print_topics_text(const zcp_mempool_manager *m)
{
	int n = zcp_topic_slots(m), found = 0;

	if (n < 0)
		return n;
	if (n == 0) {
		printf("Topics: turned off\n");
		return 0;
	}
	printf("Topics (%d slots):\n", n);
	for (int i = 0; i < n; i++) {
		zcp_topic_info ti;
		int err = zcp_topic_get_info(m, i, &ti);
		if (err == ZCP_ENOENT)
			continue;
		if (err == ZCP_ECORRUPT) {
			printf("  topic entry %d: fails validation\n", i);
			continue;
		}
		if (err != 0)
			return err;
		found++;
		printf("  topic %s: publishers %u, subscribers %u, published %llu, lost %llu, "
		       "kept %llu\n",
		       zcp_tool_q(ti.name), ti.publishers, ti.subscribers,
		       (unsigned long long)ti.published, (unsigned long long)ti.lost,
		       (unsigned long long)ti.kept);
		if ((err = zcp_topic_print_endpoints(m, i, "    ")) != 0)
			return err;
	}
	if (found == 0)
		printf("  no topics\n");
	return 0;
}

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s stat [--name N | --socket PATH] [--owner UID] [--chunks] [--json]\n"
		"\n"
		"Attach to manager N read-only (taking no process slot) and print its\n"
		"pools, its attached processes and whether its creator (the server) is\n"
		"alive, the chunks each process holds per pool, and its topics.\n"
		"Exit 1 if there is no such manager.\n"
		"  --chunks       also list every chunk held: pool, index, size,\n"
		"                 holders (process slots, \"topic\" for a topic's ring), age\n"
		"  --socket PATH  attach through the socket of a \"serve --socket\"\n"
		"  --owner UID    the user (uid or name) that must own the manager, its\n"
		"                 socket and the broker (default: ours; 'any': no check)\n",
		zcp_tool_progname);
}

/* The --json form: one object on one line. */
static int print_json(const zcp_mempool_manager *m, int alive, int read_only, int chunks)
{
	int n = zcp_mempool_manager_pool_count(m);
	int slots = zcp_mempool_manager_process_slots(m);
	const char *sep = "";

	if (n < 0 || slots < 0)
		return n < 0 ? n : slots;
	printf("{\"name\":");
	zcp_tool_json_string(zcp_mempool_manager_name(m));
	printf(",\"schema\":\"zerocp-stat\",\"version\":1");
	printf(",\"creator_pid\":%ld", zcp_mempool_manager_creator_pid(m));
	printf(",\"process_slots\":%d", slots);
	printf(",\"creator_alive\":%s,\"read_only\":%s,\"pools\":[", alive ? "true" : "false",
	       read_only ? "true" : "false");
	for (int i = 0; i < n; i++) {
		zcp_pool_stats s;
		int err = zcp_mempool_manager_pool_stats(m, i, &s);
		if (err != 0)
			return err;
		printf("%s{\"index\":%d,\"chunk_size\":%llu,\"total\":%llu,\"used\":%llu,"
		       "\"free\":%llu,\"used_max\":%llu}",
		       sep, i, (unsigned long long)s.chunk_size, (unsigned long long)s.total,
		       (unsigned long long)s.used, (unsigned long long)s.free,
		       (unsigned long long)s.used_max);
		sep = ",";
	}
	printf("],\"processes\":[");
	sep = "";
	for (int i = 0; i < slots; i++) {
		zcp_process_info pi;
		int err = zcp_mempool_manager_process(m, i, &pi);
		if (err != 0)
			return err;
		if (pi.pid == 0)
			continue; /* free slot */
		struct held h;
		if ((err = get_held(m, i, &h)) != 0)
			return err;
		printf("%s{\"slot\":%d,\"pid\":%lld,\"alive\":%s,\"self\":%s,\"reclaiming\":%s,"
		       "\"chunks\":%llu,\"id\":%llu,\"lent_unsettled\":%llu,\"pools_held\":[",
		       sep, i, (long long)pi.pid, pi.alive ? "true" : "false",
		       pi.self ? "true" : "false", pi.reclaiming ? "true" : "false",
		       (unsigned long long)pi.chunks, (unsigned long long)pi.id,
		       (unsigned long long)pi.lent_unsettled);
		for (int p = 0; p < n && p < ZCP_MAX_POOLS; p++)
			printf("%s%llu", p ? "," : "", (unsigned long long)h.n[p]);
		printf("]}");
		sep = ",";
	}
	printf("],\"topics\":");
	{
		int err = zcp_topic_json_topics(m);
		if (err != 0)
			return err;
	}
	if (chunks) {
		int err;
		sep = "";
		printf(",\"chunks\":[");
		err = zcp_mempool_manager_chunks(m, -1, print_chunk_json, &sep);
		if (err != 0)
			return err;
		printf("]");
	}
	printf("}\n");
	return 0;
}

/* The human-readable form: the seed's lines plus the process table. */
static int print_text(const zcp_mempool_manager *m, int alive, int read_only, int chunks)
{
	int npools = zcp_mempool_manager_pool_count(m);
	int slots = zcp_mempool_manager_process_slots(m);
	int err;

	if (slots < 0 || npools < 0)
		return slots < 0 ? slots : npools;
	printf("Manager %s: creator %s%s\n", zcp_tool_q(zcp_mempool_manager_name(m)),
	       alive ? "alive" : "dead", read_only ? "" : " (stat attached as a process)");
	printf("Pools:\n");
	err = zcp_mempool_manager_print_stats(m, stdout);
	if (err != 0)
		return err;
	printf("Processes (%d slots):\n", slots);
	for (int i = 0; i < slots; i++) {
		zcp_process_info pi;
		err = zcp_mempool_manager_process(m, i, &pi);
		if (err != 0)
			return err;
		if (pi.pid == 0)
			continue;
		printf("  slot %d: pid %lld, id 0x%016llx, %s%s%s, chunks held %llu, "
		       "lent unsettled %llu\n",
		       i, (long long)pi.pid, (unsigned long long)pi.id, pi.alive ? "alive" : "dead",
		       pi.reclaiming ? ", reclaiming" : "", pi.self ? " (this stat)" : "",
		       (unsigned long long)pi.chunks, (unsigned long long)pi.lent_unsettled);
		struct held h;
		if ((err = get_held(m, i, &h)) != 0)
			return err;
		for (int p = 0; p < npools && p < ZCP_MAX_POOLS; p++)
			if (h.n[p] != 0)
				printf("    pool %d: %llu chunk%s\n", p, (unsigned long long)h.n[p],
				       h.n[p] == 1 ? "" : "s");
	}
	if ((err = print_topics_text(m)) != 0)
		return err;
	if (chunks) {
		printf("Chunks held:\n");
		err = zcp_mempool_manager_chunks(m, -1, print_chunk_text, NULL);
		if (err != 0)
			return err;
	}
	return 0;
}

/* Entry point of "zerocp stat". */
int zcp_tool_stat(int argc, char **argv)
{
	struct zcp_tool_target t = {NULL, NULL, ZCP_OWNER_SELF, 1, 0};
	int json = 0, chunks = 0, err, alive, read_only = 0;
	zcp_mempool_manager *m;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r = zcp_tool_opt("stat", argc, argv, &i, "--name", &v);
		if (r < 0)
			return ZCP_TOOL_USAGE;
		if (r > 0) {
			if (zcp_tool_check_name("stat", v) != 0)
				return ZCP_TOOL_USAGE;
			t.name = v;
		} else if ((r = zcp_tool_opt("stat", argc, argv, &i, "--socket", &v)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
			t.socket = v;
		} else if ((r = zcp_tool_opt("stat", argc, argv, &i, "--owner", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_owner("stat", v, &t.owner) != 0)
				return ZCP_TOOL_USAGE;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--chunks") == 0) {
			chunks = 1;
		} else {
			zcp_tool_err("stat", "unknown option %s", zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		}
	}
	if (t.socket != NULL && t.name != NULL) {
		/* The socket decides the manager: a --name beside it would
		 * be silently ignored. */
		zcp_tool_err("stat", "--name and --socket exclude each other");
		return ZCP_TOOL_USAGE;
	}
	if (t.socket == NULL && zcp_tool_check_env_name("stat", t.name) != 0)
		return ZCP_TOOL_USAGE;
	err = zcp_tool_attach("stat", &t, &m, &read_only);
	if (err != 0) {
		zcp_tool_attach_error("stat", &t, err);
		return ZCP_TOOL_FAIL;
	}
	alive = zcp_mempool_manager_creator_alive(m);
	err = alive < 0  ? alive
	      : json ? print_json(m, alive, read_only, chunks)
		     : print_text(m, alive, read_only, chunks);
	zcp_mempool_manager_detach(m);
	if (err != 0) {
		zcp_tool_err("stat", "reading manager %s%s: %s",
			     t.socket != NULL ? "through socket " : "",
			     zcp_tool_q(t.socket != NULL ? t.socket : zcp_tool_name(t.name)),
			     zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}
	return fflush(stdout) == 0 ? ZCP_TOOL_OK : ZCP_TOOL_FAIL;
}
