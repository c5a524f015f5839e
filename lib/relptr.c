/* SPDX-License-Identifier: MIT */
/*
 * lib/relptr.c - relative pointers: (segment id, offset) pairs that mean
 * the same byte in every process mapping the segment.
 */
#include "internal.h"

#include <errno.h>
#include <stdint.h>

/* 32-bit FNV-1a (Fowler/Noll/Vo), folded to 16 bits by xoring the halves. */
static uint16_t name_id(const char *name)
{
	uint32_t h = 2166136261u;
	uint16_t id;

	for (; *name != '\0'; name++) {
		h ^= (unsigned char)*name;
		h *= 16777619u;
	}
	id = (uint16_t)((h >> 16) ^ (h & 0xffffu));
	return id != 0 ? id : 1;
}

uint16_t zcp_segment_id(const zcp_segment *seg)
{
	const char *name = zcp_segment_name(seg);

	return name != NULL ? name_id(name) : 0;
}

zcp_relptr zcp_relptr_from(const zcp_segment *seg, const void *addr)
{
	uintptr_t base, a;
	size_t size;
	uint64_t off;

	if (seg == NULL || addr == NULL)
		return ZCP_RELPTR_NULL;
	base = (uintptr_t)zcp_segment_base(seg);
	size = zcp_segment_size(seg);
	a = (uintptr_t)addr;
	/* Compare as integers: relational operators on pointers into
	 * different objects are undefined. */
	if (a < base || a - base >= size)
		return ZCP_RELPTR_NULL;
	off = (uint64_t)(a - base);
	if (off > ZCP_RELPTR_OFFSET_MASK)
		return ZCP_RELPTR_NULL;
	return ((zcp_relptr)zcp_segment_id(seg) << ZCP_RELPTR_OFFSET_BITS) | off;
}

void *zcp_relptr_resolve(const zcp_segment *seg, zcp_relptr rp, size_t len)
{
	uint64_t off = zcp_relptr_offset(rp);
	size_t size;

	if (seg == NULL || rp == ZCP_RELPTR_NULL || zcp_relptr_segment(rp) != zcp_segment_id(seg))
		goto invalid;
	size = zcp_segment_size(seg);
	/* off < size first, so size - off cannot wrap and len is compared
	 * without computing off + len. */
	if (off >= size || len > size - off)
		goto invalid;
	return (char *)zcp_segment_base(seg) + off;
invalid:
	errno = EINVAL;
	return NULL;
}

uint64_t zcp_relptr_offset(zcp_relptr rp)
{
	return rp & ZCP_RELPTR_OFFSET_MASK;
}

uint16_t zcp_relptr_segment(zcp_relptr rp)
{
	return (uint16_t)(rp >> ZCP_RELPTR_OFFSET_BITS);
}
