/* SPDX-License-Identifier: MIT */
/* The process table as a state machine.
 *
 * Every transition of a slot is one compare-and-swap of its state word,
 * expecting the exact word the decision was taken on.  The incarnation
 * moves at every claim and takeover, so a decision taken from a stale
 * read (a reclaimer preempted after judging the previous occupant dead)
 * fails its CAS instead of acting on the slot's next occupant.
 *
 * Liveness is the slot's lock byte (liveness.h): a process takes it
 * before the CAS that claims the slot and gives it up only after the CAS
 * that frees it, so while the word names an occupant, its lock is held
 * unless the occupant died.  A checker reads the word first, then asks
 * for the lock: a lock taken after the read (a new occupant) shows as
 * held, which errs towards "alive".
 *
 *  state (word)          | left by                        | crash point here  | finished by
 *  ----------------------+--------------------------------+-------------------+---------------------
 *  FREE(k)               | claim: lock, CAS -> LIVE(k+1)  | slot.locked       | nobody needed (lock
 *                        |                                |   (lock, no CAS)  |   dies with it)
 *  LIVE(k)               | leave: CAS -> FREE(k), unlock  | slot.claimed      | a reclaimer, once the
 *                        | dead: CAS -> RECLAIMING(k, r)  |                   |   lock is gone
 *                        | dead: takeover (as below)      |                   |
 *  RECLAIMING(k, r)      | r done: CAS -> FREE(k)         | reclaim.claimed,  | r, or anyone who finds
 *                        | r dead: CAS -> RECLAIMING(k,r')|   reclaim.dropped |   r dead (takes over)
 *                        |   or takeover                  |                   |
 *  TAKEOVER(k)           | clean: CAS -> LIVE(k)          | takeover.claimed  | its owner; if it dies,
 *                        | dead: as LIVE                  |                   |   like a dead LIVE
 *
 * Takeover is how attach makes room in a full table: the attacher takes
 * the lock byte of a slot whose occupant (or reclaimer) died — which
 * proves nobody else holds it — CASes the word to TAKEOVER at the next
 * incarnation, and cleans the predecessor's traces as the slot's new owner
 * (reclaim.c) before it uses the slot.  So the attach-time reclaim runs
 * under the attacher's own identity, never under slot 0's or nobody's.
 */
#include "slot.h"

#include "crashpoint.h"
#include "liveness.h"
#include "handle.h"

#include <unistd.h>

static int cas_id(struct zcp__proc *p, uint64_t expect, uint64_t desired)
{
	/* acq_rel: the release publishes what we wrote to the slot before
	 * (the emptied outbox, dropped bits) to whoever reads the new word
	 * with acquire; the acquire pairs with the release of the previous
	 * transition. */
	return atomic_compare_exchange_strong_explicit(&p->id, &expect, desired,
						       memory_order_acq_rel,
						       memory_order_acquire);
}

static int query_fd(const struct zcp_mempool_manager *m)
{
	return zcp_segment_fd(m->mgmt_seg);
}

int zcp__slot_claim(struct zcp_mempool_manager *m, unsigned i, uint64_t expect, unsigned state)
{
	struct zcp__proc *p = zcp__proc_at(m, i);
	int err = zcp__live_lock(m->lock_fd, i);
	if (err)
		return err;
	ZCP__CRASH_POINT("slot.locked");
	/* Who we are, before the claim publishes it (release): only the
	 * holder of the lock byte writes these, so they are the claimer's
	 * whenever the word names an occupant whose lock is held. */
	atomic_store_explicit(&p->pid, (int64_t)getpid(), memory_order_relaxed);
	atomic_store_explicit(&p->pidns, zcp__self_pidns(), memory_order_relaxed);
	uint64_t mine = zcp__sid_make(state, zcp__sid_inc(expect) + 1);
	if (!cas_id(p, expect, mine)) {
		zcp__live_unlock(m->lock_fd, i);
		return ZCP_EBUSY;
	}
	ZCP__CRASH_POINT(state == ZCP__SLOT_TAKEOVER ? "takeover.claimed" : "slot.claimed");
	m->slot = i;
	m->sid = mine;
	m->process_id = zcp__process_id(i, zcp__sid_inc(mine));
	m->claim_bits = zcp__w_claim_bits(i);
	m->give_bits = zcp__w_releasing(i, 0);
	return 0;
}

int zcp__slot_set_live(struct zcp_mempool_manager *m)
{
	uint64_t live = zcp__sid_make(ZCP__SLOT_LIVE, zcp__sid_inc(m->sid));
	if (!cas_id(zcp__proc_at(m, m->slot), m->sid, live))
		return ZCP_ENOTRECOVERABLE;
	m->sid = live;
	return 0;
}

void zcp__slot_leave(struct zcp_mempool_manager *m)
{
	/* Free first, unlock after: an unlocked slot that still names us
	 * would look dead. */
	cas_id(zcp__proc_at(m, m->slot), m->sid, zcp__sid_make(ZCP__SLOT_FREE, zcp__sid_inc(m->sid)));
	zcp__live_unlock(m->lock_fd, m->slot);
}

/* The occupant of slot i lives: its lock byte is held, and its pid is not
 * provably gone (a child that skipped the atfork handlers can hold the
 * lock of a dead parent; see zcp__pid_gone()). */
static int occupant_alive(const struct zcp_mempool_manager *m, unsigned i)
{
	if (!zcp__live_held(query_fd(m), i))
		return 0;
	const struct zcp__proc *p = zcp__proc_at(m, i);
	/* Relaxed: every caller read the slot word with acquire first, and
	 * the occupant stored pid and pidns before its release CAS of that
	 * word (zcp__slot_claim()), so these are that occupant's or a later
	 * one's.  A later one's pid can only make a dead verdict wrong for a
	 * word that has moved on, and every action on a verdict is a CAS
	 * expecting the word it was taken on, which then fails. */
	return !zcp__pid_gone(atomic_load_explicit(&p->pid, memory_order_relaxed),
			      atomic_load_explicit(&p->pidns, memory_order_relaxed));
}

int zcp__slot_alive(const struct zcp_mempool_manager *m, unsigned i, uint64_t w)
{
	if (!zcp__sid_occupied(w))
		return 0;
	return occupant_alive(m, i);
}

int zcp__process_id_alive(const struct zcp_mempool_manager *m, uint64_t pid)
{
	unsigned s;
	uint64_t inc;
	if (zcp__process_id_split(pid, m->geo.max_processes, &s, &inc))
		return 0;
	uint64_t w = atomic_load_explicit(&zcp__proc_at(m, s)->id, memory_order_acquire);
	if (!zcp__sid_occupied(w) || zcp__sid_inc(w) != inc)
		return 0;
	return occupant_alive(m, s);
}

/* Whether the reclaimer named by RECLAIMING word w is alive. */
static int reclaimer_alive(const struct zcp_mempool_manager *m, uint64_t w)
{
	unsigned r = zcp__sid_rslot(w);
	if (r >= m->geo.max_processes)
		return 0; /* a scribbled word: nobody */
	uint64_t rw = atomic_load_explicit(&zcp__proc_at(m, r)->id, memory_order_acquire);
	if (!zcp__sid_occupied(rw) || (zcp__sid_inc(rw) & ZCP__SLOT_RINC_MASK) != zcp__sid_rinc(w))
		return 0;
	return occupant_alive(m, r);
}

int zcp__slot_orphaned(const struct zcp_mempool_manager *m, unsigned i, uint64_t w)
{
	switch (zcp__sid_state(w)) {
	case ZCP__SLOT_LIVE:
	case ZCP__SLOT_TAKEOVER:
		return !occupant_alive(m, i);
	case ZCP__SLOT_RECLAIMING:
		return !reclaimer_alive(m, w);
	default:
		return 0;
	}
}

int zcp__slot_begin_reclaim(struct zcp_mempool_manager *m, unsigned i, uint64_t w,
			    uint64_t *mine)
{
	uint64_t r = zcp__sid_reclaiming(zcp__sid_inc(w), m->slot, zcp__sid_inc(m->sid));
	if (!cas_id(zcp__proc_at(m, i), w, r))
		return 0;
	ZCP__CRASH_POINT("reclaim.claimed");
	*mine = r;
	return 1;
}

int zcp__slot_end_reclaim(struct zcp_mempool_manager *m, unsigned i, uint64_t mine)
{
	return cas_id(zcp__proc_at(m, i), mine, zcp__sid_make(ZCP__SLOT_FREE, zcp__sid_inc(mine)));
}
