/* SPDX-License-Identifier: MIT */
/* Escrow: references in flight between processes.
 *
 * The sender writes an outbox entry in its own process slot (FILLING),
 * takes one more local reference (the lent one), then publishes the entry
 * (LIVE, with a fresh nonce).  The receiver takes its own reference first
 * — the sender's bit keeps the chunk alive meanwhile — then marks the
 * entry DONE with a CAS on (LIVE, nonce): exactly one receiver wins; a
 * loser gives its reference back.  The sender later sees DONE and drops
 * the lent reference.
 *
 * Why a kill anywhere is safe: the lent reference is part of the sender's
 * holder bit, so a dead sender's reclaim drops it, and its reclaim empties
 * its entries before it drops a single bit (zcp__escrow_clear_slot), so a
 * ticket then names an empty entry: ESTALE.  A receiver that read the
 * entry just before takes its reference bound to the ticket's generation
 * (zcp__ref_gen): once the chunk went back to its pool and out again, that
 * fails too, and if it got in first, its DONE CAS fails on the emptied
 * entry and it gives the reference back.  A receiver killed after taking
 * its reference but before DONE holds a bit that its own reclaim drops,
 * and the LIVE entry naming it is cancelled by the same reclaim
 * (zcp__escrow_cancel_dead), so the sender drops the lent reference.
 * Nothing is taken twice: DONE is reached once per nonce.
 *
 * Threads.  Any thread of the owner may collect: it reads which chunk an
 * entry lent (from process memory, lent_gidx) before its CAS DONE -> EMPTY,
 * so a send by another thread that reuses the entry right after cannot
 * change what it releases (that send's CAS needs EMPTY, after ours).
 *
 * Receivers are named by process id (slot and incarnation), which means
 * the same in every PID namespace; a pid would not.
 */
#include "escrow.h"

#include "view.h"

#include "crashpoint.h"

#include <errno.h>

#define NONCE54 ZCP__TICKET_NONCE_MASK

static uint64_t fresh_nonce(struct zcp_mempool_manager *m)
{
	/* A per-manager random start (the header nonce mixed with our slot
	 * id) plus a counter: unique per entry use, unguessable by peers
	 * that do not read our slot. */
	/* Relaxed: process-local; only uniqueness matters, which any
	 * order of the RMWs gives. */
	uint64_t n = atomic_fetch_add_explicit(&m->next_nonce, 1, memory_order_relaxed);
	uint64_t x = (n + m->process_id) * UINT64_C(0x9E3779B97F4A7C15);
	x ^= x >> 29;
	x *= UINT64_C(0xBF58476D1CE4E5B9);
	x ^= x >> 32;
	return (x & NONCE54) | 1; /* never 0 */
}

unsigned zcp__escrow_collect(struct zcp_mempool_manager *m)
{
	struct zcp__proc *self = zcp__proc_at(m, m->slot);
	unsigned dropped = 0;
	for (unsigned e = 0; e < ZCP__OUTBOX_SLOTS; e++) {
		struct zcp__outbox_entry *o = &self->outbox[e];
		/* Acquire: pairs with the receiver's or canceller's acq_rel
		 * CAS to DONE. */
		uint64_t w = atomic_load_explicit(&o->word, memory_order_acquire);
		if (zcp__out_state(w) != ZCP__OUT_DONE)
			continue;
		/* Which chunk this use of the entry lent: read before the CAS
		 * that lets another thread's send reuse the entry.  Relaxed:
		 * process memory, written by our send before its release store
		 * of LIVE, which the acquire load above (through the DONE CAS's
		 * release sequence) orders before this read. */
		uint64_t gidx = atomic_load_explicit(&m->lent_gidx[e], memory_order_relaxed);
		if (!atomic_compare_exchange_strong_explicit(&o->word, &w,
							     zcp__out_word(ZCP__OUT_EMPTY, 0),
							     memory_order_acq_rel, memory_order_acquire))
			continue;
		zcp__view_release(m, &m->chunks[gidx], gidx);
		/* Relaxed: a process-local hint (escrow_cancel_dead() only
		 * skips a collect when it reads 0). */
		atomic_fetch_sub_explicit(&m->lent, 1, memory_order_relaxed);
		dropped++;
	}
	return dropped;
}

long zcp_mempool_manager_settle(zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check_rw(mgr);
	if (err)
		return err;
	return (long)zcp__escrow_collect(mgr);
}

int zcp_chunk_send(zcp_mempool_manager *mgr, zcp_chunk *chunk, uint64_t receiver, uint64_t *ticket)
{
	int err = zcp__mgr_check_rw(mgr);
	if (err)
		return err;
	uint64_t gidx;
	if (!ticket || zcp__chunk_index(mgr, chunk, &gidx))
		return ZCP_EINVAL;
	/* Acquire: pairs with the release store of the count that ended
	 * another thread's crossing of zero (view.h). */
	uint32_t n = atomic_load_explicit(&chunk->refs, memory_order_acquire);
	if (n == 0 || n == UINT32_MAX)
		return ZCP_EALREADY;
	zcp__escrow_collect(mgr);

	struct zcp__proc *self = zcp__proc_at(mgr, mgr->slot);
	uint64_t nonce = fresh_nonce(mgr);
	for (unsigned e = 0; e < ZCP__OUTBOX_SLOTS; e++) {
		struct zcp__outbox_entry *o = &self->outbox[e];
		/* Acquire: pairs with the collect's CAS to EMPTY (the entry's
		 * previous use is over before we reuse it). */
		uint64_t w = atomic_load_explicit(&o->word, memory_order_acquire);
		/* acq_rel: EMPTY -> FILLING, the entry is ours; acquire as
		 * above, release so that a receiver that sees FILLING or
		 * later also sees what came before. */
		if (zcp__out_state(w) != ZCP__OUT_EMPTY ||
		    !atomic_compare_exchange_strong_explicit(&o->word, &w,
							     zcp__out_word(ZCP__OUT_FILLING, nonce),
							     memory_order_acq_rel, memory_order_acquire))
			continue;
		/* Release fence: the field stores below must not be seen by
		 * a receiver of the entry's previous use (an old ticket) that
		 * then still sees the old LIVE word.  With the receiver's
		 * acquire fence before its re-check of the word
		 * (zcp_chunk_receive()), a receiver that read any of the new
		 * fields re-reads FILLING or later, so it never pairs new
		 * fields with an old nonce.  The seqlock writer's fence
		 * (Boehm, "Can seqlocks get along with programming language
		 * memory models?", 2012); free on x86, a dmb on arm64. */
		atomic_thread_fence(memory_order_release);
		/* The lent reference: counted like any other of ours. */
		err = zcp__ref_gen(mgr, chunk, gidx, 0, 0);
		if (err) {
			/* FILLING is ours alone: nobody else CASes it.
			 * Release: nothing was published; kept for
			 * symmetry with the other transitions. */
			atomic_store_explicit(&o->word, zcp__out_word(ZCP__OUT_EMPTY, 0),
					      memory_order_release);
			return err;
		}
		/* Relaxed, all five: lent_gidx and lent are process memory
		 * read after the DONE word (acquire) in collect; the entry's
		 * fields are published by the release store of LIVE below and
		 * fenced from the previous use above. */
		atomic_store_explicit(&mgr->lent_gidx[e], gidx, memory_order_relaxed);
		atomic_fetch_add_explicit(&mgr->lent, 1, memory_order_relaxed);
		atomic_store_explicit(&o->chunk, gidx, memory_order_relaxed);
		atomic_store_explicit(&o->seq, atomic_load_explicit(&chunk->seq, memory_order_relaxed), memory_order_relaxed);
		atomic_store_explicit(&o->receiver, receiver, memory_order_relaxed);
		ZCP__CRASH_POINT("send.entry");
		/* Release: the fields above, and the caller's payload writes,
		 * before LIVE; pairs with the receiver's acquire load. */
		atomic_store_explicit(&o->word, zcp__out_word(ZCP__OUT_LIVE, nonce),
				      memory_order_release);
		*ticket = zcp__ticket_make(mgr->slot, e, nonce);
		return 0;
	}
	return ZCP_ENOSPC;
}

/* The entry a ticket names, or NULL if malformed. */
static struct zcp__outbox_entry *entry_of(struct zcp_mempool_manager *m, uint64_t ticket,
					  unsigned *slot)
{
	unsigned s = zcp__ticket_slot(ticket), e = zcp__ticket_entry(ticket);
	if (s >= m->geo.max_processes || (ticket & NONCE54) == 0)
		return NULL;
	*slot = s;
	return &zcp__proc_at(m, s)->outbox[e];
}


zcp_chunk *zcp_chunk_receive(zcp_mempool_manager *mgr, uint64_t ticket)
{
	unsigned slot;
	int err = zcp__mgr_check_rw(mgr);
	if (err)
		return zcp__fail_null(err);
	struct zcp__outbox_entry *o = entry_of(mgr, ticket, &slot);
	if (!o)
		return zcp__fail_null(ZCP_EINVAL);
	/* Acquire: pairs with the sender's release store of LIVE. */
	uint64_t w = atomic_load_explicit(&o->word, memory_order_acquire);
	if (zcp__out_state(w) != ZCP__OUT_LIVE || (w & NONCE54) != (ticket & NONCE54))
		return zcp__fail_null(ZCP_ESTALE);
	/* Relaxed: ordered after the LIVE load by its acquire, and before
	 * the re-check by the fence below. */
	uint64_t gidx = atomic_load_explicit(&o->chunk, memory_order_relaxed);
	uint64_t seq = atomic_load_explicit(&o->seq, memory_order_relaxed);
	uint64_t to = atomic_load_explicit(&o->receiver, memory_order_relaxed);
	/* The fields belong to this (LIVE, nonce) only if it is still there.
	 * Acquire fence: the three loads above may not move after the
	 * re-check (an acquire load orders only what follows it); paired
	 * with the sender's release fence after FILLING, a field of a later
	 * use of the entry makes the re-check fail (the seqlock reader). */
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&o->word, memory_order_acquire) != w || gidx >= mgr->geo.total_chunks)
		return zcp__fail_null(ZCP_ESTALE);
	if (to != 0 && to != mgr->process_id)
		return zcp__fail_null(ZCP_EACCES);
	struct zcp_chunk *c = &mgr->chunks[gidx];
	/* A reference to the generation the ticket names, and no other. */
	err = zcp__ref_gen(mgr, c, gidx, 1, seq);
	if (err)
		return zcp__fail_null(err);
	ZCP__CRASH_POINT("receive.bit");
	/* acq_rel: LIVE -> DONE; release publishes our holder bit (taken
	 * above) to the sender's collect before it drops its lent
	 * reference, so the chunk never has no holder in between. */
	if (!atomic_compare_exchange_strong_explicit(&o->word, &w,
						     zcp__out_word(ZCP__OUT_DONE, w),
						     memory_order_acq_rel, memory_order_acquire)) {
		zcp__view_release(mgr, c, gidx); /* taken, cancelled, or its sender is gone */
		return zcp__fail_null(ZCP_ESTALE);
	}
	/* Release: a hint for the sender's collect; the DONE word itself
	 * carries the ordering. */
	atomic_fetch_add_explicit(&zcp__proc_at(mgr, slot)->outbox_taken, 1, memory_order_release);
	return c;
}

int zcp_chunk_unsend(zcp_mempool_manager *mgr, uint64_t ticket)
{
	unsigned slot;
	int err = zcp__mgr_check_rw(mgr);
	if (err)
		return err;
	struct zcp__outbox_entry *o = entry_of(mgr, ticket, &slot);
	if (!o || slot != mgr->slot)
		return ZCP_EINVAL;
	/* Acquire, and acq_rel on the CAS: as for a receiver; LIVE -> DONE
	 * by the sender itself. */
	uint64_t w = atomic_load_explicit(&o->word, memory_order_acquire);
	if (zcp__out_state(w) != ZCP__OUT_LIVE || (w & NONCE54) != (ticket & NONCE54))
		return ZCP_ESTALE;
	if (!atomic_compare_exchange_strong_explicit(&o->word, &w, zcp__out_word(ZCP__OUT_DONE, w),
						     memory_order_acq_rel, memory_order_acquire))
		return ZCP_ESTALE;
	zcp__escrow_collect(mgr);
	return 0;
}

unsigned zcp__escrow_cancel_dead(struct zcp_mempool_manager *m)
{
	unsigned cancelled = 0;
	for (unsigned s = 0; s < m->geo.max_processes; s++) {
		struct zcp__proc *p = zcp__proc_at(m, s);
		/* Acquire: pairs with the release CAS that claimed the slot. */
		if (!zcp__sid_occupied(atomic_load_explicit(&p->id, memory_order_acquire)))
			continue;
		unsigned here = 0;
		for (unsigned e = 0; e < ZCP__OUTBOX_SLOTS; e++) {
			struct zcp__outbox_entry *o = &p->outbox[e];
			/* Acquire: pairs with the sender's release store of
			 * LIVE, so the receiver field below is this use's. */
			uint64_t w = atomic_load_explicit(&o->word, memory_order_acquire);
			if (zcp__out_state(w) != ZCP__OUT_LIVE)
				continue;
			/* Acquire (not relaxed): should it read a later use's
			 * receiver, it synchronises with that sender's release
			 * fence after FILLING, so the CAS below, expecting the
			 * old LIVE word, must fail instead of cancelling a
			 * ticket on a stale decision. */
			uint64_t to = atomic_load_explicit(&o->receiver, memory_order_acquire);
			if (to == 0 || zcp__process_id_alive(m, to))
				continue;
			/* acq_rel: LIVE -> DONE, as a receiver's. */
			if (atomic_compare_exchange_strong_explicit(
				    &o->word, &w, zcp__out_word(ZCP__OUT_DONE, w),
				    memory_order_acq_rel, memory_order_acquire))
				here++;
		}
		/* Wake the owner's collect (also for entries a dead receiver
		 * marked DONE without getting to bump the counter). */
		if (here) /* Release: a hint, as in zcp_chunk_receive(). */
			atomic_fetch_add_explicit(&p->outbox_taken, 1, memory_order_release);
		cancelled += here;
	}
	/* Relaxed: process-local hint; collect re-reads every word. */
	if (atomic_load_explicit(&m->lent, memory_order_relaxed))
		zcp__escrow_collect(m);
	return cancelled;
}

unsigned zcp__escrow_clear_slot(struct zcp_mempool_manager *m, unsigned i)
{
	struct zcp__proc *p = zcp__proc_at(m, i);
	unsigned n = 0;
	for (unsigned e = 0; e < ZCP__OUTBOX_SLOTS; e++) {
		struct zcp__outbox_entry *o = &p->outbox[e];
		/* Acquire, and acq_rel on the CAS: the entry's last transition
		 * (and what it published) before we empty it. */
		uint64_t w = atomic_load_explicit(&o->word, memory_order_acquire);
		/* Only receivers and cancellers move a dead slot's entries,
		 * each once (LIVE -> DONE): a few tries always suffice. */
		for (int k = 0; k < 8 && zcp__out_state(w) != ZCP__OUT_EMPTY; k++) {
			if (atomic_compare_exchange_strong_explicit(
				    &o->word, &w, zcp__out_word(ZCP__OUT_EMPTY, 0),
				    memory_order_acq_rel, memory_order_acquire)) {
				n++;
				break;
			}
		}
	}
	return n;
}

uint64_t zcp__escrow_unsettled(const struct zcp_mempool_manager *m, unsigned i)
{
	const struct zcp__proc *p = zcp__proc_at(m, i);
	uint64_t n = 0;
	/* Relaxed: a statistic; nothing is read through it. */
	for (unsigned e = 0; e < ZCP__OUTBOX_SLOTS; e++)
		n += zcp__out_state(atomic_load_explicit(&p->outbox[e].word, memory_order_relaxed)) == ZCP__OUT_DONE;
	return n;
}
