/* SPDX-License-Identifier: MIT */
/* attack-api-seq.c - (an outside tester's, from the public docs only) sample
 * info under N publishers x M subscribers in several processes
 * and threads: origin, sequence (strictly increasing per publisher, gaps only
 * where loss is counted), timestamps, payload integrity, exact accounting. */
#include "attack-api.h"

#define PPROC 2
#define PTHR 2
#define NPUBS (PPROC * PTHR)
#define SPROC 2
#define STHR 2
#define NSUBS (SPROC * STHR)
#define NSAMPLES 20000
#define CAP 8

struct subres {
	uint64_t taken, lost_api, gaps, dup_or_back, bad_payload, bad_origin, ts_back, infofail;
	uint64_t last_seq_plus1[NPUBS];
	uint64_t ep_taken, ep_lost;
	int done;
	char msg[200];
};
struct shared {
	int subs_ready, pubs_ready, pubs_done, subs_finished, parent_looked;
	uint64_t ep_lost_sum, ep_taken_sum;
	uint64_t pub_id[NPUBS];
	uint64_t pub_fail[NPUBS];
	struct subres s[NSUBS];
};
static struct shared *sh;
static const char *nm;
static zcp_mempool_manager *cm;

struct payload {
	uint64_t magic, pubidx, n, id, check;
};

static void *pub_thread(void *arg)
{
	int idx = (int)(intptr_t)arg;
	zcp_publisher *p;
	zcp_topic_options o = topt(CAP, 0, ZCP_OVERFLOW_DROP_OLDEST, "Pay", sizeof(struct payload), 0);
	int e = zcp_publisher_create(cm, "seq", &o, &p);
	if (e) {
		sh->pub_fail[idx] = 1000000 + (uint64_t)-e;
		__atomic_add_fetch(&sh->pubs_ready, 1, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&sh->pubs_done, 1, __ATOMIC_SEQ_CST);
		return NULL;
	}
	sh->pub_id[idx] = zcp_publisher_id(p);
	__atomic_add_fetch(&sh->pubs_ready, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&sh->pubs_ready, __ATOMIC_ACQUIRE) < NPUBS)
		sched_yield();
	for (uint64_t n = 0; n < NSAMPLES;) {
		zcp_chunk *c = zcp_publisher_loan(p, 0);
		if (!c) {
			sched_yield(); /* pool momentarily exhausted */
			continue;
		}
		struct payload *pl = zcp_sample_data(c);
		pl->magic = 0x5E9;
		pl->pubidx = idx;
		pl->n = n;
		pl->id = sh->pub_id[idx];
		pl->check = pl->n * 2654435761u ^ pl->id;
		e = zcp_publisher_publish(p, c);
		if (e) {
			sh->pub_fail[idx]++;
			zcp_chunk_release(cm, c);
			continue;
		}
		n++;
		if ((n & 1023) == 0)
			sched_yield();
	}
	zcp_publisher_close(p);
	__atomic_add_fetch(&sh->pubs_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int pub_proc(void *arg)
{
	int pi = (int)(intptr_t)arg;
	if (zcp_mempool_manager_attach(nm, &cm))
		return 9;
	while (__atomic_load_n(&sh->subs_ready, __ATOMIC_ACQUIRE) < NSUBS)
		sched_yield();
	pthread_t th[PTHR];
	for (int i = 0; i < PTHR; i++)
		pthread_create(&th[i], NULL, pub_thread, (void *)(intptr_t)(pi * PTHR + i));
	for (int i = 0; i < PTHR; i++)
		pthread_join(th[i], NULL);
	zcp_mempool_manager_detach(cm);
	return 0;
}

static int origin_index(uint64_t id)
{
	for (int i = 0; i < NPUBS; i++)
		if (sh->pub_id[i] == id && id)
			return i;
	return -1;
}

static void *sub_thread(void *arg)
{
	int idx = (int)(intptr_t)arg;
	struct subres *r = &sh->s[idx];
	zcp_subscriber *s;
	zcp_topic_options o = topt(CAP, 0, 0, idx & 1 ? NULL : "Pay", idx & 1 ? 0 : sizeof(struct payload), 0);
	int e = zcp_subscriber_create(cm, "seq", &o, &s);
	if (e) {
		snprintf(r->msg, sizeof r->msg, "create %s", en(e));
		__atomic_add_fetch(&sh->subs_ready, 1, __ATOMIC_SEQ_CST);
		r->done = 1;
		return NULL;
	}
	__atomic_add_fetch(&sh->subs_ready, 1, __ATOMIC_SEQ_CST);
	uint64_t next[NPUBS] = {0}, lastts[NPUBS] = {0};
	unsigned rnd = idx * 7 + 1;
	uint64_t t0 = now_ns();
	for (;;) {
		zcp_chunk *c = zcp_subscriber_take(s);
		if (!c) {
			if (errno != EAGAIN) {
				snprintf(r->msg, sizeof r->msg, "take errno %d", errno);
				break;
			}
			if (__atomic_load_n(&sh->pubs_done, __ATOMIC_ACQUIRE) == NPUBS) {
				/* everyone done: one more look */
				c = zcp_subscriber_take(s);
				if (!c)
					break;
			} else {
				if (now_ns() - t0 > 45000000000ull)
					break;
				zcp_subscriber_wait(s, 2000000);
				continue;
			}
		}
		zcp_sample_info in;
		if (zcp_chunk_sample_info(c, &in)) {
			r->infofail++;
			zcp_chunk_release(cm, c);
			continue;
		}
		int oi = origin_index(in.origin);
		struct payload *pl = zcp_sample_data(c);
		if (oi < 0) {
			r->bad_origin++;
		} else {
			if (in.sequence < next[oi]) {
				r->dup_or_back++;
				if (!r->msg[0])
					snprintf(r->msg, sizeof r->msg, "pub %d seq %" PRIu64 " after %" PRIu64, oi, in.sequence, next[oi]);
			} else {
				r->gaps += in.sequence - next[oi];
				next[oi] = in.sequence + 1;
			}
			if (in.timestamp_ns < lastts[oi])
				r->ts_back++;
			lastts[oi] = in.timestamp_ns;
			if (pl->magic != 0x5E9 || pl->pubidx != (uint64_t)oi || pl->n != in.sequence || pl->id != in.origin ||
			    pl->check != (pl->n * 2654435761u ^ pl->id) || zcp_chunk_size(c) != sizeof *pl) {
				r->bad_payload++;
				if (!r->msg[0])
					snprintf(r->msg, sizeof r->msg, "payload n %" PRIu64 " vs seq %" PRIu64, pl->n, in.sequence);
			}
		}
		r->taken++;
		zcp_chunk_release(cm, c);
		rnd = rnd * 1103515245 + 12345;
		if ((rnd >> 16) % 2000 == 0)
			msleep(2); /* fall behind now and then: overflow */
	}
	for (int i = 0; i < NPUBS; i++) {
		r->gaps += NSAMPLES - next[i]; /* a lost tail counts too */
		r->last_seq_plus1[i] = next[i];
	}
	r->lost_api = zcp_subscriber_lost(s);
	__atomic_add_fetch(&sh->subs_finished, 1, __ATOMIC_SEQ_CST);
	uint64_t tw = now_ns();
	while (!__atomic_load_n(&sh->parent_looked, __ATOMIC_ACQUIRE) && now_ns() - tw < 10000000000ull)
		msleep(1);
	zcp_subscriber_close(s);
	r->done = 1;
	return NULL;
}

static int sub_proc(void *arg)
{
	int pi = (int)(intptr_t)arg;
	if (zcp_mempool_manager_attach(nm, &cm))
		return 9;
	pthread_t th[STHR];
	for (int i = 0; i < STHR; i++)
		pthread_create(&th[i], NULL, sub_thread, (void *)(intptr_t)(pi * STHR + i));
	for (int i = 0; i < STHR; i++)
		pthread_join(th[i], NULL);
	zcp_mempool_manager_detach(cm);
	return 0;
}

int main(void)
{
	tap_init(58);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 1024);
	zcp_mempool_manager *m = mk_mgr("seq", cfg, &nm);
	zcp_mempool_config_free(cfg);
	if (!m) {
		tap_ok(0, "manager");
		return tap_done();
	}

	/* A. deterministic: take order across publishers is publish order */
	{
		zcp_publisher *p1, *p2;
		zcp_subscriber *s;
		zcp_topic_options o = topt(16, 0, 0, NULL, 0, 0);
		zcp_subscriber_create(m, "order", &o, &s);
		zcp_publisher_create(m, "order", &o, &p1);
		zcp_publisher_create(m, "order", &o, &p2);
		const char *pat = "1211221112122211";
		for (const char *q = pat; *q; q++) {
			zcp_publisher *p = *q == '1' ? p1 : p2;
			zcp_chunk *c = zcp_publisher_loan(p, 8);
			*(char *)zcp_sample_data(c) = *q;
			zcp_publisher_publish(p, c);
		}
		char got[32] = "";
		int k = 0, seqok = 1;
		uint64_t n1 = 0, n2 = 0, lastts = 0;
		int tsok = 1;
		zcp_chunk *c;
		while ((c = zcp_subscriber_take(s)) && k < 31) {
			zcp_sample_info in;
			zcp_chunk_sample_info(c, &in);
			char w = *(char *)zcp_sample_data(c);
			got[k++] = w;
			if (w == '1') { if (in.sequence != n1++ || in.origin != zcp_publisher_id(p1)) seqok = 0; }
			else { if (in.sequence != n2++ || in.origin != zcp_publisher_id(p2)) seqok = 0; }
			if (in.timestamp_ns < lastts) tsok = 0;
			lastts = in.timestamp_ns;
			zcp_chunk_release(m, c);
		}
		got[k] = 0;
		tap_ok(strcmp(got, pat) == 0, "take order across two publishers is publish order (%s vs %s)", got, pat);
		tap_ok(seqok, "sequences count from 0 per publisher, origins are the publisher ids");
		tap_ok(tsok, "timestamps follow publish order");
		struct timespec rt;
		clock_gettime(CLOCK_REALTIME, &rt);
		uint64_t nowrt = (uint64_t)rt.tv_sec * 1000000000ull + rt.tv_nsec;
		tap_ok(lastts <= nowrt && nowrt - lastts < 5000000000ull, "timestamp is CLOCK_REALTIME ns (%" PRIu64 " vs now %" PRIu64 ")", lastts, nowrt);
		uint64_t id1 = zcp_publisher_id(p1), id2 = zcp_publisher_id(p2);
		zcp_publisher_close(p1);
		zcp_publisher *p3;
		zcp_publisher_create(m, "order", &o, &p3);
		tap_ok(id1 && id2 && id1 != id2 && zcp_publisher_id(p3) != id1 && zcp_publisher_id(p3) != id2,
		       "publisher ids unique, not reused after close (%#" PRIx64 " %#" PRIx64 " %#" PRIx64 ")", id1, id2, zcp_publisher_id(p3));
		zcp_publisher_close(p2);
		zcp_publisher_close(p3);
		zcp_subscriber_close(s);
	}

	/* B. N x M in processes x threads */
	pid_t sp[SPROC], pp[PPROC];
	for (int i = 0; i < SPROC; i++)
		sp[i] = spawn(sub_proc, (void *)(intptr_t)i);
	for (int i = 0; i < PPROC; i++)
		pp[i] = spawn(pub_proc, (void *)(intptr_t)i);
	int crc = 0;
	for (int i = 0; i < PPROC; i++)
		crc |= reap(pp[i]);
	{
		uint64_t tw = now_ns();
		while (__atomic_load_n(&sh->subs_finished, __ATOMIC_ACQUIRE) < NSUBS && now_ns() - tw < 30000000000ull)
			msleep(1);
		zcp_topic_info ti2;
		for (int i = 0; i < zcp_topic_slots(m); i++)
			if (zcp_topic_get_info(m, i, &ti2) == 0 && !strcmp(ti2.name, "seq")) {
				sh->ep_lost_sum = ti2.lost;
				for (int k = 0; k < zcp_topic_endpoint_slots(m); k++) {
					zcp_endpoint_info ei;
					if (zcp_topic_get_endpoint(m, i, k, &ei) == 0 && ei.kind == ZCP_ENDPOINT_SUBSCRIBER)
						sh->ep_taken_sum += ei.taken;
				}
			}
		__atomic_store_n(&sh->parent_looked, 1, __ATOMIC_RELEASE);
	}
	for (int i = 0; i < SPROC; i++)
		crc |= reap(sp[i]);
	tap_ok(crc == 0, "children exit 0");
	int idsok = 1;
	for (int i = 0; i < NPUBS; i++)
		for (int j = 0; j < i; j++)
			if (!sh->pub_id[i] || sh->pub_id[i] == sh->pub_id[j])
				idsok = 0;
	tap_ok(idsok, "%d publishers in %d processes have distinct nonzero ids", NPUBS, PPROC);
	uint64_t pf = 0;
	for (int i = 0; i < NPUBS; i++)
		pf += sh->pub_fail[i];
	tap_ok(pf == 0, "no publish failed (DROP_OLDEST): %" PRIu64, pf);
	for (int i = 0; i < NSUBS; i++) {
		struct subres *r = &sh->s[i];
		uint64_t total = (uint64_t)NPUBS * NSAMPLES;
		tap_ok(r->done && !r->msg[0] && r->dup_or_back == 0 && r->bad_origin == 0 && r->infofail == 0,
		       "sub %d: sequences strictly increasing per publisher, known origins, info always there (back %" PRIu64 ", bad origin %" PRIu64 ", info fail %" PRIu64 ") %s",
		       i, r->dup_or_back, r->bad_origin, r->infofail, r->msg);
		tap_ok(r->bad_payload == 0, "sub %d: payload matches origin and sequence, size exact (%" PRIu64 " bad)", i, r->bad_payload);
		tap_ok(r->gaps == r->lost_api, "sub %d: sequence gaps %" PRIu64 " == zcp_subscriber_lost %" PRIu64, i, r->gaps, r->lost_api);
		tap_ok(r->taken + r->lost_api == total, "sub %d: taken %" PRIu64 " + lost %" PRIu64 " == published %" PRIu64, i, r->taken, r->lost_api, total);
		tap_ok(r->ts_back == 0, "sub %d: timestamps non-decreasing per publisher (%" PRIu64 " went back; CLOCK_REALTIME)", i, r->ts_back);
	}
	zcp_topic_info ti;
	int found = 0;
	for (int i = 0; i < zcp_topic_slots(m); i++)
		if (zcp_topic_get_info(m, i, &ti) == 0 && !strcmp(ti.name, "seq")) {
			found = 1;
			break;
		}
	uint64_t lost_sum = 0;
	for (int i = 0; i < NSUBS; i++)
		lost_sum += sh->s[i].lost_api;
	tap_ok(found && ti.published == (uint64_t)NPUBS * NSAMPLES, "topic info: published %" PRIu64, found ? ti.published : 0);
	uint64_t taken_sum = 0;
	for (int i = 0; i < NSUBS; i++)
		taken_sum += sh->s[i].taken;
	tap_ok(sh->ep_lost_sum == lost_sum, "topic info while subscribers open: lost %" PRIu64 " == sum of subscribers' lost %" PRIu64, sh->ep_lost_sum, lost_sum);
	tap_ok(sh->ep_taken_sum == taken_sum, "endpoint info while subscribers open: taken %" PRIu64 " == sum taken %" PRIu64, sh->ep_taken_sum, taken_sum);
	diag("topic info lost after all subscribers closed: %" PRIu64, found ? ti.lost : 0);
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	tap_ok(st.used == 0, "every chunk back after everyone closed (used %" PRIu64 ")", st.used);
	return tap_done();
}
