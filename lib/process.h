/* Who is attached: process identity, liveness, and fork detection. */
#ifndef ZCP_PROCESS_H
#define ZCP_PROCESS_H

#include "layout.h"

#include <sys/types.h>

/* The start time of process pid, in clock ticks since boot (Linux
 * /proc/<pid>/stat field 22), or 0 where it cannot be read.  With the pid
 * it names a process uniquely: a reused pid has a later start time. */
uint64_t zcp__process_start_time(pid_t pid);

/* zcp__process_start_time() of the calling process (pid = getpid()),
 * read once per process. */
uint64_t zcp__self_start_time(pid_t pid);

/* Whether the process (pid, start) may still be alive.  Dead means: no
 * such pid, a zombie, or a pid now used by a process started at another
 * time.  Anything uncertain (no /proc, EPERM) counts as alive, so a live
 * process is never taken for dead.  A stopped (SIGSTOP) process is alive. */
int zcp__process_alive(int64_t pid, uint64_t start);

/* A counter bumped in the child at every fork() (pthread_atfork), so a
 * handle can tell it was inherited.  zcp__fork_watch() installs the handler
 * once; call it before creating a handle. */
void zcp__fork_watch(void);
extern _Atomic unsigned zcp__forks;
static inline unsigned zcp__fork_count(void)
{
	return atomic_load_explicit(&zcp__forks, memory_order_relaxed);
}

/* Slot id words (see struct zcp__proc): bit 0 set when claimed. */
static inline int64_t zcp__id_pid(uint64_t id)
{
	return (int64_t)(id >> 32);
}
static inline int zcp__id_claimed(uint64_t id)
{
	return (int)(id & 1);
}

/* Claim a free slot of the table for the calling process.
 * Returns 0 with *slot and *id, or ZCP_EUSERS when every slot is taken. */
int zcp__proc_claim(struct zcp__proc *(*at)(void *ctx, unsigned i), void *ctx, unsigned n,
		    unsigned *slot, uint64_t *id);

/* Give a slot back (its holder bits must be gone).  Keeps the incarnation
 * so the next claim gets a new id. */
void zcp__proc_free(struct zcp__proc *p, uint64_t id);

#endif /* ZCP_PROCESS_H */
