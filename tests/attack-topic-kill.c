/* SPDX-License-Identifier: MIT */
/* Attacks topic.h's crash promises (public API only): publisher and
 * subscriber processes are killed with SIGKILL at random moments of heavy
 * traffic (inside publish, take, create, close, holding samples), new ones
 * take their places, and a survivor process with two subscribers reclaims
 * beside the traffic.  Per round:
 *  - every subscriber, survivor or killable, sees each origin's sequences
 *    strictly increasing, samples intact, the very chunk published;
 *  - the survivor's held samples (some held all round) stay intact through
 *    the kills and reclaims of their publishers;
 *  - all or none: for every publisher, both survivor subscribers end on the
 *    same last sample, which is its last completed publish or the one it
 *    was killed in (the newest sample is never dropped), and lost +
 *    received == published for each of them;
 *  - a dead subscriber does not block REJECT publishers for long once
 *    reclaimed;
 *  - after every child is dead or gone, reclaim, and every endpoint closed:
 *    the topic has no endpoint left, every pool's used count is 0 (history
 *    0), and zcp_mempool_manager_check() is 0.
 * Rounds: zt_iters(6), alternating DROP_OLDEST and REJECT. */
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

#define MAX_ORIGINS 256
#define KPUBS 3
#define KSUBS 3
#define SURV_SUBS 2
#define CAPACITY 8
#define MAXLEN 600

struct origin_rec {
	_Atomic uint64_t origin;    /* zcp_publisher_id(), 0 until created */
	_Atomic uint64_t completed; /* publishes that returned 0 */
	_Atomic int pid;
};

struct ctl {
	_Atomic int norigins;
	_Atomic int surv_ready;
	_Atomic int drain;      /* set by the parent: every publisher is gone */
	_Atomic int surv_done;
	_Atomic uint64_t surv_received[SURV_SUBS], surv_lost[SURV_SUBS], surv_rechecked[SURV_SUBS];
	_Atomic uint64_t reclaimed_procs, ksub_taken;
	_Atomic int last_seq[SURV_SUBS][MAX_ORIGINS]; /* -1: none */
	struct origin_rec o[MAX_ORIGINS];
};

static struct ctl *ctl;
static const char *mgr_name;
static const char *topic;
static int policy;

static zcp_mempool_manager *child_attach(void)
{
	zcp_mempool_manager *m = NULL;
	int err;
	double t0 = at_now();
	while ((err = zcp_mempool_manager_attach(mgr_name, &m)) == ZCP_EUSERS ||
	       err == ZCP_EAGAIN) {
		ZT_CHECK_MSG(at_now() - t0 < 10, "attach: %s for 10 s", zcp_err_name(err));
		usleep(1000);
	}
	ZT_CHECK_MSG(err == 0, "attach: %s", zcp_err_name(err));
	return m;
}

static void opts(zcp_topic_options *o)
{
	zcp_topic_options_init(o);
	o->capacity = CAPACITY;
	o->overflow = policy;
}

/* Which origin record a sample's origin id is; checks the stamp agrees. */
static int origin_tag(const zcp_chunk *c, const struct stamp *st)
{
	zcp_sample_info info;
	int err = zcp_chunk_sample_info(c, &info);
	ZT_CHECK_MSG(err == 0, "sample_info: %s", zcp_err_name(err));
	ZT_CHECK_MSG(st->tag < MAX_ORIGINS && (int)st->tag < atomic_load(&ctl->norigins),
		     "tag %llu", (unsigned long long)st->tag);
	ZT_CHECK_MSG(atomic_load(&ctl->o[st->tag].origin) == info.origin,
		     "tag %llu: origin %llu, its publisher's id %llu", (unsigned long long)st->tag,
		     (unsigned long long)info.origin,
		     (unsigned long long)atomic_load(&ctl->o[st->tag].origin));
	ZT_CHECK_MSG(info.sequence == st->seq, "tag %llu: stamped seq %llu, info seq %llu",
		     (unsigned long long)st->tag, (unsigned long long)st->seq,
		     (unsigned long long)info.sequence);
	return (int)st->tag;
}

/* ---- a killable publisher ---------------------------------------------- */
static void kpub(int tag)
{
	zcp_mempool_manager *m = child_attach();
	zcp_topic_options o;
	opts(&o);
	zcp_publisher *p;
	int err;
	double t0 = at_now();
	while ((err = zcp_publisher_create(m, topic, &o, &p)) == ZCP_EAGAIN ||
	       err == ZCP_EENDPOINTS) {
		ZT_CHECK_MSG(at_now() - t0 < 10, "publisher_create: %s for 10 s", zcp_err_name(err));
		usleep(500);
	}
	ZT_CHECK_MSG(err == 0, "publisher_create: %s", zcp_err_name(err));
	atomic_store(&ctl->o[tag].origin, zcp_publisher_id(p));
	uint64_t rs = (uint64_t)getpid() * 977;
	/* some publishers leave by themselves, closing, after a while */
	uint64_t quit_after = at_rand(&rs) % 4 == 0 ? 200 + at_rand(&rs) % 3000 : UINT64_MAX;
	for (uint64_t seq = 0; seq < quit_after; seq++) {
		uint64_t r = at_rand(&rs);
		uint64_t len = (r >> 8) % MAXLEN;
		zcp_chunk *c;
		t0 = at_now();
		while (!(c = zcp_publisher_loan(p, sizeof(struct stamp) + len))) {
			ZT_CHECK_MSG(errno == ENOBUFS || errno == EAGAIN, "loan: errno %d", errno);
			ZT_CHECK_MSG(at_now() - t0 < 10, "loan starved for 10 s");
			usleep(100);
		}
		at_stamp(m, c, (uint64_t)tag, seq, len, 0);
		t0 = at_now();
		while ((err = zcp_publisher_publish(p, c)) != 0) {
			ZT_CHECK_MSG(err == ZCP_EAGAIN || (err == ZCP_EFULL && policy == ZCP_OVERFLOW_REJECT),
				     "publish: %s", zcp_err_name(err));
			/* a dead subscriber's full queue blocks REJECT only
			 * until someone reclaims it (the survivor does, often;
			 * a loaded machine starves it for seconds: CI once
			 * went past 8 s) */
			ZT_CHECK_MSG(at_now() - t0 < 20 * zt_slowdown(), "publish refused for %ld s: %s",
				     20 * zt_slowdown(), zcp_err_name(err));
			sched_yield();
		}
		atomic_store(&ctl->o[tag].completed, seq + 1);
		if (r % 16 == 0)
			for (volatile unsigned i = 0; i < (r >> 40) % 20000; i++)
				;
		if (r % 128 == 0)
			usleep((useconds_t)((r >> 24) % 2000));
	}
	err = zcp_publisher_close(p);
	ZT_CHECK_MSG(err == 0 || err == ZCP_EAGAIN, "publisher_close: %s", zcp_err_name(err));
	zcp_mempool_manager_detach(m);
	_exit(0);
}

/* ---- a killable subscriber --------------------------------------------- */
static void ksub(void)
{
	zcp_mempool_manager *m = child_attach();
	zcp_topic_options o;
	opts(&o);
	uint64_t rs = (uint64_t)getpid() * 1009;
	zcp_chunk *held[4] = {0};
	for (;;) {
		zcp_subscriber *s;
		int err;
		double t0 = at_now();
		while ((err = zcp_subscriber_create(m, topic, &o, &s)) == ZCP_EAGAIN ||
		       err == ZCP_EENDPOINTS) {
			ZT_CHECK_MSG(at_now() - t0 < 10, "subscriber_create: %s for 10 s",
				     zcp_err_name(err));
			usleep(500);
		}
		ZT_CHECK_MSG(err == 0, "subscriber_create: %s", zcp_err_name(err));
		int64_t next[MAX_ORIGINS];
		for (int i = 0; i < MAX_ORIGINS; i++)
			next[i] = 0;
		uint64_t life = 50 + at_rand(&rs) % 2000;
		for (uint64_t n = 0; n < life;) {
			zcp_chunk *c = zcp_subscriber_take(s);
			uint64_t r = at_rand(&rs);
			if (!c) {
				ZT_CHECK_MSG(errno == EAGAIN, "take: errno %d", errno);
				sched_yield();
				continue;
			}
			n++;
			struct stamp st;
			int v = at_verify(c, UINT64_MAX, 0, &st);
			ZT_CHECK_MSG(v == 0, "ksub: sample damaged (code %d)", v);
			int tag = origin_tag(c, &st);
			ZT_CHECK_MSG(zcp_chunk_from_handle(m, st.handle) == c, "ksub: not the chunk published");
			ZT_CHECK_MSG((int64_t)st.seq >= next[tag], "ksub: tag %d seq %llu after %lld", tag,
				     (unsigned long long)st.seq, (long long)next[tag] - 1);
			next[tag] = (int64_t)st.seq + 1;
			atomic_fetch_add(&ctl->ksub_taken, 1);
			int k = (int)(r % 8);
			if (k < 4) {
				if (held[k]) {
					ZT_CHECK(at_verify(held[k], UINT64_MAX, 0, NULL) == 0);
					ZT_CHECK(zcp_chunk_release(m, held[k]) == 0);
				}
				held[k] = c; /* may die holding it */
			} else {
				ZT_CHECK(zcp_chunk_release(m, c) == 0);
			}
			if (r % 64 == 0)
				usleep((useconds_t)((r >> 20) % 3000));
		}
		err = zcp_subscriber_close(s);
		ZT_CHECK_MSG(err == 0 || err == ZCP_EAGAIN, "subscriber_close: %s", zcp_err_name(err));
	}
}

/* ---- the survivor -------------------------------------------------------- */
struct surv_arg {
	zcp_mempool_manager *m;
	int si;
};

#define SURV_HOLD 8

static void *surv_thread(void *arg)
{
	struct surv_arg *a = arg;
	zcp_mempool_manager *m = a->m;
	int si = a->si;
	zcp_topic_options o;
	opts(&o);
	zcp_subscriber *s;
	int err;
	while ((err = zcp_subscriber_create(m, topic, &o, &s)) == ZCP_EAGAIN)
		;
	ZT_CHECK_MSG(err == 0, "survivor subscriber_create: %s", zcp_err_name(err));
	atomic_fetch_add(&ctl->surv_ready, 1);
	int64_t last[MAX_ORIGINS];
	uint64_t recv[MAX_ORIGINS] = {0};
	for (int i = 0; i < MAX_ORIGINS; i++)
		last[i] = -1;
	struct {
		zcp_chunk *c;
		uint64_t tag, seq;
	} h[SURV_HOLD];
	memset(h, 0, sizeof h);
	uint64_t n = 0, rechecked = 0, rs = (uint64_t)si * 7 + (uint64_t)getpid();
	int empty_after_drain = 0;
	double t0 = at_now();
	for (;;) {
		if (si == 0 && n % 16 == 0) {
			zcp_reclaim_report rep;
			err = zcp_mempool_manager_reclaim(m, &rep);
			ZT_CHECK_MSG(err == 0, "survivor reclaim: %s", zcp_err_name(err));
			atomic_fetch_add(&ctl->reclaimed_procs, rep.processes);
		}
		zcp_chunk *c = zcp_subscriber_take(s);
		if (!c) {
			ZT_CHECK_MSG(errno == EAGAIN, "survivor take: errno %d", errno);
			if (atomic_load(&ctl->drain)) {
				/* every publisher is gone: what waits is final */
				if (++empty_after_drain > 3)
					break;
				usleep(1000);
			} else {
				usleep(50);
			}
			n++; /* reclaim now and then even when idle */
			ZT_CHECK_MSG(at_now() - t0 < 60, "survivor: no drain");
			continue;
		}
		empty_after_drain = 0;
		n++;
		struct stamp st;
		int v = at_verify(c, UINT64_MAX, 0, &st);
		ZT_CHECK_MSG(v == 0, "survivor %d: sample damaged (code %d)", si, v);
		int tag = origin_tag(c, &st);
		ZT_CHECK_MSG(zcp_chunk_from_handle(m, st.handle) == c, "survivor: not the chunk published");
		ZT_CHECK_MSG((int64_t)st.seq > last[tag],
			     "survivor %d: tag %d seq %llu after %lld (duplicate or out of order)", si,
			     tag, (unsigned long long)st.seq, (long long)last[tag]);
		last[tag] = (int64_t)st.seq;
		recv[tag]++;
		uint64_t r = at_rand(&rs);
		/* slots 0-1 keep their first samples all round; 2-7 rotate */
		int k = n < 200 ? (int)(n % 2) : 2 + (int)(r % (SURV_HOLD - 2));
		if (r % 4 == 0 && (k >= 2 || !h[k].c)) {
			if (h[k].c) {
				v = at_verify(h[k].c, h[k].tag, h[k].seq, NULL);
				ZT_CHECK_MSG(v == 0, "survivor %d: HELD sample tag %llu seq %llu overwritten (code %d)",
					     si, (unsigned long long)h[k].tag, (unsigned long long)h[k].seq, v);
				rechecked++;
				ZT_CHECK(zcp_chunk_release(m, h[k].c) == 0);
			}
			h[k].c = c;
			h[k].tag = st.tag;
			h[k].seq = st.seq;
		} else {
			ZT_CHECK(zcp_chunk_release(m, c) == 0);
		}
		if (r % 256 == 0)
			usleep((useconds_t)((r >> 16) % 2000));
	}
	for (int k = 0; k < SURV_HOLD; k++)
		if (h[k].c) {
			int v = at_verify(h[k].c, h[k].tag, h[k].seq, NULL);
			ZT_CHECK_MSG(v == 0, "survivor %d: HELD sample tag %llu seq %llu overwritten at the end (code %d)",
				     si, (unsigned long long)h[k].tag, (unsigned long long)h[k].seq, v);
			rechecked++;
			ZT_CHECK(zcp_chunk_release(m, h[k].c) == 0);
		}
	uint64_t total = 0, want_lost = 0;
	int no = atomic_load(&ctl->norigins);
	for (int t = 0; t < no; t++) {
		uint64_t done = atomic_load(&ctl->o[t].completed);
		/* all or none, and the newest is never dropped */
		ZT_CHECK_MSG(last[t] + 1 == (int64_t)done || last[t] == (int64_t)done,
			     "survivor %d: origin %d completed %llu publishes, last sample seen %lld",
			     si, t, (unsigned long long)done, (long long)last[t]);
		atomic_store(&ctl->last_seq[si][t], (int)last[t]);
		total += recv[t];
		want_lost += (uint64_t)(last[t] + 1) - recv[t];
	}
	uint64_t lost = zcp_subscriber_lost(s);
	ZT_CHECK_MSG(lost == want_lost, "survivor %d: lost %llu, published - received %llu", si,
		     (unsigned long long)lost, (unsigned long long)want_lost);
	atomic_store(&ctl->surv_received[si], total);
	atomic_store(&ctl->surv_lost[si], lost);
	atomic_store(&ctl->surv_rechecked[si], rechecked);
	err = zcp_subscriber_close(s);
	ZT_CHECK_MSG(err == 0 || err == ZCP_EAGAIN, "survivor subscriber_close: %s", zcp_err_name(err));
	return NULL;
}

static void survivor(void)
{
	zcp_mempool_manager *m = child_attach();
	pthread_t th[SURV_SUBS];
	struct surv_arg a[SURV_SUBS];
	for (int i = 0; i < SURV_SUBS; i++) {
		a[i].m = m;
		a[i].si = i;
		ZT_CHECK(pthread_create(&th[i], NULL, surv_thread, &a[i]) == 0);
	}
	for (int i = 0; i < SURV_SUBS; i++)
		pthread_join(th[i], NULL);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

/* ---- the parent ---------------------------------------------------------- */
struct kid {
	pid_t pid;
	int is_pub;
};

static int reap(struct kid *k, int killed, const char *what)
{
	int st = 0;
	zt_wait(k->pid, &st);
	k->pid = 0;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && killed)
		return 1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 1;
	diag("%s: a killable %s ended badly (status 0x%x)", what, k->is_pub ? "publisher" : "subscriber", st);
	return 0;
}

static void spawn(struct kid *k, int is_pub)
{
	int tag = 0;
	if (is_pub) {
		tag = atomic_load(&ctl->norigins);
		if (tag >= MAX_ORIGINS) {
			k->pid = 0;
			return;
		}
		atomic_store(&ctl->norigins, tag + 1);
	}
	pid_t pid = zt_fork();
	if (pid < 0)
		bail("fork");
	if (pid == 0) {
		if (is_pub)
			kpub(tag);
		ksub();
	}
	if (is_pub)
		atomic_store(&ctl->o[tag].pid, pid);
	k->pid = pid;
	k->is_pub = is_pub;
}

static void round_(zcp_mempool_manager *m, int r, double seconds, uint64_t *seed)
{
	policy = r % 2 ? ZCP_OVERFLOW_REJECT : ZCP_OVERFLOW_DROP_OLDEST;
	/* the same two topics every round: a topic outlives its endpoints or
	 * is made again, either way nothing may accumulate */
	const char *tname = policy == ZCP_OVERFLOW_REJECT ? "kill-reject" : "kill-drop";
	topic = tname;
	const char *pname = policy == ZCP_OVERFLOW_REJECT ? "REJECT" : "DROP_OLDEST";
	memset(ctl, 0, sizeof *ctl);
	pid_t sp = zt_fork();
	if (sp < 0)
		bail("fork");
	if (sp == 0)
		survivor();
	double t0 = at_now();
	while (atomic_load(&ctl->surv_ready) < SURV_SUBS && at_now() - t0 < 10)
		usleep(500);
	struct kid kids[KPUBS + KSUBS];
	for (int i = 0; i < KPUBS + KSUBS; i++)
		spawn(&kids[i], i < KPUBS);
	int good = 1;
	unsigned kills = 0;
	t0 = at_now();
	while (at_now() - t0 < seconds) {
		usleep((useconds_t)(2000 + at_rand(seed) % 60000));
		int i = (int)(at_rand(seed) % (KPUBS + KSUBS));
		if (kids[i].pid == 0) {
			spawn(&kids[i], i < KPUBS);
			continue;
		}
		/* a publisher that left by itself, or a child that failed */
		int st;
		if (waitpid(kids[i].pid, &st, WNOHANG) == kids[i].pid) {
			if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
				diag("%s: a killable child failed (status 0x%x)", pname, st);
				good = 0;
			}
			kids[i].pid = 0;
			spawn(&kids[i], i < KPUBS);
			continue;
		}
		kill(kids[i].pid, SIGKILL);
		kills++;
		good &= reap(&kids[i], 1, pname);
		spawn(&kids[i], i < KPUBS);
	}
	/* the end: the rest die at random moments too */
	for (int i = 0; i < KPUBS + KSUBS; i++) {
		if (!kids[i].pid)
			continue;
		usleep((useconds_t)(at_rand(seed) % 5000));
		kill(kids[i].pid, SIGKILL);
		kills++;
		good &= reap(&kids[i], 1, pname);
	}
	atomic_store(&ctl->drain, 1);
	ok(good, "%s round %d: no killable child saw a broken promise", pname, r);
	zt_ok_child(sp, "%s round %d: the survivor's checks (order, all or none, held data, lost)",
		    pname, r);
	int no = atomic_load(&ctl->norigins);
	int same = 1;
	for (int t = 0; t < no; t++)
		if (ctl->last_seq[0][t] != ctl->last_seq[1][t]) {
			same = 0;
			diag("origin %d: survivor 0 ended on %d, survivor 1 on %d (completed %llu)", t,
			     ctl->last_seq[0][t], ctl->last_seq[1][t],
			     (unsigned long long)ctl->o[t].completed);
		}
	ok(same, "%s round %d: all or none: both survivors end on the same sample of each of %d publishers",
	   pname, r, no);
	if (policy == ZCP_OVERFLOW_REJECT)
		ok(ctl->surv_lost[0] == 0 && ctl->surv_lost[1] == 0,
		   "REJECT round %d: the survivors lost nothing (%llu, %llu)", r,
		   (unsigned long long)ctl->surv_lost[0], (unsigned long long)ctl->surv_lost[1]);
	zcp_reclaim_report rep;
	memset(&rep, 0, sizeof rep);
	is_int(zcp_mempool_manager_reclaim(m, &rep), 0, "%s round %d: reclaim", pname, r);
	uint64_t pubs = 0;
	for (int t = 0; t < no; t++)
		pubs += ctl->o[t].completed;
	diag("%s round %d: %u kills, %d publishers, %llu published, survivors got %llu/%llu (lost %llu/%llu), "
	     "%llu held re-verified, killable subscribers took %llu, survivor reclaimed %llu processes",
	     pname, r, kills, no, (unsigned long long)pubs,
	     (unsigned long long)ctl->surv_received[0], (unsigned long long)ctl->surv_received[1],
	     (unsigned long long)ctl->surv_lost[0], (unsigned long long)ctl->surv_lost[1],
	     (unsigned long long)(ctl->surv_rechecked[0] + ctl->surv_rechecked[1]),
	     (unsigned long long)ctl->ksub_taken, (unsigned long long)ctl->reclaimed_procs);
	zcp_topic_info ti;
	int idx = at_topic_index(m, tname, &ti);
	if (idx >= 0)
		ok(ti.publishers == 0 && ti.subscribers == 0 && ti.closed_publishers == 0 && ti.kept == 0,
		   "%s round %d: no endpoint left (publishers %u subscribers %u closed %u kept %llu)",
		   pname, r, ti.publishers, ti.subscribers, ti.closed_publishers,
		   (unsigned long long)ti.kept);
	is_int((long long)at_used_all(m), 0, "%s round %d: every chunk back in its pool", pname, r);
	is_int(zcp_mempool_manager_check(m), 0, "%s round %d: manager check", pname, r);
}

int main(void)
{
	plan_lazy();
	mgr_name = zt_name();
	ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		bail("mmap");
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 256, 1024);
	zcp_mempool_config_add_entry(cfg, 1024, 1024);
	zcp_mempool_config_set_topics(cfg, 64, 16, 16, 64);
	zcp_mempool_manager *m;
	int err = zcp_mempool_manager_create(mgr_name, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (err)
		bail("create: %s", zcp_err_name(err));
	long rounds = zt_iters(6);
	uint64_t seed = (uint64_t)getpid();
	double t0 = at_now();
	for (long r = 0; r < rounds && at_now() - t0 < 600; r++)
		round_(m, (int)r, 1.2, &seed);
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
