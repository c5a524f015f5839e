/* SPDX-License-Identifier: MIT */
/* The process-local side of a manager and of its chunks: the handle's
 * and the views' structures and their inline accessors. */
#ifndef ZCP_HANDLE_H
#define ZCP_HANDLE_H

#include "freelist.h"
#include "liveness.h"
#include "slot.h"

#include <zerocp/segment.h>

#include <pthread.h>

/* Exact segment geometry of a configuration.  Computed the same way at
 * create and at attach, where the shared copy must match it field for
 * field. */
struct zcp__geometry {
	unsigned pool_count;
	unsigned max_processes;
	uint64_t chunk_size[ZCP_MAX_POOLS];
	uint32_t chunk_count[ZCP_MAX_POOLS];
	uint64_t stride[ZCP_MAX_POOLS];
	uint64_t data_off[ZCP_MAX_POOLS];
	uint32_t first_record[ZCP_MAX_POOLS];
	uint64_t pools_off, procs_off, proc_size, records_off;
	unsigned max_topics, max_publishers, max_subscribers, ring_size;
	uint64_t topics_off, topic_size;
	unsigned max_triggers;
	uint64_t triggers_off;
	uint64_t mgmt_size, data_size, total_chunks;
};

/* Fill g from sizes/counts (already sorted, distinct, in range).
 * Returns 0 or ZCP_EINVAL on overflow or too many chunks. */
int zcp__geometry_compute(struct zcp__geometry *g);

/* Validate a management segment image of `real` bytes (attach, fuzzing):
 * 0 and the geometry in *g, or ZCP_ETRUNCATED, ZCP_EFOREIGN, ZCP_EVERSION,
 * ZCP_ECORRUPT.  Reads nothing outside the image. */
int zcp__mgmt_validate(const unsigned char *mgmt, size_t real, struct zcp__geometry *g);

/* Geometry of a configuration (create, zcp_mempool_config_layout()). */
struct zcp_mempool_config;
int zcp__config_geometry(const struct zcp_mempool_config *cfg, struct zcp__geometry *g);

struct zcp_mempool_config {
	unsigned pool_count;
	unsigned max_processes;
	unsigned mode;
	long gid;
	int backend;
	int chunk_ages;
	uint64_t chunk_size[ZCP_MAX_POOLS];
	uint32_t chunk_count[ZCP_MAX_POOLS];
	unsigned max_topics, max_publishers, max_subscribers, max_queue;
	unsigned max_triggers;
};

/* Process-local view of one chunk.  refs is this process's reference
 * count; the other fields are set (relaxed, always to the same values) by
 * whichever path gives the process the chunk, so no per-chunk work is done
 * at attach. */
struct zcp_chunk {
	_Atomic uint32_t refs;
	_Atomic uint32_t pool;
	_Atomic uint64_t seq; /* generation the process took it at */
	_Atomic(unsigned char *) data;
	_Atomic(struct zcp_mempool_manager *) mgr;
	/* 1 when this process took the chunk off its pool (it may give it
	 * back in place, view.h), 0 when it joined other holders (a topic's
	 * sample, a handle, a ticket): then that attempt would only fail. */
	_Atomic uint32_t claimed;
	/* Where a published sample's payload starts in the chunk (its
	 * alignment, <zerocp/topic.h>): set with the view's generation by
	 * loan, take and get (0), so reading the payload needs no look at
	 * the chunk's header. */
	_Atomic uint32_t sample_off;
};

struct zcp_mempool_manager {
	char name[ZCP_MANAGER_NAME_MAX + 1];
	zcp_segment *mgmt_seg;
	zcp_segment *data_seg;
	struct zcp__header *hdr;
	unsigned char *mgmt;
	unsigned char *data;
	struct zcp__record *records;
	struct zcp__geometry geo;
	struct zcp__pool_view pools[ZCP_MAX_POOLS];
	struct zcp_chunk *chunks; /* total_chunks views, anonymous mapping */
	size_t chunks_bytes;
	unsigned slot;            /* our process slot */
	uint64_t claim_bits;      /* zcp__w_claim_bits(slot) */
	uint64_t give_bits;       /* zcp__w_releasing(slot, 0) */
	uint64_t sid;             /* our slot's state word (slot.h) */
	uint64_t process_id;      /* zcp__process_id(slot, incarnation) */
	int lock_fd;              /* our liveness lock (liveness.h), -1 if none */
	unsigned forks;           /* zcp__fork_count() when made */
	int creator;
	int read_only;            /* no slot, read-only mappings */
	/* Escrow (escrow.c): our outbox entries' chunks, as we wrote them
	 * (the shared copy is not trusted), and how many are lent. */
	_Atomic uint64_t lent_gidx[ZCP__OUTBOX_SLOTS];
	_Atomic unsigned lent;
	_Atomic uint64_t taken_seen;
	_Atomic uint64_t next_nonce;
	/* Our threads take the topics lock (topic.c) one at a time, so a
	 * shared lock word naming us is never another thread's. */
	pthread_mutex_t topics_mutex;
	/* The slots a thread of ours is cleaning now (reclaim.c), one bit
	 * each: a slot word RECLAIMING by us is that thread's while its bit
	 * is set, and only when it is not an earlier call's to go on with. */
	_Atomic uint64_t cleaning;
	/* Triggers (waitset.c), under topics_mutex: per table entry, the
	 * handles of ours open on it and those attached to a waitset.
	 * Allocated at the first open. */
	uint32_t *trig_opens;
	uint32_t *trig_listens;
	/* Event-loop descriptors (waitset.c), under fd_mutex: which of our
	 * slot's fd_nonce[] entries our waitsets use, and the FIFOs of other
	 * processes we rang lately, kept open (nonce 0: an empty entry). */
	pthread_mutex_t fd_mutex;
	uint32_t fd_used;
	unsigned fd_next;
	struct {
		uint64_t nonce;
		unsigned slot;
		int fd;
	} fd_cache[8];
};

static inline struct zcp__proc *zcp__proc_at(const struct zcp_mempool_manager *m, unsigned i)
{
	return (struct zcp__proc *)(m->mgmt + m->geo.procs_off + (uint64_t)i * m->geo.proc_size);
}

/* 0 if mgr is usable by this process, else ZCP_EINVAL / ZCP_ECHILD. */
static inline int zcp__mgr_check(const struct zcp_mempool_manager *m)
{
	if (!m)
		return ZCP_EINVAL;
	if (ZCP_UNLIKELY(m->forks != zcp__fork_count()))
		return ZCP_ECHILD;
	return 0;
}

/* zcp__mgr_check(), and the handle may write (not read-only): ZCP_EPERM. */
static inline int zcp__mgr_check_rw(const struct zcp_mempool_manager *m)
{
	int err = zcp__mgr_check(m);
	if (!err && ZCP_UNLIKELY(m->read_only))
		err = ZCP_EPERM;
	return err;
}

/* The global index of view c of manager m: 0, or ZCP_EINVAL for NULL, a
 * pointer outside m's views, or a misaligned one (a caller's mistake). */
static inline int zcp__chunk_index(const struct zcp_mempool_manager *m,
				   const struct zcp_chunk *c, uint64_t *gidx)
{
	uintptr_t base = (uintptr_t)m->chunks, p = (uintptr_t)c;
	if (!c || p < base)
		return ZCP_EINVAL;
	uintptr_t off = p - base;
	if (off % sizeof *c || off / sizeof *c >= m->geo.total_chunks)
		return ZCP_EINVAL;
	*gidx = off / sizeof *c;
	return 0;
}

/* Both checks of a call on a chunk view: zcp__mgr_check(), then
 * zcp__chunk_index(). */
static inline int zcp__view_check(const struct zcp_mempool_manager *m, const struct zcp_chunk *c,
				  uint64_t *gidx)
{
	int err = zcp__mgr_check_rw(m);
	return err ? err : zcp__chunk_index(m, c, gidx);
}

/* The pool of global record index gidx. */
static inline struct zcp__pool_view *zcp__pool_of(struct zcp_mempool_manager *m, uint64_t gidx)
{
	unsigned lo = 0, hi = m->geo.pool_count - 1;
	while (lo < hi) {
		unsigned mid = (lo + hi + 1) / 2;
		if (m->pools[mid].first <= gidx)
			lo = mid;
		else
			hi = mid - 1;
	}
	return &m->pools[lo];
}

/* Attach by name (manager.c): the segments must belong to uid (or
 * ZCP_OWNER_ANY); read_only maps them read-only and takes no slot. */
int zcp__attach_named(const char *name, long uid, int read_only, zcp_mempool_manager **out);

/* zcp_mempool_manager_attach_fds(), read-only if asked (manager.c). */
int zcp__attach_fds(const char *name, int mgmt_fd, int data_fd, int read_only,
		    zcp_mempool_manager **out);

/* Attach through the broker at opts->socket_path (broker.c), with the
 * owner checks of opts (see zcp_attach_options). */
int zcp__broker_attach(const char *path, const zcp_attach_options *opts,
		       zcp_mempool_manager **out);

#endif /* ZCP_HANDLE_H */
