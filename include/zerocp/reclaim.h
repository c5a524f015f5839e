/* SPDX-License-Identifier: MIT */
/* zerocp: crash safety — processes that die holding chunks.
 *
 * Every process attached to a manager has a slot in its process table,
 * named by pid and process start time (so a reused pid is not mistaken for
 * the process that died).  Every reference to a chunk belongs to one slot.
 * When a process dies without detaching, zcp_mempool_manager_reclaim(),
 * called by any other attached process, drops exactly that slot's
 * references: chunks nobody else holds go back to their pools, chunks
 * still held by a live process stay with it.  A process killed at any
 * instruction of zcp_chunk_get(), zcp_chunk_ref(), zcp_chunk_release() or
 * of a handoff leaves shared memory in a state reclaim completes or rolls
 * back (see lib/freelist.c and lib/reclaim.c for why).
 *
 * A process is taken for dead only when it certainly is: the kernel has
 * released the lock it took on its slot when it attached, which happens
 * when its last thread exits (or it execs).  This holds whatever PID
 * namespaces the process and the checker are in.  A stopped (SIGSTOP) or
 * busy process, or one whose main thread exited while others run, keeps
 * everything it holds; a forked child does not keep its parent alive.
 */
#ifndef ZEROCP_RECLAIM_H
#define ZEROCP_RECLAIM_H

#include <zerocp/common.h>
#include <zerocp/pool.h>

ZCP_BEGIN_DECLS

/* What one zcp_mempool_manager_reclaim() call did. */
typedef struct zcp_reclaim_report {
	uint64_t processes;  /* dead processes whose slots were freed */
	uint64_t references; /* their holder references dropped */
	uint64_t chunks;     /* chunks that went back to their pools */
	uint64_t busy;       /* dead slots skipped: a live process (or another
			      * thread of this one) is reclaiming them */
	uint64_t cancelled;  /* escrowed references whose receiver died */
	uint64_t reserved[3];
} zcp_reclaim_report;

/* zcp_mempool_manager_reclaim - find the processes that died attached and
 * drop their references.
 *
 * Safe from any attached process and any of its threads, beside live
 * traffic and beside other reclaims (each dead slot is reclaimed by one
 * thread of one process at a time; a reclaimer that dies is taken over),
 * and idempotent: a second call finds nothing to do.  Cost: one pass over the chunk records per dead process.
 * out may be NULL.
 * Returns 0, ZCP_EINVAL (NULL mgr), ZCP_ECHILD, ZCP_EPERM (a read-only
 * handle has no identity to reclaim under), or ZCP_ENOTRECOVERABLE if a
 * free list is found corrupted (what could be reclaimed was; the call
 * stays the slot's reclaimer and the next one goes on).
 */
ZCP_API int zcp_mempool_manager_reclaim(zcp_mempool_manager *mgr, zcp_reclaim_report *out);

/* One slot of the process table, as seen by zcp_mempool_manager_process(). */
typedef struct zcp_process_info {
	int64_t pid;        /* 0 for a free slot; the pid in the process's own
			     * PID namespace (informative: see `id`) */
	int alive;          /* 1 alive (or cannot tell), 0 dead */
	int self;           /* 1 for the calling process's own slot */
	int reclaiming;     /* 1 while a reclaimer works on it */
	int reserved0;
	uint64_t chunks;    /* chunks this slot holds a reference on now */
	uint64_t id;        /* its zcp_mempool_manager_process_id() */
	uint64_t lent_unsettled; /* lent references whose tickets were taken or
				  * cancelled, waiting for the process's next
				  * get, send or zcp_mempool_manager_settle() */
	uint64_t reserved[2];
} zcp_process_info;

/* zcp_mempool_manager_process_slots - size of the process table, or a
 * negative error (ZCP_EINVAL, ZCP_ECHILD). */
ZCP_API int zcp_mempool_manager_process_slots(const zcp_mempool_manager *mgr);

/* zcp_mempool_manager_process - describe slot `slot` (0 <= slot <
 * zcp_mempool_manager_process_slots()).  Counting `chunks` reads every
 * record once.  Read-only; runs beside anything.
 * Returns 0, ZCP_EINVAL, ZCP_ECHILD. */
ZCP_API int zcp_mempool_manager_process(const zcp_mempool_manager *mgr, int slot,
					zcp_process_info *out);

/* zcp_mempool_manager_creator_alive - whether the process that created
 * the manager still runs (by its liveness lock, as any process): 1 yes
 * (or cannot tell), 0 no, or a negative error.  A server restarting after a crash uses it to decide to replace
 * the segments. */
ZCP_API int zcp_mempool_manager_creator_alive(const zcp_mempool_manager *mgr);

/* zcp_mempool_manager_creator_pid - the pid of the process that created
 * the manager, in its own PID namespace (as recorded in its header: for
 * display), or a negative error. */
ZCP_API long zcp_mempool_manager_creator_pid(const zcp_mempool_manager *mgr);

/* zcp_mempool_manager_check - validate the shared structures while no
 * other process uses the manager (after a crash, in tests): every free list
 * well formed, and every chunk exactly once either on its free list or
 * held.  Returns 0, ZCP_ENOTRECOVERABLE (a free list is broken or a chunk
 * is neither free nor held), ZCP_EINVAL, ZCP_ECHILD, ZCP_ENOMEM. */
ZCP_API int zcp_mempool_manager_check(const zcp_mempool_manager *mgr);

/* The holder bit of zcp_chunk_info.holders that is no process: a topic's
 * ring keeps the chunk (<zerocp/topic.h>). */
#define ZCP_HOLDER_TOPIC 55

/* One held chunk, as zcp_mempool_manager_chunks() reports it. */
typedef struct zcp_chunk_info {
	int pool;           /* pool index (0 = smallest) */
	uint32_t index;     /* chunk index in its pool */
	uint64_t size;      /* size its holder asked for (capped at capacity) */
	uint64_t capacity;  /* its pool's chunk size */
	uint64_t holders;   /* bit i: process slot i holds it; bit ZCP_HOLDER_TOPIC: a ring */
	uint64_t age_ns;    /* since it was taken from its pool; 0 if unknown
			     * (the manager notes ages only when made with
			     * zcp_mempool_config_set_chunk_ages()) */
	uint64_t handle;    /* its current handle (zcp_chunk_handle()), for display */
	uint64_t reserved[3];
} zcp_chunk_info;

/* zcp_mempool_manager_chunks - call fn(info, arg) for every chunk held by
 * process slot `slot` (-1: every held chunk), reading each record once: a
 * snapshot, for inspection tools; works on read-only handles and beside
 * every other call.  Ages come from a coarse clock (a few milliseconds).
 * fn returning non-zero stops the walk.
 * Returns 0 (or fn's non-zero value), ZCP_EINVAL (NULL mgr or fn, slot out
 * of range), ZCP_ECHILD. */
ZCP_API int zcp_mempool_manager_chunks(const zcp_mempool_manager *mgr, int slot,
				       int (*fn)(const zcp_chunk_info *info, void *arg), void *arg);

ZCP_END_DECLS

#endif /* ZEROCP_RECLAIM_H */
