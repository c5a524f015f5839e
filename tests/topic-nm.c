/* SPDX-License-Identifier: MIT */
/* Publish/subscribe across processes: publishers and subscribers forked
 * into processes of their own, on one topic.
 *
 *   reject:        2 publishers x 3 subscribers, REJECT with a queue of 8:
 *                  every sample reaches every subscriber, in each
 *                  publisher's order, intact, nothing lost; the
 *                  publishers retry on ZCP_EFULL.
 *   drop oldest:   a queue of 4, a fast, a slow and a late subscriber:
 *                  per publisher in order, lost counted exactly
 *                  (published - received) once the publishers stop; the
 *                  late one gets exactly each publisher's last 4.
 *   history:       a late subscriber in another process gets the last
 *                  `history` samples, also after the publisher closed.
 *   types:         ZCP_ETYPE across processes; the aligned payload.
 *   close queued:  subscribers closed with samples queued leave nothing.
 *   never takes:   a subscriber that never takes: publishers never fail
 *                  or block, the rings keep at most max(capacity, history)
 *                  chunks each, lost counted.
 *   close / die:   a publisher that closes (or dies) right after
 *                  publishing: its samples still reach a subscriber in
 *                  another process.
 * Two cases replay defects found and fixed: a closed publisher with history
 * kept its place for good, and a refused publish wrote the sample's header.
 */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define PUBS 2
#define SUBS 3

struct shared {
	_Atomic uint64_t ready, go, pubs_done, subs_done, stage;
	_Atomic uint64_t pub_id[PUBS];
	_Atomic uint64_t rejected[PUBS];
	_Atomic uint64_t received[SUBS][PUBS];
	_Atomic uint64_t lost[SUBS];
	_Atomic uint64_t max_used;
};
static struct shared *sh;

/* The payload: who published it, its sequence, a check of both. */
struct sample {
	uint64_t who, seq, check;
	uint64_t fill[5];
};

static uint64_t mix(uint64_t who, uint64_t seq)
{
	uint64_t x = (who + 1) * UINT64_C(0x9E3779B97F4A7C15) ^ (seq + 7) * UINT64_C(0xBF58476D1CE4E5B9);
	return x ^ (x >> 29);
}

static void stamp(struct sample *s, uint64_t who, uint64_t seq)
{
	s->who = who;
	s->seq = seq;
	for (int k = 0; k < 5; k++)
		s->fill[k] = mix(who, seq) + (uint64_t)k;
	s->check = mix(who, seq) ^ UINT64_C(0x5a5a);
}

static int intact(const struct sample *s)
{
	if (s->check != (mix(s->who, s->seq) ^ UINT64_C(0x5a5a)))
		return 0;
	for (int k = 0; k < 5; k++)
		if (s->fill[k] != mix(s->who, s->seq) + (uint64_t)k)
			return 0;
	return 1;
}

static void nap(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait until *a >= v, at most 15 s: 1 if it got there. */
static int wait_ge(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t end = mono_ms() + 15000;
	while (atomic_load(a) < v) {
		if (mono_ms() > end)
			return 0;
		nap(100);
	}
	return 1;
}

static zcp_mempool_manager *make(const char *name, unsigned pubs, unsigned subs)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 128, 256);
	zcp_mempool_config_add_entry(cfg, 1024, 16); /* aligned typed samples */
	zcp_mempool_config_set_topics(cfg, 8, pubs, subs, 64);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create %s", name);
	zcp_mempool_config_free(cfg);
	return m;
}

static zcp_mempool_manager *join(const char *name)
{
	zcp_mempool_manager *m = NULL;
	ZT_CHECK(zcp_mempool_manager_attach(name, &m) == 0);
	return m;
}

static void reset(void)
{
	memset(sh, 0, sizeof *sh);
}

/* Chunks in use, all pools. */
static uint64_t used(zcp_mempool_manager *m)
{
	uint64_t n = 0;
	for (int i = 0; i < 2; i++) {
		zcp_pool_stats s;
		if (zcp_mempool_manager_pool_stats(m, i, &s) != 0)
			return UINT64_MAX;
		n += s.used;
	}
	return n;
}

/* Samples all topics' rings keep now. */
static uint64_t kept(zcp_mempool_manager *m)
{
	uint64_t n = 0;
	for (int t = 0; t < zcp_topic_slots(m); t++) {
		zcp_topic_info ti;
		if (zcp_topic_get_info(m, t, &ti) == 0)
			n += ti.kept;
	}
	return n;
}

/* Loan, stamp, publish: 0 or the error (the chunk is given back then). */
static int publish(zcp_mempool_manager *m, zcp_publisher *p, uint64_t who, uint64_t seq)
{
	zcp_chunk *c = zcp_publisher_loan(p, sizeof(struct sample));
	if (!c)
		return -errno;
	stamp(zcp_sample_data(c), who, seq);
	int err = zcp_publisher_publish(p, c);
	if (err)
		zcp_chunk_release(m, c);
	return err;
}

/* Take one sample: 1 and its payload and info, 0 if none (EAGAIN); any
 * other result fails the child. */
static int take(zcp_mempool_manager *m, zcp_subscriber *s, struct sample *out, zcp_sample_info *info)
{
	zcp_chunk *c = zcp_subscriber_take(s);
	if (!c) {
		ZT_CHECK_MSG(errno == EAGAIN, "take: errno %d", errno);
		return 0;
	}
	memcpy(out, zcp_sample_data(c), sizeof *out);
	ZT_CHECK(zcp_chunk_sample_info(c, info) == 0);
	ZT_CHECK(zcp_chunk_release(m, c) == 0);
	ZT_CHECK_MSG(intact(out), "payload of %llu/%llu damaged", (unsigned long long)out->who,
		     (unsigned long long)out->seq);
	ZT_CHECK_MSG(out->who < PUBS && info->origin == atomic_load(&sh->pub_id[out->who]) &&
			     info->sequence == out->seq,
		     "sample info origin %llx sequence %llu for payload %llu/%llu",
		     (unsigned long long)info->origin, (unsigned long long)info->sequence,
		     (unsigned long long)out->who, (unsigned long long)out->seq);
	return 1;
}

static void audit(zcp_mempool_manager *m, const char *what, uint64_t want_used)
{
	is_int((long long)used(m), (long long)want_used, "%s: pool used %llu at the end", what,
	       (unsigned long long)want_used);
	is_int((long long)kept(m), (long long)want_used, "%s: what is used is what rings keep", what);
	is_int(zcp_mempool_manager_check(m), 0, "%s: manager check", what);
}

/* --- reject ---------------------------------------------------------------- */

static void reject_nm(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4, 4);
	long n = zt_iters(2000);
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 8;
	o.overflow = ZCP_OVERFLOW_REJECT;
	pid_t pids[PUBS + SUBS];
	reset();
	for (int s = 0; s < SUBS; s++) {
		if ((pids[s] = zt_fork()) != 0)
			continue;
		zcp_mempool_manager *cm = join(name);
		zcp_subscriber *sub;
		ZT_CHECK(zcp_subscriber_create(cm, "nm", &o, &sub) == 0);
		atomic_fetch_add(&sh->ready, 1);
		ZT_CHECK(wait_ge(&sh->go, 1));
		uint64_t next[PUBS] = {0}, total = 0, end = mono_ms() + 15000;
		while (total < (uint64_t)n * PUBS) {
			struct sample x;
			zcp_sample_info info;
			if (!take(cm, sub, &x, &info)) {
				ZT_CHECK_MSG(mono_ms() < end, "only %llu samples of %ld", (unsigned long long)total,
					     n * PUBS);
				sched_yield();
				continue;
			}
			ZT_CHECK_MSG(x.seq == next[x.who], "publisher %llu: got %llu, want %llu",
				     (unsigned long long)x.who, (unsigned long long)x.seq,
				     (unsigned long long)next[x.who]);
			next[x.who]++;
			total++;
			/* A slow one: its queue fills, the publishers must wait. */
			if (s == 2 && total % 64 == 0)
				nap(200);
		}
		struct sample x;
		zcp_sample_info info;
		ZT_CHECK(!take(cm, sub, &x, &info));
		ZT_CHECK(zcp_subscriber_lost(sub) == 0);
		for (int p = 0; p < PUBS; p++)
			atomic_store(&sh->received[s][p], next[p]);
		ZT_CHECK(zcp_subscriber_close(sub) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	for (int p = 0; p < PUBS; p++) {
		if ((pids[SUBS + p] = zt_fork()) != 0)
			continue;
		zcp_mempool_manager *cm = join(name);
		zcp_publisher *pub;
		ZT_CHECK(zcp_publisher_create(cm, "nm", &o, &pub) == 0);
		atomic_store(&sh->pub_id[p], zcp_publisher_id(pub));
		atomic_fetch_add(&sh->ready, 1);
		ZT_CHECK(wait_ge(&sh->go, 1));
		uint64_t end = mono_ms() + 15000;
		for (long i = 0; i < n; i++) {
			int err;
			while ((err = publish(cm, pub, (uint64_t)p, (uint64_t)i)) == ZCP_EFULL) {
				atomic_fetch_add(&sh->rejected[p], 1);
				ZT_CHECK_MSG(mono_ms() < end, "refused for 15 s at %ld", i);
				sched_yield();
			}
			ZT_CHECK_MSG(err == 0, "publish %ld: %s", i, zcp_err_name(err));
		}
		atomic_fetch_add(&sh->pubs_done, 1);
		ZT_CHECK(wait_ge(&sh->subs_done, 1));
		ZT_CHECK(zcp_publisher_close(pub) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	ok(wait_ge(&sh->ready, PUBS + SUBS), "reject: %d subscribers and %d publishers ready", SUBS, PUBS);
	atomic_store(&sh->go, 1);
	for (int s = 0; s < SUBS; s++)
		zt_ok_child(pids[s], "reject: subscriber %d got all %ld x %d samples in order, intact, none lost",
			    s, n, PUBS);
	atomic_store(&sh->subs_done, 1);
	for (int p = 0; p < PUBS; p++)
		zt_ok_child(pids[SUBS + p], "reject: publisher %d published %ld, retrying on ZCP_EFULL", p, n);
	uint64_t rej = atomic_load(&sh->rejected[0]) + atomic_load(&sh->rejected[1]);
	ok(rej > 0, "reject: the slow subscriber made publishers retry (%llu ZCP_EFULL)",
	   (unsigned long long)rej);
	audit(m, "reject", 0);
	zcp_mempool_manager_destroy(m);
}

/* --- drop oldest ------------------------------------------------------------ */

static void drop_nm(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4, 4);
	long n = zt_iters(1000);
	if (n < 8)
		n = 8;
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 4;
	pid_t pids[PUBS + SUBS];
	reset();
	/* Subscriber 0 takes at once, 1 slowly, 2 only once the
	 * publishers stopped. */
	for (int s = 0; s < SUBS; s++) {
		if ((pids[s] = zt_fork()) != 0)
			continue;
		zcp_mempool_manager *cm = join(name);
		zcp_subscriber *sub;
		ZT_CHECK(zcp_subscriber_create(cm, "drop", &o, &sub) == 0);
		atomic_fetch_add(&sh->ready, 1);
		ZT_CHECK(wait_ge(&sh->go, 1));
		uint64_t got[PUBS] = {0}, last[PUBS] = {0}, total = 0;
		int first[PUBS] = {1, 1};
		for (;;) {
			/* Read the done count before the drain: what was
			 * published before it is in the rings. */
			int done = atomic_load(&sh->pubs_done) == PUBS;
			if (s == 2 && !done) {
				nap(500);
				continue;
			}
			struct sample x;
			zcp_sample_info info;
			int any = 0;
			while (take(cm, sub, &x, &info)) {
				any = 1;
				ZT_CHECK_MSG(first[x.who] || x.seq > last[x.who],
					     "publisher %llu: %llu after %llu", (unsigned long long)x.who,
					     (unsigned long long)x.seq, (unsigned long long)last[x.who]);
				first[x.who] = 0;
				last[x.who] = x.seq;
				got[x.who]++;
				total++;
				if (s == 1)
					nap(30);
			}
			if (done && !any)
				break;
			if (!any)
				sched_yield();
		}
		uint64_t lost = zcp_subscriber_lost(sub);
		ZT_CHECK_MSG(lost == (uint64_t)n * PUBS - total, "lost %llu, published %ld, received %llu",
			     (unsigned long long)lost, n * PUBS, (unsigned long long)total);
		ZT_CHECK(zcp_subscriber_waiting(sub) == 0);
		for (int p = 0; p < PUBS; p++) {
			/* Every publisher's last sample reaches everyone. */
			ZT_CHECK_MSG(!first[p] && last[p] == (uint64_t)n - 1, "publisher %d: last %llu", p,
				     (unsigned long long)last[p]);
			if (s == 2)
				ZT_CHECK_MSG(got[p] == 4, "late: %llu of publisher %d, want its last 4",
					     (unsigned long long)got[p], p);
			atomic_store(&sh->received[s][p], got[p]);
		}
		atomic_store(&sh->lost[s], lost);
		ZT_CHECK(zcp_subscriber_close(sub) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	for (int p = 0; p < PUBS; p++) {
		if ((pids[SUBS + p] = zt_fork()) != 0)
			continue;
		zcp_mempool_manager *cm = join(name);
		zcp_publisher *pub;
		ZT_CHECK(zcp_publisher_create(cm, "drop", &o, &pub) == 0);
		atomic_store(&sh->pub_id[p], zcp_publisher_id(pub));
		atomic_fetch_add(&sh->ready, 1);
		ZT_CHECK(wait_ge(&sh->go, 1));
		for (long i = 0; i < n; i++) {
			int err = publish(cm, pub, (uint64_t)p, (uint64_t)i);
			ZT_CHECK_MSG(err == 0, "publish %ld: %s", i, zcp_err_name(err));
			if (i % 8 == 7)
				nap(20); /* the fast subscriber keeps up, mostly */
		}
		atomic_fetch_add(&sh->pubs_done, 1);
		ZT_CHECK(wait_ge(&sh->subs_done, 1));
		ZT_CHECK(zcp_publisher_close(pub) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	ok(wait_ge(&sh->ready, PUBS + SUBS), "drop oldest: endpoints ready");
	atomic_store(&sh->go, 1);
	static const char *const kind[SUBS] = {"fast", "slow", "late"};
	for (int s = 0; s < SUBS; s++)
		zt_ok_child(pids[s], "drop oldest: %s subscriber: per-publisher order, lost == published - "
				     "received, each publisher's last sample",
			    kind[s]);
	atomic_store(&sh->subs_done, 1);
	for (int p = 0; p < PUBS; p++)
		zt_ok_child(pids[SUBS + p], "drop oldest: publisher %d never failed", p);
	for (int s = 0; s < SUBS; s++)
		diag("drop oldest: %s subscriber received %llu + %llu, lost %llu", kind[s],
		     (unsigned long long)atomic_load(&sh->received[s][0]),
		     (unsigned long long)atomic_load(&sh->received[s][1]),
		     (unsigned long long)atomic_load(&sh->lost[s]));
	is_int((long long)atomic_load(&sh->lost[2]), (long long)(2 * n - 8),
	       "drop oldest: the late subscriber lost all but 2 x 4");
	ok(atomic_load(&sh->lost[1]) > 0, "drop oldest: the slow subscriber lost some");
	audit(m, "drop oldest", 0);
	zcp_mempool_manager_destroy(m);
}

/* --- history ---------------------------------------------------------------- */

/* A subscriber process made now: takes everything waiting, in order; the
 * sequences must be from..to-1 of publisher 0. */
static pid_t late_reader(const char *name, const zcp_topic_options *o, uint64_t from, uint64_t to)
{
	pid_t pid = zt_fork();
	if (pid != 0)
		return pid;
	zcp_mempool_manager *cm = join(name);
	zcp_subscriber *sub;
	ZT_CHECK(zcp_subscriber_create(cm, "hist", o, &sub) == 0);
	ZT_CHECK(zcp_subscriber_waiting(sub) == (long)(to - from));
	struct sample x;
	zcp_sample_info info;
	for (uint64_t q = from; q < to; q++) {
		ZT_CHECK_MSG(take(cm, sub, &x, &info), "no sample %llu", (unsigned long long)q);
		ZT_CHECK_MSG(x.seq == q, "got %llu, want %llu", (unsigned long long)x.seq, (unsigned long long)q);
	}
	ZT_CHECK(!take(cm, sub, &x, &info));
	ZT_CHECK(zcp_subscriber_lost(sub) == 0);
	ZT_CHECK(zcp_subscriber_close(sub) == 0);
	zcp_mempool_manager_detach(cm);
	_exit(0);
}

static void history_late(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4, 4);
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 8;
	o.history = 5;
	reset();
	pid_t pub = zt_fork();
	if (pub == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_publisher *p;
		ZT_CHECK(zcp_publisher_create(cm, "hist", &o, &p) == 0);
		atomic_store(&sh->pub_id[0], zcp_publisher_id(p));
		for (uint64_t i = 0; i < 20; i++)
			ZT_CHECK(publish(cm, p, 0, i) == 0);
		atomic_store(&sh->stage, 1);
		ZT_CHECK(wait_ge(&sh->stage, 2));
		ZT_CHECK(zcp_publisher_close(p) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	ok(wait_ge(&sh->stage, 1), "history: the publisher published 20");
	zt_ok_child(late_reader(name, &o, 15, 20), "history: a late subscriber in another process gets 15..19");
	atomic_store(&sh->stage, 2);
	zt_ok_child(pub, "history: the publisher closes");
	zt_ok_child(late_reader(name, &o, 15, 20),
		    "history: a subscriber made after the publisher closed still gets 15..19");
	/* The closed publisher's ring keeps its history: 5 chunks. */
	audit(m, "history", 5);
	zcp_mempool_manager_destroy(m);
}

/* Publishers come and go on a history topic, one process after another
 * (a publisher that restarts).  The header says a closed publisher's
 * samples stay "until the ring is reused"; but a CLOSED publisher place
 * with history is never swept to FREE (lib/topic.c zcp__topic_sweep:
 * from = tail - history < tail, so the `from >= tail` that frees it never
 * holds) and zcp_publisher_create only takes FREE places
 * (lib/publisher.c:65): after max_publishers closes the topic refuses
 * every publisher with ZCP_EENDPOINTS, and each closed place keeps its
 * history chunks for ever. */
static void history_restarts(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 2, 4);
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 4;
	o.history = 2;
	int fails = 0, first_err = 0;
	for (int k = 0; k < 5; k++) {
		pid_t pid = zt_fork();
		if (pid == 0) {
			zcp_mempool_manager *cm = join(name);
			zcp_publisher *p;
			int err = zcp_publisher_create(cm, "hist", &o, &p);
			if (err)
				_exit(err == ZCP_EENDPOINTS ? 10 : 11);
			for (uint64_t i = 0; i < 3; i++)
				ZT_CHECK(publish(cm, p, 0, i) == 0);
			ZT_CHECK(zcp_publisher_close(p) == 0);
			zcp_mempool_manager_detach(cm);
			_exit(0);
		}
		int st = 0;
		zt_wait(pid, &st);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fails++;
			if (!first_err)
				first_err = WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
		}
	}
	if (fails)
		diag("history restarts: %d of 5 publisher processes failed (first: %s)", fails,
		     first_err == 10 ? "ZCP_EENDPOINTS" : "other");
	ok(fails == 0, "history restarts: 5 publishers one after another on a topic with history and "
		       "2 publisher places");
	ok(kept(m) <= 2 * 2, "history restarts: rings keep at most history per place (%llu)",
	   (unsigned long long)kept(m));
	is_int(zcp_mempool_manager_check(m), 0, "history restarts: manager check");
	zcp_mempool_manager_destroy(m);
}

/* --- types ------------------------------------------------------------------ */

static void types_cross(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4, 4);
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.type_name = "pose";
	o.type_size = 56;
	o.type_align = 256;
	reset();
	pid_t pub = zt_fork();
	if (pub == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_publisher *p;
		ZT_CHECK(zcp_publisher_create(cm, "typed", &o, &p) == 0);
		atomic_store(&sh->stage, 1);
		ZT_CHECK(wait_ge(&sh->stage, 2));
		zcp_chunk *c = zcp_publisher_loan(p, 0);
		ZT_CHECK(c && ((uintptr_t)zcp_sample_data(c) & 255) == 0);
		memset(zcp_sample_data(c), 0x5e, 56);
		ZT_CHECK(zcp_publisher_publish(p, c) == 0);
		atomic_store(&sh->stage, 3);
		ZT_CHECK(wait_ge(&sh->stage, 4));
		ZT_CHECK(zcp_publisher_close(p) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	ok(wait_ge(&sh->stage, 1), "types: a publisher of pose/56/256 in another process");
	pid_t sub = zt_fork();
	if (sub == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_subscriber *s;
		zcp_topic_options t = o;
		t.type_name = "twist";
		ZT_CHECK(zcp_subscriber_create(cm, "typed", &t, &s) == ZCP_ETYPE);
		t = o;
		t.type_size = 64;
		ZT_CHECK(zcp_subscriber_create(cm, "typed", &t, &s) == ZCP_ETYPE);
		t = o;
		t.type_align = 0;
		ZT_CHECK(zcp_subscriber_create(cm, "typed", &t, &s) == ZCP_ETYPE);
		zcp_publisher *p2;
		ZT_CHECK(zcp_publisher_create(cm, "typed", NULL, &p2) == ZCP_ETYPE);
		ZT_CHECK(zcp_subscriber_create(cm, "typed", &o, &s) == 0);
		atomic_store(&sh->stage, 2);
		ZT_CHECK(wait_ge(&sh->stage, 3));
		zcp_chunk *c = zcp_subscriber_take(s);
		ZT_CHECK(c);
		unsigned char *d = zcp_sample_data(c);
		ZT_CHECK(((uintptr_t)d & 255) == 0 && d[0] == 0x5e && d[55] == 0x5e);
		zcp_chunk_release(cm, c);
		ZT_CHECK(zcp_subscriber_close(s) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	zt_ok_child(sub, "types: other name, size, alignment: ZCP_ETYPE; the same type subscribes and "
			 "sees the aligned payload");
	atomic_store(&sh->stage, 4);
	zt_ok_child(pub, "types: the publisher");
	audit(m, "types", 0);
	zcp_mempool_manager_destroy(m);
}

/* --- close with samples queued ------------------------------------------------ */

static void close_queued(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4, 4);
	reset();
	pid_t sub = zt_fork();
	if (sub == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_subscriber *a, *b;
		ZT_CHECK(zcp_subscriber_create(cm, "queued", NULL, &a) == 0);
		ZT_CHECK(zcp_subscriber_create(cm, "queued", NULL, &b) == 0);
		atomic_store(&sh->stage, 1);
		ZT_CHECK(wait_ge(&sh->stage, 2));
		ZT_CHECK(zcp_subscriber_waiting(a) == 10 && zcp_subscriber_waiting(b) == 10);
		zcp_chunk *keep = zcp_subscriber_take(a);
		ZT_CHECK(keep);
		for (int i = 0; i < 2; i++) {
			zcp_chunk *c = zcp_subscriber_take(a);
			ZT_CHECK(c);
			zcp_chunk_release(cm, c);
		}
		/* Both closed with samples waiting, one sample still held. */
		ZT_CHECK(zcp_subscriber_close(a) == 0);
		ZT_CHECK(zcp_subscriber_close(b) == 0);
		ZT_CHECK(intact(zcp_sample_data(keep)));
		ZT_CHECK(zcp_chunk_release(cm, keep) == 0);
		atomic_store(&sh->stage, 3);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	ok(wait_ge(&sh->stage, 1), "close queued: two subscribers in another process");
	zcp_publisher *p;
	is_int(zcp_publisher_create(m, "queued", NULL, &p), 0, "close queued: a publisher here");
	int err = 0;
	for (uint64_t i = 0; i < 10; i++)
		err |= publish(m, p, 0, i);
	is_int(err, 0, "close queued: 10 published");
	atomic_store(&sh->stage, 2);
	zt_ok_child(sub, "close queued: subscribers closed with 7 and 10 samples waiting, one held");
	is_int(zcp_publisher_close(p), 0, "close queued: the publisher closes");
	audit(m, "close queued", 0);
	zcp_mempool_manager_destroy(m);
}

/* --- a subscriber that never takes --------------------------------------------- */

static void never_takes(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4, 4);
	long n = zt_iters(3000);
	if (n < 8)
		n = 8;
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 8;
	o.history = 3;
	reset();
	pid_t sub = zt_fork();
	if (sub == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_subscriber *s;
		ZT_CHECK(zcp_subscriber_create(cm, "never", &o, &s) == 0);
		atomic_fetch_add(&sh->ready, 1);
		ZT_CHECK(wait_ge(&sh->pubs_done, PUBS));
		ZT_CHECK_MSG(zcp_subscriber_lost(s) == (uint64_t)(n - 8) * PUBS, "lost %llu",
			     (unsigned long long)zcp_subscriber_lost(s));
		ZT_CHECK(zcp_subscriber_waiting(s) == 8 * PUBS);
		uint64_t got[PUBS] = {0};
		struct sample x;
		zcp_sample_info info;
		while (take(cm, s, &x, &info)) {
			ZT_CHECK_MSG(x.seq == (uint64_t)n - 8 + got[x.who], "publisher %llu: %llu",
				     (unsigned long long)x.who, (unsigned long long)x.seq);
			got[x.who]++;
		}
		ZT_CHECK(got[0] == 8 && got[1] == 8);
		ZT_CHECK(zcp_subscriber_lost(s) == (uint64_t)(n - 8) * PUBS);
		ZT_CHECK(zcp_subscriber_close(s) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	ok(wait_ge(&sh->ready, 1), "never takes: a subscriber that does not take");
	pid_t pids[PUBS];
	for (int p = 0; p < PUBS; p++) {
		if ((pids[p] = zt_fork()) != 0)
			continue;
		zcp_mempool_manager *cm = join(name);
		zcp_publisher *pub;
		ZT_CHECK(zcp_publisher_create(cm, "never", &o, &pub) == 0);
		atomic_store(&sh->pub_id[p], zcp_publisher_id(pub));
		uint64_t t0 = mono_ms();
		for (long i = 0; i < n; i++) {
			int err = publish(cm, pub, (uint64_t)p, (uint64_t)i);
			ZT_CHECK_MSG(err == 0, "publish %ld: %s", i, zcp_err_name(err));
			uint64_t u = used(cm), mx = atomic_load(&sh->max_used);
			while (u > mx && !atomic_compare_exchange_weak(&sh->max_used, &mx, u))
				;
		}
		ZT_CHECK_MSG(mono_ms() - t0 < 10000, "publishing took %llu ms",
			     (unsigned long long)(mono_ms() - t0));
		atomic_fetch_add(&sh->pubs_done, 1);
		ZT_CHECK(wait_ge(&sh->subs_done, 1));
		ZT_CHECK(zcp_publisher_close(pub) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	zt_ok_child(sub, "never takes: lost %ld x %d counted, 8 of each waiting, the last 8 taken", n - 8, PUBS);
	atomic_store(&sh->subs_done, 1);
	for (int p = 0; p < PUBS; p++)
		zt_ok_child(pids[p], "never takes: publisher %d: %ld publishes, none failed or blocked", p, n);
	/* Each ring keeps max(capacity, history) = 8; each publisher has at
	 * most one more chunk on loan. */
	ok(atomic_load(&sh->max_used) <= PUBS * (8 + 1), "never takes: at most %d chunks used (%llu)",
	   PUBS * 9, (unsigned long long)atomic_load(&sh->max_used));
	/* Closed publishers keep their history (3 each). */
	audit(m, "never takes", PUBS * 3);
	zcp_mempool_manager_destroy(m);
}

/* --- a publisher that closes or dies right after publishing -------------------- */

static void gone_after_publish(int die)
{
	const char *what = die ? "dies" : "closes";
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4, 4);
	reset();
	pid_t sub = zt_fork();
	if (sub == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_subscriber *s;
		ZT_CHECK(zcp_subscriber_create(cm, "bye", NULL, &s) == 0);
		atomic_store(&sh->stage, 1);
		ZT_CHECK(wait_ge(&sh->stage, 2));
		struct sample x;
		zcp_sample_info info;
		for (uint64_t q = 0; q < 3; q++) {
			ZT_CHECK_MSG(take(cm, s, &x, &info), "sample %llu missing", (unsigned long long)q);
			ZT_CHECK(x.seq == q);
		}
		ZT_CHECK(!take(cm, s, &x, &info));
		ZT_CHECK(zcp_subscriber_lost(s) == 0);
		ZT_CHECK(zcp_subscriber_close(s) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	ok(wait_ge(&sh->stage, 1), "publisher %s: a subscriber in another process", what);
	pid_t pub = zt_fork();
	if (pub == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_publisher *p;
		ZT_CHECK(zcp_publisher_create(cm, "bye", NULL, &p) == 0);
		atomic_store(&sh->pub_id[0], zcp_publisher_id(p));
		for (uint64_t i = 0; i < 3; i++)
			ZT_CHECK(publish(cm, p, 0, i) == 0);
		if (die)
			_exit(0); /* no close, no detach */
		ZT_CHECK(zcp_publisher_close(p) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	zt_ok_child(pub, "publisher %s right after publishing 3", what);
	if (die) {
		zcp_reclaim_report rep;
		ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1,
		   "publisher dies: reclaimed before anyone read its samples");
	}
	atomic_store(&sh->stage, 2);
	zt_ok_child(sub, "publisher %s: the subscriber still gets its 3 samples, in order", what);
	audit(m, die ? "publisher dies" : "publisher closes", 0);
	zcp_mempool_manager_destroy(m);
}

/* --- republishing a sample others hold ------------------------------------------- */

/* A subscriber tries to publish a sample it took (still in its topic's
 * ring) on another topic: ZCP_EBUSY, "on error the caller keeps its
 * reference".  But zcp_publisher_publish() writes the chunk header (origin,
 * sequence, stamp, check: lib/publisher.c:230-237) before
 * zcp__record_to_topic() finds the topics' bit set (:251), so the failed
 * call rewrites the description every other holder of the sample reads:
 * a subscriber in another process then sees the failed publisher as its
 * origin.  (In one process it is also a data race with a reader thread.) */
static void republish_clobber(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4, 4);
	zcp_publisher *p;
	zcp_subscriber *mine;
	reset();
	is_int(zcp_subscriber_create(m, "orig", NULL, &mine), 0, "republish: a subscriber here");
	pid_t other = zt_fork();
	if (other == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_subscriber *s;
		zcp_publisher *q;
		ZT_CHECK(zcp_subscriber_create(cm, "orig", NULL, &s) == 0);
		ZT_CHECK(zcp_publisher_create(cm, "other", NULL, &q) == 0);
		/* Sequence 5 there: a description that differs. */
		for (uint64_t i = 0; i < 5; i++)
			ZT_CHECK(publish(cm, q, 1, i) == 0);
		atomic_store(&sh->stage, 1);
		ZT_CHECK(wait_ge(&sh->stage, 2));
		zcp_chunk *c = zcp_subscriber_take(s);
		ZT_CHECK(c);
		ZT_CHECK(zcp_publisher_publish(q, c) == ZCP_EBUSY);
		ZT_CHECK(zcp_chunk_release(cm, c) == 0);
		ZT_CHECK(zcp_subscriber_close(s) == 0);
		ZT_CHECK(zcp_publisher_close(q) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	ok(wait_ge(&sh->stage, 1), "republish: a subscriber and a publisher of another topic there");
	is_int(zcp_publisher_create(m, "orig", NULL, &p), 0, "republish: the publisher here");
	is_int(publish(m, p, 0, 0), 0, "republish: one sample");
	atomic_store(&sh->stage, 2);
	zt_ok_child(other, "republish: the other process's publish of the sample it took: ZCP_EBUSY");
	zcp_chunk *c = zcp_subscriber_take(mine);
	zcp_sample_info info = {0, 0, 0};
	int err = c ? zcp_chunk_sample_info(c, &info) : -1;
	ok(err == 0 && info.origin == zcp_publisher_id(p) && info.sequence == 0,
	   "republish: a refused publish leaves the sample's description alone (origin %llx, want %llx; "
	   "sequence %llu)",
	   (unsigned long long)info.origin, (unsigned long long)zcp_publisher_id(p),
	   (unsigned long long)info.sequence);
	if (c)
		zcp_chunk_release(m, c);
	zcp_subscriber_close(mine);
	zcp_publisher_close(p);
	audit(m, "republish", 0);
	zcp_mempool_manager_destroy(m);
}

int main(void)
{
	plan_lazy();
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap");
	reject_nm();
	drop_nm();
	history_late();
	history_restarts();
	types_cross();
	close_queued();
	never_takes();
	gone_after_publish(0);
	gone_after_publish(1);
	republish_clobber();
	zt_done();
	return done_testing();
}
