/* SPDX-License-Identifier: MIT */
/* tools/cmd_list.c - "zerocp list": every manager of this host.
 *
 * Managers of the shm backend are found by their management segment,
 * /dev/shm/zerocp_<name>_mgmt; memfd managers have no name in /dev/shm and
 * are found by their broker's socket, zerocp-<name>.sock, in the default
 * socket directory ($XDG_RUNTIME_DIR, else /tmp/zerocp-UID) or the
 * directories given with --socket-dir.  Each is attached read-only (no
 * process slot taken, nothing written) with no owner check by default, so
 * that other users' managers are listed too; one we may not read is listed
 * with the reason.  --json prints one object (schema: docs/json.md).
 */
#include "tool.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s list [--json] [--owner UID] [--socket-dir D]...\n"
		"\n"
		"List the managers of this host: name, backend, size, owner, whether the\n"
		"creator (the server) is alive and how many processes are attached.\n"
		"Each is attached read-only, taking no process slot.\n"
		"  --json          one JSON object (schema: zerocp(1), docs/json.md)\n"
		"  --owner UID     only managers owned by this user (uid or name;\n"
		"                  default: any)\n"
		"  --socket-dir D  also look for \"serve --socket\" managers in D\n"
		"                  (default: $XDG_RUNTIME_DIR, else /tmp/zerocp-UID)\n",
		zcp_tool_progname);
}

/* One manager found. */
struct entry {
	char name[ZCP_MANAGER_NAME_MAX + 1];
	char path[512];     /* the management segment or the socket */
	int memfd;          /* found by its socket */
	long owner_uid;     /* the file's owner */
	int err;            /* attach error, 0 when the fields below are valid */
	uint64_t mgmt_size, data_size, chunks;
	int pools;
	long creator_pid;
	int creator_alive;
	int processes;      /* occupied slots whose process is alive */
	int dead;           /* occupied slots of dead processes */
	int slots;
};

/* Fill e by attaching read-only to it. */
static void inspect(struct entry *e)
{
	struct zcp_tool_target t = {NULL, NULL, ZCP_OWNER_ANY, 1, 1};
	zcp_mempool_manager *m;
	zcp_mempool_layout lay;
	int ro = 0;

	if (e->memfd)
		t.socket = e->path;
	else
		t.name = e->name;
	e->err = zcp_tool_attach("list", &t, &m, &ro);
	if (e->err != 0)
		return;
	if (zcp_mempool_manager_get_layout(m, &lay) == 0) {
		e->mgmt_size = lay.mgmt_size;
		e->data_size = lay.data_size;
		e->chunks = lay.total_chunks;
	}
	e->pools = zcp_mempool_manager_pool_count(m);
	e->creator_pid = zcp_mempool_manager_creator_pid(m);
	e->creator_alive = zcp_mempool_manager_creator_alive(m);
	e->slots = zcp_mempool_manager_process_slots(m);
	for (int s = 0; s < e->slots; s++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, s, &pi) != 0 || pi.pid == 0 || pi.self)
			continue;
		if (pi.alive)
			e->processes++;
		else
			e->dead++;
	}
	zcp_mempool_manager_detach(m);
}

/* The growing list of entries. */
struct list {
	struct entry *v;
	size_t n, cap;
};

static struct entry *add(struct list *l)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct entry *v = realloc(l->v, cap * sizeof *v);
		if (v == NULL)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof l->v[0]);
	return &l->v[l->n++];
}

/* Whether s (of length len) is a valid manager name. */
static int valid_name(const char *s, size_t len)
{
	if (len == 0 || len > ZCP_MANAGER_NAME_MAX || s[0] == '.')
		return 0;
	for (size_t k = 0; k < len; k++) {
		char c = s[k];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Scan dir for files "<prefix><name><suffix>" and add them.  Returns 0, or
 * -1 when out of memory.  A missing directory is not an error. */
static int scan(struct list *l, const char *dir, const char *prefix, const char *suffix,
		int memfd)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		struct entry *e;
		struct stat st;

		if (len <= pl + sl || strncmp(de->d_name, prefix, pl) != 0 ||
		    strcmp(de->d_name + len - sl, suffix) != 0 ||
		    !valid_name(de->d_name + pl, len - pl - sl))
			continue;
		e = add(l);
		if (e == NULL) {
			closedir(d);
			return -1;
		}
		snprintf(e->name, sizeof e->name, "%.*s", (int)(len - pl - sl), de->d_name + pl);
		snprintf(e->path, sizeof e->path, "%s/%s", dir, de->d_name);
		e->memfd = memfd;
		e->owner_uid = stat(e->path, &st) == 0 ? (long)st.st_uid : -1;
	}
	closedir(d);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c != 0 ? c : x->memfd - y->memfd;
}

/* "12.3 KiB" for n bytes, in one of 2 static buffers used in turn. */
static const char *human(uint64_t n)
{
	static char buf[2][32];
	static int k;
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	int u = 0;

	k = (k + 1) % 2;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf[k], sizeof buf[k], "%llu B", (unsigned long long)n);
	else
		snprintf(buf[k], sizeof buf[k], "%.1f %s", v, unit[u]);
	return buf[k];
}

static void print_text(const struct list *l)
{
	if (l->n == 0) {
		printf("no zerocp manager on this host\n");
		return;
	}
	printf("%-24s %-7s %10s %6s %-14s %s\n", "NAME", "BACKEND", "SIZE", "OWNER", "CREATOR",
	       "PROCESSES");
	for (size_t k = 0; k < l->n; k++) {
		const struct entry *e = &l->v[k];
		char creator[32];

		if (e->err != 0) {
			printf("%-24s %-7s %10s %6ld %-14s (%s)\n", e->name, e->memfd ? "memfd" : "shm",
			       "-", e->owner_uid, "?", zcp_strerror(e->err));
			continue;
		}
		snprintf(creator, sizeof creator, "%ld %s", e->creator_pid,
			 e->creator_alive > 0 ? "alive" : e->creator_alive == 0 ? "dead" : "?");
		printf("%-24s %-7s %10s %6ld %-14s %d", e->name, e->memfd ? "memfd" : "shm",
		       human(e->mgmt_size + e->data_size), e->owner_uid, creator, e->processes);
		if (e->dead > 0)
			printf(" (+%d dead)", e->dead);
		printf("\n");
	}
}

static void print_json(const struct list *l)
{
	printf("{\"schema\":\"zerocp-list\",\"version\":1,\"managers\":[");
	for (size_t k = 0; k < l->n; k++) {
		const struct entry *e = &l->v[k];
		printf("%s{\"name\":", k ? "," : "");
		zcp_tool_json_string(e->name);
		printf(",\"backend\":\"%s\",\"path\":", e->memfd ? "memfd" : "shm");
		zcp_tool_json_string(e->path);
		printf(",\"owner_uid\":%ld", e->owner_uid);
		if (e->err != 0) {
			printf(",\"error\":");
			zcp_tool_json_string(zcp_err_name(e->err));
			printf(",\"error_text\":");
			zcp_tool_json_string(zcp_strerror(e->err));
			printf("}");
			continue;
		}
		printf(",\"error\":null,\"size\":%llu,\"mgmt_size\":%llu,\"data_size\":%llu,"
		       "\"pools\":%d,\"chunks\":%llu,\"creator_pid\":%ld,\"creator_alive\":%s,"
		       "\"process_slots\":%d,\"processes\":%d,\"dead_processes\":%d}",
		       (unsigned long long)(e->mgmt_size + e->data_size),
		       (unsigned long long)e->mgmt_size, (unsigned long long)e->data_size, e->pools,
		       (unsigned long long)e->chunks, e->creator_pid,
		       e->creator_alive != 0 ? "true" : "false", e->slots, e->processes, e->dead);
	}
	printf("]}\n");
}

/* Entry point of "zerocp list". */
int zcp_tool_list(int argc, char **argv)
{
	const char *dirs[16];
	int ndirs = 0, json = 0;
	long owner = ZCP_OWNER_ANY;
	struct list l = {NULL, 0, 0};
	char defdir[64];
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if ((r = zcp_tool_opt("list", argc, argv, &i, "--owner", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_owner("list", v, &owner) != 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt("list", argc, argv, &i, "--socket-dir", &v)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
			if (ndirs == (int)(sizeof dirs / sizeof dirs[0])) {
				zcp_tool_err("list", "at most %d --socket-dir", ndirs);
				return ZCP_TOOL_USAGE;
			}
			dirs[ndirs++] = v;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			zcp_tool_err("list", "unknown option %s", zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		}
	}
	if (ndirs == 0) {
		if (xdg != NULL && xdg[0] == '/') {
			dirs[ndirs++] = xdg;
		} else {
			snprintf(defdir, sizeof defdir, "/tmp/zerocp-%lu", (unsigned long)geteuid());
			dirs[ndirs++] = defdir;
		}
	}
	if (scan(&l, "/dev/shm", "zerocp_", "_mgmt", 0) != 0)
		goto nomem;
	for (int k = 0; k < ndirs; k++)
		if (scan(&l, dirs[k], "zerocp-", ".sock", 1) != 0)
			goto nomem;
	/* --owner filters by the files' owner; ZCP_OWNER_SELF is us. */
	if (owner != ZCP_OWNER_ANY) {
		long want = zcp_tool_expected_uid(owner);
		size_t w = 0;
		for (size_t k = 0; k < l.n; k++)
			if (l.v[k].owner_uid == want)
				l.v[w++] = l.v[k];
		l.n = w;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof l.v[0], by_name);
	for (size_t k = 0; k < l.n; k++)
		inspect(&l.v[k]);
	if (json)
		print_json(&l);
	else
		print_text(&l);
	free(l.v);
	return fflush(stdout) == 0 ? ZCP_TOOL_OK : ZCP_TOOL_FAIL;
nomem:
	free(l.v);
	zcp_tool_err("list", "%s", zcp_strerror(ZCP_ENOMEM));
	return ZCP_TOOL_FAIL;
}
