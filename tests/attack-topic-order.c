/* SPDX-License-Identifier: MIT */
/* Attacks topic.h's delivery promises with N:M traffic across processes and
 * threads (public API only).  3 publisher processes x 2 threads (each
 * thread its own publisher) and 4 subscriber processes (3 with one
 * subscriber, 1 with two threads each with its own subscriber) on one topic.
 * Every sample is stamped (publisher tag, sequence, payload of varying size
 * and its checksum, the chunk's handle).  Each subscriber checks:
 *  - per origin, sequences strictly increasing (at most once, publish order),
 *    and zcp_chunk_sample_info() agrees (origin id, sequence);
 *  - the payload is intact, and is the very chunk the publisher loaned
 *    (zero copy: the stamped handle resolves to the same chunk pointer);
 *  - samples it holds for a while stay intact under later traffic (held
 *    data of live subscribers is never overwritten);
 *  - lost + received == published per origin, with loss only from
 *    DROP_OLDEST publishers: REJECT publishers retry on ZCP_EFULL and lose
 *    nothing.
 * Phases: all REJECT, all DROP_OLDEST, mixed (one of each per process).
 * The parent polls discovery beside the traffic and audits afterwards:
 * every chunk back, counts consistent, zcp_mempool_manager_check() 0.
 * Samples per publisher: zt_iters(4000). */
#include "tap.h"
#include "zt.h"
#include "attack-topic.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define PUB_PROCS 3
#define PUB_THREADS 2
#define NPUB (PUB_PROCS * PUB_THREADS)
#define SUB_SINGLE 3
#define NSUB (SUB_SINGLE + 2)
#define HOLD 6
#define MAXLEN 3000

enum { PH_REJECT, PH_DROP, PH_MIXED };

struct ctl {
	_Atomic int subs_ready, pubs_ready, go, pubs_done, subs_done;
	_Atomic uint64_t origin[NPUB];
	_Atomic uint64_t published[NPUB];
	_Atomic uint64_t efull[NPUB];
	_Atomic uint64_t lost[NSUB];
	_Atomic uint64_t received[NSUB];
	_Atomic uint64_t rechecked[NSUB];
};

static struct ctl *ctl;
static const char *mgr_name;
static const char *topic;
static int phase;
static uint64_t nsamples;
static unsigned capacity;

static int policy_of(int tag)
{
	switch (phase) {
	case PH_REJECT:
		return ZCP_OVERFLOW_REJECT;
	case PH_DROP:
		return ZCP_OVERFLOW_DROP_OLDEST;
	default:
		return tag % 2 ? ZCP_OVERFLOW_DROP_OLDEST : ZCP_OVERFLOW_REJECT;
	}
}

static zcp_mempool_manager *child_attach(void)
{
	zcp_mempool_manager *m = NULL;
	int err = zcp_mempool_manager_attach(mgr_name, &m);
	ZT_CHECK_MSG(err == 0, "attach: %s", zcp_err_name(err));
	return m;
}

static void wait_go(void)
{
	double t0 = at_now();
	while (!atomic_load(&ctl->go)) {
		ZT_CHECK_MSG(at_now() - t0 < 15, "no go");
		usleep(200);
	}
}

/* ---- publishers ------------------------------------------------------ */
struct pub_arg {
	zcp_mempool_manager *m;
	int tag;
};

static void *pub_thread(void *arg)
{
	struct pub_arg *a = arg;
	zcp_mempool_manager *m = a->m;
	int tag = a->tag;
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = capacity;
	o.overflow = policy_of(tag);
	zcp_publisher *p = NULL;
	int err;
	while ((err = zcp_publisher_create(m, topic, &o, &p)) == ZCP_EAGAIN)
		;
	ZT_CHECK_MSG(err == 0, "publisher_create: %s", zcp_err_name(err));
	ZT_CHECK(zcp_publisher_id(p) != 0);
	atomic_store(&ctl->origin[tag], zcp_publisher_id(p));
	atomic_fetch_add(&ctl->pubs_ready, 1);
	wait_go();
	uint64_t rs = (uint64_t)tag * 7919 + (uint64_t)getpid();
	for (uint64_t seq = 0; seq < nsamples; seq++) {
		uint64_t r = at_rand(&rs);
		uint64_t len = (r & 3) == 0 ? (r >> 8) % MAXLEN : (r >> 8) % 200;
		zcp_chunk *c;
		double t0 = at_now();
		while (!(c = zcp_publisher_loan(p, sizeof(struct stamp) + len))) {
			ZT_CHECK_MSG(errno == ENOBUFS || errno == EAGAIN, "loan: errno %d", errno);
			ZT_CHECK_MSG(at_now() - t0 < 10, "loan starved for 10 s");
			sched_yield();
		}
		ZT_CHECK(zcp_sample_data(c) != NULL);
		at_stamp(m, c, (uint64_t)tag, seq, len, 0);
		t0 = at_now();
		for (;;) {
			err = zcp_publisher_publish(p, c);
			if (err == 0)
				break;
			ZT_CHECK_MSG(err == ZCP_EAGAIN ||
					     (err == ZCP_EFULL && o.overflow == ZCP_OVERFLOW_REJECT),
				     "publish tag %d seq %llu policy %d: %s", tag,
				     (unsigned long long)seq, o.overflow, zcp_err_name(err));
			if (err == ZCP_EFULL) {
				atomic_fetch_add(&ctl->efull[tag], 1);
				/* the caller kept its chunk: it must still be intact
				 * and ours */
				ZT_CHECK(at_verify(c, (uint64_t)tag, seq, NULL) == 0);
				ZT_CHECK(zcp_chunk_refcount(c) >= 1);
			}
			ZT_CHECK_MSG(at_now() - t0 < 10, "publish refused for 10 s (tag %d)", tag);
			sched_yield();
		}
		atomic_store(&ctl->published[tag], seq + 1);
		/* pace a little so subscribers keep up some of the time */
		if (seq % 32 == 31)
			sched_yield();
		if ((r >> 40) % 256 == 0)
			usleep((useconds_t)((r >> 20) % 1000));
	}
	err = zcp_publisher_close(p);
	ZT_CHECK_MSG(err == 0 || err == ZCP_EAGAIN, "publisher_close: %s", zcp_err_name(err));
	atomic_fetch_add(&ctl->pubs_done, 1);
	return NULL;
}

static void pub_proc(int proc)
{
	zcp_mempool_manager *m = child_attach();
	pthread_t th[PUB_THREADS];
	struct pub_arg a[PUB_THREADS];
	for (int t = 0; t < PUB_THREADS; t++) {
		a[t].m = m;
		a[t].tag = proc * PUB_THREADS + t;
		ZT_CHECK(pthread_create(&th[t], NULL, pub_thread, &a[t]) == 0);
	}
	for (int t = 0; t < PUB_THREADS; t++)
		pthread_join(th[t], NULL);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

/* ---- subscribers ----------------------------------------------------- */
struct sub_arg {
	zcp_mempool_manager *m;
	int si;
	int single; /* the only subscriber of its process */
};

struct held {
	zcp_chunk *c;
	uint64_t tag, seq;
};

static void *sub_thread(void *arg)
{
	struct sub_arg *a = arg;
	zcp_mempool_manager *m = a->m;
	int si = a->si;
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = capacity;
	zcp_subscriber *s = NULL;
	int err;
	while ((err = zcp_subscriber_create(m, topic, &o, &s)) == ZCP_EAGAIN)
		;
	ZT_CHECK_MSG(err == 0, "subscriber_create: %s", zcp_err_name(err));
	atomic_fetch_add(&ctl->subs_ready, 1);
	wait_go();

	uint64_t next[NPUB] = {0}, recv[NPUB] = {0};
	int done[NPUB] = {0}, ndone = 0;
	struct held h[HOLD];
	memset(h, 0, sizeof h);
	uint64_t count = 0, rechecked = 0, rs = (uint64_t)si * 31 + (uint64_t)getpid();
	double last_progress = at_now();
	while (ndone < NPUB) {
		zcp_chunk *c = zcp_subscriber_take(s);
		if (!c) {
			ZT_CHECK_MSG(errno == EAGAIN, "take: errno %d", errno);
			if (at_now() - last_progress > 8) {
				char buf[256];
				int n = 0;
				for (int t = 0; t < NPUB; t++)
					n += snprintf(buf + n, sizeof buf - (size_t)n, " %d:next=%llu/pub=%llu",
						      t, (unsigned long long)next[t],
						      (unsigned long long)atomic_load(&ctl->published[t]));
				zt_child_fail(__FILE__, __LINE__, 1, "progress",
					      "sub %d: nothing for 8 s, waiting=%ld lost=%llu:%s", si,
					      zcp_subscriber_waiting(s),
					      (unsigned long long)zcp_subscriber_lost(s), buf);
			}
			sched_yield();
			continue;
		}
		last_progress = at_now();
		struct stamp st;
		int v = at_verify(c, UINT64_MAX, 0, &st);
		ZT_CHECK_MSG(v == 0, "sub %d: sample damaged (code %d, tag %llu seq %llu)", si, v,
			     (unsigned long long)st.tag, (unsigned long long)st.seq);
		ZT_CHECK_MSG(st.tag < NPUB, "sub %d: tag %llu", si, (unsigned long long)st.tag);
		int tag = (int)st.tag;
		zcp_sample_info info;
		err = zcp_chunk_sample_info(c, &info);
		ZT_CHECK_MSG(err == 0, "sample_info: %s", zcp_err_name(err));
		ZT_CHECK_MSG(info.origin == atomic_load(&ctl->origin[tag]),
			     "sub %d: tag %d origin %llu, its publisher's id %llu", si, tag,
			     (unsigned long long)info.origin,
			     (unsigned long long)atomic_load(&ctl->origin[tag]));
		ZT_CHECK_MSG(info.sequence == st.seq, "sub %d: tag %d stamped seq %llu, info seq %llu",
			     si, tag, (unsigned long long)st.seq, (unsigned long long)info.sequence);
		ZT_CHECK_MSG(zcp_chunk_from_handle(m, st.handle) == c,
			     "sub %d: not the publisher's chunk (zero copy)", si);
		ZT_CHECK_MSG(!done[tag], "sub %d: tag %d: a sample after its last", si, tag);
		ZT_CHECK_MSG(st.seq >= next[tag],
			     "sub %d: tag %d seq %llu after %llu (duplicate or out of order)", si, tag,
			     (unsigned long long)st.seq, (unsigned long long)next[tag] - 1);
		if (policy_of(tag) == ZCP_OVERFLOW_REJECT)
			ZT_CHECK_MSG(st.seq == next[tag],
				     "sub %d: REJECT tag %d: got seq %llu, expected %llu (loss)", si,
				     tag, (unsigned long long)st.seq, (unsigned long long)next[tag]);
		next[tag] = st.seq + 1;
		recv[tag]++;
		if (st.seq == nsamples - 1) {
			done[tag] = 1;
			ndone++;
		}
		count++;
		uint64_t r = at_rand(&rs);
		if (count % 7 == 0) {
			int k = (int)((count / 7) % HOLD);
			if (h[k].c) {
				v = at_verify(h[k].c, h[k].tag, h[k].seq, NULL);
				ZT_CHECK_MSG(v == 0,
					     "sub %d: HELD sample tag %llu seq %llu overwritten (code %d)",
					     si, (unsigned long long)h[k].tag,
					     (unsigned long long)h[k].seq, v);
				rechecked++;
				ZT_CHECK(zcp_chunk_release(m, h[k].c) == 0);
			}
			h[k].c = c;
			h[k].tag = st.tag;
			h[k].seq = st.seq;
		} else {
			err = zcp_chunk_release(m, c);
			ZT_CHECK_MSG(err == 0, "release: %s", zcp_err_name(err));
			if (a->single && r % 64 == 0) {
				err = zcp_chunk_release(m, c);
				ZT_CHECK_MSG(err == ZCP_EALREADY, "second release: %s",
					     zcp_err_name(err));
			}
		}
		if (r % 400 == 0)
			usleep((useconds_t)((r >> 32) % 3000));
	}
	for (int k = 0; k < HOLD; k++)
		if (h[k].c) {
			int v = at_verify(h[k].c, h[k].tag, h[k].seq, NULL);
			ZT_CHECK_MSG(v == 0, "sub %d: HELD sample overwritten at the end (code %d)", si,
				     v);
			rechecked++;
			ZT_CHECK(zcp_chunk_release(m, h[k].c) == 0);
		}
	/* every publisher closed after its last sample: nothing more waits */
	while (atomic_load(&ctl->pubs_done) < NPUB)
		usleep(200);
	zcp_chunk *c = zcp_subscriber_take(s);
	ZT_CHECK_MSG(c == NULL && errno == EAGAIN, "a sample after every last one");
	ZT_CHECK(zcp_subscriber_waiting(s) == 0);
	uint64_t lost = zcp_subscriber_lost(s), want_lost = 0, total = 0;
	for (int t = 0; t < NPUB; t++) {
		if (policy_of(t) == ZCP_OVERFLOW_REJECT)
			ZT_CHECK_MSG(recv[t] == nsamples, "sub %d: REJECT tag %d: %llu of %llu", si,
				     t, (unsigned long long)recv[t], (unsigned long long)nsamples);
		want_lost += nsamples - recv[t];
		total += recv[t];
	}
	ZT_CHECK_MSG(lost == want_lost, "sub %d: lost %llu, but published - received = %llu", si,
		     (unsigned long long)lost, (unsigned long long)want_lost);
	atomic_store(&ctl->lost[si], lost);
	atomic_store(&ctl->received[si], total);
	atomic_store(&ctl->rechecked[si], rechecked);
	err = zcp_subscriber_close(s);
	ZT_CHECK_MSG(err == 0 || err == ZCP_EAGAIN, "subscriber_close: %s", zcp_err_name(err));
	atomic_fetch_add(&ctl->subs_done, 1);
	return NULL;
}

static void sub_proc(int first, int threads)
{
	zcp_mempool_manager *m = child_attach();
	pthread_t th[2];
	struct sub_arg a[2];
	for (int t = 0; t < threads; t++) {
		a[t].m = m;
		a[t].si = first + t;
		a[t].single = threads == 1;
		ZT_CHECK(pthread_create(&th[t], NULL, sub_thread, &a[t]) == 0);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(th[t], NULL);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

/* ---- the parent ------------------------------------------------------ */
static void run_phase(zcp_mempool_manager *m, int ph, const char *tname, unsigned cap)
{
	static const char *names[] = {"REJECT", "DROP_OLDEST", "mixed"};
	phase = ph;
	topic = tname;
	capacity = cap;
	memset(ctl, 0, sizeof *ctl);
	pid_t pids[PUB_PROCS + SUB_SINGLE + 1];
	int np = 0;
	for (int i = 0; i < SUB_SINGLE + 1; i++) {
		pid_t pid = zt_fork();
		if (pid < 0)
			bail("fork");
		if (pid == 0)
			sub_proc(i, i == SUB_SINGLE ? 2 : 1);
		pids[np++] = pid;
	}
	for (int i = 0; i < PUB_PROCS; i++) {
		pid_t pid = zt_fork();
		if (pid < 0)
			bail("fork");
		if (pid == 0)
			pub_proc(i);
		pids[np++] = pid;
	}
	double t0 = at_now();
	while ((atomic_load(&ctl->subs_ready) < NSUB || atomic_load(&ctl->pubs_ready) < NPUB) &&
	       at_now() - t0 < 15)
		usleep(500);
	atomic_store(&ctl->go, 1);
	/* discovery beside the traffic: snapshots only, never a failure of
	 * the library; count how many were read */
	unsigned long snaps = 0, eps = 0;
	while (atomic_load(&ctl->subs_done) < NSUB && at_now() - t0 < 40) {
		zcp_topic_info ti;
		int idx = at_topic_index(m, tname, &ti);
		if (idx >= 0) {
			snaps++;
			for (int k = 0; k < zcp_topic_endpoint_slots(m); k++) {
				zcp_endpoint_info ei;
				if (zcp_topic_get_endpoint(m, idx, k, &ei) == 0)
					eps++;
			}
		}
		usleep(2000);
	}
	int all = 1;
	for (int i = 0; i < np; i++)
		all &= zt_ok_child(pids[i], "%s: %s process %d", names[ph],
				   i < SUB_SINGLE + 1 ? "subscriber" : "publisher", i);
	zcp_reclaim_report rep;
	memset(&rep, 0, sizeof rep);
	is_int(zcp_mempool_manager_reclaim(m, &rep), 0, "%s: reclaim after the children", names[ph]);
	if (all)
		is_int((long long)rep.processes, 0, "%s: every child detached: nothing to reclaim",
		       names[ph]);
	uint64_t efull = 0, lost = 0, recv = 0, rechecked = 0;
	for (int t = 0; t < NPUB; t++)
		efull += ctl->efull[t];
	for (int s = 0; s < NSUB; s++) {
		lost += ctl->lost[s];
		recv += ctl->received[s];
		rechecked += ctl->rechecked[s];
	}
	diag("%s: %llu samples published, %llu received, %llu lost, %llu ZCP_EFULL retries, "
	     "%llu held samples re-verified, %lu discovery snapshots (%lu endpoints)",
	     names[ph], (unsigned long long)(NPUB * nsamples), (unsigned long long)recv,
	     (unsigned long long)lost, (unsigned long long)efull, (unsigned long long)rechecked,
	     snaps, eps);
	if (all)
		is_int((long long)(recv + lost), (long long)(NSUB * NPUB * nsamples),
		       "%s: received + lost == published, over all subscribers", names[ph]);
	if (ph == PH_REJECT)
		is_int((long long)lost, 0, "REJECT: nothing lost");
	uint64_t ids[NPUB];
	int distinct = 1;
	for (int t = 0; t < NPUB; t++) {
		ids[t] = ctl->origin[t];
		for (int u = 0; u < t; u++)
			distinct &= ids[u] != ids[t];
	}
	ok(distinct, "%s: publisher ids are distinct", names[ph]);
	is_int((long long)at_used_all(m), 0, "%s: every chunk back in its pool", names[ph]);
	zcp_topic_info ti;
	int idx = at_topic_index(m, tname, &ti);
	if (idx >= 0) {
		ok(ti.publishers == 0 && ti.subscribers == 0 && ti.kept == 0,
		   "%s: topic empty afterwards (publishers %u subscribers %u closed %u kept %llu)",
		   names[ph], ti.publishers, ti.subscribers, ti.closed_publishers,
		   (unsigned long long)ti.kept);
		diag("%s: discovery says %llu published, %llu lost after every endpoint closed",
		     names[ph], (unsigned long long)ti.published, (unsigned long long)ti.lost);
	} else {
		diag("%s: the topic is gone from the table after its last endpoint closed",
		     names[ph]);
	}
}

int main(void)
{
	plan_lazy();
	mgr_name = zt_name();
	nsamples = (uint64_t)zt_iters(4000);
	ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		bail("mmap");
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 256, 512);
	zcp_mempool_config_add_entry(cfg, 1024, 512);
	zcp_mempool_config_add_entry(cfg, 4096, 512);
	zcp_mempool_config_set_topics(cfg, 8, 8, 8, 64);
	zcp_mempool_manager *m;
	int err = zcp_mempool_manager_create(mgr_name, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (err)
		bail("create: %s", zcp_err_name(err));
	/* ATTACK_PHASE=0/1/2 runs one phase only (for reproducing) */
	const char *only = getenv("ATTACK_PHASE");
	if (!only || atoi(only) == PH_REJECT)
		run_phase(m, PH_REJECT, "order-reject", 8);
	if (!only || atoi(only) == PH_DROP)
		run_phase(m, PH_DROP, "order-drop", 4);
	if (!only || atoi(only) == PH_MIXED)
		run_phase(m, PH_MIXED, "order-mixed", 4);
	is_int(zcp_mempool_manager_check(m), 0, "manager check");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
