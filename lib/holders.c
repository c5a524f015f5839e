/* SPDX-License-Identifier: MIT */
/* The general transitions of a chunk record's holder set, with their retry
 * loops: drop a holder (and give the chunk back through the list), add a
 * holder, finish a dead process's give-back.  The encodings, the inline
 * transitions and the state table are in record.h. */
#include "handle.h"

#include "crashpoint.h"

/* Whether HELD word w (read with acquire) is at generation gen, in full
 * (the low bits in the word, the rest from the record's seq). */
static int held_at(struct zcp__record *r, uint64_t w, uint64_t gen)
{
	if (zcp__w_held_gen(w) != (gen & ZCP__W_HELD_GEN_MASK))
		return 0;
	/* Relaxed: the caller's acquire load or CAS of the word orders it. */
	uint64_t full = zcp__full_gen(atomic_load_explicit(&r->seq, memory_order_relaxed), w);
	return (full & ZCP__HANDLE_GEN_MASK) == (gen & ZCP__HANDLE_GEN_MASK);
}

/* zcp__record_drop_holder(), and with want_gen only while the record is at
 * generation gen. */
static int drop_holder(struct zcp__pool_view *p, uint64_t gidx, unsigned slot, unsigned me,
		       int want_gen, uint64_t want, unsigned *budget)
{
	uint32_t idx = (uint32_t)(gidx - p->first);
	struct zcp__record *r = &p->records[idx];
	uint64_t bit = UINT64_C(1) << slot;
	/* Acquire: pairs with the release CAS of whoever wrote the word last
	 * (a claim, another holder's bit), so seq below is theirs or newer. */
	uint64_t w = atomic_load_explicit(&r->word, memory_order_acquire);

	while (*budget > 0) {
		if (!zcp__w_held_valid(w) || !(w & bit))
			return ZCP_EALREADY;
		if (want_gen && !held_at(r, w, want))
			return ZCP_ESTALE;
		uint64_t rest = w & ~bit;
		if (zcp__w_holders(rest) != 0) {
			if (zcp__rec_cas_weak(r, &w, rest)) {
				ZCP__CRASH_POINT("release.cleared");
				return 0;
			}
			--*budget;
			continue;
		}
		/* Last holder.  Claimed off a head nobody moved since
		 * (ONTOP): this CAS alone puts it back on the list.  Else
		 * make sure the head no longer names it, then push. */
		int ontop = zcp__w_ontop(w);
		if (!ontop) {
			/* The head names a process as the top's popper: the
			 * topics' bit is no process, so name ourselves. */
			int err = zcp__freelist_unlist(p, idx, slot == ZCP__W_TOPIC_SLOT ? me : slot,
						       budget);
			if (err)
				return err;
		}
		/* The generation it was taken at: the record's seq, unless
		 * its holder died before writing it (zcp__full_gen).
		 * Relaxed: the acquire above (or the failed CAS's) orders it. */
		uint64_t next = zcp__full_gen(atomic_load_explicit(&r->seq, memory_order_relaxed), w) + 1;
		uint64_t mine = zcp__w_releasing(me, next);
		/* Release: the payload writes before it are what the next
		 * holder's acquire (its claim or mark) will see. */
		if (zcp__rec_cas_weak(r, &w, mine)) {
			ZCP__CRASH_POINT("release.releasing");
			if (ontop)
				return 1;
			int err = zcp__freelist_push(p, idx, mine, budget);
			return err ? err : 1;
		}
		--*budget;
	}
	return ZCP_EAGAIN;
}

int zcp__record_drop_holder(struct zcp__pool_view *p, uint64_t gidx, unsigned slot, unsigned me,
			    unsigned *budget)
{
	return drop_holder(p, gidx, slot, me, 0, 0, budget);
}

int zcp__record_drop_topic(struct zcp__pool_view *p, uint64_t gidx, uint64_t gen, unsigned me,
			   unsigned *budget)
{
	return drop_holder(p, gidx, ZCP__W_TOPIC_SLOT, me, 1, gen, budget);
}

int zcp__record_to_topic(struct zcp__record *r, uint64_t gen, unsigned slot, int move)
{
	uint64_t bit = UINT64_C(1) << slot;
	/* Acquire: pairs with the release CAS of the word's last writer. */
	uint64_t w = atomic_load_explicit(&r->word, memory_order_acquire);
	for (unsigned budget = ZCP__RETRY_LIMIT; budget > 0; budget--) {
		if (!zcp__w_held_valid(w) || !(w & bit) || !held_at(r, w, gen))
			return ZCP_ESTALE;
		if (w & ZCP__W_TOPIC_BIT)
			return ZCP_EBUSY;
		uint64_t next = w | ZCP__W_TOPIC_BIT;
		if (move)
			next &= ~bit;
		/* acq_rel (record.h): the release half publishes the sample's
		 * payload and header to whoever acquires the word next. */
		if (zcp__rec_cas_weak(r, &w, next))
			return 0;
	}
	return ZCP_EAGAIN;
}

uint64_t zcp__record_recycle(struct zcp__record *r, uint64_t gen, unsigned slot)
{
	/* Acquire: pairs with the release CAS of the word's last writer. */
	uint64_t w = atomic_load_explicit(&r->word, memory_order_acquire);
	/* Exactly the topics' bit at generation gen (ONTOP aside: where the
	 * record sits on its list does not change). */
	if ((w & ~ZCP__W_ONTOP) != zcp__w_held(ZCP__W_TOPIC_BIT, gen) || !held_at(r, w, gen))
		return 0;
	/* Relaxed: the acquire load above orders it. */
	uint64_t full = zcp__full_gen(atomic_load_explicit(&r->seq, memory_order_relaxed), w) + 1;
	uint64_t next = (w & ZCP__W_ONTOP) | zcp__w_held(UINT64_C(1) << slot, full);
	/* acq_rel: the acquire half makes the last subscribers' reads
	 * happen before the payload is written again; the release half
	 * publishes the new generation with the word. */
	if (!zcp__rec_cas(r, &w, next))
		return 0;
	ZCP__CRASH_POINT("pub.recycled");
	/* A reader of seq before this store derives the new generation
	 * from the word (zcp__full_gen). */
	atomic_store_explicit(&r->seq, full, memory_order_relaxed);
	return full;
}

int zcp__record_acquire(struct zcp_mempool_manager *m, uint64_t gidx, uint64_t gen)
{
	struct zcp__record *r = &m->records[gidx];
	uint64_t bit = UINT64_C(1) << m->slot;
	/* Acquire: pairs with the release CAS of the word's last writer. */
	uint64_t w = atomic_load_explicit(&r->word, memory_order_acquire);
	unsigned budget = ZCP__RETRY_LIMIT;

	while (budget > 0) {
		if (!zcp__w_held_valid(w) || zcp__w_held_gen(w) != (gen & ZCP__W_HELD_GEN_MASK))
			return ZCP_ESTALE;
		if (!(w & bit) && !zcp__rec_cas_weak(r, &w, w | bit)) {
			budget--;
			continue;
		}
		ZCP__CRASH_POINT("ref.shared");
		/* Acquire: pairs with the holder's release CAS after its
		 * relaxed seq store (the word we just read or replaced). */
		if ((zcp__full_gen(atomic_load_explicit(&r->seq, memory_order_acquire), w) &
		     ZCP__HANDLE_GEN_MASK) != (gen & ZCP__HANDLE_GEN_MASK)) {
			if (!(w & bit))
				zcp__record_drop_holder(zcp__pool_of(m, gidx), gidx, m->slot, m->slot,
							&budget);
			return ZCP_ESTALE;
		}
		return 0;
	}
	return ZCP_EAGAIN;
}

int zcp__record_finish_release(struct zcp__pool_view *p, uint64_t gidx, uint64_t w, unsigned me,
			       unsigned *budget)
{
	uint32_t idx = (uint32_t)(gidx - p->first);
	struct zcp__record *r = &p->records[idx];

	for (int i = 0; i < 16; i++) {
		int pushed = zcp__freelist_pushed(p, idx, w);
		if (pushed == 1)
			return 0;
		if (pushed == 0) {
			if (!zcp__rec_take_over_release(r, w, me))
				return 0; /* someone else took it over */
			int err = zcp__freelist_push(p, idx, zcp__w_releasing(me, zcp__w_gen(w)),
						     budget);
			return err ? err : 1;
		}
		/* Acquire: pairs with the release CAS of the word's last
		 * writer. */
		w = atomic_load_explicit(&r->word, memory_order_acquire);
		if (!zcp__w_is_releasing(w))
			return 0;
	}
	return 0;
}
