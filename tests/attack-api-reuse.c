/* SPDX-License-Identifier: MIT */
/* attack-api-reuse.c - (an outside tester's, from the public docs only) a
 * chunk a subscriber still holds must never be loaned again
 * (publisher's keeping of evicted samples, see ringkeep.c): same process and
 * another process. */
#include "attack-api.h"
static const char *nm;
static int pfd[2], qfd[2];
static int holder(void *a)
{
	(void)a;
	zcp_mempool_manager *cm;
	zcp_subscriber *s;
	zcp_topic_options o = topt(2, 0, 0, NULL, 0, 0);
	if (zcp_mempool_manager_attach(nm, &cm) || zcp_subscriber_create(cm, "r", &o, &s)) return 9;
	char ch = 'r';
	if (write(pfd[1], &ch, 1) != 1) return 8;
	if (read(qfd[0], &ch, 1) != 1) return 7; /* first sample published */
	zcp_chunk *c = zcp_subscriber_take(s);
	if (!c) return 6;
	unsigned char v = ((unsigned char *)zcp_sample_data(c))[0];
	uint64_t h = zcp_chunk_handle(cm, c);
	if (write(pfd[1], &h, sizeof h) != sizeof h) return 5;
	if (read(qfd[0], &ch, 1) != 1) return 4; /* parent done */
	int changed = ((unsigned char *)zcp_sample_data(c))[0] != v;
	zcp_chunk_release(cm, c);
	zcp_subscriber_close(s);
	zcp_mempool_manager_detach(cm);
	return changed ? 3 : 0;
}
int main(void)
{
	tap_init(30);
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 8);
	zcp_mempool_manager *m = mk_mgr("reuse", cfg, &nm);
	zcp_mempool_config_free(cfg);
	if (!m) { tap_ok(0, "manager"); return tap_done(); }
	/* same process */
	zcp_publisher *p;
	zcp_subscriber *s;
	zcp_topic_options o = topt(2, 0, 0, NULL, 0, 0);
	zcp_subscriber_create(m, "r", &o, &s);
	zcp_publisher_create(m, "r", &o, &p);
	zcp_chunk *c = zcp_publisher_loan(p, 8);
	memset(zcp_sample_data(c), 0xa1, 8);
	zcp_publisher_publish(p, c);
	zcp_chunk *held = zcp_subscriber_take(s);
	int reused = 0, fails = 0;
	for (int i = 0; i < 50; i++) {
		zcp_chunk *x = zcp_publisher_loan(p, 8);
		if (!x) { fails++; continue; }
		if (x == held) reused++;
		memset(zcp_sample_data(x), 0x22, 8);
		if (zcp_publisher_publish(p, x)) zcp_chunk_release(m, x);
		zcp_chunk *y;
		while ((y = zcp_subscriber_take(s))) zcp_chunk_release(m, y);
	}
	tap_ok(reused == 0 && ((unsigned char *)zcp_sample_data(held))[0] == 0xa1, "same process: a sample the subscriber holds is never loaned again (%d reuses, %d failed loans)", reused, fails);
	zcp_chunk_release(m, held);
	zcp_publisher_close(p);
	zcp_subscriber_close(s);
	/* other process */
	if (pipe(pfd) || pipe(qfd)) return tap_done();
	pid_t k = spawn(holder, NULL);
	char ch;
	if (read(pfd[0], &ch, 1) != 1) { tap_ok(0, "child ready"); return tap_done(); }
	zcp_publisher_create(m, "r", &o, &p);
	c = zcp_publisher_loan(p, 8);
	memset(zcp_sample_data(c), 0xb2, 8);
	zcp_publisher_publish(p, c);
	if (write(qfd[1], "x", 1) != 1) return tap_done();
	uint64_t h;
	if (read(pfd[0], &h, sizeof h) != sizeof h) { tap_ok(0, "handle"); return tap_done(); }
	reused = 0;
	for (int i = 0; i < 50; i++) {
		zcp_chunk *x = zcp_publisher_loan(p, 8);
		if (!x) { fails++; continue; }
		if (x == c) reused++;
		memset(zcp_sample_data(x), 0x33, 8);
		if (zcp_publisher_publish(p, x)) zcp_chunk_release(m, x);
	}
	if (write(qfd[1], "x", 1) != 1) return tap_done();
	int rc = reap(k);
	tap_ok(reused == 0 && rc == 0, "other process: a sample the subscriber holds is never loaned again and its bytes do not change (%d reuses, child %d)", reused, rc);
	zcp_publisher_close(p);
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	tap_ok(st.used == 0, "all back at the end (%" PRIu64 ")", st.used);
	return tap_done();
}
