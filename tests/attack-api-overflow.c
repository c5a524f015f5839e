/* SPDX-License-Identifier: MIT */
/* attack-api-overflow.c - (an outside tester's, from the public docs only)
 * history for late joiners, capacity, DROP_OLDEST / REJECT /
 * BLOCK (timeouts, wake-ups by take/close/death, EINTR), exact accounting. */
#include "attack-api.h"

static zcp_mempool_manager *m;
static const char *nm;

static zcp_publisher *mkpub(const char *t, unsigned cap, unsigned hist, int ovf, int64_t to)
{
	zcp_topic_options o = topt(cap, hist, ovf, NULL, 0, 0);
	o.block_timeout_ns = to;
	zcp_publisher *p = NULL;
	int e = zcp_publisher_create(m, t, &o, &p);
	if (e)
		diag("publisher %s: %s", t, en(e));
	return p;
}
static zcp_subscriber *mksub(const char *t, unsigned cap, unsigned hist)
{
	zcp_topic_options o = topt(cap, hist, 0, NULL, 0, 0);
	zcp_subscriber *s = NULL;
	int e = zcp_subscriber_create(m, t, &o, &s);
	if (e)
		diag("subscriber %s: %s", t, en(e));
	return s;
}
static int publish_n(zcp_publisher *p, uint64_t tag)
{
	zcp_chunk *c = zcp_publisher_loan(p, 16);
	if (!c)
		return -errno;
	((uint64_t *)zcp_sample_data(c))[0] = tag;
	int e = zcp_publisher_publish(p, c);
	if (e)
		zcp_chunk_release(m, c);
	return e;
}
/* drain: returns count, fills seqs */
static int drain(zcp_subscriber *s, uint64_t *seqs, int max)
{
	int n = 0;
	zcp_chunk *c;
	while ((c = zcp_subscriber_take(s))) {
		zcp_sample_info in;
		zcp_chunk_sample_info(c, &in);
		if (n < max)
			seqs[n] = in.sequence;
		n++;
		zcp_chunk_release(m, c);
	}
	return n;
}
static int consecutive(const uint64_t *s, int n, uint64_t from)
{
	for (int i = 0; i < n; i++)
		if (s[i] != from + i)
			return 0;
	return 1;
}
static uint64_t rejected_of(const char *topic)
{
	zcp_topic_info ti;
	for (int i = 0; i < zcp_topic_slots(m); i++)
		if (zcp_topic_get_info(m, i, &ti) == 0 && !strcmp(ti.name, topic)) {
			uint64_t r = 0;
			for (int k = 0; k < zcp_topic_endpoint_slots(m); k++) {
				zcp_endpoint_info ei;
				if (zcp_topic_get_endpoint(m, i, k, &ei) == 0 && ei.kind == ZCP_ENDPOINT_PUBLISHER)
					r += ei.rejected;
			}
			return r;
		}
	return UINT64_MAX;
}

/* threads that act on a subscriber after a delay */
struct act { zcp_subscriber *s; int ms; int what; /* 0 take, 1 close */ };
static void *actor(void *arg)
{
	struct act *a = arg;
	msleep(a->ms);
	if (a->what == 0) {
		zcp_chunk *c = zcp_subscriber_take(a->s);
		if (c) zcp_chunk_release(m, c);
	} else
		zcp_subscriber_close(a->s);
	return NULL;
}
static volatile sig_atomic_t got_sig;
static void on_usr1(int s) { (void)s; got_sig = 1; }
struct killer { pthread_t target; int ms; };
static void *sig_sender(void *arg)
{
	struct killer *k = arg;
	msleep(k->ms);
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}

/* cross-process BLOCK consumer */
#define BLOCK_N 3000
struct bshared { int ready; uint64_t taken[2], lost[2], bad[2]; };
static struct bshared *bs;
static int block_consumer(void *arg)
{
	int idx = (int)(intptr_t)arg;
	zcp_mempool_manager *cm;
	if (zcp_mempool_manager_attach(nm, &cm)) return 9;
	zcp_topic_options o = topt(4, 0, 0, NULL, 0, 0);
	zcp_subscriber *s;
	if (zcp_subscriber_create(cm, "blockx", &o, &s)) return 10;
	__atomic_add_fetch(&bs->ready, 1, __ATOMIC_SEQ_CST);
	uint64_t next = 0;
	unsigned rnd = idx + 3;
	uint64_t t0 = now_ns();
	while (next < BLOCK_N && now_ns() - t0 < 40000000000ull) {
		if (zcp_subscriber_wait(s, 100000000) != 0) continue;
		zcp_chunk *c;
		while ((c = zcp_subscriber_take(s))) {
			zcp_sample_info in;
			zcp_chunk_sample_info(c, &in);
			if (in.sequence != next || *(uint64_t *)zcp_sample_data(c) != next) bs->bad[idx]++;
			next = in.sequence + 1;
			bs->taken[idx]++;
			zcp_chunk_release(cm, c);
			rnd = rnd * 1103515245 + 12345;
			if (idx == 1 && (rnd >> 16) % 100 == 0) msleep(1);
		}
	}
	bs->lost[idx] = zcp_subscriber_lost(s);
	zcp_subscriber_close(s);
	zcp_mempool_manager_detach(cm);
	return 0;
}
static int full_then_die(void *arg)
{
	(void)arg;
	zcp_mempool_manager *cm;
	if (zcp_mempool_manager_attach(nm, &cm)) return 9;
	zcp_topic_options o = topt(2, 0, 0, NULL, 0, 0);
	zcp_subscriber *s;
	if (zcp_subscriber_create(cm, "blockdead", &o, &s)) return 10;
	__atomic_add_fetch(&bs->ready, 1, __ATOMIC_SEQ_CST);
	for (;;) pause();
}

int main(void)
{
	tap_init(50);
	bs = mmap(NULL, sizeof *bs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 2048);
	m = mk_mgr("ovf", cfg, &nm);
	zcp_mempool_config_free(cfg);
	if (!m) { tap_ok(0, "manager"); return tap_done(); }
	uint64_t seqs[256];
	int n, e;

	/* 1. late joiner, capacity 4, history 8 */
	{
		zcp_publisher *p = mkpub("hist", 4, 8, 0, -1);
		for (int i = 0; i < 20; i++) publish_n(p, i);
		zcp_subscriber *s = mksub("hist", 4, 8);
		long w = zcp_subscriber_waiting(s);
		n = drain(s, seqs, 256);
		tap_ok(n == 8 && consecutive(seqs, n, 12), "late joiner (capacity 4, history 8) gets the last 8: got %d from seq %" PRIu64 " (waiting said %ld)", n, n ? seqs[0] : 0, w);
		tap_ok(zcp_subscriber_lost(s) == 0, "late joiner lost 0 (got %" PRIu64 ")", zcp_subscriber_lost(s));
		for (int i = 20; i < 23; i++) publish_n(p, i);
		n = drain(s, seqs, 256);
		tap_ok(n == 3 && consecutive(seqs, n, 20), "then every new sample: %d from %" PRIu64, n, n ? seqs[0] : 0);
		/* early subscriber that never takes: capacity 4 */
		zcp_subscriber *s2 = mksub("hist", 4, 8);
		drain(s2, seqs, 256);
		for (int i = 23; i < 33; i++) publish_n(p, i);
		w = zcp_subscriber_waiting(s2);
		n = drain(s2, seqs, 256);
		/* DROP_OLDEST loses what the ring lets go (topic.h): with
		 * history 8 > capacity 4, the last 8 are still there. */
		tap_ok(w == 8 && n == 8 && consecutive(seqs, n, 25), "subscriber 10 behind with capacity 4, history 8: waiting %ld, got %d from %" PRIu64 " (want the ring's 8 from 25)", w, n, n ? seqs[0] : 0);
		tap_ok(zcp_subscriber_lost(s2) == 2, "and lost counts the 2 the ring let go: %" PRIu64, zcp_subscriber_lost(s2));
		/* a second late joiner after close of the publisher */
		zcp_publisher_close(p);
		zcp_subscriber *s3 = mksub("hist", 4, 8);
		n = drain(s3, seqs, 256);
		diag("late joiner after the publisher closed gets %d samples (from %" PRIu64 ")", n, n ? seqs[0] : 0);
		zcp_subscriber_close(s);
		zcp_subscriber_close(s2);
		zcp_subscriber_close(s3);
	}
	/* 1b. history 0: late joiner gets nothing old */
	{
		zcp_publisher *p = mkpub("nohist", 4, 0, 0, -1);
		for (int i = 0; i < 5; i++) publish_n(p, i);
		zcp_subscriber *s = mksub("nohist", 4, 0);
		n = drain(s, seqs, 256);
		tap_ok(n == 0, "history 0: a late joiner gets nothing old (%d)", n);
		publish_n(p, 5);
		n = drain(s, seqs, 256);
		tap_ok(n == 1 && seqs[0] == 5, "then the next one, seq 5");
		zcp_publisher_close(p);
		zcp_subscriber_close(s);
	}
	/* 1c. history larger than capacity, two publishers: late joiner order */
	{
		zcp_publisher *p1 = mkpub("hist2", 2, 6, 0, -1);
		zcp_publisher *p2 = mkpub("hist2", 2, 6, 0, -1);
		for (int i = 0; i < 10; i++) publish_n(i % 3 ? p1 : p2, i);
		zcp_subscriber *s = mksub("hist2", 2, 6);
		zcp_chunk *c;
		uint64_t tags[32];
		int k = 0;
		while ((c = zcp_subscriber_take(s)) && k < 32) {
			tags[k++] = *(uint64_t *)zcp_sample_data(c);
			zcp_chunk_release(m, c);
		}
		/* p1 published tags 1,2,4,5,7,8 (6 of them) ; p2 0,3,6,9 */
		int sorted = 1;
		for (int i = 1; i < k; i++) if (tags[i] < tags[i - 1]) sorted = 0;
		tap_ok(k == 10 && sorted, "history 6 > capacity 2, two publishers: late joiner gets the last 6 of each in publish order (%d samples, ordered %d)", k, sorted);
		zcp_publisher_close(p1);
		zcp_publisher_close(p2);
		zcp_subscriber_close(s);
	}

	/* 2. REJECT */
	{
		zcp_subscriber *s = mksub("rej", 4, 0);
		zcp_subscriber *s2 = mksub("rej", 4, 0);
		zcp_publisher *p = mkpub("rej", 4, 0, ZCP_OVERFLOW_REJECT, -1);
		int fails = 0;
		for (int i = 0; i < 4; i++) fails += publish_n(p, i) != 0;
		tap_ok(fails == 0, "REJECT: 4 publishes fit capacity 4");
		zcp_chunk *c = zcp_publisher_loan(p, 16);
		e = zcp_publisher_publish(p, c);
		tap_ok(e == ZCP_EFULL, "REJECT: the 5th -> ZCP_EFULL (%s)", en(e));
		tap_ok(zcp_chunk_refcount(c) == 1, "REJECT: the caller keeps its chunk (refcount %" PRIu64 ")", zcp_chunk_refcount(c));
		tap_ok(rejected_of("rej") == 1, "REJECT: endpoint 'rejected' counts 1 (%" PRIu64 ")", rejected_of("rej"));
		n = drain(s, seqs, 256);
		e = zcp_publisher_publish(p, c);
		tap_ok(e == ZCP_EFULL, "REJECT: one subscriber drained, the other still full -> ZCP_EFULL (%s)", en(e));
		zcp_chunk *t = zcp_subscriber_take(s2);
		if (t) zcp_chunk_release(m, t);
		*(uint64_t *)zcp_sample_data(c) = 4;
		e = zcp_publisher_publish(p, c);
		tap_ok(e == 0, "REJECT: after a take from the full one, the same chunk publishes (%s)", en(e));
		if (e) zcp_chunk_release(m, c);
		n = drain(s, seqs, 256);
		tap_ok(n == 1 && seqs[0] == 4, "REJECT: refused publishes do not consume sequence numbers (next seq %" PRIu64 ")", n ? seqs[0] : 999);
		n = drain(s2, seqs, 256);
		tap_ok(n == 4 && consecutive(seqs, n, 1), "REJECT: second subscriber gets 1..4 (%d)", n);
		tap_ok(zcp_subscriber_lost(s) == 0 && zcp_subscriber_lost(s2) == 0, "REJECT: nothing lost");
		/* full again, then the full subscriber closes */
		for (int i = 0; i < 4; i++) publish_n(p, 10 + i);
		drain(s, seqs, 256);
		e = publish_n(p, 99);
		tap_ok(e == ZCP_EFULL, "REJECT: s2 full again (%s)", en(e));
		zcp_subscriber_close(s2);
		e = publish_n(p, 99);
		tap_ok(e == 0, "REJECT: the full subscriber closed -> publish ok (%s)", en(e));
		zcp_publisher_close(p);
		zcp_subscriber_close(s);
	}
	/* 2b. REJECT with history > capacity: a late joiner starts above capacity */
	{
		zcp_publisher *p = mkpub("rejh", 2, 6, ZCP_OVERFLOW_REJECT, -1);
		for (int i = 0; i < 6; i++) publish_n(p, i);
		zcp_subscriber *s = mksub("rejh", 2, 6);
		long w = zcp_subscriber_waiting(s);
		e = publish_n(p, 6);
		n = drain(s, seqs, 256);
		tap_ok(zcp_subscriber_lost(s) == 0, "REJECT + history 6 > capacity 2: late joiner lost nothing (waiting %ld, publish %s, got %d, lost %" PRIu64 ")", w, en(e), n, zcp_subscriber_lost(s));
		zcp_publisher_close(p);
		zcp_subscriber_close(s);
	}
	/* 2c. per-publisher policies on one topic */
	{
		zcp_subscriber *s = mksub("mixed", 2, 0);
		zcp_publisher *pr = mkpub("mixed", 2, 0, ZCP_OVERFLOW_REJECT, -1);
		zcp_publisher *pd = mkpub("mixed", 2, 0, ZCP_OVERFLOW_DROP_OLDEST, -1);
		for (int i = 0; i < 5; i++) publish_n(pd, 100 + i);
		int a = publish_n(pr, 0), b = publish_n(pr, 1), c3 = publish_n(pr, 2);
		tap_ok(a == 0 && b == 0 && c3 == ZCP_EFULL, "mixed policies: REJECT publisher has its own queue of 2 (%s %s %s)", en(a), en(b), en(c3));
		n = drain(s, seqs, 256);
		tap_ok(n == 4 && zcp_subscriber_lost(s) == 3, "mixed: got 2+2, lost 3 of the DROP_OLDEST publisher (got %d lost %" PRIu64 ")", n, zcp_subscriber_lost(s));
		zcp_publisher_close(pr);
		zcp_publisher_close(pd);
		zcp_subscriber_close(s);
	}

	/* 3. BLOCK timeouts */
	{
		zcp_subscriber *s = mksub("blk", 2, 0);
		zcp_publisher *p0 = mkpub("blk", 2, 0, ZCP_OVERFLOW_BLOCK, 0);
		zcp_publisher *p50 = mkpub("blk", 2, 0, ZCP_OVERFLOW_BLOCK, 50000000);
		zcp_publisher *pinf = mkpub("blk", 2, 0, ZCP_OVERFLOW_BLOCK, -1);
		publish_n(p0, 0);
		publish_n(p0, 1);
		zcp_chunk *c = zcp_publisher_loan(p0, 16);
		uint64_t t0 = now_ns();
		e = zcp_publisher_publish(p0, c);
		uint64_t dt = now_ns() - t0;
		tap_ok(e == ZCP_ETIMEDOUT && dt < 5000000, "BLOCK timeout 0: ZCP_ETIMEDOUT at once (%s after %" PRIu64 " us)", en(e), dt / 1000);
		tap_ok(zcp_chunk_refcount(c) == 1, "BLOCK: caller keeps the chunk");
		zcp_chunk_release(m, c);
		publish_n(p50, 0);
		publish_n(p50, 1);
		c = zcp_publisher_loan(p50, 16);
		t0 = now_ns();
		e = zcp_publisher_publish(p50, c);
		dt = now_ns() - t0;
		tap_ok(e == ZCP_ETIMEDOUT && dt >= 50000000 && dt < 500000000, "BLOCK timeout 50 ms: ZCP_ETIMEDOUT after %" PRIu64 " ms (%s)", dt / 1000000, en(e));
		if (e) zcp_chunk_release(m, c);
		/* unlimited, ended by a take after 100 ms (s first emptied of p0's and p50's samples) */
		drain(s, seqs, 256);
		publish_n(pinf, 0);
		publish_n(pinf, 1);
		pthread_t th;
		struct act a = {s, 100, 0};
		pthread_create(&th, NULL, actor, &a);
		t0 = now_ns();
		e = publish_n(pinf, 2);
		dt = now_ns() - t0;
		pthread_join(th, NULL);
		tap_ok(e == 0 && dt >= 90000000 && dt < 2000000000, "BLOCK unlimited: a take 100 ms later ends the wait (%s after %" PRIu64 " ms)", en(e), dt / 1000000);
		/* EINTR */
		struct sigaction sa = {0};
		sa.sa_handler = on_usr1;
		sigaction(SIGUSR1, &sa, NULL);
		got_sig = 0;
		struct killer k = {pthread_self(), 60};
		drain(s, seqs, 256);
		publish_n(pinf, 3);
		publish_n(pinf, 4);
		pthread_create(&th, NULL, sig_sender, &k);
		c = zcp_publisher_loan(pinf, 16);
		t0 = now_ns();
		e = zcp_publisher_publish(pinf, c);
		dt = now_ns() - t0;
		pthread_join(th, NULL);
		tap_ok(e == ZCP_EINTR && got_sig && dt >= 55000000 && dt < 60000000 + 40000000, "BLOCK: a signal with a handler ends the wait with ZCP_EINTR within 10 ms (%s after %" PRIu64 " ms, handler ran %d)", en(e), dt / 1000000, (int)got_sig);
		if (e) zcp_chunk_release(m, c);
		/* close of the full subscriber ends the wait */
		a.what = 1;
		a.ms = 80;
		pthread_create(&th, NULL, actor, &a);
		t0 = now_ns();
		e = publish_n(pinf, 5);
		dt = now_ns() - t0;
		pthread_join(th, NULL);
		tap_ok(e == 0 && dt >= 70000000 && dt < 2000000000, "BLOCK: the full subscriber's close ends the wait (%s after %" PRIu64 " ms)", en(e), dt / 1000000);
		uint64_t rj = rejected_of("blk");
		tap_ok(rj == 3, "BLOCK: 'rejected' counts the two timeouts and the signal (%" PRIu64 ")", rj);
		zcp_publisher_close(p0);
		zcp_publisher_close(p50);
		zcp_publisher_close(pinf);
	}
	/* 4. BLOCK across processes: nothing lost, nothing twice */
	{
		bs->ready = 0;
		pid_t k1 = spawn(block_consumer, (void *)0), k2 = spawn(block_consumer, (void *)1);
		uint64_t t0 = now_ns();
		while (__atomic_load_n(&bs->ready, __ATOMIC_ACQUIRE) < 2 && now_ns() - t0 < 10000000000ull) msleep(1);
		zcp_publisher *p = mkpub("blockx", 4, 0, ZCP_OVERFLOW_BLOCK, 10000000000LL);
		int fails = 0;
		for (int i = 0; i < BLOCK_N; i++)
			if (publish_n(p, i)) fails++;
		int r1 = reap(k1), r2 = reap(k2);
		tap_ok(fails == 0 && r1 == 0 && r2 == 0, "BLOCK cross-process: %d publishes, no failure (fails %d, children %d %d)", BLOCK_N, fails, r1, r2);
		tap_ok(bs->taken[0] == BLOCK_N && bs->taken[1] == BLOCK_N && bs->lost[0] == 0 && bs->lost[1] == 0 && bs->bad[0] == 0 && bs->bad[1] == 0,
		       "BLOCK: each subscriber took all %d in order, lost 0 (taken %" PRIu64 "/%" PRIu64 ", lost %" PRIu64 "/%" PRIu64 ", out of order %" PRIu64 "/%" PRIu64 ")",
		       BLOCK_N, bs->taken[0], bs->taken[1], bs->lost[0], bs->lost[1], bs->bad[0], bs->bad[1]);
		zcp_publisher_close(p);
	}
	/* 5. BLOCK: a subscriber that dies with a full queue ends the wait */
	{
		bs->ready = 0;
		pid_t k = spawn(full_then_die, NULL);
		uint64_t t0 = now_ns();
		while (__atomic_load_n(&bs->ready, __ATOMIC_ACQUIRE) < 1 && now_ns() - t0 < 10000000000ull) msleep(1);
		zcp_publisher *p = mkpub("blockdead", 2, 0, ZCP_OVERFLOW_BLOCK, 5000000000LL);
		publish_n(p, 0);
		publish_n(p, 1);
		kill(k, SIGKILL);
		reap(k);
		t0 = now_ns();
		e = publish_n(p, 2);
		uint64_t dt = now_ns() - t0;
		tap_ok(e == 0 && dt < 1000000000, "BLOCK: a dead subscriber's full queue stops holding the publisher (%s after %" PRIu64 " ms)", en(e), dt / 1000000);
		zcp_publisher_close(p);
	}
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	diag("chunks used at the end (rings of closed publishers with history may keep some): %" PRIu64, st.used);
	return tap_done();
}
