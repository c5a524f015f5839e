/* SPDX-License-Identifier: MIT */
/* tools/bench/driver.c - "zerocp bench": its options, and which figures
 * run in which order (each figure file reports through report.c). */
#define _GNU_SOURCE 1
#include "tool.h"
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "bench"

/* ------------------------------------------------------------------ */
/* The figures, by name (--only).                                      */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	unsigned bit;
} figure_names[] = {
	{"get_release", ZCP_BENCH_GET_RELEASE},
	{"get_release_contended", ZCP_BENCH_CONTENDED},
	{"batch", ZCP_BENCH_BATCH},
	{"handoff_rtt", ZCP_BENCH_HANDOFF},
	{"create_attach", ZCP_BENCH_CREATE_ATTACH},
	{"reclaim", ZCP_BENCH_RECLAIM},
	{"pubsub_rtt", ZCP_BENCH_PUBSUB_RTT},
	{"pubsub_local", ZCP_BENCH_PUBSUB_LOCAL},
	{"pubsub_fanout", ZCP_BENCH_PUBSUB_FANOUT},
	{"pubsub_size", ZCP_BENCH_PUBSUB_SIZE},
	{"pubsub_throughput", ZCP_BENCH_PUBSUB_THROUGHPUT},
	{"wake_rtt", ZCP_BENCH_WAKE_RTT},
	{"syscalls_per_publish", ZCP_BENCH_SYSCALLS},
	{"wake_pub_cost", ZCP_BENCH_WAKE_PUB_COST},
	{"wake_fd_rtt", ZCP_BENCH_WAKE_FD_RTT},
	{"publish_nosleeper", ZCP_BENCH_PUBLISH_NOSLEEPER},
};
#define NFIGURE_NAMES (sizeof figure_names / sizeof figure_names[0])

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s bench [--json] [--quick] [--only NAME...]\n"
		"\n"
		"Measure zerocp beside baselines run in the same process and the same\n"
		"run: a bare lock-free free list in shared memory (the floor), malloc,\n"
		"a bare cache-line ping-pong, a bare futex ping-pong.  Each figure is\n"
		"the median of %d trials, zerocp and baseline trials interleaved, with\n"
		"min, max and the ratio.\n"
		"\n"
		"  --json    one JSON object on stdout (schema: docs/bench-json.md)\n"
		"  --quick   short trials (the whole run in seconds; for CI)\n"
		"  --only NAME...  only these figures (several names, or a comma list):\n"
		"            get_release, get_release_contended, batch, handoff_rtt,\n"
		"            create_attach, reclaim, pubsub_rtt, pubsub_local,\n"
		"            pubsub_fanout, pubsub_size, pubsub_throughput, wake_rtt,\n"
		"            syscalls_per_publish, wake_pub_cost, wake_fd_rtt,\n"
		"            publish_nosleeper\n"
		"\n"
		"Exit status: 0 whether or not the bars are met, 1 on an error,\n"
		"2 on a usage error.\n",
		zcp_tool_progname, ZCP_BENCH_TRIALS);
}

/* Add the names in s (comma-separated) to *mask.  Every name must be a
 * figure's: an empty one (",,", "", a trailing comma) or an unknown one
 * is a usage error, never "all figures"; so is a list longer than any
 * valid one could be.  Returns 0, or -1 after a diagnostic. */
static int parse_only(const char *s, unsigned *mask)
{
	const char *p = s;

	if (strlen(s) > 255) {
		zcp_tool_err(CMD, "--only: a list of %zu bytes is longer than any list of figure "
				  "names (see --help)",
			     strlen(s));
		return -1;
	}
	for (;;) {
		size_t n = strcspn(p, ","), k;
		if (n == 0) {
			zcp_tool_err(CMD, "--only %s: an empty figure name (see --help)",
				     zcp_tool_q(s));
			return -1;
		}
		for (k = 0; k < NFIGURE_NAMES; k++)
			if (strlen(figure_names[k].name) == n &&
			    strncmp(p, figure_names[k].name, n) == 0)
				break;
		if (k == NFIGURE_NAMES) {
			char name[256];
			snprintf(name, sizeof name, "%.*s", (int)n, p);
			zcp_tool_err(CMD, "unknown figure %s (see --help)", zcp_tool_q(name));
			return -1;
		}
		*mask |= figure_names[k].bit;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

static int parse_args(int argc, char **argv, struct zcp_bench_ctx *ctx)
{
	unsigned only = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0) {
			ctx->json = 1;
		} else if (strcmp(a, "--quick") == 0) {
			ctx->quick = 1;
		} else if (strncmp(a, "--only=", 7) == 0) {
			if (!a[7]) {
				zcp_tool_err(CMD, "--only needs at least one figure name");
				return -1;
			}
			if (parse_only(a + 7, &only))
				return -1;
		} else if (strcmp(a, "--only") == 0) {
			int n = 0;
			/* The names that follow, up to the next option; an
			 * empty argument is a (bad) name, not the end. */
			while (i + 1 < argc && argv[i + 1][0] != '-') {
				if (parse_only(argv[++i], &only))
					return -1;
				n++;
			}
			if (n == 0) {
				zcp_tool_err(CMD, "--only needs at least one figure name");
				return -1;
			}
		} else {
			zcp_tool_err(CMD, "unknown option %s", zcp_tool_q(a));
			return -1;
		}
	}
	ctx->only = only ? only : ZCP_BENCH_ALL;
	return 0;
}

int zcp_tool_bench(int argc, char **argv)
{
	struct zcp_bench_ctx ctx;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	memset(&ctx, 0, sizeof ctx);
	if (parse_args(argc, argv, &ctx)) {
		usage(stderr);
		return ZCP_TOOL_USAGE;
	}
	ctx.trials = ZCP_BENCH_TRIALS;
	ctx.trial_ns = ctx.quick ? 3e6 : 30e6;
	ctx.contended_ns = ctx.quick ? 30e6 : 100e6;
	ctx.handoff_rounds = ctx.quick ? 300 : 3000;
	ctx.create_trials = ctx.quick ? 3 : ZCP_BENCH_TRIALS;
	ctx.ncpu = zcp_bench_cpus(ctx.cpu);
	snprintf(ctx.name, sizeof ctx.name, "bench%ld", (long)getpid());

	zcp_bench_set_primary();
	zcp_bench_install_cleanup();

	if (!ctx.json) {
		char model[256];
		zcp_bench_cpu_model(model, sizeof model);
		printf("zerocp %s bench%s: %d CPUs (%s); %u trials a figure, median (min, max);\n"
		       "baselines measured in the same run, trials interleaved; ratio = zcp / "
		       "baseline.\n\n",
		       zcp_version_string(), ctx.quick ? " --quick" : "", ctx.ncpu, model,
		       ctx.trials);
		fflush(stdout);
	}
	if (ctx.only & ZCP_BENCH_GET_RELEASE)
		zcp_bench_get_release(&ctx);
	if (ctx.only & ZCP_BENCH_CONTENDED)
		zcp_bench_contended(&ctx);
	if (ctx.only & ZCP_BENCH_BATCH)
		zcp_bench_batch(&ctx);
	if (ctx.only & ZCP_BENCH_HANDOFF)
		zcp_bench_handoff(&ctx);
	if (ctx.only & ZCP_BENCH_CREATE_ATTACH)
		zcp_bench_create_attach(&ctx);
	if (ctx.only & ZCP_BENCH_RECLAIM)
		zcp_bench_reclaim(&ctx);
	if (ctx.only & ZCP_BENCH_PUBSUB_RTT)
		zcp_bench_pubsub_rtt(&ctx);
	if (ctx.only & ZCP_BENCH_PUBSUB_LOCAL)
		zcp_bench_pubsub_local(&ctx);
	if (ctx.only & ZCP_BENCH_PUBSUB_FANOUT)
		zcp_bench_pubsub_fanout(&ctx);
	if (ctx.only & ZCP_BENCH_PUBSUB_SIZE)
		zcp_bench_pubsub_size(&ctx);
	if (ctx.only & ZCP_BENCH_PUBSUB_THROUGHPUT)
		zcp_bench_pubsub_throughput(&ctx);
	if (ctx.only & ZCP_BENCH_WAKE_RTT)
		zcp_bench_wake_rtt(&ctx);
	if (ctx.only & ZCP_BENCH_SYSCALLS)
		zcp_bench_syscalls_per_publish(&ctx);
	if (ctx.only & ZCP_BENCH_WAKE_PUB_COST)
		zcp_bench_wake_pub_cost(&ctx);
	if (ctx.only & ZCP_BENCH_WAKE_FD_RTT)
		zcp_bench_wake_fd_rtt(&ctx);
	if (ctx.only & ZCP_BENCH_PUBLISH_NOSLEEPER)
		zcp_bench_publish_nosleeper(&ctx);

	if (ctx.json)
		zcp_bench_print_json(&ctx);
	else
		zcp_bench_print_summary();
	fflush(stdout);
	zcp_bench_restore_signals();
	zcp_bench_reset();
	return ferror(stdout) ? ZCP_TOOL_FAIL : ZCP_TOOL_OK;
}
