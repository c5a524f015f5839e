/* SPDX-License-Identifier: MIT */
/* zerocp: chunks — taking, sharing and giving back fixed-size buffers.
 *
 * A zcp_chunk pointer is this process's view of one chunk of a manager: it
 * stays valid as long as the manager handle does, whether or not the
 * process holds the chunk.  Its payload (zcp_chunk_data()) lives in shared
 * memory and is visible to every attached process.
 *
 * References.  Each process keeps its own count of the references it holds
 * on a chunk; the shared record of the chunk holds the set of processes
 * holding at least one.  A chunk returns to its pool when the last process
 * lets go of its last reference, or when the processes still holding it
 * have died and zcp_mempool_manager_reclaim() ran.  So every reference is
 * attributable to a live or dead process, never lost.
 *
 * Synchronisation table.  "Beside" means: at the same time, from any
 * thread of any attached process, on the same manager and chunks.  No
 * call is async-signal-safe.  Every call on a handle fails with ECHILD in
 * a child forked after the handle was made; a read-only handle
 * (zcp_attach_options.read_only) answers EPERM to every call that writes.
 *
 *   function                          | may run beside               | progress
 *   ----------------------------------+------------------------------+---------------------------
 *   zcp_chunk_get                     | everything                   | lock-free, no syscall
 *   zcp_chunk_release                 | everything                   | lock-free, no syscall
 *   zcp_chunk_ref                     | everything                   | lock-free, no syscall
 *   zcp_chunk_handle                  | everything                   | wait-free (release fence)
 *   zcp_chunk_from_handle             | everything                   | lock-free (acquire fence)
 *   zcp_chunk_data / _size / _capacity| everything                   | wait-free
 *   zcp_chunk_refcount / _pool_index  | everything                   | wait-free, a snapshot
 *   zcp_chunk_send / _receive         | everything                   | lock-free, no syscall
 *   zcp_chunk_unsend                  | everything                   | lock-free, no syscall
 *   zcp_mempool_manager_settle        | everything                   | lock-free, no syscall
 *   zcp_mempool_manager_reclaim       | everything                   | lock-free; system calls to
 *                                     |                              |   ask about liveness
 *   zcp_mempool_manager_pool_stats,   | everything                   | wait-free, a snapshot
 *     _process, _print_stats          |                              |
 *   zcp_mempool_manager_check         | nothing that changes the     | reads every record; meant
 *                                     |   manager (quiescent only)   |   for after a crash, tests
 *   zcp_mempool_manager_detach,       | nothing else on that handle  | bounded; other handles and
 *     _destroy                        |   (other handles: anything)  |   processes are unaffected
 *
 * "Lock-free" here means: a stopped or killed peer never blocks anyone;
 * every retry loop is bounded and ends with ZCP_EAGAIN rather than spin
 * forever (only a peer rewriting the same shared word millions of times in
 * a row could cause that).  Each call's retries on shared words together
 * are bounded by ZCP_RETRY_BOUND (see the README for the worst-case time).
 *
 * Ordering.  Taking a chunk is an acquire, giving it back a release:
 * writes to the payload made before zcp_chunk_release() are visible to the
 * next holder after its zcp_chunk_get().  zcp_chunk_handle() is a release
 * fence and zcp_chunk_from_handle() an acquire fence: payload writes made
 * before zcp_chunk_handle() are visible after zcp_chunk_from_handle() to a
 * receiver that got the handle through any atomic variable (even a relaxed
 * one), a system call (pipe, socket, message queue) or a lock.  A channel
 * that is a plain, non-atomic shared variable is a data race and gives
 * nothing.  Escrow orders by itself: writes before zcp_chunk_send() are
 * visible after the zcp_chunk_receive() that takes the ticket.
 */
#ifndef ZEROCP_CHUNK_H
#define ZEROCP_CHUNK_H

#include <zerocp/common.h>
#include <zerocp/pool.h>

ZCP_BEGIN_DECLS

/* The most failed compare-and-swaps on shared words one call makes
 * before it gives up with ZCP_EAGAIN. */
#define ZCP_RETRY_BOUND (1u << 20)

typedef struct zcp_chunk zcp_chunk;

/* zcp_chunk_get - take a chunk of at least `size` bytes from the smallest
 * pool whose chunks are large enough (the seed's getChunk).
 *
 * The caller holds one reference.  Never falls back to a larger pool when
 * the fitting one is exhausted.  Returns the chunk, or NULL with errno:
 * EINVAL (NULL mgr, size 0), E2BIG (no pool is that large), ENOBUFS (every
 * chunk of the fitting pool is in use), ECHILD (mgr used after fork),
 * EPERM (a read-only handle), ENOTRECOVERABLE (the pool's free list is
 * corrupted), EAGAIN (retry bound reached under pathological contention).
 * Pair with zcp_chunk_release().
 */
ZCP_API zcp_chunk *zcp_chunk_get(zcp_mempool_manager *mgr, uint64_t size);

/* zcp_chunk_release - drop one of the caller's references (the seed's
 * releaseChunk).  When it was the process's last and no other process
 * holds the chunk, the chunk goes back to its pool.
 * Returns 0, or ZCP_EINVAL (NULL or foreign chunk), ZCP_EALREADY (the
 * process holds no reference: double release), ZCP_ECHILD, ZCP_EPERM
 * (read-only handle), ZCP_EAGAIN.
 * After an error nothing has changed.
 */
ZCP_API int zcp_chunk_release(zcp_mempool_manager *mgr, zcp_chunk *chunk);

/* zcp_chunk_ref - take one more reference.  The caller must either hold a
 * reference already or have got `chunk` from zcp_chunk_from_handle() while
 * the sender still holds its own ("get unless zero": a chunk that was
 * released meanwhile is refused with ZCP_ESTALE, never revived).  Called
 * in the thread that resolved the handle, before that thread gets,
 * loans, takes or receives another chunk, it refs the handle's use of
 * the chunk and no other, even when another thread of the process holds
 * the chunk's next use; called from another thread, it refs the use the
 * process's view of the chunk names (the resolved one, unless a thread of
 * the process has taken the chunk since).
 * Returns 0, or ZCP_EINVAL, ZCP_ESTALE, ZCP_EOVERFLOW (2^32 - 1 references
 * in this process), ZCP_ECHILD, ZCP_EPERM (read-only handle), ZCP_EAGAIN.
 */
ZCP_API int zcp_chunk_ref(zcp_mempool_manager *mgr, zcp_chunk *chunk);

/* zcp_chunk_refcount - the references on the chunk: those the calling
 * process holds, plus one for each other process that holds at least one.
 * 0 for NULL or a chunk nobody holds.  Wait-free; a snapshot.
 */
ZCP_API uint64_t zcp_chunk_refcount(const zcp_chunk *chunk);

/* zcp_chunk_data - the payload: zcp_chunk_capacity() writable bytes,
 * aligned to 64 bytes; NULL for NULL.  Only meaningful while held. */
ZCP_API void *zcp_chunk_data(const zcp_chunk *chunk);

/* zcp_chunk_capacity - the chunk size of its pool; 0 for NULL. */
ZCP_API uint64_t zcp_chunk_capacity(const zcp_chunk *chunk);

/* zcp_chunk_size - the size asked for in zcp_chunk_get(); 0 for NULL. */
ZCP_API uint64_t zcp_chunk_size(const zcp_chunk *chunk);

/* zcp_chunk_pool_index - index of the chunk's pool (0 = smallest), or
 * ZCP_EINVAL for NULL. */
ZCP_API int zcp_chunk_pool_index(const zcp_chunk *chunk);

/* zcp_chunk_handle - a 64-bit value naming this chunk and this use of it,
 * valid in every process attached to the manager (a relative pointer with
 * a generation).  Send it over any channel; the receiver resolves it with
 * zcp_chunk_from_handle().  Returns 0 (never a valid handle) for a NULL or
 * foreign chunk or a chunk the caller does not hold.  A release fence
 * (see Ordering above).
 */
ZCP_API uint64_t zcp_chunk_handle(const zcp_mempool_manager *mgr, const zcp_chunk *chunk);

/* zcp_chunk_from_handle - resolve a handle to this process's view of the
 * chunk, without taking a reference: follow with zcp_chunk_ref() to hold it.
 * Returns NULL with errno EINVAL for any value that is not a live chunk of
 * this manager in the generation the handle names (out of range, forged,
 * released, or released and reused, or a chunk this process holds in
 * another generation), ECHILD after fork, EPERM for a read-only handle.
 * An acquire fence (see Ordering above).
 */
ZCP_API zcp_chunk *zcp_chunk_from_handle(zcp_mempool_manager *mgr, uint64_t handle);

/* --- Escrow: handing a reference over, owned while in flight -----------
 *
 * A plain handle (zcp_chunk_handle()) names a chunk; it does not hold it:
 * the sender must keep its own reference until the receiver has taken one.
 * zcp_chunk_send() removes that wait: it puts one more reference of the
 * caller into an escrow record of the caller's process slot and returns a
 * ticket.  The reference stays owned — by the sender's process — until the
 * receiver takes it with zcp_chunk_receive(), exactly once.  Then, or when
 * the receiver named in the send dies first (zcp_mempool_manager_reclaim()
 * cancels the record), or when the sender cancels it, the lent reference
 * is dropped by the sender's next zcp_chunk_get(), zcp_chunk_send() or
 * zcp_mempool_manager_settle() (an idle sender should call the latter;
 * zcp_process_info.lent_unsettled shows what waits for it).  If the sender
 * dies first, its references go with it (reclaim) and the ticket becomes
 * invalid: a receiver gets ZCP_ESTALE, even if the chunk has been taken
 * again since.  A ticket carries a 54-bit random nonce: a forged or
 * replayed ticket claims nothing.  Each process has ZCP_ESCROW_SLOTS
 * records.  Every escrow call may run in any number of threads of any
 * number of processes at once.
 */
#define ZCP_ESCROW_SLOTS 16

/* zcp_chunk_send - lend one reference on `chunk` (which the caller holds)
 * to the process `receiver` (its zcp_mempool_manager_process_id(), which
 * means the same in every PID namespace; 0 lets any attached process take
 * it), and store the ticket to pass to it in *ticket.  The caller's own
 * reference is unaffected: release it when done, typically right away.
 * Lock-free; may run beside anything, in any thread.
 * Returns 0, or ZCP_EINVAL (NULL, foreign chunk), ZCP_EALREADY (the caller
 * holds no reference), ZCP_ENOSPC (all escrow records of this process are
 * in flight), ZCP_EOVERFLOW, ZCP_ECHILD, ZCP_EPERM (read-only handle).
 */
ZCP_API int zcp_chunk_send(zcp_mempool_manager *mgr, zcp_chunk *chunk, uint64_t receiver,
			   uint64_t *ticket);

/* zcp_chunk_receive - take the reference behind a ticket: the caller then
 * holds the chunk (release it with zcp_chunk_release()).  Each ticket is
 * taken once.  The reference is to the chunk in the generation the
 * ticket was sent with, and no other.  Returns the chunk, or NULL with
 * errno EINVAL (malformed ticket), ESTALE (taken, cancelled, sender gone,
 * chunk given back and taken again, or forged), EACCES (the ticket names
 * another receiver), ECHILD, EPERM (read-only handle), EAGAIN.
 */
ZCP_API zcp_chunk *zcp_chunk_receive(zcp_mempool_manager *mgr, uint64_t ticket);

/* zcp_chunk_unsend - cancel a ticket the caller sent and nobody took yet;
 * the lent reference is dropped.  Returns 0, ZCP_EINVAL (not one of the
 * caller's tickets), ZCP_ESTALE (already taken or cancelled), ZCP_ECHILD,
 * ZCP_EPERM (read-only handle).
 */
ZCP_API int zcp_chunk_unsend(zcp_mempool_manager *mgr, uint64_t ticket);

/* zcp_mempool_manager_settle - drop the lent references of this process
 * whose tickets were taken or cancelled (what zcp_chunk_get() and
 * zcp_chunk_send() do on the way).  Call it from a sender that may stay
 * idle, so the chunks it lent go back to their pools when their receivers
 * release them.  Lock-free; may run beside anything.
 * Returns the number of lent references dropped, or ZCP_EINVAL, ZCP_ECHILD,
 * ZCP_EPERM (read-only handle).
 */
ZCP_API long zcp_mempool_manager_settle(zcp_mempool_manager *mgr);

ZCP_END_DECLS

#endif /* ZEROCP_CHUNK_H */
