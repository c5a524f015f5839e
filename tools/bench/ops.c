/* SPDX-License-Identifier: MIT */
/* tools/bench/ops.c - single-thread figures: get_release and batch.
 *
 * Each kind (zerocp, the bare free list, malloc) is calibrated so that a
 * trial lasts ctx->trial_ns, then the kinds take turns trial by trial, the
 * order rotating so that none always runs first.  Every operation touches
 * one byte of the payload, as a user would.
 */
#define _GNU_SOURCE 1
#include "tool.h"
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64

struct kind {
	const char *name;
	uint64_t (*run)(void *arg, uint64_t n); /* n iterations; returns ns */
	void *arg;
	uint64_t iters;
	double v[ZCP_BENCH_MAX_TRIALS]; /* ns per operation, per trial */
};

struct zarg {
	zcp_mempool_manager *m;
	uint64_t size;
};

struct farg {
	struct zcp_bench_fl *fl;
};

struct marg {
	uint64_t size;
};

static void fail_get(uint64_t size)
{
	zcp_bench_fatal("zcp_chunk_get(%llu): %s", (unsigned long long)size, strerror(errno));
}

static void fail_release(int err)
{
	zcp_bench_fatal("zcp_chunk_release: %s", zcp_strerror(err));
}

static uint64_t run_zcp(void *arg, uint64_t n)
{
	struct zarg *a = arg;
	uint64_t t0 = zcp_bench_now();
	for (uint64_t i = 0; i < n; i++) {
		zcp_chunk *c = zcp_chunk_get(a->m, a->size);
		if (!c)
			fail_get(a->size);
		((unsigned char *)zcp_chunk_data(c))[0] = 1;
		int err = zcp_chunk_release(a->m, c);
		if (err)
			fail_release(err);
	}
	return zcp_bench_now() - t0;
}

static uint64_t run_fl(void *arg, uint64_t n)
{
	struct zcp_bench_fl *fl = ((struct farg *)arg)->fl;
	uint64_t t0 = zcp_bench_now();
	for (uint64_t i = 0; i < n; i++) {
		uint32_t idx = zcp_bench_fl_pop(fl);
		if (idx == ZCP_BENCH_FL_NIL)
			zcp_bench_fatal("bare free list empty");
		zcp_bench_fl_data(fl, idx)[0] = 1;
		zcp_bench_fl_push(fl, idx);
	}
	return zcp_bench_now() - t0;
}

static uint64_t run_malloc(void *arg, uint64_t n)
{
	size_t size = (size_t)((struct marg *)arg)->size;
	uint64_t t0 = zcp_bench_now();
	for (uint64_t i = 0; i < n; i++) {
		unsigned char *p = malloc(size);
		if (!p)
			zcp_bench_fatal("malloc(%zu): out of memory", size);
		p[0] = 1;
		zcp_bench_escape(p);
		free(p);
	}
	return zcp_bench_now() - t0;
}

static uint64_t run_zcp_batch(void *arg, uint64_t n)
{
	struct zarg *a = arg;
	zcp_chunk *c[BATCH];
	uint64_t t0 = zcp_bench_now();
	for (uint64_t i = 0; i < n; i++) {
		for (int j = 0; j < BATCH; j++) {
			if (!(c[j] = zcp_chunk_get(a->m, a->size)))
				fail_get(a->size);
			((unsigned char *)zcp_chunk_data(c[j]))[0] = 1;
		}
		for (int j = 0; j < BATCH; j++) {
			int err = zcp_chunk_release(a->m, c[j]);
			if (err)
				fail_release(err);
		}
	}
	return zcp_bench_now() - t0;
}

static uint64_t run_fl_batch(void *arg, uint64_t n)
{
	struct zcp_bench_fl *fl = ((struct farg *)arg)->fl;
	uint32_t idx[BATCH];
	uint64_t t0 = zcp_bench_now();
	for (uint64_t i = 0; i < n; i++) {
		for (int j = 0; j < BATCH; j++) {
			if ((idx[j] = zcp_bench_fl_pop(fl)) == ZCP_BENCH_FL_NIL)
				zcp_bench_fatal("bare free list empty");
			zcp_bench_fl_data(fl, idx[j])[0] = 1;
		}
		for (int j = 0; j < BATCH; j++)
			zcp_bench_fl_push(fl, idx[j]);
	}
	return zcp_bench_now() - t0;
}

static uint64_t run_malloc_batch(void *arg, uint64_t n)
{
	size_t size = (size_t)((struct marg *)arg)->size;
	unsigned char *p[BATCH];
	uint64_t t0 = zcp_bench_now();
	for (uint64_t i = 0; i < n; i++) {
		for (int j = 0; j < BATCH; j++) {
			if (!(p[j] = malloc(size)))
				zcp_bench_fatal("malloc(%zu): out of memory", size);
			p[j][0] = 1;
			zcp_bench_escape(p[j]);
		}
		for (int j = 0; j < BATCH; j++)
			free(p[j]);
	}
	return zcp_bench_now() - t0;
}

/* Iterations for a trial of ctx->trial_ns; the calibration runs double as
 * warm-up. */
static void calibrate(const struct zcp_bench_ctx *ctx, struct kind *k)
{
	uint64_t n = 8;
	for (;;) {
		uint64_t t = k->run(k->arg, n);
		if (t >= ctx->trial_ns / 8 || n >= (UINT64_C(1) << 36)) {
			double it = (double)n * ctx->trial_ns / (double)(t ? t : 1);
			k->iters = it < 1 ? 1 : (uint64_t)it;
			return;
		}
		n *= 2;
	}
}

static void interleave(const struct zcp_bench_ctx *ctx, struct kind *k, unsigned nk,
		       unsigned ops_per_iter)
{
	for (unsigned i = 0; i < nk; i++)
		calibrate(ctx, &k[i]);
	for (unsigned t = 0; t < ctx->trials; t++)
		for (unsigned j = 0; j < nk; j++) {
			struct kind *x = &k[(t + j) % nk];
			uint64_t ns = x->run(x->arg, x->iters);
			x->v[t] = (double)ns / ((double)x->iters * ops_per_iter);
		}
}

static void fill_figure(const struct zcp_bench_ctx *ctx, struct zcp_bench_figure *f,
			const struct kind *k, unsigned nk, unsigned ops_per_iter)
{
	f->unit = "ns";
	f->trials = ctx->trials;
	f->samples = k[0].iters * ops_per_iter;
	zcp_bench_stat_of(k[0].v, ctx->trials, &f->zcp);
	f->nbase = nk - 1;
	for (unsigned i = 1; i < nk; i++) {
		f->base[i - 1].name = k[i].name;
		zcp_bench_stat_of(k[i].v, ctx->trials, &f->base[i - 1].st);
	}
	zcp_bench_ratio(f);
}

/* The runners of one figure: zerocp, the bare free list, malloc. */
struct runners {
	uint64_t (*zcp)(void *arg, uint64_t n);
	uint64_t (*fl)(void *arg, uint64_t n);
	uint64_t (*malloc)(void *arg, uint64_t n);
};

/* Measure seed pool p of manager m against a bare list of `count` chunks
 * of the same size, ops_per_iter operations a runner iteration, into *f
 * (zeroed; its variant is the size, the caller names and reports it). */
static void pool_figure(struct zcp_bench_ctx *ctx, zcp_mempool_manager *m, int p, uint32_t count,
			const struct runners *run, unsigned ops_per_iter,
			struct zcp_bench_figure *f)
{
	struct zcp_bench_fl fl;
	struct zarg za = {m, zcp_bench_seed_size[p]};
	struct farg fa = {&fl};
	struct marg ma = {zcp_bench_seed_size[p]};
	struct kind k[3] = {
		{"zcp", run->zcp, &za, 0, {0}},
		{"freelist", run->fl, &fa, 0, {0}},
		{"malloc", run->malloc, &ma, 0, {0}},
	};

	zcp_bench_fl_init(&fl, zcp_bench_seed_size[p], count);
	interleave(ctx, k, 3, ops_per_iter);
	memset(f, 0, sizeof *f);
	zcp_bench_size_label(zcp_bench_seed_size[p], f->variant, sizeof f->variant);
	fill_figure(ctx, f, k, 3, ops_per_iter);
	zcp_bench_fl_fini(&fl);
}

void zcp_bench_get_release(struct zcp_bench_ctx *ctx)
{
	static const struct runners run = {run_zcp, run_fl, run_malloc};
	zcp_mempool_config *cfg = zcp_bench_seed_config(1, 0);
	zcp_mempool_manager *m = zcp_bench_create(ctx->name, cfg);
	zcp_mempool_config_free(cfg);

	for (int p = 0; p < ZCP_BENCH_SEED_POOLS; p++) {
		struct zcp_bench_figure f;

		pool_figure(ctx, m, p, zcp_bench_seed_count[p], &run, 1, &f);
		f.name = "get_release";
		zcp_bench_bar(&f, "ratio", "<=", 2.0);
		zcp_bench_report(ctx, &f);
	}
	zcp_bench_destroy(m);
}

void zcp_bench_batch(struct zcp_bench_ctx *ctx)
{
	static const struct runners run = {run_zcp_batch, run_fl_batch, run_malloc_batch};
	char name[48];
	zcp_pool_stats st;

	/* The seed's sizes with at least 64 chunks each, so that a batch
	 * fits every pool. */
	snprintf(name, sizeof name, "%sb", ctx->name);
	zcp_mempool_config *cfg = zcp_bench_seed_config(1, BATCH);
	zcp_mempool_manager *m = zcp_bench_create(name, cfg);
	zcp_mempool_config_free(cfg);

	for (int p = 0; p < ZCP_BENCH_SEED_POOLS; p++) {
		struct zcp_bench_figure f;
		int err = zcp_mempool_manager_pool_stats(m, p, &st);

		if (err)
			zcp_bench_fatal("zcp_mempool_manager_pool_stats: %s", zcp_strerror(err));
		pool_figure(ctx, m, p, (uint32_t)st.total, &run, BATCH, &f);
		f.name = "batch";
		snprintf(f.note, sizeof f.note, "%d gets then %d releases, per pair; pool of %llu",
			 BATCH, BATCH, (unsigned long long)st.total);
		zcp_bench_report(ctx, &f);
	}
	zcp_bench_destroy(m);
}
