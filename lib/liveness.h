/* SPDX-License-Identifier: MIT */
/* Whether another process is alive, as the kernel sees it: a lock on one
 * byte of the management segment, held by each attached process.
 *
 * Why a lock and not a pid.  A pid means nothing in another PID namespace
 * (a container sharing /dev/shm sees other pids, or none) nor under an
 * emulator that fakes /proc, and a pid is reused.  A lock lives on the
 * segment's inode, which every process mapping the segment shares whatever
 * its namespace, and the kernel releases it when the process's last thread
 * exits (or execs: the descriptor is close-on-exec) — never earlier, and
 * never later except through a leaked descriptor.
 *
 * The lock is an open-file-description lock (F_OFD_SETLK) on a descriptor
 * of its own, opened anew for the segment (not dup()ed), so that:
 *  - closing any other descriptor of the segment leaves it in place
 *    (a classic POSIX lock would go with the first close);
 *  - two handles in one process have two locks, each judged alone;
 *  - a forked child does not keep a dead parent alive: the child inherits
 *    the descriptor, but an atfork handler closes it in the child.
 *
 * Errors err towards "alive": a lock that cannot be queried counts as held.
 *
 * The above is the Linux platform layer (platform_linux.c).  The POSIX one
 * (platform_posix.c, --with-platform=posix) has the same interface over
 * classic fcntl() record locks, which belong to the process: one lock
 * descriptor per process and segment, shared by its handles, bytes held
 * by this process recognised by an in-process table, closes of the
 * segment's descriptors deferred while the process holds locks on it, and
 * no proof of death by pid (see platform.h).  Both layers give the same
 * answers to the same calls; only what they cost and what can defeat them
 * differ.
 */
#ifndef ZCP_LIVENESS_H
#define ZCP_LIVENESS_H

#include "internal.h"

#include <stdatomic.h>

/* Open a new descriptor (a new open file description) of the object that
 * seg_fd has open, for taking liveness locks on: through /proc/self/fd,
 * else by shm_name (may be NULL) after checking it still names the same
 * object.  Close-on-exec; registered so that a forked child closes it.
 * Returns 0 and *lock_fd, ZCP_EMFILE, ZCP_ENOSYS (no way to reopen), or
 * another negative errno. */
int zcp__live_open(int seg_fd, const char *shm_name, int *lock_fd);

/* Close a descriptor from zcp__live_open() (releasing its locks).  In a
 * forked child it was closed at the fork: then only forget it. */
void zcp__live_close(int lock_fd, int forked);

/* Lock byte `byte` through lock_fd.  Returns 0, ZCP_EBUSY (another open
 * file description holds it: a live process, or one attaching), or another
 * negative errno. */
int zcp__live_lock(int lock_fd, unsigned byte);

/* Release byte `byte` of lock_fd. */
void zcp__live_unlock(int lock_fd, unsigned byte);

/* Whether some open file description other than query_fd's holds byte
 * `byte`: 1 yes (or cannot tell), 0 no.  query_fd may be read-only. */
int zcp__live_held(int query_fd, unsigned byte);

/* The inode of the calling process's PID namespace (/proc/self/ns/pid),
 * or 0 if it cannot be read. */
uint64_t zcp__self_pidns(void);

/* Whether process `pid` of PID namespace `pidns` is certainly gone: the
 * namespace is ours (so the number means the same to us) and no process
 * has that pid.  A zombie is not gone (it may have a live thread), and a
 * reused pid is not either: only ever a proof of death, never of life.
 * It catches a holder whose lock outlives it in a child that skipped the
 * atfork handlers (_Fork(), a raw clone()). */
int zcp__pid_gone(int64_t pid, uint64_t pidns);

/* A counter bumped in the child at every fork() (pthread_atfork), so a
 * handle can tell it was inherited.  zcp__fork_watch() installs the
 * handlers once; call it before creating a handle. */
void zcp__fork_watch(void);
extern _Atomic unsigned zcp__forks;
static inline unsigned zcp__fork_count(void)
{
	return atomic_load_explicit(&zcp__forks, memory_order_relaxed);
}

#endif /* ZCP_LIVENESS_H */
