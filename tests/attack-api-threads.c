/* SPDX-License-Identifier: MIT */
/* attack-api-threads.c - (an outside tester's, from the public docs only)
 * the header's thread rules: different publishers and
 * subscribers (same topic or not) run beside each other and beside every
 * other call (create/close churn, discovery, chunk get/release, releasing
 * taken samples from another thread, waiting).  Accounting must stay exact. */
#include "attack-api.h"

#define NP 3
#define NS 3
#define PER 30000

static zcp_mempool_manager *m;
static volatile int stop_aux;
static int pubs_done;
static uint64_t pub_ids[NP];
static int pub_ready;

struct subr { uint64_t taken, lost, back, bad, gaps; char msg[128]; };
static struct subr sr[NS];
static uint64_t aux_err[4];
static char aux_msg[4][128];

/* hand-off ring: subscribers push taken chunks, a releaser thread releases them */
#define HQ 4096
static zcp_chunk *hq[HQ];
static unsigned hq_head, hq_tail;
static pthread_mutex_t hq_mu = PTHREAD_MUTEX_INITIALIZER;
static int hand_off(zcp_chunk *c)
{
	pthread_mutex_lock(&hq_mu);
	int ok = hq_head - hq_tail < HQ;
	if (ok) hq[hq_head++ % HQ] = c;
	pthread_mutex_unlock(&hq_mu);
	return ok;
}
static void *releaser(void *a)
{
	(void)a;
	for (;;) {
		zcp_chunk *c = NULL;
		pthread_mutex_lock(&hq_mu);
		if (hq_tail != hq_head) c = hq[hq_tail++ % HQ];
		int empty = hq_tail == hq_head;
		pthread_mutex_unlock(&hq_mu);
		if (c) {
			int e = zcp_chunk_release(m, c);
			if (e) { aux_err[0]++; snprintf(aux_msg[0], 128, "release %s", en(e)); }
		} else if (__atomic_load_n(&stop_aux, __ATOMIC_ACQUIRE) == 2 && empty)
			break;
		else
			sched_yield();
	}
	return NULL;
}

static void *pub_thr(void *a)
{
	int i = (int)(intptr_t)a;
	zcp_publisher *p;
	zcp_topic_options o = topt(16, 4, ZCP_OVERFLOW_DROP_OLDEST, "U64", 8, 0);
	int e = zcp_publisher_create(m, "th", &o, &p);
	if (e) { diag("pub create %s", en(e)); __atomic_add_fetch(&pub_ready, 1, __ATOMIC_SEQ_CST); __atomic_add_fetch(&pubs_done, 1, __ATOMIC_SEQ_CST); return NULL; }
	pub_ids[i] = zcp_publisher_id(p);
	__atomic_add_fetch(&pub_ready, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&pub_ready, __ATOMIC_ACQUIRE) < NP) sched_yield();
	for (uint64_t n = 0; n < PER;) {
		zcp_chunk *c = zcp_publisher_loan(p, 0);
		if (!c) { sched_yield(); continue; }
		*(uint64_t *)zcp_sample_data(c) = n ^ pub_ids[i];
		if (zcp_publisher_publish(p, c)) { zcp_chunk_release(m, c); continue; }
		n++;
	}
	zcp_publisher_close(p);
	__atomic_add_fetch(&pubs_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int sub_ready;
static void *sub_thr(void *a)
{
	int i = (int)(intptr_t)a;
	struct subr *r = &sr[i];
	zcp_subscriber *s;
	zcp_topic_options o = topt(16, 4, 0, i ? "U64" : NULL, i ? 8 : 0, 0);
	int e = zcp_subscriber_create(m, "th", &o, &s);
	__atomic_add_fetch(&sub_ready, 1, __ATOMIC_SEQ_CST);
	if (e) { snprintf(r->msg, 128, "create %s", en(e)); return NULL; }
	while (__atomic_load_n(&pub_ready, __ATOMIC_ACQUIRE) < NP) sched_yield();
	uint64_t next[NP] = {0};
	for (;;) {
		zcp_chunk *c = zcp_subscriber_take(s);
		if (!c) {
			if (__atomic_load_n(&pubs_done, __ATOMIC_ACQUIRE) == NP) {
				c = zcp_subscriber_take(s);
				if (!c) break;
			} else {
				zcp_subscriber_wait(s, 1000000);
				continue;
			}
		}
		zcp_sample_info in;
		int k = -1;
		if (zcp_chunk_sample_info(c, &in) == 0)
			for (int j = 0; j < NP; j++) if (pub_ids[j] == in.origin) k = j;
		if (k < 0) r->bad++;
		else {
			if (in.sequence < next[k]) r->back++;
			else { r->gaps += in.sequence - next[k]; next[k] = in.sequence + 1; }
			if (*(uint64_t *)zcp_sample_data(c) != (in.sequence ^ in.origin)) r->bad++;
		}
		r->taken++;
		if ((r->taken & 3) == 0 || !hand_off(c))
			zcp_chunk_release(m, c);
	}
	for (int j = 0; j < NP; j++) r->gaps += PER - next[j];
	r->lost = zcp_subscriber_lost(s);
	zcp_subscriber_close(s);
	return NULL;
}

static void *churn(void *a)
{
	(void)a;
	int n = 0;
	while (!__atomic_load_n(&stop_aux, __ATOMIC_ACQUIRE)) {
		zcp_topic_options o = topt(4, 2, 0, "U64", 8, 0);
		zcp_publisher *p = NULL;
		zcp_subscriber *s = NULL;
		int e1 = zcp_subscriber_create(m, n & 1 ? "th" : "other", &o, &s);
		int e2 = zcp_publisher_create(m, "other", &o, &p);
		if ((e1 && e1 != ZCP_EENDPOINTS) || e2) { aux_err[1]++; snprintf(aux_msg[1], 128, "churn %s %s", en(e1), en(e2)); }
		if (p) {
			zcp_chunk *c = zcp_publisher_loan(p, 0);
			if (c && zcp_publisher_publish(p, c)) zcp_chunk_release(m, c);
		}
		if (s) {
			zcp_chunk *c;
			while ((c = zcp_subscriber_take(s))) zcp_chunk_release(m, c);
			zcp_subscriber_close(s);
		}
		if (p) zcp_publisher_close(p);
		n++;
	}
	diag("churn cycles: %d", n);
	return NULL;
}
static void *discover(void *a)
{
	(void)a;
	int n = 0;
	while (!__atomic_load_n(&stop_aux, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < zcp_topic_slots(m); i++) {
			zcp_topic_info ti;
			int e = zcp_topic_get_info(m, i, &ti);
			if (e && e != ZCP_ENOENT && e != ZCP_EAGAIN) { aux_err[2]++; snprintf(aux_msg[2], 128, "info %s", en(e)); }
			if (!e && strcmp(ti.name, "th") == 0 && strcmp(ti.type_name, "U64") != 0 && ti.type_name[0]) { aux_err[2]++; snprintf(aux_msg[2], 128, "type '%s'", ti.type_name); }
			if (!e && strcmp(ti.name, "th") && strcmp(ti.name, "other") && ti.name[0]) { aux_err[2]++; snprintf(aux_msg[2], 128, "name '%s'", ti.name); }
			for (int k = 0; k < zcp_topic_endpoint_slots(m); k++) {
				zcp_endpoint_info ei;
				e = zcp_topic_get_endpoint(m, i, k, &ei);
				if (e && e != ZCP_ENOENT) { aux_err[2]++; snprintf(aux_msg[2], 128, "endpoint %s", en(e)); }
			}
		}
		n++;
	}
	diag("discovery sweeps: %d", n);
	return NULL;
}
static void *getter(void *a)
{
	(void)a;
	while (!__atomic_load_n(&stop_aux, __ATOMIC_ACQUIRE)) {
		zcp_chunk *c = zcp_chunk_get(m, 8);
		if (!c) { if (errno != ENOBUFS) { aux_err[3]++; snprintf(aux_msg[3], 128, "get errno %d", errno); } continue; }
		memset(zcp_chunk_data(c), 0xee, 8);
		zcp_chunk_release(m, c);
	}
	return NULL;
}

int main(void)
{
	tap_init(55);
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 4096);
	m = mk_mgr("thr", cfg, NULL);
	zcp_mempool_config_free(cfg);
	if (!m) { tap_ok(0, "manager"); return tap_done(); }
	pthread_t ps[NP], ss[NS], aux[4];
	for (int i = 0; i < NS; i++) pthread_create(&ss[i], NULL, sub_thr, (void *)(intptr_t)i);
	while (__atomic_load_n(&sub_ready, __ATOMIC_ACQUIRE) < NS) sched_yield();
	pthread_create(&aux[0], NULL, releaser, NULL);
	pthread_create(&aux[1], NULL, churn, NULL);
	pthread_create(&aux[2], NULL, discover, NULL);
	pthread_create(&aux[3], NULL, getter, NULL);
	uint64_t t0 = now_ns();
	for (int i = 0; i < NP; i++) pthread_create(&ps[i], NULL, pub_thr, (void *)(intptr_t)i);
	for (int i = 0; i < NP; i++) pthread_join(ps[i], NULL);
	for (int i = 0; i < NS; i++) pthread_join(ss[i], NULL);
	__atomic_store_n(&stop_aux, 1, __ATOMIC_RELEASE);
	for (int i = 1; i < 4; i++) pthread_join(aux[i], NULL);
	__atomic_store_n(&stop_aux, 2, __ATOMIC_RELEASE);
	pthread_join(aux[0], NULL);
	diag("ran %" PRIu64 " ms", (now_ns() - t0) / 1000000);
	for (int i = 0; i < NS; i++) {
		struct subr *r = &sr[i];
		tap_ok(!r->msg[0] && r->back == 0 && r->bad == 0, "sub %d: no sample twice or backwards, payload and origin right (back %" PRIu64 ", bad %" PRIu64 ") %s", i, r->back, r->bad, r->msg);
		tap_ok(r->gaps == r->lost && r->taken + r->lost == (uint64_t)NP * PER, "sub %d: taken %" PRIu64 " + lost %" PRIu64 " == %d, gaps %" PRIu64, i, r->taken, r->lost, NP * PER, r->gaps);
	}
	tap_ok(aux_err[0] == 0, "releases of taken samples from another thread all succeed (%" PRIu64 ") %s", aux_err[0], aux_msg[0]);
	tap_ok(aux_err[1] == 0, "create/close churn beside traffic: no unexpected error (%" PRIu64 ") %s", aux_err[1], aux_msg[1]);
	tap_ok(aux_err[2] == 0, "discovery beside everything: only ENOENT/EAGAIN, names and types whole (%" PRIu64 ") %s", aux_err[2], aux_msg[2]);
	tap_ok(aux_err[3] == 0, "zcp_chunk_get/release beside everything (%" PRIu64 ") %s", aux_err[3], aux_msg[3]);
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	uint64_t kept = 0;
	for (int i = 0; i < zcp_topic_slots(m); i++) {
		zcp_topic_info ti;
		if (zcp_topic_get_info(m, i, &ti) == 0) kept += ti.kept;
	}
	tap_ok(st.used == kept, "chunks in use at the end == samples the rings (history) still keep (%" PRIu64 " vs %" PRIu64 ")", st.used, kept);
	return tap_done();
}
