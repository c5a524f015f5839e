/* SPDX-License-Identifier: MIT */
/* tools/bench/freelist.c - the bare free list, the floor of "zerocp bench".
 *
 * A Treiber stack of chunk indexes (R. K. Treiber, "Systems Programming:
 * Coping with Parallelism", IBM RJ 5118, 1986) with the ABA counter of
 * Concurrency Kit's ck_stack_pop_mpmc: the 64-bit head packs the top index
 * (24 bits) and a tag (40 bits) bumped by every change, so one 64-bit CAS
 * suffices.  It does nothing zerocp's free lists do beyond that: no owner
 * recorded, no crash recovery, no reference counts.  The distance between
 * the two is the price of those.
 */
#define _GNU_SOURCE 1
#include "tool.h"
#include "bench.h"

#include <string.h>

#define IDX_BITS 24
#define IDX_MASK ((UINT64_C(1) << IDX_BITS) - 1)

static inline uint64_t make_head(uint64_t old, uint32_t top)
{
	return (((old >> IDX_BITS) + 1) << IDX_BITS) | top;
}

void zcp_bench_fl_init(struct zcp_bench_fl *fl, uint64_t size, uint32_t count)
{
	/* Head on its own cache line, then the links, then the chunks on a
	 * page boundary, each a 64-byte header and the payload rounded up to
	 * 64 bytes: zerocp's stride. */
	size_t links = ((size_t)count * sizeof(uint32_t) + 63) & ~(size_t)63;
	size_t data_off = (64 + links + 4095) & ~(size_t)4095;

	if (count == 0 || count >= ZCP_BENCH_FL_NIL)
		zcp_bench_fatal("free list of %u chunks: out of range", count);
	memset(fl, 0, sizeof *fl);
	fl->stride = (64 + size + 63) & ~UINT64_C(63);
	fl->count = count;
	fl->map_len = data_off + (size_t)(fl->stride * count);
	fl->map = zcp_bench_shared_alloc(fl->map_len);
	fl->head = (_Atomic uint64_t *)fl->map;
	fl->next = (_Atomic uint32_t *)((unsigned char *)fl->map + 64);
	fl->data = (unsigned char *)fl->map + data_off;
	for (uint32_t i = 0; i < count; i++)
		atomic_store_explicit(&fl->next[i], i + 1 < count ? i + 1 : ZCP_BENCH_FL_NIL,
				      memory_order_relaxed);
	atomic_store_explicit(fl->head, 0, memory_order_release);
}

void zcp_bench_fl_fini(struct zcp_bench_fl *fl)
{
	if (fl->map)
		zcp_bench_shared_free(fl->map, fl->map_len);
	memset(fl, 0, sizeof *fl);
}

uint32_t zcp_bench_fl_pop(struct zcp_bench_fl *fl)
{
	/* Acquire: pairs with the release CAS of zcp_bench_fl_push(), so the
	 * link stored by the pusher is visible before we follow it. */
	uint64_t h = atomic_load_explicit(fl->head, memory_order_acquire);
	for (;;) {
		uint32_t top = (uint32_t)(h & IDX_MASK);
		if (top == ZCP_BENCH_FL_NIL)
			return ZCP_BENCH_FL_NIL;
		/* May read a link a concurrent pop+push is rewriting: the tag
		 * then makes the CAS fail. */
		uint32_t n = atomic_load_explicit(&fl->next[top], memory_order_relaxed);
		if (atomic_compare_exchange_weak_explicit(fl->head, &h, make_head(h, n),
							  memory_order_acq_rel,
							  memory_order_acquire))
			return top;
	}
}

void zcp_bench_fl_push(struct zcp_bench_fl *fl, uint32_t idx)
{
	uint64_t h = atomic_load_explicit(fl->head, memory_order_relaxed);
	for (;;) {
		atomic_store_explicit(&fl->next[idx], (uint32_t)(h & IDX_MASK),
				      memory_order_relaxed);
		/* Release: publishes the link and the payload writes of the
		 * holder to the next popper. */
		if (atomic_compare_exchange_weak_explicit(fl->head, &h, make_head(h, idx),
							  memory_order_acq_rel,
							  memory_order_relaxed))
			return;
	}
}
