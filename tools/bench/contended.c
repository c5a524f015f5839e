/* SPDX-License-Identifier: MIT */
/* tools/bench/contended.c - get_release_contended: two workers on one
 * pool at once, as two processes (the second attached to the manager) and
 * as two threads of one process sharing the handle.
 *
 * Workers meet at a barrier in shared memory (spinning on an atomic flag),
 * then each runs get + touch + release for a fixed time and counts its
 * pairs.  Throughput is the sum over workers of pairs / own running time.
 * The bare free list runs the same way on a MAP_SHARED mapping; its trials
 * alternate with zerocp's.
 */
#define _GNU_SOURCE 1
#include "tool.h"
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define WORKERS 2
#define BLOCK	32 /* pairs between two looks at the clock */

struct wslot {
	_Atomic uint64_t pairs;
	_Atomic uint64_t ns;
	_Atomic uint64_t retries;
	char pad[64 - 3 * sizeof(uint64_t)];
};

/* In a MAP_SHARED mapping: seen by forked peers and by threads. */
struct cctl {
	_Atomic uint32_t ready;
	_Atomic uint32_t go;
	_Atomic int err;
	char pad[64 - 2 * sizeof(uint32_t) - sizeof(int)];
	struct wslot w[WORKERS];
};

struct worker {
	struct cctl *ctl;
	int idx;
	int leader;
	zcp_mempool_manager *m; /* NULL: the bare free list */
	struct zcp_bench_fl *fl;
	uint64_t size;
	uint64_t dur_ns;
};

static void run_zcp(const struct worker *w, uint64_t *pairs, uint64_t *retries, uint64_t t0)
{
	uint64_t deadline = t0 + w->dur_ns, n = 0, r = 0;
	do {
		for (int k = 0; k < BLOCK; k++) {
			zcp_chunk *c = zcp_chunk_get(w->m, w->size);
			if (!c) {
				/* The documented answer to pathological
				 * contention: retry. */
				if (errno == EAGAIN) {
					r++;
					k--;
					continue;
				}
				zcp_bench_fatal("contended zcp_chunk_get(%llu): %s",
						(unsigned long long)w->size, strerror(errno));
			}
			((unsigned char *)zcp_chunk_data(c))[0] = 1;
			int err;
			while ((err = zcp_chunk_release(w->m, c)) == ZCP_EAGAIN)
				r++;
			if (err)
				zcp_bench_fatal("contended zcp_chunk_release: %s",
						zcp_strerror(err));
		}
		n += BLOCK;
	} while (zcp_bench_now() < deadline);
	*pairs = n;
	*retries = r;
}

static void run_fl(const struct worker *w, uint64_t *pairs, uint64_t t0)
{
	uint64_t deadline = t0 + w->dur_ns, n = 0;
	do {
		for (int k = 0; k < BLOCK; k++) {
			uint32_t idx = zcp_bench_fl_pop(w->fl);
			if (idx == ZCP_BENCH_FL_NIL)
				zcp_bench_fatal("bare free list empty");
			zcp_bench_fl_data(w->fl, idx)[0] = 1;
			zcp_bench_fl_push(w->fl, idx);
		}
		n += BLOCK;
	} while (zcp_bench_now() < deadline);
	*pairs = n;
}

static void work(const struct worker *w)
{
	struct cctl *ctl = w->ctl;
	uint64_t pairs = 0, retries = 0;

	if (w->leader) {
		if (zcp_bench_spin_until(&ctl->ready, WORKERS - 1, &ctl->err, 10.0))
			zcp_bench_fatal("contended: the peer did not start");
		atomic_store_explicit(&ctl->go, 1, memory_order_release);
	} else {
		atomic_fetch_add_explicit(&ctl->ready, 1, memory_order_acq_rel);
		if (zcp_bench_spin_until(&ctl->go, 1, &ctl->err, 10.0))
			zcp_bench_fatal("contended: never started");
	}
	uint64_t t0 = zcp_bench_now();
	if (w->m)
		run_zcp(w, &pairs, &retries, t0);
	else
		run_fl(w, &pairs, t0);
	uint64_t ns = zcp_bench_now() - t0;
	atomic_store_explicit(&ctl->w[w->idx].pairs, pairs, memory_order_relaxed);
	atomic_store_explicit(&ctl->w[w->idx].ns, ns, memory_order_relaxed);
	atomic_store_explicit(&ctl->w[w->idx].retries, retries, memory_order_release);
}

static void *thread_main(void *arg)
{
	work(arg);
	return NULL;
}

/* One trial; returns millions of pairs a second over both workers. */
static double trial(const struct zcp_bench_ctx *ctx, struct cctl *ctl, int procs,
		    zcp_mempool_manager *m, struct zcp_bench_fl *fl, uint64_t size,
		    uint64_t *retries, uint64_t *pairs)
{
	struct worker w[WORKERS];

	memset(ctl, 0, sizeof *ctl);
	for (int i = 0; i < WORKERS; i++) {
		w[i].ctl = ctl;
		w[i].idx = i;
		w[i].leader = i == 0;
		w[i].m = m;
		w[i].fl = fl;
		w[i].size = size;
		w[i].dur_ns = (uint64_t)ctx->contended_ns;
	}
	if (procs) {
		pid_t pid = zcp_bench_fork();
		if (pid == 0) {
			zcp_mempool_manager *own = NULL;
			if (m) {
				/* The parent's handle is not ours after fork. */
				int err = zcp_mempool_manager_attach(ctx->name, &own);
				if (err) {
					atomic_store(&ctl->err, 1);
					zcp_bench_fatal("zcp_mempool_manager_attach(%s): %s",
							ctx->name, zcp_strerror(err));
				}
				w[1].m = own;
			}
			work(&w[1]);
			zcp_mempool_manager_detach(own);
			_exit(0);
		}
		work(&w[0]);
		zcp_bench_wait(pid, "contended");
	} else {
		pthread_t th;
		int err = pthread_create(&th, NULL, thread_main, &w[1]);
		if (err)
			zcp_bench_fatal("pthread_create: %s", strerror(err));
		work(&w[0]);
		pthread_join(th, NULL);
	}
	double rate = 0;
	for (int i = 0; i < WORKERS; i++) {
		uint64_t ns = atomic_load_explicit(&ctl->w[i].ns, memory_order_acquire);
		uint64_t p = atomic_load_explicit(&ctl->w[i].pairs, memory_order_relaxed);
		*retries += atomic_load_explicit(&ctl->w[i].retries, memory_order_relaxed);
		*pairs += p;
		if (ns == 0)
			zcp_bench_fatal("contended: worker %d reported nothing", i);
		rate += (double)p / (double)ns;
	}
	return rate * 1e3; /* pairs/ns -> Mpairs/s */
}

void zcp_bench_contended(struct zcp_bench_ctx *ctx)
{
	zcp_mempool_config *cfg = zcp_bench_seed_config(1, 0);
	zcp_mempool_manager *m = zcp_bench_create(ctx->name, cfg);
	struct cctl *ctl = zcp_bench_shared_alloc(sizeof *ctl);
	zcp_mempool_config_free(cfg);

	for (int p = 0; p < ZCP_BENCH_SEED_POOLS; p++) {
		uint64_t size = zcp_bench_seed_size[p];
		for (int procs = 1; procs >= 0; procs--) {
			double vz[ZCP_BENCH_MAX_TRIALS], vf[ZCP_BENCH_MAX_TRIALS];
			uint64_t retries = 0, fl_retries = 0, pairs = 0, fl_pairs = 0;
			struct zcp_bench_fl fl;
			struct zcp_bench_figure f;
			char sz[16];

			zcp_bench_fl_init(&fl, size, zcp_bench_seed_count[p]);
			for (unsigned t = 0; t < ctx->trials; t++) {
				if (t % 2 == 0) {
					vz[t] = trial(ctx, ctl, procs, m, NULL, size, &retries,
						      &pairs);
					vf[t] = trial(ctx, ctl, procs, NULL, &fl, size, &fl_retries,
						      &fl_pairs);
				} else {
					vf[t] = trial(ctx, ctl, procs, NULL, &fl, size, &fl_retries,
						      &fl_pairs);
					vz[t] = trial(ctx, ctl, procs, m, NULL, size, &retries,
						      &pairs);
				}
			}
			zcp_bench_fl_fini(&fl);
			/* samples: the mean pairs of a trial */
			zcp_bench_figure_of(&f, "get_release_contended", "Mpairs/s", ctx->trials,
					    pairs / ctx->trials, vz, "freelist", vf);
			f.higher_better = 1;
			zcp_bench_size_label(size, sz, sizeof sz);
			snprintf(f.variant, sizeof f.variant, "%s/%s", procs ? "2proc" : "2thr",
				 sz);
			zcp_bench_bar(&f, "ratio", ">=", 0.6);
			f.retries = retries;
			snprintf(f.note, sizeof f.note, "%s, %.0f ms a trial, pairs/s summed",
				 procs ? "2 processes" : "2 threads, one handle",
				 ctx->contended_ns / 1e6);
			zcp_bench_report(ctx, &f);
		}
	}
	zcp_bench_shared_free(ctl, sizeof *ctl);
	zcp_bench_destroy(m);
}
