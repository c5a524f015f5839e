/* SPDX-License-Identifier: MIT */
/* attack-api-misc.c - (an outside tester's, from the public docs only)
 * publish errors: one topic at a time (EBUSY), no reference
 * (EALREADY), foreign chunk (EINVAL), NULLs; the caller keeps its reference
 * on every error. */
#include "attack-api.h"

int main(void)
{
	tap_init(30);
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 64);
	zcp_mempool_manager *m = mk_mgr("misc", cfg, NULL);
	zcp_mempool_manager *m2 = mk_mgr("misc2", cfg, NULL);
	zcp_mempool_config_free(cfg);
	if (!m || !m2) { tap_ok(0, "managers"); return tap_done(); }
	zcp_publisher *pa, *pb;
	zcp_subscriber *sa, *sb;
	zcp_topic_options o = topt(4, 0, 0, NULL, 0, 0);
	zcp_subscriber_create(m, "A", &o, &sa);
	zcp_subscriber_create(m, "B", &o, &sb);
	zcp_publisher_create(m, "A", &o, &pa);
	zcp_publisher_create(m, "B", &o, &pb);
	zcp_chunk *c = zcp_publisher_loan(pa, 8);
	strcpy(zcp_sample_data(c), "hello");
	tap_ok(zcp_publisher_publish(pa, c) == 0, "publish on A");
	zcp_chunk *t = zcp_subscriber_take(sa);
	tap_ok(t == c, "take it on A");
	int e = zcp_publisher_publish(pb, t);
	tap_ok(e == ZCP_EBUSY, "republishing on B while A's ring keeps it -> ZCP_EBUSY (%s)", en(e));
	tap_ok(zcp_chunk_refcount(t) >= 1 && zcp_chunk_release(m, t) == 0, "after EBUSY the caller still holds it (release ok)");
	e = zcp_publisher_publish(pa, t);
	tap_ok(e == ZCP_EALREADY || e == ZCP_EBUSY, "publishing a chunk the caller no longer holds -> ZCP_EALREADY/EBUSY (%s)", en(e));
	/* let A's ring drop it: 4 more samples on A, drained */
	for (int i = 0; i < 6; i++) {
		zcp_chunk *x = zcp_publisher_loan(pa, 8);
		if (x && zcp_publisher_publish(pa, x)) zcp_chunk_release(m, x);
		zcp_chunk *y;
		while ((y = zcp_subscriber_take(sa))) zcp_chunk_release(m, y);
	}
	/* double publish of the same fresh loan */
	zcp_chunk *d = zcp_publisher_loan(pb, 8);
	e = zcp_publisher_publish(pb, d);
	int e2 = zcp_publisher_publish(pb, d);
	tap_ok(e == 0 && (e2 == ZCP_EALREADY || e2 == ZCP_EBUSY), "second publish of the same loan (no reference left) -> %s", en(e2));
	zcp_chunk *y = zcp_subscriber_take(sb);
	zcp_chunk *y2 = zcp_subscriber_take(sb);
	tap_ok(y == d && y2 == NULL, "B's subscriber gets it once");
	if (y) zcp_chunk_release(m, y);
	if (y2) zcp_chunk_release(m, y2);
	/* foreign chunk */
	zcp_chunk *f = zcp_chunk_get(m2, 8);
	e = zcp_publisher_publish(pa, f);
	tap_ok(e == ZCP_EINVAL, "a chunk of another manager -> ZCP_EINVAL (%s)", en(e));
	tap_ok(zcp_chunk_release(m2, f) == 0, "...and it is still its holder's");
	tap_ok(zcp_publisher_publish(NULL, c) == ZCP_EINVAL && zcp_publisher_publish(pa, NULL) == ZCP_EINVAL, "NULL publisher / chunk -> EINVAL");
	errno = 0;
	tap_ok(zcp_publisher_loan(NULL, 8) == NULL && errno == EINVAL, "loan on NULL -> EINVAL");
	errno = 0;
	tap_ok(zcp_subscriber_take(NULL) == NULL && errno == EINVAL, "take on NULL -> EINVAL");
	zcp_sample_info in;
	tap_ok(zcp_chunk_sample_info(NULL, &in) == ZCP_EINVAL, "sample_info(NULL) -> EINVAL");
	tap_ok(zcp_subscriber_wait(NULL, 0) == ZCP_EINVAL && zcp_subscriber_waiting(NULL) == ZCP_EINVAL && zcp_subscriber_lost(NULL) == 0, "wait/waiting/lost on NULL");
	tap_ok(zcp_publisher_close(NULL) == 0 && zcp_subscriber_close(NULL) == 0 && zcp_publisher_id(NULL) == 0, "close/id on NULL");
	/* wait: 0 only looks; timeout honoured */
	uint64_t t0 = now_ns();
	e = zcp_subscriber_wait(sa, 30000000);
	uint64_t dt = now_ns() - t0;
	tap_ok(e == ZCP_ETIMEDOUT && dt >= 30000000 && dt < 300000000, "wait 30 ms with nothing: ZCP_ETIMEDOUT after %" PRIu64 " ms", dt / 1000000);
	zcp_chunk *x = zcp_publisher_loan(pa, 8);
	zcp_publisher_publish(pa, x);
	tap_ok(zcp_subscriber_wait(sa, 0) == 0 && zcp_subscriber_waiting(sa) == 1, "wait(0) with a sample waiting -> 0, waiting 1");
	while ((y = zcp_subscriber_take(sa))) zcp_chunk_release(m, y);
	/* read-only handle: creates answer EPERM */
	{
		zcp_attach_options ao;
		zcp_attach_options_init(&ao);
		ao.read_only = 1;
		zcp_mempool_manager *ro;
		e = zcp_mempool_manager_attach_opts(zcp_mempool_manager_name(m), &ao, &ro);
		if (!e) {
			zcp_publisher *rp;
			zcp_subscriber *rs;
			int a = zcp_publisher_create(ro, "A", &o, &rp), b = zcp_subscriber_create(ro, "A", &o, &rs);
			zcp_topic_info ti;
			int c2 = zcp_topic_get_info(ro, 0, &ti);
			tap_ok(a == ZCP_EPERM && b == ZCP_EPERM && (c2 == 0 || c2 == ZCP_ENOENT), "read-only handle: create -> ZCP_EPERM, discovery works (%s %s %s)", en(a), en(b), en(c2));
			zcp_mempool_manager_detach(ro);
		} else
			tap_ok(0, "read-only attach %s", en(e));
	}
	zcp_publisher_close(pa);
	zcp_publisher_close(pb);
	zcp_subscriber_close(sa);
	zcp_subscriber_close(sb);
	return tap_done();
}
