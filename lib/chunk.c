/* SPDX-License-Identifier: MIT */
/* The public chunk API: taking, sharing and giving back chunks.  The
 * record transitions are in record.h and holders.c, this process's counts in
 * view.h/view.c, the free list in freelist.c. */
#include "view.h"

#include "escrow.h"
#include <errno.h>

_Thread_local struct zcp__resolved zcp__resolved __attribute__((tls_model("initial-exec")));

/* Raise the pool's high-water mark to want; returns c (a tail call).  A
 * statistic: after a bounded number of lost races it gives up (each loss
 * means someone else raised it). */
static ZCP_COLD zcp_chunk *raise_used_max(_Atomic uint64_t *used_max, uint64_t want, zcp_chunk *c)
{
	uint64_t cur = atomic_load_explicit(used_max, memory_order_relaxed);
	for (int i = 0; i < 64 && cur < want; i++)
		/* Relaxed: a statistic, ordered with nothing. */
		if (atomic_compare_exchange_weak_explicit(used_max, &cur, want, memory_order_relaxed,
							  memory_order_relaxed))
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
 * generation and size.  The caller has crossed the view's count from 0 to
 * ZCP__VIEW_PENDING; the count's release store of 1 ends the crossing, so a
 * thread of ours that sees 1 sees the new generation too. */
static ZCP_HOT_INLINE zcp_chunk *hold(struct zcp__pool_view *p, uint32_t idx, zcp_chunk *c,
				     uint64_t gen, uint64_t size)
{
	struct zcp__record *r = &p->records[idx];
	_Atomic uint64_t *used_max = &p->desc->used_max;

	/* Relaxed: the record's seq and size are published by our next
	 * release CAS of its word, and a reader that comes earlier copes
	 * with the previous seq (zcp__full_gen) and caps the size. */
	atomic_store_explicit(&c->claimed, 1, memory_order_relaxed);
	atomic_store_explicit(&c->sample_off, 0, memory_order_relaxed);
	atomic_store_explicit(&c->seq, gen, memory_order_relaxed);
	atomic_store_explicit(&r->seq, gen, memory_order_relaxed);
	atomic_store_explicit(&r->size, size, memory_order_relaxed);
	/* Release: ends the crossing (zcp__view_settle()). */
	atomic_store_explicit(&c->refs, 1, memory_order_release);
	zcp__resolved_forget();
	if (ZCP_UNLIKELY(p->ages))
		atomic_store_explicit(&r->taken, zcp__coarse_ns(), memory_order_relaxed);
	if (ZCP_UNLIKELY(atomic_load_explicit(used_max, memory_order_relaxed) <= idx))
		return raise_used_max(used_max, (uint64_t)idx + 1, c);
	return c;
}

/* took() when its crossing did not start at once: the view is still
 * ZCP__VIEW_PENDING from a thread of ours finishing its release of the
 * previous generation, failing a stale ref() or resolving a handle — a
 * few instructions; let it finish.  Or it was never bound in this
 * process.  Any other count can only be a peer's forgery (a held chunk
 * put back on the list): we take over the view rather than wait. */
static ZCP_COLD zcp_chunk *took_slow(struct zcp_mempool_manager *mgr, struct zcp__pool_view *p,
				     uint32_t idx, uint64_t gen, uint64_t size)
{
	zcp_chunk *c = &mgr->chunks[p->first + idx];
	uint32_t n = atomic_load_explicit(&c->refs, memory_order_acquire);
	for (;;) {
		if (n == ZCP__VIEW_PENDING)
			n = zcp__view_settle(&c->refs);
		else if (atomic_compare_exchange_weak_explicit(&c->refs, &n, ZCP__VIEW_PENDING,
							       memory_order_acq_rel,
							       memory_order_acquire))
			break;
	}
	zcp__view_bind(mgr, c, p, idx, gen);
	return hold(p, idx, c, gen, size);
}

/* The rest of a get once record idx of pool p is ours.  Nobody in this
 * process holds a chunk that was free, but a thread of ours may be
 * binding its view to a handle's generation (zcp_chunk_from_handle(), a
 * ref() of a chunk released meanwhile): the CAS makes our writes to the
 * view exclusive of theirs (the crossing of view.h). */
static ZCP_HOT_INLINE zcp_chunk *took(struct zcp_mempool_manager *mgr, struct zcp__pool_view *p,
				      uint32_t idx, uint64_t gen, uint64_t size)
{
	ZCP__CRASH_POINT("pop.taken");
	zcp_chunk *c = &mgr->chunks[p->first + idx];
	uint32_t n = 0;
	/* Acquire: pairs with the release store that ended the previous
	 * crossing (the view's fields it wrote). */
	if (ZCP_UNLIKELY(!atomic_compare_exchange_strong_explicit(&c->refs, &n, ZCP__VIEW_PENDING,
								   memory_order_acquire,
								   memory_order_relaxed)))
		return took_slow(mgr, p, idx, gen, size);
	if (ZCP_UNLIKELY(atomic_load_explicit(&c->mgr, memory_order_relaxed) != mgr))
		zcp__view_bind(mgr, c, p, idx, gen);
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
	if (atomic_load_explicit(&mgr->lent, memory_order_relaxed))
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
		       !atomic_load_explicit(&mgr->lent, memory_order_relaxed))) {
		unsigned i = pool_for(mgr, size);
		uint32_t idx;
		uint64_t gen;
		if (ZCP_LIKELY(i < mgr->geo.pool_count) &&
		    ZCP_LIKELY(zcp__freelist_pop_fast(&mgr->pools[i], mgr->claim_bits, &idx, &gen)))
			return took(mgr, &mgr->pools[i], idx, gen, size);
	}
	return get_slow(mgr, size);
}

int zcp_chunk_release(zcp_mempool_manager *mgr, zcp_chunk *chunk)
{
	uint64_t gidx;
	int err = zcp__view_check(mgr, chunk, &gidx);
	if (err)
		return err;
	return zcp__view_release(mgr, chunk, gidx);
}

int zcp_chunk_ref(zcp_mempool_manager *mgr, zcp_chunk *chunk)
{
	uint64_t gidx;
	int err = zcp__view_check(mgr, chunk, &gidx);
	if (err)
		return err;
	/* Right after this thread resolved it: the handle's generation, and
	 * no other (see zcp__resolved). */
	if (zcp__resolved.chunk == chunk)
		return zcp__ref_gen(mgr, chunk, gidx, 1, zcp__resolved.gen);
	return zcp__ref_gen(mgr, chunk, gidx, 0, 0);
}

uint64_t zcp_chunk_refcount(const zcp_chunk *chunk)
{
	if (!chunk)
		return 0;
	struct zcp_mempool_manager *m = atomic_load_explicit(&chunk->mgr, memory_order_relaxed);
	uint64_t gidx;
	if (!m || zcp__chunk_index(m, chunk, &gidx))
		return 0;
	/* Relaxed: a snapshot, documented as such. */
	uint32_t mine = atomic_load_explicit(&((zcp_chunk *)chunk)->refs, memory_order_relaxed);
	if (mine == ZCP__VIEW_PENDING)
		mine = 0;
	uint64_t w = atomic_load_explicit(&m->records[gidx].word, memory_order_relaxed);
	if (!zcp__w_is_held(w))
		return mine;
	uint64_t others = zcp__w_holders(w) & ~(UINT64_C(1) << m->slot);
	return mine + (uint64_t)__builtin_popcountll(others);
}

void *zcp_chunk_data(const zcp_chunk *chunk)
{
	return chunk ? atomic_load_explicit(&((zcp_chunk *)chunk)->data, memory_order_relaxed) : NULL;
}

uint64_t zcp_chunk_capacity(const zcp_chunk *chunk)
{
	if (!chunk)
		return 0;
	struct zcp_mempool_manager *m = atomic_load_explicit(&((zcp_chunk *)chunk)->mgr, memory_order_relaxed);
	if (!m)
		return 0;
	return m->pools[atomic_load_explicit(&((zcp_chunk *)chunk)->pool, memory_order_relaxed)].chunk_size;
}

uint64_t zcp_chunk_size(const zcp_chunk *chunk)
{
	uint64_t gidx;
	if (!chunk)
		return 0;
	struct zcp_mempool_manager *m = atomic_load_explicit(&((zcp_chunk *)chunk)->mgr, memory_order_relaxed);
	if (!m || zcp__chunk_index(m, chunk, &gidx))
		return 0;
	uint64_t size = atomic_load_explicit(&m->records[gidx].size, memory_order_relaxed);
	uint64_t cap = zcp_chunk_capacity(chunk);
	return size > cap ? cap : size; /* a peer may have scribbled it */
}

int zcp_chunk_pool_index(const zcp_chunk *chunk)
{
	if (!chunk || !atomic_load_explicit(&((zcp_chunk *)chunk)->mgr, memory_order_relaxed))
		return ZCP_EINVAL;
	return (int)atomic_load_explicit(&((zcp_chunk *)chunk)->pool, memory_order_relaxed);
}

uint64_t zcp_chunk_handle(const zcp_mempool_manager *mgr, const zcp_chunk *chunk)
{
	uint64_t gidx;
	if (zcp__view_check(mgr, chunk, &gidx))
		return 0;
	uint32_t n = atomic_load_explicit(&((zcp_chunk *)chunk)->refs, memory_order_relaxed);
	if (n == 0 || n == ZCP__VIEW_PENDING)
		return 0;
	uint64_t gen = atomic_load_explicit(&((zcp_chunk *)chunk)->seq, memory_order_relaxed);
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
	for (;;) {
		if (n == ZCP__VIEW_PENDING) {
			n = zcp__view_settle(&c->refs);
			continue;
		}
		if (n != 0) {
			/* We hold it: the same chunk only in the generation we
			 * hold (never roll our view back to another one).  The
			 * acquire of the count shows the holder's generation. */
			if ((atomic_load_explicit(&c->seq, memory_order_relaxed) & ZCP__HANDLE_GEN_MASK) !=
			    gen)
				return zcp__fail_null(ZCP_EINVAL);
			zcp__resolved = (struct zcp__resolved){c, seq};
			return c;
		}
		/* acq_rel: 0 -> PENDING starts a crossing (view.h). */
		if (atomic_compare_exchange_weak_explicit(&c->refs, &n, ZCP__VIEW_PENDING,
							  memory_order_acq_rel, memory_order_acquire))
			break;
	}
	/* Not held, and the crossing is ours (a get of this chunk by a
	 * thread of ours waits for it): bind the generation the handle
	 * names, which the coming zcp_chunk_ref() checks. */
	zcp__bind_view(mgr, c, gidx, seq);
	/* Release: ends the crossing (zcp__view_settle()). */
	atomic_store_explicit(&c->refs, 0, memory_order_release);
	zcp__resolved = (struct zcp__resolved){c, seq};
	return c;
}
