/* SPDX-License-Identifier: MIT */
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
 *  - Killed while reclaiming: the dead slot's word names it as reclaimer;
 *    the next reclaimer finds it dead and takes the slot over with one CAS
 *    (slot.c), and every step above is idempotent.
 *
 * The order of a slot's cleaning: its outbox first (a ticket of the dead
 * process then answers ESTALE), then its holder bits and unfinished
 * give-backs.  A slot is given back (or taken over into use) only after
 * all of this, so its holder bits never leak to its next process.
 */
#include "reclaim.h"

#include "escrow.h"
#include "topic.h"
#include "waitset.h"

#include "crashpoint.h"

#include <errno.h>
#include <string.h>
#include <stdlib.h>


long zcp__slot_drop_all(struct zcp_mempool_manager *m, unsigned slot, unsigned me,
			uint64_t *refs_dropped)
{
	uint64_t bit = UINT64_C(1) << slot;
	long returned = 0;
	int err = 0;
	/* One bound for the whole walk (see ZCP__RETRY_LIMIT). */
	unsigned budget = ZCP__RETRY_LIMIT;

	*refs_dropped = 0;
	for (unsigned i = 0; i < m->geo.pool_count; i++)
		zcp__freelist_settle(&m->pools[i]);
	for (uint64_t g = 0; g < m->geo.total_chunks; g++) {
		uint64_t w = atomic_load_explicit(&m->records[g].word, memory_order_acquire);
		int rc = 0;
		if (zcp__w_held_valid(w) && (w & bit)) {
			rc = zcp__record_drop_holder(zcp__pool_of(m, g), g, slot, me, &budget);
			if (rc >= 0)
				(*refs_dropped)++;
			else if (rc == ZCP_EALREADY)
				rc = 0;
		} else if (zcp__w_is_releasing(w) && zcp__w_releaser(w) == slot) {
			rc = zcp__record_finish_release(zcp__pool_of(m, g), g, w, me, &budget);
		}
		if (rc > 0)
			returned++;
		else if (rc < 0 && !err)
			err = rc;
	}
	return err ? err : returned;
}

/* Clean slot i of a process that is gone, as `me`: its outbox, then its
 * holder bits and unfinished give-backs.  Returns what
 * zcp__slot_drop_all() returns. */
static long clean_slot(struct zcp_mempool_manager *m, unsigned i, uint64_t dead, unsigned me,
		       uint64_t *refs)
{
	zcp__escrow_clear_slot(m, i);
	long n = zcp__slot_drop_all(m, i, me, refs);
	/* Then its endpoints: a publish it left half done holds the topics'
	 * bit (no process's) on a chunk no ring names yet.  This takes the
	 * topics lock, which can be busy: the slot is clean of everything
	 * else whatever happens here (a takeover uses it at once), and a
	 * sweep closes endpoints whose process is gone anyway. */
	int err = zcp__topics_reclaim(m, dead);
	/* Its triggers' bits, and its doorbell's count of sleepers (a
	 * waiter killed asleep must not make every ring a system call). */
	int terr = zcp__triggers_reclaim(m, i);
	if (!err)
		err = terr;
	atomic_store_explicit(&zcp__proc_at(m, i)->doorbell_sleepers, 0, memory_order_relaxed);
	/* Its event-loop FIFOs go from the file system. */
	zcp__fd_reclaim(m, i);
	if (n >= 0 && err)
		n = err;
	ZCP__CRASH_POINT("reclaim.dropped");
	return n;
}

/* Whether slot i, read as w, is RECLAIMING by ourselves: another thread
 * of ours is cleaning it, or an earlier call of ours stopped on an error
 * (then we finish it). */
static int reclaiming_by_us(const struct zcp_mempool_manager *m, uint64_t w)
{
	return zcp__sid_state(w) == ZCP__SLOT_RECLAIMING && zcp__sid_rslot(w) == m->slot &&
	       zcp__sid_rinc(w) == (zcp__sid_inc(m->sid) & ZCP__SLOT_RINC_MASK);
}

/* One bit a slot in zcp_mempool_manager.cleaning. */
_Static_assert(ZCP_MAX_PROCESSES <= 64, "the cleaning mask holds a bit per process slot");

/* Slot i for this thread alone among ours: 1, or 0 if another thread of
 * ours is cleaning it.  The slot word cannot tell our threads apart: a
 * thread that read it as RECLAIMING by us while another one cleaned it
 * would clean it again after that one freed it, when it may be a new
 * process's, and drop that process's holder bits (its chunks back to the
 * pools while it holds them), empty its outbox, close its endpoints.
 * acq_rel: pairs with the release of the previous cleaner's
 * clean_end(), so its word transitions are seen by our re-read. */
static int clean_begin(struct zcp_mempool_manager *m, unsigned i)
{
	uint64_t bit = UINT64_C(1) << i;
	return !(atomic_fetch_or_explicit(&m->cleaning, bit, memory_order_acq_rel) & bit);
}

static void clean_end(struct zcp_mempool_manager *m, unsigned i)
{
	/* Release: pairs with clean_begin(). */
	atomic_fetch_and_explicit(&m->cleaning, ~(UINT64_C(1) << i), memory_order_release);
}

int zcp_mempool_manager_reclaim(zcp_mempool_manager *mgr, zcp_reclaim_report *out)
{
	zcp_reclaim_report rep = {0};
	int err = zcp__mgr_check_rw(mgr);
	if (err)
		return err;
	for (unsigned i = 0; i < mgr->geo.max_processes; i++) {
		if (i == mgr->slot)
			continue;
		/* Acquire: pairs with the release CAS of the slot's last
		 * transition.  Read before judging: see slot.c. */
		uint64_t w = atomic_load_explicit(&zcp__proc_at(mgr, i)->id, memory_order_acquire), mine;
		if (reclaiming_by_us(mgr, w)) {
			if (!clean_begin(mgr, i)) {
				rep.busy++; /* another thread of ours is on it */
				continue;
			}
			/* Still the word we read: no thread of ours was on it
			 * (an earlier call's, to go on with), or the one that
			 * was has stopped on an error.  Otherwise it freed the
			 * slot meanwhile (and the slot may be someone's now).
			 * Acquire: pairs with the release CAS of the slot's
			 * last transition. */
			if (atomic_load_explicit(&zcp__proc_at(mgr, i)->id, memory_order_acquire) != w) {
				clean_end(mgr, i);
				continue;
			}
			mine = w;
			/* As after zcp__slot_begin_reclaim(): the slot is ours
			 * to clean (a kill here leaves the same state). */
			ZCP__CRASH_POINT("reclaim.claimed");
		} else if (zcp__slot_orphaned(mgr, i, w)) {
			if (!clean_begin(mgr, i)) {
				rep.busy++;
				continue;
			}
			if (!zcp__slot_begin_reclaim(mgr, i, w, &mine)) {
				clean_end(mgr, i);
				continue; /* moved on: someone else acts */
			}
		} else {
			if (zcp__sid_state(w) == ZCP__SLOT_RECLAIMING)
				rep.busy++;
			continue;
		}
		uint64_t refs;
		long n = clean_slot(mgr, i, zcp__process_id(i, zcp__sid_inc(w)), mgr->slot, &refs);
		rep.references += refs;
		if (n < 0) {
			/* Stay its reclaimer: the next call goes on. */
			err = (int)n;
			clean_end(mgr, i);
			continue;
		}
		rep.chunks += (uint64_t)n;
		if (zcp__slot_end_reclaim(mgr, i, mine))
			rep.processes++;
		clean_end(mgr, i);
	}
	/* FIFOs of processes gone earlier that their reclaimers could not
	 * remove (another user's): ours to try (waitset.c). */
	zcp__fd_retry(mgr, 0);
	/* Tickets to receivers that died will never be taken. */
	rep.cancelled = zcp__escrow_cancel_dead(mgr);
	if (out)
		*out = rep;
	return err;
}

int zcp__slot_takeover(struct zcp_mempool_manager *m)
{
	for (unsigned i = 0; i < m->geo.max_processes; i++) {
		uint64_t w = atomic_load_explicit(&zcp__proc_at(m, i)->id, memory_order_acquire);
		if (!zcp__slot_orphaned(m, i, w))
			continue;
		int err = zcp__slot_claim(m, i, w, ZCP__SLOT_TAKEOVER);
		if (err == ZCP_EBUSY)
			continue;
		if (err)
			return err;
		/* The slot is ours; its dead predecessor's traces are ours to
		 * drop before we use it.  If that fails (a corrupted list),
		 * what is left is attributed to us and goes at our detach. */
		uint64_t refs;
		clean_slot(m, i, zcp__process_id(i, zcp__sid_inc(w)), i, &refs);
		return zcp__slot_set_live(m);
	}
	return ZCP_EUSERS;
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
	uint64_t w = atomic_load_explicit(&p->id, memory_order_acquire);
	memset(out, 0, sizeof *out);
	if (zcp__sid_state(w) == ZCP__SLOT_FREE)
		return 0;
	int64_t pid = atomic_load_explicit(&p->pid, memory_order_relaxed);
	out->pid = pid > 0 ? pid : -1;
	out->id = zcp__process_id((unsigned)slot, zcp__sid_inc(w));
	out->self = !mgr->read_only && (unsigned)slot == mgr->slot;
	out->alive = out->self || zcp__slot_alive(mgr, (unsigned)slot, w);
	out->reclaiming = zcp__sid_state(w) == ZCP__SLOT_RECLAIMING ||
			  zcp__sid_state(w) == ZCP__SLOT_TAKEOVER;
	out->lent_unsettled = zcp__escrow_unsettled(mgr, (unsigned)slot);
	uint64_t bit = UINT64_C(1) << slot;
	for (uint64_t g = 0; g < mgr->geo.total_chunks; g++) {
		uint64_t rw = atomic_load_explicit(&mgr->records[g].word, memory_order_relaxed);
		out->chunks += zcp__w_held_valid(rw) && (rw & bit);
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
	uint64_t id = atomic_load_explicit(&mgr->hdr->creator_id, memory_order_relaxed);
	return zcp__process_id_alive(mgr, id);
}

long zcp_mempool_manager_creator_pid(const zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	int64_t pid = atomic_load_explicit(&mgr->hdr->creator_pid, memory_order_relaxed);
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
		uint64_t h = atomic_load_explicit(&p->desc->head, memory_order_acquire);
		for (uint32_t k = 0; k < p->count; k++) {
			if (seen[k])
				continue;
			uint64_t w = atomic_load_explicit(&p->records[k].word, memory_order_acquire);
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

int zcp_mempool_manager_chunks(const zcp_mempool_manager *mgr, int slot,
			       int (*fn)(const zcp_chunk_info *info, void *arg), void *arg)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (!fn || slot < -1 || slot >= (int)mgr->geo.max_processes)
		return ZCP_EINVAL;
	uint64_t want = slot < 0 ? ZCP__W_HOLDERS_MASK : UINT64_C(1) << slot;
	uint64_t now = zcp__coarse_ns();
	for (uint64_t g = 0; g < mgr->geo.total_chunks; g++) {
		const struct zcp__record *r = &mgr->records[g];
		/* Relaxed: a snapshot, documented as such. */
		uint64_t w = atomic_load_explicit(&r->word, memory_order_relaxed);
		if (!zcp__w_held_valid(w) || !(w & want))
			continue;
		struct zcp__pool_view *p = zcp__pool_of((struct zcp_mempool_manager *)mgr, g);
		zcp_chunk_info info;
		memset(&info, 0, sizeof info);
		info.pool = (int)p->index;
		info.index = (uint32_t)(g - p->first);
		info.capacity = p->chunk_size;
		info.size = atomic_load_explicit(&r->size, memory_order_relaxed);
		if (info.size > info.capacity)
			info.size = info.capacity; /* a peer may have scribbled it */
		info.holders = zcp__w_holders(w);
		uint64_t taken = atomic_load_explicit(&r->taken, memory_order_relaxed);
		info.age_ns = taken && taken <= now ? now - taken : 0;
		uint64_t seq = zcp__full_gen(atomic_load_explicit(&r->seq, memory_order_relaxed), w);
		info.handle = zcp__handle_make(g, seq);
		int rc = fn(&info, arg);
		if (rc)
			return rc;
	}
	return 0;
}
