/* SPDX-License-Identifier: MIT */
/* Waitsets (<zerocp/waitset.h>): timeouts, a wake-up from another
 * process, 64 subscribers on 64 topics fed at random, triggers fired from
 * another process, publishers appearing and going (a SIGKILLed one, closed
 * by a reclaim in a third process), a waiter killed in its sleep, the race
 * of publish and fire with going to sleep (ping-pongs), a signal, fairness
 * beyond `max`, and every bad argument. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/filter.h>) && __has_include(<linux/seccomp.h>)
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif
#endif

#include <zerocp/zerocp.h>

#include "topic.h"
#include "waitset.h"

#define SEC INT64_C(1000000000)

static zcp_mempool_manager *make(const char **name, unsigned triggers)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 64, 4096);
	zcp_mempool_config_set_topics(cfg, 80, 2, 4, 16);
	zcp_mempool_config_set_triggers(cfg, triggers);
	*name = zt_name();
	if (zcp_mempool_manager_create(*name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	return m;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static int publish_u64(zcp_mempool_manager *m, zcp_publisher *p, uint64_t v)
{
	zcp_chunk *c = zcp_publisher_loan(p, 8);
	if (!c)
		return -errno;
	memcpy(zcp_sample_data(c), &v, sizeof v);
	int err = zcp_publisher_publish(p, c);
	if (err)
		zcp_chunk_release(m, c);
	return err;
}

/* Takes every sample waiting; returns how many (the last value in *last). */
static long drain(zcp_mempool_manager *m, zcp_subscriber *s, uint64_t *last)
{
	long n = 0;
	zcp_chunk *c;
	while ((c = zcp_subscriber_take(s)) != NULL) {
		if (last)
			memcpy(last, zcp_sample_data(c), sizeof *last);
		zcp_chunk_release(m, c);
		n++;
	}
	return n;
}

static void timeouts(zcp_mempool_manager *m)
{
	zcp_waitset *ws;
	zcp_subscriber *s;
	zcp_waitset_event ev[4];
	is_int(zcp_waitset_create(m, &ws), 0, "a waitset");
	int64_t t0 = mono_ns();
	int err = zcp_waitset_wait(ws, ev, 4, 20000000);
	ok(err == ZCP_ETIMEDOUT && mono_ns() - t0 >= 20000000,
	   "an empty waitset sleeps until its timeout");
	is_int(zcp_subscriber_create(m, "idle", NULL, &s), 0, "a subscriber on an idle topic");
	is_int(zcp_waitset_attach_subscriber(ws, s, &ev), 0, "attached");
	is_int(zcp_waitset_wait(ws, ev, 4, 0), ZCP_ETIMEDOUT, "timeout 0 only looks: ZCP_ETIMEDOUT");
	t0 = mono_ns();
	err = zcp_waitset_wait(ws, ev, 4, 50000000);
	int64_t dt = mono_ns() - t0;
	ok(err == ZCP_ETIMEDOUT && dt >= 50000000,
	   "a 50 ms timeout returns ZCP_ETIMEDOUT, not early (%lld ns)", (long long)dt);
	is_int(zcp_subscriber_close(s), 0, "closing an attached subscriber");
	is_int(zcp_waitset_detach(ws, s), ZCP_ENOENT, "... detached it");
	is_int(zcp_waitset_destroy(ws), 0, "destroy");
}

/* A child publishes 100 ms after the parent went to sleep. */
static void wake_from_other(const char *name, zcp_mempool_manager *m)
{
	zcp_waitset *ws;
	zcp_subscriber *s;
	zcp_waitset_event ev[4];
	int tag;
	zcp_waitset_create(m, &ws);
	zcp_subscriber_create(m, "wake", NULL, &s);
	zcp_waitset_attach_subscriber(ws, s, &tag);
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_publisher *p;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_publisher_create(cm, "wake", NULL, &p) == 0);
		usleep(100000);
		ZT_CHECK(publish_u64(cm, p, 42) == 0);
		zcp_publisher_close(p);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	int got_data = 0, appeared = 0;
	int64_t t0 = mono_ns();
	while (!got_data && mono_ns() - t0 < 5 * SEC * zt_slowdown()) {
		int n = zcp_waitset_wait(ws, ev, 4, 5 * SEC * zt_slowdown());
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			if (ev[i].kind == ZCP_EVENT_DATA && ev[i].user_data == &tag &&
			    ev[i].object == s)
				got_data = 1;
			if (ev[i].kind == ZCP_EVENT_PUBLISHER_APPEARED && ev[i].publishers == 1)
				appeared = 1;
		}
	}
	ok(got_data, "another process's publish wakes the waitset: ZCP_EVENT_DATA, our user_data");
	ok(appeared, "its publisher appeared first: ZCP_EVENT_PUBLISHER_APPEARED, 1 publisher");
	uint64_t v = 0;
	ok(drain(m, s, &v) == 1 && v == 42, "the sample is there");
	zt_ok_child(pid, "publisher child");
	/* Level-triggered: nothing waiting now, so no DATA (GONE maybe). */
	int n = zcp_waitset_wait(ws, ev, 4, 0);
	int data = 0;
	for (int i = 0; i < n; i++)
		data |= ev[i].kind == ZCP_EVENT_DATA;
	ok(!data, "no DATA once taken (level-triggered)");
	zcp_waitset_destroy(ws);
	zcp_subscriber_close(s);
}

/* 64 subscribers on 64 topics; a child's 64 publishers publish at random.
 * Every DATA event has data, and received + lost = published. */
static void many(const char *name, zcp_mempool_manager *m)
{
	enum { N = 64 };
	long total = zt_iters(4000);
	zcp_waitset *ws;
	zcp_subscriber *s[N];
	zcp_waitset_event ev[16];
	char topic[32];
	zcp_waitset_create(m, &ws);
	int ok_all = 1;
	for (int i = 0; i < N; i++) {
		snprintf(topic, sizeof topic, "many%d", i);
		ok_all &= zcp_subscriber_create(m, topic, NULL, &s[i]) == 0 &&
			  zcp_waitset_attach_subscriber(ws, s[i], (void *)(intptr_t)(i + 1)) == 0;
	}
	ok(ok_all, "64 subscribers on 64 topics attached");
	int go[2], done[2];
	if (pipe(go) || pipe(done))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_publisher *p[N];
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		for (int i = 0; i < N; i++) {
			snprintf(topic, sizeof topic, "many%d", i);
			ZT_CHECK(zcp_publisher_create(cm, topic, NULL, &p[i]) == 0);
		}
		char r;
		ZT_CHECK(read(go[0], &r, 1) == 1);
		unsigned seed = 12345;
		for (long k = 0; k < total; k++) {
			seed = seed * 1103515245u + 12345u;
			ZT_CHECK(publish_u64(cm, p[(seed >> 16) % N], (uint64_t)k) == 0);
			if (k % 64 == 0)
				usleep(200);
		}
		ZT_CHECK(write(done[1], "d", 1) == 1);
		ZT_CHECK(read(go[0], &r, 1) == 1);
		for (int i = 0; i < N; i++)
			zcp_publisher_close(p[i]);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	long got = 0, spurious = 0, appeared = 0, bad_user = 0, lost = 0;
	int64_t t0 = mono_ns();
	int go_sent = 0;
	while (mono_ns() - t0 < 30 * SEC * zt_slowdown()) {
		int n = zcp_waitset_wait(ws, ev, 16, 100000000);
		if (n == ZCP_ETIMEDOUT) {
			lost = 0;
			for (int i = 0; i < N; i++)
				lost += (long)zcp_subscriber_lost(s[i]);
			if (go_sent && got + lost >= total)
				break;
			continue;
		}
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			intptr_t u = (intptr_t)ev[i].user_data;
			if (u < 1 || u > N || ev[i].object != s[u - 1]) {
				bad_user++;
				continue;
			}
			if (ev[i].kind == ZCP_EVENT_PUBLISHER_APPEARED) {
				appeared++;
			} else if (ev[i].kind == ZCP_EVENT_DATA) {
				long k = drain(m, s[u - 1], NULL);
				if (k == 0)
					spurious++;
				got += k;
			}
		}
		if (!go_sent && appeared == N) {
			go_sent = 1; /* every publisher seen: let the child publish */
			if (write(go[1], "g", 1) != 1)
				break;
		}
	}
	char r;
	ok(go_sent && read(done[0], &r, 1) == 1, "the child published %ld samples", total);
	is_int(appeared, N, "64 ZCP_EVENT_PUBLISHER_APPEARED, one a topic");
	is_int(got + lost, total, "every sample received or counted lost (%ld received, %ld lost)",
	       got, lost);
	is_int(spurious, 0, "no DATA event without data");
	is_int(bad_user, 0, "every event names its subscriber and user_data");
	if (write(go[1], "x", 1) != 1)
		diag("write");
	zt_ok_child(pid, "the publishing child");
	long gone = 0;
	t0 = mono_ns();
	while (gone < N && mono_ns() - t0 < 10 * SEC * zt_slowdown()) {
		int n = zcp_waitset_wait(ws, ev, 16, SEC);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++)
			gone += ev[i].kind == ZCP_EVENT_PUBLISHER_GONE && ev[i].publishers == 0;
	}
	is_int(gone, N, "64 ZCP_EVENT_PUBLISHER_GONE when its publishers closed");
	zcp_waitset_destroy(ws);
	for (int i = 0; i < N; i++)
		zcp_subscriber_close(s[i]);
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
}

/* Triggers fired from another process: many fires, one event; a fire
 * while we sleep wakes us. */
static void triggers(const char *name, zcp_mempool_manager *m)
{
	zcp_waitset *ws;
	zcp_trigger *t;
	zcp_waitset_event ev[4];
	int tag;
	zcp_waitset_create(m, &ws);
	is_int(zcp_trigger_open(m, "tick", &t), 0, "trigger open");
	is_int(zcp_waitset_attach_trigger(ws, t, &tag), 0, "trigger attached");
	is_int(zcp_waitset_wait(ws, ev, 4, 0), ZCP_ETIMEDOUT, "not fired: nothing");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_trigger *ct;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_trigger_open(cm, "tick", &ct) == 0);
		for (int i = 0; i < 100; i++)
			ZT_CHECK(zcp_trigger_fire(ct) == 0);
		ZT_CHECK(zcp_trigger_close(ct) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	zt_ok_child(pid, "a child fires it 100 times");
	int n = zcp_waitset_wait(ws, ev, 4, SEC);
	ok(n == 1 && ev[0].kind == ZCP_EVENT_TRIGGER && ev[0].user_data == &tag && ev[0].object == t,
	   "100 fires: one ZCP_EVENT_TRIGGER");
	is_int(zcp_waitset_wait(ws, ev, 4, 0), ZCP_ETIMEDOUT, "and no second one");
	pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_trigger *ct;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_trigger_open(cm, "tick", &ct) == 0);
		usleep(100000);
		ZT_CHECK(zcp_trigger_fire(ct) == 0);
		zcp_trigger_close(ct);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	int64_t t0 = mono_ns();
	n = zcp_waitset_wait(ws, ev, 4, 5 * SEC * zt_slowdown());
	ok(n == 1 && ev[0].kind == ZCP_EVENT_TRIGGER && mono_ns() - t0 < 4 * SEC * zt_slowdown(),
	   "a fire from another process wakes the sleeping waitset");
	zt_ok_child(pid, "the firing child");
	/* A fire in our own process, and the event beyond max. */
	zcp_trigger *t2, *t3;
	int tag2, tag3;
	zcp_trigger_open(m, "tock", &t2);
	zcp_trigger_open(m, "tack", &t3);
	zcp_waitset_attach_trigger(ws, t2, &tag2);
	zcp_waitset_attach_trigger(ws, t3, &tag3);
	zcp_trigger_fire(t);
	zcp_trigger_fire(t2);
	zcp_trigger_fire(t3);
	void *seen[3] = {0};
	int distinct = 1;
	for (int k = 0; k < 3; k++) {
		if (zcp_waitset_wait(ws, ev, 1, 0) != 1) {
			distinct = 0;
			break;
		}
		seen[k] = ev[0].user_data;
		for (int j = 0; j < k; j++)
			distinct &= seen[j] != seen[k];
	}
	ok(distinct, "three fired, max 1: three calls, three different triggers");
	is_int(zcp_waitset_wait(ws, ev, 1, 0), ZCP_ETIMEDOUT, "then nothing");
	/* Fairness: always ready, max 1: each gets its turn. */
	zcp_subscriber *s1, *s2;
	zcp_publisher *p1, *p2;
	zcp_subscriber_create(m, "fair1", NULL, &s1);
	zcp_subscriber_create(m, "fair2", NULL, &s2);
	zcp_publisher_create(m, "fair1", NULL, &p1);
	zcp_publisher_create(m, "fair2", NULL, &p2);
	publish_u64(m, p1, 1);
	publish_u64(m, p2, 2);
	zcp_waitset *fw;
	zcp_waitset_create(m, &fw);
	zcp_waitset_attach_subscriber(fw, s1, s1);
	zcp_waitset_attach_subscriber(fw, s2, s2);
	int c1 = 0, c2 = 0;
	for (int k = 0; k < 10; k++)
		if (zcp_waitset_wait(fw, ev, 1, 0) == 1) {
			c1 += ev[0].user_data == s1;
			c2 += ev[0].user_data == s2;
		}
	ok(c1 >= 4 && c2 >= 4, "two always ready, max 1: both reported (%d, %d)", c1, c2);
	zcp_waitset_destroy(fw);
	drain(m, s1, NULL);
	drain(m, s2, NULL);
	zcp_publisher_close(p1);
	zcp_publisher_close(p2);
	zcp_subscriber_close(s1);
	zcp_subscriber_close(s2);
	is_int(zcp_trigger_close(t2), 0, "an attached trigger closes");
	is_int(zcp_waitset_detach(ws, t2), ZCP_ENOENT, "... and is detached");
	zcp_waitset_destroy(ws);
	zcp_trigger_close(t3);
	zcp_trigger_close(t);
	/* Every trigger closed: the entries are free. */
	int live = 0;
	for (unsigned k = 0; k < m->geo.max_triggers; k++)
		live += zcp__ep_state(atomic_load(&zcp__trigger_at(m, k)->state)) == ZCP__EP_LIVE;
	is_int(live, 0, "all closed: no trigger entry is live");
}

/* A child publisher appears, is SIGKILLed, and a third process reclaims
 * it while we sleep: APPEARED then GONE. */
static void publisher_gone(const char *name, zcp_mempool_manager *m)
{
	zcp_waitset *ws;
	zcp_subscriber *s;
	zcp_waitset_event ev[4];
	zcp_waitset_create(m, &ws);
	zcp_subscriber_create(m, "pg", NULL, &s);
	zcp_waitset_attach_subscriber(ws, s, s);
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_publisher *p;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_publisher_create(cm, "pg", NULL, &p) == 0);
		pause();
		_exit(1);
	}
	int n = zcp_waitset_wait(ws, ev, 4, 5 * SEC * zt_slowdown());
	ok(n == 1 && ev[0].kind == ZCP_EVENT_PUBLISHER_APPEARED && ev[0].publishers == 1 &&
		   ev[0].user_data == s,
	   "a child's publisher: ZCP_EVENT_PUBLISHER_APPEARED, 1 publisher");
	kill(pid, SIGKILL);
	int st;
	zt_wait(pid, &st);
	is_int(zcp_waitset_wait(ws, ev, 4, 50000000), ZCP_ETIMEDOUT,
	       "killed but not reclaimed: still counted");
	pid_t rp = zt_fork();
	if (rp == 0) {
		zcp_mempool_manager *cm;
		usleep(100000);
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		zcp_reclaim_report rep;
		ZT_CHECK(zcp_mempool_manager_reclaim(cm, &rep) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	int64_t t0 = mono_ns();
	n = zcp_waitset_wait(ws, ev, 4, 5 * SEC * zt_slowdown());
	ok(n == 1 && ev[0].kind == ZCP_EVENT_PUBLISHER_GONE && ev[0].publishers == 0 &&
		   mono_ns() - t0 < 4 * SEC * zt_slowdown(),
	   "reclaimed by another process: ZCP_EVENT_PUBLISHER_GONE wakes us, 0 publishers");
	zt_ok_child(rp, "the reclaiming child");
	zcp_waitset_destroy(ws);
	zcp_subscriber_close(s);
	close(ready[0]);
	close(ready[1]);
}

/* A waiter killed in its sleep blocks nobody; reclaim clears its bits. */
static void killed_waiter(const char *name, zcp_mempool_manager *m)
{
	zcp_publisher *p;
	zcp_trigger *t;
	zcp_publisher_create(m, "kw", NULL, &p);
	zcp_trigger_open(m, "kwt", &t);
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_subscriber *s;
		zcp_trigger *ct;
		zcp_waitset *ws;
		zcp_waitset_event ev[4];
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_subscriber_create(cm, "kw", NULL, &s) == 0);
		ZT_CHECK(zcp_trigger_open(cm, "kwt", &ct) == 0);
		ZT_CHECK(zcp_waitset_create(cm, &ws) == 0);
		ZT_CHECK(zcp_waitset_attach_subscriber(ws, s, NULL) == 0);
		ZT_CHECK(zcp_waitset_attach_trigger(ws, ct, NULL) == 0);
		unsigned char slot = (unsigned char)((zcp_mempool_manager_process_id(cm) & 0xff) - 1);
		ZT_CHECK(write(ready[1], &slot, 1) == 1);
		zcp_waitset_wait(ws, ev, 4, 60 * SEC);
		_exit(1);
	}
	unsigned char slot = 0;
	ok(read(ready[0], &slot, 1) == 1 && slot < m->geo.max_processes, "killed waiter: ready");
	struct zcp__proc *pr = zcp__proc_at(m, slot);
	struct zcp__trigger *e = zcp__trigger_at(m, t->index);
	int64_t t0 = mono_ns();
	while (atomic_load(&pr->doorbell_sleepers) == 0 && mono_ns() - t0 < 5 * SEC * zt_slowdown())
		usleep(1000);
	ok(atomic_load(&pr->doorbell_sleepers) == 1 &&
		   (atomic_load(&e->listeners) & (UINT64_C(1) << slot)),
	   "killed waiter: asleep, its doorbell counts it, the trigger lists it");
	kill(pid, SIGKILL);
	int st;
	zt_wait(pid, &st);
	t0 = mono_ns();
	int a = publish_u64(m, p, 1), b = zcp_trigger_fire(t);
	ok(a == 0 && b == 0 && mono_ns() - t0 < SEC * zt_slowdown(), "publish and fire go on, at once");
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1, "killed waiter: reclaimed");
	is_int(atomic_load(&pr->doorbell_sleepers), 0, "its doorbell's sleepers: 0");
	is_int((long long)(atomic_load(&e->listeners) & (UINT64_C(1) << slot)), 0,
	       "its listener bit: gone");
	is_int((long long)(atomic_load(&e->openers) & (UINT64_C(1) << slot)), 0,
	       "its opener bit: gone");
	is_int((long long)atomic_load(&zcp__sleepers(m, p->topic_index)[0]), 0,
	       "its subscriber's sleeper bit: gone");
	zcp_trigger_close(t);
	zcp_publisher_close(p);
	close(ready[0]);
	close(ready[1]);
}

/* Two processes, each asleep in zcp_waitset_wait() until the other
 * publishes (or fires): a lost wake-up ends in a 10 s timeout. */
static void pingpong(const char *name, zcp_mempool_manager *m, int with_triggers)
{
	long rounds = zt_iters(2000);
	const char *what = with_triggers ? "trigger ping-pong" : "ping-pong";
	zcp_subscriber *pong = NULL;
	zcp_publisher *ping = NULL;
	zcp_trigger *tping = NULL, *tpong = NULL;
	zcp_waitset *ws;
	zcp_waitset_event ev[4];
	zcp_waitset_create(m, &ws);
	if (with_triggers) {
		zcp_trigger_open(m, "tping", &tping);
		zcp_trigger_open(m, "tpong", &tpong);
		zcp_waitset_attach_trigger(ws, tpong, NULL);
	} else {
		zcp_subscriber_create(m, "wpong", NULL, &pong);
		zcp_publisher_create(m, "wping", NULL, &ping);
		zcp_waitset_attach_subscriber(ws, pong, NULL);
	}
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_subscriber *s = NULL;
		zcp_publisher *p = NULL;
		zcp_trigger *ta = NULL, *tb = NULL;
		zcp_waitset *cws;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_waitset_create(cm, &cws) == 0);
		if (with_triggers) {
			ZT_CHECK(zcp_trigger_open(cm, "tping", &ta) == 0 &&
				 zcp_trigger_open(cm, "tpong", &tb) == 0);
			ZT_CHECK(zcp_waitset_attach_trigger(cws, ta, NULL) == 0);
		} else {
			ZT_CHECK(zcp_subscriber_create(cm, "wping", NULL, &s) == 0 &&
				 zcp_publisher_create(cm, "wpong", NULL, &p) == 0);
			ZT_CHECK(zcp_waitset_attach_subscriber(cws, s, NULL) == 0);
		}
		ZT_CHECK(write(ready[1], "r", 1) == 1);
		for (long i = 0; i < rounds;) {
			int n = zcp_waitset_wait(cws, ev, 4, 10 * SEC * zt_slowdown());
			ZT_CHECK_MSG(n > 0, "round %ld: wait %s", i, zcp_err_name(n));
			if (with_triggers) {
				ZT_CHECK(zcp_trigger_fire(tb) == 0);
				i++;
				continue;
			}
			uint64_t v = 0;
			long k = drain(cm, s, &v);
			if (k == 0)
				continue; /* a publisher event */
			ZT_CHECK_MSG(k == 1 && v == (uint64_t)i, "round %ld got %ld, %llu", i, k,
				     (unsigned long long)v);
			ZT_CHECK(publish_u64(cm, p, v) == 0);
			i++;
		}
		zcp_waitset_destroy(cws);
		zcp_trigger_close(ta);
		zcp_trigger_close(tb);
		zcp_publisher_close(p);
		zcp_subscriber_close(s);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	char r;
	ok(read(ready[0], &r, 1) == 1, "%s: the other process is ready", what);
	long good = 0;
	int64_t t0 = mono_ns();
	for (long i = 0; i < rounds; i++) {
		if (with_triggers ? zcp_trigger_fire(tping) != 0 : publish_u64(m, ping, (uint64_t)i) != 0)
			break;
		int done = 0;
		while (!done) {
			int n = zcp_waitset_wait(ws, ev, 4, 10 * SEC * zt_slowdown());
			if (n <= 0)
				break;
			if (with_triggers) {
				done = 1;
				continue;
			}
			uint64_t v = 0;
			long k = drain(m, pong, &v);
			if (k == 0)
				continue; /* a publisher event */
			done = k == 1 && v == (uint64_t)i ? 1 : -1;
		}
		if (done != 1)
			break;
		good++;
	}
	is_int(good, rounds, "%s: %ld round trips, both sides asleep, no wake-up lost (%lld ms)", what,
	       rounds, (long long)((mono_ns() - t0) / 1000000));
	zt_ok_child(pid, "%s: the other side saw every round", what);
	zcp_waitset_destroy(ws);
	zcp_trigger_close(tping);
	zcp_trigger_close(tpong);
	zcp_publisher_close(ping);
	zcp_subscriber_close(pong);
	close(ready[0]);
	close(ready[1]);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void interrupted(zcp_mempool_manager *m)
{
	zcp_waitset *ws;
	zcp_trigger *t;
	zcp_waitset_event ev[1];
	zcp_waitset_create(m, &ws);
	zcp_trigger_open(m, "intr", &t);
	zcp_waitset_attach_trigger(ws, t, NULL);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, &old);
	alarm(1);
	int err = zcp_waitset_wait(ws, ev, 1, -1);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	is_int(err, ZCP_EINTR, "a signal ends a wait without timeout: ZCP_EINTR");
	zcp_waitset_destroy(ws);
	zcp_trigger_close(t);
}

static void bad_args(const char *name, zcp_mempool_manager *m)
{
	zcp_waitset *ws, *ws2;
	zcp_subscriber *s;
	zcp_trigger *t, *t2;
	zcp_waitset_event ev[2];
	char longname[80];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;

	is_int(zcp_mempool_config_set_triggers(NULL, 1), ZCP_EINVAL, "set_triggers(NULL): ZCP_EINVAL");
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	is_int(zcp_mempool_config_set_triggers(cfg, 5000), ZCP_EINVAL, "set_triggers(5000): ZCP_EINVAL");
	is_int(zcp_mempool_config_set_triggers(cfg, 0), 0, "set_triggers(0) is allowed");
	zcp_mempool_config_free(cfg);

	is_int(zcp_waitset_create(NULL, &ws), ZCP_EINVAL, "create(NULL manager): ZCP_EINVAL");
	is_int(zcp_waitset_create(m, NULL), ZCP_EINVAL, "create(NULL out): ZCP_EINVAL");
	is_int(zcp_waitset_create(m, &ws), 0, "a waitset");
	is_int(zcp_waitset_create(m, &ws2), 0, "another");
	is_int(zcp_waitset_wait(NULL, ev, 2, 0), ZCP_EINVAL, "wait(NULL): ZCP_EINVAL");
	is_int(zcp_waitset_wait(ws, NULL, 2, 0), ZCP_EINVAL, "wait(NULL events): ZCP_EINVAL");
	is_int(zcp_waitset_wait(ws, ev, 0, 0), ZCP_EINVAL, "wait(max 0): ZCP_EINVAL");
	is_int(zcp_waitset_attach_subscriber(NULL, NULL, NULL), ZCP_EINVAL, "attach_subscriber(NULL)");
	is_int(zcp_waitset_attach_subscriber(ws, NULL, NULL), ZCP_EINVAL, "attach_subscriber(ws, NULL)");
	is_int(zcp_waitset_attach_trigger(NULL, NULL, NULL), ZCP_EINVAL, "attach_trigger(NULL)");
	is_int(zcp_waitset_attach_trigger(ws, NULL, NULL), ZCP_EINVAL, "attach_trigger(ws, NULL)");
	is_int(zcp_waitset_detach(NULL, ws), ZCP_EINVAL, "detach(NULL)");
	is_int(zcp_waitset_detach(ws, NULL), ZCP_EINVAL, "detach(ws, NULL)");
	is_int(zcp_waitset_detach(ws, &ev), ZCP_ENOENT, "detach of something not attached: ZCP_ENOENT");
	is_int(zcp_waitset_destroy(NULL), 0, "destroy(NULL): no-op");

	is_int(zcp_trigger_open(NULL, "x", &t), ZCP_EINVAL, "trigger_open(NULL manager)");
	is_int(zcp_trigger_open(m, NULL, &t), ZCP_EINVAL, "trigger_open(NULL name)");
	is_int(zcp_trigger_open(m, "x", NULL), ZCP_EINVAL, "trigger_open(NULL out)");
	is_int(zcp_trigger_open(m, "", &t), ZCP_EINVAL, "trigger_open(\"\")");
	is_int(zcp_trigger_open(m, "a/b", &t), ZCP_EINVAL, "trigger_open(\"a/b\")");
	is_int(zcp_trigger_open(m, longname, &t), ZCP_EINVAL, "trigger_open(79 characters)");
	is_int(zcp_trigger_fire(NULL), ZCP_EINVAL, "trigger_fire(NULL)");
	is_int(zcp_trigger_close(NULL), 0, "trigger_close(NULL): no-op");

	zcp_subscriber_create(m, "bad", NULL, &s);
	zcp_trigger_open(m, "bad", &t);
	is_int(zcp_waitset_attach_subscriber(ws, s, NULL), 0, "attach a subscriber");
	is_int(zcp_waitset_attach_subscriber(ws, s, NULL), ZCP_EBUSY, "twice: ZCP_EBUSY");
	is_int(zcp_waitset_attach_subscriber(ws2, s, NULL), ZCP_EBUSY, "to another waitset: ZCP_EBUSY");
	is_int(zcp_waitset_attach_trigger(ws, t, NULL), 0, "attach a trigger");
	is_int(zcp_waitset_attach_trigger(ws, t, NULL), ZCP_EBUSY, "twice: ZCP_EBUSY");
	is_int(zcp_waitset_attach_trigger(ws2, t, NULL), ZCP_EBUSY, "to another waitset: ZCP_EBUSY");
	is_int(zcp_trigger_open(m, "bad", &t2), 0, "the same trigger opened again");
	is_int(zcp_waitset_attach_trigger(ws2, t2, NULL), 0, "... attaches to another waitset");
	zcp_trigger_fire(t);
	ok(zcp_waitset_wait(ws, ev, 2, 0) == 1 && zcp_waitset_wait(ws2, ev, 2, 0) == 1,
	   "one fire: both waitsets report it");
	is_int(zcp_waitset_detach(ws2, t2), 0, "detach from one");
	struct zcp__trigger *e = zcp__trigger_at(m, t->index);
	ok(atomic_load(&e->listeners) & (UINT64_C(1) << m->slot),
	   "the other still listens: the process's bit stays");
	is_int(zcp_waitset_detach(ws, t), 0, "detach from the other");
	is_int((long long)(atomic_load(&e->listeners) & (UINT64_C(1) << m->slot)), 0,
	       "no listener left: the bit goes");
	zcp_trigger_close(t2);
	is_int(zcp_waitset_detach(ws, s), 0, "detach the subscriber");
	is_int(zcp_waitset_detach(ws, s), ZCP_ENOENT, "twice: ZCP_ENOENT");

	/* Objects of another manager. */
	const char *n2;
	zcp_mempool_manager *m2 = make(&n2, 2);
	zcp_subscriber *s2;
	zcp_trigger *o1, *o2, *o3;
	zcp_subscriber_create(m2, "other", NULL, &s2);
	is_int(zcp_trigger_open(m2, "o1", &o1), 0, "a trigger of a second manager (table of 2)");
	is_int(zcp_waitset_attach_subscriber(ws, s2, NULL), ZCP_EINVAL,
	       "a subscriber of another manager: ZCP_EINVAL");
	is_int(zcp_waitset_attach_trigger(ws, o1, NULL), ZCP_EINVAL,
	       "a trigger of another manager: ZCP_EINVAL");
	is_int(zcp_trigger_open(m2, "o2", &o2), 0, "second trigger");
	is_int(zcp_trigger_open(m2, "o3", &o3), ZCP_ENOSPC, "third, table full: ZCP_ENOSPC");
	is_int(zcp_trigger_open(m2, "o1", &o3), 0, "an open one opens again");
	zcp_trigger_close(o3);
	zcp_trigger_close(o2);
	is_int(zcp_trigger_open(m2, "o3", &o3), 0, "a closed one makes room");
	zcp_trigger_close(o3);
	/* A process that dies with a trigger open, not reclaimed yet: its
	 * entry makes room when the table is full. */
	pid_t dp = zt_fork();
	if (dp == 0) {
		zcp_mempool_manager *cm;
		zcp_trigger *ct;
		ZT_CHECK(zcp_mempool_manager_attach(n2, &cm) == 0);
		ZT_CHECK(zcp_trigger_open(cm, "dead", &ct) == 0);
		_exit(0); /* no close, no detach */
	}
	zt_ok_child(dp, "a child opens a trigger and dies with it open");
	is_int(zcp_trigger_open(m2, "o3", &o3), 0,
	       "table full with a dead process's trigger: it makes room");
	is_int(zcp_trigger_open(m2, "o4", &o2), ZCP_ENOSPC, "full again: ZCP_ENOSPC");
	zcp_trigger_close(o3);
	zcp_trigger_close(o1);
	zcp_subscriber_close(s2);
	zcp_mempool_manager_destroy(m2);
	zcp_mempool_manager *m3 = make(&n2, 0);
	is_int(zcp_trigger_open(m3, "x", &o1), ZCP_ENOSPC, "no trigger table: ZCP_ENOSPC");
	zcp_mempool_manager_destroy(m3);

	/* After fork: the parent's objects. */
	zcp_waitset_attach_trigger(ws, t, NULL);
	pid_t pid = zt_fork();
	if (pid == 0) {
		ZT_CHECK(zcp_waitset_wait(ws, ev, 2, 0) == ZCP_ECHILD);
		ZT_CHECK(zcp_trigger_fire(t) == ZCP_ECHILD);
		ZT_CHECK(zcp_waitset_create(m, &ws2) == ZCP_ECHILD);
		/* Closing attached objects, then destroying: no shared word
		 * touched, nothing used after it is freed. */
		ZT_CHECK(zcp_trigger_close(t) == 0);
		ZT_CHECK(zcp_waitset_attach_subscriber(ws, s, NULL) == ZCP_ECHILD);
		ZT_CHECK(zcp_waitset_destroy(ws) == 0);
		_exit(0);
	}
	zt_ok_child(pid, "in a forked child: ZCP_ECHILD");
	(void)name;
	zcp_waitset_destroy(ws);
	zcp_waitset_destroy(ws2);
	zcp_trigger_close(t);
	zcp_subscriber_close(s);
}

#if defined(__linux__) && defined(SECCOMP_MODE_FILTER) && defined(__NR_exit_group) && \
	defined(SECCOMP_RET_KILL_PROCESS) && !defined(ZT_SANITIZED)
#define HAVE_SECCOMP_TEST 1
/* A child fires a trigger that a waitset of its own listens to (nobody
 * asleep) and looks with timeout 0, under a seccomp filter that kills it
 * at any system call but write and exit: exiting 0 proves none was made. */
static void no_syscalls(const char *name, zcp_mempool_manager *m)
{
	long n = zt_iters(100000);
	pid_t pid = fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_trigger *t;
		zcp_waitset *ws;
		zcp_waitset_event ev[2];
		if (zcp_mempool_manager_attach(name, &cm) || zcp_trigger_open(cm, "quiet", &t) ||
		    zcp_waitset_create(cm, &ws) || zcp_waitset_attach_trigger(ws, t, NULL))
			_exit(2);
		for (int i = 0; i < 10; i++) { /* warm up */
			zcp_trigger_fire(t);
			zcp_waitset_wait(ws, ev, 2, 0);
		}
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_write, 3, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 2, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit, 1, 0),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(3);
		long bad = 0;
		for (long i = 0; i < n; i++) {
			if (zcp_trigger_fire(t) != 0)
				bad++;
			if (zcp_waitset_wait(ws, ev, 2, 0) != 1)
				bad++;
		}
		_exit(bad ? 4 : 0); /* no detach: that makes system calls */
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
		skip("the kernel refused the seccomp filter (a 32-bit process, a sandbox)");
	else
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "no system call in %ld fire + look with nobody asleep (status %#x)", n, st);
	/* The child left without detaching: its slot and its trigger go. */
	zcp_mempool_manager_reclaim(m, NULL);
	int live = 0;
	for (unsigned k = 0; k < m->geo.max_triggers; k++)
		live += zcp__ep_state(atomic_load(&zcp__trigger_at(m, k)->state)) == ZCP__EP_LIVE;
	is_int(live, 0, "reclaimed: its trigger, open only there, is gone");
}
#endif

int main(void)
{
	const char *name;
	plan_lazy();
	zcp_mempool_manager *m = make(&name, 64);
	timeouts(m);
	wake_from_other(name, m);
	many(name, m);
	triggers(name, m);
	publisher_gone(name, m);
	killed_waiter(name, m);
	pingpong(name, m, 0);
	pingpong(name, m, 1);
	interrupted(m);
	bad_args(name, m);
#if defined(ZT_SANITIZED)
	skip("a sanitizer build: its runtime makes system calls of its own");
#elif defined(HAVE_SECCOMP_TEST)
	if (getenv("ZT_EMULATOR") && *getenv("ZT_EMULATOR"))
		skip("under an emulator (ZT_EMULATOR): seccomp would judge its own system calls");
	else
		no_syscalls(name, m);
#else
	skip("no seccomp filters on this platform: the zero-system-call check needs them");
#endif
	zcp_pool_stats ps;
	zcp_mempool_manager_pool_stats(m, 0, &ps);
	is_int((long long)ps.used, 0, "every chunk back");
	is_int(zcp_mempool_manager_check(m), 0, "manager check");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
