/* SPDX-License-Identifier: MIT */
/* Exact segment sizes from a configuration.
 *
 * Management segment: header, pool descriptors, process slots, then one
 * 64-byte record per chunk (records start on a cache line).
 * Data segment: each pool's chunks back to back, each pool starting on a
 * 4096-byte boundary; a chunk is a 64-byte header plus the payload rounded
 * up to 64 bytes, so every payload is 64-byte aligned.
 */
#include "handle.h"
#include "topic.h"
#include "layout_abi.h"

#include <stdint.h>

_Static_assert(sizeof(struct zcp__header) == ZCP__HEADER_SIZE, "header size");
_Static_assert(sizeof(struct zcp__pool_desc) == ZCP__POOL_DESC_SIZE, "pool descriptor size");
_Static_assert(sizeof(struct zcp__record) == ZCP__RECORD_SIZE, "record size");
_Static_assert(sizeof(struct zcp__chunk_header) == ZCP__CHUNK_HEADER_SIZE, "chunk header size");
_Static_assert(sizeof(struct zcp__proc) % 64 == 0, "process slot size");
_Static_assert(ZCP_MAX_CHUNKS_PER_POOL < ZCP__H_NIL + 1, "index width");

uint64_t zcp__topic_block_size(unsigned publishers, unsigned subscribers, unsigned ring)
{
	/* Small enough (checked above) that nothing here overflows. */
	uint64_t pub = sizeof(struct zcp__publisher_ep) + (uint64_t)ring * sizeof(struct zcp__ring_slot);
	uint64_t sub = sizeof(struct zcp__subscriber_ep) + (uint64_t)publishers * sizeof(struct zcp__cursor);
	sub = (sub + 63) & ~(uint64_t)63;
	/* Then the sleepers' mask: a bit a subscriber, on a cache line. */
	uint64_t mask = ((subscribers + 63) / 64 * 8 + 63) & ~(uint64_t)63;
	return sizeof(struct zcp__topic) + publishers * pub + subscribers * sub + mask;
}

static int round_up(uint64_t v, uint64_t a, uint64_t *out)
{
	if (v > UINT64_MAX - (a - 1))
		return -1;
	*out = (v + a - 1) & ~(a - 1);
	return 0;
}

int zcp__geometry_compute(struct zcp__geometry *g)
{
	uint64_t off = 0, total = 0;

	if (g->pool_count == 0 || g->pool_count > ZCP_MAX_POOLS || g->max_processes == 0 ||
	    g->max_processes > ZCP_MAX_PROCESSES)
		return ZCP_EINVAL;
	for (unsigned i = 0; i < g->pool_count; i++) {
		uint64_t stride, bytes;
		if (g->chunk_size[i] == 0 || g->chunk_size[i] > ZCP_MAX_CHUNK_SIZE ||
		    g->chunk_count[i] == 0 || g->chunk_count[i] > ZCP_MAX_CHUNKS_PER_POOL)
			return ZCP_EINVAL;
		if (i > 0 && g->chunk_size[i] <= g->chunk_size[i - 1])
			return ZCP_EINVAL;
		if (round_up(ZCP__CHUNK_HEADER_SIZE + g->chunk_size[i], 64, &stride))
			return ZCP_EINVAL;
		if (__builtin_mul_overflow(stride, (uint64_t)g->chunk_count[i], &bytes))
			return ZCP_EINVAL;
		if (round_up(off, 4096, &off))
			return ZCP_EINVAL;
		g->stride[i] = stride;
		g->data_off[i] = off;
		g->first_record[i] = (uint32_t)total;
		if (__builtin_add_overflow(off, bytes, &off))
			return ZCP_EINVAL;
		total += g->chunk_count[i];
	}
	/* Global record indexes travel in 26-bit handle fields. */
	if (total >= (UINT64_C(1) << 26))
		return ZCP_EINVAL;
	g->data_size = off;
	g->total_chunks = total;
	g->pools_off = ZCP__HEADER_SIZE;
	g->procs_off = g->pools_off + (uint64_t)g->pool_count * ZCP__POOL_DESC_SIZE;
	g->proc_size = sizeof(struct zcp__proc);
	g->records_off = g->procs_off + (uint64_t)g->max_processes * g->proc_size;
	uint64_t end = g->records_off + total * ZCP__RECORD_SIZE;
	/* The topic table (topic.h), on a cache line. */
	if (g->max_topics > ZCP__TOPICS_MAX || g->max_publishers > ZCP__TOPIC_ENDPOINTS_MAX ||
	    g->max_subscribers > ZCP__TOPIC_ENDPOINTS_MAX || g->ring_size > ZCP__RING_MAX ||
	    (g->ring_size & (g->ring_size - 1)) != 0)
		return ZCP_EINVAL;
	if (g->max_topics && (!g->max_publishers || !g->max_subscribers || !g->ring_size))
		return ZCP_EINVAL;
	g->topics_off = (end + 63) & ~(uint64_t)63;
	g->topic_size = g->max_topics ? zcp__topic_block_size(g->max_publishers, g->max_subscribers,
							       g->ring_size)
				      : 0;
	/* Then the trigger table, on a cache line. */
	if (g->max_triggers > ZCP__TRIGGERS_MAX)
		return ZCP_EINVAL;
	g->triggers_off = (g->topics_off + (uint64_t)g->max_topics * g->topic_size + 63) & ~(uint64_t)63;
	g->mgmt_size = g->triggers_off + (uint64_t)g->max_triggers * sizeof(struct zcp__trigger);
	/* Both must be mappable and ftruncate()-able here. */
	if (g->data_size > ZCP_MAX_SEGMENT_SIZE || g->data_size > SIZE_MAX / 2 ||
	    g->mgmt_size > ZCP_MAX_SEGMENT_SIZE || g->mgmt_size > SIZE_MAX / 2)
		return ZCP_EINVAL;
	return 0;
}
