/* SPDX-License-Identifier: MIT */
/* tools/bench/reclaim.c - "reclaim": how long zcp_mempool_manager_reclaim()
 * takes to give back the 10,000 chunks of a process that died holding
 * them.  Baseline: one zcp_mempool_manager_pool_stats() of the same pool,
 * which reads every record once — reclaim's floor is a pass like it. */
#include "tool.h"

#include "bench.h"

#include <unistd.h>

#define RECLAIM_CHUNKS 10000u

/* A child that attaches, takes every chunk, and dies holding them. */
static void die_holding(const char *name)
{
	pid_t pid = zcp_bench_fork();
	if (pid == 0) {
		zcp_mempool_manager *m;
		if (zcp_mempool_manager_attach(name, &m) != 0)
			_exit(1);
		for (unsigned i = 0; i < RECLAIM_CHUNKS; i++) {
			zcp_chunk *c = zcp_chunk_get(m, 256);
			if (!c)
				_exit(2);
			((char *)zcp_chunk_data(c))[0] = 1;
		}
		_exit(0);
	}
	zcp_bench_wait(pid, "reclaim holder");
}

void zcp_bench_reclaim(struct zcp_bench_ctx *ctx)
{
	char name[48];
	double zcp[ZCP_BENCH_MAX_TRIALS], scan[ZCP_BENCH_MAX_TRIALS];
	unsigned trials = ctx->create_trials;
	struct zcp_bench_figure f;

	snprintf(name, sizeof name, "%sr", ctx->name);
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	if (!cfg || zcp_mempool_config_add_entry(cfg, 256, RECLAIM_CHUNKS) != 0)
		zcp_bench_fatal("reclaim: cannot build the configuration");
	zcp_mempool_manager *m = zcp_bench_create(name, cfg);
	zcp_mempool_config_free(cfg);

	for (unsigned t = 0; t < trials; t++) {
		zcp_reclaim_report rep;
		zcp_pool_stats st;
		die_holding(name);
		uint64_t t0 = zcp_bench_now();
		int err = zcp_mempool_manager_reclaim(m, &rep);
		uint64_t t1 = zcp_bench_now();
		if (err || rep.chunks != RECLAIM_CHUNKS)
			zcp_bench_fatal("reclaim: %s, %llu chunks back (want %u)", zcp_strerror(err),
					(unsigned long long)rep.chunks, RECLAIM_CHUNKS);
		zcp[t] = (double)(t1 - t0) / 1e3;
		t0 = zcp_bench_now();
		err = zcp_mempool_manager_pool_stats(m, 0, &st);
		t1 = zcp_bench_now();
		if (err || st.used != 0)
			zcp_bench_fatal("reclaim: pool not empty after reclaim");
		scan[t] = (double)(t1 - t0) / 1e3;
	}
	zcp_bench_figure_of(&f, "reclaim", "us", trials, 1, zcp, "stats_scan", scan);
	snprintf(f.variant, sizeof f.variant, "10000chunks");
	snprintf(f.note, sizeof f.note, "a process died holding %u chunks", RECLAIM_CHUNKS);
	zcp_bench_report(ctx, &f);
	zcp_bench_destroy(m);
}
