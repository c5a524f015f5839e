/* SPDX-License-Identifier: MIT */
/* Outside attack on ZCP_OVERFLOW_BLOCK and zcp_subscriber_wait (public API
 * only, <zerocp/topic.h> and the man pages are the contract):
 *   1. bad and extreme inputs: overflow out of range, block_timeout_ns
 *      negative but not -1, INT64_MAX / INT64_MIN / 10^18 (deadline
 *      arithmetic), capacity 0, wait with extreme timeouts, NULLs;
 *   2. a SIGSTOPped (alive) subscriber: a BLOCK publisher with a timeout
 *      times out (not early, not hung), keeps its chunk, counts right, and
 *      after SIGCONT nothing is lost or duplicated; one with no timeout is
 *      not let through while the subscriber is stopped;
 *   3. signals (with and without SA_RESTART): ZCP_EINTR, chunk kept;
 *   4. blocked publishers SIGKILLed beside one that survives: reclaim,
 *      takes, the survivor is woken, every chunk back;
 *   5. a stream through capacity 4 while subscriber processes come, take,
 *      close and get SIGKILLed at random moments;
 *   6. N:M: 2 processes x 2 publishing threads, 2 processes x 2 taking
 *      threads, capacity 2: every sample, in order, once, lost 0;
 *   7. a ping-pong at capacity 1 across processes (both sides asleep in
 *      turn): no lost wake-up either way;
 *   8. wait semantics: timeouts, publisher close/death wake-ups that carry
 *      no sample do not end the wait early;
 *   9. mixed policies on one topic (DROP_OLDEST, REJECT, BLOCK);
 *  10. in-process subscriber churn (create/take/close threads) beside a
 *      BLOCK publisher thread. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)
#define MAXP 8

static int64_t SLOW = 1;
static const char *NAME;

struct sample {
	uint32_t pub;
	uint32_t pad;
	uint64_t seq;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {ns / SEC, ns % SEC};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *shared(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		bail("mmap");
	memset(p, 0, n);
	return p;
}

static zcp_mempool_manager *make(void)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	if (!cfg || zcp_mempool_config_add_entry(cfg, 64, 1024) != 0 ||
	    zcp_mempool_config_set_max_processes(cfg, ZCP_MAX_PROCESSES) != 0 ||
	    zcp_mempool_config_set_topics(cfg, 32, 8, 32, 64) != 0)
		bail("config");
	NAME = zt_name();
	if (zcp_mempool_manager_create(NAME, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	return m;
}

static zcp_topic_options opts(unsigned capacity, int overflow, int64_t timeout_ns)
{
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = capacity;
	o.overflow = overflow;
	o.block_timeout_ns = timeout_ns;
	return o;
}

/* Loan, stamp (pub, seq), publish.  On failure the chunk must still be the
 * caller's: exactly one reference, released here.  Returns publish's
 * result, -errno of a failed loan, -1001 (refcount not 1 after a failed
 * publish) or -1000 (release of the kept chunk failed). */
static int pub_one(zcp_mempool_manager *m, zcp_publisher *p, uint32_t pub, uint64_t seq, int64_t *dt)
{
	zcp_chunk *c = zcp_publisher_loan(p, sizeof(struct sample));
	if (!c)
		return -errno;
	struct sample s = {pub, 0, seq};
	memcpy(zcp_sample_data(c), &s, sizeof s);
	int64_t t0 = mono_ns();
	int err = zcp_publisher_publish(p, c);
	if (dt)
		*dt = mono_ns() - t0;
	if (err) {
		if (zcp_chunk_refcount(c) != 1)
			return -1001;
		if (zcp_chunk_release(m, c) != 0)
			return -1000;
	}
	return err;
}

static const char *ename(int err)
{
	if (err == -1000)
		return "kept chunk not releasable";
	if (err == -1001)
		return "kept chunk refcount != 1";
	return zcp_err_name(err);
}

/* Per-origin order checker: each publisher index's samples arrive with
 * consecutive seq, the sample info agrees with the payload, the origin of
 * an index never changes. */
struct ck {
	uint64_t next[MAXP];
	uint64_t origin[MAXP];
	int started[MAXP];
	long count;
	int midstream; /* the first sample of an origin may have any seq */
};

static const char *ck_sample(struct ck *k, const zcp_chunk *c, char *buf, size_t n)
{
	struct sample s;
	zcp_sample_info in;
	memcpy(&s, zcp_sample_data(c), sizeof s);
	int e = zcp_chunk_sample_info(c, &in);
	if (e) {
		snprintf(buf, n, "sample_info: %s", zcp_err_name(e));
		return buf;
	}
	if (s.pub >= MAXP) {
		snprintf(buf, n, "bad pub index %u", s.pub);
		return buf;
	}
	if (in.sequence != s.seq) {
		snprintf(buf, n, "pub %u: info.sequence %llu != payload seq %llu", s.pub,
			 (unsigned long long)in.sequence, (unsigned long long)s.seq);
		return buf;
	}
	if (!k->started[s.pub]) {
		if (!k->midstream && s.seq != 0) {
			snprintf(buf, n, "pub %u: first sample seq %llu, not 0", s.pub,
				 (unsigned long long)s.seq);
			return buf;
		}
		k->started[s.pub] = 1;
		k->next[s.pub] = s.seq;
		k->origin[s.pub] = in.origin;
	}
	if (in.origin != k->origin[s.pub]) {
		snprintf(buf, n, "pub %u: origin changed", s.pub);
		return buf;
	}
	if (s.seq != k->next[s.pub]) {
		snprintf(buf, n, "pub %u: seq %llu, expected %llu (%s)", s.pub, (unsigned long long)s.seq,
			 (unsigned long long)k->next[s.pub], s.seq < k->next[s.pub] ? "duplicate/reorder" : "gap");
		return buf;
	}
	k->next[s.pub]++;
	k->count++;
	return NULL;
}

/* The endpoint record of publisher `id`. */
static int pub_info(zcp_mempool_manager *m, uint64_t id, zcp_endpoint_info *e)
{
	for (int t = 0; t < zcp_topic_slots(m); t++)
		for (int k = 0; k < zcp_topic_endpoint_slots(m); k++)
			if (zcp_topic_get_endpoint(m, t, k, e) == 0 && e->kind == ZCP_ENDPOINT_PUBLISHER &&
			    e->id == id)
				return 1;
	return 0;
}

static int topic_info(zcp_mempool_manager *m, const char *name, zcp_topic_info *ti)
{
	for (int t = 0; t < zcp_topic_slots(m); t++)
		if (zcp_topic_get_info(m, t, ti) == 0 && strcmp(ti->name, name) == 0)
			return 1;
	return 0;
}

static long drain(zcp_mempool_manager *m, zcp_subscriber *s, struct ck *k, const char **why, char *buf,
		  size_t n)
{
	zcp_chunk *c;
	long got = 0;
	while ((c = zcp_subscriber_take(s)) != NULL) {
		const char *w = k ? ck_sample(k, c, buf, n) : NULL;
		if (w && why && !*why)
			*why = w;
		zcp_chunk_release(m, c);
		got++;
	}
	return got;
}

static uint64_t used0(zcp_mempool_manager *m)
{
	zcp_pool_stats st;
	return zcp_mempool_manager_pool_stats(m, 0, &st) == 0 ? st.used : UINT64_MAX;
}

/* ---- helper threads ---------------------------------------------------- */

struct delayed {
	zcp_mempool_manager *m;
	zcp_subscriber *s;
	zcp_publisher *p;
	int64_t delay;
	int result;
	pthread_t target;
	int sig;
};

static void *delayed_take(void *arg)
{
	struct delayed *d = arg;
	sleep_ns(d->delay);
	zcp_chunk *c = zcp_subscriber_take(d->s);
	d->result = c ? 0 : -errno;
	if (c)
		zcp_chunk_release(d->m, c);
	return NULL;
}

static void *delayed_publish(void *arg)
{
	struct delayed *d = arg;
	sleep_ns(d->delay);
	d->result = pub_one(d->m, d->p, 7, 0, NULL);
	return NULL;
}

static void *delayed_signal(void *arg)
{
	struct delayed *d = arg;
	sleep_ns(d->delay);
	d->result = pthread_kill(d->target, d->sig);
	return NULL;
}

static void on_sig(int sig)
{
	(void)sig;
}

/* ---- 1. inputs --------------------------------------------------------- */

static int tcount;
static const char *fresh_topic(void)
{
	static char t[64][24];
	char *s = t[tcount % 64];
	snprintf(s, 24, "t%d", tcount++);
	return s;
}

/* A BLOCK publisher with timeout `tmo` on a full queue (capacity 1); a
 * thread takes after 300 ms.  huge: the wait must last until the take and
 * succeed (a deadline that wraps would time out at once). */
static void edge_timeout(zcp_mempool_manager *m, int64_t tmo, int huge, const char *label)
{
	const char *topic = fresh_topic();
	zcp_topic_options o = opts(1, ZCP_OVERFLOW_BLOCK, tmo);
	zcp_subscriber *s = NULL;
	zcp_publisher *p = NULL;
	if (zcp_subscriber_create(m, topic, &o, &s) != 0) {
		ok(0, "timeout %s: subscriber", label);
		return;
	}
	int err = zcp_publisher_create(m, topic, &o, &p);
	if (err == ZCP_EINVAL) {
		ok(!huge, "timeout %s: publisher create refused with ZCP_EINVAL%s", label,
		   huge ? " (a long timeout is legal)" : " (documented rejection)");
		zcp_subscriber_close(s);
		return;
	}
	if (err != 0) {
		ok(0, "timeout %s: publisher create: %s", label, zcp_err_name(err));
		zcp_subscriber_close(s);
		return;
	}
	int fill = pub_one(m, p, 0, 0, NULL);
	struct delayed d = {.m = m, .s = s, .delay = 300 * MS};
	pthread_t th;
	pthread_create(&th, NULL, delayed_take, &d);
	int64_t dt = 0;
	err = pub_one(m, p, 0, 1, &dt);
	pthread_join(th, NULL);
	if (huge)
		ok(fill == 0 && err == 0 && dt >= 200 * MS,
		   "timeout %s: a blocked publish waits for the take and succeeds (%s after %lld ms)", label,
		   ename(err), (long long)(dt / MS));
	else
		ok(fill == 0 && (err == 0 || err == ZCP_ETIMEDOUT) && dt < 10 * SEC * SLOW,
		   "timeout %s: accepted; publish ends (%s after %lld ms: %s)", label, ename(err),
		   (long long)(dt / MS),
		   err == 0 ? "treated as no limit" : "treated as no wait");
	drain(m, s, NULL, NULL, NULL, 0);
	zcp_publisher_close(p);
	zcp_subscriber_close(s);
}

static void edge_wait(zcp_mempool_manager *m, int64_t tmo, const char *label)
{
	const char *topic = fresh_topic();
	zcp_topic_options o = opts(4, ZCP_OVERFLOW_BLOCK, SEC);
	zcp_subscriber *s = NULL;
	zcp_publisher *p = NULL;
	zcp_subscriber_create(m, topic, &o, &s);
	zcp_publisher_create(m, topic, &o, &p);
	struct delayed d = {.m = m, .p = p, .delay = 300 * MS};
	pthread_t th;
	pthread_create(&th, NULL, delayed_publish, &d);
	int64_t t0 = mono_ns();
	int err = zcp_subscriber_wait(s, tmo);
	int64_t dt = mono_ns() - t0;
	pthread_join(th, NULL);
	long got = drain(m, s, NULL, NULL, NULL, 0);
	ok(err == 0 && dt >= 200 * MS && d.result == 0 && got == 1,
	   "wait(%s): sleeps until the publish and returns 0 (%s after %lld ms, took %ld)", label,
	   zcp_err_name(err), (long long)(dt / MS), got);
	zcp_publisher_close(p);
	zcp_subscriber_close(s);
}

static void inputs(zcp_mempool_manager *m)
{
	static const int bad[] = {-1, 3, 4, 100, INT_MAX, INT_MIN};
	int pub_bad = 0, sub_bad = 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		zcp_topic_options o = opts(4, bad[i], -1);
		zcp_publisher *p = NULL;
		zcp_subscriber *s = NULL;
		int e = zcp_publisher_create(m, "badpol", &o, &p);
		if (e != ZCP_EINVAL) {
			diag("overflow %d: publisher create %s", bad[i], zcp_err_name(e));
			pub_bad++;
			if (e == 0)
				zcp_publisher_close(p);
		}
		e = zcp_subscriber_create(m, "badpol", &o, &s);
		if (e != ZCP_EINVAL) {
			diag("overflow %d: subscriber create %s", bad[i], zcp_err_name(e));
			sub_bad++;
			if (e == 0)
				zcp_subscriber_close(s);
		}
	}
	is_int(pub_bad, 0, "inputs: publisher_create refuses overflow -1, 3, 4, 100, INT_MAX, INT_MIN with ZCP_EINVAL");
	is_int(sub_bad, 0, "inputs: subscriber_create refuses them too (\"arguments and errors as zcp_publisher_create()\")");

	edge_timeout(m, INT64_MAX, 1, "INT64_MAX");
	edge_timeout(m, INT64_MAX - 1, 1, "INT64_MAX-1");
	edge_timeout(m, INT64_C(1000000000000000000), 1, "1e18 ns");
	edge_timeout(m, -2, 0, "-2");
	edge_timeout(m, INT64_MIN, 0, "INT64_MIN");

	/* 1 ns: times out, promptly. */
	{
		const char *topic = fresh_topic();
		zcp_topic_options o = opts(1, ZCP_OVERFLOW_BLOCK, 1);
		zcp_subscriber *s;
		zcp_publisher *p;
		zcp_subscriber_create(m, topic, &o, &s);
		zcp_publisher_create(m, topic, &o, &p);
		int fill = pub_one(m, p, 0, 0, NULL);
		int64_t dt;
		int err = pub_one(m, p, 0, 1, &dt);
		ok(fill == 0 && err == ZCP_ETIMEDOUT && dt < 2 * SEC * SLOW,
		   "timeout 1 ns: ZCP_ETIMEDOUT, chunk kept (%s after %lld us)", ename(err), (long long)(dt / 1000));
		drain(m, s, NULL, NULL, NULL, 0);
		zcp_publisher_close(p);
		zcp_subscriber_close(s);
	}

	/* capacity 0 with BLOCK: refused, or the default, or bounded. */
	{
		const char *topic = fresh_topic();
		zcp_topic_options o = opts(0, ZCP_OVERFLOW_BLOCK, 200 * MS);
		zcp_subscriber *s = NULL;
		zcp_publisher *p = NULL;
		int e1 = zcp_subscriber_create(m, topic, &o, &s);
		int e2 = e1 == 0 ? zcp_publisher_create(m, topic, &o, &p) : e1;
		if (e1 == ZCP_EINVAL || e2 == ZCP_EINVAL) {
			ok(1, "capacity 0: refused with ZCP_EINVAL");
		} else if (e1 || e2) {
			ok(0, "capacity 0: create %s / %s", zcp_err_name(e1), zcp_err_name(e2));
		} else {
			int64_t dt;
			int err = pub_one(m, p, 0, 0, &dt);
			ok(err == 0 && dt < 2 * SEC * SLOW,
			   "capacity 0 accepted: a BLOCK publish to an empty queue goes through (%s after %lld ms)",
			   ename(err), (long long)(dt / MS));
			drain(m, s, NULL, NULL, NULL, 0);
		}
		zcp_publisher_close(p);
		zcp_subscriber_close(s);
	}

	/* DROP_OLDEST with block_timeout_ns -1: never blocks. */
	{
		const char *topic = fresh_topic();
		zcp_topic_options o = opts(1, ZCP_OVERFLOW_DROP_OLDEST, -1);
		zcp_subscriber *s;
		zcp_publisher *p;
		zcp_subscriber_create(m, topic, &o, &s);
		zcp_publisher_create(m, topic, &o, &p);
		int64_t dt, worst = 0;
		int bad_n = 0;
		for (int i = 0; i < 5; i++) {
			if (pub_one(m, p, 0, (uint64_t)i, &dt) != 0)
				bad_n++;
			if (dt > worst)
				worst = dt;
		}
		ok(bad_n == 0 && worst < 2 * SEC * SLOW && zcp_subscriber_lost(s) == 4,
		   "DROP_OLDEST with block_timeout -1 never blocks (failures %d, lost %llu)", bad_n,
		   (unsigned long long)zcp_subscriber_lost(s));
		drain(m, s, NULL, NULL, NULL, 0);
		zcp_publisher_close(p);
		zcp_subscriber_close(s);
	}

	edge_wait(m, INT64_MAX, "INT64_MAX");
	edge_wait(m, INT64_MIN, "INT64_MIN");
	edge_wait(m, -2, "-2");

	{
		const char *topic = fresh_topic();
		zcp_topic_options o = opts(4, ZCP_OVERFLOW_BLOCK, -1);
		zcp_subscriber *s;
		zcp_publisher *p;
		zcp_subscriber_create(m, topic, &o, &s);
		zcp_publisher_create(m, topic, &o, &p);
		int64_t t0 = mono_ns();
		int e0 = zcp_subscriber_wait(s, 0);
		int e1 = zcp_subscriber_wait(s, 1);
		int64_t dt = mono_ns() - t0;
		ok(e0 == ZCP_ETIMEDOUT && e1 == ZCP_ETIMEDOUT && dt < 2 * SEC * SLOW,
		   "wait(0), wait(1 ns) on nothing: ZCP_ETIMEDOUT at once (%s, %s)", zcp_err_name(e0),
		   zcp_err_name(e1));
		pub_one(m, p, 0, 0, NULL);
		t0 = mono_ns();
		e0 = zcp_subscriber_wait(s, 0);
		e1 = zcp_subscriber_wait(s, INT64_MAX);
		dt = mono_ns() - t0;
		ok(e0 == 0 && e1 == 0 && dt < 2 * SEC * SLOW, "wait(0), wait(INT64_MAX) with a sample waiting: 0 at once (%s, %s)",
		   zcp_err_name(e0), zcp_err_name(e1));
		is_int(zcp_subscriber_wait(NULL, 100), ZCP_EINVAL, "wait(NULL): ZCP_EINVAL");
		zcp_chunk *c = zcp_publisher_loan(p, sizeof(struct sample));
		int a = zcp_publisher_publish(NULL, c), b = zcp_publisher_publish(p, NULL);
		ok(a == ZCP_EINVAL && b == ZCP_EINVAL && c && zcp_chunk_release(m, c) == 0,
		   "publish(NULL, c), publish(p, NULL): ZCP_EINVAL, chunk kept (%s, %s)", zcp_err_name(a),
		   zcp_err_name(b));
		drain(m, s, NULL, NULL, NULL, 0);
		zcp_publisher_close(p);
		zcp_subscriber_close(s);
	}
}

/* ---- 2. a stopped subscriber --------------------------------------------- */

struct blocked_pub {
	zcp_mempool_manager *m;
	zcp_publisher *p;
	uint32_t pub;
	uint64_t seq;
	_Atomic int done;
	int result;
	int64_t dt;
};

static void *blocked_publish(void *arg)
{
	struct blocked_pub *b = arg;
	b->result = pub_one(b->m, b->p, b->pub, b->seq, &b->dt);
	atomic_store(&b->done, 1);
	return NULL;
}

static void stopped_subscriber(zcp_mempool_manager *m)
{
	const char *topic = "stopped";
	zcp_topic_options o = opts(4, ZCP_OVERFLOW_BLOCK, 100 * MS);
	int ready[2], go[2];
	if (pipe(ready) || pipe(go))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_subscriber *s;
		struct ck k;
		char buf[160], g;
		memset(&k, 0, sizeof k);
		ZT_CHECK(zcp_mempool_manager_attach(NAME, &cm) == 0);
		ZT_CHECK(zcp_subscriber_create(cm, topic, &o, &s) == 0);
		ZT_CHECK(write(ready[1], "r", 1) == 1);
		ZT_CHECK(read(go[0], &g, 1) == 1);
		while (k.count < 10) {
			zcp_chunk *c = zcp_subscriber_take(s);
			if (!c) {
				int e = zcp_subscriber_wait(s, 5 * SEC * SLOW);
				ZT_CHECK_MSG(e == 0, "wait: %s after %ld samples", zcp_err_name(e), k.count);
				continue;
			}
			const char *w = ck_sample(&k, c, buf, sizeof buf);
			ZT_CHECK_MSG(!w, "%s", w);
			zcp_chunk_release(cm, c);
		}
		ZT_CHECK_MSG(k.next[0] == 5 && k.next[1] == 5, "per publisher %llu and %llu samples",
			     (unsigned long long)k.next[0], (unsigned long long)k.next[1]);
		int e = zcp_subscriber_wait(s, 300 * MS);
		ZT_CHECK_MSG(e == ZCP_ETIMEDOUT, "an 11th sample? wait: %s", zcp_err_name(e));
		ZT_CHECK(zcp_subscriber_take(s) == NULL && errno == EAGAIN);
		ZT_CHECK_MSG(zcp_subscriber_lost(s) == 0, "lost %llu", (unsigned long long)zcp_subscriber_lost(s));
		zcp_subscriber_close(s);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	char r;
	ok(read(ready[0], &r, 1) == 1, "stopped: subscriber process ready");
	kill(pid, SIGSTOP);
	zcp_publisher *p1, *p2;
	is_int(zcp_publisher_create(m, topic, &o, &p1), 0, "stopped: BLOCK publisher A, 100 ms");
	int fill = 0;
	for (uint64_t i = 0; i < 4; i++)
		fill |= pub_one(m, p1, 0, i, NULL);
	is_int(fill, 0, "stopped: A fills the stopped subscriber's queue (4)");
	zcp_chunk *c = zcp_publisher_loan(p1, sizeof(struct sample));
	struct sample sm = {0, 0, 4};
	memcpy(zcp_sample_data(c), &sm, sizeof sm);
	int timeouts = 0, kept = 1;
	int64_t lo = INT64_MAX, hi = 0;
	for (int i = 0; i < 3; i++) {
		int64_t t0 = mono_ns();
		int err = zcp_publisher_publish(p1, c);
		int64_t dt = mono_ns() - t0;
		if (err == ZCP_ETIMEDOUT)
			timeouts++;
		else
			diag("attempt %d: %s", i, zcp_err_name(err));
		if (zcp_chunk_refcount(c) != 1)
			kept = 0;
		lo = dt < lo ? dt : lo;
		hi = dt > hi ? dt : hi;
	}
	ok(timeouts == 3 && lo >= 100 * MS && hi < 100 * MS + 3 * SEC * SLOW,
	   "stopped: 3 publishes of one chunk time out, none early or late (%d, %lld..%lld ms)", timeouts,
	   (long long)(lo / MS), (long long)(hi / MS));
	ok(kept, "stopped: the caller keeps its chunk through the timeouts (refcount 1)");
	zcp_endpoint_info e;
	int found = pub_info(m, zcp_publisher_id(p1), &e);
	ok(found && e.published == 4 && e.rejected == 3, "stopped: A counts published 4, rejected 3 (%llu, %llu)",
	   found ? (unsigned long long)e.published : 0ULL, found ? (unsigned long long)e.rejected : 0ULL);
	zcp_topic_info ti;
	found = topic_info(m, topic, &ti);
	ok(found && ti.published == 4 && ti.lost == 0, "stopped: the topic counts published 4, lost 0 (%llu, %llu)",
	   found ? (unsigned long long)ti.published : 0ULL, found ? (unsigned long long)ti.lost : 0ULL);

	/* B has no timeout: while the subscriber is stopped it must stay blocked. */
	zcp_topic_options ob = opts(4, ZCP_OVERFLOW_BLOCK, -1);
	is_int(zcp_publisher_create(m, topic, &ob, &p2), 0, "stopped: BLOCK publisher B, no timeout");
	fill = 0;
	for (uint64_t i = 0; i < 4; i++)
		fill |= pub_one(m, p2, 1, i, NULL);
	is_int(fill, 0, "stopped: B fills its queue too");
	struct blocked_pub bp = {.m = m, .p = p2, .pub = 1, .seq = 4};
	pthread_t th;
	pthread_create(&th, NULL, blocked_publish, &bp);
	sleep_ns(600 * MS); /* six of the waiting publisher's reclaim rounds */
	ok(!atomic_load(&bp.done), "stopped: B is still blocked after 600 ms (a stopped subscriber is alive): %s",
	   atomic_load(&bp.done) ? ename(bp.result) : "blocked");
	kill(pid, SIGCONT);
	ok(write(go[1], "g", 1) == 1, "stopped: SIGCONT, go");
	pthread_join(th, NULL);
	/* That it waited is the check above (not done at 600 ms); its own
	 * clock starts when its thread runs, which a loaded machine delays. */
	ok(bp.result == 0, "stopped: B's publish went on once the subscriber took (%s after %lld ms)",
	   ename(bp.result), (long long)(bp.dt / MS));
	int err = ZCP_ETIMEDOUT;
	int64_t end = mono_ns() + 10 * SEC * SLOW;
	while (err == ZCP_ETIMEDOUT && mono_ns() < end)
		err = zcp_publisher_publish(p1, c);
	is_int(err, 0, "stopped: the kept chunk is published by A at last");
	if (err)
		zcp_chunk_release(m, c);
	zt_ok_child(pid, "stopped: the subscriber got A 0..4 and B 0..4 in order, once, lost 0");
	zcp_publisher_close(p1);
	zcp_publisher_close(p2);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

/* ---- 3. signals ------------------------------------------------------------ */

/* A signal at 150..300 ms into a blocked publish (timeout 1 s): the publish
 * must end with ZCP_EINTR each time ("A signal ends it with ZCP_EINTR"),
 * wherever the signal falls relative to the publisher's 100 ms reclaim
 * rounds, with SA_RESTART or without. */
static void signals(zcp_mempool_manager *m)
{
	const char *topic = "intr";
	zcp_topic_options o = opts(1, ZCP_OVERFLOW_BLOCK, SEC);
	zcp_subscriber *s, *ws;
	zcp_publisher *p;
	zcp_subscriber_create(m, topic, &o, &s);
	zcp_publisher_create(m, topic, &o, &p);
	zcp_subscriber_create(m, "intr-empty", &o, &ws);
	int fill = pub_one(m, p, 0, 0, NULL);
	is_int(fill, 0, "signal: queue full");
	static const int delays_ms[] = {150, 200, 250, 300};
	long timeouts = 0, eintrs = 0;
	for (int restart = 0; restart < 2; restart++) {
		const char *how = restart ? "SA_RESTART" : "no SA_RESTART";
		struct sigaction sa, old;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_sig;
		sa.sa_flags = restart ? SA_RESTART : 0;
		sigaction(SIGUSR1, &sa, &old);
		int pub_intr = 0, kept = 1, wait_intr = 0;
		char got[128] = "", wgot[128] = "";
		for (size_t i = 0; i < sizeof delays_ms / sizeof delays_ms[0]; i++) {
			struct delayed d = {.delay = delays_ms[i] * MS, .target = pthread_self(), .sig = SIGUSR1};
			pthread_t th;
			zcp_chunk *c = zcp_publisher_loan(p, sizeof(struct sample));
			struct sample sm = {0, 0, 1};
			memcpy(zcp_sample_data(c), &sm, sizeof sm);
			pthread_create(&th, NULL, delayed_signal, &d);
			int64_t t0 = mono_ns();
			int err = zcp_publisher_publish(p, c);
			int64_t dt = mono_ns() - t0;
			pthread_join(th, NULL);
			pub_intr += err == ZCP_EINTR && dt < 900 * MS * SLOW;
			timeouts += err == ZCP_ETIMEDOUT;
			eintrs += err == ZCP_EINTR;
			snprintf(got + strlen(got), sizeof got - strlen(got), " %dms:%s/%lld", delays_ms[i],
				 err == ZCP_EINTR ? "EINTR" : zcp_err_name(err), (long long)(dt / MS));
			if (!(err != 0 && zcp_chunk_refcount(c) == 1 && zcp_chunk_release(m, c) == 0))
				kept = 0;
			pthread_create(&th, NULL, delayed_signal, &d);
			t0 = mono_ns();
			err = zcp_subscriber_wait(ws, SEC);
			dt = mono_ns() - t0;
			pthread_join(th, NULL);
			wait_intr += err == ZCP_EINTR && dt < 900 * MS * SLOW;
			snprintf(wgot + strlen(wgot), sizeof wgot - strlen(wgot), " %dms:%s", delays_ms[i],
				 err == ZCP_EINTR ? "EINTR" : zcp_err_name(err));
		}
		is_int(pub_intr, 4, "signal (%s): a blocked publish ends with ZCP_EINTR for each of 4 signals (%s)", how, got);
		ok(kept, "signal (%s): the caller kept its chunk every time", how);
		is_int(wait_intr, 4, "signal (%s): zcp_subscriber_wait ends with ZCP_EINTR each time (%s)", how, wgot);
		sigaction(SIGUSR1, &old, NULL);
	}
	/* No timeout: a signal at 200 or 300 ms (a reclaim round's edge); a
	 * take 1.3 s later is the only other way out. */
	for (int sd = 200; sd <= 300; sd += 100) {
		zcp_topic_options o2 = opts(1, ZCP_OVERFLOW_BLOCK, -1);
		zcp_subscriber *s2;
		zcp_publisher *p2;
		const char *t2 = fresh_topic();
		zcp_subscriber_create(m, t2, &o2, &s2);
		zcp_publisher_create(m, t2, &o2, &p2);
		int f = pub_one(m, p2, 0, 0, NULL);
		struct sigaction sa, old;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_sig;
		sigaction(SIGUSR1, &sa, &old);
		struct delayed ds = {.delay = sd * MS, .target = pthread_self(), .sig = SIGUSR1};
		struct delayed dtk = {.m = m, .s = s2, .delay = (sd + 1300) * MS};
		pthread_t th1, th2;
		pthread_create(&th1, NULL, delayed_signal, &ds);
		pthread_create(&th2, NULL, delayed_take, &dtk);
		int64_t dt;
		int err = pub_one(m, p2, 0, 1, &dt);
		pthread_join(th1, NULL);
		pthread_join(th2, NULL);
		sigaction(SIGUSR1, &old, NULL);
		ok(f == 0 && err == ZCP_EINTR && dt < (sd + 1000) * MS,
		   "signal, no timeout: a signal at %d ms ends the publish with ZCP_EINTR, not the take at %d ms (%s after %lld ms)",
		   sd, sd + 1300, ename(err), (long long)(dt / MS));
		drain(m, s2, NULL, NULL, NULL, 0);
		zcp_publisher_close(p2);
		zcp_subscriber_close(s2);
	}
	zcp_endpoint_info e;
	int found = pub_info(m, zcp_publisher_id(p), &e);
	diag("signal: %ld ZCP_EINTR, %ld ZCP_ETIMEDOUT; publisher counts rejected %llu", eintrs, timeouts,
	     found ? (unsigned long long)e.rejected : 0ULL);
	ok(found && e.published == 1 && e.rejected >= (uint64_t)timeouts,
	   "signal: the publisher counts 1 published, rejected >= its timeouts (%llu, %llu)",
	   found ? (unsigned long long)e.published : 0ULL, found ? (unsigned long long)e.rejected : 0ULL);
	zcp_chunk *c = zcp_subscriber_take(s);
	if (c)
		zcp_chunk_release(m, c);
	int err = pub_one(m, p, 0, 1, NULL);
	struct ck k;
	memset(&k, 0, sizeof k);
	k.next[0] = 1;
	k.started[0] = 1;
	k.origin[0] = zcp_publisher_id(p);
	char buf[160];
	const char *why = NULL;
	long got = drain(m, s, &k, &why, buf, sizeof buf);
	ok(c && err == 0 && got == 1 && !why,
	   "signal: after a take the publisher goes on; its next sample has sequence 1 (%s, got %ld%s%s)",
	   ename(err), got, why ? ": " : "", why ? why : "");
	zcp_publisher_close(p);
	zcp_subscriber_close(s);
	zcp_subscriber_close(ws);
}

/* ---- 4. blocked publishers SIGKILLed ---------------------------------- */

static void killed_publishers(zcp_mempool_manager *m)
{
	const char *topic = "kpub";
	zcp_topic_options o = opts(2, ZCP_OVERFLOW_BLOCK, -1);
	zcp_subscriber *s;
	is_int(zcp_subscriber_create(m, topic, &o, &s), 0, "killed publishers: a subscriber that does not take");
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t pids[4];
	for (int i = 0; i < 4; i++) {
		pids[i] = zt_fork();
		if (pids[i] == 0) {
			zcp_mempool_manager *cm;
			zcp_publisher *p;
			ZT_CHECK(zcp_mempool_manager_attach(NAME, &cm) == 0);
			ZT_CHECK(zcp_publisher_create(cm, topic, &o, &p) == 0);
			ZT_CHECK(pub_one(cm, p, (uint32_t)i, 0, NULL) == 0);
			ZT_CHECK(pub_one(cm, p, (uint32_t)i, 1, NULL) == 0);
			ZT_CHECK(write(ready[1], "r", 1) == 1);
			int err = pub_one(cm, p, (uint32_t)i, 2, NULL); /* blocks */
			ZT_CHECK_MSG(i == 3 && err == 0, "publisher %d: blocked publish returned %s", i, ename(err));
			zcp_publisher_close(p);
			zcp_mempool_manager_detach(cm);
			_exit(0);
		}
	}
	int nready = 0;
	char r;
	for (int i = 0; i < 4; i++)
		nready += read(ready[0], &r, 1) == 1;
	is_int(nready, 4, "killed publishers: 4 publisher processes filled their queues");
	sleep_ns(300 * MS);
	int early = 0;
	for (int i = 0; i < 4; i++) {
		int st;
		if (waitpid(pids[i], &st, WNOHANG) == pids[i]) {
			early++;
			pids[i] = 0;
		}
	}
	is_int(early, 0, "killed publishers: all 4 are blocked (none returned)");
	uint64_t before = used0(m);
	unsigned seed = (unsigned)getpid();
	for (int i = 0; i < 3; i++) {
		sleep_ns((int64_t)(rand_r(&seed) % 120) * MS);
		if (pids[i]) {
			kill(pids[i], SIGKILL);
			int st;
			zt_wait(pids[i], &st);
		}
	}
	/* The survivor also reclaims every 100 ms: whoever does it, none may
	 * stay dead in the table. */
	int rc = zcp_mempool_manager_reclaim(m, NULL);
	int dead = 0;
	zcp_process_info pi;
	for (int sl = 0; sl < zcp_mempool_manager_process_slots(m); sl++)
		if (zcp_mempool_manager_process(m, sl, &pi) == 0 && pi.pid && !pi.alive)
			dead++;
	ok(rc == 0 && dead == 0, "killed publishers: reclaimed (%s, %d dead slots left)", zcp_err_name(rc), dead);
	uint64_t after = used0(m);
	ok(before != UINT64_MAX && after + 3 == before,
	   "killed publishers: the 3 chunks they were blocked on went back (used %llu -> %llu)",
	   (unsigned long long)before, (unsigned long long)after);
	struct ck k;
	memset(&k, 0, sizeof k);
	char buf[160];
	const char *why = NULL;
	int64_t end = mono_ns() + 10 * SEC * SLOW;
	while (k.count < 9 && !why && mono_ns() < end) {
		zcp_chunk *c = zcp_subscriber_take(s);
		if (!c) {
			zcp_subscriber_wait(s, 100 * MS);
			continue;
		}
		why = ck_sample(&k, c, buf, sizeof buf);
		zcp_chunk_release(m, c);
	}
	ok(!why && k.count == 9 && k.next[0] == 2 && k.next[1] == 2 && k.next[2] == 2 && k.next[3] == 3,
	   "killed publishers: the subscriber reads 2 samples of each dead one and 3 of the survivor (%ld%s%s)",
	   k.count, why ? ": " : "", why ? why : "");
	zt_ok_child(pids[3], "killed publishers: the blocked survivor was woken by the takes and published");
	ok(zcp_subscriber_wait(s, 200 * MS) == ZCP_ETIMEDOUT && zcp_subscriber_take(s) == NULL,
	   "killed publishers: nothing more (no half-published sample of the dead)");
	is_int((long long)zcp_subscriber_lost(s), 0, "killed publishers: lost 0");
	/* The topic still works with BLOCK after that. */
	zcp_topic_options o2 = opts(2, ZCP_OVERFLOW_BLOCK, 100 * MS);
	zcp_publisher *p;
	is_int(zcp_publisher_create(m, topic, &o2, &p), 0, "killed publishers: a new BLOCK publisher on the topic");
	int a = pub_one(m, p, 5, 0, NULL), b = pub_one(m, p, 5, 1, NULL);
	int64_t dt;
	int c3 = pub_one(m, p, 5, 2, &dt);
	ok(a == 0 && b == 0 && c3 == ZCP_ETIMEDOUT && dt >= 100 * MS && dt < 100 * MS + 3 * SEC * SLOW,
	   "killed publishers: it blocks and times out normally (%s after %lld ms)", ename(c3), (long long)(dt / MS));
	zcp_chunk *c = zcp_subscriber_take(s);
	if (c)
		zcp_chunk_release(m, c);
	int d4 = pub_one(m, p, 5, 2, &dt);
	ok(c && d4 == 0, "killed publishers: a take makes room again (%s)", ename(d4));
	drain(m, s, NULL, NULL, NULL, 0);
	zcp_publisher_close(p);
	zcp_subscriber_close(s);
	close(ready[0]);
	close(ready[1]);
}

/* ---- 5. a stream while subscribers come, close and die ---------------- */

struct churn_shared {
	_Atomic int pub_done;
	_Atomic long published;
	_Atomic int64_t max_dt;
	_Atomic long victim_bad;
};

/* The `published` count of the (one) publisher of `topic`, or -1. */
static long churn_published(zcp_mempool_manager *m, const char *topic)
{
	zcp_topic_info ti;
	zcp_endpoint_info e;
	for (int t = 0; t < zcp_topic_slots(m); t++) {
		if (zcp_topic_get_info(m, t, &ti) != 0 || strcmp(ti.name, topic) != 0)
			continue;
		for (int k = 0; k < zcp_topic_endpoint_slots(m); k++)
			if (zcp_topic_get_endpoint(m, t, k, &e) == 0 && e.kind == ZCP_ENDPOINT_PUBLISHER && !e.closed)
				return (long)e.published;
	}
	return -1;
}

static void churn_processes(zcp_mempool_manager *m)
{
	const char *topic = "churn";
	const long n = zt_iters(3000);
	zcp_topic_options o = opts(4, ZCP_OVERFLOW_BLOCK, 10 * SEC * SLOW);
	struct churn_shared *sh = shared(sizeof *sh);
	int ready[2], go[2];
	if (pipe(ready) || pipe(go))
		bail("pipe");
	pid_t steady[2];
	for (int i = 0; i < 2; i++) {
		steady[i] = zt_fork();
		if (steady[i] == 0) {
			zcp_mempool_manager *cm;
			zcp_subscriber *s;
			struct ck k;
			char buf[160];
			unsigned seed = (unsigned)getpid();
			memset(&k, 0, sizeof k);
			ZT_CHECK(zcp_mempool_manager_attach(NAME, &cm) == 0);
			ZT_CHECK(zcp_subscriber_create(cm, topic, &o, &s) == 0);
			ZT_CHECK(write(ready[1], "r", 1) == 1);
			while (k.count < n) {
				zcp_chunk *c = zcp_subscriber_take(s);
				if (!c) {
					int e = zcp_subscriber_wait(s, 5 * SEC * SLOW);
					ZT_CHECK_MSG(e == 0, "steady: wait %s after %ld", zcp_err_name(e), k.count);
					continue;
				}
				const char *w = ck_sample(&k, c, buf, sizeof buf);
				ZT_CHECK_MSG(!w, "steady: %s", w);
				zcp_chunk_release(cm, c);
				if (rand_r(&seed) % 200 == 0)
					usleep(rand_r(&seed) % 3000);
			}
			ZT_CHECK_MSG(zcp_subscriber_lost(s) == 0, "steady: lost %llu",
				     (unsigned long long)zcp_subscriber_lost(s));
			zcp_subscriber_close(s);
			zcp_mempool_manager_detach(cm);
			_exit(0);
		}
	}
	char r;
	int nr = 0;
	for (int i = 0; i < 2; i++)
		nr += read(ready[0], &r, 1) == 1;
	pid_t pub = zt_fork();
	if (pub == 0) {
		zcp_mempool_manager *cm;
		zcp_publisher *p;
		char g;
		ZT_CHECK(zcp_mempool_manager_attach(NAME, &cm) == 0);
		ZT_CHECK(zcp_publisher_create(cm, topic, &o, &p) == 0);
		ZT_CHECK(read(go[0], &g, 1) == 1);
		for (long i = 0; i < n; i++) {
			int64_t dt;
			int err = pub_one(cm, p, 0, (uint64_t)i, &dt);
			if (dt > atomic_load(&sh->max_dt))
				atomic_store(&sh->max_dt, dt);
			ZT_CHECK_MSG(err == 0, "publish %ld: %s after %lld ms", i, ename(err), (long long)(dt / MS));
			atomic_store(&sh->published, i + 1);
		}
		zcp_publisher_close(p);
		zcp_mempool_manager_detach(cm);
		atomic_store(&sh->pub_done, 1);
		_exit(0);
	}
	ok(nr == 2 && write(go[1], "g", 1) == 1, "churn: 2 steady subscriber processes, a BLOCK publisher, go");
	unsigned seed = (unsigned)getpid() * 7;
	long victims = 0, killed = 0, closed = 0, bad = 0;
	int64_t end = mono_ns() + 25 * SEC * SLOW;
	while (!atomic_load(&sh->pub_done) && mono_ns() < end) {
		int mode = (int)(rand_r(&seed) % 10); /* < 7: SIGKILL at a random moment */
		int takes = (int)(rand_r(&seed) % 40);
		pid_t v = zt_fork();
		if (v == 0) {
			zcp_mempool_manager *cm;
			zcp_subscriber *s;
			struct ck k;
			char buf[160];
			memset(&k, 0, sizeof k);
			k.midstream = 1;
			ZT_CHECK_EXIT(zcp_mempool_manager_attach(NAME, &cm) == 0, 2);
			/* The publisher's count (it stores it after each publish:
			 * the true count is this or one more). */
			long p0 = atomic_load(&sh->published);
			int e = zcp_subscriber_create(cm, topic, &o, &s);
			ZT_CHECK_MSG(e == 0, "victim: subscriber create %s", zcp_err_name(e));
			/* The publisher's count once we are subscribed: every
			 * sample from this one on is ours. */
			long p1 = atomic_load(&sh->published) + 1;
			long waiting1 = zcp_subscriber_waiting(s);
			uint64_t lost1 = zcp_subscriber_lost(s);
			long first = -1;
			int64_t vend = mono_ns() + 300 * MS;
			while (k.count < takes && mono_ns() < vend) {
				zcp_chunk *c = zcp_subscriber_take(s);
				if (!c) {
					zcp_subscriber_wait(s, 20 * MS);
					continue;
				}
				const char *w = ck_sample(&k, c, buf, sizeof buf);
				ZT_CHECK_MSG(!w, "victim: %s", w);
				if (first < 0) {
					struct sample sm;
					memcpy(&sm, zcp_sample_data(c), sizeof sm);
					first = (long)sm.seq;
				}
				zcp_chunk_release(cm, c);
				usleep(500);
			}
			ZT_CHECK_MSG(zcp_subscriber_lost(s) == 0 && (first < 0 || p1 < 0 || first <= p1),
				     "victim: lost %llu (%llu right after create, waiting then %ld); publisher had "
				     "published %ld before create, %ld after; first sample we took: seq %ld, took %ld",
				     (unsigned long long)zcp_subscriber_lost(s), (unsigned long long)lost1, waiting1, p0, p1,
				     first, k.count);
			if (takes & 1) { /* leave with or without closing */
				zcp_subscriber_close(s);
				zcp_mempool_manager_detach(cm);
			}
			_exit(0);
		}
		victims++;
		int st;
		if (mode < 7) {
			sleep_ns((int64_t)(rand_r(&seed) % 30000) * 1000);
			kill(v, SIGKILL);
		}
		zt_wait(v, &st);
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			killed++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			closed++;
		else {
			bad++;
			diag("victim %d: status 0x%x", (int)v, st);
		}
		if (victims % 5 == 0)
			zcp_mempool_manager_reclaim(m, NULL);
	}
	diag("churn: %ld victims (%ld killed, %ld left by themselves), published %ld, slowest publish %lld ms",
	     victims, killed, closed, atomic_load(&sh->published), (long long)(atomic_load(&sh->max_dt) / MS));
	zt_ok_child(pub, "churn: the BLOCK publisher published all %ld samples, never refused", n);
	ok(atomic_load(&sh->max_dt) < 5 * SEC * SLOW,
	   "churn: no publish waited near its timeout (slowest %lld ms; dead subscribers are reclaimed in ~100 ms)",
	   (long long)(atomic_load(&sh->max_dt) / MS));
	zt_ok_child(steady[0], "churn: steady subscriber 1 got every sample in order, lost 0");
	zt_ok_child(steady[1], "churn: steady subscriber 2 got every sample in order, lost 0");
	ok(bad == 0 && victims > 0, "churn: %ld victim subscribers saw their samples in order, lost 0 (%ld bad)", victims,
	   bad);
	zcp_mempool_manager_reclaim(m, NULL);
	munmap(sh, sizeof *sh);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

/* ---- 6. N:M, threads in several processes ---------------------------- */

struct nm_thread {
	zcp_mempool_manager *m;
	uint32_t idx;
	long n;
	int fd;
};

static const zcp_topic_options *NM_OPTS;
static const char *NM_TOPIC = "nm";

static void *nm_pub(void *arg)
{
	struct nm_thread *t = arg;
	zcp_publisher *p;
	int e = zcp_publisher_create(t->m, NM_TOPIC, NM_OPTS, &p);
	ZT_CHECK_MSG(e == 0, "publisher create: %s", zcp_err_name(e));
	for (long i = 0; i < t->n; i++) {
		int64_t dt;
		int err = pub_one(t->m, p, t->idx, (uint64_t)i, &dt);
		ZT_CHECK_MSG(err == 0, "pub %u sample %ld: %s after %lld ms", t->idx, i, ename(err),
			     (long long)(dt / MS));
	}
	zcp_publisher_close(p);
	return NULL;
}

static void *nm_sub(void *arg)
{
	struct nm_thread *t = arg;
	zcp_subscriber *s;
	struct ck k;
	char buf[160];
	memset(&k, 0, sizeof k);
	int e = zcp_subscriber_create(t->m, NM_TOPIC, NM_OPTS, &s);
	ZT_CHECK_MSG(e == 0, "subscriber create: %s", zcp_err_name(e));
	ZT_CHECK(write(t->fd, "r", 1) == 1);
	while (k.count < 4 * t->n) {
		zcp_chunk *c = zcp_subscriber_take(s);
		if (!c) {
			ZT_CHECK_MSG(errno == EAGAIN, "take: %s", zcp_err_name(-errno));
			int w = zcp_subscriber_wait(s, 5 * SEC * SLOW);
			ZT_CHECK_MSG(w == 0, "wait: %s after %ld samples", zcp_err_name(w), k.count);
			continue;
		}
		const char *why = ck_sample(&k, c, buf, sizeof buf);
		ZT_CHECK_MSG(!why, "%s", why);
		zcp_chunk_release(t->m, c);
	}
	for (int i = 0; i < 4; i++)
		ZT_CHECK_MSG(k.next[i] == (uint64_t)t->n, "pub %d: %llu samples", i, (unsigned long long)k.next[i]);
	ZT_CHECK_MSG(zcp_subscriber_lost(s) == 0, "lost %llu", (unsigned long long)zcp_subscriber_lost(s));
	ZT_CHECK(zcp_subscriber_wait(s, 100 * MS) == ZCP_ETIMEDOUT);
	zcp_subscriber_close(s);
	return NULL;
}

static void n_to_m(zcp_mempool_manager *m)
{
	const long n = zt_iters(1500);
	zcp_topic_options o = opts(2, ZCP_OVERFLOW_BLOCK, 10 * SEC * SLOW);
	NM_OPTS = &o;
	int ready[2], go[2];
	if (pipe(ready) || pipe(go))
		bail("pipe");
	zcp_publisher *keeper = NULL; /* keeps the topic for its counts */
	if (zcp_publisher_create(m, NM_TOPIC, &o, &keeper) != 0)
		bail("keeper");
	pid_t subs[2], pubs[2];
	for (int i = 0; i < 2; i++) {
		subs[i] = zt_fork();
		if (subs[i] == 0) {
			zcp_mempool_manager *cm;
			ZT_CHECK(zcp_mempool_manager_attach(NAME, &cm) == 0);
			struct nm_thread t[2] = {{cm, 0, n, ready[1]}, {cm, 0, n, ready[1]}};
			pthread_t th[2];
			for (int j = 0; j < 2; j++)
				ZT_CHECK(pthread_create(&th[j], NULL, nm_sub, &t[j]) == 0);
			for (int j = 0; j < 2; j++)
				pthread_join(th[j], NULL);
			zcp_mempool_manager_detach(cm);
			_exit(0);
		}
	}
	char r;
	int nr = 0;
	for (int i = 0; i < 4; i++)
		nr += read(ready[0], &r, 1) == 1;
	is_int(nr, 4, "N:M: 4 subscriber threads in 2 processes ready");
	int64_t t0 = mono_ns();
	for (int i = 0; i < 2; i++) {
		pubs[i] = zt_fork();
		if (pubs[i] == 0) {
			zcp_mempool_manager *cm;
			char g;
			ZT_CHECK(zcp_mempool_manager_attach(NAME, &cm) == 0);
			ZT_CHECK(read(go[0], &g, 1) == 1);
			struct nm_thread t[2] = {{cm, (uint32_t)(2 * i), n, -1}, {cm, (uint32_t)(2 * i + 1), n, -1}};
			pthread_t th[2];
			for (int j = 0; j < 2; j++)
				ZT_CHECK(pthread_create(&th[j], NULL, nm_pub, &t[j]) == 0);
			for (int j = 0; j < 2; j++)
				pthread_join(th[j], NULL);
			zcp_mempool_manager_detach(cm);
			_exit(0);
		}
	}
	ok(write(go[1], "gg", 2) == 2, "N:M: 4 BLOCK publisher threads in 2 processes, capacity 2, go");
	zt_ok_child(pubs[0], "N:M: publisher process 1: %ld samples per thread, none refused", n);
	zt_ok_child(pubs[1], "N:M: publisher process 2: %ld samples per thread, none refused", n);
	zt_ok_child(subs[0], "N:M: subscriber process 1: each thread got all 4 x %ld, in order, once, lost 0", n);
	zt_ok_child(subs[1], "N:M: subscriber process 2: each thread got all 4 x %ld, in order, once, lost 0", n);
	diag("N:M: %lld ms", (long long)((mono_ns() - t0) / MS));
	zcp_topic_info ti;
	int found = topic_info(m, NM_TOPIC, &ti);
	diag("N:M: topic info: found %d, published %llu (all closed now)", found,
	     found ? (unsigned long long)ti.published : 0ULL);
	ok(found && ti.lost == 0, "N:M: the topic (kept by an idle publisher) counts lost 0 (%llu)",
	   found ? (unsigned long long)ti.lost : 0ULL);
	zcp_publisher_close(keeper);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

/* ---- 7. ping-pong at capacity 1 ------------------------------------------ */

static void *pp_sub(void *arg)
{
	struct nm_thread *t = arg;
	zcp_subscriber *s;
	struct ck k;
	char buf[160];
	memset(&k, 0, sizeof k);
	ZT_CHECK(zcp_subscriber_create(t->m, "pingpong", NM_OPTS, &s) == 0);
	ZT_CHECK(write(t->fd, "r", 1) == 1);
	while (k.count < t->n) {
		zcp_chunk *c = zcp_subscriber_take(s);
		if (!c) {
			int w = zcp_subscriber_wait(s, 5 * SEC * SLOW);
			ZT_CHECK_MSG(w == 0, "lost wake-up? wait: %s with %ld of %ld taken", zcp_err_name(w), k.count,
				     t->n);
			continue;
		}
		const char *why = ck_sample(&k, c, buf, sizeof buf);
		ZT_CHECK_MSG(!why, "%s", why);
		zcp_chunk_release(t->m, c);
	}
	ZT_CHECK(zcp_subscriber_lost(s) == 0);
	zcp_subscriber_close(s);
	return NULL;
}

static void ping_pong(zcp_mempool_manager *m)
{
	const long n = zt_iters(4000);
	zcp_topic_options o = opts(1, ZCP_OVERFLOW_BLOCK, 5 * SEC * SLOW);
	NM_OPTS = &o;
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		ZT_CHECK(zcp_mempool_manager_attach(NAME, &cm) == 0);
		struct nm_thread t[2] = {{cm, 0, n, ready[1]}, {cm, 0, n, ready[1]}};
		pthread_t th[2];
		for (int j = 0; j < 2; j++)
			ZT_CHECK(pthread_create(&th[j], NULL, pp_sub, &t[j]) == 0);
		for (int j = 0; j < 2; j++)
			pthread_join(th[j], NULL);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	char r;
	int nr = (read(ready[0], &r, 1) == 1) + (read(ready[0], &r, 1) == 1);
	zcp_publisher *p;
	is_int(nr == 2 ? zcp_publisher_create(m, "pingpong", &o, &p) : -1, 0,
	       "ping-pong: 2 subscriber threads in a child, a BLOCK publisher at capacity 1");
	long good = 0, slow = 0;
	int err = 0;
	int64_t worst = 0, t0 = mono_ns();
	for (long i = 0; i < n; i++) {
		int64_t dt;
		err = pub_one(m, p, 0, (uint64_t)i, &dt);
		if (err)
			break;
		good++;
		if (dt >= 90 * MS)
			slow++;
		if (dt > worst)
			worst = dt;
	}
	diag("ping-pong: %ld publishes in %lld ms, %ld took >= 90 ms, slowest %lld ms", good,
	     (long long)((mono_ns() - t0) / MS), slow, (long long)(worst / MS));
	is_int(good, n, "ping-pong: every publish succeeded (%s): no lost wake-up of the publisher", ename(err));
	ok(slow <= n / 100, "ping-pong: at most 1%% of publishes needed >= 90 ms (%ld): wake-ups come from takes, not the 100 ms poll",
	   slow);
	zt_ok_child(pid, "ping-pong: both subscribers got all %ld, in order, every wait woken", n);
	zcp_publisher_close(p);
	close(ready[0]);
	close(ready[1]);
}

/* ---- 8. wait: wake-ups that carry no sample -------------------------- */

struct closer {
	zcp_mempool_manager *m;
	const char *topic;
	int result;
};

static void *open_close_publisher(void *arg)
{
	struct closer *c = arg;
	zcp_topic_options o = opts(4, ZCP_OVERFLOW_BLOCK, -1);
	zcp_publisher *p;
	sleep_ns(100 * MS);
	c->result = zcp_publisher_create(c->m, c->topic, &o, &p);
	sleep_ns(100 * MS);
	if (c->result == 0)
		c->result = zcp_publisher_close(p);
	return NULL;
}

static void wait_semantics(zcp_mempool_manager *m)
{
	zcp_topic_options o = opts(4, ZCP_OVERFLOW_BLOCK, -1);
	zcp_subscriber *s;
	zcp_subscriber_create(m, "wsem", &o, &s);
	int64_t t0 = mono_ns();
	int err = zcp_subscriber_wait(s, 150 * MS);
	int64_t dt = mono_ns() - t0;
	ok(err == ZCP_ETIMEDOUT && dt >= 150 * MS && dt < 150 * MS + 3 * SEC * SLOW,
	   "wait: 150 ms on nothing: ZCP_ETIMEDOUT, not early, not late (%s after %lld ms)", zcp_err_name(err),
	   (long long)(dt / MS));

	struct closer c = {m, "wsem", -1};
	pthread_t th;
	pthread_create(&th, NULL, open_close_publisher, &c);
	t0 = mono_ns();
	err = zcp_subscriber_wait(s, 600 * MS);
	dt = mono_ns() - t0;
	pthread_join(th, NULL);
	zcp_chunk *ch = zcp_subscriber_take(s);
	ok(c.result == 0 && err == ZCP_ETIMEDOUT && dt >= 600 * MS && !ch,
	   "wait: a publisher that opens and closes without publishing does not end the wait (%s after %lld ms%s)",
	   zcp_err_name(err), (long long)(dt / MS), ch ? ", a sample appeared" : "");
	if (ch)
		zcp_chunk_release(m, ch);

	/* A publisher process SIGKILLed while we sleep, with nothing published. */
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_publisher *p;
		ZT_CHECK(zcp_mempool_manager_attach(NAME, &cm) == 0);
		ZT_CHECK(zcp_publisher_create(cm, "wsem", &o, &p) == 0);
		ZT_CHECK(write(ready[1], "r", 1) == 1);
		for (;;)
			pause();
	}
	char r;
	ok(read(ready[0], &r, 1) == 1, "wait: a publisher process is up");
	t0 = mono_ns();
	pid_t killer = zt_fork();
	if (killer == 0) {
		usleep(150000);
		kill(pid, SIGKILL);
		_exit(0);
	}
	err = zcp_subscriber_wait(s, 700 * MS);
	dt = mono_ns() - t0;
	int st;
	zt_wait(killer, &st);
	zt_wait(pid, &st);
	zcp_mempool_manager_reclaim(m, NULL);
	ch = zcp_subscriber_take(s);
	ok(err == ZCP_ETIMEDOUT && dt >= 700 * MS && !ch,
	   "wait: a publisher killed while we sleep does not end the wait with 0 (%s after %lld ms)",
	   zcp_err_name(err), (long long)(dt / MS));
	if (ch)
		zcp_chunk_release(m, ch);
	zcp_subscriber_close(s);
	close(ready[0]);
	close(ready[1]);
}

/* ---- 9. mixed policies ------------------------------------------------------ */

static void mixed(zcp_mempool_manager *m)
{
	zcp_topic_options od = opts(3, ZCP_OVERFLOW_DROP_OLDEST, -1);
	zcp_topic_options orj = opts(3, ZCP_OVERFLOW_REJECT, -1);
	zcp_topic_options ob = opts(3, ZCP_OVERFLOW_BLOCK, 50 * MS);
	zcp_subscriber *s;
	zcp_publisher *pb, *pd, *pr;
	int e = zcp_publisher_create(m, "mixed", &ob, &pb);
	e |= zcp_subscriber_create(m, "mixed", &od, &s);
	e |= zcp_publisher_create(m, "mixed", &od, &pd);
	e |= zcp_publisher_create(m, "mixed", &orj, &pr);
	is_int(e, 0, "mixed: BLOCK, DROP_OLDEST and REJECT publishers on one topic");
	int de = 0;
	for (uint64_t i = 0; i < 5; i++)
		de |= pub_one(m, pd, 0, i, NULL);
	is_int(de, 0, "mixed: DROP_OLDEST publishes 5 into capacity 3, never refused");
	int r[4];
	for (uint64_t i = 0; i < 4; i++)
		r[i] = pub_one(m, pr, 1, i, NULL);
	ok(!r[0] && !r[1] && !r[2] && r[3] == ZCP_EFULL, "mixed: REJECT: 3 go, the 4th ZCP_EFULL (%s)", ename(r[3]));
	int64_t dt0, dt;
	int b0 = pub_one(m, pb, 2, 0, &dt0);
	int b1 = pub_one(m, pb, 2, 1, NULL), b2 = pub_one(m, pb, 2, 2, NULL);
	ok(b0 == 0 && b1 == 0 && b2 == 0 && dt0 < 40 * MS * SLOW,
	   "mixed: BLOCK is not held by the others' full queues (first publish %lld us)", (long long)(dt0 / 1000));
	int b3 = pub_one(m, pb, 2, 3, &dt);
	ok(b3 == ZCP_ETIMEDOUT && dt >= 50 * MS, "mixed: BLOCK's own queue full: ZCP_ETIMEDOUT after >= 50 ms (%s, %lld ms)",
	   ename(b3), (long long)(dt / MS));
	struct ck k;
	memset(&k, 0, sizeof k);
	k.midstream = 1;
	char buf[160];
	const char *why = NULL;
	long got = drain(m, s, &k, &why, buf, sizeof buf);
	ok(!why && got == 9 && k.next[0] == 5 && k.next[1] == 3 && k.next[2] == 3 && zcp_subscriber_lost(s) == 2,
	   "mixed: the subscriber gets DROP's last 3, REJECT's 3, BLOCK's 3; lost 2 (got %ld, lost %llu%s%s)", got,
	   (unsigned long long)zcp_subscriber_lost(s), why ? ": " : "", why ? why : "");
	int b4 = pub_one(m, pb, 2, 3, NULL), r4 = pub_one(m, pr, 1, 3, NULL);
	why = NULL;
	got = drain(m, s, &k, &why, buf, sizeof buf);
	ok(b4 == 0 && r4 == 0 && got == 2 && !why,
	   "mixed: after the takes BLOCK and REJECT go on with sequence 3 (%s, %s, got %ld%s%s)", ename(b4), ename(r4),
	   got, why ? ": " : "", why ? why : "");
	zcp_publisher_close(pb);
	zcp_publisher_close(pd);
	zcp_publisher_close(pr);
	zcp_subscriber_close(s);
}

/* ---- 10. in-process churn ------------------------------------------------ */

struct inproc {
	zcp_mempool_manager *m;
	long n;
	_Atomic int stop;
	int pub_err;
	long pub_good;
	int64_t worst;
	const char *steady_why;
	char buf[160];
	long steady_got;
	long cycles, churn_err;
	long lost_cycles;
	char lost_msg[300];
	_Atomic long pub_count;
};

static const zcp_topic_options *IP_OPTS;

static void *ip_pub(void *arg)
{
	struct inproc *x = arg;
	zcp_publisher *p;
	x->pub_err = zcp_publisher_create(x->m, "inproc", IP_OPTS, &p);
	if (x->pub_err)
		return NULL;
	for (long i = 0; i < x->n; i++) {
		int64_t dt;
		int err = pub_one(x->m, p, 0, (uint64_t)i, &dt);
		if (dt > x->worst)
			x->worst = dt;
		if (err) {
			x->pub_err = err;
			break;
		}
		x->pub_good++;
		atomic_store(&x->pub_count, x->pub_good);
	}
	zcp_publisher_close(p);
	return NULL;
}

static void *ip_churn(void *arg)
{
	struct inproc *x = arg;
	unsigned seed = 12345;
	while (!atomic_load(&x->stop)) {
		zcp_subscriber *s;
		long p0 = atomic_load(&x->pub_count);
		if (zcp_subscriber_create(x->m, "inproc", IP_OPTS, &s) != 0) {
			x->churn_err++;
			usleep(1000);
			continue;
		}
		long p1 = atomic_load(&x->pub_count);
		uint64_t lost0 = zcp_subscriber_lost(s);
		long waiting0 = zcp_subscriber_waiting(s);
		long first = -1;
		int takes = (int)(rand_r(&seed) % 8);
		for (int i = 0; i < takes; i++) {
			zcp_chunk *c = zcp_subscriber_take(s);
			if (c) {
				if (first < 0) {
					struct sample sm;
					memcpy(&sm, zcp_sample_data(c), sizeof sm);
					first = (long)sm.seq;
				}
				zcp_chunk_release(x->m, c);
			} else
				zcp_subscriber_wait(s, 2 * MS);
		}
		usleep(rand_r(&seed) % 3000);
		uint64_t lost = zcp_subscriber_lost(s);
		if (lost) {
			if (!x->lost_cycles)
				snprintf(x->lost_msg, sizeof x->lost_msg,
					 "cycle %ld: lost %llu at close, %llu right after create (waiting then %ld); "
					 "publisher's count %ld before create, %ld after; first seq taken %ld",
					 x->cycles, (unsigned long long)lost, (unsigned long long)lost0, waiting0, p0, p1,
					 first);
			x->lost_cycles++;
		}
		if (zcp_subscriber_close(s) != 0)
			x->churn_err++;
		x->cycles++;
	}
	return NULL;
}

static void in_process_churn(zcp_mempool_manager *m)
{
	zcp_topic_options o = opts(4, ZCP_OVERFLOW_BLOCK, 10 * SEC * SLOW);
	IP_OPTS = &o;
	struct inproc x;
	memset(&x, 0, sizeof x);
	x.m = m;
	x.n = zt_iters(3000);
	zcp_subscriber *s;
	is_int(zcp_subscriber_create(m, "inproc", &o, &s), 0, "in-process churn: a steady subscriber");
	pthread_t tp, tc;
	pthread_create(&tc, NULL, ip_churn, &x);
	pthread_create(&tp, NULL, ip_pub, &x);
	struct ck k;
	memset(&k, 0, sizeof k);
	int64_t end = mono_ns() + 20 * SEC * SLOW;
	while (k.count < x.n && !x.steady_why && mono_ns() < end) {
		zcp_chunk *c = zcp_subscriber_take(s);
		if (!c) {
			zcp_subscriber_wait(s, 100 * MS);
			continue;
		}
		x.steady_why = ck_sample(&k, c, x.buf, sizeof x.buf);
		zcp_chunk_release(m, c);
	}
	pthread_join(tp, NULL);
	atomic_store(&x.stop, 1);
	pthread_join(tc, NULL);
	diag("in-process churn: %ld subscriber cycles, slowest publish %lld ms", x.cycles, (long long)(x.worst / MS));
	ok(x.pub_err == 0 && x.pub_good == x.n, "in-process churn: %ld BLOCK publishes, none refused (%s)", x.n,
	   ename(x.pub_err));
	ok(!x.steady_why && k.count == x.n && zcp_subscriber_lost(s) == 0,
	   "in-process churn: the steady subscriber got all, in order, lost 0 (%ld%s%s)", k.count,
	   x.steady_why ? ": " : "", x.steady_why ? x.steady_why : "");
	ok(x.churn_err == 0 && x.cycles > 0, "in-process churn: %ld subscriber create/close cycles, no error", x.cycles);
	ok(x.lost_cycles == 0, "in-process churn: no subscriber made mid-stream lost a sample (%ld did%s%s)", x.lost_cycles,
	   x.lost_cycles ? ": first " : "", x.lost_cycles ? x.lost_msg : "");
	zcp_subscriber_close(s);
}

/* ---- 11. a subscriber whose process detaches without closing it ------ */

static void detached_subscriber(zcp_mempool_manager *m)
{
	const char *topic = "orphan";
	zcp_topic_options o = opts(2, ZCP_OVERFLOW_BLOCK, 1500 * MS);
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_subscriber *s;
		ZT_CHECK(zcp_mempool_manager_attach(NAME, &cm) == 0);
		ZT_CHECK(zcp_subscriber_create(cm, topic, &o, &s) == 0);
		/* Leave the process table with the subscriber still open, and
		 * live on (the handle, hence the subscriber, is gone). */
		zcp_mempool_manager_detach(cm);
		ZT_CHECK(write(ready[1], "r", 1) == 1);
		for (;;)
			pause();
	}
	char r;
	ok(read(ready[0], &r, 1) == 1, "orphan: a process made a subscriber, then detached without closing it");
	zcp_mempool_manager_reclaim(m, NULL);
	zcp_publisher *p;
	is_int(zcp_publisher_create(m, topic, &o, &p), 0, "orphan: a BLOCK publisher, 1.5 s");
	int e[4];
	int64_t dt[4];
	for (int i = 0; i < 4; i++)
		e[i] = pub_one(m, p, 0, (uint64_t)i, &dt[i]);
	ok(!e[0] && !e[1] && !e[2] && !e[3],
	   "orphan: a detached process's subscriber does not block the publisher (%s %s %s after %lld ms)",
	   ename(e[2]), ename(e[3]), "", (long long)(dt[2] / MS));
	kill(pid, SIGKILL);
	int st;
	zt_wait(pid, &st);
	zcp_mempool_manager_reclaim(m, NULL);
	int64_t d2;
	int e2 = pub_one(m, p, 0, 4, &d2);
	ok(e2 == 0, "orphan: once that process is dead and reclaimed, publishes go through (%s after %lld ms)",
	   ename(e2), (long long)(d2 / MS));
	zcp_endpoint_info ei;
	int subs = 0;
	for (int t = 0; t < zcp_topic_slots(m); t++) {
		zcp_topic_info ti;
		if (zcp_topic_get_info(m, t, &ti) != 0 || strcmp(ti.name, topic) != 0)
			continue;
		for (int k = 0; k < zcp_topic_endpoint_slots(m); k++)
			if (zcp_topic_get_endpoint(m, t, k, &ei) == 0 && ei.kind == ZCP_ENDPOINT_SUBSCRIBER) {
				subs++;
				diag("orphan: subscriber left: alive %d pid %ld waiting %llu", ei.alive, ei.pid,
				     (unsigned long long)ei.waiting);
			}
	}
	is_int(subs, 0, "orphan: no subscriber endpoint is left on the topic");
	zcp_publisher_close(p);
	close(ready[0]);
	close(ready[1]);
}

/* ---- 12. a subscriber made while a dead one is being reclaimed ------ */

struct reuse {
	zcp_mempool_manager *m;
	_Atomic int stop;
	long published;
	int pub_err;
	_Atomic int pub_done;
	const char *steady_why;
	char buf[160];
};

static const zcp_topic_options *RU_OPTS;

static void *ru_pub(void *arg)
{
	struct reuse *x = arg;
	zcp_publisher *p;
	if ((x->pub_err = zcp_publisher_create(x->m, "reuse", RU_OPTS, &p)) != 0) {
		atomic_store(&x->pub_done, 1);
		return NULL;
	}
	while (!atomic_load(&x->stop)) {
		int err = pub_one(x->m, p, 0, (uint64_t)x->published, NULL);
		if (err) {
			x->pub_err = err;
			break;
		}
		x->published++;
	}
	zcp_publisher_close(p);
	atomic_store(&x->pub_done, 1);
	return NULL;
}

struct ru_result {
	long lost0, waiting0, lost, p0, p1, first, took;
	int done;
};

static void slot_reuse(zcp_mempool_manager *m)
{
	const long rounds = zt_iters(25);
	zcp_topic_options o = opts(4, ZCP_OVERFLOW_BLOCK, 10 * SEC * SLOW);
	RU_OPTS = &o;
	struct reuse x;
	memset(&x, 0, sizeof x);
	x.m = m;
	zcp_subscriber *steady;
	is_int(zcp_subscriber_create(m, "reuse", &o, &steady), 0, "reuse: a steady subscriber");
	struct ru_result *res = shared(sizeof *res * (size_t)rounds);
	pthread_t tp;
	pthread_create(&tp, NULL, ru_pub, &x);
	unsigned seed = 99;
	long bad = 0, badb = 0;
	char first_bad[300] = "";
	struct ck k;
	memset(&k, 0, sizeof k);
	for (long r = 0; r < rounds && !x.steady_why; r++) {
		int ready[2];
		if (pipe(ready))
			bail("pipe");
		pid_t a = zt_fork();
		if (a == 0) {
			zcp_mempool_manager *cm;
			zcp_subscriber *s;
			ZT_CHECK(zcp_mempool_manager_attach(NAME, &cm) == 0);
			ZT_CHECK(zcp_subscriber_create(cm, "reuse", &o, &s) == 0);
			ZT_CHECK(write(ready[1], "r", 1) == 1);
			for (;;)
				pause();
		}
		char c1;
		if (read(ready[0], &c1, 1) != 1)
			bad++;
		/* let the publisher fill A's queue and block on it */
		int64_t until = mono_ns() + 30 * MS;
		while (mono_ns() < until) {
			zcp_chunk *c = zcp_subscriber_take(steady);
			if (!c) {
				zcp_subscriber_wait(steady, 5 * MS);
				continue;
			}
			const char *w = ck_sample(&k, c, x.buf, sizeof x.buf);
			if (w && !x.steady_why)
				x.steady_why = w;
			zcp_chunk_release(m, c);
		}
		kill(a, SIGKILL);
		int st;
		zt_wait(a, &st);
		int64_t delay = (int64_t)(rand_r(&seed) % 150) * MS;
		pid_t b = zt_fork();
		if (b == 0) {
			zcp_mempool_manager *cm;
			zcp_subscriber *s;
			struct ru_result *q = &res[r];
			ZT_CHECK(zcp_mempool_manager_attach(NAME, &cm) == 0);
			sleep_ns(delay);
			q->p0 = churn_published(cm, "reuse");
			ZT_CHECK(zcp_subscriber_create(cm, "reuse", &o, &s) == 0);
			q->p1 = churn_published(cm, "reuse");
			q->lost0 = (long)zcp_subscriber_lost(s);
			q->waiting0 = zcp_subscriber_waiting(s);
			q->first = -1;
			int64_t end = mono_ns() + 60 * MS;
			while (mono_ns() < end) {
				zcp_chunk *c = zcp_subscriber_take(s);
				if (!c) {
					zcp_subscriber_wait(s, 5 * MS);
					continue;
				}
				struct sample sm;
				memcpy(&sm, zcp_sample_data(c), sizeof sm);
				if (q->first < 0)
					q->first = (long)sm.seq;
				q->took++;
				zcp_chunk_release(cm, c);
			}
			q->lost = (long)zcp_subscriber_lost(s);
			q->done = 1;
			zcp_subscriber_close(s);
			zcp_mempool_manager_detach(cm);
			_exit(0);
		}
		until = mono_ns() + delay + 100 * MS;
		while (mono_ns() < until) {
			zcp_chunk *c = zcp_subscriber_take(steady);
			if (!c) {
				zcp_subscriber_wait(steady, 5 * MS);
				continue;
			}
			const char *w = ck_sample(&k, c, x.buf, sizeof x.buf);
			if (w && !x.steady_why)
				x.steady_why = w;
			zcp_chunk_release(m, c);
		}
		zt_wait(b, &st);
		struct ru_result *q = &res[r];
		if (!q->done || !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			badb++;
		else if (q->lost != 0) {
			if (!bad)
				snprintf(first_bad, sizeof first_bad,
					 "round %ld: lost %ld (%ld right after create, waiting %ld); publisher at %ld "
					 "before create, %ld after; first taken seq %ld",
					 r, q->lost, q->lost0, q->waiting0, q->p0, q->p1, q->first);
			bad++;
		}
		close(ready[0]);
		close(ready[1]);
	}
	atomic_store(&x.stop, 1);
	/* unblock the publisher: keep taking until it is done */
	while (1) {
		zcp_chunk *c = zcp_subscriber_take(steady);
		if (c) {
			zcp_chunk_release(m, c);
			continue;
		}
		if (atomic_load(&x.pub_done))
			break;
		zcp_subscriber_wait(steady, 5 * MS);
	}
	pthread_join(tp, NULL);
	drain(m, steady, NULL, NULL, NULL, 0);
	ok(x.pub_err == 0, "reuse: the BLOCK publisher never failed (%s, %ld published)", ename(x.pub_err), x.published);
	ok(!x.steady_why && zcp_subscriber_lost(steady) == 0, "reuse: the steady subscriber saw all in order, lost 0%s%s",
	   x.steady_why ? ": " : "", x.steady_why ? x.steady_why : "");
	is_int(badb, 0, "reuse: every late subscriber process ran");
	ok(bad == 0, "reuse: a subscriber made while a killed one is reclaimed loses nothing (%ld of %ld did%s%s)", bad,
	   rounds, bad ? "; first: " : "", first_bad);
	zcp_subscriber_close(steady);
	zcp_mempool_manager_reclaim(m, NULL);
	munmap(res, sizeof *res * (size_t)rounds);
}

int main(void)
{
	plan_lazy();
	SLOW = zt_slowdown();
	if (SLOW < 1)
		SLOW = 1;
	zcp_mempool_manager *m = make();
	int64_t t0 = mono_ns();
	inputs(m);
	stopped_subscriber(m);
	/* qemu-user restarts an interrupted futex wait itself, so a signal
	 * never surfaces as EINTR there (CI's i386 pass saw it). */
	if (zt_emulator())
		skip("signals: under an emulator (%s) an interrupted futex wait is restarted", zt_emulator());
	else
		signals(m);
	killed_publishers(m);
	churn_processes(m);
	n_to_m(m);
	ping_pong(m);
	wait_semantics(m);
	mixed(m);
	in_process_churn(m);
	detached_subscriber(m);
	slot_reuse(m);
	zcp_mempool_manager_reclaim(m, NULL);
	zcp_pool_stats ps;
	zcp_mempool_manager_pool_stats(m, 0, &ps);
	is_int((long long)ps.used, 0, "every chunk back in its pool");
	is_int(zcp_mempool_manager_check(m), 0, "zcp_mempool_manager_check");
	diag("total %lld ms", (long long)((mono_ns() - t0) / MS));
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
