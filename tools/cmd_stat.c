/* SPDX-License-Identifier: MIT */
/* tools/cmd_stat.c - "zerocp stat": what a manager looks like now.
 *
 * Attaches read-only (no process slot taken, so it works with a full
 * process table, and nothing in the manager changes), prints the pools
 * with the seed's status lines and the process table (each process's pid,
 * process id, liveness, chunks held and lent references not yet settled),
 * then detaches.  --json gives the same facts as one JSON object on one
 * line (schema: docs/json.md), for scripts without a JSON parser to grep; its "read_only" says
 * whether the attach was read-only (a library without read-only attach
 * makes stat a process of the table, listed as "self").  --socket PATH
 * attaches through a "serve --socket" server's broker instead of by name;
 * --owner UID names the user that must own the manager (default: us).
 */
#include "tool.h"

#include <stdio.h>
#include <string.h>

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s stat [--name N | --socket PATH] [--owner UID] [--json]\n"
		"\n"
		"Attach to manager N read-only (taking no process slot) and print its\n"
		"pools, its attached processes and whether its creator (the server) is\n"
		"alive.  Exit 1 if there is no such manager.\n"
		"  --socket PATH  attach through the socket of a \"serve --socket\"\n"
		"  --owner UID    the user (uid or name) that must own the manager, its\n"
		"                 socket and the broker (default: ours; 'any': no check)\n",
		zcp_tool_progname);
}

/* The --json form: one object on one line. */
static int print_json(const zcp_mempool_manager *m, int alive, int read_only)
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
		printf("%s{\"slot\":%d,\"pid\":%lld,\"alive\":%s,\"self\":%s,\"reclaiming\":%s,"
		       "\"chunks\":%llu,\"id\":%llu,\"lent_unsettled\":%llu}",
		       sep, i, (long long)pi.pid, pi.alive ? "true" : "false",
		       pi.self ? "true" : "false", pi.reclaiming ? "true" : "false",
		       (unsigned long long)pi.chunks, (unsigned long long)pi.id,
		       (unsigned long long)pi.lent_unsettled);
		sep = ",";
	}
	printf("]}\n");
	return 0;
}

/* The human-readable form: the seed's lines plus the process table. */
static int print_text(const zcp_mempool_manager *m, int alive, int read_only)
{
	int slots = zcp_mempool_manager_process_slots(m);
	int err;

	if (slots < 0)
		return slots;
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
	}
	return 0;
}

/* Entry point of "zerocp stat". */
int zcp_tool_stat(int argc, char **argv)
{
	struct zcp_tool_target t = {NULL, NULL, ZCP_OWNER_SELF, 1, 0};
	int json = 0, err, alive, read_only = 0;
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
	      : json ? print_json(m, alive, read_only)
		     : print_text(m, alive, read_only);
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
