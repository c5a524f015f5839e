/* SPDX-License-Identifier: MIT */
/* Publish/subscribe under load: 4 processes x 2 threads, each thread with
 * a publisher or a subscriber of its own on one topic (a process may have
 * a publisher and a subscriber side by side).  Half the publishers REJECT
 * (every subscriber must get each of their samples), half DROP_OLDEST
 * (a subscriber may lose some, counted).  Every payload is stamped with
 * its origin, sequence and a checksum over all of it.  Checks: per-origin
 * order, no duplicate, intact payloads, sample info that matches,
 * lost == published - received, and at the end no chunk in use and a
 * clean manager check.  Runs threads: CI runs it under ThreadSanitizer. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define PROCS 4
#define THREADS 2
#define PUBS 4
#define SUBS 4
#define PAYLOAD 200

/* Who runs what: role[process][thread] = publisher k (0..3) or
 * subscriber k (10..13). */
static const int role[PROCS][THREADS] = {{0, 10}, {1, 11}, {2, 3}, {12, 13}};

struct shared {
	_Atomic uint64_t ready, go, pubs_done;
	_Atomic uint64_t pub_id[PUBS];
	_Atomic uint64_t rejected[PUBS];
	_Atomic uint64_t got[SUBS][PUBS];
	_Atomic uint64_t lost[SUBS];
	_Atomic uint64_t reject_gaps; /* samples of rejecting publishers lost */
};
static struct shared *sh;
static const char *mgr_name;
static long n_samples;

struct payload {
	uint64_t who, seq, check;
	unsigned char fill[PAYLOAD - 24];
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap(long us)
{
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
}

static uint64_t sum_of(const struct payload *p)
{
	uint64_t h = UINT64_C(1469598103934665603) ^ p->who ^ (p->seq << 20);
	for (size_t i = 0; i < sizeof p->fill; i++)
		h = (h ^ p->fill[i]) * UINT64_C(1099511628211);
	return h;
}

static void stamp(struct payload *p, uint64_t who, uint64_t seq)
{
	p->who = who;
	p->seq = seq;
	for (size_t i = 0; i < sizeof p->fill; i++)
		p->fill[i] = (unsigned char)(who * 31 + seq * 7 + i);
	p->check = sum_of(p);
}

static int wait_ge(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t end = mono_ms() + 20000;
	while (atomic_load(a) < v) {
		if (mono_ms() > end)
			return 0;
		nap(100);
	}
	return 1;
}

struct thread_arg {
	zcp_mempool_manager *m;
	int role;
};

static int rejects(int k)
{
	return k % 2 == 0;
}

static void *publisher(void *v)
{
	struct thread_arg *a = v;
	zcp_mempool_manager *m = a->m;
	int k = a->role;
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 16;
	o.overflow = rejects(k) ? ZCP_OVERFLOW_REJECT : ZCP_OVERFLOW_DROP_OLDEST;
	zcp_publisher *p;
	ZT_CHECK(zcp_publisher_create(m, "stress", &o, &p) == 0);
	atomic_store(&sh->pub_id[k], zcp_publisher_id(p));
	atomic_fetch_add(&sh->ready, 1);
	ZT_CHECK(wait_ge(&sh->go, 1));
	uint64_t end = mono_ms() + 20000;
	for (long i = 0; i < n_samples; i++) {
		zcp_chunk *c;
		while (!(c = zcp_publisher_loan(p, PAYLOAD))) {
			/* The pool may run dry for a moment: 4 rings of 16 and
			 * the subscribers' samples in hand. */
			ZT_CHECK_MSG(errno == ENOBUFS || errno == EAGAIN,
				     "loan: errno %d", errno);
			ZT_CHECK_MSG(mono_ms() < end, "no chunk for 20 s");
			sched_yield();
		}
		stamp(zcp_sample_data(c), (uint64_t)k, (uint64_t)i);
		int err;
		while ((err = zcp_publisher_publish(p, c)) == ZCP_EFULL) {
			ZT_CHECK(rejects(k));
			atomic_fetch_add_explicit(&sh->rejected[k], 1, memory_order_relaxed);
			ZT_CHECK_MSG(mono_ms() < end, "refused for 20 s at %ld", i);
			sched_yield();
		}
		ZT_CHECK_MSG(err == 0, "publish %ld: %s", i, zcp_err_name(err));
		if (!rejects(k) && i % 32 == 31)
			sched_yield();
	}
	atomic_fetch_add(&sh->pubs_done, 1);
	ZT_CHECK(zcp_publisher_close(p) == 0);
	return NULL;
}

static void *subscriber(void *v)
{
	struct thread_arg *a = v;
	zcp_mempool_manager *m = a->m;
	int s = a->role - 10;
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 16;
	zcp_subscriber *sub;
	ZT_CHECK(zcp_subscriber_create(m, "stress", &o, &sub) == 0);
	atomic_fetch_add(&sh->ready, 1);
	ZT_CHECK(wait_ge(&sh->go, 1));
	uint64_t next[PUBS] = {0}, got[PUBS] = {0}, total = 0;
	zcp_chunk *hold[4] = {0};
	unsigned h = 0;
	for (;;) {
		int done = atomic_load(&sh->pubs_done) == PUBS;
		int any = 0;
		zcp_chunk *c;
		while ((c = zcp_subscriber_take(sub))) {
			any = 1;
			const struct payload *p = zcp_sample_data(c);
			zcp_sample_info info;
			ZT_CHECK(zcp_chunk_sample_info(c, &info) == 0);
			ZT_CHECK_MSG(p->who < PUBS && p->check == sum_of(p), "damaged payload %llu/%llu",
				     (unsigned long long)p->who, (unsigned long long)p->seq);
			ZT_CHECK(info.origin == atomic_load(&sh->pub_id[p->who]) && info.sequence == p->seq);
			uint64_t w = p->who;
			ZT_CHECK_MSG(p->seq >= next[w], "publisher %llu: %llu after %llu (a duplicate "
							"or out of order)",
				     (unsigned long long)w, (unsigned long long)p->seq,
				     (unsigned long long)next[w]);
			/* A rejecting publisher's sample must never be lost;
			 * counted here and reported by the parent (a known
			 * library bug makes it happen, see main()). */
			if (rejects((int)w) && p->seq != next[w])
				atomic_fetch_add(&sh->reject_gaps, p->seq - next[w]);
			next[w] = p->seq + 1;
			got[w]++;
			total++;
			/* Keep a few samples a while: releases out of order. */
			if (hold[h % 4])
				ZT_CHECK(zcp_chunk_release(m, hold[h % 4]) == 0);
			hold[h++ % 4] = c;
		}
		ZT_CHECK_MSG(errno == EAGAIN, "take: errno %d", errno);
		if (done && !any)
			break;
		if (!any)
			sched_yield();
	}
	for (int i = 0; i < 4; i++)
		if (hold[i])
			ZT_CHECK(zcp_chunk_release(m, hold[i]) == 0);
	uint64_t want_lost = 0;
	for (int w = 0; w < PUBS; w++) {
		ZT_CHECK_MSG(next[w] == (uint64_t)n_samples, "publisher %d: last %llu", w,
			     (unsigned long long)next[w]);
		want_lost += (uint64_t)n_samples - got[w];
		atomic_store(&sh->got[s][w], got[w]);
	}
	uint64_t lost = zcp_subscriber_lost(sub);
	ZT_CHECK_MSG(lost == want_lost, "lost %llu, want %llu", (unsigned long long)lost,
		     (unsigned long long)want_lost);
	atomic_store(&sh->lost[s], lost);
	ZT_CHECK(zcp_subscriber_close(sub) == 0);
	return NULL;
}

static void process_main(int proc)
{
	zcp_mempool_manager *m;
	ZT_CHECK(zcp_mempool_manager_attach(mgr_name, &m) == 0);
	pthread_t t[THREADS];
	struct thread_arg a[THREADS];
	for (int i = 0; i < THREADS; i++) {
		a[i].m = m;
		a[i].role = role[proc][i];
		ZT_CHECK(pthread_create(&t[i], NULL, a[i].role < 10 ? publisher : subscriber, &a[i]) == 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

int main(void)
{
	plan_lazy();
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap");
	n_samples = zt_iters(1500);
	mgr_name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	zcp_mempool_config_add_entry(cfg, 256, 160);
	zcp_mempool_config_set_topics(cfg, 4, PUBS, SUBS, 32);
	if (zcp_mempool_manager_create(mgr_name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);

	pid_t pids[PROCS];
	for (int p = 0; p < PROCS; p++)
		if ((pids[p] = zt_fork()) == 0)
			process_main(p);
	ok(wait_ge(&sh->ready, PUBS + SUBS), "%d publishers and %d subscribers in %d processes x %d threads",
	   PUBS, SUBS, PROCS, THREADS);
	atomic_store(&sh->go, 1);
	for (int p = 0; p < PROCS; p++)
		zt_ok_child(pids[p], "process %d: its threads' checks passed (order, no duplicate, intact, "
				     "sample info, lost == published - received)",
			    p);
	for (int s = 0; s < SUBS; s++)
		diag("subscriber %d: got %llu %llu %llu %llu, lost %llu", s,
		     (unsigned long long)atomic_load(&sh->got[s][0]),
		     (unsigned long long)atomic_load(&sh->got[s][1]),
		     (unsigned long long)atomic_load(&sh->got[s][2]),
		     (unsigned long long)atomic_load(&sh->got[s][3]),
		     (unsigned long long)atomic_load(&sh->lost[s]));
	int all = 1;
	for (int s = 0; s < SUBS; s++)
		for (int w = 0; w < PUBS; w += 2)
			all &= atomic_load(&sh->got[s][w]) == (uint64_t)n_samples;
	/* Under REJECT nothing is lost: a take moves its shared cursor (which
	 * a rejecting publisher reads) only once it holds its reference. */
	ok(all && !atomic_load(&sh->reject_gaps),
	   "every subscriber got every sample of the rejecting publishers (%ld each; %llu lost)",
	   n_samples, (unsigned long long)atomic_load(&sh->reject_gaps));
	diag("ZCP_EFULL retries: %llu %llu", (unsigned long long)atomic_load(&sh->rejected[0]),
	     (unsigned long long)atomic_load(&sh->rejected[2]));
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	is_int((long long)st.used, 0, "no chunk in use at the end");
	unsigned endpoints = 0;
	for (int t = 0; t < zcp_topic_slots(m); t++) {
		zcp_topic_info ti;
		if (zcp_topic_get_info(m, t, &ti) == 0)
			endpoints += ti.publishers + ti.subscribers + ti.closed_publishers + (unsigned)ti.kept;
	}
	is_int(endpoints, 0, "no endpoint or kept sample left");
	is_int(zcp_mempool_manager_check(m), 0, "manager check");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
