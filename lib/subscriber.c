/* SPDX-License-Identifier: MIT */
/* Subscribers: a cursor per publisher of the topic, reading each
 * publisher's ring (topic.h) and taking a reference of its own on the
 * chunk a slot names.  The cursors are process memory (the shared copy is
 * written for publishers' REJECT checks, sweeps and discovery, and never
 * read back), so a peer that scribbles them costs other processes at most
 * lost samples. */
#include "topic.h"

#include "crashpoint.h"
#include "view.h"
#include "wake.h"
#include "waitset.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Publisher j as this subscriber sees it: its state word (FREE: nothing
 * to read) and our cursor on it, moved to its first sample when it is an
 * incarnation we have not followed yet. */
static uint64_t follow(struct zcp_subscriber *sub, unsigned j, struct zcp__publisher_ep **epp)
{
	struct zcp__publisher_ep *ep = zcp__publisher_at(sub->m, sub->topic_index, j);
	/* Acquire: pairs with the release store that opened it (base). */
	uint64_t st = atomic_load_explicit(&ep->state, memory_order_acquire);
	*epp = ep;
	if (zcp__ep_state(st) == ZCP__EP_FREE)
		return st;
	struct zcp__cursor_copy *c = &sub->cur[j];
	if (zcp__ep_inc(c->follows) != zcp__ep_inc(st)) {
		c->follows = st;
		c->pos = atomic_load_explicit(&ep->base, memory_order_relaxed);
		struct zcp__cursor *sc = &zcp__cursors(sub->ep)[j];
		atomic_store_explicit(&sc->pos, c->pos, memory_order_relaxed);
		/* Release: a reader of follows sees the pos above. */
		atomic_store_explicit(&sc->follows, st, memory_order_release);
	}
	return st;
}

/* Whether publisher place ep is still the incarnation of state word st
 * (read before): a load of its state after a load of its tail. */
static int same_incarnation(struct zcp__publisher_ep *ep, uint64_t st)
{
	/* Acquire, after the caller's acquire load of the tail: a tail the
	 * place's next incarnation stored comes after that incarnation's
	 * opening (its release store of LIVE), so we see the new state. */
	return zcp__ep_inc(atomic_load_explicit(&ep->state, memory_order_acquire)) ==
	       zcp__ep_inc(st);
}

/* follow(), and the tail of the incarnation it followed.  Read after the
 * state, the tail can be the next incarnation's: the place was retired
 * and opened again meanwhile, and positions go on from where the last
 * one stopped, so our cursor on the old incarnation names the new one's
 * first samples.  Taken then, they were taken again once follow() saw
 * the new incarnation and moved the cursor back to its base (the new
 * publisher's sample 0 twice: attack-topic-kill).  So the state is read
 * again after the tail, and we follow again if it moved on.  FREE: none
 * (or a place that kept reopening under us: nothing this time). */
static uint64_t follow_tail(struct zcp_subscriber *sub, unsigned j, struct zcp__publisher_ep **epp,
			    uint64_t *tail)
{
	for (unsigned tries = 0; tries < 8; tries++) {
		uint64_t st = follow(sub, j, epp);
		if (zcp__ep_state(st) == ZCP__EP_FREE)
			return st;
		ZCP__CRASH_POINT("sub.followed");
		/* Acquire: pairs with the publisher's release store of the
		 * tail (its slot writes before). */
		*tail = atomic_load_explicit(&(*epp)->tail, memory_order_acquire);
		if (same_incarnation(*epp, st))
			return st;
	}
	return zcp__ep_word(ZCP__EP_FREE, 0);
}

int zcp_subscriber_create(zcp_mempool_manager *mgr, const char *name,
			  const zcp_topic_options *opts, zcp_subscriber **out)
{
	zcp_topic_options d;
	int err = zcp__mgr_check_rw(mgr);
	if (err)
		return err;
	if (!name || !out)
		return ZCP_EINVAL;
	if (!opts) {
		zcp_topic_options_init(&d);
		opts = &d;
	}
	unsigned np = mgr->geo.max_publishers;
	struct zcp_subscriber *sub = calloc(1, sizeof *sub + (size_t)np * sizeof sub->cur[0]);
	if (!sub)
		return ZCP_ENOMEM;
	if ((err = zcp__topics_lock(mgr))) {
		free(sub);
		return err;
	}
	int t = zcp__topic_open(mgr, name, opts, 0);
	if (t < 0) {
		err = t;
		goto fail;
	}
	zcp__topic_sweep(mgr, (unsigned)t);
	struct zcp__topic *tp = zcp__topic_at(mgr, (unsigned)t);
	err = ZCP_EENDPOINTS;
	for (unsigned i = 0; i < mgr->geo.max_subscribers; i++) {
		struct zcp__subscriber_ep *ep = zcp__subscriber_at(mgr, (unsigned)t, i);
		uint64_t st = atomic_load_explicit(&ep->state, memory_order_acquire);
		if (zcp__ep_state(st) != ZCP__EP_FREE)
			continue;
		sub->m = mgr;
		sub->topic = tp;
		sub->ep = ep;
		sub->topic_index = (unsigned)t;
		sub->index = i;
		sub->capacity = zcp__clamp_ring(mgr, tp->capacity);
		sub->keep = zcp__clamp_ring(mgr, zcp__topic_keep(tp->capacity, tp->history));
		sub->forks = mgr->forks;
		/* Publishers there already: their last `history` samples. */
		for (unsigned j = 0; j < np; j++) {
			struct zcp__publisher_ep *pe = zcp__publisher_at(mgr, (unsigned)t, j);
			uint64_t ps = atomic_load_explicit(&pe->state, memory_order_acquire);
			struct zcp__cursor *sc = &zcp__cursors(ep)[j];
			sub->cur[j].follows = ps;
			sub->cur[j].pos = 0;
			if (zcp__ep_state(ps) != ZCP__EP_FREE) {
				uint64_t tail = atomic_load_explicit(&pe->tail, memory_order_acquire);
				uint64_t from = atomic_load_explicit(&pe->base, memory_order_relaxed);
				if (tail > tp->history && tail - tp->history > from)
					from = tail - tp->history;
				sub->cur[j].pos = from;
			}
			atomic_store_explicit(&sc->pos, sub->cur[j].pos, memory_order_relaxed);
			atomic_store_explicit(&sc->follows, ps, memory_order_relaxed);
		}
		atomic_store_explicit(&ep->owner, mgr->process_id, memory_order_relaxed);
		atomic_store_explicit(&ep->pid, (int64_t)getpid(), memory_order_relaxed);
		atomic_store_explicit(&ep->lost, 0, memory_order_relaxed);
		atomic_store_explicit(&ep->taken, 0, memory_order_relaxed);
		sub->state = zcp__ep_word(ZCP__EP_LIVE, zcp__ep_inc(st) + 1);
		/* Release: cursors and owner before anyone reads LIVE. */
		atomic_store_explicit(&ep->state, sub->state, memory_order_release);
		/* Samples published while we were not LIVE yet were published
		 * before we existed, and a BLOCK publisher did not wait for
		 * us: start after them (keeping `history`), or they would
		 * count as overflow against our queue.  LIVE, full fence, then
		 * the tails: a sample we miss here comes after the publisher's
		 * own fence (zcp__topic_wake()), so its next publish sees us
		 * LIVE and waits for our cursor. */
		atomic_thread_fence(memory_order_seq_cst);
		for (unsigned j = 0; j < np; j++) {
			if (zcp__ep_state(sub->cur[j].follows) == ZCP__EP_FREE)
				continue;
			struct zcp__publisher_ep *pe = zcp__publisher_at(mgr, (unsigned)t, j);
			uint64_t tail = atomic_load_explicit(&pe->tail, memory_order_acquire);
			/* However far it got meanwhile: a publisher may run
			 * more than a ring ahead while we take the lock and
			 * fill our cursors.  (A scribbled tail moves us no
			 * further than peek() would on our first take.) */
			if (tail > tp->history && tail - tp->history > sub->cur[j].pos) {
				sub->cur[j].pos = tail - tp->history;
				atomic_store_explicit(&zcp__cursors(ep)[j].pos, sub->cur[j].pos,
						      memory_order_relaxed);
			}
		}
		zcp__topic_space(tp); /* a BLOCK publisher that saw our old cursors */
		err = 0;
		break;
	}
fail:
	zcp__topics_unlock(mgr);
	if (err) {
		free(sub);
		return err;
	}
	*out = sub;
	return 0;
}

/* The next slot to read from publisher j: its position in *q, its handle
 * and stamp; 0 if there is none.  Counts what overflow cost us. */
static int peek(struct zcp_subscriber *sub, unsigned j, uint64_t *q, uint64_t *handle,
		uint64_t *stamp, uint64_t *offset)
{
	for (unsigned again = 0; again < 4; again++) {
		struct zcp__publisher_ep *ep;
		uint64_t tail;
		uint64_t st = follow_tail(sub, j, &ep, &tail);
		if (zcp__ep_state(st) == ZCP__EP_FREE)
			return 0;
		struct zcp__cursor_copy *c = &sub->cur[j];
		uint64_t mask = sub->m->geo.ring_size - 1;
		/* The newest sample: its copy on the tail's line, if it is
		 * whole; else the ring's slot below. */
		if (ZCP_LIKELY(c->pos + 1 == tail) &&
		    zcp__slot_read(&ep->last, c->pos, handle, stamp, offset)) {
			*q = c->pos;
			return 1;
		}
		int moved_on = 0;
		for (unsigned tries = 0; tries < 4 && c->pos < tail; tries++) {
			if (tail - c->pos > sub->keep) {
				/* Evicted before we read them. */
				sub->lost += tail - c->pos - sub->keep;
				c->pos = tail - sub->keep;
			}
			if (zcp__slot_read(&zcp__ring(ep)[c->pos & mask], c->pos, handle, stamp,
					   offset)) {
				*q = c->pos;
				return 1;
			}
			/* Overwritten under us, or emptied: lost.  (A slot
			 * ahead of the tail we read is a scribble; skipping it
			 * is all we can do.) */
			sub->lost++;
			c->pos++;
			tail = atomic_load_explicit(&ep->tail, memory_order_acquire);
			/* A new incarnation's tail: follow it first (see
			 * follow_tail()). */
			if (!same_incarnation(ep, st)) {
				moved_on = 1;
				break;
			}
		}
		if (!moved_on)
			return 0;
	}
	return 0;
}

/* Move our cursor on publisher j past position q, in both copies. */
static void advance(struct zcp_subscriber *sub, unsigned j, uint64_t q)
{
	sub->cur[j].pos = q + 1;
	/* Relaxed: read by sweeps and REJECT checks, which tolerate a stale
	 * (lower) value. */
	atomic_store_explicit(&zcp__cursors(sub->ep)[j].pos, q + 1, memory_order_relaxed);
}

zcp_chunk *zcp_subscriber_take(zcp_subscriber *sub)
{
	if (!sub)
		return zcp__fail_null(ZCP_EINVAL);
	struct zcp_mempool_manager *m = sub->m;
	int err = zcp__mgr_check_rw(m);
	if (err)
		return zcp__fail_null(err);
	unsigned np = atomic_load_explicit(&sub->topic->pub_hwm, memory_order_acquire);
	if (np > m->geo.max_publishers)
		np = m->geo.max_publishers;
	for (unsigned round = 0; round < 64; round++) {
		int best = -1;
		uint64_t bq = 0, bh = 0, bs = 0, bo = 0;
		for (unsigned j = 0; j < np; j++) {
			uint64_t q, h, s, o;
			if (peek(sub, j, &q, &h, &s, &o) && (best < 0 || s < bs)) {
				best = (int)j;
				bq = q;
				bh = h;
				bs = s;
				bo = o;
			}
		}
		if (best < 0)
			break;
		uint64_t g1 = bh >> ZCP__HANDLE_GEN_BITS, gen = bh & ZCP__HANDLE_GEN_MASK;
		if (g1 == 0 || g1 > m->geo.total_chunks) {
			advance(sub, (unsigned)best, bq);
			sub->lost++; /* a scribbled slot */
			continue;
		}
		zcp_chunk *c = &m->chunks[g1 - 1];
		/* Our own reference, at the generation the slot names: a
		 * sample evicted (and its chunk given back) meanwhile is
		 * ZCP_ESTALE here, and lost.  Our shared cursor moves only
		 * after it: until then sweeps and REJECT checks see the
		 * sample as still to be read, and keep it. */
		err = zcp__ref_gen(m, c, g1 - 1, 1, gen);
		ZCP__CRASH_POINT("sub.taken");
		if (err && err != ZCP_ESTALE)
			return zcp__fail_null(err); /* not taken: read it again next time */
		advance(sub, (unsigned)best, bq);
		if (err) {
			sub->lost++;
			continue;
		}
		/* The payload's offset as its publisher wrote it; a scribbled
		 * one is ignored (the payload is then the chunk's data). */
		uint64_t cap = m->pools[atomic_load_explicit(&c->pool, memory_order_relaxed)].chunk_size;
		atomic_store_explicit(&c->sample_off,
				      bo < 4096 && bo % 64 == 0 && bo < cap ? (uint32_t)bo : 0,
				      memory_order_relaxed);
		atomic_store_explicit(&sub->ep->taken,
				      atomic_load_explicit(&sub->ep->taken, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		atomic_store_explicit(&sub->ep->lost, sub->lost, memory_order_relaxed);
		zcp__topic_space(sub->topic);
		return c;
	}
	atomic_store_explicit(&sub->ep->lost, sub->lost, memory_order_relaxed);
	zcp__topic_space(sub->topic); /* samples found lost moved the cursor too */
	return zcp__fail_null(ZCP_EAGAIN);
}

uint64_t zcp_subscriber_lost(zcp_subscriber *sub)
{
	if (!sub || zcp__mgr_check(sub->m))
		return 0;
	uint64_t lost = sub->lost;
	for (unsigned j = 0; j < sub->m->geo.max_publishers; j++) {
		struct zcp__publisher_ep *ep;
		uint64_t tail;
		uint64_t st = follow_tail(sub, j, &ep, &tail);
		if (zcp__ep_state(st) == ZCP__EP_FREE)
			continue;
		if (tail > sub->cur[j].pos && tail - sub->cur[j].pos > sub->keep)
			lost += tail - sub->cur[j].pos - sub->keep;
	}
	return lost;
}

long zcp_subscriber_waiting(zcp_subscriber *sub)
{
	if (!sub)
		return ZCP_EINVAL;
	int err = zcp__mgr_check(sub->m);
	if (err)
		return err;
	uint64_t n = 0;
	for (unsigned j = 0; j < sub->m->geo.max_publishers; j++) {
		struct zcp__publisher_ep *ep;
		uint64_t tail;
		uint64_t st = follow_tail(sub, j, &ep, &tail);
		if (zcp__ep_state(st) == ZCP__EP_FREE)
			continue;
		if (tail > sub->cur[j].pos)
			n += tail - sub->cur[j].pos > sub->keep ? sub->keep : tail - sub->cur[j].pos;
	}
	return n > (uint64_t)LONG_MAX ? LONG_MAX : (long)n;
}

int zcp_subscriber_wait(zcp_subscriber *sub, int64_t timeout_ns)
{
	if (!sub)
		return ZCP_EINVAL;
	struct zcp_mempool_manager *m = sub->m;
	int err = zcp__mgr_check_rw(m);
	if (err)
		return err;
	if (zcp_subscriber_waiting(sub) > 0)
		return 0;
	if (timeout_ns == 0)
		return ZCP_ETIMEDOUT;
	struct timespec deadline;
	uint64_t deadline_ns = 0;
	if (timeout_ns > 0) {
		zcp__deadline_in(&deadline, timeout_ns);
		deadline_ns = (uint64_t)deadline.tv_sec * 1000000000u + (uint64_t)deadline.tv_nsec;
	}
	_Atomic uint64_t *word = &zcp__sleepers(m, sub->topic_index)[sub->index / 64];
	uint64_t bit = UINT64_C(1) << (sub->index % 64);
	_Atomic uint32_t *bell = &sub->topic->bell;
	/* The protocol is in topic.h (zcp__topic_wake()).  seq_cst: our bit
	 * before our look at the tails, against the publisher's tail before
	 * its look at the bits. */
	atomic_fetch_or_explicit(word, bit, memory_order_seq_cst);
	for (;;) {
		uint32_t seen = atomic_load_explicit(bell, memory_order_seq_cst);
		if (zcp_subscriber_waiting(sub) > 0) {
			err = 0;
			break;
		}
		err = zcp__wait_on(bell, seen, timeout_ns > 0 ? &deadline : NULL);
		if (err)
			break;
		/* Woken, a spurious wake-up or a scribbled bell: look again,
		 * unless the deadline passed (a peer that keeps changing the
		 * bell must not keep us past it: the futex returns at once
		 * then, and never times out). */
		if (timeout_ns > 0 && zcp__mono_ns() >= deadline_ns) {
			err = ZCP_ETIMEDOUT;
			break;
		}
	}
	atomic_fetch_and_explicit(word, ~bit, memory_order_seq_cst);
	if (err == ZCP_ETIMEDOUT && zcp_subscriber_waiting(sub) > 0)
		err = 0;
	return err;
}

int zcp_subscriber_close(zcp_subscriber *sub)
{
	if (!sub)
		return 0;
	/* Its waitset forgets it (process memory only: after fork too). */
	if (sub->ws)
		zcp__waitset_forget(sub->ws, sub);
	struct zcp_mempool_manager *m = sub->m;
	int err = zcp__mgr_check(m);
	if (err == ZCP_ECHILD) {
		free(sub);
		return 0;
	}
	if (!err)
		err = zcp__topics_lock(m);
	if (!err) {
		uint64_t st = sub->state;
		if (atomic_load_explicit(&sub->ep->state, memory_order_acquire) == st)
			zcp__subscriber_freed(m, sub->topic_index, sub->index, st);
		/* Closed publishers' samples only we could still read go. */
		zcp__topic_sweep(m, sub->topic_index);
		zcp__topics_unlock(m);
	}
	free(sub);
	return err;
}
