/* SPDX-License-Identifier: MIT */
/* Abuses topic.h's API (public API only): every call must answer an error
 * code, never crash, abort or hang, and never change anything on error:
 *  H1 bad arguments (NULL, names, options, sizes, indexes);
 *  H2 publishing what one should not: a sample taken from a subscriber
 *     while a ring keeps it (ZCP_EBUSY), the same chunk twice, a chunk
 *     released already, a chunk of another manager; releasing a taken
 *     sample twice; the subscriber still gets each sample once;
 *  H3 a read-only handle (ZCP_EPERM) and a forked child (ZCP_ECHILD, even
 *     after it detached the parent's handle), the parent unaffected;
 *  H4 threads racing create/close on one topic name with two payload
 *     types: each create answers 0, ZCP_ETYPE, ZCP_EENDPOINTS or
 *     ZCP_EAGAIN, and no subscriber ever takes a sample of another type;
 *  H5 topic table exhaustion (ZCP_ETOPICS) and recovery; topics off. */
#include "tap.h"
#include "zt.h"
#include "attack-topic.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

static zcp_mempool_manager *m;
static const char *mname;

static zcp_mempool_manager *make(unsigned topics, unsigned pubs, unsigned subs, unsigned queue,
				 const char **name)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 256);
	zcp_mempool_config_add_entry(cfg, 1024, 128);
	if (zcp_mempool_config_set_topics(cfg, topics, pubs, subs, queue) != 0)
		bail("set_topics");
	zcp_mempool_manager *mm;
	const char *n = zt_name();
	if (zcp_mempool_manager_create(n, cfg, &mm) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	if (name)
		*name = n;
	return mm;
}

static void h1(void)
{
	zcp_publisher *p = NULL;
	zcp_subscriber *s = NULL;
	zcp_topic_options o;
	zcp_topic_options_init(NULL);
	is_int(zcp_publisher_create(NULL, "t", NULL, &p), ZCP_EINVAL, "H1 create: NULL manager");
	is_int(zcp_publisher_create(m, NULL, NULL, &p), ZCP_EINVAL, "H1 create: NULL name");
	is_int(zcp_publisher_create(m, "t", NULL, NULL), ZCP_EINVAL, "H1 create: NULL out");
	is_int(zcp_subscriber_create(m, "", NULL, &s), ZCP_EINVAL, "H1 create: empty name");
	char longname[80];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	longname[ZCP_TOPIC_NAME_MAX + 1] = 0;
	is_int(zcp_subscriber_create(m, longname, NULL, &s), ZCP_EINVAL, "H1 create: 64-character name");
	longname[ZCP_TOPIC_NAME_MAX] = 0;
	is_int(zcp_subscriber_create(m, longname, NULL, &s), 0, "H1 create: 63-character name");
	zcp_subscriber_close(s);
	zcp_topic_options_init(&o);
	o.overflow = 7;
	is_int(zcp_publisher_create(m, "t", &o, &p), ZCP_EINVAL, "H1 create: bad overflow");
	zcp_topic_options_init(&o);
	o.type_align = 48;
	is_int(zcp_publisher_create(m, "t", &o, &p), ZCP_EINVAL, "H1 create: alignment not a power of two");
	o.type_align = 8192;
	is_int(zcp_publisher_create(m, "t", &o, &p), ZCP_EINVAL, "H1 create: alignment 8192");
	zcp_topic_options_init(&o);
	o.history = 1000;
	is_int(zcp_subscriber_create(m, "t", &o, &s), ZCP_EINVAL, "H1 create: history above max_queue");
	zcp_topic_options_init(&o);
	char longtype[80];
	memset(longtype, 'y', sizeof longtype - 1);
	longtype[sizeof longtype - 1] = 0;
	o.type_name = longtype;
	int e = zcp_publisher_create(m, "t-longtype", &o, &p);
	ok(e == ZCP_EINVAL, "H1 create: a 79-character type name is refused (%s)", zcp_err_name(e));
	if (e == 0)
		zcp_publisher_close(p);
	o.type_name = NULL;

	zcp_chunk *c;
	is_int(zcp_publisher_create(m, "t", NULL, &p), 0, "H1 an untyped publisher");
	ok(zcp_publisher_loan(NULL, 64) == NULL && errno == EINVAL, "H1 loan: NULL publisher");
	ok(zcp_publisher_loan(p, 0) == NULL && errno == EINVAL, "H1 loan: size 0 on an untyped topic");
	ok(zcp_publisher_loan(p, UINT64_C(1) << 50) == NULL && errno == E2BIG, "H1 loan: too large: E2BIG");
	c = zcp_publisher_loan_aligned(p, 64, 3);
	ok(c == NULL && errno == EINVAL, "H1 loan_aligned: align 3 (%s, errno %d)", c ? "a chunk" : "NULL", errno);
	if (c)
		zcp_chunk_release(m, c);
	c = zcp_publisher_loan_aligned(p, 64, 8192);
	ok(c == NULL && errno == EINVAL, "H1 loan_aligned: align 8192 (%s, errno %d)", c ? "a chunk" : "NULL", errno);
	if (c)
		zcp_chunk_release(m, c);
	c = zcp_publisher_loan_aligned(p, 64, 4096);
	ok(c == NULL && errno == E2BIG, "H1 loan_aligned 4096 needs more than the largest pool: E2BIG (%d)", errno);
	c = zcp_publisher_loan_aligned(p, 64, 512);
	ok(c && ((uintptr_t)zcp_sample_data(c) & 511) == 0, "H1 loan_aligned 512 honoured");
	is_int(zcp_publisher_publish(NULL, c), ZCP_EINVAL, "H1 publish: NULL publisher");
	is_int(zcp_publisher_publish(p, NULL), ZCP_EINVAL, "H1 publish: NULL chunk");
	zcp_sample_info info;
	is_int(zcp_chunk_sample_info(c, &info), ZCP_ENOENT, "H1 sample_info of a loaned, unpublished chunk");
	is_int(zcp_chunk_sample_info(NULL, &info), ZCP_EINVAL, "H1 sample_info(NULL)");
	is_int(zcp_chunk_sample_info(c, NULL), ZCP_EINVAL, "H1 sample_info(chunk, NULL)");
	is_int(zcp_chunk_release(m, c), 0, "H1 a loan released unpublished");
	ok(zcp_sample_data(NULL) == NULL, "H1 sample_data(NULL)");
	ok(zcp_subscriber_take(NULL) == NULL && errno == EINVAL, "H1 take(NULL)");
	is_int(zcp_subscriber_waiting(NULL), ZCP_EINVAL, "H1 waiting(NULL)");
	is_int((long long)zcp_subscriber_lost(NULL), 0, "H1 lost(NULL)");
	is_int((long long)zcp_publisher_id(NULL), 0, "H1 id(NULL)");
	is_int(zcp_publisher_close(NULL), 0, "H1 close(NULL)");
	is_int(zcp_subscriber_close(NULL), 0, "H1 close(NULL) sub");
	zcp_topic_info ti;
	zcp_endpoint_info ei;
	is_int(zcp_topic_get_info(m, -1, &ti), ZCP_EINVAL, "H1 topic_get_info(-1)");
	is_int(zcp_topic_get_info(m, zcp_topic_slots(m), &ti), ZCP_EINVAL, "H1 topic_get_info(slots)");
	is_int(zcp_topic_get_info(m, 0, NULL), ZCP_EINVAL, "H1 topic_get_info(NULL out)");
	is_int(zcp_topic_get_info(NULL, 0, &ti), ZCP_EINVAL, "H1 topic_get_info(NULL mgr)");
	is_int(zcp_topic_get_endpoint(m, 0, -1, &ei), ZCP_EINVAL, "H1 get_endpoint(k -1)");
	is_int(zcp_topic_get_endpoint(m, 0, zcp_topic_endpoint_slots(m), &ei), ZCP_EINVAL,
	       "H1 get_endpoint(k slots)");
	ok(zcp_topic_slots(NULL) < 0 && zcp_topic_endpoint_slots(NULL) < 0, "H1 slots(NULL)");
	is_int(zcp_mempool_config_set_topics(NULL, 1, 1, 1, 1), ZCP_EINVAL, "H1 set_topics(NULL)");
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	is_int(zcp_mempool_config_set_topics(cfg, 4097, 1, 1, 1), ZCP_EINVAL, "H1 set_topics 4097 topics");
	is_int(zcp_mempool_config_set_topics(cfg, 1, 0, 1, 1), ZCP_EINVAL, "H1 set_topics 0 publishers");
	is_int(zcp_mempool_config_set_topics(cfg, 1, 1, 1, 65537), ZCP_EINVAL, "H1 set_topics 65537 slots");
	zcp_mempool_config_free(cfg);
	zcp_publisher_close(p);
}

static void h2(void)
{
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 4;
	zcp_publisher *p, *q;
	zcp_subscriber *s;
	zcp_subscriber_create(m, "h2a", &o, &s);
	zcp_publisher_create(m, "h2a", &o, &p);
	zcp_publisher_create(m, "h2b", &o, &q);
	zcp_chunk *c = zcp_publisher_loan(p, 64);
	at_stamp(m, c, 1, 0, 0, 0);
	is_int(zcp_publisher_publish(p, c), 0, "H2 publish");
	int e = zcp_publisher_publish(p, c);
	ok(e == ZCP_EALREADY || e == ZCP_EBUSY, "H2 the same chunk published twice: %s", zcp_err_name(e));
	zcp_chunk *t = zcp_subscriber_take(s);
	ok(t == c, "H2 the subscriber gets it");
	ok(zcp_subscriber_take(s) == NULL && errno == EAGAIN, "H2 once");
	is_int(zcp_publisher_publish(q, t), ZCP_EBUSY, "H2 a taken sample on another topic, its ring keeping it: ZCP_EBUSY");
	is_int(zcp_publisher_publish(p, t), ZCP_EBUSY, "H2 ... and on its own topic: ZCP_EBUSY");
	ok(at_verify(t, 1, 0, NULL) == 0, "H2 still intact after the refusals");
	/* once the ring has moved on (capacity 4: 4 more samples), the holder
	 * may publish it again like any chunk it holds */
	for (int i = 1; i <= 5; i++) {
		zcp_chunk *d = zcp_publisher_loan(p, 64);
		at_stamp(m, d, 1, (uint64_t)i, 0, 0);
		zcp_publisher_publish(p, d);
		zcp_chunk *x = zcp_subscriber_take(s);
		if (x)
			zcp_chunk_release(m, x);
	}
	e = zcp_publisher_publish(q, t);
	ok(e == 0, "H2 the ring reused: the held sample publishes on another topic (%s)", zcp_err_name(e));
	if (e)
		zcp_chunk_release(m, t);
	zcp_chunk *u = zcp_publisher_loan(p, 64);
	zcp_chunk_release(m, u);
	is_int(zcp_publisher_publish(p, u), ZCP_EALREADY, "H2 a released loan: ZCP_EALREADY");
	ok(zcp_subscriber_take(s) == NULL && errno == EAGAIN, "H2 ... and nothing delivered");
	zcp_chunk *d = zcp_publisher_loan(p, 64);
	zcp_publisher_publish(p, d);
	zcp_chunk *x = zcp_subscriber_take(s);
	is_int(zcp_chunk_release(m, x), 0, "H2 release a taken sample");
	is_int(zcp_chunk_release(m, x), ZCP_EALREADY, "H2 release it twice: ZCP_EALREADY");
	const char *n2;
	zcp_mempool_manager *other = make(2, 2, 2, 8, &n2);
	zcp_chunk *f = zcp_chunk_get(other, 64);
	is_int(zcp_publisher_publish(p, f), ZCP_EINVAL, "H2 a chunk of another manager: ZCP_EINVAL");
	zcp_chunk_release(other, f);
	zcp_mempool_manager_destroy(other);
	/* a typed topic and a raw chunk too small for its type */
	zcp_topic_options_init(&o);
	o.type_name = "big";
	o.type_size = 1000;
	zcp_publisher *tp;
	zcp_subscriber *ts;
	zcp_publisher_create(m, "h2typed", &o, &tp);
	zcp_subscriber_create(m, "h2typed", &o, &ts);
	zcp_chunk *small = zcp_chunk_get(m, 64);
	e = zcp_publisher_publish(tp, small);
	if (e == 0) {
		diag("H2 note: a 64-byte raw chunk was accepted on a topic typed 1000 bytes: "
		     "subscribers would read past it (topic.h does not forbid it)");
		zcp_chunk *y = zcp_subscriber_take(ts);
		if (y)
			zcp_chunk_release(m, y);
	} else {
		zcp_chunk_release(m, small);
	}
	ok(1, "H2 a raw chunk smaller than the topic's type: %s", zcp_err_name(e));
	zcp_subscriber_close(ts);
	zcp_publisher_close(tp);
	zcp_subscriber_close(s);
	zcp_publisher_close(p);
	zcp_publisher_close(q);
	is_int((long long)at_used_all(m), 0, "H2 every chunk back");
}

static void h3(void)
{
	zcp_attach_options ao;
	zcp_attach_options_init(&ao);
	ao.read_only = 1;
	zcp_mempool_manager *ro;
	is_int(zcp_mempool_manager_attach_opts(mname, &ao, &ro), 0, "H3 read-only attach");
	zcp_publisher *p;
	zcp_subscriber *s;
	is_int(zcp_publisher_create(ro, "h3", NULL, &p), ZCP_EPERM, "H3 read-only: publisher ZCP_EPERM");
	is_int(zcp_subscriber_create(ro, "h3", NULL, &s), ZCP_EPERM, "H3 read-only: subscriber ZCP_EPERM");
	ok(zcp_topic_slots(ro) > 0, "H3 read-only: discovery works");
	zcp_mempool_manager_detach(ro);

	zcp_subscriber_create(m, "h3", NULL, &s);
	zcp_publisher_create(m, "h3", NULL, &p);
	zcp_chunk *c = zcp_publisher_loan(p, 64);
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_publisher *p2;
		zcp_subscriber *s2;
		ZT_CHECK(zcp_publisher_create(m, "h3", NULL, &p2) == ZCP_ECHILD);
		ZT_CHECK(zcp_subscriber_create(m, "h3", NULL, &s2) == ZCP_ECHILD);
		ZT_CHECK(zcp_publisher_loan(p, 64) == NULL && errno == ECHILD);
		ZT_CHECK(zcp_publisher_publish(p, c) == ZCP_ECHILD);
		ZT_CHECK(zcp_subscriber_take(s) == NULL && errno == ECHILD);
		ZT_CHECK(zcp_subscriber_waiting(s) == ZCP_ECHILD);
		/* closing the parent's endpoints here must not close them
		 * there; then the handle goes (after its objects: using them
		 * once it is detached would be a use after free) */
		zcp_publisher_close(p);
		zcp_subscriber_close(s);
		zcp_mempool_manager_detach(m);
		_exit(0);
	}
	zt_ok_child(pid, "H3 forked child: ZCP_ECHILD everywhere, closes and detach harmless");
	at_stamp(m, c, 3, 0, 0, 0);
	is_int(zcp_publisher_publish(p, c), 0, "H3 the parent's publisher still works");
	zcp_chunk *t = zcp_subscriber_take(s);
	ok(t == c && at_verify(t, 3, 0, NULL) == 0, "H3 the parent's subscriber still gets it");
	zcp_chunk_release(m, t);
	zcp_topic_info ti;
	ok(at_topic_index(m, "h3", &ti) >= 0 && ti.publishers == 1 && ti.subscribers == 1,
	   "H3 the child's closes closed nothing of the parent's");
	zcp_subscriber_close(s);
	zcp_publisher_close(p);
}

/* ---- H4 ---- */
static _Atomic long h4_bad, h4_created, h4_etype, h4_samples;
static long h4_iters;

static void *h4_thread(void *arg)
{
	uint64_t rs = (uint64_t)(uintptr_t)arg * 131 + 7;
	for (long i = 0; i < h4_iters; i++) {
		uint64_t r = at_rand(&rs);
		int type = (int)(r & 1);
		zcp_topic_options o;
		zcp_topic_options_init(&o);
		o.type_name = type ? "B" : "A";
		o.type_size = type ? 256 : 128;
		o.capacity = 4;
		int e;
		if (r & 2) {
			zcp_publisher *p;
			e = zcp_publisher_create(m, "h4", &o, &p);
			if (e == 0) {
				atomic_fetch_add(&h4_created, 1);
				for (int k = 0; k < 3; k++) {
					zcp_chunk *c = zcp_publisher_loan(p, 0);
					if (!c)
						continue;
					at_stamp(m, c, (uint64_t)type, (uint64_t)k,
						 o.type_size - sizeof(struct stamp), (uint64_t)type);
					if (zcp_publisher_publish(p, c) != 0)
						zcp_chunk_release(m, c);
				}
				zcp_publisher_close(p);
			}
		} else {
			zcp_subscriber *s;
			e = zcp_subscriber_create(m, "h4", &o, &s);
			if (e == 0) {
				atomic_fetch_add(&h4_created, 1);
				for (int k = 0; k < 20; k++) {
					zcp_chunk *c = zcp_subscriber_take(s);
					if (!c) {
						sched_yield();
						continue;
					}
					struct stamp st;
					if (at_verify(c, UINT64_MAX, 0, &st) != 0 || st.kind != (uint64_t)type ||
					    zcp_chunk_size(c) < o.type_size)
						atomic_fetch_add(&h4_bad, 1);
					atomic_fetch_add(&h4_samples, 1);
					zcp_chunk_release(m, c);
				}
				zcp_subscriber_close(s);
			}
		}
		if (e == ZCP_ETYPE)
			atomic_fetch_add(&h4_etype, 1);
		else if (e != 0 && e != ZCP_EENDPOINTS && e != ZCP_EAGAIN)
			atomic_fetch_add(&h4_bad, 1);
	}
	return NULL;
}

static void h4(void)
{
	h4_iters = zt_iters(1500);
	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, h4_thread, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	diag("H4: %ld endpoints made, %ld ZCP_ETYPE, %ld samples taken", (long)h4_created,
	     (long)h4_etype, (long)h4_samples);
	is_int((long long)h4_bad, 0, "H4 create/close races with two types: only expected answers, no sample of another type");
	ok(h4_created > 0, "H4 endpoints were made");
	is_int((long long)at_used_all(m), 0, "H4 every chunk back");
}

static void h5(void)
{
	zcp_mempool_manager *mm = make(4, 2, 2, 16, NULL);
	zcp_subscriber *s[5] = {0};
	int n = 0, e = 0;
	char name[16];
	for (; n < 5; n++) {
		snprintf(name, sizeof name, "full%d", n);
		if ((e = zcp_subscriber_create(mm, name, NULL, &s[n])) != 0)
			break;
	}
	is_int(n, 4, "H5 four topics fit");
	is_int(e, ZCP_ETOPICS, "H5 the fifth: ZCP_ETOPICS");
	zcp_publisher *p = NULL, *p2 = NULL;
	is_int(zcp_publisher_create(mm, "full0", NULL, &p), 0, "H5 an existing topic still takes a publisher");
	is_int(zcp_publisher_create(mm, "full0", NULL, &p2), 0, "H5 (second publisher)");
	zcp_publisher *p3;
	is_int(zcp_publisher_create(mm, "full0", NULL, &p3), ZCP_EENDPOINTS, "H5 a third publisher: ZCP_EENDPOINTS");
	zcp_subscriber *s2 = NULL, *s3 = NULL;
	is_int(zcp_subscriber_create(mm, "full1", NULL, &s2), 0, "H5 a second subscriber");
	is_int(zcp_subscriber_create(mm, "full1", NULL, &s3), ZCP_EENDPOINTS, "H5 a third subscriber: ZCP_EENDPOINTS");
	zcp_subscriber_close(s2); /* NULL if it failed */
	while (n > 0)
		zcp_subscriber_close(s[--n]);
	int got = 0;
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "new%d", i);
		zcp_subscriber *x;
		e = zcp_subscriber_create(mm, name, NULL, &x);
		if (e == 0) {
			got++;
			zcp_subscriber_close(x);
		} else {
			diag("H5 new topic %d after closing: %s", i, zcp_err_name(e));
		}
	}
	ok(got >= 3, "H5 topics whose endpoints all closed make room again (%d of 4 new topics; full0 keeps its publishers)", got);
	zcp_publisher_close(p);
	zcp_publisher_close(p2);
	zcp_mempool_manager_destroy(mm);
	zcp_mempool_manager *off = make(0, 1, 1, 1, NULL);
	zcp_subscriber *x;
	is_int(zcp_subscriber_create(off, "t", NULL, &x), ZCP_ETOPICS, "H5 topics off: ZCP_ETOPICS");
	zcp_mempool_manager_destroy(off);
}

int main(void)
{
	plan_lazy();
	m = make(8, 8, 8, 16, &mname);
	h1();
	h2();
	h3();
	h4();
	h5();
	is_int(zcp_mempool_manager_check(m), 0, "manager check");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
