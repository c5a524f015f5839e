/* SPDX-License-Identifier: MIT */
/* Stress: 4 processes x 2 threads take, stamp, check and give back chunks
 * of every pool, and hand chunks over to the next process.  Each holder
 * stamps the payload with a token unique to this use and checks it before
 * letting go, so a chunk handed to two holders at once is caught.  At the
 * end every pool is back to used=0 and the free lists hold every chunk
 * exactly once. */
#include "tap.h"
#include "zt.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define PROCS 4
#define THREADS 2
#define SLOTS 16 /* inbox slots per process */

enum { EMPTY, FILLING, FULL, TAKING, ACKED };

struct slot {
	_Atomic int state;
	uint64_t handle;
	uint64_t token;
	_Atomic int ok;
};

struct shared {
	_Atomic int start;
	_Atomic long outstanding; /* sent, not yet settled */
	_Atomic int finished;     /* workers done with their own iterations */
	_Atomic long errors;
	_Atomic long ops, handoffs;
	char first_error[160];
	_Atomic int error_once;
	struct slot inbox[PROCS][SLOTS];
};

static struct shared *sh;
static const char *name;
static long iters;
static const uint64_t sizes[4] = {200, 1000, 4000, 16000};

struct worker {
	zcp_mempool_manager *m;
	int proc, thread;
	uint64_t rng;
	uint64_t counter;
	int pending[SLOTS]; /* slots of the next process we sent into */
};

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fail(const char *what, long a, long b)
{
	atomic_fetch_add(&sh->errors, 1);
	if (atomic_exchange(&sh->error_once, 1) == 0)
		snprintf(sh->first_error, sizeof sh->first_error, "%s (%ld, %ld)", what, a, b);
}

static uint64_t new_token(struct worker *w)
{
	return ((uint64_t)(w->proc * THREADS + w->thread + 1) << 48) | ++w->counter;
}

/* Stamp a chunk as ours: the token at both ends of what we use. */
static void stamp(zcp_chunk *c, uint64_t token)
{
	uint64_t *p = zcp_chunk_data(c);
	size_t n = zcp_chunk_capacity(c) / sizeof *p;
	p[0] = token;
	p[n - 1] = token;
}

static int stamped(zcp_chunk *c, uint64_t token)
{
	uint64_t *p = zcp_chunk_data(c);
	size_t n = zcp_chunk_capacity(c) / sizeof *p;
	return p[0] == token && p[n - 1] == token;
}

/* Take what other processes sent us: check the sender's stamp, restamp,
 * check, release; ack so the sender can release its own reference. */
static void serve_inbox(struct worker *w)
{
	for (int i = 0; i < SLOTS; i++) {
		struct slot *s = &sh->inbox[w->proc][i];
		int full = FULL;
		if (!atomic_compare_exchange_strong(&s->state, &full, TAKING))
			continue;
		int good = 0;
		zcp_chunk *c = zcp_chunk_from_handle(w->m, s->handle);
		if (!c)
			fail("from_handle of a held chunk failed", i, 0);
		else if ((good = zcp_chunk_ref(w->m, c)) != 0)
			fail("ref of a held chunk failed", good, (long)s->handle);
		else {
			good = stamped(c, s->token);
			if (!good)
				fail("handed-over chunk lost its sender's stamp", (long)s->token, 0);
			atomic_store(&s->ok, good);
			atomic_store(&s->state, ACKED);
			/* The sender may release now; our reference keeps it. */
			if (zcp_chunk_release(w->m, c) != 0)
				fail("release of a received chunk failed", 0, 0);
			continue;
		}
		atomic_store(&s->ok, 0);
		atomic_store(&s->state, ACKED);
	}
}

/* Settle our sends the receiver has acked. */
static void settle_sends(struct worker *w, zcp_chunk **sent)
{
	int to = (w->proc + 1) % PROCS;
	for (int i = 0; i < SLOTS; i++) {
		if (!w->pending[i])
			continue;
		struct slot *s = &sh->inbox[to][i];
		if (atomic_load(&s->state) != ACKED)
			continue;
		if (zcp_chunk_release(w->m, sent[i]) != 0)
			fail("sender release failed", i, 0);
		w->pending[i] = 0;
		atomic_store(&s->state, EMPTY);
		atomic_fetch_sub(&sh->outstanding, 1);
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	zcp_chunk *sent[SLOTS] = {0};
	zcp_chunk *held[4] = {0};
	uint64_t held_token[4] = {0};
	int to = (w->proc + 1) % PROCS;

	while (!atomic_load(&sh->start))
		sched_yield();
	for (long it = 0; it < iters; it++) {
		uint64_t r = next_rand(&w->rng);
		int k = (int)(r % 4);
		/* Give back what we held in this lane, checking our stamp. */
		if (held[k]) {
			if (!stamped(held[k], held_token[k]))
				fail("a held chunk was overwritten: handed out twice?", k, 0);
			if (zcp_chunk_release(w->m, held[k]) != 0)
				fail("release failed", k, 0);
			held[k] = NULL;
		}
		zcp_chunk *c = zcp_chunk_get(w->m, sizes[(r >> 8) % 4]);
		atomic_fetch_add_explicit(&sh->ops, 1, memory_order_relaxed);
		if (!c)
			goto service; /* ENOBUFS under load is fine */
		uint64_t t = new_token(w);
		stamp(c, t);
		if ((r >> 16) % 5 == 0) {
			/* Hand it to the next process. */
			for (int i = 0; i < SLOTS; i++) {
				struct slot *s = &sh->inbox[to][i];
				int empty = EMPTY;
				if (w->pending[i] ||
				    !atomic_compare_exchange_strong(&s->state, &empty, FILLING))
					continue;
				s->handle = zcp_chunk_handle(w->m, c);
				s->token = t;
				sent[i] = c;
				w->pending[i] = 1;
				atomic_fetch_add(&sh->outstanding, 1);
				atomic_fetch_add_explicit(&sh->handoffs, 1, memory_order_relaxed);
				atomic_store(&s->state, FULL);
				c = NULL;
				break;
			}
		}
		if (c) {
			held[k] = c;
			held_token[k] = t;
		}
service:
		serve_inbox(w);
		settle_sends(w, sent);
	}
	for (int k = 0; k < 4; k++)
		if (held[k]) {
			if (!stamped(held[k], held_token[k]))
				fail("a held chunk was overwritten at the end", k, 0);
			zcp_chunk_release(w->m, held[k]);
		}
	atomic_fetch_add(&sh->finished, 1);
	/* Keep serving until every send in the system is settled. */
	for (long spins = 0; atomic_load(&sh->outstanding) > 0 || atomic_load(&sh->finished) < PROCS * THREADS; spins++) {
		serve_inbox(w);
		settle_sends(w, sent);
		sched_yield();
		if (spins > 50000000L) {
			fail("drain did not finish", atomic_load(&sh->outstanding), 0);
			break;
		}
	}
	return NULL;
}

static int process(int proc)
{
	zcp_mempool_manager *m;
	ZT_CHECK(zcp_mempool_manager_attach(name, &m) == 0);
	pthread_t th[THREADS];
	struct worker w[THREADS];
	for (int t = 0; t < THREADS; t++) {
		memset(&w[t], 0, sizeof w[t]);
		w[t].m = m;
		w[t].proc = proc;
		w[t].thread = t;
		w[t].rng = 0x9E3779B97F4A7C15u * (uint64_t)(proc * THREADS + t + 1);
		ZT_CHECK(pthread_create(&th[t], NULL, work, &w[t]) == 0);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	zcp_mempool_manager_detach(m);
	return 0;
}

int main(void)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	pid_t pids[PROCS];

	plan_lazy();
	name = zt_name();
	iters = zt_iters(15000);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap");
	zcp_mempool_config_add_entry(cfg, 256, 64);
	zcp_mempool_config_add_entry(cfg, 1024, 32);
	zcp_mempool_config_add_entry(cfg, 4096, 16);
	zcp_mempool_config_add_entry(cfg, 16384, 8);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	for (int p = 0; p < PROCS; p++) {
		pids[p] = zt_fork();
		if (pids[p] == 0)
			_exit(process(p));
	}
	atomic_store(&sh->start, 1);
	for (int p = 0; p < PROCS; p++)
		zt_ok_child(pids[p], "process %d: 2 threads x %ld operations", p, iters);
	long ops = atomic_load(&sh->ops), handoffs = atomic_load(&sh->handoffs);
	diag("%ld get operations, %ld handoffs between processes", ops, handoffs);
	ok(ops >= (long)PROCS * THREADS * iters, "every worker ran all its iterations");
	ok(handoffs > 0, "chunks were handed over between processes");
	if (atomic_load(&sh->errors))
		diag("first error: %s", sh->first_error);
	is_int(atomic_load(&sh->errors), 0, "no stamp was overwritten, no call failed");
	for (int i = 0; i < 4; i++) {
		zcp_pool_stats s;
		zcp_mempool_manager_pool_stats(m, i, &s);
		ok(s.used == 0 && s.free == s.total, "pool %d back to used=0 (used_max %llu of %llu)",
		   i, (unsigned long long)s.used_max, (unsigned long long)s.total);
	}
	is_int(zcp_mempool_manager_check(m), 0, "free lists hold every chunk exactly once");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
