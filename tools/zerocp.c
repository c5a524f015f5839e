/* SPDX-License-Identifier: MIT */
/* tools/zerocp.c - the zerocp command: subcommand dispatch.  The helpers
 * every subcommand shares are in tool.c (declared in tool.h).
 *
 * One binary with subcommands (like git or ip) rather than one program per
 * seed role, so that the server, the client and the housekeeping share one
 * option syntax and are found at one path by scripts.
 */
#include "tool.h"
#include "topic_tool.h"

#include <stdio.h>
#include <string.h>

/* The top-level usage, printed for --help (stdout) and usage errors
 * (stderr). */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s COMMAND [OPTIONS]\n"
		"       %s --help | --version\n"
		"\n"
		"Commands:\n"
		"  serve   run a memory-pool manager (daemon) until a signal stops it\n"
		"  list    list the managers of this host\n"
		"  stat    print a manager's pools and attached processes (read-only)\n"
		"  top     live view of a manager's pools and processes\n"
		"  demo    run the seed's server and client steps against a running server\n"
		"  clean   remove a manager's shared-memory segments\n"
		"  bench   measure chunk throughput (when built)\n"
		"  pub     publish samples on a topic\n"
		"  echo    print the samples of a topic\n"
		"  hz      print the rate of a topic once a second\n"
		"  topics  list the topics, publishers and subscribers of a manager\n"
		"\n"
		"'%s COMMAND --help' describes a command's options.  Without --name a\n"
		"command uses $ZEROCP_NAME, else \"default\".  Exit status: 0 success,\n"
		"1 failure, 2 usage error.\n",
		zcp_tool_progname, zcp_tool_progname, zcp_tool_progname);
}

/* Dispatch "zerocp bench", which exists only when the benchmark was built
 * into this binary; otherwise say so and fail as a usage error. */
static int run_bench(int argc, char **argv)
{
#ifdef ZCP_HAVE_BENCH
	return zcp_tool_bench(argc, argv);
#else
	(void)argc;
	(void)argv;
	zcp_tool_err("bench", "bench not built");
	return ZCP_TOOL_USAGE;
#endif
}

/* Entry point: route argv[1] to its subcommand, which sees argv[1] as its
 * own argv[0]. */
int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"serve", zcp_tool_serve}, {"stat", zcp_tool_stat}, {"demo", zcp_tool_demo},
		{"clean", zcp_tool_clean}, {"bench", run_bench},   {"list", zcp_tool_list},
		{"top", zcp_tool_top},
		{"pub", zcp_tool_pub},     {"echo", zcp_tool_echo},  {"hz", zcp_tool_hz},
		{"topics", zcp_tool_topics},
	};

	if (argc < 2) {
		usage(stderr);
		return ZCP_TOOL_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		/* The library's run-time version: what the binary really uses. */
		printf("%s %s\n", zcp_tool_progname, zcp_version_string());
		return ZCP_TOOL_OK;
	}
	for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
		if (strcmp(argv[1], cmds[k].name) == 0)
			return cmds[k].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", zcp_tool_progname, argv[1]);
	usage(stderr);
	return ZCP_TOOL_USAGE;
}
