/* SPDX-License-Identifier: MIT */
/* Attacks the promise of chunk.h: "Every escrow call may run in any number
 * of threads of any number of processes at once", and "the receiver's
 * zcp_chunk_receive(ticket) takes it, exactly once" (README).
 *
 * Two processes, THREADS threads each, all on one manager handle per
 * process, send stamped chunks (writer id, sequence, checksum) to the other
 * process through an anonymous shared mailbox; receivers verify the stamp.
 * A fresh ticket must never be ESTALE, a received chunk must carry the
 * sender's stamp, escrow records must not run out for good, and at the end
 * (every thread released, every process settled) every pool's used is 0 and
 * zcp_mempool_manager_check() is 0.  Three runs: receiver 0; receiver 0
 * with tickets posted to either process (so threads of the sender's own
 * process take them) and settle called beside; named receivers. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define NPROC 2
#define THREADS 4
#define INBOX 64
#define MAGIC 0x5a43504bu

/* ---- payload stamps ---------------------------------------------------- */
struct stamp {
	uint32_t magic;
	uint32_t writer;
	uint64_t seq;
	uint64_t len;
	uint64_t sum;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static void stamp_write(void *p, uint64_t len, uint32_t writer, uint64_t seq)
{
	struct stamp *s = p;
	uint64_t key = ((uint64_t)writer << 40) ^ seq, sum = key;
	uint64_t *w = (uint64_t *)(s + 1);
	uint64_t n = (len - sizeof *s) / 8;
	for (uint64_t i = 0; i < n; i++) {
		w[i] = mix(key + i);
		sum = mix(sum ^ w[i]);
	}
	s->writer = writer;
	s->seq = seq;
	s->len = len;
	s->sum = sum;
	s->magic = MAGIC;
}

/* 0 if intact (and fills writer/seq), -1 if not. */
static int stamp_check(const void *p, uint64_t cap, uint32_t *writer, uint64_t *seq)
{
	const struct stamp *s = p;
	if (s->magic != MAGIC || s->len < sizeof *s || s->len > cap)
		return -1;
	uint64_t key = ((uint64_t)s->writer << 40) ^ s->seq, sum = key;
	const uint64_t *w = (const uint64_t *)(s + 1);
	uint64_t n = (s->len - sizeof *s) / 8;
	for (uint64_t i = 0; i < n; i++) {
		if (w[i] != mix(key + i))
			return -1;
		sum = mix(sum ^ w[i]);
	}
	if (sum != s->sum)
		return -1;
	*writer = s->writer;
	*seq = s->seq;
	return 0;
}

/* ---- shared mailbox ---------------------------------------------------- */
struct counters {
	_Atomic uint64_t sent, received, send_fail, enospc, enobufs, estale, eacces, einval,
		recv_other, bad_stamp, wrong_writer, dup_seq, release_fail, exhausted, lent_before,
		lent_after, settled_refs;
};

struct box {
	_Atomic uint64_t id[NPROC];
	_Atomic int attached, drained, settled, go_exit;
	_Atomic int senders_done[NPROC];
	_Atomic uint64_t inbox[NPROC][INBOX];
	struct counters c[NPROC];
	/* seen[writer][seq / 64] bit: every (writer, seq) received once */
	_Atomic uint64_t seen[NPROC * THREADS][(1u << 16) / 64];
};

static struct box *box;
static const char *mgr_name;
static long per_thread;
static double deadline_s;
static int named; /* 1: send to the peer's process id (every 4th to 0); 0: always to 0 */
static int mixed; /* 1: receiver 0, tickets go to either process's inbox (own too), settle beside */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct thr {
	zcp_mempool_manager *m;
	int proc, idx;
	uint64_t rng;
	double t_end;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Take one ticket from our own inbox; 1 if one was processed. */
static int receive_one(struct thr *t)
{
	struct counters *c = &box->c[t->proc];
	for (int k = 0; k < INBOX; k++) {
		int i = (int)((k + t->idx * 16) % INBOX);
		uint64_t tk = atomic_exchange(&box->inbox[t->proc][i], 0);
		if (!tk)
			continue;
		errno = 0;
		zcp_chunk *ch = zcp_chunk_receive(t->m, tk);
		if (!ch) {
			int e = errno;
			if (e == ESTALE)
				atomic_fetch_add(&c->estale, 1);
			else if (e == EACCES)
				atomic_fetch_add(&c->eacces, 1);
			else if (e == EINVAL)
				atomic_fetch_add(&c->einval, 1);
			else
				atomic_fetch_add(&c->recv_other, 1);
			return 1;
		}
		atomic_fetch_add(&c->received, 1);
		uint32_t w;
		uint64_t seq;
		if (stamp_check(zcp_chunk_data(ch), zcp_chunk_capacity(ch), &w, &seq) != 0) {
			atomic_fetch_add(&c->bad_stamp, 1);
		} else if (!mixed && w / THREADS != (uint32_t)(1 - t->proc)) {
			atomic_fetch_add(&c->wrong_writer, 1);
		} else if (!mixed && seq < (1u << 16)) {
			uint64_t bit = UINT64_C(1) << (seq % 64);
			if (atomic_fetch_or(&box->seen[w][seq / 64], bit) & bit)
				atomic_fetch_add(&c->dup_seq, 1);
		}
		if (zcp_chunk_release(t->m, ch) != 0)
			atomic_fetch_add(&c->release_fail, 1);
		return 1;
	}
	return 0;
}

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	struct counters *c = &box->c[t->proc];
	int peer = 1 - t->proc;
	uint64_t peer_id = atomic_load(&box->id[peer]);
	uint32_t writer = (uint32_t)(t->proc * THREADS + t->idx);
	double stuck_since = 0;

	for (long seq = 0; seq < per_thread && now() < t->t_end; seq++) {
		uint64_t size = 40 + rnd(&t->rng) % 200;
		zcp_chunk *ch = zcp_chunk_get(t->m, size);
		if (!ch) {
			atomic_fetch_add(&c->enobufs, 1);
			receive_one(t);
			zcp_mempool_manager_settle(t->m);
			seq--;
			if (!stuck_since)
				stuck_since = now();
			else if (now() - stuck_since > 1.0 * (double)zt_slowdown()) {
				atomic_fetch_add(&c->exhausted, 1);
				break;
			}
			continue;
		}
		stamp_write(zcp_chunk_data(ch), size & ~UINT64_C(7), writer, (uint64_t)seq);
		uint64_t tk = 0, tk2 = 0;
		int r = zcp_chunk_send(t->m, ch, (named && (seq & 3) != 3) ? peer_id : 0, &tk);
		/* mixed: now and then lend the same chunk twice (the stamp's
		 * sequence then arrives twice: not counted as a duplicate) */
		if (mixed && r == 0 && (seq & 3) == 1 && zcp_chunk_send(t->m, ch, 0, &tk2) != 0)
			tk2 = 0;
		if (zcp_chunk_release(t->m, ch) != 0)
			atomic_fetch_add(&c->release_fail, 1);
		if (r == ZCP_ENOSPC) {
			atomic_fetch_add(&c->enospc, 1);
			receive_one(t);
			zcp_mempool_manager_settle(t->m);
			seq--;
			if (!stuck_since)
				stuck_since = now();
			else if (now() - stuck_since > 1.0 * (double)zt_slowdown()) {
				atomic_fetch_add(&c->exhausted, 1);
				break;
			}
			continue;
		}
		stuck_since = 0;
		if (r != 0) {
			atomic_fetch_add(&c->send_fail, 1);
			continue;
		}
		atomic_fetch_add(&c->sent, 1);
		/* post it into the peer's inbox (mixed: either inbox) */
		int dest = mixed && (rnd(&t->rng) & 1) ? t->proc : peer;
		if (mixed && (seq & 7) == 0)
			zcp_mempool_manager_settle(t->m);
		for (;;) {
			int posted = 0;
			for (int i = 0; i < INBOX && !posted; i++) {
				uint64_t z = 0;
				if (atomic_compare_exchange_strong(&box->inbox[dest][i], &z, tk))
					posted = 1;
			}
			if (posted)
				break;
			if (!receive_one(t))
				sched_yield();
		}
		if (tk2) {
			atomic_fetch_add(&c->sent, 1);
			for (int posted = 0; !posted;) {
				for (int i = 0; i < INBOX && !posted; i++) {
					uint64_t z = 0;
					if (atomic_compare_exchange_strong(&box->inbox[dest][INBOX - 1 - i],
									   &z, tk2))
						posted = 1;
				}
				if (!posted && !receive_one(t))
					sched_yield();
			}
		}
		receive_one(t);
	}
	atomic_fetch_add(&box->senders_done[t->proc], 1);
	/* drain until the peer is done and our inbox is empty */
	double drain_end = t->t_end + 2;
	for (;;) {
		if (receive_one(t))
			continue;
		if (atomic_load(&box->senders_done[peer]) == THREADS &&
		    (!mixed || atomic_load(&box->senders_done[t->proc]) == THREADS)) {
			int empty = 1;
			for (int i = 0; i < INBOX; i++)
				if (atomic_load(&box->inbox[t->proc][i]))
					empty = 0;
			if (empty)
				break;
		}
		if (now() > drain_end)
			break;
		sched_yield();
	}
	return NULL;
}

static int lent_of(zcp_mempool_manager *m, uint64_t id)
{
	int n = zcp_mempool_manager_process_slots(m);
	for (int s = 0; s < n; s++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, s, &pi) == 0 && pi.pid && pi.id == id)
			return (int)pi.lent_unsettled;
	}
	return -1;
}

static void child(int proc)
{
	zcp_mempool_manager *m;
	ZT_CHECK(zcp_mempool_manager_attach(mgr_name, &m) == 0);
	atomic_store(&box->id[proc], zcp_mempool_manager_process_id(m));
	atomic_fetch_add(&box->attached, 1);
	while (atomic_load(&box->attached) < NPROC)
		sched_yield();
	pthread_t th[THREADS];
	struct thr t[THREADS];
	double t_end = now() + deadline_s;
	for (int i = 0; i < THREADS; i++) {
		t[i] = (struct thr){m, proc, i, mix((uint64_t)getpid() * 131 + (uint64_t)i) | 1, t_end};
		ZT_CHECK(pthread_create(&th[i], NULL, thread_main, &t[i]) == 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	/* wait for the peer's threads too, so every ticket we lent was taken */
	atomic_fetch_add(&box->drained, 1);
	double give_up = t_end + 4;
	while (atomic_load(&box->drained) < NPROC && now() < give_up)
		usleep(1000);
	struct counters *c = &box->c[proc];
	atomic_store(&c->lent_before, (uint64_t)lent_of(m, zcp_mempool_manager_process_id(m)));
	long s = zcp_mempool_manager_settle(m);
	atomic_store(&c->settled_refs, (uint64_t)s);
	atomic_store(&c->lent_after, (uint64_t)lent_of(m, zcp_mempool_manager_process_id(m)));
	atomic_fetch_add(&box->settled, 1);
	while (!atomic_load(&box->go_exit))
		usleep(1000);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

static void run(const char *what)
{
	memset(box, 0, sizeof *box);
	mgr_name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 256, 64);
	zcp_mempool_manager *m;
	int err = zcp_mempool_manager_create(mgr_name, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (err)
		bail("create: %s", zcp_strerror(err));
	diag("--- %s", what);

	pid_t pid[NPROC];
	for (int p = 0; p < NPROC; p++) {
		pid[p] = zt_fork();
		if (pid[p] == 0)
			child(p);
	}
	double give_up = now() + deadline_s + 10;
	while (atomic_load(&box->settled) < NPROC && now() < give_up)
		usleep(2000);
	int all_settled = atomic_load(&box->settled) == NPROC;
	ok(all_settled, "%s: both processes finished, released and settled (%d of %d)", what,
	   atomic_load(&box->settled), NPROC);
	uint64_t anomalies = 0;
	for (int p = 0; p < NPROC; p++) {
		struct counters *c = &box->c[p];
		diag("process %d: sent %llu received %llu | ESTALE %llu EACCES %llu EINVAL %llu "
		     "other %llu | bad stamp %llu wrong writer %llu duplicate %llu | "
		     "send errors %llu release errors %llu | ENOSPC %llu ENOBUFS %llu exhausted %llu | "
		     "lent_unsettled %lld -> settle %lld -> %lld",
		     p, (unsigned long long)c->sent, (unsigned long long)c->received,
		     (unsigned long long)c->estale, (unsigned long long)c->eacces,
		     (unsigned long long)c->einval, (unsigned long long)c->recv_other,
		     (unsigned long long)c->bad_stamp, (unsigned long long)c->wrong_writer,
		     (unsigned long long)c->dup_seq, (unsigned long long)c->send_fail,
		     (unsigned long long)c->release_fail, (unsigned long long)c->enospc,
		     (unsigned long long)c->enobufs, (unsigned long long)c->exhausted,
		     (long long)c->lent_before, (long long)(int64_t)c->settled_refs,
		     (long long)c->lent_after);
	}
	uint64_t sent = 0, recvd = 0;
	for (int p = 0; p < NPROC; p++) {
		struct counters *c = &box->c[p];
		sent += c->sent;
		recvd += c->received;
		anomalies += c->estale + c->eacces + c->einval + c->recv_other + c->bad_stamp +
			     c->wrong_writer + c->dup_seq + c->send_fail + c->release_fail +
			     c->exhausted;
	}
	is_int((long long)(box->c[0].estale + box->c[1].estale), 0,
	       "%s: no fresh ticket answers ESTALE", what);
	is_int((long long)(box->c[0].bad_stamp + box->c[1].bad_stamp + box->c[0].wrong_writer +
			   box->c[1].wrong_writer + box->c[0].dup_seq + box->c[1].dup_seq),
	       0, "%s: every received chunk carries its sender's intact stamp, once", what);
	is_int((long long)(box->c[0].exhausted + box->c[1].exhausted), 0,
	       "%s: escrow records and pools never run out for good", what);
	is_int((long long)anomalies, 0, "%s: no anomaly of any kind", what);
	is_int((long long)recvd, (long long)sent, "%s: every ticket sent was received (%llu)", what,
	       (unsigned long long)sent);
	if (box->c[0].lent_after == UINT64_MAX || box->c[1].lent_after == UINT64_MAX)
		diag("no slot of zcp_mempool_manager_process() shows the process's own "
		     "zcp_mempool_manager_process_id()");
	ok(box->c[0].lent_after == 0 && box->c[1].lent_after == 0,
	   "%s: after settle no lent reference waits", what);

	zcp_pool_stats st;
	err = zcp_mempool_manager_pool_stats(m, 0, &st);
	ok(err == 0 && st.used == 0, "%s: every chunk back in its pool (used %llu of %llu)", what,
	   (unsigned long long)st.used, (unsigned long long)st.total);
	is_int(zcp_mempool_manager_check(m), 0, "%s: zcp_mempool_manager_check", what);

	atomic_store(&box->go_exit, 1);
	for (int p = 0; p < NPROC; p++)
		zt_ok_child(pid[p], "%s: process %d exits cleanly", what, p);
	zcp_mempool_manager_reclaim(m, NULL);
	err = zcp_mempool_manager_pool_stats(m, 0, &st);
	ok(err == 0 && st.used == 0, "%s: after both detached, used is 0 (%llu)", what,
	   (unsigned long long)st.used);
	is_int(zcp_mempool_manager_check(m), 0, "%s: check after detach", what);
	zcp_mempool_manager_destroy(m);
	}

int main(void)
{
	plan_lazy();
	long iters = zt_iters(1500);
	per_thread = iters < (1 << 16) ? iters : (1 << 16);
	deadline_s = iters > 1500 ? 60.0 + (double)iters / 2000 : 3.0;
	box = mmap(NULL, sizeof *box, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (box == MAP_FAILED)
		bail("mmap");
	named = 0;
	run("receiver 0");
	mixed = 1;
	run("receiver 0, own and peer inboxes");
	mixed = 0;
	named = 1;
	run("named receivers");
	munmap(box, sizeof *box);
	zt_done();
	return done_testing();
}
