/* SPDX-License-Identifier: MIT */
/* The platform layer: everything zerocp needs from the kernel beyond plain
 * POSIX shared memory, behind one small interface with two
 * implementations, chosen by configure (--with-platform=linux|posix):
 *
 *  what                      | platform_linux.c              | platform_posix.c
 *  --------------------------+-------------------------------+------------------------------
 *  liveness locks            | open-file-description locks   | classic fcntl() record locks,
 *   (zcp__live_*, liveness.h)|  (F_OFD_SETLK) on a reopened  |  one descriptor per process and
 *                            |  descriptor per handle        |  segment, an in-process table of
 *                            |                               |  the bytes the process holds
 *  proof of death            | pid in our PID namespace gone | none (the lock alone decides)
 *   (zcp__pid_gone)          |  (/proc/self/ns/pid, kill)    |
 *  closing a descriptor of a | close()                       | deferred while the process holds
 *   segment (zcp__plat_close)|                               |  locks on that segment (a close
 *                            |                               |  drops all of them)
 *  a descriptor's path       | /proc/self/fd/N               | none (ZCP_ENOSYS)
 *  shm object by path        | lstat() under /dev/shm        | none (ZCP_ENOSYS)
 *  peer credentials          | SO_PEERCRED                   | getpeereid() if found, else
 *   (zcp__peer_cred)         |                               |  ZCP_ENOSYS
 *  segments                  | shm_open, memfd + seals       | shm_open only (no memfd, so no
 *                            |  (segment.c, HAVE_MEMFD)      |  broker)
 *  event-loop FIFOs         | under /dev/shm                | under /dev/shm if it is a
 *   (zcp__plat_fifo_dir)     |                               |  directory, else none
 *  wake-ups (wake.h:          | futex on the shared word      | look at the word every
 *   zcp__wait_on/wake_all)   |  (never FUTEX_PRIVATE_FLAG)   |  millisecond (a wake-up costs up
 *                            |                               |  to 1 ms; a process-shared
 *                            |                               |  condvar would do better)
 *
 * Code outside the two platform files must not use /proc, OFD locks,
 * SO_PEERCRED or anything else Linux-only except through this header
 * (memfd stays in segment.c under HAVE_MEMFD, which the POSIX platform
 * never defines).
 */
#ifndef ZCP_PLATFORM_H
#define ZCP_PLATFORM_H

#include "liveness.h"

#include <sys/stat.h>
#include <sys/types.h>

/* The name of the platform layer built in: "linux" or "posix". */
extern const char zcp__platform_name[];

/* Close fd, a descriptor of a segment (or of anything).  On the POSIX
 * platform a close drops every lock the process holds on the file, so
 * while the process holds liveness locks on fd's file the close is
 * deferred until the last of them goes (zcp__live_close()).  Keeps
 * errno. */
void zcp__plat_close(int fd);

/* The path fd was opened by (Linux: the /proc/self/fd/N link, " (deleted)"
 * and all), NUL-terminated in buf.  Returns its length, or ZCP_ENOSYS
 * when the platform cannot tell, or another negative errno. */
int zcp__plat_fd_path(int fd, char *buf, size_t size);

/* lstat() of shm object `path` ("/zerocp_<name>", as for shm_open())
 * through the file system, when it has a path there (Linux: /dev/shm).
 * Returns 0, a negative errno, or ZCP_ENOSYS. */
int zcp__plat_shm_lstat(const char *path, struct stat *st);

/* The directory of the FIFOs of zcp_waitset_fd() (waitset.c): the one
 * where the manager's segments have their paths (Linux: /dev/shm), so
 * the same processes see it, across PID namespaces too.  The POSIX
 * layer uses /dev/shm when it is a directory.  Returns the path, or NULL
 * when the platform has none. */
const char *zcp__plat_fifo_dir(void);

/* The effective uid and gid of the process at the other end of connected
 * Unix socket fd, as the kernel recorded them.  Returns 0, ZCP_ENOSYS
 * (the platform has no way), or another negative errno. */
int zcp__peer_cred(int fd, uid_t *uid, gid_t *gid);

/* Hooks of the fork handlers installed by zcp__fork_watch() (liveness.c):
 * the platform's registry of lock descriptors is held across the fork,
 * and the child drops its copies. */
void zcp__plat_fork_prepare(void);
void zcp__plat_fork_parent(void);
void zcp__plat_fork_child(void);

#endif /* ZCP_PLATFORM_H */
