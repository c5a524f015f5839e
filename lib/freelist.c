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
 *  - PUSH:   top is on the list.  Its word may still say RELEASING(r, gen),
 *    the state the releaser r left it in.  A popper takes it by one CAS on
 *    the word, RELEASING -> HELD{me} (the "claim"); a HELD top under a PUSH
 *    head is taken, and anyone who needs to move the head flips it to
 *    POP(holder) first.  A pusher first turns RELEASING into FREE (the
 *    "finalise"), so records below the top are always FREE.
 *
 * Ownership is thus written in the same atomic step that takes the record
 * (the claim), or the head names the new owner until someone writes it
 * down (POP(s) + FREE).  A RELEASING record is on the list exactly when it
 * is the top of a PUSH head; otherwise its releaser never pushed it.  All
 * of this is decidable by reclaim (reclaim.c) from shared memory alone.
 *
 * A claim does not flip the head: the holder keeps the record, HELD, at
 * the top of a PUSH head, and whoever moves the head next treats a HELD
 * top as taken (flips the head for its holder, or links past it).  The
 * word of that top may then change without the head changing — its holder
 * gives it back, HELD -> RELEASING — so any decision taken from the word
 * could be stale although the head reads the same.  Hence the rule: a
 * release always ends with a CAS on the head (a plain push, or, when the
 * head still names the record, a bump of the tag); whoever acted on the
 * stale word fails its CAS, and the releaser, failing its own, pushes
 * normally.  A push also first checks that its RELEASING word is still
 * there: if someone finalised or claimed it, the record was on the list
 * already and must not be linked twice.
 *
 * Cost of a get+release pair when a process cycles one chunk: get = one
 * CAS (the claim), release = the CAS of its process-local count, the CAS
 * of the word (HELD -> RELEASING) and the CAS of the head.  No syscall,
 * no lock.
 *
 * ABA.  Every transition adds 1 to the 38-bit tag.  A CAS can be fooled
 * only if the head comes back to the very same (top, op, tag) while a
 * process sits between its load and its CAS: 2^38 transitions, which take
 * 46 minutes at 10^8 transitions a second (faster than one cache line can
 * move between cores) and over 3 hours at a realistic 2.5*10^7.  Record
 * words carry a 56-bit generation, which never wraps in practice.  Every
 * decision taken from a record word is made only after re-reading the head
 * and finding it unchanged, so the word is known to belong to that head.
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

#define ACQ memory_order_acquire
#define RLX memory_order_relaxed
#define ACQ_REL memory_order_acq_rel

static inline int slot_valid(unsigned op)
{
	return op >= 1 && op <= ZCP_MAX_PROCESSES;
}

/* The HELD word for a single holder, keeping generation gen. */
static inline uint64_t held_by(unsigned slot, uint64_t gen)
{
	return zcp__w_held(UINT64_C(1) << slot, gen);
}

static inline int head_cas(struct zcp__pool_view *p, uint64_t expect, uint64_t desired)
{
	return atomic_compare_exchange_strong_explicit(&p->desc->head, &expect, desired, ACQ_REL,
						       ACQ);
}

static inline int word_cas(struct zcp__record *r, uint64_t expect, uint64_t desired)
{
	return atomic_compare_exchange_strong_explicit(&r->word, &expect, desired, ACQ_REL, ACQ);
}

static inline int head_still(struct zcp__pool_view *p, uint64_t h)
{
	return atomic_load_explicit(&p->desc->head, ACQ) == h;
}

/* One consistent look at the head and its top's word: 1 when *w was read
 * while the head was still *h, 0 to look again, -1 for a top out of range. */
static inline int snapshot(struct zcp__pool_view *p, uint64_t *h, uint64_t *w)
{
	*h = atomic_load_explicit(&p->desc->head, ACQ);
	if (zcp__h_top(*h) >= p->count)
		return -1;
	*w = atomic_load_explicit(&p->records[zcp__h_top(*h)].word, ACQ);
	return head_still(p, *h);
}

/* The lowest holder of a held word: the slot a claimed top is flipped to. */
static inline unsigned lowest_holder(uint64_t w)
{
	return (unsigned)__builtin_ctzll(zcp__w_holders(w));
}

void zcp__freelist_init(struct zcp__pool_view *p)
{
	for (uint32_t i = 0; i < p->count; i++) {
		struct zcp__record *r = &p->records[i];
		atomic_store_explicit(&r->word, zcp__w_free(0), RLX);
		atomic_store_explicit(&r->seq, 0, RLX);
		atomic_store_explicit(&r->next, i + 1 < p->count ? i + 1 : ZCP__H_NIL, RLX);
	}
	atomic_store_explicit(&p->desc->used_max, 0, RLX);
	atomic_store_explicit(&p->desc->head, zcp__h_make(0, ZCP__H_OP_NONE, 0), RLX);
}

/* Where the list proper starts under head h, whose top's word was read as
 * w: for POP heads the top is taken and the list starts at next(top).
 * Returns the index, ZCP__H_NIL for an empty list, or ZCP__H_NIL + 1 for
 * an out-of-range link. */
static uint32_t list_start(struct zcp__pool_view *p, uint32_t top, unsigned op)
{
	if (!slot_valid(op))
		return top;
	uint32_t n = atomic_load_explicit(&p->records[top].next, RLX);
	if (n != ZCP__H_NIL && n >= p->count)
		return ZCP__H_NIL + 1;
	return n;
}

/* If head h (top's word w) is POP(s) with the record still FREE, write
 * down the owner: FREE -> HELD{s}.  Failure means someone else did. */
static void help_mark(struct zcp__pool_view *p, uint32_t top, unsigned op, uint64_t w)
{
	if (slot_valid(op) && zcp__w_is_free(w))
		word_cas(&p->records[top], w, held_by(op - 1, zcp__w_gen(w)));
}

/* The head or a link is out of range, or the words contradict the head:
 * corruption if the head has not moved meanwhile, else just a stale read. */
static int inconsistent(struct zcp__pool_view *p, uint64_t h)
{
	return head_still(p, h) ? ZCP_ENOTRECOVERABLE : 0;
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
			/* top is taken; take the record below it. */
			help_mark(p, top, op, w);
			uint32_t n = list_start(p, top, op);
			if (n == ZCP__H_NIL) {
				if (head_still(p, h))
					return ZCP_ENOBUFS;
				continue;
			}
			if (n > ZCP__H_NIL || n >= p->count)
				goto bad;
			struct zcp__record *nr = &p->records[n];
			uint64_t nw = atomic_load_explicit(&nr->word, ACQ);
			if (!head_still(p, h))
				continue;
			if (!zcp__w_is_free(nw))
				goto bad; /* below the top every record is FREE */
			if (head_cas(p, h, zcp__h_make(n, me, tag + 1))) {
				ZCP__CRASH_POINT("pop.flipped");
				word_cas(nr, nw, held_by(slot, zcp__w_gen(nw)));
				*idx = n;
				*gen = zcp__w_gen(nw);
				return 0;
			}
			continue;
		}
		if (op != ZCP__H_OP_NONE && op != ZCP__H_OP_PUSH)
			goto bad;

		if (zcp__w_is_releasing(w)) {
			if (op != ZCP__H_OP_PUSH)
				goto bad;
			/* Claim: ownership and removal in one step.  The head
			 * is left as it is: the next transition by anyone
			 * flips it for us (a claimed top reads as taken), and
			 * if the next is our own release of this very chunk,
			 * no head write is needed at all. */
			if (zcp__freelist_claim(p, top, w, slot, idx, gen))
				return 0;
			continue;
		}
		if (zcp__w_is_held(w)) {
			/* Claimed by someone who has not flipped the head yet. */
			if (!zcp__w_held_valid(w))
				goto bad;
			head_cas(p, h, zcp__h_make(top, lowest_holder(w) + 1, tag + 1));
			continue;
		}
		/* FREE top: flip the head first, then write the owner down. */
		if (head_cas(p, h, zcp__h_make(top, me, tag + 1))) {
			ZCP__CRASH_POINT("pop.flipped");
			word_cas(r, w, held_by(slot, zcp__w_gen(w)));
			*idx = top;
			*gen = zcp__w_gen(w);
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

int zcp__freelist_push(struct zcp__pool_view *p, uint32_t idx, uint64_t mine)
{
	for (unsigned attempt = 0; attempt < ZCP__RETRY_LIMIT; attempt++) {
		/* If our RELEASING word was finalised or claimed, the record
		 * was on the list already: we marked it while the head still
		 * read (idx, PUSH) from our own unflipped claim, and the head
		 * has moved on since.  Pushing it again would link it twice. */
		if (atomic_load_explicit(&p->records[idx].word, ACQ) != mine)
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
			below = list_start(p, top, op);
			if (below != ZCP__H_NIL && below >= p->count)
				goto bad;
		} else if (op == ZCP__H_OP_NONE || op == ZCP__H_OP_PUSH) {
			if (top == idx) {
				/* Claimed or finalised since our check: it was
				 * on the list, and still is or was taken. */
				if (w != mine)
					return 0;
				/* See zcp__freelist_push_fast(). */
				if (op == ZCP__H_OP_PUSH) {
					if (head_cas(p, h, zcp__h_make(idx, op, tag + 1)))
						return 0;
					continue;
				}
				goto bad;
			}
			if (zcp__w_is_releasing(w)) {
				/* Finalise the previous push before burying it. */
				word_cas(r, w, zcp__w_free(zcp__w_gen(w)));
				ZCP__CRASH_POINT("push.finalized");
				continue;
			}
			if (zcp__w_is_held(w)) {
				if (!zcp__w_held_valid(w))
					goto bad;
				head_cas(p, h, zcp__h_make(top, lowest_holder(w) + 1, tag + 1));
				continue;
			}
			below = top;
		} else {
			goto bad;
		}
		atomic_store_explicit(&p->records[idx].next, below, RLX);
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

void zcp__freelist_settle(struct zcp__pool_view *p)
{
	for (int i = 0; i < 64; i++) {
		uint64_t h, w;
		int seen = snapshot(p, &h, &w);
		uint32_t top = zcp__h_top(h);
		unsigned op = zcp__h_op(h);
		if (seen < 0)
			return;
		if (!seen)
			continue;
		if (slot_valid(op)) {
			help_mark(p, top, op, w);
			return;
		}
		if (zcp__w_held_valid(w)) {
			/* Claimed, not flipped: flip it for its holder. */
			head_cas(p, h, zcp__h_make(top, lowest_holder(w) + 1, zcp__h_tag(h) + 1));
			continue;
		}
		return;
	}
}

int zcp__freelist_pushed(struct zcp__pool_view *p, uint32_t idx, uint64_t w)
{
	/* Completing a push (finalise or claim) changes the word before the
	 * head may leave (idx, PUSH): so if the word still reads w after we
	 * saw the head elsewhere, the push never happened. */
	uint64_t h = atomic_load_explicit(&p->desc->head, ACQ);
	if (zcp__h_top(h) == idx && zcp__h_op(h) == ZCP__H_OP_PUSH)
		return 1;
	return atomic_load_explicit(&p->records[idx].word, ACQ) == w ? 0 : -1;
}

long zcp__freelist_walk(struct zcp__pool_view *p, unsigned char *seen)
{
	uint64_t h = atomic_load_explicit(&p->desc->head, ACQ);
	uint32_t top = zcp__h_top(h);
	unsigned op = zcp__h_op(h);
	long n = 0;

	if (top >= p->count)
		return ZCP_ENOTRECOVERABLE;
	if (!slot_valid(op) && op != ZCP__H_OP_NONE && op != ZCP__H_OP_PUSH)
		return ZCP_ENOTRECOVERABLE;
	uint32_t i = list_start(p, top, op);
	/* A claimed top not flipped yet is taken too. */
	if (!slot_valid(op) && zcp__w_held_valid(atomic_load_explicit(&p->records[top].word, ACQ)))
		i = atomic_load_explicit(&p->records[top].next, RLX);
	while (i != ZCP__H_NIL) {
		if (i >= p->count || seen[i] || n >= (long)p->count)
			return ZCP_ENOTRECOVERABLE;
		uint64_t w = atomic_load_explicit(&p->records[i].word, ACQ);
		/* Only the top of a PUSH head may still say RELEASING. */
		if (!zcp__w_is_free(w) && !(i == top && op == ZCP__H_OP_PUSH && zcp__w_is_releasing(w)))
			return ZCP_ENOTRECOVERABLE;
		seen[i] = 1;
		n++;
		i = atomic_load_explicit(&p->records[i].next, RLX);
	}
	return n;
}
