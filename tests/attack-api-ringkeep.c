/* SPDX-License-Identifier: MIT */
/* attack-api-ringkeep.c - "A chunk goes back to its pool when the last
 * subscriber has released it and its publisher's ring no longer keeps it"
 * (topic.h).  A sample evicted from a publisher's ring must go back to its
 * pool; other processes must then be able to get it.  The one exception
 * topic.h allows: one chunk a publisher keeps back for its next loan of
 * that pool, while the pool has others free, given back at a loan from
 * another pool.  (Written by an outside tester from the public docs; the
 * publisher then kept chunks of any pool, even its last one.) */
#include "attack-api.h"

static const char *nm;

static int child_get(void *arg)
{
	uint64_t size = (uint64_t)(uintptr_t)arg;
	zcp_mempool_manager *m;
	if (zcp_mempool_manager_attach(nm, &m))
		return 9;
	errno = 0;
	zcp_chunk *c = zcp_chunk_get(m, size);
	int rc = c ? 0 : (errno == ENOBUFS ? 1 : 2);
	if (c)
		zcp_chunk_release(m, c);
	zcp_mempool_manager_detach(m);
	return rc;
}

static uint64_t used(zcp_mempool_manager *m, int pool)
{
	zcp_pool_stats s;
	if (zcp_mempool_manager_pool_stats(m, pool, &s))
		return UINT64_MAX;
	return s.used;
}

int main(void)
{
	tap_init(50);
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 128, 64);  /* pool 0 */
	zcp_mempool_config_add_entry(cfg, 8192, 1);  /* pool 1: one chunk */
	zcp_mempool_config_add_entry(cfg, 16384, 8); /* pool 2: eight chunks */
	zcp_mempool_manager *m = mk_mgr("keep", cfg, &nm);
	zcp_mempool_config_free(cfg);
	if (!m) {
		tap_ok(0, "manager");
		return tap_done();
	}
	/* 1. one publisher, capacity 2, no subscriber: B then 6 small samples */
	zcp_publisher *p;
	zcp_topic_options o = topt(2, 0, ZCP_OVERFLOW_DROP_OLDEST, NULL, 0, 0);
	int e = zcp_publisher_create(m, "keep", &o, &p);
	tap_ok(e == 0, "publisher capacity 2 history 0: %s", en(e));
	zcp_chunk *b = zcp_publisher_loan(p, 5000);
	tap_ok(b && zcp_chunk_pool_index(b) == 1, "loan 5000 bytes from the single 8192 chunk");
	e = zcp_publisher_publish(p, b);
	tap_ok(e == 0, "publish it: %s", en(e));
	for (int i = 0; i < 6; i++) {
		zcp_chunk *x = zcp_publisher_loan(p, 10);
		if (!x || zcp_publisher_publish(p, x))
			tap_ok(0, "small publish %d", i);
	}
	zcp_topic_info ti;
	zcp_topic_get_info(m, 0, &ti);
	tap_ok(ti.kept == 2, "topic keeps 2 samples (the ring): kept=%" PRIu64, ti.kept);
	tap_ok(used(m, 1) == 0, "the evicted 8192 sample went back to its pool: pool 1 used=%" PRIu64 " (refcount seen by its publisher's process %" PRIu64 ")", used(m, 1), zcp_chunk_refcount(b));
	tap_ok(used(m, 0) == 2 || used(m, 0) == 3, "small pool: the 2 samples the ring keeps, and at most the one kept back for the next loan: used=%" PRIu64, used(m, 0));
	int rc = reap(spawn(child_get, (void *)(uintptr_t)5000));
	tap_ok(rc == 0, "another process gets the 8192 chunk nobody keeps (child: %s)", rc == 1 ? "ENOBUFS" : rc == 0 ? "got it" : "error");
	errno = 0;
	zcp_chunk *g = zcp_chunk_get(m, 5000);
	tap_ok(g != NULL, "zcp_chunk_get in the publisher's own process gets it too (errno %d)", g ? 0 : errno);
	if (g)
		zcp_chunk_release(m, g);
	/* A loan from another pool gives back what was kept for pool 0. */
	zcp_chunk *y = zcp_publisher_loan(p, 10000);
	tap_ok(y && used(m, 0) == 2, "a loan from the 16 KiB pool gives back the small chunk kept back: pool 0 used=%" PRIu64, used(m, 0));
	if (y)
		zcp_chunk_release(m, y);
	zcp_publisher_close(p);
	tap_ok(used(m, 1) == 0 && used(m, 0) == 0, "after close everything is back (pool0 %" PRIu64 ", pool1 %" PRIu64 ")", used(m, 0), used(m, 1));

	/* 2. eight publishers on eight topics each publish one 16 KiB sample and then small
	 * ones: all big samples have left every ring, so the 16 KiB pool must be all free */
	zcp_publisher *ps[8];
	int made = 0;
	for (int i = 0; i < 8; i++) {
		char t[32];
		snprintf(t, sizeof t, "keep%d", i);
		if (zcp_publisher_create(m, t, &o, &ps[i]) == 0)
			made++;
		else
			ps[i] = NULL;
	}
	tap_ok(made == 8, "eight publishers (%d)", made);
	for (int i = 0; i < 8; i++) {
		if (!ps[i]) continue;
		zcp_chunk *x = zcp_publisher_loan(ps[i], 10000);
		if (x && zcp_publisher_publish(ps[i], x))
			zcp_chunk_release(m, x);
		for (int k = 0; k < 5; k++) {
			x = zcp_publisher_loan(ps[i], 10);
			if (x && zcp_publisher_publish(ps[i], x))
				zcp_chunk_release(m, x);
		}
	}
	uint64_t kept = 0;
	for (int i = 0; i < zcp_topic_slots(m); i++)
		if (zcp_topic_get_info(m, i, &ti) == 0)
			kept += ti.kept;
	tap_ok(kept == 16, "rings keep 2 samples each: %" PRIu64, kept);
	tap_ok(used(m, 2) == 0, "no 16 KiB sample is kept by any ring, so none is in use: used=%" PRIu64 " of 8", used(m, 2));
	rc = reap(spawn(child_get, (void *)(uintptr_t)10000));
	tap_ok(rc == 0, "another process can get a 16 KiB chunk (child: %s)", rc == 1 ? "ENOBUFS: the pool is starved" : rc == 0 ? "got it" : "error");
	for (int i = 0; i < 8; i++)
		zcp_publisher_close(ps[i]);
	tap_ok(used(m, 2) == 0 && used(m, 0) == 0, "after closing all publishers everything is back");
	return tap_done();
}
