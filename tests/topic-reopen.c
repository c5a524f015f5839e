/* SPDX-License-Identifier: MIT */
/* A subscriber's take while its publisher's place is retired and opened
 * again: the new publisher's first sample is taken once.
 *
 * take() reads a publisher place's state (follow(): is it the incarnation
 * our cursor follows?), then its tail.  Parked between the two (crash-point
 * hook at sub.followed), the main thread closes publisher P1 (its place is
 * retired at once: we read all it published), opens P2 (the same place, a
 * new incarnation whose positions go on from P1's tail, where our cursor
 * stands) and publishes P2's sample 0.  The tail then read is P2's: our
 * cursor, still on P1's incarnation, names P2's sample 0 and took it; the
 * next take saw the new incarnation, moved the cursor back to its base
 * and took sample 0 again (attack-topic-kill, REJECT round 5 on a loaded
 * CI machine: "ksub: tag 12 seq 0 after 0").
 */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "crashpoint.h"

static _Thread_local int is_a;
static _Atomic int parked, go, armed;

static void hook(const char *name)
{
	if (is_a && strcmp(name, "sub.followed") == 0 && atomic_exchange(&armed, 0)) {
		atomic_store(&parked, 1);
		while (!atomic_load(&go))
			usleep(100);
	}
}

struct arg {
	zcp_subscriber *s;
	zcp_chunk *c;
	int err;
};

static void *thread_a(void *p)
{
	struct arg *a = p;
	is_a = 1;
	errno = 0;
	a->c = zcp_subscriber_take(a->s);
	a->err = a->c ? 0 : errno;
	return NULL;
}

static void publish(zcp_mempool_manager *m, zcp_publisher *p, char mark)
{
	zcp_chunk *c = zcp_publisher_loan(p, 64);
	ZT_REQUIRE(c);
	memset(zcp_sample_data(c), mark, 64);
	ZT_REQUIRE(zcp_publisher_publish(p, c) == 0);
	(void)m;
}

/* The sample's origin and sequence, or origin 0. */
static zcp_sample_info info_of(const zcp_chunk *c)
{
	zcp_sample_info i;
	memset(&i, 0, sizeof i);
	if (zcp_chunk_sample_info(c, &i) != 0)
		memset(&i, 0, sizeof i);
	return i;
}

int main(void)
{
	plan_lazy();
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 128, 16);
	zcp_mempool_config_set_topics(cfg, 4, 4, 4, 16);
	zcp_mempool_manager *m;
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);

	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 8;
	zcp_publisher *p1, *p2;
	zcp_subscriber *s;
	ZT_REQUIRE(zcp_subscriber_create(m, "reopen", &o, &s) == 0);
	ZT_REQUIRE(zcp_publisher_create(m, "reopen", &o, &p1) == 0);
	publish(m, p1, '1');
	zcp_chunk *c = zcp_subscriber_take(s);
	ZT_REQUIRE(c && info_of(c).origin == zcp_publisher_id(p1));
	ZT_REQUIRE(zcp_chunk_release(m, c) == 0);

	/* A's take parks after reading P1's place as P1's. */
	zcp__crash_hook(hook);
	atomic_store(&armed, 1);
	struct arg a = {s, NULL, -1};
	pthread_t t;
	ZT_REQUIRE(pthread_create(&t, NULL, thread_a, &a) == 0);
	for (int i = 0; i < 100000 && !atomic_load(&parked); i++)
		usleep(100);
	if (!atomic_load(&parked))
		bail("thread A never reached sub.followed");
	/* P1 goes (all it published was read: its place is free at once),
	 * P2 opens in the same place and publishes its sample 0. */
	ZT_REQUIRE(zcp_publisher_close(p1) == 0);
	ZT_REQUIRE(zcp_publisher_create(m, "reopen", &o, &p2) == 0);
	ok((zcp_publisher_id(p2) & 0x3ff) == 0, "P2 opened in P1's place (id %llx)",
	   (unsigned long long)zcp_publisher_id(p2));
	publish(m, p2, '2');
	atomic_store(&go, 1);
	pthread_join(t, NULL);
	zcp__crash_hook(NULL);

	/* Whatever A got, and then all the rest: P2's sample 0 exactly once. */
	unsigned got = 0, others = 0;
	if (a.c) {
		zcp_sample_info i = info_of(a.c);
		if (i.origin == zcp_publisher_id(p2) && i.sequence == 0)
			got++;
		else
			others++;
		ZT_REQUIRE(zcp_chunk_release(m, a.c) == 0);
	} else {
		is_int(a.err, EAGAIN, "the parked take found nothing (EAGAIN)");
	}
	for (int k = 0; k < 4; k++) {
		c = zcp_subscriber_take(s);
		if (!c)
			continue;
		zcp_sample_info i = info_of(c);
		if (i.origin == zcp_publisher_id(p2) && i.sequence == 0)
			got++;
		else
			others++;
		ZT_REQUIRE(zcp_chunk_release(m, c) == 0);
	}
	is_int(got, 1, "P2's sample 0 taken once (by the parked take: %s)", a.c ? "yes" : "no");
	is_int(others, 0, "nothing else taken");
	is_int((long long)zcp_subscriber_lost(s), 0, "nothing counted lost");

	ZT_REQUIRE(zcp_publisher_close(p2) == 0);
	ZT_REQUIRE(zcp_subscriber_close(s) == 0);
	is_int(zcp_mempool_manager_check(m), 0, "check()");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
