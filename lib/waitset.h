/* SPDX-License-Identifier: MIT */
/* Waitsets and triggers: the calls topic.c, reclaim.c, manager.c and
 * subscriber.c share with waitset.c (which states the protocol). */
#ifndef ZCP_WAITSET_INTERNAL_H
#define ZCP_WAITSET_INTERNAL_H

#include "handle.h"

#include <zerocp/waitset.h>

/* A trigger handle (process memory). */
struct zcp_trigger {
	struct zcp_mempool_manager *m;
	unsigned index;         /* its entry in the table */
	uint64_t state;         /* the entry's LIVE word when we opened it */
	struct zcp_waitset *ws; /* the waitset it is attached to, or NULL */
};

/* Entry k of the trigger table (k < max_triggers). */
static inline struct zcp__trigger *zcp__trigger_at(const struct zcp_mempool_manager *m, unsigned k)
{
	return (struct zcp__trigger *)(m->mgmt + m->geo.triggers_off +
				       (uint64_t)k * sizeof(struct zcp__trigger));
}

/* Ring the doorbell of process slot s (s < max_processes: checked):
 * bump it, and wake its sleepers if it has any. */
void zcp__doorbell_ring_slot(struct zcp_mempool_manager *m, uint64_t s);

/* Ring the doorbell of the process with id `owner` (a value read from
 * shared memory: a malformed one is ignored). */
void zcp__doorbell_ring_owner(struct zcp_mempool_manager *m, uint64_t owner);

/* Process slot s is gone (or is us, leaving): its listener and opener
 * bits go from every trigger; entries nobody has open any more are
 * freed.  Takes the topics lock only if some bit of s is set.  Returns 0
 * or ZCP_EAGAIN. */
int zcp__triggers_reclaim(struct zcp_mempool_manager *m, unsigned s);

/* Process slot s is gone (or is us, leaving, or is ours, just claimed):
 * clear its fd_armed mask and unlink the FIFOs its fd_nonce[] entries
 * name (FIFOs only, in the FIFO directory); an entry is cleared once its
 * FIFO is gone, and stays while it cannot be removed (another user's:
 * EPERM), for zcp__fd_retry() of a process that may (waitset.c). */
void zcp__fd_reclaim(struct zcp_mempool_manager *m, unsigned s);

/* Try again the FIFOs still recorded in free slots (not ours), and with
 * dead_too in the slots of dead processes: unlink those we may, and (not
 * read-only) clear the entries of those gone. */
void zcp__fd_retry(const struct zcp_mempool_manager *m, int dead_too);

/* Sweep the FIFO directory for FIFOs of manager `name` (slot below max)
 * that nobody holds open for reading and that are FD_SWEEP_AGE seconds
 * old or more; unlink them (where the kernel lets us).  Returns how many
 * went. */
int zcp__fd_sweep(const char *name, unsigned max);

/* Close the FIFOs of other processes the handle keeps open (at free). */
void zcp__fd_cache_close(struct zcp_mempool_manager *m);

/* Subscriber sub, attached to ws, is being closed: forget it. */
void zcp__waitset_forget(struct zcp_waitset *ws, void *object);

#endif /* ZCP_WAITSET_INTERNAL_H */
