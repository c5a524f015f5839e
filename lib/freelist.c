/* SPDX-License-Identifier: MIT */
/* The free list of a pool: a Treiber stack of record indexes whose head
 * says what its last transition did, so that no kill at any instruction
 * can lose a chunk.
 *
 * The problem.  A plain Treiber stack pops with one CAS on the head; the
 * popper then has to write down that it owns the record.  A process killed
 * between the two leaves a record that is neither on the list nor owned:
 * lost.  Likewise a releaser killed between "I no longer hold it" and the
 * push.  Recovery cannot tell these states apart from a live process in
 * the same window, nor from a record still on the list.
 *
 * The scheme.  The 64-bit head holds (top, op, tag), op recording the last
 * transition of `top`: POP(s) — slot s took it — or PUSH — it was given
 * back.  Every transition first completes what the previous one left
 * pending on its top record, so at any instant at most one record (the top)
 * is "in between", and the head says which and for whom:
 *
 *  - POP(s): top belongs to s.  Its word is FREE until s (or anyone
 *    passing) turns it into HELD{s}.  The list proper starts at next(top).
 *  - PUSH:   top is on the list, unless its word says HELD: then it was
 *    claimed (below) and the list proper starts at next(top).  Its word may
 *    still say RELEASING(r, gen), the state the releaser r left it in.  A
 *    popper takes it by one CAS on the word, RELEASING -> HELD{me}|ONTOP
 *    (the "claim").  A pusher first turns RELEASING into FREE (the
 *    "finalise"), so records below the top are always FREE.
 *
 * Ownership is thus written in the same atomic step that takes the record
 * (the claim), or the head names the new owner until someone writes it
 * down (POP(s) + FREE).  A RELEASING record is on the list exactly when it
 * is the top of a PUSH head; otherwise its releaser never pushed it.  All
 * of this is decidable by reclaim (reclaim.c) from shared memory alone.
 *
 * A claim leaves the head alone, so a process cycling one chunk never
 * writes it: the record stays the top of the same PUSH head, HELD with
 * ONTOP set, and its last holder gives it back with one CAS of its word,
 * HELD|ONTOP -> RELEASING — the record is then on the list again, as the
 * top it never stopped being.  That is sound only while nobody has moved
 * the head since the claim, which ONTOP certifies: whoever wants to move
 * the head past a claimed top first clears ONTOP with a CAS of the word
 * ("unlisting" it).  The holder's CAS and the unlisting CAS exclude each
 * other, so exactly one of two things happens: the record goes back on
 * the list (the unlister's CAS fails and it looks again), or it is
 * unlisted (the holder's CAS fails and it gives the record back the long
 * way).  The long way: a holder whose word lacks ONTOP first makes sure
 * the head no longer reads (record, PUSH) — flipping it to POP if an
 * unlister has not moved it yet — and only then marks RELEASING and
 * pushes.  So the head never moves on a decision taken from a HELD word
 * that has changed since, and a releaser never pushes a record that is on
 * the list.
 *
 * Cost of a get+release pair when a process cycles one chunk: get = one
 * CAS (the claim), release = the CAS of its process-local count and the
 * CAS of the word.  No syscall, no lock, no write to the head.
 *
 * ABA.  Every transition adds 1 to the 38-bit tag.  A CAS can be fooled
 * only if the head comes back to the very same (top, op, tag) while a
 * process sits between its load and its CAS: 2^38 transitions, which take
 * 46 minutes at 10^8 transitions a second (faster than one cache line can
 * move between cores) and over 3 hours at a realistic 2.5*10^7.  Record
 * words carry a 56-bit generation, which never wraps in practice.  Every
 * decision taken from a record word is made only after re-reading the head
 * and finding it unchanged, so the word is known to belong to that head.
 * The head keeps its value while a process cycles its top (claim, release,
 * claim...); that fools nobody, because under an unchanged head a top's
 * word changes only by a CAS of that word (claim, give back, unlist,
 * finalise, holder bits), and each of those changes the value that any
 * stale CAS of the word expects: the generation moves at every give-back.
 *
 * Memory order.  CASes on the head and on record words are acq_rel: a
 * record's `next`, stored relaxed by its pusher, is published by the
 * pusher's release CAS on the head and read after an acquire load of it;
 * the payload written by the last holder is published by its release CAS
 * on the record word (RELEASING), and later RMWs on that word continue the
 * release sequence up to the acquiring claim or mark of the next holder.
 */
#include "freelist.h"

#include "crashpoint.h"

#include <errno.h>

static inline int slot_valid(unsigned op)
{
	return op >= 1 && op <= ZCP_MAX_PROCESSES;
}

/* acq_rel: the release half publishes a pusher's `next` store (and
 * everything before it); the acquire half pairs with the previous mover's
 * release, so the words we read next are at least as new as the head. */
static inline int head_cas(struct zcp__pool_view *p, uint64_t expect, uint64_t desired)
{
	return atomic_compare_exchange_strong_explicit(&p->desc->head, &expect, desired,
						       memory_order_acq_rel, memory_order_acquire);
}

/* Acquire: pairs with the release CAS of the head's last mover. */
static inline uint64_t head_load(struct zcp__pool_view *p)
{
	return atomic_load_explicit(&p->desc->head, memory_order_acquire);
}

static inline int head_still(struct zcp__pool_view *p, uint64_t h)
{
	return head_load(p) == h;
}

/* Acquire: pairs with the release CAS of the word's last writer
 * (record.h). */
static inline uint64_t word_load(const struct zcp__record *r)
{
	return atomic_load_explicit(&((struct zcp__record *)r)->word, memory_order_acquire);
}

/* Acquire: pairs with the release store of next by its pusher. */
static inline uint32_t next_load(const struct zcp__record *r)
{
	return atomic_load_explicit(&((struct zcp__record *)r)->next, memory_order_acquire);
}

/* One consistent look at the head and its top's word: 1 when *w was read
 * while the head was still *h, 0 to look again, -1 for a top out of range. */
static inline int snapshot(struct zcp__pool_view *p, uint64_t *h, uint64_t *w)
{
	*h = head_load(p);
	if (zcp__h_top(*h) >= p->count)
		return -1;
	*w = word_load(&p->records[zcp__h_top(*h)]);
	return head_still(p, *h);
}

void zcp__freelist_init(struct zcp__pool_view *p)
{
	for (uint32_t i = 0; i < p->count; i++) {
		struct zcp__record *r = &p->records[i];
		/* Relaxed: nobody else sees the segment before the creator's
		 * release store of READY. */
		atomic_store_explicit(&r->word, zcp__w_free(0), memory_order_relaxed);
		atomic_store_explicit(&r->seq, 0, memory_order_relaxed);
		atomic_store_explicit(&r->next, i + 1 < p->count ? i + 1 : ZCP__H_NIL,
				      memory_order_relaxed);
	}
	atomic_store_explicit(&p->desc->used_max, 0, memory_order_relaxed);
	atomic_store_explicit(&p->desc->head, zcp__h_make(0, ZCP__H_OP_NONE, 0), memory_order_relaxed);
}

/* If head h (top's word w) is POP(s) with the record still FREE, write
 * down the owner: FREE -> HELD{s}.  Failure means someone else did. */
static void help_mark(struct zcp__pool_view *p, uint32_t top, unsigned op, uint64_t w)
{
	if (slot_valid(op) && zcp__w_is_free(w))
		zcp__rec_mark(&p->records[top], w, op - 1);
}

/* The head or a link is out of range, or the words contradict the head:
 * corruption if the head has not moved meanwhile, else just a stale read. */
static int inconsistent(struct zcp__pool_view *p, uint64_t h)
{
	return head_still(p, h) ? ZCP_ENOTRECOVERABLE : 0;
}

/* Top record r of a PUSH head h is claimed (its word w is HELD): if w is
 * ONTOP, clear it so that its holder can no longer give it back in place,
 * and return 0 to look again; else return 1: the head may move past it. */
static int unlisted(struct zcp__record *r, uint64_t w)
{
	if (!zcp__w_ontop(w))
		return 1;
	if (zcp__rec_unlist(r, w))
		ZCP__CRASH_POINT("list.unlisted");
	return 0;
}

int zcp__freelist_pop(struct zcp__pool_view *p, unsigned slot, uint32_t *idx, uint64_t *gen)
{
	const unsigned me = slot + 1;

	for (unsigned attempt = 0; attempt < ZCP__RETRY_LIMIT; attempt++) {
		uint64_t h, w;
		int seen = snapshot(p, &h, &w), err;
		uint32_t top = zcp__h_top(h);
		unsigned op = zcp__h_op(h);
		uint64_t tag = zcp__h_tag(h);

		if (seen < 0)
			goto bad;
		if (!seen)
			continue;
		struct zcp__record *r = &p->records[top];

		if (slot_valid(op)) {
			help_mark(p, top, op, w);
		} else if (op == ZCP__H_OP_PUSH && zcp__w_is_releasing(w)) {
			/* Claim: ownership and removal in one step, the head
			 * left as it is (see above). */
			if (zcp__freelist_claim(r, top, w, zcp__w_claim_bits(slot), idx, gen))
				return 0;
			continue;
		} else if (op == ZCP__H_OP_PUSH && zcp__w_is_held(w)) {
			if (!zcp__w_held_valid(w))
				goto bad;
			if (!unlisted(r, w))
				continue;
		} else if ((op == ZCP__H_OP_PUSH || op == ZCP__H_OP_NONE) && zcp__w_is_free(w)) {
			/* FREE top: flip the head first, then write the owner down. */
			if (head_cas(p, h, zcp__h_make(top, me, tag + 1))) {
				ZCP__CRASH_POINT("pop.flipped");
				zcp__rec_mark(r, w, slot);
				*idx = top;
				*gen = zcp__w_gen(w);
				return 0;
			}
			continue;
		} else {
			goto bad;
		}

		/* top is taken; take the record below it. */
		uint32_t n = next_load(r);
		if (n == ZCP__H_NIL) {
			if (head_still(p, h))
				return ZCP_ENOBUFS;
			continue;
		}
		if (n >= p->count)
			goto bad;
		struct zcp__record *nr = &p->records[n];
		uint64_t nw = word_load(nr);
		if (!head_still(p, h))
			continue;
		if (!zcp__w_is_free(nw))
			goto bad; /* below the top every record is FREE */
		if (head_cas(p, h, zcp__h_make(n, me, tag + 1))) {
			ZCP__CRASH_POINT("pop.flipped");
			zcp__rec_mark(nr, nw, slot);
			*idx = n;
			*gen = zcp__w_gen(nw);
			return 0;
		}
		continue;
bad:
		err = inconsistent(p, h);
		if (err)
			return err;
	}
	return ZCP_EAGAIN;
}

int zcp__freelist_push(struct zcp__pool_view *p, uint32_t idx, uint64_t mine, unsigned *budget)
{
	for (; *budget > 0; --*budget) {
		/* Only a peer breaking the protocol moves a RELEASING word
		 * that is not on the list; then it is theirs to push. */
		if (word_load(&p->records[idx]) != mine)
			return 0;
		uint64_t h, w;
		int seen = snapshot(p, &h, &w), err;
		uint32_t top = zcp__h_top(h);
		unsigned op = zcp__h_op(h);
		uint64_t tag = zcp__h_tag(h);
		uint32_t below;

		if (seen < 0)
			goto bad;
		if (!seen)
			continue;
		struct zcp__record *r = &p->records[top];

		if (slot_valid(op)) {
			/* top is taken (possibly it is idx itself, taken and
			 * given back before anyone moved on; its word is then
			 * ours and help_mark leaves it alone). */
			if (top != idx)
				help_mark(p, top, op, w);
			below = next_load(r);
		} else if (op == ZCP__H_OP_PUSH || op == ZCP__H_OP_NONE) {
			/* Our record is not on the list (we unlisted it before
			 * marking it), so it cannot be a listed top. */
			if (top == idx)
				goto bad;
			if (zcp__w_is_releasing(w) && op == ZCP__H_OP_PUSH) {
				/* Finalise the previous push before burying it. */
				zcp__rec_finalise(r, w);
				ZCP__CRASH_POINT("push.finalized");
				continue;
			}
			if (zcp__w_is_held(w) && op == ZCP__H_OP_PUSH) {
				if (!zcp__w_held_valid(w))
					goto bad;
				if (!unlisted(r, w))
					continue;
				below = next_load(r);
			} else if (zcp__w_is_free(w)) {
				below = top;
			} else {
				goto bad;
			}
		} else {
			goto bad;
		}
		if (below != ZCP__H_NIL && below >= p->count)
			goto bad;
		/* Release: pairs with the acquire load of next by a popper
		 * (besides the head CAS below, which publishes it too). */
		atomic_store_explicit(&p->records[idx].next, below, memory_order_release);
		if (head_cas(p, h, zcp__h_make(idx, ZCP__H_OP_PUSH, tag + 1))) {
			ZCP__CRASH_POINT("push.done");
			return 0;
		}
		continue;
bad:
		err = inconsistent(p, h);
		if (err)
			return err;
	}
	return ZCP_EAGAIN;
}

int zcp__freelist_unlist(struct zcp__pool_view *p, uint32_t idx, unsigned slot, unsigned *budget)
{
	for (; *budget > 0; --*budget) {
		uint64_t h = head_load(p);
		if (zcp__h_top(h) != idx || zcp__h_op(h) != ZCP__H_OP_PUSH)
			return 0;
		if (head_cas(p, h, zcp__h_make(idx, slot + 1, zcp__h_tag(h) + 1)))
			return 0;
	}
	return ZCP_EAGAIN;
}

void zcp__freelist_settle(struct zcp__pool_view *p)
{
	for (int i = 0; i < 64; i++) {
		uint64_t h, w;
		int seen = snapshot(p, &h, &w);
		if (seen < 0)
			return;
		if (seen) {
			help_mark(p, zcp__h_top(h), zcp__h_op(h), w);
			return;
		}
	}
}

int zcp__freelist_pushed(struct zcp__pool_view *p, uint32_t idx, uint64_t w)
{
	/* Completing a push (finalise or claim) changes the word before the
	 * head may leave (idx, PUSH): so if the word still reads w after we
	 * saw the head elsewhere, the push never happened. */
	uint64_t h = head_load(p);
	if (zcp__h_top(h) == idx && zcp__h_op(h) == ZCP__H_OP_PUSH)
		return 1;
	return word_load(&p->records[idx]) == w ? 0 : -1;
}

int zcp__freelist_has_other(struct zcp__pool_view *p, uint32_t mine)
{
	uint64_t h = head_load(p);
	uint32_t top = zcp__h_top(h);
	if (top >= p->count) /* NIL: empty (or a scribbled head) */
		return 0;
	const struct zcp__record *r = &p->records[top];
	/* A popped or claimed top is taken: the list proper starts below. */
	if (!slot_valid(zcp__h_op(h)) && !zcp__w_held_valid(word_load(r)) && top != mine)
		return 1;
	uint32_t below = next_load(r);
	return below < p->count && below != mine;
}

long zcp__freelist_walk(struct zcp__pool_view *p, unsigned char *seen)
{
	uint64_t h = head_load(p);
	uint32_t top = zcp__h_top(h);
	unsigned op = zcp__h_op(h);
	long n = 0;

	if (top >= p->count)
		return ZCP_ENOTRECOVERABLE;
	if (!slot_valid(op) && op != ZCP__H_OP_NONE && op != ZCP__H_OP_PUSH)
		return ZCP_ENOTRECOVERABLE;
	/* A popped top is taken, and so is a claimed one (HELD under a PUSH
	 * head): the list proper then starts below it. */
	int taken = slot_valid(op) || zcp__w_held_valid(word_load(&p->records[top]));
	uint32_t i = taken ? next_load(&p->records[top]) : top;
	while (i != ZCP__H_NIL) {
		if (i >= p->count || seen[i] || n >= (long)p->count)
			return ZCP_ENOTRECOVERABLE;
		uint64_t w = word_load(&p->records[i]);
		/* Only the top of a PUSH head may still say RELEASING. */
		if (!zcp__w_is_free(w) && !(i == top && op == ZCP__H_OP_PUSH && zcp__w_is_releasing(w)))
			return ZCP_ENOTRECOVERABLE;
		seen[i] = 1;
		n++;
		i = next_load(&p->records[i]);
	}
	return n;
}
