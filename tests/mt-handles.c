/* SPDX-License-Identifier: MIT */
/* Several manager handles in ONE process, driven by threads at once: each
 * handle has its own process slot (and its own liveness lock), so this is
 * what a multi-process run does, but under one ThreadSanitizer.
 *
 * K handles are attached to one manager (the creator's handle is a K+1-th,
 * used by a reclaim thread and for the final checks).  Worker thread t
 * drives handle H[t] and, for cross-handle work, H[t+1]:
 *   - get, stamp (writer id, sequence, a checksum over the payload), check,
 *     release, on its own handle;
 *   - handle on H[t] -> from_handle + ref on H[t+1] (the same chunk, seen
 *     through another handle's mapping): contents and refcounts must agree,
 *     then both references are dropped;
 *   - escrow: send from H[t] to H[t+1]'s process id (sometimes to any
 *     receiver) and post the ticket in thread t+1's mailbox; thread t+1
 *     receives on H[t+1] and checks the stamp; the sender sometimes
 *     unsends right after posting, so receive and unsend race: exactly one
 *     of them wins each ticket;
 *   - escrow through another thread's handle: a chunk seen on H[t+1] is
 *     sometimes sent from H[t+1] (whose own thread sends, settles and
 *     collects there at the same time) to thread t+2;
 *   - settle, refcount, pool stats.
 * One more thread calls zcp_mempool_manager_reclaim() on the creator's
 * handle in a loop: it must never take a live handle for dead.
 *
 * At the end (all threads joined, everything released and settled, the K
 * handles detached): used == 0 in every pool and
 * zcp_mempool_manager_check() == 0.
 *
 * Iterations per thread: ZCP_TEST_ITERS (zt_iters()), default 200000,
 * but without ZCP_TEST_ITERS the threads stop after about 3 s (so the
 * test stays short under ThreadSanitizer too).
 */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zerocp/zerocp.h>

#define K 4      /* attached handles = worker threads */
#define MAILBOX 8
#define STAMP_WORDS 24

static zcp_mempool_manager *creator;
static zcp_mempool_manager *H[K];
static uint64_t pid_of[K];
static long iters;
static int time_capped;
static struct timespec t_start;
static _Atomic int time_up;

static _Atomic uint64_t mailbox[K][MAILBOX]; /* tickets for thread t; 0 = empty */
static _Atomic int senders_done;
static _Atomic int stop_reclaim;

static _Atomic long errors;
static _Atomic long n_sent, n_received, n_unsent, n_unposted, n_stale, n_crossed, n_ops;
static _Atomic long n_reclaims, n_reclaimed;
static char first_error[200];
static _Atomic int error_once;

static void fail(int t, const char *what, long a, long b)
{
	atomic_fetch_add(&errors, 1);
	if (atomic_exchange(&error_once, 1) == 0)
		snprintf(first_error, sizeof first_error, "thread %d: %s (%ld, %ld)", t, what, a, b);
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	uint64_t x = (a + 0x9E3779B97F4A7C15u) ^ (b * 0xBF58476D1CE4E5B9u);
	x ^= x >> 31;
	return x * 0x94D049BB133111EBu;
}

/* words 0 writer, 1 sequence, 2.. pattern, last: checksum; the last
 * payload word too, so a chunk shared with another holder shows. */
static void stamp(zcp_chunk *c, uint64_t writer, uint64_t seq)
{
	uint64_t *p = zcp_chunk_data(c);
	size_t n = zcp_chunk_capacity(c) / sizeof *p;
	uint64_t sum = 0;
	p[0] = writer;
	p[1] = seq;
	for (size_t i = 2; i < STAMP_WORDS - 1; i++)
		p[i] = mix(writer ^ (seq << 8), i);
	for (size_t i = 0; i < STAMP_WORDS - 1; i++)
		sum ^= p[i] * (i + 1);
	p[STAMP_WORDS - 1] = sum;
	p[n - 1] = ~sum;
}

/* 0 if the payload carries an intact stamp (and its writer and sequence
 * in *writer, *seq). */
static int check_stamp(zcp_chunk *c, uint64_t *writer, uint64_t *seq)
{
	const uint64_t *p = zcp_chunk_data(c);
	size_t n = zcp_chunk_capacity(c) / sizeof *p;
	uint64_t sum = 0;
	for (size_t i = 2; i < STAMP_WORDS - 1; i++)
		if (p[i] != mix(p[0] ^ (p[1] << 8), i))
			return -1;
	for (size_t i = 0; i < STAMP_WORDS - 1; i++)
		sum ^= p[i] * (i + 1);
	if (p[STAMP_WORDS - 1] != sum || p[n - 1] != ~sum)
		return -1;
	*writer = p[0];
	*seq = p[1];
	return 0;
}

static const uint64_t sizes[3] = {200, 1000, 4000};

struct worker {
	int t;
	uint64_t rng, seq;
	long held_max;
};

/* Take the tickets posted to thread t; receive each on H[t]. */
static void drain(struct worker *w)
{
	zcp_mempool_manager *m = H[w->t];
	for (int k = 0; k < MAILBOX; k++) {
		uint64_t ticket = atomic_exchange(&mailbox[w->t][k], 0);
		if (!ticket)
			continue;
		zcp_chunk *c = zcp_chunk_receive(m, ticket);
		if (!c) {
			/* Only its sender's unsend may beat us to it. */
			if (errno != ESTALE)
				fail(w->t, "receive", errno, 0);
			atomic_fetch_add(&n_stale, 1);
			continue;
		}
		atomic_fetch_add(&n_received, 1);
		uint64_t writer, seq;
		/* From thread t-1 (its handle) or t-2 (through ours). */
		if (check_stamp(c, &writer, &seq) || (writer != (uint64_t)(w->t + K - 1) % K &&
						      writer != (uint64_t)(w->t + K - 2) % K))
			fail(w->t, "received a chunk with a bad stamp", (long)writer, (long)seq);
		if (zcp_chunk_refcount(c) < 1)
			fail(w->t, "refcount of a received chunk", (long)zcp_chunk_refcount(c), 0);
		int err = zcp_chunk_release(m, c);
		if (err)
			fail(w->t, "release of a received chunk", err, 0);
	}
}

/* Send c (held on handle m) to thread `to`, which receives it on H[to];
 * sometimes unsend right away. */
static void send_to(struct worker *w, zcp_mempool_manager *m, int to, zcp_chunk *c)
{
	uint64_t ticket;
	uint64_t r = next_rand(&w->rng);
	int err = zcp_chunk_send(m, c, r % 8 ? pid_of[to] : 0, &ticket);
	if (err == ZCP_ENOSPC) {
		zcp_mempool_manager_settle(m);
		return;
	}
	if (err) {
		fail(w->t, "send", err, 0);
		return;
	}
	atomic_fetch_add(&n_sent, 1);
	/* A free mailbox slot; if all are busy, let the receiver run. */
	int posted = 0;
	for (int tries = 0; !posted && tries < 4; tries++) {
		for (int j = 0; !posted && j < MAILBOX; j++) {
			uint64_t expect = 0;
			int k = (int)(((r >> 8) + (uint64_t)j) % MAILBOX);
			posted = atomic_compare_exchange_strong(&mailbox[to][k], &expect, ticket);
		}
		if (!posted) {
			drain(w);
			sched_yield();
		}
	}
	if (!posted) {
		/* Mailbox slot busy: nobody saw the ticket, so unsend wins. */
		err = zcp_chunk_unsend(m, ticket);
		if (err)
			fail(w->t, "unsend of an unposted ticket", err, 0);
		atomic_fetch_add(&n_unsent, 1);
		atomic_fetch_add(&n_unposted, 1);
		return;
	}
	if (r % 16 == 3) {
		/* Race the receiver. */
		err = zcp_chunk_unsend(m, ticket);
		if (err == 0)
			atomic_fetch_add(&n_unsent, 1);
		else if (err != ZCP_ESTALE)
			fail(w->t, "unsend", err, 0);
	}
}

/* handle on H[t] -> from_handle + ref on H[t+1], while we hold c. */
static void cross(struct worker *w, zcp_chunk *c)
{
	zcp_mempool_manager *a = H[w->t], *b = H[(w->t + 1) % K];
	uint64_t h = zcp_chunk_handle(a, c);
	if (!h) {
		fail(w->t, "handle of a held chunk", 0, 0);
		return;
	}
	zcp_chunk *d = zcp_chunk_from_handle(b, h);
	if (!d) {
		fail(w->t, "from_handle on another handle", errno, 0);
		return;
	}
	int err = zcp_chunk_ref(b, d);
	if (err) {
		fail(w->t, "ref on another handle", err, 0);
		return;
	}
	uint64_t writer, seq;
	if (check_stamp(d, &writer, &seq) || writer != (uint64_t)w->t || seq != w->seq)
		fail(w->t, "stamp seen through another handle", (long)writer, (long)seq);
	if (zcp_chunk_refcount(c) < 2 || zcp_chunk_refcount(d) < 2)
		fail(w->t, "refcount with two handles holding", (long)zcp_chunk_refcount(c),
		     (long)zcp_chunk_refcount(d));
	if (zcp_chunk_data(c) == zcp_chunk_data(d))
		fail(w->t, "two handles share one mapping", 0, 0);
	/* Sometimes send it on from H[t+1], whose own thread sends and
	 * settles there too, to thread t+2. */
	if (w->seq % 8 == 0)
		send_to(w, b, (w->t + 2) % K, d);
	if ((err = zcp_chunk_release(b, d)))
		fail(w->t, "release on another handle", err, 0);
	atomic_fetch_add(&n_crossed, 1);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	zcp_mempool_manager *m = H[w->t];
	zcp_chunk *mine[4] = {0};

	for (long i = 0; i < iters && !atomic_load_explicit(&time_up, memory_order_relaxed); i++) {
		uint64_t r = next_rand(&w->rng);
		if (time_capped && i % 512 == 511) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((now.tv_sec - t_start.tv_sec) * 1000 +
				    (now.tv_nsec - t_start.tv_nsec) / 1000000 >= 3000)
				atomic_store(&time_up, 1);
		}
		int k = (int)(r % 4);
		if (mine[k]) {
			uint64_t writer, seq;
			zcp_chunk *c = mine[k];
			mine[k] = NULL;
			if (check_stamp(c, &writer, &seq) || writer != (uint64_t)w->t)
				fail(w->t, "own chunk restamped", (long)writer, (long)seq);
			int err = zcp_chunk_release(m, c);
			if (err)
				fail(w->t, "release", err, 0);
		} else {
			zcp_chunk *c = zcp_chunk_get(m, sizes[(r >> 4) % 3]);
			if (!c) {
				if (errno != ENOBUFS)
					fail(w->t, "get", errno, 0);
			} else {
				stamp(c, (uint64_t)w->t, ++w->seq);
				switch ((r >> 8) % 4) {
				case 0:
					cross(w, c);
					mine[k] = c;
					break;
				case 1:
					send_to(w, m, (w->t + 1) % K, c);
					if (zcp_chunk_release(m, c))
						fail(w->t, "release after send", 0, 0);
					break;
				default:
					mine[k] = c;
					break;
				}
			}
		}
		if (r % 4 == 1)
			drain(w);
		if (r % 128 == 7 && zcp_mempool_manager_settle(m) < 0)
			fail(w->t, "settle", 0, 0);
		if (r % 256 == 9) {
			zcp_pool_stats st;
			if (zcp_mempool_manager_pool_stats(m, (int)((r >> 16) % 3), &st) ||
			    st.used > st.total)
				fail(w->t, "pool_stats", (long)st.used, (long)st.total);
		}
		atomic_fetch_add_explicit(&n_ops, 1, memory_order_relaxed);
	}
	for (int k = 0; k < 4; k++)
		if (mine[k] && zcp_chunk_release(m, mine[k]))
			fail(w->t, "final release", 0, 0);
	/* Take what is still posted to us once every sender is done. */
	atomic_fetch_add(&senders_done, 1);
	while (atomic_load(&senders_done) < K) {
		drain(w);
		sched_yield();
	}
	drain(w);
	return NULL;
}

static void *reclaimer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop_reclaim)) {
		zcp_reclaim_report rep;
		int err = zcp_mempool_manager_reclaim(creator, &rep);
		if (err)
			fail(-1, "reclaim", err, 0);
		if (rep.processes || rep.references || rep.chunks || rep.cancelled)
			fail(-1, "reclaim took a live handle for dead", (long)rep.processes,
			     (long)rep.references);
		atomic_fetch_add(&n_reclaims, 1);
		atomic_fetch_add(&n_reclaimed, (long)rep.processes);
		sched_yield();
	}
	return NULL;
}

int main(void)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	const char *name = zt_name();
	struct worker w[K];
	pthread_t th[K], rt;
	struct timespec t0, t1;

	plan_lazy();
	iters = zt_iters(200000);
	time_capped = !getenv("ZCP_TEST_ITERS");
	if (!cfg || zcp_mempool_config_add_entry(cfg, 256, 48) ||
	    zcp_mempool_config_add_entry(cfg, 1024, 24) ||
	    zcp_mempool_config_add_entry(cfg, 4096, 12) ||
	    zcp_mempool_config_set_max_processes(cfg, K + 2))
		bail("config");
	is_int(zcp_mempool_manager_create(name, cfg, &creator), 0, "create");
	zcp_mempool_config_free(cfg);
	if (!creator)
		bail("no manager");
	int attached = 0;
	for (int t = 0; t < K; t++) {
		attached += zcp_mempool_manager_attach(name, &H[t]) == 0;
		pid_of[t] = zcp_mempool_manager_process_id(H[t]);
	}
	if (!ok(attached == K, "%d handles attached in one process", K))
		bail("attach");
	int distinct = 1;
	for (int a = 0; a < K; a++)
		for (int b = 0; b < a; b++)
			distinct &= pid_of[a] && pid_of[a] != pid_of[b];
	ok(distinct, "each handle has its own process id");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	t_start = t0;
	if (pthread_create(&rt, NULL, reclaimer, NULL))
		bail("pthread_create");
	for (int t = 0; t < K; t++) {
		w[t].t = t;
		w[t].rng = 0x9E3779B97F4A7C15u * (uint64_t)(t + 1) | 1;
		w[t].seq = 0;
		if (pthread_create(&th[t], NULL, work, &w[t]))
			bail("pthread_create");
	}
	for (int t = 0; t < K; t++)
		pthread_join(th[t], NULL);
	atomic_store(&stop_reclaim, 1);
	pthread_join(rt, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	diag("%ld ops, %ld sent, %ld received, %ld unsent (%ld tickets found stale), %ld crossed, "
	     "%ld reclaims, %.2f s",
	     atomic_load(&n_ops), atomic_load(&n_sent), atomic_load(&n_received),
	     atomic_load(&n_unsent), atomic_load(&n_stale), atomic_load(&n_crossed),
	     atomic_load(&n_reclaims),
	     (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (!ok(atomic_load(&errors) == 0, "no error in %d threads, %ld operations", K,
		atomic_load(&n_ops)))
		diag("%ld errors; first: %s", atomic_load(&errors), first_error);
	is_int(atomic_load(&n_received) + atomic_load(&n_unsent), atomic_load(&n_sent),
	       "every ticket received or unsent, once");
	is_int(atomic_load(&n_stale), atomic_load(&n_unsent) - atomic_load(&n_unposted),
	       "a receive found stale exactly the posted tickets their senders unsent");
	ok(atomic_load(&n_reclaims) > 0 && atomic_load(&n_reclaimed) == 0,
	   "reclaim ran %ld times beside the threads and freed no live handle's slot",
	   atomic_load(&n_reclaims));

	/* Lent references whose tickets were taken after their sender's
	 * last settle. */
	long unsettled = 0;
	for (int t = 0; t < K; t++) {
		zcp_mempool_manager_settle(H[t]);
		zcp_process_info pi;
		for (int s = 0; s < zcp_mempool_manager_process_slots(creator); s++)
			if (zcp_mempool_manager_process(creator, s, &pi) == 0 && pi.id == pid_of[t])
				unsettled += (long)pi.lent_unsettled + (long)pi.chunks;
	}
	is_int(unsettled, 0, "after settle no handle holds a chunk or an unsettled lent reference");
	for (int t = 0; t < K; t++)
		zcp_mempool_manager_detach(H[t]);
	long used = 0;
	for (int p = 0; p < zcp_mempool_manager_pool_count(creator); p++) {
		zcp_pool_stats st;
		if (zcp_mempool_manager_pool_stats(creator, p, &st) == 0)
			used += (long)st.used;
	}
	is_int(used, 0, "every pool back to used == 0");
	is_int(zcp_mempool_manager_check(creator), 0, "zcp_mempool_manager_check() == 0");
	is_int(zcp_mempool_manager_destroy(creator), 0, "destroy");
	zt_done();
	return done_testing();
}
