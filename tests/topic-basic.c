/* SPDX-License-Identifier: MIT */
/* Publish/subscribe in one process: delivery and order, zero copy, sample
 * info, overflow policies, history, types, closing with samples queued,
 * alignment, discovery, and that every chunk comes back. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <zerocp/zerocp.h>

static zcp_mempool_manager *m;

static uint64_t used(unsigned pool)
{
	zcp_pool_stats s;
	return zcp_mempool_manager_pool_stats(m, (int)pool, &s) == 0 ? s.used : UINT64_MAX;
}

static int publish_u64(zcp_publisher *p, uint64_t v)
{
	zcp_chunk *c = zcp_publisher_loan(p, 64);
	if (!c)
		return -errno;
	memcpy(zcp_sample_data(c), &v, sizeof v);
	int err = zcp_publisher_publish(p, c);
	if (err)
		zcp_chunk_release(m, c);
	return err;
}

/* Take one sample's value, or UINT64_MAX when none. */
static uint64_t take_u64(zcp_subscriber *s)
{
	zcp_chunk *c = zcp_subscriber_take(s);
	if (!c)
		return UINT64_MAX;
	uint64_t v;
	memcpy(&v, zcp_sample_data(c), sizeof v);
	zcp_chunk_release(m, c);
	return v;
}

static void basics(void)
{
	zcp_publisher *p;
	zcp_subscriber *a, *b;
	is_int(zcp_subscriber_create(m, "basic", NULL, &a), 0, "subscriber a");
	is_int(zcp_subscriber_create(m, "basic", NULL, &b), 0, "subscriber b");
	is_int(zcp_publisher_create(m, "basic", NULL, &p), 0, "publisher");
	ok(zcp_subscriber_take(a) == NULL && errno == EAGAIN, "empty: NULL, EAGAIN");

	zcp_chunk *c = zcp_publisher_loan(p, 100);
	ok(c != NULL, "loan");
	strcpy(zcp_sample_data(c), "hello");
	void *where = zcp_chunk_data(c);
	is_int(zcp_publisher_publish(p, c), 0, "publish");
	zcp_chunk *ca = zcp_subscriber_take(a), *cb = zcp_subscriber_take(b);
	ok(ca && cb && ca == c && cb == c && zcp_chunk_data(ca) == where,
	   "both subscribers get the same chunk (no copy)");
	ok(ca && strcmp(zcp_sample_data(ca), "hello") == 0, "content");
	is_int((long long)zcp_chunk_refcount(ca), 3, "refcount: our two subscribers' + the ring's");
	zcp_sample_info info;
	ok(zcp_chunk_sample_info(ca, &info) == 0 && info.origin == zcp_publisher_id(p) &&
		   info.sequence == 0 && info.timestamp_ns > 0,
	   "sample info: origin, sequence 0, a timestamp");
	zcp_chunk_release(m, ca);
	zcp_chunk_release(m, cb);
	ok(zcp_subscriber_take(a) == NULL && errno == EAGAIN, "each sample once");

	for (uint64_t i = 1; i <= 10; i++)
		publish_u64(p, i);
	int order = 1;
	for (uint64_t i = 1; i <= 10; i++)
		order &= take_u64(a) == i;
	ok(order, "ten samples in publish order");
	is_int((long long)zcp_subscriber_waiting(b), 10, "b has ten waiting");
	is_int((long long)zcp_subscriber_lost(b), 0, "nothing lost yet");
	for (uint64_t i = 11; i <= 30; i++)
		publish_u64(p, i);
	is_int((long long)zcp_subscriber_lost(b), 14, "b fell 30 behind a queue of 16: 14 lost");
	is_int((long long)take_u64(b), 15, "b's oldest is sample 15");
	is_int((long long)zcp_subscriber_lost(b), 14, "lost stays 14 after taking");
	is_int(zcp_subscriber_close(b), 0, "close b with samples waiting");
	is_int(zcp_subscriber_close(a), 0, "close a");
	is_int(zcp_publisher_close(p), 0, "close the publisher");
	is_int((long long)used(0), 0, "every chunk back in its pool");
}

static void reject(void)
{
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 4;
	o.overflow = ZCP_OVERFLOW_REJECT;
	zcp_publisher *p;
	zcp_subscriber *s;
	is_int(zcp_subscriber_create(m, "reject", &o, &s), 0, "reject: subscriber");
	is_int(zcp_publisher_create(m, "reject", &o, &p), 0, "reject: publisher");
	for (uint64_t i = 0; i < 4; i++)
		publish_u64(p, i);
	zcp_chunk *c = zcp_publisher_loan(p, 64);
	is_int(zcp_publisher_publish(p, c), ZCP_EFULL, "fifth publish: ZCP_EFULL");
	ok(zcp_chunk_release(m, c) == 0, "the caller kept its chunk");
	is_int((long long)take_u64(s), 0, "take one");
	is_int(publish_u64(p, 4), 0, "room again");
	int order = 1;
	for (uint64_t i = 1; i <= 4; i++)
		order &= take_u64(s) == i;
	ok(order, "nothing lost under REJECT");
	is_int((long long)zcp_subscriber_lost(s), 0, "lost 0");
	zcp_subscriber_close(s);
	zcp_publisher_close(p);
	is_int((long long)used(0), 0, "reject: every chunk back");
}

static void history(void)
{
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.history = 3;
	zcp_publisher *p;
	is_int(zcp_publisher_create(m, "hist", &o, &p), 0, "history: publisher");
	for (uint64_t i = 0; i < 10; i++)
		publish_u64(p, i);
	zcp_subscriber *late;
	is_int(zcp_subscriber_create(m, "hist", &o, &late), 0, "late subscriber");
	uint64_t a = take_u64(late), b = take_u64(late), c = take_u64(late);
	ok(a == 7 && b == 8 && c == 9, "late subscriber gets the last 3 (%llu %llu %llu)",
	   (unsigned long long)a, (unsigned long long)b, (unsigned long long)c);
	ok(take_u64(late) == UINT64_MAX, "and no more");
	is_int(zcp_publisher_close(p), 0, "publisher closes, history stays");
	zcp_subscriber *later;
	is_int(zcp_subscriber_create(m, "hist", &o, &later), 0, "subscriber after the close");
	ok(take_u64(later) == 7, "it still gets the closed publisher's history");
	zcp_subscriber_close(later);
	zcp_subscriber_close(late);
	zcp_topic_info ti;
	int idx = -1;
	for (int i = 0; i < zcp_topic_slots(m); i++)
		if (zcp_topic_get_info(m, i, &ti) == 0 && strcmp(ti.name, "hist") == 0)
			idx = i;
	ok(idx >= 0 && ti.kept == 3 && ti.closed_publishers == 1,
	   "discovery: the closed publisher's ring keeps its history (%llu)",
	   (unsigned long long)ti.kept);
}

static void closed_publisher_delivers(void)
{
	zcp_subscriber *s;
	zcp_publisher *p;
	uint64_t before = used(0);
	is_int(zcp_subscriber_create(m, "bye", NULL, &s), 0, "bye: subscriber");
	is_int(zcp_publisher_create(m, "bye", NULL, &p), 0, "bye: publisher");
	publish_u64(p, 42);
	is_int(zcp_publisher_close(p), 0, "publisher closes right after publishing");
	is_int((long long)take_u64(s), 42, "its sample is still delivered");
	zcp_subscriber_close(s);
	is_int((long long)used(0), (long long)before, "bye: every chunk back");
}

static void types(void)
{
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.type_name = "pose";
	o.type_size = 56;
	o.type_align = 256;
	zcp_publisher *p;
	zcp_subscriber *s;
	is_int(zcp_publisher_create(m, "typed", &o, &p), 0, "typed publisher");
	o.type_size = 64;
	is_int(zcp_subscriber_create(m, "typed", &o, &s), ZCP_ETYPE, "other size: ZCP_ETYPE");
	o.type_size = 56;
	o.type_name = "twist";
	is_int(zcp_subscriber_create(m, "typed", &o, &s), ZCP_ETYPE, "other name: ZCP_ETYPE");
	o.type_name = "pose";
	o.type_align = 0;
	is_int(zcp_subscriber_create(m, "typed", &o, &s), ZCP_ETYPE, "other alignment: ZCP_ETYPE");
	o.type_align = 256;
	is_int(zcp_subscriber_create(m, "typed", &o, &s), 0, "same type: subscriber");
	ok(zcp_publisher_loan(p, 57) == NULL && errno == -ZCP_EINVAL, "loan of another size: EINVAL");
	zcp_chunk *c = zcp_publisher_loan(p, 0);
	ok(c && ((uintptr_t)zcp_sample_data(c) & 255) == 0, "payload aligned to 256");
	memset(zcp_sample_data(c), 7, 56);
	zcp_publisher_publish(p, c);
	zcp_chunk *r = zcp_subscriber_take(s);
	ok(r && zcp_sample_data(r) == zcp_sample_data(c) && ((char *)zcp_sample_data(r))[55] == 7,
	   "subscriber sees the same aligned payload");
	zcp_chunk_release(m, r);
	zcp_subscriber_close(s);
	zcp_publisher_close(p);
	is_int(zcp_publisher_create(m, "bad/name", NULL, &p), ZCP_EINVAL, "bad topic name: EINVAL");
	zcp_topic_options_init(&o);
	o.capacity = 1000;
	is_int(zcp_publisher_create(m, "big", &o, &p), ZCP_EINVAL, "capacity above max_queue: EINVAL");
}

static void republish(void)
{
	zcp_publisher *p1, *p2;
	zcp_subscriber *s;
	uint64_t before = used(0);
	zcp_publisher_create(m, "re1", NULL, &p1);
	zcp_publisher_create(m, "re2", NULL, &p2);
	zcp_subscriber_create(m, "re1", NULL, &s);
	publish_u64(p1, 5);
	zcp_chunk *c = zcp_subscriber_take(s);
	is_int(zcp_publisher_publish(p2, c), ZCP_EBUSY, "republishing a kept sample: ZCP_EBUSY");
	is_int(zcp_chunk_release(m, c), 0, "caller still holds it");
	zcp_chunk *g = zcp_chunk_get(m, 64);
	zcp_chunk_ref(m, g);
	is_int(zcp_publisher_publish(p1, g), 0, "publishing a chunk held twice");
	is_int(zcp_publisher_publish(p2, g), ZCP_EBUSY, "the same chunk on a second topic: ZCP_EBUSY");
	is_int(zcp_chunk_release(m, g), 0, "our other reference");
	is_int(zcp_chunk_release(m, g), ZCP_EALREADY, "and no more");
	zcp_subscriber_close(s);
	zcp_publisher_close(p1);
	zcp_publisher_close(p2);
	is_int((long long)used(0), (long long)before, "republish: every chunk back");
}

static void limits(void)
{
	zcp_publisher *p[3];
	int n = 0, err = 0;
	for (; n < 3 && !(err = zcp_publisher_create(m, "lim", NULL, &p[n])); n++)
		;
	is_int(err, ZCP_EENDPOINTS, "two publishers per topic in this config: the third ZCP_EENDPOINTS");
	while (n > 0)
		zcp_publisher_close(p[--n]);
	ok(zcp_publisher_create(m, "lim", NULL, &p[0]) == 0, "closing makes room");
	zcp_publisher_close(p[0]);
}

static int topic_index(const char *name, zcp_topic_info *ti)
{
	for (int i = 0; i < zcp_topic_slots(m); i++)
		if (zcp_topic_get_info(m, i, ti) == 0 && strcmp(ti->name, name) == 0)
			return i;
	return -1;
}

/* Five publishers in turn through two places: the topic's published count
 * keeps the samples of those whose places were freed and reused. */
static void published_survives_reuse(void)
{
	zcp_subscriber *s;
	is_int(zcp_subscriber_create(m, "count", NULL, &s), 0, "count: a subscriber");
	uint64_t sent = 0, got = 0;
	int errs = 0;
	for (int r = 0; r < 5; r++) {
		zcp_publisher *p;
		if (zcp_publisher_create(m, "count", NULL, &p) != 0) {
			errs++;
			continue;
		}
		for (int k = 0; k <= r; k++)
			sent += publish_u64(p, (uint64_t)k) == 0;
		while (take_u64(s) != UINT64_MAX)
			got++;
		zcp_publisher_close(p);
	}
	zcp_topic_info ti;
	ok(topic_index("count", &ti) >= 0 && errs == 0 && sent == 15 && got == 15,
	   "count: 5 publishers through 2 places published 15, all taken (%d errors, %llu, %llu)",
	   errs, (unsigned long long)sent, (unsigned long long)got);
	is_int((long long)ti.published, 15, "count: zcp_topic_info.published counts the freed places' samples too");
	zcp_subscriber_close(s);
}

int main(void)
{
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	plan_lazy();
	zcp_mempool_config_add_entry(cfg, 64, 128);
	zcp_mempool_config_add_entry(cfg, 1024, 8);
	zcp_mempool_config_set_topics(cfg, 12, 2, 4, 32);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	basics();
	reject();
	history();
	closed_publisher_delivers();
	types();
	republish();
	limits();
	published_survives_reuse();
	is_int(zcp_mempool_manager_check(m), 0, "manager check");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
