/* SPDX-License-Identifier: MIT */
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
#define ZCP__LAYOUT_VERSION 6u
#define ZCP__HEADER_SIZE 512u
#define ZCP__POOL_DESC_SIZE 256u
#define ZCP__RECORD_SIZE 64u
#define ZCP__CHUNK_HEADER_SIZE 64u
#define ZCP__OUTBOX_SLOTS ((unsigned)ZCP_ESCROW_SLOTS) /* <zerocp/chunk.h> */
#define ZCP__FD_SLOTS 16u /* event-loop descriptors per process (waitset.c) */

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
	uint32_t flags;         /* ZCP__HDR_* below */
	/* Topics (topic.h): the table's place and shape, and the lock of
	 * the rare changes to it (a process id, 0 when free). */
	uint64_t topics_off;
	uint64_t topic_size;
	uint32_t max_topics;
	uint32_t max_publishers;  /* per topic */
	uint32_t max_subscribers; /* per topic */
	uint32_t ring_size;       /* ring slots per publisher, a power of two */
	_Atomic uint64_t topics_lock;
	/* Triggers (waitset.h): the table's place and its entries. */
	uint64_t triggers_off;
	uint32_t max_triggers;
	uint32_t reserved0;
	uint64_t reserved[42];
};

/* Header flags. */
#define ZCP__HDR_CHUNK_AGES 1u /* takers stamp records with the time (record.taken) */

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
 * its holder word, its free-list link, its generation and the size asked
 * for.  The seed's ChunkManager also held relative pointers to the chunk,
 * its pool and the record's own pool; here the record's index is that
 * relative pointer: record i of pool p is chunk i of pool p, at
 * data_off[p] + i * stride[p] in the data segment, with both values taken
 * from the geometry validated at attach (never from shared memory).  An
 * index is range-checked once where it enters; a stored pointer would have
 * to be checked at every use, and the benchmark's record stays one cache
 * line. */
struct zcp__record {
	_Atomic uint64_t word; /* holder state, see record.h */
	_Atomic uint32_t next; /* free-list link (pool-local index) while free */
	uint32_t reserved0;
	_Atomic uint64_t seq;  /* generation: +1 at every return to the pool */
	_Atomic uint64_t size; /* size asked for by the current holder */
	_Atomic uint64_t taken; /* CLOCK_MONOTONIC_COARSE ns when taken (informative) */
	uint64_t reserved[3];
};

/* The 64 bytes before each chunk's payload in the data segment: they keep
 * the payload 64-byte aligned and carry a published sample's description
 * (written by its publisher before it publishes, see publisher.c).  Any
 * attached process can write the data segment, so nothing here is
 * trusted: the description is informative and range-checked, the record
 * is the authority on who holds the chunk. */
struct zcp__chunk_header {
	uint64_t origin;      /* publisher id */
	uint64_t sequence;    /* per-publisher sequence number */
	uint64_t stamp;       /* CLOCK_REALTIME, ns */
	uint64_t payload_off; /* aligned payload offset in the chunk */
	uint64_t gen;         /* the record's generation when published */
	uint64_t check;       /* the fields above, hashed: 0 when none */
	uint64_t reserved[2];
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
	/* The process's waitsets sleep on doorbell (a futex); whoever has
	 * news for them bumps it and wakes it if doorbell_sleepers > 0
	 * (waitset.c states the protocol). */
	_Atomic uint32_t doorbell;
	_Atomic uint32_t doorbell_sleepers;
	/* Event-loop descriptors (zcp_waitset_fd(), waitset.c): bit i set
	 * while the process's descriptor i is armed; whoever rings the
	 * doorbell exchanges the mask to 0 and writes a byte to the FIFO of
	 * each bit it took, named from the slot and fd_nonce[i] (0: none). */
	_Atomic uint64_t fd_armed;
	uint64_t reserved[2];
	struct zcp__outbox_entry outbox[ZCP__OUTBOX_SLOTS];
	_Atomic uint64_t fd_nonce[ZCP__FD_SLOTS];
};

/* An entry of the trigger table (waitset.c), in the management segment
 * after the topic table: max_triggers of them. */
struct zcp__trigger {
	_Atomic uint64_t state; /* ZCP__EP_FREE or LIVE | incarnation (topic.h) */
	char name[64];
	_Atomic uint64_t fired;     /* fires so far */
	_Atomic uint64_t listeners; /* bit s: process slot s has it in a waitset */
	_Atomic uint64_t openers;   /* bit s: process slot s has it open */
	uint64_t reserved[4];
};

#endif /* ZCP_LAYOUT_H */
