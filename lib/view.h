/* SPDX-License-Identifier: MIT */
/* A process's view of a chunk: how many references this process holds
 * (struct zcp_chunk, process memory), and the crossings of zero that make
 * the shared record follow (see view.c).
 *
 * The record only says which processes hold a chunk; each process counts
 * its own references here, so the hot paths touch the shared word only
 * when a process's count crosses zero.  Those crossings are serialised
 * per chunk within the process by a PENDING count: the thread that moves
 * the count off zero (or onto it) owns the shared update until it stores
 * the final count.  Without it a thread taking a reference could set the
 * process's bit (already set: a no-op) while another thread's last
 * release clears it.  Every move off zero is a CAS, even a get's of a
 * chunk nobody in the process holds: a thread resolving a stale handle to
 * the same chunk binds the view in a crossing of its own, and a plain
 * store would overwrite its PENDING (and it the get's generation).
 */
#ifndef ZCP_VIEW_H
#define ZCP_VIEW_H

#include "handle.h"

#include "crashpoint.h"

#define ZCP__VIEW_PENDING UINT32_C(0xFFFFFFFF)
#define ZCP__VIEW_MAX_REFS (ZCP__VIEW_PENDING - 1)

/* The chunk and generation the calling thread's last
 * zcp_chunk_from_handle() resolved, for the zcp_chunk_ref() that follows
 * it.  The view alone cannot say which generation that ref() means: once
 * the handle's chunk was released and taken again by another thread of
 * ours, the view is that thread's, and ref() would count onto its hold
 * (a chunk released meanwhile must be refused).  Every call that gives
 * this thread a chunk forgets it, so a ref() of a chunk the thread holds
 * means the view's generation.  Initial-exec: one %fs-relative store. */
struct zcp__resolved {
	const struct zcp_chunk *chunk;
	uint64_t gen;
};
extern _Thread_local struct zcp__resolved zcp__resolved
	__attribute__((tls_model("initial-exec")));

static inline void zcp__resolved_forget(void)
{
	zcp__resolved.chunk = NULL;
}

/* Point view c at its chunk, index idx of pool p, generation gen.
 * Relaxed: whoever writes the view writes the same values, except across
 * a crossing of zero, which the PENDING count orders. */
static inline void zcp__view_bind(struct zcp_mempool_manager *m, struct zcp_chunk *c,
				  const struct zcp__pool_view *p, uint32_t idx, uint64_t gen)
{
	atomic_store_explicit(&c->mgr, m, memory_order_relaxed);
	atomic_store_explicit(&c->pool, p->index, memory_order_relaxed);
	atomic_store_explicit(&c->data, p->chunks + (uint64_t)idx * p->stride + ZCP__CHUNK_HEADER_SIZE,
			      memory_order_relaxed);
	atomic_store_explicit(&c->seq, gen, memory_order_relaxed);
}

/* The same for record gidx. */
void zcp__bind_view(struct zcp_mempool_manager *m, struct zcp_chunk *c, uint64_t gidx,
		    uint64_t gen);

/* Wait out another thread's crossing of zero on this view; the count. */
uint32_t zcp__view_settle(_Atomic uint32_t *refs);

/* Take one more reference on view c (record gidx) for this process, as
 * zcp_chunk_ref() does.  With bind, the reference is to generation gen
 * only (a ticket's): if the process holds the chunk at another
 * generation, or the record moved on, ZCP_ESTALE; a view not held is
 * bound to gen first. */
int zcp__ref_gen(struct zcp_mempool_manager *m, struct zcp_chunk *c, uint64_t gidx, int bind,
		 uint64_t gen);

/* The slow ends of zcp__view_release() (view.c). */
ZCP_COLD int zcp__view_dropped_last_slow(struct zcp_mempool_manager *m, struct zcp_chunk *c,
					 uint64_t gidx);
ZCP_COLD int zcp__view_release_slow(struct zcp_mempool_manager *m, struct zcp_chunk *c,
				    uint64_t gidx, uint32_t n);

/* The process's last reference to c (record gidx) is gone and its count
 * is PENDING: give back the shared side, then let the count go to 0.  The
 * common case inline: we are the only holder of a record claimed off a
 * head nobody moved since (ONTOP), so one CAS puts it back on the list. */
static ZCP_HOT_INLINE int zcp__view_dropped_last(struct zcp_mempool_manager *m,
						 struct zcp_chunk *c, uint64_t gidx)
{
	ZCP__CRASH_POINT("release.local");
	/* The word we expect comes from our own view's generation: no load
	 * first, so the CAS asks for the cache line once. */
	uint64_t gen = atomic_load_explicit(&c->seq, memory_order_relaxed);
	if (ZCP_LIKELY(atomic_load_explicit(&c->claimed, memory_order_relaxed)) &&
	    ZCP_LIKELY(zcp__rec_give_back_in_place(&m->records[gidx], m->claim_bits, m->give_bits,
						   gen))) {
		ZCP__CRASH_POINT("release.releasing");
		/* Release: pairs with the acquire of a thread of ours
		 * waiting out the crossing (zcp__view_settle()). */
		atomic_store_explicit(&c->refs, 0, memory_order_release);
		return 0;
	}
	return zcp__view_dropped_last_slow(m, c, gidx);
}

/* Drop one of this process's references on view c (record gidx). */
static ZCP_HOT_INLINE int zcp__view_release(struct zcp_mempool_manager *m, struct zcp_chunk *c,
					    uint64_t gidx)
{
	uint32_t n = 1;
	/* acq_rel: pairs with the other threads' CASes and stores of the
	 * count (the PENDING crossing protocol above). */
	if (ZCP_LIKELY(atomic_compare_exchange_strong_explicit(&c->refs, &n, ZCP__VIEW_PENDING,
								memory_order_acq_rel,
								memory_order_acquire)))
		return zcp__view_dropped_last(m, c, gidx);
	return zcp__view_release_slow(m, c, gidx, n);
}

#endif /* ZCP_VIEW_H */
