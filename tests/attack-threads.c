/* SPDX-License-Identifier: MIT */
/* Attacks chunk.h's synchronisation table ("any number of threads in any
 * number of processes") and the README's "Double release ... and
 * reference-count overflow are errors, never corruption":
 *  T1 2k threads release a chunk the process holds k references on, all at
 *     once: exactly k succeed, the rest answer ZCP_EALREADY, the chunk is
 *     back once, check() is 0;
 *  T2 handle churn: one thread of a process attaches a second handle, takes
 *     chunks, lends some to anyone, and detaches with them still held, over
 *     and over, while other threads of the same process work on the first
 *     handle with stamped chunks and a peer process takes the tickets and
 *     calls reclaim: no stamp of a chunk held through the first handle is
 *     ever damaged, and everything is back at the end;
 *  T3 (make stress only: 2^32 references) a process's reference count
 *     reaches 2^32 - 1: ref and send then answer ZCP_EOVERFLOW, nothing
 *     else changes, and every reference releases. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t used_all(zcp_mempool_manager *m)
{
	uint64_t u = 0;
	int n = zcp_mempool_manager_pool_count(m);
	for (int i = 0; i < n; i++) {
		zcp_pool_stats s;
		if (zcp_mempool_manager_pool_stats(m, i, &s) == 0)
			u += s.used;
	}
	return u;
}

/* ---- T1 --------------------------------------------------------------- */
#define T1_THREADS 8
static zcp_mempool_manager *t1_m;
static zcp_chunk *_Atomic t1_chunk;
static pthread_barrier_t t1_bar;
static _Atomic int t1_ok, t1_already, t1_other, t1_active;
static long t1_rounds;

static void *t1_thread(void *arg)
{
	long idx = (long)arg;
	for (long r = 0; r < t1_rounds; r++) {
		pthread_barrier_wait(&t1_bar);
		if (idx < atomic_load(&t1_active)) {
			int e = zcp_chunk_release(t1_m, atomic_load(&t1_chunk));
			if (e == 0)
				atomic_fetch_add(&t1_ok, 1);
			else if (e == ZCP_EALREADY)
				atomic_fetch_add(&t1_already, 1);
			else
				atomic_fetch_add(&t1_other, 1);
		}
		pthread_barrier_wait(&t1_bar);
	}
	return NULL;
}

static void t1(void)
{
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 4);
	if (zcp_mempool_manager_create(name, cfg, &t1_m))
		bail("create");
	zcp_mempool_config_free(cfg);
	t1_rounds = zt_iters(3000);
	if (t1_rounds > 200000)
		t1_rounds = 200000;
	pthread_barrier_init(&t1_bar, NULL, T1_THREADS + 1);
	pthread_t th[T1_THREADS];
	for (long i = 0; i < T1_THREADS; i++)
		pthread_create(&th[i], NULL, t1_thread, (void *)i);
	long wrong = 0, leaked = 0, stale_back = 0;
	unsigned seed = 12345;
	for (long r = 0; r < t1_rounds; r++) {
		int k = 1 + (int)(rand_r(&seed) % (T1_THREADS / 2));
		zcp_chunk *c = zcp_chunk_get(t1_m, 10);
		if (!c) {
			wrong++;
			pthread_barrier_wait(&t1_bar);
			pthread_barrier_wait(&t1_bar);
			continue;
		}
		for (int i = 1; i < k; i++)
			zcp_chunk_ref(t1_m, c);
		atomic_store(&t1_chunk, c);
		atomic_store(&t1_ok, 0);
		atomic_store(&t1_already, 0);
		atomic_store(&t1_active, 2 * k);
		pthread_barrier_wait(&t1_bar);
		pthread_barrier_wait(&t1_bar);
		if (atomic_load(&t1_ok) != k || atomic_load(&t1_already) != k) {
			if (wrong < 3)
				diag("T1 round %ld: %d references, %d releases succeeded, %d EALREADY, %d "
				     "other",
				     r, k, atomic_load(&t1_ok), atomic_load(&t1_already),
				     atomic_load(&t1_other));
			wrong++;
		}
		if (used_all(t1_m) != 0)
			leaked++;
		if (zcp_chunk_refcount(c) != 0)
			stale_back++;
	}
	for (int i = 0; i < T1_THREADS; i++)
		pthread_join(th[i], NULL);
	diag("T1: %ld rounds of 2k racing releases", t1_rounds);
	is_int(wrong, 0, "T1: exactly k of 2k racing releases succeed, the rest EALREADY");
	is_int(atomic_load(&t1_other), 0, "T1: no other error");
	is_int(leaked + stale_back, 0, "T1: the chunk is back after every round");
	is_int(zcp_mempool_manager_check(t1_m), 0, "T1: check");
	zcp_mempool_manager_destroy(t1_m);
	pthread_barrier_destroy(&t1_bar);
}

/* ---- T2 --------------------------------------------------------------- */
#define T2_WORKERS 3
#define T2_BOX 64
struct t2box {
	_Atomic uint64_t tickets[T2_BOX];
	_Atomic int stop, peer_done, quiet;
	_Atomic uint64_t corrupt, errors, churns, received, stale, reclaims;
	char msg[160];
};
static struct t2box *b2;
static const char *t2_name;
static zcp_mempool_manager *t2_m1;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static void *t2_worker(void *arg)
{
	uint64_t id = (uint64_t)(long)arg, seq = 0, rng = mix(id + 99) | 1;
	zcp_chunk *held[8];
	uint64_t key[8];
	int n = 0;
	while (!atomic_load(&b2->stop)) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		if (n < 8 && (rng & 1)) {
			zcp_chunk *c = zcp_chunk_get(t2_m1, 256);
			if (!c)
				continue;
			uint64_t k = mix((id << 40) | ++seq), *w = zcp_chunk_data(c);
			for (int i = 0; i < 32; i++)
				w[i] = k + (uint64_t)i;
			held[n] = c;
			key[n++] = k;
		} else if (n) {
			int i = (int)(rng % (uint64_t)n);
			uint64_t *w = zcp_chunk_data(held[i]);
			for (int j = 0; j < 32; j++)
				if (w[j] != key[i] + (uint64_t)j) {
					if (!atomic_fetch_add(&b2->corrupt, 1))
						snprintf(b2->msg, sizeof b2->msg,
							 "word %d: %llx, want %llx (refcount %llu)", j,
							 (unsigned long long)w[j],
							 (unsigned long long)(key[i] + (uint64_t)j),
							 (unsigned long long)zcp_chunk_refcount(held[i]));
					break;
				}
			if (zcp_chunk_release(t2_m1, held[i]))
				atomic_fetch_add(&b2->errors, 1);
			held[i] = held[--n];
			key[i] = key[n];
		}
	}
	while (n)
		zcp_chunk_release(t2_m1, held[--n]);
	return NULL;
}

static void *t2_churn(void *arg)
{
	(void)arg;
	while (!atomic_load(&b2->stop)) {
		zcp_mempool_manager *m2;
		if (zcp_mempool_manager_attach(t2_name, &m2)) {
			atomic_fetch_add(&b2->errors, 1);
			usleep(1000);
			continue;
		}
		for (int i = 0; i < 4; i++) {
			zcp_chunk *c = zcp_chunk_get(m2, 100);
			if (!c)
				break;
			memset(zcp_chunk_data(c), 0xEE, 100); /* a fresh chunk: ours to scribble */
			uint64_t t;
			if (i & 1 && zcp_chunk_send(m2, c, 0, &t) == 0) {
				for (int k = 0; k < T2_BOX; k++) {
					uint64_t z = 0;
					if (atomic_compare_exchange_strong(&b2->tickets[k], &z, t))
						break;
				}
			}
			/* keep it: detach must give it back */
		}
		zcp_mempool_manager_detach(m2);
		atomic_fetch_add(&b2->churns, 1);
	}
	return NULL;
}

static void t2_peer(void)
{
	zcp_mempool_manager *m;
	ZT_CHECK(zcp_mempool_manager_attach(t2_name, &m) == 0);
	while (!atomic_load(&b2->stop)) {
		for (int k = 0; k < T2_BOX; k++) {
			uint64_t t = atomic_exchange(&b2->tickets[k], 0);
			if (!t)
				continue;
			errno = 0;
			zcp_chunk *c = zcp_chunk_receive(m, t);
			if (c) {
				atomic_fetch_add(&b2->received, 1);
				zcp_chunk_release(m, c);
			} else if (errno == ESTALE)
				atomic_fetch_add(&b2->stale, 1);
			else
				atomic_fetch_add(&b2->errors, 1);
		}
		if (zcp_mempool_manager_reclaim(m, NULL))
			atomic_fetch_add(&b2->errors, 1);
		atomic_fetch_add(&b2->reclaims, 1);
		usleep(200);
	}
	zcp_mempool_manager_settle(m);
	atomic_store(&b2->peer_done, 1);
	while (!atomic_load(&b2->quiet))
		usleep(1000);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

static void t2(void)
{
	b2 = mmap(NULL, sizeof *b2, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b2 == MAP_FAILED)
		bail("mmap");
	memset(b2, 0, sizeof *b2);
	t2_name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 256, 64);
	zcp_mempool_manager *mc;
	if (zcp_mempool_manager_create(t2_name, cfg, &mc))
		bail("create");
	zcp_mempool_config_free(cfg);
	pid_t peer = zt_fork();
	if (peer == 0)
		t2_peer();
	pid_t p1 = zt_fork();
	if (p1 == 0) {
		ZT_CHECK(zcp_mempool_manager_attach(t2_name, &t2_m1) == 0);
		pthread_t th[T2_WORKERS + 1];
		for (long i = 0; i < T2_WORKERS; i++)
			pthread_create(&th[i], NULL, t2_worker, (void *)i);
		pthread_create(&th[T2_WORKERS], NULL, t2_churn, NULL);
		for (int i = 0; i <= T2_WORKERS; i++)
			pthread_join(th[i], NULL);
		zcp_mempool_manager_settle(t2_m1);
		while (!atomic_load(&b2->quiet))
			usleep(1000);
		zcp_mempool_manager_detach(t2_m1);
		_exit(0);
	}
	long secs = zt_iters(3) > 3 ? 60 : 3;
	usleep((useconds_t)secs * 1000000);
	atomic_store(&b2->stop, 1);
	double end = now() + 10;
	while (!atomic_load(&b2->peer_done) && now() < end)
		usleep(1000);
	usleep(50000);
	/* tickets left in the box: the detached handle lent them; take them */
	for (int k = 0; k < T2_BOX; k++) {
		uint64_t t = atomic_exchange(&b2->tickets[k], 0);
		if (t) {
			zcp_chunk *c = zcp_chunk_receive(mc, t);
			if (c)
				zcp_chunk_release(mc, c);
		}
	}
	diag("T2: %llu attach/detach churns, %llu tickets received (%llu stale), %llu peer "
	     "reclaims",
	     (unsigned long long)b2->churns, (unsigned long long)b2->received,
	     (unsigned long long)b2->stale, (unsigned long long)b2->reclaims);
	if (b2->corrupt)
		diag("T2: first damage: %s", b2->msg);
	is_int((long long)b2->corrupt, 0,
	       "T2: no chunk held through the first handle is damaged while a second handle "
	       "of the process churns");
	is_int((long long)b2->errors, 0, "T2: no call failed");
	atomic_store(&b2->quiet, 1);
	zt_ok_child(p1, "T2: the churning process exits");
	zt_ok_child(peer, "T2: the peer exits");
	zcp_mempool_manager_reclaim(mc, NULL);
	is_int((long long)used_all(mc), 0, "T2: every chunk back");
	is_int(zcp_mempool_manager_check(mc), 0, "T2: check");
	zcp_mempool_manager_destroy(mc);
	munmap(b2, sizeof *b2);
}

/* ---- T3 --------------------------------------------------------------- */
static void t3(void)
{
	if (zt_iters(0) < 100000) {
		skip("T3: 2^32 references take minutes; make stress runs it");
		return;
	}
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 4);
	zcp_mempool_manager *m;
	if (zcp_mempool_manager_create(name, cfg, &m))
		bail("create");
	zcp_mempool_config_free(cfg);
	zcp_chunk *c = zcp_chunk_get(m, 10);
	uint64_t n = 1;
	int e = 0;
	while ((e = zcp_chunk_ref(m, c)) == 0)
		n++;
	is_int(e, ZCP_EOVERFLOW, "T3: ref beyond the limit: EOVERFLOW");
	is_int((long long)n, (long long)UINT32_MAX, "T3: after 2^32 - 1 references");
	is_int((long long)zcp_chunk_refcount(c), (long long)UINT32_MAX, "T3: refcount unchanged");
	uint64_t t;
	is_int(zcp_chunk_send(m, c, 0, &t), ZCP_EOVERFLOW, "T3: send at the limit: EOVERFLOW");
	is_int(zcp_chunk_release(m, c), 0, "T3: release one");
	is_int(zcp_chunk_send(m, c, 0, &t), 0, "T3: then send works");
	is_int(zcp_chunk_unsend(m, t), 0, "T3: unsend");
	uint64_t r = 1;
	while (zcp_chunk_release(m, c) == 0)
		r++;
	is_int((long long)r, (long long)UINT32_MAX, "T3: every reference releases");
	is_int((long long)used_all(m), 0, "T3: back in the pool");
	is_int(zcp_mempool_manager_check(m), 0, "T3: check");
	zcp_mempool_manager_destroy(m);
}

int main(void)
{
	plan_lazy();
	t1();
	t2();
	t3();
	zt_done();
	return done_testing();
}
