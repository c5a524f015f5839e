/* SPDX-License-Identifier: MIT */
/* The soak.  Attacks, all at once: the README's "Crash safety" promises
 * (a kill at any instruction loses no chunk and corrupts nothing; only the
 * dead are reclaimed; reclaim is safe beside live traffic, from any
 * process; references in flight), chunk.h's "any number of threads in any
 * number of processes" table, and the escrow contract.
 *
 * N processes (ZCP_SOAK_PROCS, default 3) x M threads (ZCP_SOAK_THREADS,
 * default 3) run a random mix of every public chunk call: get of random
 * sizes (stamping writer, sequence and checksum into the payload), ref,
 * release (verifying the stamp first), handle + from_handle + ref across
 * processes through a shared board, send/receive/unsend to specific
 * receivers, to themselves and to 0, settle, pool_stats, process, reclaim.
 * The parent SIGKILLs random workers at random moments, reclaims, and
 * starts replacements that attach anew into a process table only one slot
 * larger than needed.  Rounds: zt_iters(150) kills, ~6 s (make stress: 10
 * minutes).  At the end every worker releases everything and settles, and the
 * parent audits: every pool used == 0, check() == 0, no process holds or
 * owes anything, and no stamp was ever found corrupted in a chunk a live
 * holder held, no fresh ticket refused, no pinned handle refused. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define MAXW 8
#define MAXT 8
#define HB 64
#define TB 96
#define HOLD 24
#define MAGIC 0x534f414bu

/* ---- stamps ----------------------------------------------------------- */
struct stamp {
	uint32_t magic, pad;
	uint64_t writer, seq, len, sum;
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

static void stamp_write(void *p, uint64_t len, uint64_t writer, uint64_t seq)
{
	struct stamp *s = p;
	uint64_t key = mix(writer) ^ seq, sum = key;
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

static int stamp_ok(const void *p, uint64_t cap, uint64_t writer, uint64_t seq)
{
	const struct stamp *s = p;
	if (s->magic != MAGIC || s->writer != writer || s->seq != seq || s->len < sizeof *s ||
	    s->len > cap)
		return 0;
	uint64_t key = mix(writer) ^ seq, sum = key;
	const uint64_t *w = (const uint64_t *)(s + 1);
	uint64_t n = (s->len - sizeof *s) / 8;
	for (uint64_t i = 0; i < n; i++) {
		if (w[i] != mix(key + i))
			return 0;
		sum = mix(sum ^ w[i]);
	}
	return sum == s->sum;
}

/* ---- shared state ----------------------------------------------------- */
enum anomaly {
	A_CORRUPT,         /* stamp wrong in a chunk this live thread holds */
	A_RECV_STALE,      /* fresh ticket of a live sender refused */
	A_RECV_WRONG,      /* a received chunk carries another stamp */
	A_RECV_ERR,        /* receive failed otherwise (EACCES, EINVAL, ...) */
	A_HANDLE_REFUSED,  /* from_handle/ref of a pinned chunk of a live owner refused */
	A_HANDLE_WRONG,    /* resolved+ref'd chunk of a live owner is another use / stamp */
	A_RELEASE_ERR,     /* release of a held reference failed */
	A_REF_ERR,         /* ref of a held chunk failed */
	A_SEND_ERR,        /* send failed other than ENOSPC */
	A_UNSEND_ERR,      /* unsend of an untaken ticket failed */
	A_GET_ERR,         /* get failed other than ENOBUFS / E2BIG-as-expected */
	A_STATS,           /* pool_stats inconsistent or failed */
	A_PROCESS,         /* zcp_mempool_manager_process failed */
	A_RECLAIM,         /* reclaim failed */
	A_SETTLE,          /* settle failed */
	A_ATTACH,          /* a replacement could not attach */
	A_REFCOUNT,        /* refcount/handle of a held chunk is 0 */
	A_BOARD,           /* a board entry was taken from its live filler */
	A_N
};
static const char *const a_names[A_N] = {
	"corrupt stamp in held chunk", "fresh ticket ESTALE", "received chunk with wrong stamp",
	"receive error", "pinned handle refused", "resolved chunk not the posted one",
	"release error", "ref error", "send error", "unsend error", "get error",
	"pool_stats inconsistent", "process() error", "reclaim error", "settle error",
	"attach error", "refcount/handle of held chunk 0", "board entry taken from its filler",
};

/* A board entry's phase, and in the low half the key of the process that
 * moved it there (filler, taker, canceller).  FILLING names its filler:
 * owner/sender are written only at the end of a fill, so until POSTED they
 * still name the entry's previous user (or 0), never the filler. */
enum { EMPTY, FILLING, POSTED, TAKING, TAKEN, CANCELLING };
#define PH(s) ((int)((s) >> 32))
#define ST(ph, key) (((uint64_t)(ph) << 32) | (uint32_t)(key))

struct hentry {
	_Atomic uint64_t state; /* phase << 32 | taker key */
	_Atomic uint32_t owner;
	uint64_t handle, writer, seq;
	void *pview; /* the owner process's view (meaningful there only) */
};

struct tentry {
	_Atomic uint64_t state; /* phase << 32 | claimer key */
	_Atomic uint32_t sender, rkey; /* rkey 0: anyone */
	_Atomic int maybe_taken;
	uint64_t ticket, writer, seq;
};

struct wslot {
	_Atomic uint64_t id;
	_Atomic uint32_t inc;
	_Atomic int dead, quiesced;
	pid_t pid;
};

struct shared {
	_Atomic int stop, exit_now;
	struct wslot ws[MAXW];
	struct hentry hb[HB];
	struct tentry tb[TB];
	_Atomic uint64_t anomalies[A_N];
	_Atomic uint64_t ops, gets, enobufs, sends, enospc, receives, recv_stale_ok, takes,
		take_lost_ok, unsends, reclaims, settled_refs, attach_retries;
	_Atomic int nmsg[A_N];
	char msg[A_N][2][200];
};

static struct shared *sh;
static const char *mgr_name;
static int nproc = 3, nthr = 3, named = 1, kills_on = 1, fill_us;

static uint32_t mkkey(int w, uint32_t inc)
{
	return ((uint32_t)w << 24) | (inc & 0xffffff);
}

static int key_dead(uint32_t key)
{
	int w = (int)(key >> 24);
	if (w >= MAXW)
		return 1;
	return (atomic_load(&sh->ws[w].inc) & 0xffffff) != (key & 0xffffff) ||
	       atomic_load(&sh->ws[w].dead);
}

static void anomaly(enum anomaly a, const char *fmt, ...) TAP_PRINTF(2, 3);
static void anomaly(enum anomaly a, const char *fmt, ...)
{
	atomic_fetch_add(&sh->anomalies[a], 1);
	int n = atomic_fetch_add(&sh->nmsg[a], 1);
	if (n < 2) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(sh->msg[a][n], sizeof sh->msg[a][n], fmt, ap);
		va_end(ap);
	}
}

/* ---- a worker thread -------------------------------------------------- */
struct held {
	zcp_chunk *c;
	uint64_t writer, seq;
};

struct thr {
	zcp_mempool_manager *m;
	int w, t;
	uint32_t key;
	uint64_t rng, seq, writer;
	struct held h[HOLD];
	int nh;
};

static uint64_t rnd(struct thr *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->rng;
}

static void hold_add(struct thr *t, zcp_chunk *c, uint64_t writer, uint64_t seq)
{
	t->h[t->nh++] = (struct held){c, writer, seq};
}

static void verify(struct thr *t, int i, const char *when)
{
	struct held *h = &t->h[i];
	if (!stamp_ok(zcp_chunk_data(h->c), zcp_chunk_capacity(h->c), h->writer, h->seq)) {
		const struct stamp *s = zcp_chunk_data(h->c);
		anomaly(A_CORRUPT, "%s: want writer %llx seq %llu, found magic %x writer %llx seq %llu",
			when, (unsigned long long)h->writer, (unsigned long long)h->seq, s->magic,
			(unsigned long long)s->writer, (unsigned long long)s->seq);
	}
	if (zcp_chunk_refcount(h->c) == 0 || zcp_chunk_handle(t->m, h->c) == 0)
		anomaly(A_REFCOUNT, "%s: refcount %llu", when,
			(unsigned long long)zcp_chunk_refcount(h->c));
}

static void drop(struct thr *t, int i)
{
	verify(t, i, "before release");
	int r = zcp_chunk_release(t->m, t->h[i].c);
	if (r)
		anomaly(A_RELEASE_ERR, "release: %s", zcp_err_name(r));
	t->h[i] = t->h[--t->nh];
}

/* A fill of a board entry ends: FILLING (ours) -> POSTED.  Nobody may take
 * the entry from a live filler (gc() judges FILLING by the filler): the
 * test's own bookkeeping would break, not the library's. */
static int fill_done(struct thr *t, _Atomic uint64_t *state, const char *board)
{
	uint64_t s = ST(FILLING, t->key);
	if (atomic_compare_exchange_strong(state, &s, ST(POSTED, 0)))
		return 1;
	anomaly(A_BOARD, "%s board entry of live filler %x found in state %llx", board, t->key,
		(unsigned long long)s);
	return 0;
}

/* ZCP_SOAK_FILL_US: widen the fill window, as a slow (TSan) build does. */
static void fill_pause(void)
{
	if (fill_us)
		usleep((useconds_t)fill_us);
}

static uint64_t pick_size(struct thr *t)
{
	uint64_t r = rnd(t) % 100;
	if (r < 40)
		return 48 + rnd(t) % 17;
	if (r < 70)
		return 65 + rnd(t) % 448;
	if (r < 90)
		return 513 + rnd(t) % 3584;
	return 4097 + rnd(t) % 28672;
}

static void op_get(struct thr *t)
{
	if (t->nh >= HOLD)
		drop(t, (int)(rnd(t) % (uint64_t)t->nh));
	uint64_t size = pick_size(t);
	errno = 0;
	zcp_chunk *c = zcp_chunk_get(t->m, size);
	atomic_fetch_add(&sh->gets, 1);
	if (!c) {
		if (errno == ENOBUFS)
			atomic_fetch_add(&sh->enobufs, 1);
		else
			anomaly(A_GET_ERR, "get(%llu): errno %d", (unsigned long long)size, errno);
		return;
	}
	uint64_t seq = ++t->seq;
	stamp_write(zcp_chunk_data(c), size & ~UINT64_C(7), t->writer, seq);
	hold_add(t, c, t->writer, seq);
}

static void op_ref(struct thr *t)
{
	if (!t->nh || t->nh >= HOLD)
		return;
	struct held h = t->h[rnd(t) % (uint64_t)t->nh];
	int r = zcp_chunk_ref(t->m, h.c);
	if (r)
		anomaly(A_REF_ERR, "ref: %s", zcp_err_name(r));
	else
		hold_add(t, h.c, h.writer, h.seq);
}

/* handle board */
static void op_post(struct thr *t)
{
	if (!t->nh)
		return;
	int i = (int)(rnd(t) % (uint64_t)t->nh);
	for (int k = 0; k < HB; k++) {
		struct hentry *e = &sh->hb[(k + (int)(rnd(t) % HB)) % HB];
		uint64_t s = ST(EMPTY, 0);
		if (!atomic_compare_exchange_strong(&e->state, &s, ST(FILLING, t->key)))
			continue;
		fill_pause();
		int r = zcp_chunk_ref(t->m, t->h[i].c); /* the pin */
		if (r) {
			anomaly(A_REF_ERR, "pin ref: %s", zcp_err_name(r));
			atomic_store(&e->state, ST(EMPTY, 0));
			return;
		}
		atomic_store(&e->owner, t->key);
		e->handle = zcp_chunk_handle(t->m, t->h[i].c);
		e->writer = t->h[i].writer;
		e->seq = t->h[i].seq;
		e->pview = t->h[i].c;
		if (!fill_done(t, &e->state, "handle") && (r = zcp_chunk_release(t->m, t->h[i].c)))
			anomaly(A_RELEASE_ERR, "release of an unposted pin: %s", zcp_err_name(r));
		return;
	}
}

static void op_take(struct thr *t)
{
	if (t->nh >= HOLD)
		return;
	for (int k = 0; k < HB; k++) {
		struct hentry *e = &sh->hb[(k + (int)(rnd(t) % HB)) % HB];
		uint64_t s = ST(POSTED, 0);
		if (!atomic_compare_exchange_strong(&e->state, &s, ST(TAKING, t->key)))
			continue;
		uint32_t owner = atomic_load(&e->owner);
		uint64_t h = e->handle;
		errno = 0;
		zcp_chunk *c = zcp_chunk_from_handle(t->m, h);
		int r = c ? zcp_chunk_ref(t->m, c) : -errno;
		if (r) {
			if (key_dead(owner))
				atomic_fetch_add(&sh->take_lost_ok, 1);
			else
				anomaly(A_HANDLE_REFUSED, "handle %llx of live owner %x: %s",
					(unsigned long long)h, owner, zcp_err_name(r));
		} else if (zcp_chunk_handle(t->m, c) != h) {
			if (key_dead(owner))
				atomic_fetch_add(&sh->take_lost_ok, 1);
			else
				anomaly(A_HANDLE_WRONG, "handle %llx resolved to use %llx", (unsigned long long)h,
					(unsigned long long)zcp_chunk_handle(t->m, c));
			r = zcp_chunk_release(t->m, c);
			if (r)
				anomaly(A_RELEASE_ERR, "release of mis-resolved: %s", zcp_err_name(r));
		} else {
			atomic_fetch_add(&sh->takes, 1);
			hold_add(t, c, e->writer, e->seq);
			verify(t, t->nh - 1, "after from_handle+ref");
		}
		atomic_store(&e->state, ST(TAKEN, t->key));
		return;
	}
}

/* After a CAS of a board entry from s to CANCELLING by `by`: whether the
 * entry still is `key`'s (its owner/sender field, or for gc() the field
 * it judged by), which the CAS alone does not say.  POSTED reads the same
 * for every use of an entry (and TAKEN the same for every use one taker
 * takes): between the read of the field and the CAS the entry may have
 * been taken, emptied and filled again by another process, whose pin or
 * ticket is not ours to release.  If so, the entry goes back to s (a CAS:
 * gc() may meanwhile empty it, judging by the other process). */
static int claimed_own(_Atomic uint64_t *state, uint64_t s, uint32_t by, _Atomic uint32_t *who,
		       uint32_t key)
{
	if (atomic_load(who) == key)
		return 1;
	uint64_t c = ST(CANCELLING, by);
	atomic_compare_exchange_strong(state, &c, s);
	return 0;
}

/* collect TAKEN entries of our process, cancel POSTED ones if `cancel` */
static int handle_chores(struct thr *t, int cancel)
{
	int mine = 0;
	for (int k = 0; k < HB; k++) {
		struct hentry *e = &sh->hb[k];
		uint64_t s = atomic_load(&e->state);
		if (PH(s) == EMPTY || atomic_load(&e->owner) != t->key)
			continue;
		mine++;
		int ph = PH(s);
		if (ph == TAKEN || (cancel && ph == POSTED)) {
			if (!atomic_compare_exchange_strong(&e->state, &s, ST(CANCELLING, t->key)))
				continue;
			if (!claimed_own(&e->state, s, t->key, &e->owner, t->key)) {
				mine--;
				continue;
			}
			zcp_chunk *c = e->pview;
			zcp_chunk *c2 = zcp_chunk_from_handle(t->m, e->handle);
			if (!c2 || zcp_chunk_handle(t->m, c2) != e->handle)
				anomaly(A_HANDLE_REFUSED, "own pinned handle %llx: from_handle %p",
					(unsigned long long)e->handle, (void *)c2);
			int r = zcp_chunk_release(t->m, c);
			if (r)
				anomaly(A_RELEASE_ERR, "pin release: %s", zcp_err_name(r));
			atomic_store(&e->owner, 0);
			atomic_store(&e->state, ST(EMPTY, 0));
			mine--;
		}
	}
	return mine;
}

/* ticket board */
static void op_send(struct thr *t)
{
	if (!t->nh)
		return;
	int i = (int)(rnd(t) % (uint64_t)t->nh);
	uint64_t rid = 0;
	uint32_t rkey = 0;
	uint64_t how = named ? rnd(t) % 4 : 0;
	if (how != 0) {
		int w = how == 1 ? t->w : (int)(rnd(t) % (uint64_t)nproc);
		uint32_t inc = atomic_load(&sh->ws[w].inc);
		rid = atomic_load(&sh->ws[w].id);
		if (!rid || atomic_load(&sh->ws[w].inc) != inc || atomic_load(&sh->ws[w].dead))
			return;
		rkey = mkkey(w, inc);
	}
	struct tentry *e = NULL;
	for (int k = 0; k < TB && !e; k++) {
		struct tentry *x = &sh->tb[(k + (int)(rnd(t) % TB)) % TB];
		uint64_t s = ST(EMPTY, 0);
		if (atomic_compare_exchange_strong(&x->state, &s, ST(FILLING, t->key)))
			e = x;
	}
	if (!e)
		return;
	fill_pause();
	uint64_t tk = 0;
	int r = zcp_chunk_send(t->m, t->h[i].c, rid, &tk);
	if (r) {
		atomic_store(&e->state, ST(EMPTY, 0));
		if (r == ZCP_ENOSPC) {
			atomic_fetch_add(&sh->enospc, 1);
			long n = zcp_mempool_manager_settle(t->m);
			if (n < 0)
				anomaly(A_SETTLE, "settle: %s", zcp_err_name((int)n));
		} else
			anomaly(A_SEND_ERR, "send to %llx: %s", (unsigned long long)rid, zcp_err_name(r));
		return;
	}
	atomic_fetch_add(&sh->sends, 1);
	atomic_store(&e->sender, t->key);
	atomic_store(&e->rkey, rkey);
	atomic_store(&e->maybe_taken, 0);
	e->ticket = tk;
	e->writer = t->h[i].writer;
	e->seq = t->h[i].seq;
	if (!fill_done(t, &e->state, "ticket") && (r = zcp_chunk_unsend(t->m, tk)))
		anomaly(A_UNSEND_ERR, "unsend of an unposted ticket: %s", zcp_err_name(r));
	if (rnd(t) % 4 != 0)
		drop(t, i); /* usually release our own at once */
}

static void op_receive(struct thr *t)
{
	if (t->nh >= HOLD)
		return;
	for (int k = 0; k < TB; k++) {
		struct tentry *e = &sh->tb[(k + (int)(rnd(t) % TB)) % TB];
		uint64_t s = ST(POSTED, 0);
		uint32_t rk = atomic_load(&e->rkey);
		if (rk != 0 && rk != t->key)
			continue;
		if (!atomic_compare_exchange_strong(&e->state, &s, ST(TAKING, t->key)))
			continue;
		if (atomic_load(&e->rkey) != rk) { /* refilled meanwhile: put back */
			atomic_store(&e->state, ST(POSTED, 0));
			continue;
		}
		uint32_t sender = atomic_load(&e->sender);
		errno = 0;
		zcp_chunk *c = zcp_chunk_receive(t->m, e->ticket);
		int err = errno;
		if (c) {
			atomic_fetch_add(&sh->receives, 1);
			hold_add(t, c, e->writer, e->seq);
			if (!stamp_ok(zcp_chunk_data(c), zcp_chunk_capacity(c), e->writer, e->seq)) {
				const struct stamp *st = zcp_chunk_data(c);
				anomaly(A_RECV_WRONG,
					"ticket of %s sender %x: want writer %llx seq %llu, got writer %llx "
					"seq %llu",
					key_dead(sender) ? "dead" : "live", sender,
					(unsigned long long)e->writer, (unsigned long long)e->seq,
					(unsigned long long)st->writer, (unsigned long long)st->seq);
				/* not ours to judge further: stop verifying it */
				t->h[t->nh - 1].writer = st->writer;
				t->h[t->nh - 1].seq = st->seq;
				if (!stamp_ok(zcp_chunk_data(c), zcp_chunk_capacity(c), st->writer,
					      st->seq)) {
					int rr = zcp_chunk_release(t->m, c);
					(void)rr;
					t->nh--;
				}
			}
		} else if (err == ESTALE && (key_dead(sender) || atomic_load(&e->maybe_taken))) {
			atomic_fetch_add(&sh->recv_stale_ok, 1);
		} else if (err == ESTALE) {
			anomaly(A_RECV_STALE, "ticket %llx of live sender %x to %x",
				(unsigned long long)e->ticket, sender, rk);
		} else {
			anomaly(A_RECV_ERR, "ticket %llx of sender %x%s to %x: errno %d",
				(unsigned long long)e->ticket, sender, key_dead(sender) ? " (dead)" : "",
				rk, err);
		}
		atomic_store(&e->sender, 0);
		atomic_store(&e->state, ST(EMPTY, 0));
		return;
	}
}

/* unsend our process's posted tickets (one at random, or all) */
static int ticket_chores(struct thr *t, int all)
{
	int mine = 0;
	for (int k = 0; k < TB; k++) {
		struct tentry *e = &sh->tb[k];
		uint64_t s = atomic_load(&e->state);
		if (PH(s) == EMPTY || atomic_load(&e->sender) != t->key)
			continue;
		mine++;
		if (PH(s) != POSTED || (!all && rnd(t) % 8))
			continue;
		if (!atomic_compare_exchange_strong(&e->state, &s, ST(CANCELLING, t->key)))
			continue;
		if (!claimed_own(&e->state, s, t->key, &e->sender, t->key)) {
			mine--;
			continue;
		}
		uint32_t rk = atomic_load(&e->rkey);
		int r = zcp_chunk_unsend(t->m, e->ticket);
		atomic_fetch_add(&sh->unsends, 1);
		if (r && !(r == ZCP_ESTALE &&
			   ((rk && key_dead(rk)) || atomic_load(&e->maybe_taken))))
			anomaly(A_UNSEND_ERR, "unsend of ticket to %x%s: %s", rk,
				rk && key_dead(rk) ? " (dead)" : "", zcp_err_name(r));
		atomic_store(&e->sender, 0);
		atomic_store(&e->state, ST(EMPTY, 0));
		mine--;
		if (!all)
			break;
	}
	return mine;
}

static void op_stats(struct thr *t)
{
	int np = zcp_mempool_manager_pool_count(t->m);
	zcp_pool_stats s;
	int i = np > 0 ? (int)(rnd(t) % (uint64_t)np) : 0;
	int r = zcp_mempool_manager_pool_stats(t->m, i, &s);
	if (r || s.used + s.free != s.total || s.used > s.total || s.used_max > s.total)
		anomaly(A_STATS, "pool %d: r %d used %llu free %llu total %llu max %llu", i, r,
			(unsigned long long)s.used, (unsigned long long)s.free,
			(unsigned long long)s.total, (unsigned long long)s.used_max);
}

static void op_process(struct thr *t)
{
	int n = zcp_mempool_manager_process_slots(t->m);
	zcp_process_info pi;
	int r = n > 0 ? zcp_mempool_manager_process(t->m, (int)(rnd(t) % (uint64_t)n), &pi) : n;
	if (r)
		anomaly(A_PROCESS, "process: %s", zcp_err_name(r));
}

static void *worker_thread(void *arg)
{
	struct thr *t = arg;
	for (unsigned long k = 0; !atomic_load(&sh->stop); k++) {
		/* breathe: 9 busy threads on 2 cores would starve the killer */
		if ((k & 1023) == 1023)
			usleep(100);
		uint64_t r = rnd(t) % 1000;
		atomic_fetch_add(&sh->ops, 1);
		if (r < 200)
			op_get(t);
		else if (r < 350) {
			if (t->nh)
				drop(t, (int)(rnd(t) % (uint64_t)t->nh));
		} else if (r < 400)
			op_ref(t);
		else if (r < 480)
			op_post(t);
		else if (r < 580)
			op_take(t);
		else if (r < 690)
			op_send(t);
		else if (r < 820)
			op_receive(t);
		else if (r < 850)
			ticket_chores(t, 0);
		else if (r < 900)
			handle_chores(t, rnd(t) % 4 == 0);
		else if (r < 930) {
			long n = zcp_mempool_manager_settle(t->m);
			if (n < 0)
				anomaly(A_SETTLE, "settle: %s", zcp_err_name((int)n));
			else
				atomic_fetch_add(&sh->settled_refs, (uint64_t)n);
		} else if (r < 960)
			op_stats(t);
		else if (r < 980)
			op_process(t);
		else if (r < 985) {
			zcp_reclaim_report rep;
			int rr = zcp_mempool_manager_reclaim(t->m, &rep);
			atomic_fetch_add(&sh->reclaims, 1);
			if (rr)
				anomaly(A_RECLAIM, "reclaim in a worker: %s", zcp_err_name(rr));
		} else if (r < 990) {
			errno = 0;
			zcp_chunk *c = zcp_chunk_get(t->m, UINT64_C(1) << 20);
			if (c || errno != E2BIG)
				anomaly(A_GET_ERR, "oversized get: %p errno %d", (void *)c, errno);
		} else {
			for (int i = 0; i < t->nh; i++)
				verify(t, i, "periodic");
		}
	}
	/* stop: give everything back */
	for (int spins = 0;; spins++) {
		int left = handle_chores(t, 1) + ticket_chores(t, 1);
		if (!left)
			break;
		if (spins > 200000) {
			anomaly(A_UNSEND_ERR, "stop: %d board entries of this process never cleared",
				left);
			break;
		}
		usleep(50);
	}
	while (t->nh)
		drop(t, t->nh - 1);
	return NULL;
}

static void worker(int w, uint32_t inc)
{
	zcp_mempool_manager *m = NULL;
	uint32_t key = mkkey(w, inc);
	int err;
	/* nice: the parent (killer, reclaimer) must keep its pace on 2 cores */
	if (setpriority(PRIO_PROCESS, 0, 10)) {
	}
	double t0 = (double)time(NULL);
	while ((err = zcp_mempool_manager_attach(mgr_name, &m)) != 0) {
		atomic_fetch_add(&sh->attach_retries, 1);
		if ((err != ZCP_EUSERS && err != ZCP_EAGAIN) || (double)time(NULL) - t0 > 3) {
			anomaly(A_ATTACH, "attach of worker %x: %s", key, zcp_err_name(err));
			_exit(3);
		}
		usleep(1000);
	}
	atomic_store(&sh->ws[w].id, zcp_mempool_manager_process_id(m));
	struct thr *t = calloc((size_t)nthr, sizeof *t);
	pthread_t th[MAXT];
	for (int i = 0; i < nthr; i++) {
		t[i].m = m;
		t[i].w = w;
		t[i].t = i;
		t[i].key = key;
		t[i].writer = ((uint64_t)key << 8) | (uint64_t)i;
		t[i].rng = mix(((uint64_t)getpid() << 20) ^ (uint64_t)i ^ (uint64_t)time(NULL)) | 1;
		ZT_CHECK(pthread_create(&th[i], NULL, worker_thread, &t[i]) == 0);
	}
	for (int i = 0; i < nthr; i++)
		pthread_join(th[i], NULL);
	long n = zcp_mempool_manager_settle(m);
	if (n < 0)
		anomaly(A_SETTLE, "final settle: %s", zcp_err_name((int)n));
	atomic_store(&sh->ws[w].quiesced, 1);
	while (!atomic_load(&sh->exit_now))
		usleep(1000);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

/* ---- the parent ------------------------------------------------------- */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void spawn(int w)
{
	struct wslot *ws = &sh->ws[w];
	atomic_store(&ws->id, 0);
	uint32_t inc = atomic_load(&ws->inc) + 1;
	atomic_store(&ws->inc, inc);
	atomic_store(&ws->dead, 0);
	atomic_store(&ws->quiesced, 0);
	pid_t p = zt_fork();
	if (p < 0)
		bail("fork");
	if (p == 0)
		worker(w, inc);
	ws->pid = p;
}

/* Empty a board entry read as s, whose owner/sender field is *who: claim
 * it first (CANCELLING), so that clearing the field cannot hit the entry's
 * next use (a filler that took it after an EMPTY and wrote its own key). */
static void gc_empty(_Atomic uint64_t *state, uint64_t s, _Atomic uint32_t *who)
{
	if (atomic_compare_exchange_strong(state, &s, ST(CANCELLING, 0))) {
		atomic_store(who, 0);
		atomic_store(state, ST(EMPTY, 0));
	}
}

/* gc_empty() of an entry judged by field `who` read as key: unless the
 * entry was filled again meanwhile (the state reads the same), which
 * claimed_own() tells after the claim; who_clear is emptied with it. */
static void gc_empty_of(_Atomic uint64_t *state, uint64_t s, _Atomic uint32_t *who, uint32_t key,
			_Atomic uint32_t *who_clear)
{
	if (atomic_compare_exchange_strong(state, &s, ST(CANCELLING, 0)) &&
	    claimed_own(state, s, 0, who, key)) {
		atomic_store(who_clear, 0);
		atomic_store(state, ST(EMPTY, 0));
	}
}

/* after a kill and reclaim: drop board entries that can no longer finish.
 * A FILLING entry is judged by its filler (in the state word): its
 * owner/sender field is not written yet, and judging by that stale value
 * (usually 0, "dead") would empty it under a live filler, and let a second
 * filler fill it at once: two pins or tickets, one entry. */
static void gc(void)
{
	for (int k = 0; k < HB; k++) {
		struct hentry *e = &sh->hb[k];
		uint64_t s = atomic_load(&e->state);
		int ph = PH(s);
		if (ph == EMPTY)
			continue;
		uint32_t o = atomic_load(&e->owner);
		if (ph == FILLING) {
			if (key_dead((uint32_t)s))
				gc_empty(&e->state, s, &e->owner);
		} else if (key_dead(o)) {
			if (ph != TAKING || key_dead((uint32_t)s))
				gc_empty_of(&e->state, s, &e->owner, o, &e->owner);
		} else if (ph == TAKING && key_dead((uint32_t)s)) {
			atomic_compare_exchange_strong(&e->state, &s, ST(POSTED, 0));
		}
	}
	for (int k = 0; k < TB; k++) {
		struct tentry *e = &sh->tb[k];
		uint64_t s = atomic_load(&e->state);
		int ph = PH(s);
		if (ph == EMPTY)
			continue;
		uint32_t rk = atomic_load(&e->rkey);
		uint32_t snd = atomic_load(&e->sender);
		if (ph == FILLING) {
			if (key_dead((uint32_t)s))
				gc_empty(&e->state, s, &e->sender);
		} else if (key_dead(snd)) {
			if (ph == POSTED || key_dead((uint32_t)s))
				gc_empty_of(&e->state, s, &e->sender, snd, &e->sender);
		} else if (ph == POSTED && rk && key_dead(rk)) {
			/* reclaim cancelled it; the sender settles the lent reference */
			gc_empty_of(&e->state, s, &e->rkey, rk, &e->sender);
		} else if (ph == TAKING && key_dead((uint32_t)s)) {
			/* the claimer died inside receive: it may or may not have taken it */
			atomic_store(&e->maybe_taken, 1);
			atomic_compare_exchange_strong(&e->state, &s, ST(POSTED, 0));
		}
	}
}

static int env_int(const char *n, int dflt, int max)
{
	const char *s = getenv(n);
	int v = s ? atoi(s) : dflt;
	return v < 1 ? dflt : v > max ? max : v;
}

int main(void)
{
	plan_lazy();
	nproc = env_int("ZCP_SOAK_PROCS", 3, MAXW);
	nthr = env_int("ZCP_SOAK_THREADS", 3, MAXT);
	long rounds = zt_iters(150);
	/* make stress (ZCP_TEST_ITERS=100000): a 10-minute soak */
	double cap = rounds > 150 ? 600 : 60;
	/* knobs for narrowing a failure down: ZCP_SOAK_NAMED=0 sends to 0
	 * only, ZCP_SOAK_KILLS=0 stops the kills (same rounds of pauses),
	 * ZCP_SOAK_FILL_US=n sleeps n us inside every board fill (a slow
	 * build's timing: TSan made gc() races of the boards show) */
	named = getenv("ZCP_SOAK_NAMED") ? atoi(getenv("ZCP_SOAK_NAMED")) != 0 : 1;
	kills_on = getenv("ZCP_SOAK_KILLS") ? atoi(getenv("ZCP_SOAK_KILLS")) != 0 : 1;
	fill_us = getenv("ZCP_SOAK_FILL_US") ? atoi(getenv("ZCP_SOAK_FILL_US")) : 0;
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap");
	mgr_name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 48);
	zcp_mempool_config_add_entry(cfg, 512, 32);
	zcp_mempool_config_add_entry(cfg, 4096, 16);
	zcp_mempool_config_add_entry(cfg, 32768, 6);
	zcp_mempool_config_set_max_processes(cfg, (unsigned)nproc + 2);
	zcp_mempool_manager *m;
	int err = zcp_mempool_manager_create(mgr_name, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (err)
		bail("create: %s", zcp_strerror(err));
	uint64_t seed = (uint64_t)getpid() ^ (uint64_t)time(NULL);
	diag("soak: %d processes x %d threads, %ld kill rounds%s, process table %d, receivers %s, "
	     "seed %llu",
	     nproc, nthr, rounds, kills_on ? "" : " (kills off)", nproc + 2,
	     named ? "named and 0" : "0 only", (unsigned long long)seed);
	srand((unsigned)seed);

	for (int w = 0; w < nproc; w++)
		spawn(w);
	double t0 = now();
	double t_kill = 0, t_reclaim = 0, t_spawn = 0;
	long kills = 0, reclaim_err = 0, reclaimed = 0, busy = 0;
	for (long i = 0; i < rounds && now() - t0 < cap; i++) {
		usleep(1000 + (useconds_t)(rand() % 9000));
		int w = rand() % nproc;
		struct wslot *ws = &sh->ws[w];
		if (!kills_on)
			continue;
		double k0 = now();
		atomic_store(&ws->dead, 1);
		kill(ws->pid, SIGKILL);
		int st;
		while (waitpid(ws->pid, &st, 0) < 0 && errno == EINTR)
			;
		kills++;
		double k1 = now();
		t_kill += k1 - k0;
		zcp_reclaim_report rep;
		memset(&rep, 0, sizeof rep);
		err = zcp_mempool_manager_reclaim(m, &rep);
		if (err) {
			reclaim_err++;
			anomaly(A_RECLAIM, "parent reclaim: %s", zcp_err_name(err));
		}
		reclaimed += (long)rep.processes;
		busy += (long)rep.busy;
		double k2 = now();
		t_reclaim += k2 - k1;
		gc();
		spawn(w);
		t_spawn += now() - k2;
	}
	diag("time in kill+wait %.2f s, reclaim %.2f s, spawn %.2f s", t_kill, t_reclaim, t_spawn);
	double t1 = now();
	/* stop: everyone gives everything back */
	err = zcp_mempool_manager_reclaim(m, NULL);
	if (err)
		anomaly(A_RECLAIM, "parent reclaim before stop: %s", zcp_err_name(err));
	gc();
	atomic_store(&sh->stop, 1);
	double give_up = now() + 30;
	for (;;) {
		int q = 0;
		for (int w = 0; w < nproc; w++) {
			int st;
			if (sh->ws[w].pid && waitpid(sh->ws[w].pid, &st, WNOHANG) == sh->ws[w].pid) {
				diag("worker %d exited early: status %#x", w, st);
				sh->ws[w].pid = 0;
				atomic_store(&sh->ws[w].dead, 1);
			}
			q += atomic_load(&sh->ws[w].quiesced) || !sh->ws[w].pid;
		}
		if (q == nproc || now() > give_up)
			break;
		gc();
		usleep(2000);
	}
	zcp_mempool_manager_reclaim(m, NULL);
	int quiet = 1;
	for (int w = 0; w < nproc; w++)
		quiet &= atomic_load(&sh->ws[w].quiesced);
	ok(quiet, "every surviving worker released everything and settled");
	diag("%ld kills in %.1f s (%ld slots reclaimed by the parent, %ld busy); ops %llu, gets %llu "
	     "(ENOBUFS %llu), sends %llu (ENOSPC %llu), receives %llu, stale tickets of dead "
	     "senders %llu, handle takes %llu (lost to dead owners %llu), unsends %llu, worker "
	     "reclaims %llu, settled %llu, attach retries %llu",
	     kills, t1 - t0, reclaimed, busy, (unsigned long long)sh->ops,
	     (unsigned long long)sh->gets, (unsigned long long)sh->enobufs,
	     (unsigned long long)sh->sends, (unsigned long long)sh->enospc,
	     (unsigned long long)sh->receives, (unsigned long long)sh->recv_stale_ok,
	     (unsigned long long)sh->takes, (unsigned long long)sh->take_lost_ok,
	     (unsigned long long)sh->unsends, (unsigned long long)sh->reclaims,
	     (unsigned long long)sh->settled_refs, (unsigned long long)sh->attach_retries);

	/* the audit */
	int np = zcp_mempool_manager_pool_count(m);
	uint64_t used = 0;
	for (int p = 0; p < np; p++) {
		zcp_pool_stats s;
		if (zcp_mempool_manager_pool_stats(m, p, &s) == 0) {
			if (s.used)
				diag("pool %d (%llu B): used %llu of %llu", p,
				     (unsigned long long)s.chunk_size, (unsigned long long)s.used,
				     (unsigned long long)s.total);
			used += s.used;
		}
	}
	is_int((long long)used, 0, "conservation: no chunk used once every live process let go");
	int slots = zcp_mempool_manager_process_slots(m);
	uint64_t held = 0, owed = 0;
	for (int s = 0; s < slots; s++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, s, &pi) == 0 && pi.pid) {
			if (pi.chunks || pi.lent_unsettled)
				diag("slot %d pid %lld alive %d: chunks %llu lent_unsettled %llu", s,
				     (long long)pi.pid, pi.alive, (unsigned long long)pi.chunks,
				     (unsigned long long)pi.lent_unsettled);
			held += pi.chunks;
			owed += pi.lent_unsettled;
		}
	}
	ok(held == 0 && owed == 0, "no process holds or owes a reference (%llu, %llu)",
	   (unsigned long long)held, (unsigned long long)owed);
	is_int(zcp_mempool_manager_check(m), 0, "check(): every chunk once free or held");
	for (int a = 0; a < A_N; a++) {
		is_int((long long)sh->anomalies[a], 0, "never: %s", a_names[a]);
		for (int n = 0; n < atomic_load(&sh->nmsg[a]) && n < 2; n++)
			diag("  e.g. %s", sh->msg[a][n]);
	}

	atomic_store(&sh->exit_now, 1);
	int clean = 1;
	for (int w = 0; w < nproc; w++) {
		if (!sh->ws[w].pid)
			continue;
		int st = 0;
		if (zt_wait(sh->ws[w].pid, &st) != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			diag("worker %d: status %#x", w, st);
			clean = 0;
		}
	}
	ok(clean, "workers detach and exit cleanly");
	zcp_reclaim_report rep;
	memset(&rep, 0, sizeof rep);
	is_int(zcp_mempool_manager_reclaim(m, &rep), 0, "final reclaim");
	used = 0;
	for (int p = 0; p < np; p++) {
		zcp_pool_stats s;
		if (zcp_mempool_manager_pool_stats(m, p, &s) == 0)
			used += s.used;
	}
	is_int((long long)used, 0, "after detach: used 0");
	is_int(zcp_mempool_manager_check(m), 0, "after detach: check()");
	zcp_mempool_manager_destroy(m);
	munmap(sh, sizeof *sh);
	zt_done();
	return done_testing();
}
