/* SPDX-License-Identifier: MIT */
/* Publishers: opening one on a topic, loaning chunks, publishing them into
 * the publisher's ring (topic.h), closing.
 *
 * A publish, in the order a kill may cut it (crash points by name):
 *   1. pending = the chunk's handle (what reclaim looks at if we die);
 *   2. one CAS on the chunk's record gives it the topics' bit, and when the
 *      caller holds one reference, clears the caller's bit in the same
 *      CAS: the reference becomes the ring's ("pub.moved");
 *   3. the sample that leaves the ring is evicted: its slot emptied, then
 *      its topics' bit dropped ("pub.evicting");
 *   4. the slot of position p written: pos 0, handle, pos p + 1, and
 *      its copy beside the tail ("pub.written");
 *   5. tail = p + 1: subscribers see it;  pending = 0.
 * A kill before 4 completes leaves a chunk nobody reads with the topics'
 * bit (reclaim drops it: the sample reached nobody); after it, the sample
 * is delivered (reclaim moves the tail on).  See close_dead_publisher().
 */
#include "topic.h"

#include "crashpoint.h"
#include "view.h"
#include "wake.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The options a NULL opts stands for. */
static const zcp_topic_options *opts_or_default(const zcp_topic_options *o, zcp_topic_options *d)
{
	if (o)
		return o;
	zcp_topic_options_init(d);
	return d;
}

int zcp_publisher_create(zcp_mempool_manager *mgr, const char *name, const zcp_topic_options *opts,
			 zcp_publisher **out)
{
	zcp_topic_options d;
	int err = zcp__mgr_check_rw(mgr);
	if (err)
		return err;
	if (!name || !out)
		return ZCP_EINVAL;
	opts = opts_or_default(opts, &d);
	struct zcp_publisher *pub = calloc(1, sizeof *pub);
	if (!pub)
		return ZCP_ENOMEM;
	if ((err = zcp__topics_lock(mgr))) {
		free(pub);
		return err;
	}
	int t = zcp__topic_open(mgr, name, opts, 1);
	if (t < 0) {
		err = t;
		goto fail;
	}
	zcp__topic_sweep(mgr, (unsigned)t);
	/* No free place: the closed publisher that published last longest
	 * ago makes room (a topic with history keeps closed rings). */
	unsigned oldest = mgr->geo.max_publishers, nfree = 0;
	uint64_t oldest_stamp = UINT64_MAX;
	for (unsigned j = 0; j < mgr->geo.max_publishers; j++) {
		struct zcp__publisher_ep *ep = zcp__publisher_at(mgr, (unsigned)t, j);
		uint64_t st = atomic_load_explicit(&ep->state, memory_order_acquire);
		nfree += zcp__ep_state(st) == ZCP__EP_FREE;
		if (zcp__ep_state(st) != ZCP__EP_CLOSED)
			continue;
		uint64_t tail = atomic_load_explicit(&ep->tail, memory_order_relaxed);
		uint64_t stamp = atomic_load_explicit(
			&zcp__ring(ep)[(tail - 1) & (mgr->geo.ring_size - 1)].stamp, memory_order_relaxed);
		if (stamp <= oldest_stamp) {
			oldest_stamp = stamp;
			oldest = j;
		}
	}
	if (nfree == 0 && oldest < mgr->geo.max_publishers)
		zcp__publisher_reuse(mgr, (unsigned)t, oldest);
	err = ZCP_EENDPOINTS;
	for (unsigned j = 0; j < mgr->geo.max_publishers; j++) {
		struct zcp__publisher_ep *ep = zcp__publisher_at(mgr, (unsigned)t, j);
		uint64_t st = atomic_load_explicit(&ep->state, memory_order_acquire);
		if (zcp__ep_state(st) != ZCP__EP_FREE)
			continue;
		/* Free: its ring is empty (swept).  Positions go on from
		 * the last incarnation's, so no cursor confuses the two. */
		uint64_t tail = atomic_load_explicit(&ep->tail, memory_order_relaxed);
		atomic_store_explicit(&ep->owner, mgr->process_id, memory_order_relaxed);
		atomic_store_explicit(&ep->pid, (int64_t)getpid(), memory_order_relaxed);
		atomic_store_explicit(&ep->base, tail, memory_order_relaxed);
		atomic_store_explicit(&ep->released, tail, memory_order_relaxed);
		atomic_store_explicit(&ep->pending, 0, memory_order_relaxed);
		atomic_store_explicit(&ep->last.pos, 0, memory_order_relaxed);
		atomic_store_explicit(&ep->rejected, 0, memory_order_relaxed);
		atomic_store_explicit(&ep->overflow, (uint32_t)opts->overflow, memory_order_relaxed);
		atomic_store_explicit(&ep->blocked, 0, memory_order_relaxed);
		pub->state = zcp__ep_word(ZCP__EP_LIVE, zcp__ep_inc(st) + 1);
		/* Release: the fields above before anyone reads LIVE. */
		atomic_store_explicit(&ep->state, pub->state, memory_order_release);
		struct zcp__topic *tp = zcp__topic_at(mgr, (unsigned)t);
		if (atomic_load_explicit(&tp->pub_hwm, memory_order_relaxed) <= j)
			/* Release: readers that see it see the place's state. */
			atomic_store_explicit(&tp->pub_hwm, j + 1, memory_order_release);
		/* A publisher appeared: waitsets asleep on the topic look. */
		zcp__topic_wake(mgr, (unsigned)t);
		pub->m = mgr;
		pub->topic = tp;
		pub->ep = ep;
		pub->ring = zcp__ring(ep);
		pub->topic_index = (unsigned)t;
		pub->index = j;
		pub->tail = tail;
		pub->capacity = zcp__clamp_ring(mgr, tp->capacity);
		pub->keep = zcp__clamp_ring(mgr, zcp__topic_keep(tp->capacity, tp->history));
		pub->type_size = tp->type_size;
		pub->type_align = tp->type_align < 64 || tp->type_align > 4096 ||
					  (tp->type_align & (tp->type_align - 1))
				  ? 64
				  : tp->type_align;
		pub->overflow = opts->overflow;
		pub->block_timeout_ns = opts->block_timeout_ns;
		if (opts->overflow == ZCP_OVERFLOW_BLOCK)
			/* From now on takes look for blocked publishers
			 * (zcp__topic_space()).  A take racing with this
			 * store may miss it: that costs our first wait at
			 * most one slice of wait_for_room(). */
			atomic_store_explicit(&tp->blocking, 1, memory_order_seq_cst);
		pub->forks = mgr->forks;
		pub->id = ((zcp__ep_inc(pub->state) & 0xFFFFFFFFu) << 32) | ((uint64_t)t << 10) | j;
		err = 0;
		break;
	}
fail:
	zcp__topics_unlock(mgr);
	if (err) {
		free(pub);
		return err;
	}
	*out = pub;
	return 0;
}

uint64_t zcp_publisher_id(const zcp_publisher *pub)
{
	return pub ? pub->id : 0;
}

/* A check of the chunk header: 0 never results from real fields. */
static uint64_t header_check(const struct zcp__chunk_header *h)
{
	uint64_t x = h->origin * UINT64_C(0x9E3779B97F4A7C15) ^ h->sequence ^
		     (h->stamp << 7) ^ (h->payload_off << 29) ^ h->gen ^ UINT64_C(0x5a43505341);
	return x ? x : 1;
}

static struct zcp__chunk_header *header_of(const zcp_chunk *c)
{
	unsigned char *data = atomic_load_explicit(&((zcp_chunk *)c)->data, memory_order_relaxed);
	return (struct zcp__chunk_header *)(data - ZCP__CHUNK_HEADER_SIZE);
}

/* The smallest pool whose chunks hold size bytes, or pool_count. */
static unsigned pool_for(const struct zcp_mempool_manager *m, uint64_t size)
{
	unsigned i = 0;
	while (i < m->geo.pool_count && m->geo.chunk_size[i] < size)
		i++;
	return i;
}

/* A spare of pool i, or NULL. */
static zcp_chunk *take_spare(struct zcp_publisher *pub, unsigned i, uint64_t size)
{
	struct zcp_mempool_manager *m = pub->m;
	for (unsigned k = pub->spares; k-- > 0;) {
		uint64_t gidx = pub->spare[k];
		zcp_chunk *c = &m->chunks[gidx];
		if (atomic_load_explicit(&c->pool, memory_order_relaxed) != i)
			continue;
		pub->spare[k] = pub->spare[--pub->spares];
		/* Relaxed: published by the release CAS of its publish. */
		atomic_store_explicit(&m->records[gidx].size, size, memory_order_relaxed);
		if (m->pools[i].ages)
			atomic_store_explicit(&m->records[gidx].taken, zcp__coarse_ns(),
					      memory_order_relaxed);
		zcp__resolved_forget();
		return c;
	}
	return NULL;
}

/* Our spares back to their pools (a loan of another pool, a close).  A
 * release that fails leaves the chunk held by this process, for its
 * detach or reclaim: nothing better to do with it here. */
static void give_back_spares(struct zcp_publisher *pub)
{
	while (pub->spares)
		(void)zcp_chunk_release(pub->m, &pub->m->chunks[pub->spare[--pub->spares]]);
}

zcp_chunk *zcp_publisher_loan_aligned(zcp_publisher *pub, uint64_t size, uint64_t align)
{
	if (!pub)
		return zcp__fail_null(ZCP_EINVAL);
	if ((align & (align - 1)) != 0 || align > 4096)
		return zcp__fail_null(ZCP_EINVAL);
	if (align < pub->type_align)
		align = pub->type_align;
	if (size == 0)
		size = pub->type_size;
	if (size == 0 || (pub->type_size && size != pub->type_size))
		return zcp__fail_null(ZCP_EINVAL);
	uint64_t room = size + (align > 64 ? align - 64 : 0);
	if (room < size) /* larger than any chunk, as zcp_chunk_get() says */
		return zcp__fail_null(ZCP_E2BIG);
	int err = zcp__mgr_check_rw(pub->m);
	if (err)
		return zcp__fail_null(err);
	zcp_chunk *c = pub->spares ? take_spare(pub, pool_for(pub->m, room), room) : NULL;
	if (!c && pub->spares)
		give_back_spares(pub); /* of another pool: not ours to keep now */
	if (!c && !(c = zcp_chunk_get(pub->m, room)))
		return NULL;
	/* The sample's size, not the room taken for its alignment: what
	 * zcp_chunk_size() tells subscribers. */
	atomic_store_explicit(&pub->m->records[c - pub->m->chunks].size, size, memory_order_relaxed);
	struct zcp__chunk_header *h = header_of(c);
	uintptr_t data = (uintptr_t)zcp_chunk_data(c);
	/* The payload starts at the first aligned byte; its offset is in the
	 * header, tied to this generation of the chunk. */
	h->payload_off = (uint64_t)((align - (data & (align - 1))) & (align - 1));
	atomic_store_explicit(&c->sample_off, (uint32_t)h->payload_off, memory_order_relaxed);
	h->gen = atomic_load_explicit(&c->seq, memory_order_relaxed);
	h->check = 0;
	return c;
}

zcp_chunk *zcp_publisher_loan(zcp_publisher *pub, uint64_t size)
{
	return zcp_publisher_loan_aligned(pub, size, 0);
}

void *zcp_sample_data(const zcp_chunk *chunk)
{
	if (!chunk)
		return NULL;
	zcp_chunk *c = (zcp_chunk *)chunk;
	unsigned char *data = atomic_load_explicit(&c->data, memory_order_relaxed);
	/* Process memory, checked where it was set (loan, take). */
	uint32_t off = atomic_load_explicit(&c->sample_off, memory_order_relaxed);
	return data ? data + off : NULL;
}

int zcp_chunk_sample_info(const zcp_chunk *chunk, zcp_sample_info *out)
{
	if (!chunk || !out || !zcp_chunk_data(chunk))
		return ZCP_EINVAL;
	struct zcp__chunk_header h;
	memcpy(&h, header_of(chunk), sizeof h);
	/* A view bound from a handle knows 38 bits of the generation. */
	if (h.check != header_check(&h) ||
	    ((h.gen ^ atomic_load_explicit(&((zcp_chunk *)chunk)->seq, memory_order_relaxed)) &
	     ZCP__HANDLE_GEN_MASK))
		return ZCP_ENOENT;
	out->origin = h.origin;
	out->sequence = h.sequence;
	out->timestamp_ns = h.stamp;
	return 0;
}

/* ZCP_OVERFLOW_REJECT: whether a live subscriber has `capacity` samples of
 * ours waiting.  Its cursor is its own to write; a stale one only makes us
 * refuse sooner. */
static int some_queue_full(const struct zcp_publisher *pub, uint64_t p)
{
	struct zcp_mempool_manager *m = pub->m;
	uint64_t base = atomic_load_explicit(&pub->ep->base, memory_order_relaxed);
	for (unsigned i = 0; i < m->geo.max_subscribers; i++) {
		struct zcp__subscriber_ep *sub = zcp__subscriber_at(m, pub->topic_index, i);
		if (zcp__ep_state(atomic_load_explicit(&sub->state, memory_order_acquire)) !=
		    ZCP__EP_LIVE)
			continue;
		struct zcp__cursor *c = &zcp__cursors(sub)[pub->index];
		uint64_t pos = zcp__ep_inc(atomic_load_explicit(&c->follows, memory_order_acquire)) ==
					       zcp__ep_inc(pub->state)
				       ? atomic_load_explicit(&c->pos, memory_order_acquire)
				       : base;
		if (pos <= p && p - pos >= pub->capacity)
			return 1;
	}
	return 0;
}

/* Evict position q from our own ring: empty its slot, then take the
 * sample back as a spare if the ring was its only holder (no trip through
 * the free list), else drop the ring's reference.  A spare is kept only
 * while its pool has another chunk free: keeping the last one would
 * leave every other process without (topic.h: a publisher holds at most
 * one chunk besides its ring). */
static void evict_own(struct zcp_publisher *pub, struct zcp__ring_slot *s, uint64_t q)
{
	struct zcp_mempool_manager *m = pub->m;
	if (pub->spares == ZCP__PUBLISHER_SPARES ||
	    atomic_load_explicit(&s->pos, memory_order_relaxed) != q + 1) {
		zcp__ring_evict(m, s, q);
		return;
	}
	uint64_t h = atomic_load_explicit(&s->handle, memory_order_relaxed);
	uint64_t g1 = h >> ZCP__HANDLE_GEN_BITS, gen = h & ZCP__HANDLE_GEN_MASK;
	if (g1 == 0 || g1 > m->geo.total_chunks) {
		zcp__ring_evict(m, s, q);
		return;
	}
	zcp_chunk *c = &m->chunks[g1 - 1];
	/* Its pool: the view's, bound when we published it (the usual
	 * case); else found from the index. */
	unsigned pool = atomic_load_explicit(&c->pool, memory_order_relaxed);
	struct zcp__pool_view *pv =
		ZCP_LIKELY(atomic_load_explicit(&c->mgr, memory_order_relaxed) == m &&
			   pool < m->geo.pool_count)
			? &m->pools[pool]
			: zcp__pool_of(m, g1 - 1);
	if (!zcp__freelist_has_other(pv, (uint32_t)(g1 - 1 - pv->first))) {
		zcp__ring_evict(m, s, q);
		return;
	}
	uint32_t n = 0;
	/* Our view crosses zero (view.h) around the recycle: a thread of
	 * ours holding the old sample keeps it (the CAS fails: refs > 0). */
	if (!atomic_compare_exchange_strong_explicit(&c->refs, &n, ZCP__VIEW_PENDING,
						     memory_order_acq_rel, memory_order_acquire)) {
		zcp__ring_evict(m, s, q);
		return;
	}
	/* Readers that saw q + 1 find pos changed, or the generation moved. */
	atomic_store_explicit(&s->pos, 0, memory_order_release);
	ZCP__CRASH_POINT("pub.evicting");
	uint64_t next = zcp__record_recycle(&m->records[g1 - 1], gen, m->slot);
	if (next) {
		/* Bound already if we published it (the usual case): then only
		 * the generation is new.  A scribbled slot can name a chunk we
		 * never had: bind it. */
		if (ZCP_LIKELY(atomic_load_explicit(&c->mgr, memory_order_relaxed) == m))
			atomic_store_explicit(&c->seq, next, memory_order_relaxed);
		else
			zcp__bind_view(m, c, g1 - 1, next);
		atomic_store_explicit(&c->claimed, 1, memory_order_relaxed);
		pub->spare[pub->spares++] = g1 - 1;
	} else {
		unsigned budget = ZCP__RETRY_LIMIT;
		zcp__record_drop_topic(zcp__pool_of(m, g1 - 1), g1 - 1, gen, m->slot, &budget);
	}
	atomic_store_explicit(&s->handle, 0, memory_order_relaxed);
	/* Release: ends the crossing (zcp__view_settle()). */
	atomic_store_explicit(&c->refs, next ? 1 : 0, memory_order_release);
}

/* ZCP_OVERFLOW_BLOCK: sleep until no live subscriber has `capacity`
 * samples of ours waiting (the protocol is at zcp__topic_space()).
 * Every 100 ms, reclaim: a dead subscriber's queue never drains, its
 * reclaim frees it.  Signals are held for the whole wait and looked at
 * between naps of at most 10 ms, so one that comes at any moment ends
 * the wait (with ZCP_EINTR if it has a handler) within 10 ms: a futex
 * wait alone loses a signal that lands just before it sleeps (wake.h).
 * Returns 0, ZCP_ETIMEDOUT or ZCP_EINTR. */
#define ZCP__BLOCK_RECLAIM_NS 100000000
#define ZCP__BLOCK_NAP_NS 10000000
static int wait_for_room(struct zcp_publisher *pub, uint64_t p)
{
	struct zcp__topic *tp = pub->topic;
	int64_t limit = pub->block_timeout_ns;
	if (limit == 0)
		return ZCP_ETIMEDOUT;
	int64_t now = (int64_t)zcp__mono_ns();
	/* Negative: no limit; a huge one saturates instead of wrapping. */
	int64_t end = limit > 0 && limit < INT64_MAX - now ? now + limit : INT64_MAX;
	int64_t next_reclaim = now + ZCP__BLOCK_RECLAIM_NS;
	int err = 0;
	zcp__held_signals held;
	zcp__signals_hold(&held);
	atomic_store_explicit(&pub->ep->blocked, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&tp->space_waiters, 1, memory_order_seq_cst);
	for (;;) {
		atomic_thread_fence(memory_order_seq_cst);
		uint32_t seen = atomic_load_explicit(&tp->space_bell, memory_order_seq_cst);
		if (!some_queue_full(pub, p))
			break;
		now = (int64_t)zcp__mono_ns();
		if (now >= end) {
			err = ZCP_ETIMEDOUT;
			break;
		}
		if (zcp__signals_arrived(&held)) {
			err = ZCP_EINTR;
			break;
		}
		if (now >= next_reclaim) {
			zcp_mempool_manager_reclaim(pub->m, NULL);
			next_reclaim = now + ZCP__BLOCK_RECLAIM_NS;
			continue;
		}
		int64_t wake = next_reclaim < end ? next_reclaim : end;
		int64_t nap = wake - now < ZCP__BLOCK_NAP_NS ? wake - now : ZCP__BLOCK_NAP_NS;
		struct timespec deadline;
		zcp__deadline_in(&deadline, nap);
		int w = zcp__wait_on(&tp->space_bell, seen, &deadline);
		if (w != 0 && w != ZCP_ETIMEDOUT && w != ZCP_EINTR) {
			err = w;
			break;
		}
	}
	/* Ours back, unless a reclaim judged us dead and took it already. */
	zcp__topic_unblocked(tp, pub->ep);
	zcp__signals_release(&held);
	return err;
}

int zcp_publisher_publish(zcp_publisher *pub, zcp_chunk *chunk)
{
	if (!pub)
		return ZCP_EINVAL;
	struct zcp_mempool_manager *m = pub->m;
	uint64_t gidx;
	int err = zcp__view_check(m, chunk, &gidx);
	if (err)
		return err;
	uint64_t p = pub->tail;
	if (pub->overflow != ZCP_OVERFLOW_DROP_OLDEST && some_queue_full(pub, p)) {
		err = pub->overflow == ZCP_OVERFLOW_BLOCK ? wait_for_room(pub, p) : ZCP_EFULL;
		if (err) {
			atomic_fetch_add_explicit(&pub->ep->rejected, 1, memory_order_relaxed);
			return err;
		}
	}
	uint64_t gen = atomic_load_explicit(&chunk->seq, memory_order_relaxed);
	uint64_t h = zcp__handle_make(gidx, gen);
	struct zcp__chunk_header *hd = header_of(chunk);
	/* Not loaned by a publisher (a plain chunk): no payload offset. */
	uint64_t off = hd->gen == gen ? hd->payload_off : 0;
	/* A typed topic's subscribers read type_size bytes at the payload:
	 * the sample must be that big (its size as asked for, which
	 * zcp_chunk_size() tells them), and fit its chunk. */
	if (pub->type_size && (off >= zcp_chunk_capacity(chunk) ||
			       zcp_chunk_capacity(chunk) - off < pub->type_size ||
			       zcp_chunk_size(chunk) < pub->type_size))
		return ZCP_EINVAL;

	/* Relaxed: the CAS below (acq_rel) orders it before the topics' bit,
	 * which is what reclaim reads it for. */
	atomic_store_explicit(&pub->ep->pending, h, memory_order_relaxed);
	/* Our only reference becomes the ring's: cross our count to zero
	 * (PENDING, view.h) around the CAS that moves the bit. */
	uint32_t n = 1;
	int move = atomic_compare_exchange_strong_explicit(&chunk->refs, &n, ZCP__VIEW_PENDING,
							   memory_order_acq_rel, memory_order_acquire);
	if (!move && (n == 0 || n == ZCP__VIEW_PENDING)) {
		atomic_store_explicit(&pub->ep->pending, 0, memory_order_relaxed);
		return n == 0 ? ZCP_EALREADY : ZCP_EAGAIN;
	}
	err = zcp__record_to_topic(&m->records[gidx], gen, m->slot, move);
	ZCP__CRASH_POINT("pub.moved");
	if (move)
		/* Release: ends the crossing (zcp__view_settle()). */
		atomic_store_explicit(&chunk->refs, err ? 1 : 0, memory_order_release);
	if (err) {
		atomic_store_explicit(&pub->ep->pending, 0, memory_order_relaxed);
		return err;
	}
	if (!move)
		zcp__view_release(m, chunk, gidx); /* one of several: no crossing */
	/* The description, now that the chunk is ours to publish (a refused
	 * publish must not touch a sample others read).  Subscribers see it
	 * through the tail's release store below. */
	uint64_t stamp = zcp__now_ns();
	hd->payload_off = off;
	hd->origin = pub->id;
	hd->sequence = p - atomic_load_explicit(&pub->ep->base, memory_order_relaxed);
	hd->stamp = stamp;
	hd->gen = gen;
	hd->check = header_check(hd);

	uint64_t mask = m->geo.ring_size - 1;
	uint64_t base = atomic_load_explicit(&pub->ep->base, memory_order_relaxed);
	/* The eviction of position p - keep: after the tail when its slot is
	 * not ours to write, so the CAS that gives it back (a line a
	 * subscriber wrote last) does not delay the sample.  The ring then
	 * keeps keep + 1 samples for a moment; sweeps know (topic.c). */
	int evict = p - base >= pub->keep;
	int evict_later = evict && pub->keep < m->geo.ring_size;
	if (evict && !evict_later)
		evict_own(pub, &pub->ring[(p - pub->keep) & mask], p - pub->keep);
	struct zcp__ring_slot *s = &pub->ring[p & mask];
	zcp__slot_write(s, p, h, stamp, off);
	zcp__slot_write(&pub->ep->last, p, h, stamp, off); /* its copy beside the tail */
	ZCP__CRASH_POINT("pub.written");
	/* Release: the slot, the header and (through the record CAS) the
	 * payload before a subscriber's acquire load of the tail. */
	atomic_store_explicit(&pub->ep->tail, p + 1, memory_order_release);
	pub->tail = p + 1;
	atomic_store_explicit(&pub->ep->pending, 0, memory_order_relaxed);
	zcp__topic_wake(m, pub->topic_index);
	if (evict_later)
		evict_own(pub, &pub->ring[(p - pub->keep) & mask], p - pub->keep);
	return 0;
}

int zcp_publisher_close(zcp_publisher *pub)
{
	if (!pub)
		return 0;
	struct zcp_mempool_manager *m = pub->m;
	int err = zcp__mgr_check(m);
	if (err == ZCP_ECHILD) {
		free(pub); /* the parent's: not ours to close */
		return 0;
	}
	/* Our spares are plain chunks of ours. */
	if (!err)
		give_back_spares(pub);
	if (!err)
		err = zcp__topics_lock(m);
	if (!err) {
		/* Still ours (reclaim of a process judged dead could have
		 * closed it): then CLOSED; its ring stays for its readers. */
		uint64_t st = pub->state;
		atomic_compare_exchange_strong_explicit(&pub->ep->state, &st,
							zcp__ep_word(ZCP__EP_CLOSED, zcp__ep_inc(st)),
							memory_order_release, memory_order_relaxed);
		zcp__topic_sweep(m, pub->topic_index);
		zcp__topic_ring_bell(m, pub->topic_index);
		zcp__topics_unlock(m);
	}
	free(pub);
	return err;
}
