/* SPDX-License-Identifier: MIT */
/*
 * zerocp/relptr.h - relative pointers into segments.
 *
 * A segment is mapped at a different address in every process (and at a
 * different address by each open in one process), so shared memory must
 * not hold raw pointers.  A zcp_relptr names a byte by segment and offset
 * and is valid in every process that has the segment mapped:
 *
 *   bits 63..48  segment id, zcp_segment_id(), never 0
 *   bits 47..0   byte offset from the start of the segment
 *
 * The value 0, ZCP_RELPTR_NULL, is the null relptr.  A zcp_relptr is a
 * plain 64-bit integer: it can be stored in an _Atomic uint64_t and updated
 * with a single compare-and-swap.
 *
 * Concurrency: every function here is a pure computation on its arguments
 * and the (immutable) mapping of seg; they may run beside each other and
 * beside any use of the memory, but not beside zcp_segment_close(seg).
 * They give no memory ordering: publish a relptr with release and read it
 * with acquire semantics as for any shared data.
 */
#ifndef ZEROCP_RELPTR_H
#define ZEROCP_RELPTR_H

#include <zerocp/common.h>
#include <zerocp/segment.h>

ZCP_BEGIN_DECLS

typedef uint64_t zcp_relptr;

#define ZCP_RELPTR_NULL ((zcp_relptr)0)
#define ZCP_RELPTR_OFFSET_BITS 48
#define ZCP_RELPTR_OFFSET_MASK ((((zcp_relptr)1) << ZCP_RELPTR_OFFSET_BITS) - 1)

/*
 * zcp_segment_id - 16-bit id of a segment, for relptrs.
 *
 * The 32-bit FNV-1a hash of the segment's user name (zcp_segment_name()),
 * folded to 16 bits by xoring its halves, with 0 mapped to 1.  Every
 * process computes the same id for the same name.  Different names may
 * collide: the id catches a relptr used with the wrong segment in most
 * cases, it does not prove it belongs.  Returns 0 for a NULL seg.
 */
ZCP_API uint16_t zcp_segment_id(const zcp_segment *seg);

/*
 * zcp_relptr_from - make the relptr for addr, which lies in seg's mapping.
 *
 * Returns the relptr of (seg's id, addr - base), or ZCP_RELPTR_NULL if seg
 * is NULL, addr is not inside [base, base + size), or the offset does not
 * fit 48 bits.  Pair with zcp_relptr_resolve().
 */
ZCP_API zcp_relptr zcp_relptr_from(const zcp_segment *seg, const void *addr);

/*
 * zcp_relptr_resolve - the address in this process of the len bytes rp
 * names.
 *
 * rp usually comes from shared memory, written by a peer that may be buggy
 * or malicious, so it is checked: returns NULL and sets errno to EINVAL if
 * seg is NULL, rp is ZCP_RELPTR_NULL, rp's segment id is not seg's, or
 * [offset, offset + len) does not lie inside the mapping (offset must be
 * below the size even when len is 0; offset + len cannot overflow the
 * check).  Otherwise returns base + offset.  The bytes themselves may still
 * be changed by peers at any time.  Pair with zcp_relptr_from().
 */
ZCP_API void *zcp_relptr_resolve(const zcp_segment *seg, zcp_relptr rp, size_t len);

/* zcp_relptr_offset - the byte offset in rp (bits 47..0). */
ZCP_API uint64_t zcp_relptr_offset(zcp_relptr rp);

/* zcp_relptr_segment - the segment id in rp (bits 63..48); 0 for NULL. */
ZCP_API uint16_t zcp_relptr_segment(zcp_relptr rp);

ZCP_END_DECLS

#endif /* ZEROCP_RELPTR_H */
