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
		 * that lets another thread's send reuse the entry. */
		uint64_t gidx = atomic_load_explicit(&m->lent_gidx[e], memory_order_relaxed);
		if (!atomic_compare_exchange_strong_explicit(&o->word, &w,
							     zcp__out_word(ZCP__OUT_EMPTY, 0),
							     memory_order_acq_rel, memory_order_acquire))
			continue;
		zcp__view_release(m, &m->chunks[gidx], gidx);
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
	uint32_t n = atomic_load_explicit(&chunk->refs, memory_order_acquire);
	if (n == 0 || n == UINT32_MAX)
		return ZCP_EALREADY;
	zcp__escrow_collect(mgr);

	struct zcp__proc *self = zcp__proc_at(mgr, mgr->slot);
	uint64_t nonce = fresh_nonce(mgr);
	for (unsigned e = 0; e < ZCP__OUTBOX_SLOTS; e++) {
		struct zcp__outbox_entry *o = &self->outbox[e];
		uint64_t w = atomic_load_explicit(&o->word, memory_order_acquire);
		if (zcp__out_state(w) != ZCP__OUT_EMPTY ||
		    !atomic_compare_exchange_strong_explicit(&o->word, &w,
							     zcp__out_word(ZCP__OUT_FILLING, nonce),
							     memory_order_acq_rel, memory_order_acquire))
			continue;
		/* The lent reference: counted like any other of ours. */
		err = zcp__ref_gen(mgr, chunk, gidx, 0, 0);
		if (err) {
			/* FILLING is ours alone: nobody else CASes it. */
			atomic_store_explicit(&o->word, zcp__out_word(ZCP__OUT_EMPTY, 0),
					      memory_order_release);
			return err;
		}
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
	uint64_t gidx = atomic_load_explicit(&o->chunk, memory_order_relaxed);
	uint64_t seq = atomic_load_explicit(&o->seq, memory_order_relaxed);
	uint64_t to = atomic_load_explicit(&o->receiver, memory_order_relaxed);
	/* The fields belong to this (LIVE, nonce) only if it is still there. */
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
	if (!atomic_compare_exchange_strong_explicit(&o->word, &w,
						     zcp__out_word(ZCP__OUT_DONE, w),
						     memory_order_acq_rel, memory_order_acquire)) {
		zcp__view_release(mgr, c, gidx); /* taken, cancelled, or its sender is gone */
		return zcp__fail_null(ZCP_ESTALE);
	}
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
		if (!zcp__sid_occupied(atomic_load_explicit(&p->id, memory_order_acquire)))
			continue;
		unsigned here = 0;
		for (unsigned e = 0; e < ZCP__OUTBOX_SLOTS; e++) {
			struct zcp__outbox_entry *o = &p->outbox[e];
			uint64_t w = atomic_load_explicit(&o->word, memory_order_acquire);
			if (zcp__out_state(w) != ZCP__OUT_LIVE)
				continue;
			uint64_t to = atomic_load_explicit(&o->receiver, memory_order_relaxed);
			if (to == 0 || zcp__process_id_alive(m, to))
				continue;
			if (atomic_compare_exchange_strong_explicit(
				    &o->word, &w, zcp__out_word(ZCP__OUT_DONE, w),
				    memory_order_acq_rel, memory_order_acquire))
				here++;
		}
		/* Wake the owner's collect (also for entries a dead receiver
		 * marked DONE without getting to bump the counter). */
		if (here)
			atomic_fetch_add_explicit(&p->outbox_taken, 1, memory_order_release);
		cancelled += here;
	}
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
	for (unsigned e = 0; e < ZCP__OUTBOX_SLOTS; e++)
		n += zcp__out_state(atomic_load_explicit(&p->outbox[e].word, memory_order_relaxed)) == ZCP__OUT_DONE;
	return n;
}
