/* SPDX-License-Identifier: MIT */
/* The chunk record: its holder word and every transition of it, the
 * generation, and the formats that name a record from outside (handles,
 * tickets).  The one place that owns who holds a chunk.
 *
 * The hot transitions are static inline here (as liburcu keeps its fast
 * paths in urcu/static/), so the get and release fast paths pay no call;
 * the general ones, with their retry loops, are in holders.c.
 *
 * States of a record word, what leaves each, and what a kill there leaves
 * for reclaim (crash points by their names in lib/crashpoint.c):
 *
 *  state                  | left by                                 | a kill here (point)       | finished by
 *  -----------------------+-----------------------------------------+---------------------------+----------------------------
 *  FREE(g)                | claim by a popper that flipped the head | pop.flipped: head POP(s), | zcp__freelist_settle()
 *    below the top, or    |   to POP(s): mark, -> HELD{s} (g)       |   word still FREE         |   marks it HELD{s}; then as
 *    top of a POP head    |                                         |                           |   a dead holder's bit
 *  RELEASING(r, g)        | claim: -> HELD{me}|ONTOP (g)            | pop.claimed, pop.taken    | drop the dead bit (below)
 *    top of a PUSH head:  | finalise (a pusher buries it): -> FREE  | push.finalized            | nothing: on the list
 *    on the list          |                                         |                           |
 *  RELEASING(r, g)        | r pushes it (head -> PUSH on it)        | release.releasing         | zcp__record_finish_release()
 *    not on the list      | r dead: take over -> RELEASING(me, g)   |                           |   as the next releaser
 *  HELD{S}|ONTOP (g)      | last holder gives back in place:        | release.local (view only) | a reclaimer drops the dead
 *                         |   -> RELEASING(me, g+1), on the list    |                           |   bit: the same CAS
 *                         | unlist: -> HELD{S} (an unlister moves   | list.unlisted             | the next release flips the
 *                         |   the head past it)                     |                           |   head off it first
 *                         | add/drop a holder bit                   | ref.shared, release.cleared| as HELD{S}
 *  HELD{S} (g)            | add holder: -> HELD{S+s}                | ref.shared                | the bit is the holder's
 *    S may hold TOPIC:    | publish: HELD{S+me} -> HELD{S+TOPIC}    | pub.moved                 | topics reclaim (topic.c):
 *    a topic's ring keeps | (or +TOPIC when the publisher keeps      |                           |   the ring or the dead
 *    it (publisher.c)     | references); evict: drop TOPIC at g     | pub.evicting              |   publisher's pending entry
 *                         | or, TOPIC alone, recycle:               | pub.recycled              | as HELD{me}: the bit is
 *                         |   -> HELD{me} (g+1)                     |                           |   the publisher's
 *                         | drop holder, others remain: HELD{S-s}   | release.cleared           | nothing
 *                         | last holder: flip head off it, then     | release.releasing         | as RELEASING not on the list
 *                         |   -> RELEASING(me, g+1), then push      |                           |
 *
 * Generations.  g counts the record's returns to its pool.  A FREE or
 * RELEASING word carries 56 bits of it, a HELD word its low 6 bits (the
 * rest of the word is the holder set), the record's seq field all of it
 * (written by each holder just after its claim), handles 38 bits, tickets
 * the sender's view's full value.  Every give-back advances it from the
 * generation actually taken (zcp__full_gen), so no word a record is given
 * back with equals one it had before, and a stale compare-and-swap fails.
 *
 * Memory order.  Every CAS of a record word is acq_rel: the release half
 * publishes the payload written by the last holder (and, for a claim or
 * mark, nothing yet), the acquire half makes the next holder see it.  A
 * chain of RMWs on the word continues the release sequence, so a claim
 * after a finalise still sees the last holder's writes.
 */
#ifndef ZCP_RECORD_H
#define ZCP_RECORD_H

#include "layout.h"

#include <stdatomic.h>

/* --- the holder word of a record ------------------------------------------
 *
 * bit 63 = 0: HELD.  Bits 0..55 are the set of process slots holding at
 *             least one reference (never empty); bits 56..61 are the low
 *             6 bits of the generation, so a handle can be checked against
 *             the word it takes a reference on, in the same CAS.  Bit 62 is
 *             ONTOP: the record was claimed off the top of a PUSH head and
 *             nobody has moved the head since (see freelist.c); its last
 *             holder gives it back with this one word's CAS.
 * bit 63 = 1: not held.  Bit 62 = 0: FREE (on the free list, or being
 *             popped).  Bit 62 = 1: RELEASING (given back by the process in
 *             bits 56..61, on its way to the free list or at its top).
 *             Bits 0..55: the generation it is freed at, so a stale
 *             compare-and-swap can never match a later cycle.
 *
 * The generation counts the chunk's returns to its pool; the record's seq
 * holds it in full (written by each new holder), handles carry it.
 */
#define ZCP__W_NOTHELD (UINT64_C(1) << 63)
#define ZCP__W_RELEASING (UINT64_C(1) << 62)
#define ZCP__W_ONTOP (UINT64_C(1) << 62)
#define ZCP__W_GEN_MASK ((UINT64_C(1) << 56) - 1)
#define ZCP__W_HELD_GEN_MASK UINT64_C(0x3f)
#define ZCP__W_HOLDER_BITS 56
#define ZCP__W_HOLDERS_MASK ((UINT64_C(1) << ZCP__W_HOLDER_BITS) - 1)
/* The last holder bit is no process's: it is set while a topic's ring
 * keeps the chunk as a published sample (publisher.c, topic.h).  A
 * chunk is in at most one ring at a time: the bit is claimed with one
 * CAS, which fails if it is set. */
#define ZCP__W_TOPIC_SLOT (ZCP__W_HOLDER_BITS - 1)
#define ZCP__W_TOPIC_BIT (UINT64_C(1) << ZCP__W_TOPIC_SLOT)

static inline int zcp__w_is_held(uint64_t w)
{
	return !(w & ZCP__W_NOTHELD);
}
static inline int zcp__w_is_free(uint64_t w)
{
	return (w & (ZCP__W_NOTHELD | ZCP__W_RELEASING)) == ZCP__W_NOTHELD;
}
static inline int zcp__w_is_releasing(uint64_t w)
{
	return (w & (ZCP__W_NOTHELD | ZCP__W_RELEASING)) == (ZCP__W_NOTHELD | ZCP__W_RELEASING);
}
static inline uint64_t zcp__w_free(uint64_t gen)
{
	return ZCP__W_NOTHELD | (gen & ZCP__W_GEN_MASK);
}
static inline uint64_t zcp__w_releasing(unsigned slot, uint64_t gen)
{
	return ZCP__W_NOTHELD | ZCP__W_RELEASING | ((uint64_t)slot << 56) | (gen & ZCP__W_GEN_MASK);
}
static inline unsigned zcp__w_releaser(uint64_t w)
{
	return (unsigned)((w >> 56) & 0x3f);
}
/* Generation of a FREE or RELEASING word. */
static inline uint64_t zcp__w_gen(uint64_t w)
{
	return w & ZCP__W_GEN_MASK;
}
/* A HELD word (not ONTOP). */
static inline uint64_t zcp__w_held(uint64_t holders, uint64_t gen)
{
	return holders | ((gen & ZCP__W_HELD_GEN_MASK) << 56);
}
static inline uint64_t zcp__w_holders(uint64_t w)
{
	return w & ZCP__W_HOLDERS_MASK;
}
/* Low 6 bits of the generation of a HELD word. */
static inline uint64_t zcp__w_held_gen(uint64_t w)
{
	return (w >> 56) & ZCP__W_HELD_GEN_MASK;
}
/* A held word is well formed: some holder. */
static inline int zcp__w_held_valid(uint64_t w)
{
	return zcp__w_is_held(w) && zcp__w_holders(w) != 0;
}
/* The generation-free part of the word a claim by `slot` writes,
 * HELD{slot}|ONTOP; a handle computes it once (zcp__w_claimed()). */
static inline uint64_t zcp__w_claim_bits(unsigned slot)
{
	return (UINT64_C(1) << slot) | ZCP__W_ONTOP;
}
/* That word for generation gen. */
static inline uint64_t zcp__w_claimed(uint64_t claim_bits, uint64_t gen)
{
	return claim_bits | ((gen & ZCP__W_HELD_GEN_MASK) << 56);
}
/* A held word claimed off a PUSH head nobody has moved since. */
static inline int zcp__w_ontop(uint64_t w)
{
	return zcp__w_is_held(w) && (w & ZCP__W_ONTOP);
}

/* The full generation of a record whose HELD word is w and whose seq
 * reads `seq`.  A new holder writes seq just after its claim, so a holder
 * killed in between leaves the previous generation there (one less);
 * the word's low 6 bits tell.  Every give-back then advances from the
 * generation actually taken, so no word a record is given back with
 * equals one it had before. */
static inline uint64_t zcp__full_gen(uint64_t seq, uint64_t w)
{
	return seq + ((zcp__w_held_gen(w) - seq) & ZCP__W_HELD_GEN_MASK);
}

/* --- handles and tickets -------------------------------------------------
 *
 * Handle: bits 63..38 global record index + 1 (0 is never a handle),
 *         bits 37..0 generation.
 * Ticket: bits 63..58 sender's slot, 57..54 outbox entry, 53..0 nonce.
 */
#define ZCP__HANDLE_GEN_BITS 38
#define ZCP__HANDLE_GEN_MASK ((UINT64_C(1) << ZCP__HANDLE_GEN_BITS) - 1)
#define ZCP__TICKET_SLOT_SHIFT 58
#define ZCP__TICKET_ENTRY_SHIFT 54
#define ZCP__TICKET_NONCE_MASK ((UINT64_C(1) << ZCP__TICKET_ENTRY_SHIFT) - 1)

_Static_assert((uint64_t)ZCP_MAX_POOLS * ZCP_MAX_CHUNKS_PER_POOL < (UINT64_C(1) << (64 - ZCP__HANDLE_GEN_BITS)),
	       "a handle's index field holds every record");
_Static_assert(ZCP_MAX_PROCESSES <= (1 << (64 - ZCP__TICKET_SLOT_SHIFT)), "a ticket's slot field");
_Static_assert(ZCP__OUTBOX_SLOTS <= (1 << (ZCP__TICKET_SLOT_SHIFT - ZCP__TICKET_ENTRY_SHIFT)) &&
		       (ZCP__OUTBOX_SLOTS & (ZCP__OUTBOX_SLOTS - 1)) == 0,
	       "a ticket's entry field holds every outbox entry (a power of two)");
_Static_assert(ZCP_MAX_PROCESSES <= ZCP__W_TOPIC_SLOT,
	       "the holder set shares the word with 8 bits of state and keeps one bit for topics");

static inline uint64_t zcp__handle_make(uint64_t gidx, uint64_t gen)
{
	return ((gidx + 1) << ZCP__HANDLE_GEN_BITS) | (gen & ZCP__HANDLE_GEN_MASK);
}
static inline uint64_t zcp__ticket_make(unsigned slot, unsigned entry, uint64_t nonce)
{
	return ((uint64_t)slot << ZCP__TICKET_SLOT_SHIFT) |
	       ((uint64_t)entry << ZCP__TICKET_ENTRY_SHIFT) | (nonce & ZCP__TICKET_NONCE_MASK);
}
static inline unsigned zcp__ticket_slot(uint64_t t)
{
	return (unsigned)(t >> ZCP__TICKET_SLOT_SHIFT);
}
static inline unsigned zcp__ticket_entry(uint64_t t)
{
	return (unsigned)((t >> ZCP__TICKET_ENTRY_SHIFT) & (ZCP__OUTBOX_SLOTS - 1));
}

/* --- transitions ---------------------------------------------------------
 *
 * Each is one CAS of the word, expecting the exact word the decision was
 * taken on; on failure *w (where given) holds the word now.  acq_rel
 * throughout (see Memory order above). */
static inline int zcp__rec_cas(struct zcp__record *r, uint64_t *w, uint64_t desired)
{
	return atomic_compare_exchange_strong_explicit(&r->word, w, desired, memory_order_acq_rel,
						       memory_order_acquire);
}
static inline int zcp__rec_cas_weak(struct zcp__record *r, uint64_t *w, uint64_t desired)
{
	return atomic_compare_exchange_weak_explicit(&r->word, w, desired, memory_order_acq_rel,
						     memory_order_acquire);
}

/* Claim: RELEASING(r, g) on top of a PUSH head -> HELD{me}|ONTOP (g). */
static inline int zcp__rec_claim(struct zcp__record *r, uint64_t w, uint64_t claim_bits)
{
	return zcp__rec_cas(r, &w, zcp__w_claimed(claim_bits, zcp__w_gen(w)));
}

/* Mark: FREE(g), popped for slot by a head flip -> HELD{slot} (g). */
static inline int zcp__rec_mark(struct zcp__record *r, uint64_t w, unsigned slot)
{
	return zcp__rec_cas(r, &w, zcp__w_held(UINT64_C(1) << slot, zcp__w_gen(w)));
}

/* Unlist: HELD|ONTOP -> HELD, before the head moves past a claimed top. */
static inline int zcp__rec_unlist(struct zcp__record *r, uint64_t w)
{
	return zcp__rec_cas(r, &w, w & ~ZCP__W_ONTOP);
}

/* Finalise: RELEASING(r, g) -> FREE(g), before a push buries it. */
static inline int zcp__rec_finalise(struct zcp__record *r, uint64_t w)
{
	return zcp__rec_cas(r, &w, zcp__w_free(zcp__w_gen(w)));
}

/* Give back in place: HELD{me}|ONTOP (g) -> RELEASING(me, g+1), the last
 * holder's one CAS when nobody moved the head since its claim.  The
 * expected word comes from the caller's own view (no load first). */
static inline int zcp__rec_give_back_in_place(struct zcp__record *r, uint64_t claim_bits,
					      uint64_t give_bits, uint64_t gen)
{
	uint64_t w = zcp__w_claimed(claim_bits, gen);
	return zcp__rec_cas(r, &w, give_bits | ((gen + 1) & ZCP__W_GEN_MASK));
}

/* Take over a dead releaser's give-back: RELEASING(dead, g) ->
 * RELEASING(me, g), before pushing it ourselves. */
static inline int zcp__rec_take_over_release(struct zcp__record *r, uint64_t w, unsigned me)
{
	return zcp__rec_cas(r, &w, zcp__w_releasing(me, zcp__w_gen(w)));
}

/* --- the general transitions (holders.c) ----------------------------------- */
struct zcp__pool_view;
struct zcp_mempool_manager;

/* Give back `slot`'s share in record gidx of pool p as `me`: clear its bit;
 * when no holder is left, give the chunk back to its pool (in place when
 * ONTOP, else flip the head off it, mark RELEASING and push).  Returns 1
 * if the chunk went back to its pool, 0 if others still hold it,
 * ZCP_EALREADY (bit not set), or a free-list error.  Retries count
 * against *budget (ZCP_EAGAIN when it runs out). */
int zcp__record_drop_holder(struct zcp__pool_view *p, uint64_t gidx, unsigned slot, unsigned me,
			    unsigned *budget);

/* The same for the topics' bit, and only while record gidx is at
 * generation gen (a ring names the sample it keeps by its generation):
 * ZCP_ESTALE if it moved on, ZCP_EALREADY if the bit is not set. */
int zcp__record_drop_topic(struct zcp__pool_view *p, uint64_t gidx, uint64_t gen, unsigned me,
			   unsigned *budget);

/* Publish: set the topics' bit on record r, held by `slot` at generation
 * gen, and with move clear slot's bit in the same CAS (the caller's
 * reference becomes the ring's).  Returns 0, ZCP_EBUSY (a ring keeps it
 * already), ZCP_ESTALE (slot does not hold it at gen), ZCP_EAGAIN. */
int zcp__record_to_topic(struct zcp__record *r, uint64_t gen, unsigned slot, int move);

/* Recycle: a publisher takes back a sample its ring evicts when the ring
 * is its only holder, as a new chunk, without a trip through the free
 * list: HELD{TOPIC} (g) -> HELD{slot} (g+1), then seq = g+1.  The new
 * generation makes every late acquire of the old sample fail, so nobody
 * can be reading what the publisher writes next.  gen may be a handle's
 * (38 bits).  Returns the new full generation (never 0), or 0 (others
 * hold it, or it moved on: drop the topics' bit instead). */
uint64_t zcp__record_recycle(struct zcp__record *r, uint64_t gen, unsigned slot);

/* Add m's slot to the holders of record gidx, which someone else keeps
 * alive ("get unless zero"), checking generation gen in the same CAS (its
 * low bits) and then in full.  Returns 0, ZCP_ESTALE, ZCP_EAGAIN. */
int zcp__record_acquire(struct zcp_mempool_manager *m, uint64_t gidx, uint64_t gen);

/* Record gidx was read as w = RELEASING(dead releaser, g): if its push
 * never happened, take it over as `me` and push it.  Returns 1 if we
 * pushed it, 0 if nothing to do, or an error. */
int zcp__record_finish_release(struct zcp__pool_view *p, uint64_t gidx, uint64_t w, unsigned me,
			       unsigned *budget);

#endif /* ZCP_RECORD_H */
