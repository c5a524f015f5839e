/* tools/cmd_stat.c - "zerocp stat": what a manager looks like now.
 *
 * Attaches (so stat itself shows up in the process table, marked self),
 * prints the pools with the seed's status lines and the process table,
 * then detaches.  --json gives the same facts as one JSON object on one
 * line, for scripts without a JSON parser to grep.  --socket PATH attaches
 * through a "serve --socket" server's broker instead of by name.
 */
#include "tool.h"

#include <stdio.h>
#include <string.h>

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s stat [--name N | --socket PATH] [--json]\n"
		"\n"
		"Attach to manager N and print its pools, its attached processes and\n"
		"whether its creator (the server) is alive.  Exit 1 if there is no such\n"
		"manager.\n"
		"  --socket PATH  attach through the socket of a \"serve --socket\"\n",
		zcp_tool_progname);
}

/* The --json form: one object on one line. */
static int print_json(const zcp_mempool_manager *m, int alive)
{
	int n = zcp_mempool_manager_pool_count(m);
	int slots = zcp_mempool_manager_process_slots(m);
	const char *sep = "";

	if (n < 0 || slots < 0)
		return n < 0 ? n : slots;
	printf("{\"name\":");
	zcp_tool_json_string(zcp_mempool_manager_name(m));
	printf(",\"creator_alive\":%s,\"pools\":[", alive ? "true" : "false");
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
		       "\"chunks\":%llu}",
		       sep, i, (long long)pi.pid, pi.alive ? "true" : "false",
		       pi.self ? "true" : "false", pi.reclaiming ? "true" : "false",
		       (unsigned long long)pi.chunks);
		sep = ",";
	}
	printf("]}\n");
	return 0;
}

/* The human-readable form: the seed's lines plus the process table. */
static int print_text(const zcp_mempool_manager *m, int alive)
{
	int slots = zcp_mempool_manager_process_slots(m);
	int err;

	if (slots < 0)
		return slots;
	printf("Manager '%s': creator %s\n", zcp_mempool_manager_name(m),
	       alive ? "alive" : "dead");
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
		printf("  slot %d: pid %lld, %s%s%s, chunks held %llu\n", i, (long long)pi.pid,
		       pi.alive ? "alive" : "dead", pi.reclaiming ? ", reclaiming" : "",
		       pi.self ? " (this stat)" : "", (unsigned long long)pi.chunks);
	}
	return 0;
}

/* Entry point of "zerocp stat". */
int zcp_tool_stat(int argc, char **argv)
{
	const char *name = NULL, *sock = NULL;
	int json = 0, err, alive;
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
			name = v;
		} else if ((r = zcp_tool_opt("stat", argc, argv, &i, "--socket", &v)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
			sock = v;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			zcp_tool_err("stat", "unknown option '%s'", argv[i]);
			usage(stderr);
			return ZCP_TOOL_USAGE;
		}
	}
	if (sock != NULL && name != NULL) {
		/* The socket decides the manager: a --name beside it would
		 * be silently ignored. */
		zcp_tool_err("stat", "--name and --socket exclude each other");
		return ZCP_TOOL_USAGE;
	}
	err = sock != NULL ? zcp_mempool_manager_attach_socket(sock, &m)
			   : zcp_mempool_manager_attach(name, &m);
	if (err != 0) {
		if (sock != NULL)
			zcp_tool_err("stat", "cannot attach through socket '%s': %s", sock,
				     zcp_strerror(err));
		else
			zcp_tool_err("stat", "cannot attach to manager '%s': %s",
				     zcp_tool_name(name), zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}
	alive = zcp_mempool_manager_creator_alive(m);
	err = alive < 0 ? alive : json ? print_json(m, alive) : print_text(m, alive);
	zcp_mempool_manager_detach(m);
	if (err != 0) {
		zcp_tool_err("stat", "reading manager %s'%s': %s",
			     sock != NULL ? "through socket " : "",
			     sock != NULL ? sock : zcp_tool_name(name), zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}
	return fflush(stdout) == 0 ? ZCP_TOOL_OK : ZCP_TOOL_FAIL;
}
