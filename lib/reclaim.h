/* SPDX-License-Identifier: MIT */
/* Reclaim's internal calls (reclaim.c): cleaning the slot of a process
 * that is gone.  (The public side is <zerocp/reclaim.h>.) */
#ifndef ZCP_RECLAIM_INTERNAL_H
#define ZCP_RECLAIM_INTERNAL_H

#include "handle.h"

/* Drop every trace of process slot `slot` (dead, or ourselves at detach):
 * its holder bits, its unfinished give-backs.  Run by `me`.  Returns the
 * number of chunks that went back to their pools, or a negative error. */
long zcp__slot_drop_all(struct zcp_mempool_manager *m, unsigned slot, unsigned me,
			uint64_t *refs_dropped);

/* Make room in a full table: take over a slot whose process died (or
 * whose reclaimer did), clean it as its new owner, and make it ours.
 * Returns 0, or ZCP_EUSERS if no slot is orphaned. */
int zcp__slot_takeover(struct zcp_mempool_manager *m);

#endif /* ZCP_RECLAIM_INTERNAL_H */
