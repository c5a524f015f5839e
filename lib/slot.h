/* SPDX-License-Identifier: MIT */
/* The process table: each slot's state word, its transitions, and who is
 * alive (see slot.c for the state table). */
#ifndef ZCP_SLOT_H
#define ZCP_SLOT_H

#include "layout.h"

/* --- the state word of a slot (struct zcp__proc.id) -----------------------
 *
 * bits 1..0    state, below
 * bits 33..2   incarnation: +1 at every claim or takeover, so no word a
 *              slot is given back with equals one it held before
 * RECLAIMING only:
 * bits 39..34  the reclaimer's slot
 * bits 63..40  the low 24 bits of the reclaimer's incarnation
 */
enum {
	ZCP__SLOT_FREE = 0,       /* nobody; its outbox is empty, no bit of it is set */
	ZCP__SLOT_LIVE = 1,       /* a process holding the slot's lock byte */
	ZCP__SLOT_RECLAIMING = 2, /* its process died; the named reclaimer cleans it */
	ZCP__SLOT_TAKEOVER = 3,   /* a new process holds it and cleans its dead predecessor's traces */
};
#define ZCP__SLOT_INC_MASK UINT64_C(0xFFFFFFFF)
#define ZCP__SLOT_RINC_MASK UINT64_C(0xFFFFFF)

static inline unsigned zcp__sid_state(uint64_t w)
{
	return (unsigned)(w & 3);
}
static inline uint64_t zcp__sid_inc(uint64_t w)
{
	return (w >> 2) & ZCP__SLOT_INC_MASK;
}
static inline unsigned zcp__sid_rslot(uint64_t w)
{
	return (unsigned)((w >> 34) & 0x3f);
}
static inline uint64_t zcp__sid_rinc(uint64_t w)
{
	return (w >> 40) & ZCP__SLOT_RINC_MASK;
}
static inline uint64_t zcp__sid_make(unsigned state, uint64_t inc)
{
	return ((inc & ZCP__SLOT_INC_MASK) << 2) | state;
}
static inline uint64_t zcp__sid_reclaiming(uint64_t inc, unsigned rslot, uint64_t rinc)
{
	return zcp__sid_make(ZCP__SLOT_RECLAIMING, inc) | ((uint64_t)rslot << 34) |
	       ((rinc & ZCP__SLOT_RINC_MASK) << 40);
}
/* A slot word with a process in it (alive or not): LIVE or TAKEOVER. */
static inline int zcp__sid_occupied(uint64_t w)
{
	unsigned st = zcp__sid_state(w);
	return st == ZCP__SLOT_LIVE || st == ZCP__SLOT_TAKEOVER;
}

/* The public process id of incarnation inc of slot `slot`: never 0. */
static inline uint64_t zcp__process_id(unsigned slot, uint64_t inc)
{
	return ((inc & ZCP__SLOT_INC_MASK) << 8) | (slot + 1);
}
/* Slot and incarnation of a process id; 0, or -1 if malformed. */
static inline int zcp__process_id_split(uint64_t pid, unsigned max, unsigned *slot, uint64_t *inc)
{
	uint64_t s = pid & 0xff;
	if (s == 0 || s > max || (pid >> 40) != 0)
		return -1;
	*slot = (unsigned)(s - 1);
	*inc = pid >> 8;
	return 0;
}

struct zcp_mempool_manager;

/* Claim slot i, read as `expect` (FREE, or dead and occupied or being
 * reclaimed by a dead reclaimer: then as TAKEOVER), for this process:
 * take its lock byte, then one CAS to `state` (LIVE or TAKEOVER) at the
 * next incarnation.  On success sets m->slot, m->sid and the derived
 * words.  Returns 0, or ZCP_EBUSY (someone else got there first, or holds
 * the lock byte), or a negative errno from the lock. */
int zcp__slot_claim(struct zcp_mempool_manager *m, unsigned i, uint64_t expect, unsigned state);

/* Our TAKEOVER slot is clean: TAKEOVER -> LIVE.  Returns 0 or
 * ZCP_ENOTRECOVERABLE if the word is no longer ours. */
int zcp__slot_set_live(struct zcp_mempool_manager *m);

/* Leave our slot (its references are gone): LIVE -> FREE, then release
 * the lock byte. */
void zcp__slot_leave(struct zcp_mempool_manager *m);

/* Whether slot i, read as w, needs a reclaimer: 1 when its process is
 * dead (occupied, lock byte not held) or its reclaimer is (RECLAIMING by
 * a slot whose process died or moved on), 0 otherwise (free, alive, or
 * reclaimed by a live process).  Read w before calling: a lock taken
 * after the read is then seen. */
int zcp__slot_orphaned(const struct zcp_mempool_manager *m, unsigned i, uint64_t w);

/* Whether the occupant of slot i, read as w, is alive: 1 yes (or cannot
 * tell), 0 no (and 0 for a free slot). */
int zcp__slot_alive(const struct zcp_mempool_manager *m, unsigned i, uint64_t w);

/* Whether process id `pid` is attached and alive: 1 yes (or cannot tell),
 * 0 no (its slot was freed, reused, or its process died). */
int zcp__process_id_alive(const struct zcp_mempool_manager *m, uint64_t pid);

/* Become the reclaimer of orphaned slot i, read as w: one CAS to
 * RECLAIMING by us.  Returns 1 and *mine, 0 if w moved on. */
int zcp__slot_begin_reclaim(struct zcp_mempool_manager *m, unsigned i, uint64_t w,
			    uint64_t *mine);

/* Slot i, which we reclaim as `mine`, is clean: RECLAIMING -> FREE.
 * Returns 1, or 0 if another reclaimer took it over (it judged us dead). */
int zcp__slot_end_reclaim(struct zcp_mempool_manager *m, unsigned i, uint64_t mine);

#endif /* ZCP_SLOT_H */
