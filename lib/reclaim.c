/* Reclaiming what dead processes held.
 *
 * Why every state a kill can leave is recoverable (see freelist.c for the
 * head encoding):
 *
 *  - Killed inside a pop.  Either the head was not changed (nothing to
 *    do), or it names the process as popper, POP(s), with the record FREE
 *    (we mark it HELD{s} with zcp__freelist_settle(), then drop s's bit
 *    like any other), or the record was claimed, HELD{s}|ONTOP, at the top
 *    of the head (dropping the bit puts it back in place), or a claimed top
 *    was unlisted and the head not moved yet (nothing to do: the holder's
 *    release, or ours, flips the head first).
 *  - Killed after a pop, before its view or counters were written: the
 *    record is HELD{s}; dropping the bit returns it.
 *  - Killed inside a release.  Before the CAS on the word: the bit is
 *    still there (and if the head was flipped off the record, that is the
 *    state after a pop).  After it, the word says RELEASING(s, gen): if the
 *    head is (record, PUSH) the record is on the list (given back in place,
 *    or pushed); otherwise it is not (completing a push changes the word
 *    before the head may move on), and we push it ourselves after taking
 *    it over with a CAS to RELEASING(us, gen).
 *  - Killed while its bit was being set or cleared: the CAS either
 *    happened or not; both leave a consistent word.
 *  - Killed while reclaiming: its `reclaimer` mark on the dead slot is
 *    taken over by the next reclaimer, and every step above is idempotent.
 *
 * A slot is given back only after all of this, so its holder bits never
 * leak to the next process that claims it.
 */
#include "manager.h"

#include "crashpoint.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#define ACQ memory_order_acquire

/* Take over record gidx, RELEASING(slot, gen) by a dead slot, if its push
 * never happened.  Returns 1 if we pushed it, 0 if nothing to do, or an
 * error. */
static int finish_release(struct zcp_mempool_manager *m, uint64_t gidx, uint64_t w, unsigned me)
{
	struct zcp__pool_view *p = zcp__pool_of(m, gidx);
	uint32_t idx = (uint32_t)(gidx - p->first);
	struct zcp__record *r = &p->records[idx];

	for (int i = 0; i < 16; i++) {
		int pushed = zcp__freelist_pushed(p, idx, w);
		if (pushed == 1)
			return 0;
		if (pushed == 0) {
			uint64_t mine = zcp__w_releasing(me, zcp__w_gen(w));
			if (!atomic_compare_exchange_strong_explicit(&r->word, &w, mine,
								     memory_order_acq_rel, ACQ))
				return 0; /* someone else took it over */
			int err = zcp__freelist_push(p, idx, mine);
			return err ? err : 1;
		}
		w = atomic_load_explicit(&r->word, ACQ);
		if (!zcp__w_is_releasing(w))
			return 0;
	}
	return 0;
}

long zcp__slot_drop_all(struct zcp_mempool_manager *m, unsigned slot, unsigned me,
			uint64_t *refs_dropped)
{
	uint64_t bit = UINT64_C(1) << slot;
	long returned = 0;
	int err = 0;

	*refs_dropped = 0;
	for (unsigned i = 0; i < m->geo.pool_count; i++)
		zcp__freelist_settle(&m->pools[i]);
	for (uint64_t g = 0; g < m->geo.total_chunks; g++) {
		uint64_t w = atomic_load_explicit(&m->records[g].word, ACQ);
		int rc = 0;
		if (zcp__w_held_valid(w) && (w & bit)) {
			rc = zcp__drop_holder(m, g, slot, me);
			if (rc >= 0)
				(*refs_dropped)++;
			else if (rc == ZCP_EALREADY)
				rc = 0;
		} else if (zcp__w_is_releasing(w) && zcp__w_releaser(w) == slot) {
			rc = finish_release(m, g, w, me);
		}
		if (rc > 0)
			returned++;
		else if (rc < 0 && !err)
			err = rc;
	}
	return err ? err : returned;
}

static int claim_reclaim(struct zcp_mempool_manager *m, struct zcp__proc *p)
{
	uint64_t cur = atomic_load_explicit(&p->reclaimer, ACQ);
	if (cur != 0 && cur != m->id && zcp__process_alive(zcp__id_pid(cur), 0))
		return 0;
	if (cur == m->id)
		return 1;
	if (!atomic_compare_exchange_strong_explicit(&p->reclaimer, &cur, m->id,
						     memory_order_acq_rel, ACQ))
		return 0;
	atomic_store_explicit(&p->stage, ZCP__PROC_RECLAIMING, memory_order_release);
	ZCP__CRASH_POINT("reclaim.claimed");
	return 1;
}

int zcp_mempool_manager_reclaim(zcp_mempool_manager *mgr, zcp_reclaim_report *out)
{
	zcp_reclaim_report rep = {0};
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	for (unsigned i = 0; i < mgr->geo.max_processes; i++) {
		if (i == mgr->slot)
			continue;
		struct zcp__proc *p = zcp__proc_at(mgr, i);
		uint64_t id = atomic_load_explicit(&p->id, ACQ);
		if (!zcp__id_claimed(id))
			continue;
		if (zcp__process_alive(zcp__id_pid(id), atomic_load_explicit(&p->start, ACQ)))
			continue;
		if (!claim_reclaim(mgr, p)) {
			rep.busy++;
			continue;
		}
		uint64_t refs;
		long n = zcp__slot_drop_all(mgr, i, mgr->slot, &refs);
		rep.references += refs;
		if (n < 0) {
			/* Leave the slot claimed: retrying later is safe. */
			atomic_store_explicit(&p->reclaimer, 0, memory_order_release);
			err = (int)n;
			continue;
		}
		rep.chunks += (uint64_t)n;
		zcp__proc_free(p, id);
		rep.processes++;
	}
	/* Tickets to receivers that died will never be taken. */
	rep.cancelled = zcp__escrow_cancel_dead(mgr);
	if (out)
		*out = rep;
	return err;
}

int zcp_mempool_manager_process_slots(const zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check(mgr);
	return err ? err : (int)mgr->geo.max_processes;
}

int zcp_mempool_manager_process(const zcp_mempool_manager *mgr, int slot, zcp_process_info *out)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (!out || slot < 0 || (unsigned)slot >= mgr->geo.max_processes)
		return ZCP_EINVAL;
	struct zcp__proc *p = zcp__proc_at(mgr, (unsigned)slot);
	uint64_t id = atomic_load_explicit(&p->id, ACQ);
	memset(out, 0, sizeof *out);
	if (!zcp__id_claimed(id))
		return 0;
	out->pid = zcp__id_pid(id);
	out->self = (unsigned)slot == mgr->slot;
	out->alive = out->self ||
		     zcp__process_alive(out->pid, atomic_load_explicit(&p->start, ACQ));
	out->reclaiming = atomic_load_explicit(&p->stage, ACQ) == ZCP__PROC_RECLAIMING;
	uint64_t bit = UINT64_C(1) << slot;
	for (uint64_t g = 0; g < mgr->geo.total_chunks; g++) {
		uint64_t w = atomic_load_explicit(&mgr->records[g].word, memory_order_relaxed);
		out->chunks += zcp__w_held_valid(w) && (w & bit);
	}
	return 0;
}

int zcp_mempool_manager_creator_alive(const zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (mgr->creator)
		return 1;
	return zcp__process_alive(mgr->hdr->creator_pid, mgr->hdr->creator_start);
}

long zcp_mempool_manager_creator_pid(const zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	int64_t pid = mgr->hdr->creator_pid;
	return pid > 0 && pid <= INT32_MAX ? (long)pid : ZCP_ECORRUPT;
}

int zcp_mempool_manager_check(const zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	for (unsigned i = 0; i < mgr->geo.pool_count; i++) {
		struct zcp__pool_view *p = (struct zcp__pool_view *)&mgr->pools[i];
		unsigned char *seen = calloc(p->count ? p->count : 1, 1);
		if (!seen)
			return ZCP_ENOMEM;
		long n = zcp__freelist_walk(p, seen);
		if (n < 0) {
			free(seen);
			return ZCP_ENOTRECOVERABLE;
		}
		/* Every record not on the list must be held: no chunk lost.
		 * The top of a POP head is held by its popper even if the
		 * word still says FREE. */
		uint64_t h = atomic_load_explicit(&p->desc->head, ACQ);
		for (uint32_t k = 0; k < p->count; k++) {
			if (seen[k])
				continue;
			uint64_t w = atomic_load_explicit(&p->records[k].word, ACQ);
			int popped_top = k == zcp__h_top(h) && zcp__h_op(h) >= 1 &&
					 zcp__h_op(h) <= ZCP_MAX_PROCESSES;
			/* ONTOP says "the top of an unmoved PUSH head": its
			 * holder's give-back relies on it (freelist.c). */
			int listed_top = k == zcp__h_top(h) && zcp__h_op(h) == ZCP__H_OP_PUSH;
			if ((!zcp__w_held_valid(w) && !popped_top) ||
			    (zcp__w_ontop(w) && !listed_top)) {
				free(seen);
				return ZCP_ENOTRECOVERABLE;
			}
		}
		free(seen);
	}
	return 0;
}
