/* Taking, sharing and giving back chunks.
 *
 * Each process counts its own references in its view of the chunk
 * (struct zcp_chunk, process memory); the shared record only says which
 * processes hold the chunk.  So the hot paths touch the shared word only
 * when a process's count crosses zero.  Those crossings are serialised per
 * chunk within the process by a PENDING value of the local count: the
 * thread that moves the count off zero (or onto it) owns the shared update
 * until it stores the final count.  Without it a thread taking a
 * reference could set the process's bit (already set: a no-op) while
 * another thread's last release clears it.
 */
#include "manager.h"

#include "crashpoint.h"

#include <errno.h>
#include <sched.h>

#define PENDING UINT32_C(0xFFFFFFFF)
#define MAX_REFS (PENDING - 1)
#define RLX memory_order_relaxed



/* Point the view at its chunk (same values whoever writes them). */
static inline void bind_view(struct zcp_mempool_manager *m, struct zcp_chunk *c,
		      const struct zcp__pool_view *p, uint32_t idx, uint64_t gen)
{
	atomic_store_explicit(&c->mgr, m, RLX);
	atomic_store_explicit(&c->pool, p->index, RLX);
	atomic_store_explicit(&c->data, p->chunks + (uint64_t)idx * p->stride + ZCP__CHUNK_HEADER_SIZE,
			      RLX);
	atomic_store_explicit(&c->seq, gen, RLX);
}

void zcp__bind_view(struct zcp_mempool_manager *m, struct zcp_chunk *c, uint64_t gidx,
		    uint64_t gen)
{
	struct zcp__pool_view *p = zcp__pool_of(m, gidx);
	bind_view(m, c, p, (uint32_t)(gidx - p->first), gen);
}

/* Wait out another thread's crossing of zero on this view. */
static uint32_t settle_local(_Atomic uint32_t *refs)
{
	uint32_t n;
	while ((n = atomic_load_explicit(refs, memory_order_acquire)) == PENDING)
		sched_yield();
	return n;
}

/* Raise the pool's high-water mark to want; returns c (a tail call).  A
 * statistic: after a bounded number of lost races it gives up (each loss
 * means someone else raised it). */
static ZCP_COLD zcp_chunk *raise_used_max(_Atomic uint64_t *used_max, uint64_t want, zcp_chunk *c)
{
	uint64_t cur = atomic_load_explicit(used_max, RLX);
	for (int i = 0; i < 64 && cur < want; i++)
		if (atomic_compare_exchange_weak_explicit(used_max, &cur, want, RLX, RLX))
			break;
	return c;
}

/* The smallest pool whose chunks hold size bytes, or pool_count; size 0
 * fits none (size - 1 wraps). */
static inline unsigned pool_for(const struct zcp_mempool_manager *m, uint64_t size)
{
	unsigned i = 0, n = m->geo.pool_count;
	while (i < n && m->geo.chunk_size[i] <= size - 1)
		i++;
	return i;
}

/* Write down a new holding: the view's count and generation, the record's
 * generation and size. */
static ZCP_HOT_INLINE zcp_chunk *hold(struct zcp__pool_view *p, uint32_t idx, zcp_chunk *c,
				     uint64_t gen, uint64_t size)
{
	struct zcp__record *r = &p->records[idx];
	_Atomic uint64_t *used_max = &p->desc->used_max;

	atomic_store_explicit(&c->refs, 1, RLX);
	atomic_store_explicit(&c->seq, gen, RLX);
	atomic_store_explicit(&r->seq, gen, RLX);
	atomic_store_explicit(&r->size, size, RLX);
	if (ZCP_UNLIKELY(atomic_load_explicit(used_max, RLX) <= idx))
		return raise_used_max(used_max, (uint64_t)idx + 1, c);
	return c;
}

/* took() when the view is not ready: never bound in this process, or
 * still PENDING from a thread of ours finishing its release of the
 * previous generation (or failing a stale ref()) — a few instructions;
 * let it finish.  Any other count can only be a peer's forgery (a held
 * chunk put back on the list): we take over the view rather than wait. */
static ZCP_COLD zcp_chunk *took_slow(struct zcp_mempool_manager *mgr, struct zcp__pool_view *p,
				     uint32_t idx, uint64_t gen, uint64_t size)
{
	zcp_chunk *c = &mgr->chunks[p->first + idx];
	while (atomic_load_explicit(&c->refs, memory_order_acquire) == PENDING)
		sched_yield();
	bind_view(mgr, c, p, idx, gen);
	return hold(p, idx, c, gen, size);
}

/* The rest of a get once record idx of pool p is ours.  Nobody in this
 * process holds a chunk that was free, so the view needs no CAS. */
static ZCP_HOT_INLINE zcp_chunk *took(struct zcp_mempool_manager *mgr, struct zcp__pool_view *p,
				      uint32_t idx, uint64_t gen, uint64_t size)
{
	ZCP__CRASH_POINT("pop.taken");
	zcp_chunk *c = &mgr->chunks[p->first + idx];
	if (ZCP_UNLIKELY(atomic_load_explicit(&c->refs, memory_order_acquire) == PENDING ||
			 atomic_load_explicit(&c->mgr, RLX) != mgr))
		return took_slow(mgr, p, idx, gen, size);
	return hold(p, idx, c, gen, size);
}

/* Everything but the common case: errors, lent references to collect,
 * a top that is not simply given back. */
static ZCP_COLD zcp_chunk *get_slow(zcp_mempool_manager *mgr, uint64_t size)
{
	int err = zcp__mgr_check_rw(mgr);
	if (err)
		return zcp__fail_null(err);
	if (size == 0)
		return zcp__fail_null(ZCP_EINVAL);
	if (atomic_load_explicit(&mgr->lent, RLX))
		zcp__escrow_collect(mgr);
	unsigned i = pool_for(mgr, size);
	if (i == mgr->geo.pool_count)
		return zcp__fail_null(ZCP_E2BIG);
	struct zcp__pool_view *p = &mgr->pools[i];
	uint32_t idx;
	uint64_t gen;
	if (!zcp__freelist_pop_fast(p, mgr->claim_bits, &idx, &gen) &&
	    (err = zcp__freelist_pop(p, mgr->slot, &idx, &gen)))
		return zcp__fail_null(err);
	return took(mgr, p, idx, gen, size);
}

zcp_chunk *zcp_chunk_get(zcp_mempool_manager *mgr, uint64_t size)
{
	if (ZCP_LIKELY(mgr && mgr->forks == zcp__fork_count() && !mgr->read_only &&
		       !atomic_load_explicit(&mgr->lent, RLX))) {
		unsigned i = pool_for(mgr, size);
		uint32_t idx;
		uint64_t gen;
		if (ZCP_LIKELY(i < mgr->geo.pool_count) &&
		    ZCP_LIKELY(zcp__freelist_pop_fast(&mgr->pools[i], mgr->claim_bits, &idx, &gen)))
			return took(mgr, &mgr->pools[i], idx, gen, size);
	}
	return get_slow(mgr, size);
}

/* The general give-back of `slot`'s share in record gidx (any holder set,
 * any head); zcp_chunk_release() inlines only its common case.  Every
 * retry, here and in the list operations it calls, counts against
 * *budget. */
static int drop_holder(struct zcp__pool_view *p, uint64_t gidx, unsigned slot, unsigned me,
		       unsigned *budget)
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
		uint64_t rest = w & ~bit;
		if (zcp__w_holders(rest) != 0) {
			if (atomic_compare_exchange_weak_explicit(&r->word, &w, rest,
								  memory_order_acq_rel,
								  memory_order_acquire)) {
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
			int err = zcp__freelist_unlist(p, idx, slot, budget);
			if (err)
				return err;
		}
		/* The generation it was taken at: the record's seq, unless
		 * its holder died before writing it (zcp__full_gen). */
		uint64_t gen = zcp__full_gen(atomic_load_explicit(&r->seq, RLX), w) + 1;
		uint64_t mine = zcp__w_releasing(me, gen);
		/* Release: the payload writes before it are what the next
		 * holder's acquire (its claim or mark) will see. */
		if (atomic_compare_exchange_weak_explicit(&r->word, &w, mine, memory_order_acq_rel,
							  memory_order_acquire)) {
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

int zcp__drop_holder(struct zcp_mempool_manager *m, uint64_t gidx, unsigned slot, unsigned me,
		     unsigned *budget)
{
	return drop_holder(zcp__pool_of(m, gidx), gidx, slot, me, budget);
}

static ZCP_COLD int dropped_last_slow(zcp_mempool_manager *mgr, zcp_chunk *chunk, uint64_t gidx)
{
	/* The view's pool is ours (process memory), set with the right
	 * value whenever the process took a reference. */
	unsigned pool = atomic_load_explicit(&chunk->pool, RLX);
	struct zcp__pool_view *p = pool < mgr->geo.pool_count ? &mgr->pools[pool]
							      : zcp__pool_of(mgr, gidx);
	unsigned budget = ZCP__RETRY_LIMIT;
	int err = drop_holder(p, gidx, mgr->slot, mgr->slot, &budget);
	/* A get of this chunk by another thread of ours waits for this. */
	atomic_store_explicit(&chunk->refs, 0, memory_order_release);
	return err < 0 ? err : 0;
}

/* The process's last reference to chunk (record gidx) is gone and its view
 * is PENDING: give back the shared side, then let the view go to 0.  The
 * common case inline: we are the only holder of a record claimed off a
 * head nobody moved since (ONTOP), so one CAS puts it back on the list. */
static ZCP_HOT_INLINE int dropped_last(zcp_mempool_manager *mgr, zcp_chunk *chunk, uint64_t gidx)
{
	ZCP__CRASH_POINT("release.local");
	struct zcp__record *r = &mgr->records[gidx];
	/* The word we expect, from our own view's generation: no load first,
	 * so the CAS asks for the cache line once (a peer may have had it).
	 * The payload writes before this release CAS are what the next
	 * holder's acquire will see. */
	uint64_t gen = atomic_load_explicit(&chunk->seq, RLX);
	uint64_t w = zcp__w_claimed(mgr->claim_bits, gen);
	if (ZCP_LIKELY(atomic_compare_exchange_strong_explicit(
		    &r->word, &w, mgr->give_bits | ((gen + 1) & ZCP__W_GEN_MASK),
		    memory_order_acq_rel, memory_order_acquire))) {
		ZCP__CRASH_POINT("release.releasing");
		atomic_store_explicit(&chunk->refs, 0, memory_order_release);
		return 0;
	}
	return dropped_last_slow(mgr, chunk, gidx);
}

/* A release whose view did not read 1: more references (just count one
 * down), none (EALREADY), or another thread crossing zero (wait). */
static ZCP_COLD int release_slow(zcp_mempool_manager *mgr, zcp_chunk *chunk, uint64_t gidx,
				 uint32_t n)
{
	for (;;) {
		if (n == 0)
			return ZCP_EALREADY;
		if (n == PENDING) {
			n = settle_local(&chunk->refs);
			continue;
		}
		uint32_t next = n == 1 ? PENDING : n - 1;
		if (atomic_compare_exchange_weak_explicit(&chunk->refs, &n, next,
							  memory_order_acq_rel, memory_order_acquire))
			break;
	}
	return n > 1 ? 0 : dropped_last(mgr, chunk, gidx);
}

int zcp_chunk_release(zcp_mempool_manager *mgr, zcp_chunk *chunk)
{
	uint64_t gidx;
	int err = zcp__view_check(mgr, chunk, &gidx);
	if (err)
		return err;
	uint32_t n = 1;
	if (ZCP_LIKELY(atomic_compare_exchange_strong_explicit(&chunk->refs, &n, PENDING,
								memory_order_acq_rel,
								memory_order_acquire)))
		return dropped_last(mgr, chunk, gidx);
	return release_slow(mgr, chunk, gidx, n);
}

/* Add our bit to a chunk someone else keeps alive ("get unless zero"),
 * checking the generation in the same CAS (its low bits) and then in full
 * (the record's seq). */
static int acquire_shared(struct zcp_mempool_manager *m, uint64_t gidx, uint64_t gen)
{
	struct zcp__record *r = &m->records[gidx];
	uint64_t bit = UINT64_C(1) << m->slot;
	/* Acquire: pairs with the release CAS of the word's last writer. */
	uint64_t w = atomic_load_explicit(&r->word, memory_order_acquire);
	unsigned budget = ZCP__RETRY_LIMIT;

	while (budget > 0) {
		if (!zcp__w_held_valid(w) || zcp__w_held_gen(w) != (gen & ZCP__W_HELD_GEN_MASK))
			return ZCP_ESTALE;
		if (!(w & bit) &&
		    !atomic_compare_exchange_weak_explicit(&r->word, &w, w | bit,
							   memory_order_acq_rel,
							   memory_order_acquire)) {
			budget--;
			continue;
		}
		ZCP__CRASH_POINT("ref.shared");
		/* Acquire: pairs with the holder's release CAS after its
		 * relaxed seq store (the word we just read or replaced). */
		if ((zcp__full_gen(atomic_load_explicit(&r->seq, memory_order_acquire), w) &
		     ZCP__HANDLE_GEN_MASK) != (gen & ZCP__HANDLE_GEN_MASK)) {
			if (!(w & bit))
				zcp__drop_holder(m, gidx, m->slot, m->slot, &budget);
			return ZCP_ESTALE;
		}
		return 0;
	}
	return ZCP_EAGAIN;
}

int zcp__ref_gen(struct zcp_mempool_manager *mgr, struct zcp_chunk *chunk, uint64_t gidx,
		 int bind, uint64_t gen)
{
	uint32_t n = settle_local(&chunk->refs);
	for (;;) {
		if (n == PENDING) {
			n = settle_local(&chunk->refs);
			continue;
		}
		if (n >= MAX_REFS)
			return ZCP_EOVERFLOW;
		if (n > 0) {
			/* We hold the chunk, so its generation is our view's
			 * (stable while we hold it); a reference named by
			 * another generation names a chunk that is gone. */
			if (bind && (atomic_load_explicit(&chunk->seq, RLX) & ZCP__HANDLE_GEN_MASK) !=
					    (gen & ZCP__HANDLE_GEN_MASK))
				return ZCP_ESTALE;
			if (atomic_compare_exchange_weak_explicit(&chunk->refs, &n, n + 1,
								  memory_order_acq_rel,
								  memory_order_acquire))
				return 0;
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(&chunk->refs, &n, PENDING,
							  memory_order_acq_rel, memory_order_acquire))
			break;
	}
	ZCP__CRASH_POINT("ref.pending");
	/* The crossing is ours: nobody else writes the view meanwhile. */
	if (bind)
		zcp__bind_view(mgr, chunk, gidx, gen);
	int err = acquire_shared(mgr, gidx, atomic_load_explicit(&chunk->seq, RLX));
	/* Nobody else writes a PENDING count (they wait), so no CAS. */
	atomic_store_explicit(&chunk->refs, err ? 0 : 1, memory_order_release);
	return err;
}

int zcp_chunk_ref(zcp_mempool_manager *mgr, zcp_chunk *chunk)
{
	uint64_t gidx;
	int err = zcp__view_check(mgr, chunk, &gidx);
	return err ? err : zcp__ref_gen(mgr, chunk, gidx, 0, 0);
}

uint64_t zcp_chunk_refcount(const zcp_chunk *chunk)
{
	if (!chunk)
		return 0;
	struct zcp_mempool_manager *m = atomic_load_explicit(&chunk->mgr, RLX);
	uint64_t gidx;
	if (!m || zcp__chunk_index(m, chunk, &gidx))
		return 0;
	uint32_t mine = atomic_load_explicit(&((zcp_chunk *)chunk)->refs, RLX);
	if (mine == PENDING)
		mine = 0;
	uint64_t w = atomic_load_explicit(&m->records[gidx].word, RLX);
	if (!zcp__w_is_held(w))
		return mine;
	uint64_t others = zcp__w_holders(w) & ~(UINT64_C(1) << m->slot);
	return mine + (uint64_t)__builtin_popcountll(others);
}

void *zcp_chunk_data(const zcp_chunk *chunk)
{
	return chunk ? atomic_load_explicit(&((zcp_chunk *)chunk)->data, RLX) : NULL;
}

uint64_t zcp_chunk_capacity(const zcp_chunk *chunk)
{
	if (!chunk)
		return 0;
	struct zcp_mempool_manager *m = atomic_load_explicit(&((zcp_chunk *)chunk)->mgr, RLX);
	if (!m)
		return 0;
	return m->pools[atomic_load_explicit(&((zcp_chunk *)chunk)->pool, RLX)].chunk_size;
}

uint64_t zcp_chunk_size(const zcp_chunk *chunk)
{
	uint64_t gidx;
	if (!chunk)
		return 0;
	struct zcp_mempool_manager *m = atomic_load_explicit(&((zcp_chunk *)chunk)->mgr, RLX);
	if (!m || zcp__chunk_index(m, chunk, &gidx))
		return 0;
	uint64_t size = atomic_load_explicit(&m->records[gidx].size, RLX);
	uint64_t cap = zcp_chunk_capacity(chunk);
	return size > cap ? cap : size; /* a peer may have scribbled it */
}

int zcp_chunk_pool_index(const zcp_chunk *chunk)
{
	if (!chunk || !atomic_load_explicit(&((zcp_chunk *)chunk)->mgr, RLX))
		return ZCP_EINVAL;
	return (int)atomic_load_explicit(&((zcp_chunk *)chunk)->pool, RLX);
}

uint64_t zcp_chunk_handle(const zcp_mempool_manager *mgr, const zcp_chunk *chunk)
{
	uint64_t gidx;
	if (zcp__view_check(mgr, chunk, &gidx))
		return 0;
	uint32_t n = atomic_load_explicit(&((zcp_chunk *)chunk)->refs, RLX);
	if (n == 0 || n == PENDING)
		return 0;
	uint64_t gen = atomic_load_explicit(&((zcp_chunk *)chunk)->seq, RLX);
	/* Release fence: pairs with the acquire fence of the receiver's
	 * zcp_chunk_from_handle(), through whatever atomic carries the value
	 * (C11 7.17.4): the payload writes above are then visible there. */
	atomic_thread_fence(memory_order_release);
	return ((gidx + 1) << ZCP__HANDLE_GEN_BITS) | (gen & ZCP__HANDLE_GEN_MASK);
}

zcp_chunk *zcp_chunk_from_handle(zcp_mempool_manager *mgr, uint64_t handle)
{
	/* Acquire fence: pairs with the release fence of the sender's
	 * zcp_chunk_handle(). */
	atomic_thread_fence(memory_order_acquire);
	int err = zcp__mgr_check_rw(mgr);
	if (err)
		return zcp__fail_null(err);
	uint64_t g1 = handle >> ZCP__HANDLE_GEN_BITS, gen = handle & ZCP__HANDLE_GEN_MASK;
	if (g1 == 0 || g1 > mgr->geo.total_chunks)
		return zcp__fail_null(ZCP_EINVAL);
	uint64_t gidx = g1 - 1;
	struct zcp__record *r = &mgr->records[gidx];
	/* The coming zcp_chunk_ref() writes this line: ask for it writable
	 * now rather than read it shared, then upgrade. */
	__builtin_prefetch(&r->word, 1, 3);
	/* Acquire: pairs with the release CAS of the word's last writer and
	 * (seq) with the holder's release CAS after its seq store. */
	uint64_t w = atomic_load_explicit(&r->word, memory_order_acquire);
	uint64_t seq = zcp__full_gen(atomic_load_explicit(&r->seq, memory_order_acquire), w);
	if (!zcp__w_held_valid(w) || zcp__w_held_gen(w) != (gen & ZCP__W_HELD_GEN_MASK) ||
	    (seq & ZCP__HANDLE_GEN_MASK) != gen)
		return zcp__fail_null(ZCP_EINVAL);
	struct zcp_chunk *c = &mgr->chunks[gidx];
	uint32_t n = atomic_load_explicit(&c->refs, memory_order_acquire);
	if (n != 0 && n != PENDING) {
		/* We hold it: the same chunk only in the generation we hold
		 * (never roll our view back to another one). */
		if ((atomic_load_explicit(&c->seq, RLX) & ZCP__HANDLE_GEN_MASK) != gen)
			return zcp__fail_null(ZCP_EINVAL);
		return c;
	}
	/* Not held: bind the generation the handle names, which the coming
	 * zcp_chunk_ref() checks. */
	zcp__bind_view(mgr, c, gidx, seq);
	return c;
}
