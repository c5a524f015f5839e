/* SPDX-License-Identifier: MIT */
/* Waitsets against a hostile peer: a child scribbles garbage over the
 * shared words waitsets and triggers use (doorbells and their sleeper
 * counts, trigger entries, listener and opener masks, subscribers' armed
 * flags and owners, sleepers' masks) while the parent waits, publishes
 * and fires.  Waits may wake spuriously or time out, calls may fail, but
 * nothing crashes and no wait outlives its timeout. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "topic.h"
#include "waitset.h"

#define SEC INT64_C(1000000000)
#define MS INT64_C(1000000)

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Garbage, or now and then a value that looks right. */
static uint64_t garbage(uint64_t *x, uint64_t plausible)
{
	uint64_t r = rnd(x);
	switch (r % 5) {
	case 0:
		return 0;
	case 1:
		return ~UINT64_C(0);
	case 2:
		return plausible;
	default:
		return rnd(x);
	}
}

/* Scribble over everything of the waitsets' for `ns` nanoseconds. */
static void scribble(zcp_mempool_manager *cm, unsigned topic, int64_t ns, uint64_t seed)
{
	int64_t end = mono_ns() + ns;
	uint64_t x = seed | 1;
	while (mono_ns() < end) {
		for (unsigned i = 0; i < cm->geo.max_processes; i++) {
			struct zcp__proc *p = zcp__proc_at(cm, i);
			atomic_store(&p->doorbell, (uint32_t)garbage(&x, 0));
			atomic_store(&p->doorbell_sleepers, (uint32_t)garbage(&x, 1));
		}
		for (unsigned k = 0; k < cm->geo.max_triggers; k++) {
			struct zcp__trigger *e = zcp__trigger_at(cm, k);
			if (rnd(&x) % 4 == 0)
				atomic_store(&e->state, garbage(&x, 1));
			atomic_store(&e->fired, garbage(&x, 1));
			atomic_store(&e->listeners, garbage(&x, 1));
			atomic_store(&e->openers, garbage(&x, 1));
			if (rnd(&x) % 8 == 0)
				memset(e->name, (int)(rnd(&x) & 0xff), sizeof e->name);
		}
		for (unsigned i = 0; i < cm->geo.max_subscribers; i++) {
			struct zcp__subscriber_ep *s = zcp__subscriber_at(cm, topic, i);
			atomic_store(&s->armed, garbage(&x, 1));
			if (rnd(&x) % 4 == 0)
				atomic_store(&s->owner, garbage(&x, 0x101));
		}
		_Atomic uint64_t *mask = zcp__sleepers(cm, topic);
		for (unsigned k = 0; k < zcp__sleeper_words(cm); k++)
			atomic_store(&mask[k], garbage(&x, 1));
		usleep(100);
	}
}

int main(void)
{
	plan_lazy();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 64, 1024);
	zcp_mempool_config_set_triggers(cfg, 8);
	const char *name = zt_name();
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);

	zcp_waitset *ws = NULL;
	zcp_subscriber *s = NULL;
	zcp_publisher *p = NULL;
	zcp_trigger *t = NULL;
	zcp_waitset_event ev[4];
	ok(zcp_waitset_create(m, &ws) == 0 && zcp_subscriber_create(m, "h", NULL, &s) == 0 &&
		   zcp_publisher_create(m, "h", NULL, &p) == 0 && zcp_trigger_open(m, "ht", &t) == 0,
	   "a waitset, a subscriber, a publisher, a trigger");
	ok(zcp_waitset_attach_subscriber(ws, s, s) == 0 && zcp_waitset_attach_trigger(ws, t, t) == 0,
	   "attached");
	unsigned topic = s->topic_index;

	long dur = 1000 * zt_slowdown();
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		scribble(cm, topic, dur * MS, (uint64_t)getpid());
		_exit(0); /* no detach: our own slot's words are garbage too */
	}
	/* Meanwhile: waits of 20 ms, publishes, fires. */
	long waits = 0, late = 0, bad = 0, events = 0;
	int64_t worst = 0;
	int64_t end = mono_ns() + dur * MS;
	while (mono_ns() < end) {
		int64_t t0 = mono_ns();
		int n = zcp_waitset_wait(ws, ev, 4, 20 * MS);
		int64_t dt = mono_ns() - t0;
		waits++;
		if (dt > worst)
			worst = dt;
		if (dt > 20 * MS + 500 * MS)
			late++;
		if (n > 4 || (n <= 0 && n != ZCP_ETIMEDOUT))
			bad++;
		for (int i = 0; i < n && i < 4; i++) {
			events++;
			if (ev[i].kind == ZCP_EVENT_DATA) {
				zcp_chunk *c;
				while ((c = zcp_subscriber_take(s)) != NULL)
					zcp_chunk_release(m, c);
			}
		}
		if (waits % 3 == 0) {
			zcp_chunk *c = zcp_publisher_loan(p, 8);
			if (c && zcp_publisher_publish(p, c) != 0)
				zcp_chunk_release(m, c);
		}
		if (waits % 5 == 0)
			zcp_trigger_fire(t); /* 0 or ZCP_ESTALE */
	}
	zt_ok_child(pid, "the scribbler ran");
	ok(waits > 5, "%ld waits under scribbling (%ld events)", waits, events);
	is_int(late, 0, "no wait outlived its 20 ms timeout by 500 ms (worst %lld ms)",
	       (long long)(worst / MS));
	is_int(bad, 0, "every wait returned events (at most max) or ZCP_ETIMEDOUT");
	/* A forever wait still ends: a fire from a child (the trigger's
	 * entry may be scribbled: then a signal ends it). */
	zcp_reclaim_report rep;
	zcp_mempool_manager_reclaim(m, &rep);
	int64_t t0 = mono_ns();
	int n = zcp_waitset_wait(ws, ev, 4, 200 * MS);
	ok((n > 0 || n == ZCP_ETIMEDOUT) && mono_ns() - t0 < 2 * SEC,
	   "after the scribbler is gone and reclaimed: a wait returns (%s)",
	   n > 0 ? "events" : zcp_err_name(n));
	ok(zcp_waitset_detach(ws, t) == 0 && zcp_waitset_detach(ws, s) == 0, "detach both");
	zcp_waitset_destroy(ws);
	is_int(zcp_trigger_close(t), 0, "trigger close");
	zcp_chunk *c;
	while ((c = zcp_subscriber_take(s)) != NULL)
		zcp_chunk_release(m, c);
	zcp_subscriber_close(s);
	zcp_publisher_close(p);
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
