/* SPDX-License-Identifier: MIT */
/* The lock-free free list of one pool (see freelist.c for the algorithm). */
#ifndef ZCP_FREELIST_H
#define ZCP_FREELIST_H

#include "record.h" /* first: it brings config.h before any system header */

#include "crashpoint.h"

/* --- the free-list head of a pool -----------------------------------------
 *
 * bits 63..44: top  — pool-local index of the top record, NIL if none
 * bits 43..38: op   — what the last transition did to `top`:
 *                     0 none (initial), 1..56 popped by slot op-1, 63 pushed
 * bits 37..0:  tag  — +1 at every transition (ABA guard, see freelist.c)
 */
#define ZCP__H_TOP_SHIFT 44
#define ZCP__H_OP_SHIFT 38
#define ZCP__H_NIL UINT32_C(0xFFFFF)
#define ZCP__H_OP_NONE 0u
#define ZCP__H_OP_PUSH 63u
#define ZCP__H_TAG_MASK ((UINT64_C(1) << ZCP__H_OP_SHIFT) - 1)
_Static_assert(ZCP_MAX_CHUNKS_PER_POOL < ZCP__H_NIL + 1, "the head's top field holds every index");
_Static_assert(ZCP_MAX_PROCESSES + 1 < ZCP__H_OP_PUSH, "the head's op field names every slot");

static inline uint64_t zcp__h_make(uint32_t top, unsigned op, uint64_t tag)
{
	return ((uint64_t)top << ZCP__H_TOP_SHIFT) | ((uint64_t)op << ZCP__H_OP_SHIFT) | (tag & ZCP__H_TAG_MASK);
}
static inline uint32_t zcp__h_top(uint64_t h)
{
	return (uint32_t)(h >> ZCP__H_TOP_SHIFT);
}
static inline unsigned zcp__h_op(uint64_t h)
{
	return (unsigned)((h >> ZCP__H_OP_SHIFT) & 0x3f);
}
static inline uint64_t zcp__h_tag(uint64_t h)
{
	return h & ZCP__H_TAG_MASK;
}

/* A process's validated view of one pool: shared words through pointers,
 * geometry copied into process memory at attach and trusted from then on. */
struct zcp__pool_view {
	/* One cache line a view, so that finding a pool is a shift. */
	_Alignas(64) struct zcp__pool_desc *desc; /* shared: head, used_max */
	struct zcp__record *records;  /* shared: this pool's first record */
	unsigned char *chunks;        /* local mapping of the first chunk header */
	uint64_t chunk_size;
	uint64_t stride;
	uint32_t count;
	uint32_t first;               /* global index of records[0] */
	unsigned index;               /* pool index */
	unsigned ages;                /* stamp records when taken (ZCP__HDR_CHUNK_AGES) */
};

/* Bound on the failed compare-and-swaps (and re-reads) of one public call,
 * all its loops together, before it gives up with ZCP_EAGAIN.  Each
 * failure means another process made progress, so honest peers never come
 * near it; it only stops a peer that rewrites shared words forever from
 * hanging us.  At the 150-570 ns a contended attempt costs, 2^20 attempts
 * take 0.16-0.6 s. */
#define ZCP__RETRY_LIMIT ZCP_RETRY_BOUND

/* Initialise a new pool: every record FREE at generation 0, linked in index
 * order, head at record 0.  Only while nobody else can see the segment. */
void zcp__freelist_init(struct zcp__pool_view *p);

/* Take a record off the list for process slot `slot`; on success *idx is
 * its pool-local index, *gen its generation, and its word is HELD by
 * exactly `slot`.
 * Returns 0, ZCP_ENOBUFS (empty), ZCP_ENOTRECOVERABLE (a shared word is out
 * of range or inconsistent), ZCP_EAGAIN (retry bound). */
int zcp__freelist_pop(struct zcp__pool_view *p, unsigned slot, uint32_t *idx, uint64_t *gen);

/* Claim record r (index `top`), read as w = RELEASING at the top of a PUSH head:
 * ownership and removal in one CAS, leaving it HELD{slot}|ONTOP (see
 * freelist.c); claim_bits is zcp__w_claim_bits(slot).  Returns 1 with
 * *idx and *gen on success, 0 if the word moved on. */
static inline int zcp__freelist_claim(struct zcp__record *r, uint32_t top, uint64_t w,
				      uint64_t claim_bits, uint32_t *idx, uint64_t *gen)
{
	if (!zcp__rec_claim(r, w, claim_bits))
		return 0;
	ZCP__CRASH_POINT("pop.claimed");
	*idx = top;
	*gen = zcp__w_gen(w);
	return 1;
}

/* The common pop, inline: the top was given back and not taken since.
 * claim_bits as for zcp__freelist_claim().  Returns 1 on success; 0 means
 * "use zcp__freelist_pop()". */
static inline int zcp__freelist_pop_fast(struct zcp__pool_view *p, uint64_t claim_bits,
					 uint32_t *idx, uint64_t *gen)
{
	/* Acquire: pairs with the release CAS of the head's last mover. */
	uint64_t h = atomic_load_explicit(&p->desc->head, memory_order_acquire);
	uint32_t top = zcp__h_top(h);
	if (top >= p->count || zcp__h_op(h) != ZCP__H_OP_PUSH)
		return 0;
	struct zcp__record *r = &p->records[top];
	/* Acquire: pairs with the releaser's release CAS to RELEASING; the
	 * head re-read (acquire, same pairing) ties the word to that head. */
	uint64_t w = atomic_load_explicit(&r->word, memory_order_acquire);
	if (!zcp__w_is_releasing(w) || atomic_load_explicit(&p->desc->head, memory_order_acquire) != h)
		return 0;
	return zcp__freelist_claim(r, top, w, claim_bits, idx, gen);
}

/* Before the last holder of record idx gives it back the long way (its
 * word is HELD without ONTOP): if the head still reads (idx, PUSH) — an
 * unlister cleared ONTOP and has not moved the head yet — flip it to
 * POP(slot), so that nobody moves the head on what the word says now.
 * Returns 0, or ZCP_EAGAIN (*budget ran out; each attempt takes one). */
int zcp__freelist_unlist(struct zcp__pool_view *p, uint32_t idx, unsigned slot, unsigned *budget);

/* Put record idx, whose word the caller set to `mine` = RELEASING(slot,
 * gen) after zcp__freelist_unlist(), back on the list.  Returns 0,
 * ZCP_ENOTRECOVERABLE or ZCP_EAGAIN (*budget ran out: the record then stays
 * RELEASING and reclaim can finish it once its releaser is gone). */
int zcp__freelist_push(struct zcp__pool_view *p, uint32_t idx, uint64_t mine, unsigned *budget);

/* Complete the head's pending transition, if any (mark a popped record for
 * its popper).  Reclaim calls it before scanning for a dead slot's bits. */
void zcp__freelist_settle(struct zcp__pool_view *p);

/* Whether record idx, whose word was read as w = RELEASING(r, gen) with r
 * dead, was pushed before r died: 1 yes (it is on the list), 0 no (whoever
 * moves w on owns the push), -1 the word changed meanwhile (read again). */
int zcp__freelist_pushed(struct zcp__pool_view *p, uint32_t idx, uint64_t w);

/* A hint, read without taking anything: whether the list holds a free
 * record other than `mine` (pool-local).  Only a snapshot (the list moves
 * under it); for decisions that stay safe either way, such as whether a
 * publisher may keep an evicted chunk for its next loan. */
int zcp__freelist_has_other(struct zcp__pool_view *p, uint32_t mine);

/* Walk the free list while nobody else uses the pool: count its records,
 * mark each in seen[] (pool-local index; caller zeroes it) and check that
 * none appears twice, the chain ends, and every record on it is free.
 * Returns the count, or ZCP_ENOTRECOVERABLE. */
long zcp__freelist_walk(struct zcp__pool_view *p, unsigned char *seen);

#endif /* ZCP_FREELIST_H */
