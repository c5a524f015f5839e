/* SPDX-License-Identifier: MIT */
/* A process's count of its references on a chunk, and the crossings of
 * zero that update the shared record (see view.h). */
#include "view.h"

#include <sched.h>

void zcp__bind_view(struct zcp_mempool_manager *m, struct zcp_chunk *c, uint64_t gidx,
		    uint64_t gen)
{
	struct zcp__pool_view *p = zcp__pool_of(m, gidx);
	zcp__view_bind(m, c, p, (uint32_t)(gidx - p->first), gen);
}

uint32_t zcp__view_settle(_Atomic uint32_t *refs)
{
	uint32_t n;
	/* Acquire: pairs with the release store that ends a crossing. */
	while ((n = atomic_load_explicit(refs, memory_order_acquire)) == ZCP__VIEW_PENDING)
		sched_yield();
	return n;
}

int zcp__view_dropped_last_slow(struct zcp_mempool_manager *m, struct zcp_chunk *c, uint64_t gidx)
{
	/* The view's pool is ours (process memory), set with the right
	 * value whenever the process took a reference. */
	unsigned pool = atomic_load_explicit(&c->pool, memory_order_relaxed);
	struct zcp__pool_view *p = pool < m->geo.pool_count ? &m->pools[pool] : zcp__pool_of(m, gidx);
	unsigned budget = ZCP__RETRY_LIMIT;
	int err = zcp__record_drop_holder(p, gidx, m->slot, m->slot, &budget);
	/* Release: a get of this chunk by another thread of ours waits for
	 * this (zcp__view_settle()). */
	atomic_store_explicit(&c->refs, 0, memory_order_release);
	return err < 0 ? err : 0;
}

/* A release whose count did not read 1: more references (just count one
 * down), none (EALREADY), or another thread crossing zero (wait). */
int zcp__view_release_slow(struct zcp_mempool_manager *m, struct zcp_chunk *c, uint64_t gidx,
			   uint32_t n)
{
	for (;;) {
		if (n == 0)
			return ZCP_EALREADY;
		if (n == ZCP__VIEW_PENDING) {
			n = zcp__view_settle(&c->refs);
			continue;
		}
		uint32_t next = n == 1 ? ZCP__VIEW_PENDING : n - 1;
		/* acq_rel: see zcp__view_release(). */
		if (atomic_compare_exchange_weak_explicit(&c->refs, &n, next, memory_order_acq_rel,
							  memory_order_acquire))
			break;
	}
	return n > 1 ? 0 : zcp__view_dropped_last(m, c, gidx);
}

int zcp__ref_gen(struct zcp_mempool_manager *m, struct zcp_chunk *c, uint64_t gidx, int bind,
		 uint64_t gen)
{
	zcp__resolved_forget(); /* a ref, a take, a receive: a chunk for this thread */
	uint32_t n = zcp__view_settle(&c->refs);
	for (;;) {
		if (n == ZCP__VIEW_PENDING) {
			n = zcp__view_settle(&c->refs);
			continue;
		}
		if (n >= ZCP__VIEW_MAX_REFS)
			return ZCP_EOVERFLOW;
		if (n > 0) {
			/* We hold the chunk, so its generation is our view's
			 * (stable while we hold it); a reference named by
			 * another generation names a chunk that is gone. */
			if (bind) {
				if ((atomic_load_explicit(&c->seq, memory_order_relaxed) &
				     ZCP__HANDLE_GEN_MASK) != (gen & ZCP__HANDLE_GEN_MASK))
					return ZCP_ESTALE;
				ZCP__CRASH_POINT("ref.checked");
			}
			/* acq_rel: see zcp__view_release(). */
			if (!atomic_compare_exchange_weak_explicit(&c->refs, &n, n + 1,
								   memory_order_acq_rel,
								   memory_order_acquire))
				continue;
			/* The count alone does not name a generation: between
			 * the check and the CAS the other holders may have let
			 * go and a thread of ours taken the chunk again (a new
			 * generation, the same count).  Now that we hold it,
			 * the view's generation is stable: check it again, and
			 * give the count back if it moved on.  The acquire of
			 * the CAS shows the generation its last crossing bound. */
			if (bind && (atomic_load_explicit(&c->seq, memory_order_relaxed) &
				     ZCP__HANDLE_GEN_MASK) != (gen & ZCP__HANDLE_GEN_MASK)) {
				int err = zcp__view_release(m, c, gidx);
				return err ? err : ZCP_ESTALE;
			}
			return 0;
		}
		/* acq_rel: 0 -> PENDING starts a crossing; the acquire pairs
		 * with the release store that ended the previous one, so the
		 * view's fields (bound by that crossing) are visible to us. */
		if (atomic_compare_exchange_weak_explicit(&c->refs, &n, ZCP__VIEW_PENDING,
							  memory_order_acq_rel, memory_order_acquire))
			break;
	}
	ZCP__CRASH_POINT("ref.pending");
	/* The crossing is ours: nobody else writes the view meanwhile. */
	if (bind)
		zcp__bind_view(m, c, gidx, gen);
	atomic_store_explicit(&c->claimed, 0, memory_order_relaxed);
	int err = zcp__record_acquire(m, gidx, atomic_load_explicit(&c->seq, memory_order_relaxed));
	/* Release: ends the crossing (zcp__view_settle()); nobody else
	 * writes a PENDING count, so no CAS. */
	atomic_store_explicit(&c->refs, err ? 0 : 1, memory_order_release);
	return err;
}
