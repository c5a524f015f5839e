/* SPDX-License-Identifier: MIT */
/* The smallest attack on ZCP_OVERFLOW_REJECT (public API only): one
 * publisher thread with capacity 2 retrying every ZCP_EFULL, one subscriber
 * thread taking beside it, in one process.  topic.h: "a subscriber that
 * falls more than `capacity` samples behind a publisher loses the oldest
 * (DROP_OLDEST ...), or the publisher is refused with ZCP_EFULL (REJECT)"
 * and "the caller keeps its chunk": so under REJECT the subscriber must
 * get every sample, in order, and zcp_subscriber_lost() stays 0.
 * Rounds (a fresh publisher and subscriber each, 16 samples): zt_iters(3000),
 * at most ~5 s. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <zerocp/zerocp.h>

#define PER_ROUND 16

static zcp_mempool_manager *m;
static _Atomic int go;

static void *pub_thread(void *arg)
{
	zcp_publisher *p = arg;
	while (!atomic_load(&go))
		;
	for (uint64_t i = 0; i < PER_ROUND; i++) {
		zcp_chunk *c = zcp_publisher_loan(p, 64);
		if (!c)
			return (void *)1;
		memcpy(zcp_sample_data(c), &i, sizeof i);
		int e;
		while ((e = zcp_publisher_publish(p, c)) == ZCP_EFULL || e == ZCP_EAGAIN)
			sched_yield();
		if (e)
			return (void *)2;
	}
	return NULL;
}

int main(void)
{
	plan_lazy();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 256);
	zcp_mempool_config_set_topics(cfg, 2, 2, 2, 16);
	if (zcp_mempool_manager_create(zt_name(), cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 2;
	o.overflow = ZCP_OVERFLOW_REJECT;
	long rounds = zt_iters(3000), r;
	int bad = 0, pub_err = 0;
	uint64_t efull_rounds = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (r = 0; r < rounds && !bad; r++) {
		zcp_subscriber *s;
		zcp_publisher *p;
		if (zcp_subscriber_create(m, "reject", &o, &s) || zcp_publisher_create(m, "reject", &o, &p))
			bail("create endpoints");
		atomic_store(&go, 0);
		pthread_t th;
		pthread_create(&th, NULL, pub_thread, p);
		atomic_store(&go, 1);
		uint64_t next = 0;
		while (next < PER_ROUND) {
			zcp_chunk *c = zcp_subscriber_take(s);
			if (!c)
				continue;
			uint64_t v;
			memcpy(&v, zcp_sample_data(c), sizeof v);
			zcp_chunk_release(m, c);
			if (v != next) {
				diag("round %ld: got sample %llu, expected %llu; zcp_subscriber_lost() = %llu",
				     r, (unsigned long long)v, (unsigned long long)next,
				     (unsigned long long)zcp_subscriber_lost(s));
				bad = 1;
			}
			next = v + 1;
		}
		if (zcp_subscriber_lost(s) != 0 && !bad) {
			diag("round %ld: every sample arrived but lost = %llu", r,
			     (unsigned long long)zcp_subscriber_lost(s));
			bad = 1;
		}
		void *ret;
		pthread_join(th, &ret);
		pub_err |= ret != NULL;
		zcp_subscriber_close(s);
		zcp_publisher_close(p);
		efull_rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec > 5 && rounds <= 3000)
			break;
	}
	ok(!pub_err, "the publisher never failed but with ZCP_EFULL");
	ok(!bad, "REJECT: no sample lost, in %ld rounds of %d samples", r, PER_ROUND);
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	is_int((long long)st.used, 0, "every chunk back");
	is_int(zcp_mempool_manager_check(m), 0, "manager check");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
