/* SPDX-License-Identifier: MIT */
/* attack-wait-threads: what waitset.h allows at once, hammered.  Allowed:
 * different waitsets in different threads at the same time (all sleeping
 * on the process's one futex word), zcp_trigger_fire() in any thread beside
 * anything, trigger open/close from any thread, different subscribers and
 * publishers beside each other.  Each waiter thread owns a waitset that it
 * keeps destroying/re-creating (with an fd), attaching/detaching; paired
 * firer threads fire its trigger through their own handle and count a
 * wake-up lost when the waiter does not see it within 2 s (x ZT_SLOWDOWN).  Chaos threads
 * open/close/fire triggers and publish to every waiter's topic. */
#include "attack-wait.h"
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#define W 6
/* run 3 s (x ZT_SLOWDOWN); "make stress" (ZCP_TEST_ITERS set): 30 s */
#define RUN_NS (zt_iters(0) > 0 ? ZT_MS(30000) : ZT_MS(3000))

static zcp_mempool_manager *M;
static atomic_int stop, lost, errors, rounds, chaos_ops;
static sem_t ready[W], seen[W];
static char errbuf[256];

static void note_err(const char *what, int r)
{
	if (atomic_fetch_add(&errors, 1) == 0)
		snprintf(errbuf, sizeof errbuf, "%s: %s", what, zcp_err_name(r));
}

static int sem_wait_ms(sem_t *s, int ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	while (sem_timedwait(s, &ts))
		if (errno != EINTR)
			return -1;
	return 0;
}

static void *waiter(void *arg)
{
	int id = (int)(intptr_t)arg;
	unsigned seed = id * 7777;
	char tn[32];
	snprintf(tn, sizeof tn, "trig%d", id);
	zcp_trigger *t;
	zcp_subscriber *sub;
	int r;
	if ((r = zcp_trigger_open(M, tn, &t)) || (r = zcp_subscriber_create(M, "bcast", NULL, &sub))) {
		note_err("waiter setup", r);
		return NULL;
	}
	zcp_waitset *ws = NULL;
	while (!atomic_load(&stop)) {
		/* chaos on our own waitset */
		int what = rand_r(&seed) % 4;
		if (!ws || what == 0) {
			zcp_waitset_destroy(ws);
			if ((r = zcp_waitset_create(M, &ws))) {
				note_err("create", r);
				ws = NULL;
				continue;
			}
			if ((r = zcp_waitset_attach_trigger(ws, t, NULL)))
				note_err("attach trig", r);
			if (rand_r(&seed) % 2) {
				int fd;
				r = zcp_waitset_fd(ws, &fd);
				if (r && r != ZCP_ENOSPC)
					note_err("fd", r);
			}
		}
		if (what == 1) {
			r = zcp_waitset_attach_subscriber(ws, sub, NULL);
			if (r && r != ZCP_EBUSY)
				note_err("attach sub", r);
		} else if (what == 2) {
			r = zcp_waitset_detach(ws, sub);
			if (r && r != ZCP_ENOENT)
				note_err("detach sub", r);
		}
		zt_drain(M, sub);
		/* one handshake round: tell the firer we're set, then wait for its fire */
		sem_post(&ready[id]);
		int64_t end = zt_now() + ZT_MS(2000);
		int got = 0;
		while (!got && zt_now() < end) {
			zcp_waitset_event ev[4];
			r = zcp_waitset_wait(ws, ev, 4, end - zt_now());
			if (r == ZCP_ETIMEDOUT || r == ZCP_EINTR)
				continue;
			if (r < 0) {
				note_err("wait", r);
				break;
			}
			for (int i = 0; i < r; i++) {
				if (ev[i].kind == ZCP_EVENT_TRIGGER && ev[i].object == t)
					got = 1;
				else if (ev[i].kind == ZCP_EVENT_DATA)
					zt_drain(M, sub);
			}
		}
		if (!got && !atomic_load(&stop))
			atomic_fetch_add(&lost, 1);
		sem_post(&seen[id]);
		atomic_fetch_add(&rounds, 1);
	}
	zcp_waitset_destroy(ws);
	zcp_subscriber_close(sub);
	zcp_trigger_close(t);
	return NULL;
}

static void *firer(void *arg)
{
	int id = (int)(intptr_t)arg;
	char tn[32];
	snprintf(tn, sizeof tn, "trig%d", id);
	zcp_trigger *t;
	int r;
	if ((r = zcp_trigger_open(M, tn, &t))) {
		note_err("firer open", r);
		return NULL;
	}
	unsigned seed = id;
	while (!atomic_load(&stop)) {
		if (sem_wait_ms(&ready[id], (int)(3000 * zt_slowdown())))
			continue;
		for (volatile int i = 0, n = rand_r(&seed) % 3000; i < n; i++)
			;
		if ((r = zcp_trigger_fire(t)))
			note_err("fire", r);
		sem_wait_ms(&seen[id], (int)(3000 * zt_slowdown()));
	}
	zcp_trigger_close(t);
	return NULL;
}

static void *chaos(void *arg)
{
	unsigned seed = (unsigned)(intptr_t)arg;
	zcp_publisher *p = NULL;
	if (seed % 2)
		zcp_publisher_create(M, "bcast", NULL, &p);
	while (!atomic_load(&stop)) {
		char tn[32];
		snprintf(tn, sizeof tn, "trig%u", rand_r(&seed) % (W + 4));
		zcp_trigger *t;
		int r = zcp_trigger_open(M, tn, &t);
		if (r == 0) {
			zcp_trigger_fire(t);
			zcp_trigger_close(t);
		} else if (r != ZCP_ENOSPC && r != ZCP_EAGAIN)
			note_err("chaos open", r);
		if (p)
			zt_publish_int(p, 1);
		atomic_fetch_add(&chaos_ops, 1);
	}
	zcp_publisher_close(p);
	return NULL;
}

int main(void)
{
	zt_init("thr", 50);
	zt_plan(4);
	M = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0, -1);
	if (!M)
		return 1;
	pthread_t wt[W], ft[W], ct[3];
	for (int i = 0; i < W; i++) {
		sem_init(&ready[i], 0, 0);
		sem_init(&seen[i], 0, 0);
	}
	for (int i = 0; i < W; i++) {
		pthread_create(&wt[i], NULL, waiter, (void *)(intptr_t)i);
		pthread_create(&ft[i], NULL, firer, (void *)(intptr_t)i);
	}
	for (int i = 0; i < 3; i++)
		pthread_create(&ct[i], NULL, chaos, (void *)(intptr_t)(i + 1));
	zt_sleep_ms((long)(RUN_NS / 1000000));
	atomic_store(&stop, 1);
	for (int i = 0; i < W; i++) {
		sem_post(&ready[i]);
		sem_post(&seen[i]);
	}
	for (int i = 0; i < W; i++) {
		pthread_join(wt[i], NULL);
		pthread_join(ft[i], NULL);
	}
	for (int i = 0; i < 3; i++)
		pthread_join(ct[i], NULL);
	zt_ok(atomic_load(&rounds) > 100, "%d handshake rounds over %d waiter threads, %d chaos ops",
	      atomic_load(&rounds), W, atomic_load(&chaos_ops));
	zt_ok(atomic_load(&lost) == 0, "no fire lost by a waiter thread (lost %d)", atomic_load(&lost));
	zt_ok(atomic_load(&errors) == 0, "no unexpected error (%d; first: %s)", atomic_load(&errors), errbuf);
	zcp_mempool_manager_destroy(M);
	int left = zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "no segments or FIFOs left (found %d)", left);
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
