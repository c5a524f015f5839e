/* SPDX-License-Identifier: MIT */
/* tools/bench/handoff.c - handoff_rtt: a chunk's round trip between two
 * processes pinned to different CPUs, beside a bare cache-line ping-pong
 * between the same two processes in the same run.
 *
 * zerocp round (A = this process, B = a forked peer that attached):
 *   A: get a chunk, write n into it, store its handle in the slot
 *      (release); spin until B answers n + 1 (acquire); read the payload,
 *      release the chunk.
 *   B: spin until the handle changes, zcp_chunk_from_handle() +
 *      zcp_chunk_ref(), read n, write n + 1, release, store n + 1.
 * Ping-pong round: A stores n into one shared cache line, B waits for n
 * and stores n + 1, A waits for n + 1.
 *
 * Both are timed the same way, round by round, with CLOCK_MONOTONIC, so
 * the cost of the clock cancels in the ratio.  Both sides run the same
 * fixed schedule of trials (zerocp and ping-pong phases alternating), so
 * no command channel is needed.  The spin loops use no pause instruction:
 * the point is the latency of noticing a store.
 */
#define _GNU_SOURCE 1
#include "tool.h"
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK	   256
#define TIMEOUT_NS (UINT64_C(30) * 1000000000u)

/* In a MAP_SHARED mapping; each group on its own cache line. */
struct hshared {
	_Alignas(64) _Atomic uint64_t handle; /* the slot: A -> B */
	_Atomic uint64_t seq;		      /* the slot: B -> A */
	_Alignas(64) _Atomic uint64_t pp;     /* the ping-pong line */
	_Alignas(64) _Atomic uint32_t ready;
	_Atomic int err;
};

struct side {
	struct hshared *s;
	zcp_mempool_manager *m;
	int yield;     /* fewer than 2 CPUs: spinning alone would never end */
	uint64_t pp;   /* last ping-pong value */
	uint64_t prev; /* B: last handle seen */
	uint64_t n;    /* A: sequence number */
};

static void spin_check(struct side *x, unsigned long *spins, uint64_t *deadline)
{
	if (x->yield)
		sched_yield();
	if ((++*spins & 0xFFFFF) != 0)
		return;
	if (atomic_load_explicit(&x->s->err, memory_order_relaxed))
		zcp_bench_fatal("handoff: the peer failed");
	uint64_t now = zcp_bench_now();
	if (*deadline == 0)
		*deadline = now + TIMEOUT_NS;
	else if (now > *deadline)
		zcp_bench_fatal("handoff: the peer stopped answering");
}

static void peer_failed(struct side *x)
{
	atomic_store_explicit(&x->s->err, 1, memory_order_relaxed);
}

static uint64_t a_zcp(struct side *x)
{
	unsigned long spins = 0;
	uint64_t deadline = 0, n = x->n += 2;
	uint64_t t0 = zcp_bench_now();
	zcp_chunk *c = zcp_chunk_get(x->m, CHUNK);
	if (!c)
		zcp_bench_fatal("handoff zcp_chunk_get: %s", strerror(errno));
	uint64_t *d = zcp_chunk_data(c);
	*d = n;
	uint64_t h = zcp_chunk_handle(x->m, c);
	if (!h)
		zcp_bench_fatal("handoff zcp_chunk_handle: no handle");
	/* Release: the payload is written before B can see the handle. */
	atomic_store_explicit(&x->s->handle, h, memory_order_release);
	/* Acquire: pairs with B's release store of seq, after its write. */
	while (atomic_load_explicit(&x->s->seq, memory_order_acquire) != n + 1)
		spin_check(x, &spins, &deadline);
	if (*d != n + 1)
		zcp_bench_fatal("handoff: payload reads %llu, expected %llu",
				(unsigned long long)*d, (unsigned long long)(n + 1));
	int err = zcp_chunk_release(x->m, c);
	if (err)
		zcp_bench_fatal("handoff zcp_chunk_release: %s", zcp_strerror(err));
	return zcp_bench_now() - t0;
}

static void b_zcp(struct side *x)
{
	unsigned long spins = 0;
	uint64_t deadline = 0, h;
	while ((h = atomic_load_explicit(&x->s->handle, memory_order_acquire)) == x->prev)
		spin_check(x, &spins, &deadline);
	x->prev = h;
	zcp_chunk *c = zcp_chunk_from_handle(x->m, h);
	if (!c) {
		peer_failed(x);
		zcp_bench_fatal("handoff zcp_chunk_from_handle: %s", strerror(errno));
	}
	int err = zcp_chunk_ref(x->m, c);
	if (err) {
		peer_failed(x);
		zcp_bench_fatal("handoff zcp_chunk_ref: %s", zcp_strerror(err));
	}
	uint64_t *d = zcp_chunk_data(c);
	uint64_t v = *d;
	*d = v + 1;
	if ((err = zcp_chunk_release(x->m, c))) {
		peer_failed(x);
		zcp_bench_fatal("handoff zcp_chunk_release: %s", zcp_strerror(err));
	}
	atomic_store_explicit(&x->s->seq, v + 1, memory_order_release);
}

static uint64_t a_pp(struct side *x)
{
	unsigned long spins = 0;
	uint64_t deadline = 0, n = x->pp + 1;
	uint64_t t0 = zcp_bench_now();
	atomic_store_explicit(&x->s->pp, n, memory_order_release);
	while (atomic_load_explicit(&x->s->pp, memory_order_acquire) != n + 1)
		spin_check(x, &spins, &deadline);
	x->pp = n + 1;
	return zcp_bench_now() - t0;
}

static void b_pp(struct side *x)
{
	unsigned long spins = 0;
	uint64_t deadline = 0, n = x->pp + 1;
	while (atomic_load_explicit(&x->s->pp, memory_order_acquire) != n)
		spin_check(x, &spins, &deadline);
	atomic_store_explicit(&x->s->pp, n + 1, memory_order_release);
	x->pp = n + 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Per-trial statistics of one kind: median, p99, max. */
struct per_trial {
	double med[ZCP_BENCH_MAX_TRIALS], p99[ZCP_BENCH_MAX_TRIALS], max[ZCP_BENCH_MAX_TRIALS];
};

static void summarise(uint64_t *v, unsigned k, unsigned t, struct per_trial *out)
{
	qsort(v, k, sizeof *v, cmp_u64);
	out->med[t] = k % 2 ? (double)v[k / 2] : ((double)v[k / 2 - 1] + (double)v[k / 2]) / 2;
	unsigned i99 = (unsigned)((99ull * k + 99) / 100); /* ceil(0.99 k), 1-based */
	out->p99[t] = (double)v[(i99 ? i99 : 1) - 1];
	out->max[t] = (double)v[k - 1];
}

static void report(struct zcp_bench_ctx *ctx, const char *variant, const double *z, const double *b,
		   unsigned rounds, const char *note, double bar)
{
	struct zcp_bench_figure f;
	zcp_bench_figure_of(&f, "handoff_rtt", "ns", ctx->trials, rounds, z, "pingpong", b);
	snprintf(f.variant, sizeof f.variant, "%s", variant);
	if (bar > 0)
		zcp_bench_bar(&f, "ratio", "<=", bar);
	snprintf(f.note, sizeof f.note, "%s", note);
	zcp_bench_report(ctx, &f);
}

void zcp_bench_handoff(struct zcp_bench_ctx *ctx)
{
	const unsigned k = ctx->handoff_rounds, warm = k / 10 > 50 ? k / 10 : 50;
	zcp_mempool_config *cfg = zcp_bench_seed_config(1, 0);
	zcp_mempool_manager *m = zcp_bench_create(ctx->name, cfg);
	struct hshared *s = zcp_bench_shared_alloc(sizeof *s);
	uint64_t *vz = malloc(k * sizeof *vz), *vp = malloc(k * sizeof *vp);
	struct per_trial z, p;
	int pinned = ctx->ncpu >= 2 && ctx->cpu[1] >= 0;
	cpu_set_t saved;
	char note[160];

	zcp_mempool_config_free(cfg);
	if (!vz || !vp)
		zcp_bench_fatal("out of memory");
	if (pinned)
		snprintf(note, sizeof note, "A on CPU %d, B on CPU %d; %d-byte chunk", ctx->cpu[0],
			 ctx->cpu[1], CHUNK);
	else
		snprintf(note, sizeof note, "fewer than 2 CPUs: not pinned, peers yield");
	if (!pinned)
		zcp_bench_info(ctx, "handoff_rtt: fewer than 2 CPUs; not pinning");

	pid_t pid = zcp_bench_fork();
	if (pid == 0) {
		struct side b = {s, NULL, !pinned, 0, 0, 0};
		int err = zcp_mempool_manager_attach(ctx->name, &b.m);
		if (err) {
			peer_failed(&b);
			zcp_bench_fatal("zcp_mempool_manager_attach(%s): %s", ctx->name,
					zcp_strerror(err));
		}
		if (pinned && zcp_bench_pin(ctx->cpu[1])) {
			peer_failed(&b);
			zcp_bench_fatal("sched_setaffinity(CPU %d): %s", ctx->cpu[1],
					strerror(errno));
		}
		atomic_store_explicit(&s->ready, 1, memory_order_release);
		for (unsigned t = 0; t < ctx->trials; t++)
			for (int ph = 0; ph < 2; ph++) {
				int zcp_phase = (ph == 0) == (t % 2 == 0);
				for (unsigned r = 0; r < warm + k; r++)
					zcp_phase ? b_zcp(&b) : b_pp(&b);
			}
		zcp_mempool_manager_detach(b.m);
		_exit(0);
	}

	struct side a = {s, m, !pinned, 0, 0, 0};
	if (pinned) {
		if (sched_getaffinity(0, sizeof saved, &saved))
			zcp_bench_fatal("sched_getaffinity: %s", strerror(errno));
		if (zcp_bench_pin(ctx->cpu[0]))
			zcp_bench_fatal("sched_setaffinity(CPU %d): %s", ctx->cpu[0],
					strerror(errno));
	}
	if (zcp_bench_spin_until(&s->ready, 1, &s->err, 10.0))
		zcp_bench_fatal("handoff: the peer did not start");
	for (unsigned t = 0; t < ctx->trials; t++)
		for (int ph = 0; ph < 2; ph++) {
			int zcp_phase = (ph == 0) == (t % 2 == 0);
			for (unsigned r = 0; r < warm + k; r++) {
				if (zcp_phase) {
					uint64_t ns = a_zcp(&a);
					if (r >= warm)
						vz[r - warm] = ns;
				} else {
					uint64_t ns = a_pp(&a);
					if (r >= warm)
						vp[r - warm] = ns;
				}
			}
			if (zcp_phase)
				summarise(vz, k, t, &z);
			else
				summarise(vp, k, t, &p);
		}
	zcp_bench_wait(pid, "handoff");
	if (pinned && sched_setaffinity(0, sizeof saved, &saved))
		zcp_bench_fatal("sched_setaffinity (restore): %s", strerror(errno));

	report(ctx, "median", z.med, p.med, k, note, 2.5);
	report(ctx, "p99", z.p99, p.p99, k, note, 4.0);
	report(ctx, "max", z.max, p.max, k, note, 0);
	free(vz);
	free(vp);
	zcp_bench_shared_free(s, sizeof *s);
	zcp_bench_destroy(m);
}
