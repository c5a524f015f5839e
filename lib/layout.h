/* The layout of a manager's two shared segments, and the encodings of the
 * shared words.  Nothing here is API: the header carries a magic and a
 * layout version, and attach refuses any other.
 *
 * Management segment:
 *   [header: 512 B][pool descriptors: 256 B each][process slots][records: 64 B each]
 * Data segment:
 *   pool 0's chunks, pool 1's chunks, ...; a chunk is a 64-byte header then
 *   chunk_size bytes of payload, rounded up to 64 bytes (the stride).
 *
 * Every value read from shared memory is untrusted: a peer may have written
 * anything.  The static geometry (sizes, offsets, counts) is validated once
 * at attach and copied into process memory; the hot paths use only that
 * copy plus the dynamic words below, each of which is range-checked when
 * read.
 */
#ifndef ZCP_LAYOUT_H
#define ZCP_LAYOUT_H

#include "internal.h"

#include <stdatomic.h>
#include <stdint.h>

#define ZCP__MAGIC UINT64_C(0x5a45524f43504d47) /* "ZEROCPMG" */
#define ZCP__LAYOUT_VERSION 3u
#define ZCP__HEADER_SIZE 512u
#define ZCP__POOL_DESC_SIZE 256u
#define ZCP__RECORD_SIZE 64u
#define ZCP__CHUNK_HEADER_SIZE 64u
#define ZCP__OUTBOX_SLOTS 16u
#define ZCP__CHUNK_MAGIC UINT32_C(0x7a63706b) /* "zcpk" */

/* Manager states, the header's `state` word. */
enum {
	ZCP__STATE_INIT = 0,   /* creator is writing; attach waits */
	ZCP__STATE_READY = 1,  /* published with a release store */
	ZCP__STATE_GONE = 2,   /* destroyed; segments unlinked */
};

struct zcp__header {
	_Atomic uint64_t magic; /* written first, after the creator's lock */
	uint32_t layout_version;
	uint32_t header_size;
	_Atomic uint32_t state;
	uint32_t pool_count;
	uint32_t max_processes;
	uint32_t outbox_slots;
	uint64_t mgmt_size;
	uint64_t data_size;
	uint64_t pools_off;     /* offset of pool descriptors in mgmt */
	uint64_t procs_off;     /* offset of process slots in mgmt */
	uint64_t proc_size;     /* bytes per process slot */
	uint64_t records_off;   /* offset of the record array in mgmt */
	uint64_t total_chunks;
	_Atomic int64_t creator_pid; /* informative: in the creator's PID namespace */
	_Atomic uint64_t creator_id; /* the creator's process id (slot.h) */
	uint64_t nonce;         /* random per creation: tells managers apart */
	uint32_t mode;          /* the segments' declared mode (attach checks) */
	uint32_t reserved32;
	uint64_t reserved[49];
};

/* A pool descriptor.  The first line is static; head and used_max live on
 * lines of their own so allocation traffic does not false-share. */
struct zcp__pool_desc {
	uint64_t chunk_size;   /* payload bytes */
	uint64_t stride;       /* bytes from one chunk header to the next */
	uint64_t data_off;     /* first chunk header, offset in the data segment */
	uint32_t chunk_count;
	uint32_t first_record; /* global index of the pool's first record */
	uint64_t reserved0[4];
	_Alignas(64) _Atomic uint64_t head; /* free-list head, see freelist.c */
	_Alignas(64) _Atomic uint64_t used_max;
	_Alignas(64) uint64_t reserved1[8];
};

/* One chunk's record in the management segment (the seed's ChunkManager):
 * its holder word, its free-list link, its generation, and relative
 * pointers to the chunk header, its data pool and its record pool. */
struct zcp__record {
	_Atomic uint64_t word; /* holder state, see the encoding below */
	_Atomic uint32_t next; /* free-list link (pool-local index) while free */
	uint32_t pool;         /* pool index (informative; geometry is local) */
	_Atomic uint64_t seq;  /* generation: +1 at every return to the pool */
	_Atomic uint64_t size; /* size asked for by the current holder */
	uint64_t chunk_ref;    /* zcp_relptr to the chunk header (data segment) */
	uint64_t pool_ref;     /* zcp_relptr to the data pool's descriptor */
	uint64_t record_pool_ref; /* zcp_relptr to the record array (the chunk-management pool) */
	uint64_t reserved;
};

/* The header of a chunk in the data segment: the chunk's identity, written
 * once at create, for tools and debuggers to find its record (which holds
 * the size and generation of the current holding).  Any attached process
 * can write the data segment, so nothing here is trusted or read by the
 * library; the record is the authority.  Not written per get: that would
 * cost every allocation a store to one more cache line. */
struct zcp__chunk_header {
	uint32_t magic;
	uint32_t pool;
	uint32_t index;        /* pool-local */
	uint32_t reserved0;
	uint64_t record_ref;   /* zcp_relptr to the record */
	uint64_t reserved[5];
};

/* An outbox entry: a reference a process lent to another (see
 * zcp_chunk_send() and escrow.c).  word = state (bits 63..62) | nonce
 * (bits 61..0). */
struct zcp__outbox_entry {
	_Atomic uint64_t word;
	_Atomic uint64_t chunk;    /* global record index */
	_Atomic uint64_t seq;      /* chunk generation */
	_Atomic uint64_t receiver; /* process id (slot.h), or 0 for any */
	uint64_t reserved;
};

enum {
	ZCP__OUT_EMPTY = 0,
	ZCP__OUT_FILLING = 1, /* being written by its owner */
	ZCP__OUT_LIVE = 2,    /* waiting for the receiver */
	ZCP__OUT_DONE = 3,    /* taken or cancelled: the owner drops its lent reference */
};
#define ZCP__OUT_NONCE_MASK ((UINT64_C(1) << 62) - 1)
static inline uint64_t zcp__out_word(unsigned state, uint64_t nonce)
{
	return ((uint64_t)state << 62) | (nonce & ZCP__OUT_NONCE_MASK);
}
static inline unsigned zcp__out_state(uint64_t w)
{
	return (unsigned)(w >> 62);
}

/* A slot of the process table.  `id` is the slot's state word, changed
 * only by compare-and-swap (see slot.h for its encoding and states); the
 * rest is informative or owned by the slot's process. */
struct zcp__proc {
	_Atomic uint64_t id;
	_Atomic int64_t pid;           /* in the process's own PID namespace */
	_Atomic uint64_t outbox_taken; /* bumped by receivers, read by the owner */
	_Atomic uint64_t pidns;        /* that namespace's inode, 0 if unknown */
	uint64_t reserved[4];
	struct zcp__outbox_entry outbox[ZCP__OUTBOX_SLOTS];
};

/* --- the holder word of a record ------------------------------------------
 *
 * bit 63 = 0: HELD.  Bits 0..55 are the set of process slots holding at
 *             least one reference (never empty); bits 56..61 are the low
 *             6 bits of the generation, so a handle can be checked against
 *             the word it takes a reference on, in the same CAS.  Bit 62 is
 *             ONTOP: the record was claimed off the top of a PUSH head and
 *             nobody has moved the head since (see freelist.c); its last
 *             holder gives it back with this one word's CAS.
 * bit 63 = 1: not held.  Bit 62 = 0: FREE (on the free list, or being
 *             popped).  Bit 62 = 1: RELEASING (given back by the process in
 *             bits 56..61, on its way to the free list or at its top).
 *             Bits 0..55: the generation it is freed at, so a stale
 *             compare-and-swap can never match a later cycle.
 *
 * The generation counts the chunk's returns to its pool; the record's seq
 * holds it in full (written by each new holder), handles carry it.
 */
#define ZCP__W_NOTHELD (UINT64_C(1) << 63)
#define ZCP__W_RELEASING (UINT64_C(1) << 62)
#define ZCP__W_ONTOP (UINT64_C(1) << 62)
#define ZCP__W_GEN_MASK ((UINT64_C(1) << 56) - 1)
#define ZCP__W_HELD_GEN_MASK UINT64_C(0x3f)
#define ZCP__W_HOLDERS_MASK ((UINT64_C(1) << ZCP_MAX_PROCESSES) - 1)

static inline int zcp__w_is_held(uint64_t w)
{
	return !(w & ZCP__W_NOTHELD);
}
static inline int zcp__w_is_free(uint64_t w)
{
	return (w & (ZCP__W_NOTHELD | ZCP__W_RELEASING)) == ZCP__W_NOTHELD;
}
static inline int zcp__w_is_releasing(uint64_t w)
{
	return (w & (ZCP__W_NOTHELD | ZCP__W_RELEASING)) == (ZCP__W_NOTHELD | ZCP__W_RELEASING);
}
static inline uint64_t zcp__w_free(uint64_t gen)
{
	return ZCP__W_NOTHELD | (gen & ZCP__W_GEN_MASK);
}
static inline uint64_t zcp__w_releasing(unsigned slot, uint64_t gen)
{
	return ZCP__W_NOTHELD | ZCP__W_RELEASING | ((uint64_t)slot << 56) | (gen & ZCP__W_GEN_MASK);
}
static inline unsigned zcp__w_releaser(uint64_t w)
{
	return (unsigned)((w >> 56) & 0x3f);
}
/* Generation of a FREE or RELEASING word. */
static inline uint64_t zcp__w_gen(uint64_t w)
{
	return w & ZCP__W_GEN_MASK;
}
/* A HELD word (not ONTOP). */
static inline uint64_t zcp__w_held(uint64_t holders, uint64_t gen)
{
	return holders | ((gen & ZCP__W_HELD_GEN_MASK) << 56);
}
static inline uint64_t zcp__w_holders(uint64_t w)
{
	return w & ZCP__W_HOLDERS_MASK;
}
/* Low 6 bits of the generation of a HELD word. */
static inline uint64_t zcp__w_held_gen(uint64_t w)
{
	return (w >> 56) & ZCP__W_HELD_GEN_MASK;
}
/* A held word is well formed: some holder. */
static inline int zcp__w_held_valid(uint64_t w)
{
	return zcp__w_is_held(w) && zcp__w_holders(w) != 0;
}
/* The generation-free part of the word a claim by `slot` writes,
 * HELD{slot}|ONTOP; a handle computes it once (zcp__w_claimed()). */
static inline uint64_t zcp__w_claim_bits(unsigned slot)
{
	return (UINT64_C(1) << slot) | ZCP__W_ONTOP;
}
/* That word for generation gen. */
static inline uint64_t zcp__w_claimed(uint64_t claim_bits, uint64_t gen)
{
	return claim_bits | ((gen & ZCP__W_HELD_GEN_MASK) << 56);
}
/* A held word claimed off a PUSH head nobody has moved since. */
static inline int zcp__w_ontop(uint64_t w)
{
	return zcp__w_is_held(w) && (w & ZCP__W_ONTOP);
}

/* The full generation of a record whose HELD word is w and whose seq
 * reads `seq`.  A new holder writes seq just after its claim, so a holder
 * killed in between leaves the previous generation there (one less);
 * the word's low 6 bits tell.  Every give-back then advances from the
 * generation actually taken, so no word a record is given back with
 * equals one it had before. */
static inline uint64_t zcp__full_gen(uint64_t seq, uint64_t w)
{
	return seq + ((zcp__w_held_gen(w) - seq) & ZCP__W_HELD_GEN_MASK);
}

/* Handles: bits 63..38 global record index + 1, bits 37..0 generation. */
#define ZCP__HANDLE_GEN_BITS 38
#define ZCP__HANDLE_GEN_MASK ((UINT64_C(1) << ZCP__HANDLE_GEN_BITS) - 1)

/* --- the free-list head of a pool -----------------------------------------
 *
 * bits 63..44: top  — pool-local index of the top record, NIL if none
 * bits 43..38: op   — what the last transition did to `top`:
 *                     0 none (initial), 1..56 popped by slot op-1, 63 pushed
 * bits 37..0:  tag  — +1 at every transition (ABA guard, see freelist.c)
 */
#define ZCP__H_NIL UINT32_C(0xFFFFF)
#define ZCP__H_OP_NONE 0u
#define ZCP__H_OP_PUSH 63u
#define ZCP__H_TAG_MASK ((UINT64_C(1) << 38) - 1)

static inline uint64_t zcp__h_make(uint32_t top, unsigned op, uint64_t tag)
{
	return ((uint64_t)top << 44) | ((uint64_t)op << 38) | (tag & ZCP__H_TAG_MASK);
}
static inline uint32_t zcp__h_top(uint64_t h)
{
	return (uint32_t)(h >> 44);
}
static inline unsigned zcp__h_op(uint64_t h)
{
	return (unsigned)((h >> 38) & 0x3f);
}
static inline uint64_t zcp__h_tag(uint64_t h)
{
	return h & ZCP__H_TAG_MASK;
}

#endif /* ZCP_LAYOUT_H */
