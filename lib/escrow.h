/* SPDX-License-Identifier: MIT */
/* Escrow's internal calls (escrow.c): tickets, lent references, outboxes. */
#ifndef ZCP_ESCROW_H
#define ZCP_ESCROW_H

#include "handle.h"

/* Drop the references lent through outbox entries that were taken or
 * cancelled; returns how many.  Cheap when nothing is lent. */
unsigned zcp__escrow_collect(struct zcp_mempool_manager *m);

/* Cancel live outbox entries (of any slot) whose receiver died; returns
 * how many (reclaim). */
unsigned zcp__escrow_cancel_dead(struct zcp_mempool_manager *m);

/* Empty every outbox entry of slot i, whose process is gone (reclaim,
 * takeover) or leaving (detach): a ticket for it then answers
 * ZCP_ESTALE.  Returns how many were not empty. */
unsigned zcp__escrow_clear_slot(struct zcp_mempool_manager *m, unsigned i);

/* The entries of slot i that were taken or cancelled and wait for their
 * owner to drop the lent reference. */
uint64_t zcp__escrow_unsettled(const struct zcp_mempool_manager *m, unsigned i);

#endif /* ZCP_ESCROW_H */
