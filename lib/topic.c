/* SPDX-License-Identifier: MIT */
/* The topic table: its lock, finding and making topics, giving back what
 * closed and dead endpoints leave, and the discovery calls.  The layout
 * and the ring protocol are described in topic.h. */
#include "topic.h"

#include "crashpoint.h"
#include "record.h"
#include "wake.h"
#include "waitset.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long the lock is waited for while its holder is alive. */
#define LOCK_WAIT_NS 2000000000LL

uint64_t zcp__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int zcp__topics_lock(struct zcp_mempool_manager *m)
{
	if (m->read_only)
		return ZCP_EPERM;
	_Atomic uint64_t *l = &m->hdr->topics_lock;
	uint64_t start = 0;
	pthread_mutex_lock(&m->topics_mutex);
	for (unsigned i = 0;; i++) {
		uint64_t cur = 0;
		/* Acquire: what the last holder wrote under the lock is seen. */
		if (atomic_compare_exchange_strong_explicit(l, &cur, m->process_id,
							    memory_order_acquire, memory_order_relaxed))
			return 0;
		/* A holder that is gone (or a scribbled word naming nobody,
		 * or naming us: no thread of ours holds it) loses it:
		 * everything done under the lock is written so that the next
		 * holder can redo or finish it. */
		if ((cur == m->process_id || ((i & 15) == 0 && !zcp__process_id_alive(m, cur))) &&
		    atomic_compare_exchange_strong_explicit(l, &cur, m->process_id,
							    memory_order_acquire, memory_order_relaxed)) {
			/* A descriptor it was writing stays as it left it, but
			 * readers are no longer kept waiting for the end. */
			for (unsigned t = 0; t < m->geo.max_topics; t++) {
				_Atomic uint64_t *seq = &zcp__topic_at(m, t)->desc_seq;
				uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);
				if (s & 1)
					atomic_store_explicit(seq, s + 1, memory_order_release);
			}
			return 0;
		}
		if (i < 64) {
			sched_yield();
			continue;
		}
		uint64_t now = zcp__mono_ns();
		if (!start)
			start = now;
		else if (now - start > (uint64_t)LOCK_WAIT_NS) {
			pthread_mutex_unlock(&m->topics_mutex);
			return ZCP_EAGAIN;
		}
		struct timespec ts = {0, 50000};
		nanosleep(&ts, NULL);
	}
}

void zcp__topics_unlock(struct zcp_mempool_manager *m)
{
	uint64_t me = m->process_id;
	/* Release: pairs with the next holder's acquire.  A CAS: if a peer
	 * judged us dead and took it, it is theirs now. */
	atomic_compare_exchange_strong_explicit(&m->hdr->topics_lock, &me, 0, memory_order_release,
						memory_order_relaxed);
	pthread_mutex_unlock(&m->topics_mutex);
}

void zcp__topic_ring_bell(struct zcp_mempool_manager *m, unsigned t)
{
	struct zcp__topic *tp = zcp__topic_at(m, t);
	/* Whatever the caller changed (a tail, a publisher's state) before
	 * our look at the sleepers' mask below. */
	atomic_thread_fence(memory_order_seq_cst);
	atomic_fetch_add_explicit(&tp->bell, 1, memory_order_seq_cst);
	zcp__wake_all(&tp->bell);
	/* Sleepers that are waitsets sleep on their process's doorbell
	 * (waitset.c): ring it for each armed one.  Bounded by the local
	 * geometry; a scribbled owner names no slot, or a wrong one (a
	 * spurious wake-up). */
	_Atomic uint64_t *mask = zcp__sleepers(m, t);
	for (unsigned k = 0, n = zcp__sleeper_words(m); k < n; k++) {
		uint64_t w = atomic_load_explicit(&mask[k], memory_order_seq_cst);
		for (unsigned b = 0; w && b < 64; b++, w >>= 1) {
			unsigned i = k * 64 + b;
			if (!(w & 1) || i >= m->geo.max_subscribers)
				continue;
			struct zcp__subscriber_ep *sub = zcp__subscriber_at(m, t, i);
			if (atomic_load_explicit(&sub->armed, memory_order_seq_cst))
				zcp__doorbell_ring_owner(
					m, atomic_load_explicit(&sub->owner, memory_order_relaxed));
		}
	}
}

void zcp__topic_unblocked(struct zcp__topic *tp, struct zcp__publisher_ep *ep)
{
	uint32_t one = 1;
	if (!atomic_compare_exchange_strong_explicit(&ep->blocked, &one, 0, memory_order_relaxed,
						     memory_order_relaxed))
		return;
	/* Never below 0, whatever a peer wrote there. */
	uint32_t w = atomic_load_explicit(&tp->space_waiters, memory_order_relaxed);
	while (w && !atomic_compare_exchange_weak_explicit(&tp->space_waiters, &w, w - 1,
							   memory_order_seq_cst, memory_order_relaxed))
		;
}

void zcp__topic_ring_space(struct zcp__topic *tp)
{
	atomic_fetch_add_explicit(&tp->space_bell, 1, memory_order_seq_cst);
	zcp__wake_all(&tp->space_bell);
}

/* Subscriber i of topic t is gone: its sleeper bit goes (a dead sleeper
 * must not make every publish a system call), whoever sleeps on the
 * topic looks again, and a publisher blocked on its full queue goes on. */
static void free_subscriber(struct zcp_mempool_manager *m, unsigned t, unsigned i, uint64_t st)
{
	struct zcp__subscriber_ep *sub = zcp__subscriber_at(m, t, i);
	atomic_store_explicit(&sub->state, zcp__ep_word(ZCP__EP_FREE, zcp__ep_inc(st)),
			      memory_order_release);
	atomic_fetch_and_explicit(&zcp__sleepers(m, t)[i / 64], ~(UINT64_C(1) << (i % 64)),
				  memory_order_seq_cst);
	atomic_store_explicit(&sub->armed, 0, memory_order_relaxed);
	zcp__topic_space(zcp__topic_at(m, t));
}

void zcp__subscriber_freed(struct zcp_mempool_manager *m, unsigned t, unsigned i, uint64_t st)
{
	free_subscriber(m, t, i, st);
}

/* A NUL inside the n bytes of a shared name field. */
static int terminated(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

static uint64_t align_of(uint64_t a)
{
	return a ? a : 64;
}

void zcp__ring_evict(struct zcp_mempool_manager *m, struct zcp__ring_slot *s, uint64_t q)
{
	/* Relaxed: the ring's one writer reads its own store. */
	if (atomic_load_explicit(&s->pos, memory_order_relaxed) != q + 1)
		return;
	uint64_t h = atomic_load_explicit(&s->handle, memory_order_relaxed);
	/* Readers that saw q + 1 before this store either see 0 in their
	 * second look or find the chunk moved on when they acquire it
	 * (generation-checked): a lost sample, never a wrong one. */
	atomic_store_explicit(&s->pos, 0, memory_order_release);
	ZCP__CRASH_POINT("pub.evicting");
	uint64_t g1 = h >> ZCP__HANDLE_GEN_BITS;
	if (g1 == 0 || g1 > m->geo.total_chunks)
		return; /* scribbled: nothing we could give back */
	unsigned budget = ZCP__RETRY_LIMIT;
	zcp__record_drop_topic(zcp__pool_of(m, g1 - 1), g1 - 1, h & ZCP__HANDLE_GEN_MASK, m->slot,
			       &budget);
	/* An empty slot names nothing (reclaim looks at those that do). */
	atomic_store_explicit(&s->handle, 0, memory_order_relaxed);
}

/* Whether any ring or publish in progress other than publisher (t, j)
 * names handle h: then the topics' bit on its chunk is theirs. */
static int named_elsewhere(struct zcp_mempool_manager *m, unsigned t, unsigned j, uint64_t h)
{
	for (unsigned a = 0; a < m->geo.max_topics; a++) {
		for (unsigned b = 0; b < m->geo.max_publishers; b++) {
			if (a == t && b == j)
				continue;
			struct zcp__publisher_ep *ep = zcp__publisher_at(m, a, b);
			if (atomic_load_explicit(&ep->pending, memory_order_acquire) == h)
				return 1;
			struct zcp__ring_slot *r = zcp__ring(ep);
			for (unsigned k = 0; k < m->geo.ring_size; k++)
				if (atomic_load_explicit(&r[k].handle, memory_order_relaxed) == h &&
				    atomic_load_explicit(&r[k].pos, memory_order_relaxed) != 0)
					return 1;
		}
	}
	return 0;
}

/* Slots of publisher (t, j) caught between the two writes of an eviction
 * or of a publish cut short (pos 0, a handle left): give back what they
 * name, if the topics' bit is still set at that generation and no other
 * ring or publish names it (then the bit is theirs).  Idempotent: the
 * drop is generation-checked.  The ring's writer is gone or is us. */
static void release_orphans(struct zcp_mempool_manager *m, unsigned t, unsigned j, uint64_t keep_h)
{
	struct zcp__ring_slot *ring = zcp__ring(zcp__publisher_at(m, t, j));
	unsigned budget = ZCP__RETRY_LIMIT;
	for (uint64_t k = 0; k < m->geo.ring_size; k++) {
		if (atomic_load_explicit(&ring[k].pos, memory_order_acquire) != 0)
			continue;
		uint64_t h = atomic_load_explicit(&ring[k].handle, memory_order_relaxed);
		if (h == 0 || h == keep_h)
			continue;
		uint64_t g1 = h >> ZCP__HANDLE_GEN_BITS;
		if (g1 != 0 && g1 <= m->geo.total_chunks && !named_elsewhere(m, t, j, h))
			zcp__record_drop_topic(zcp__pool_of(m, g1 - 1), g1 - 1,
					       h & ZCP__HANDLE_GEN_MASK, m->slot, &budget);
		atomic_store_explicit(&ring[k].handle, 0, memory_order_relaxed);
	}
}

/* Publisher (t, j), LIVE, whose process is gone (or is us leaving):
 * finish its publish in progress or undo it, then close it.  Under the
 * lock.  A publish is either in the ring (slot pos = p + 1, tail may lag:
 * move it on) or not at all (give back the chunk it put the topics' bit
 * on). */
static void close_dead_publisher(struct zcp_mempool_manager *m, unsigned t, unsigned j)
{
	struct zcp__publisher_ep *ep = zcp__publisher_at(m, t, j);
	struct zcp__ring_slot *ring = zcp__ring(ep);
	uint64_t mask = m->geo.ring_size - 1;
	uint64_t tail = atomic_load_explicit(&ep->tail, memory_order_acquire);
	uint64_t pending = atomic_load_explicit(&ep->pending, memory_order_acquire);
	unsigned budget = ZCP__RETRY_LIMIT;

	/* Written but the tail not moved: delivered. */
	struct zcp__ring_slot *s = &ring[tail & mask];
	if (atomic_load_explicit(&s->pos, memory_order_acquire) == tail + 1)
		atomic_store_explicit(&ep->tail, ++tail, memory_order_release);
	/* Slots caught between their two writes (an eviction or a write cut
	 * short) give back what they name. */
	int in_ring = 0;
	for (uint64_t k = 0; k <= mask; k++)
		if (atomic_load_explicit(&ring[k].pos, memory_order_acquire) != 0 &&
		    atomic_load_explicit(&ring[k].handle, memory_order_relaxed) == pending)
			in_ring = 1;
	release_orphans(m, t, j, 0);
	/* The chunk it was publishing, if no slot took it: its topics' bit
	 * (set or not) is given back, unless another ring or publish names
	 * it (then the bit is theirs: ours was never set). */
	if (pending && !in_ring) {
		uint64_t g1 = pending >> ZCP__HANDLE_GEN_BITS;
		if (g1 != 0 && g1 <= m->geo.total_chunks && !named_elsewhere(m, t, j, pending))
			zcp__record_drop_topic(zcp__pool_of(m, g1 - 1), g1 - 1,
					       pending & ZCP__HANDLE_GEN_MASK, m->slot, &budget);
	}
	atomic_store_explicit(&ep->pending, 0, memory_order_relaxed);
	/* Killed while blocked (BLOCK): its count of waiters goes. */
	zcp__topic_unblocked(zcp__topic_at(m, t), ep);
	uint64_t st = atomic_load_explicit(&ep->state, memory_order_relaxed);
	/* Release: the repairs above before anyone sees CLOSED. */
	atomic_store_explicit(&ep->state, zcp__ep_word(ZCP__EP_CLOSED, zcp__ep_inc(st)),
			      memory_order_release);
}

/* A closed publisher's place becomes free; its count of samples moves to
 * the topic's, so zcp_topic_info.published keeps counting them.  The CAS:
 * of two sweepers, one frees it and counts. */
static void retire_publisher(struct zcp__topic *tp, struct zcp__publisher_ep *ep, uint64_t st)
{
	uint64_t tail = atomic_load_explicit(&ep->tail, memory_order_relaxed);
	uint64_t base = atomic_load_explicit(&ep->base, memory_order_relaxed);
	if (atomic_compare_exchange_strong_explicit(&ep->state, &st,
						    zcp__ep_word(ZCP__EP_FREE, zcp__ep_inc(st)),
						    memory_order_release, memory_order_relaxed) &&
	    tail >= base)
		atomic_fetch_add_explicit(&tp->published_retired, tail - base, memory_order_relaxed);
}

/* The position from which closed publisher (t, j) must keep its samples:
 * history, and every live subscriber's next read. */
static uint64_t keep_from(struct zcp_mempool_manager *m, unsigned t, unsigned j,
			  const struct zcp__topic *tp, uint64_t st)
{
	struct zcp__publisher_ep *ep = zcp__publisher_at(m, t, j);
	uint64_t tail = atomic_load_explicit(&ep->tail, memory_order_acquire);
	uint64_t base = atomic_load_explicit(&ep->base, memory_order_relaxed);
	uint64_t from = tail > tp->history ? tail - tp->history : 0;
	for (unsigned i = 0; i < m->geo.max_subscribers; i++) {
		struct zcp__subscriber_ep *sub = zcp__subscriber_at(m, t, i);
		if (zcp__ep_state(atomic_load_explicit(&sub->state, memory_order_acquire)) !=
		    ZCP__EP_LIVE)
			continue;
		struct zcp__cursor *c = &zcp__cursors(sub)[j];
		uint64_t f = atomic_load_explicit(&c->follows, memory_order_acquire);
		uint64_t pos = zcp__ep_inc(f) == zcp__ep_inc(st)
				       ? atomic_load_explicit(&c->pos, memory_order_relaxed)
				       : base; /* it has not read this one yet */
		if (pos < from)
			from = pos;
	}
	return from;
}

void zcp__topic_sweep(struct zcp_mempool_manager *m, unsigned t)
{
	struct zcp__topic *tp = zcp__topic_at(m, t);
	uint64_t mask = m->geo.ring_size - 1;
	for (unsigned i = 0; i < m->geo.max_subscribers; i++) {
		struct zcp__subscriber_ep *sub = zcp__subscriber_at(m, t, i);
		uint64_t st = atomic_load_explicit(&sub->state, memory_order_acquire);
		if (zcp__ep_state(st) == ZCP__EP_LIVE &&
		    !zcp__process_id_alive(m, atomic_load_explicit(&sub->owner, memory_order_relaxed)))
			free_subscriber(m, t, i, st);
	}
	for (unsigned j = 0; j < m->geo.max_publishers; j++) {
		struct zcp__publisher_ep *ep = zcp__publisher_at(m, t, j);
		uint64_t st = atomic_load_explicit(&ep->state, memory_order_acquire);
		if (zcp__ep_state(st) == ZCP__EP_LIVE &&
		    !zcp__process_id_alive(m, atomic_load_explicit(&ep->owner, memory_order_relaxed))) {
			close_dead_publisher(m, t, j);
			st = atomic_load_explicit(&ep->state, memory_order_acquire);
			/* A publisher gone: waitsets count publishers again. */
			zcp__topic_ring_bell(m, t);
		}
		if (zcp__ep_state(st) != ZCP__EP_CLOSED)
			continue;
		/* A sweeper killed inside an eviction left its slot half done. */
		release_orphans(m, t, j, 0);
		uint64_t tail = atomic_load_explicit(&ep->tail, memory_order_acquire);
		uint64_t done = atomic_load_explicit(&ep->released, memory_order_relaxed);
		uint64_t keep = zcp__topic_keep(tp->capacity, tp->history);
		uint64_t from = keep_from(m, t, j, tp, st);
		/* Evicted by the publisher already: all below tail - keep,
		 * but for the one a publish evicts after its tail (publisher.c)
		 * and which its death may have left. */
		if (tail > keep + 1 && done < tail - keep - 1)
			done = tail - keep - 1;
		if (from > tail)
			from = tail;
		/* Only the ring's slots can hold anything (and a scribbled
		 * count must not make this loop long). */
		if (from > done && from - done > m->geo.ring_size)
			done = from - m->geo.ring_size;
		for (uint64_t q = done; q < from; q++)
			zcp__ring_evict(m, &zcp__ring(ep)[q & mask], q);
		if (from > done)
			atomic_store_explicit(&ep->released, from, memory_order_relaxed);
		if (from >= tail)
			retire_publisher(tp, ep, st);
	}
}

void zcp__publisher_reuse(struct zcp_mempool_manager *m, unsigned t, unsigned j)
{
	struct zcp__publisher_ep *ep = zcp__publisher_at(m, t, j);
	uint64_t st = atomic_load_explicit(&ep->state, memory_order_acquire);
	if (zcp__ep_state(st) != ZCP__EP_CLOSED)
		return;
	uint64_t tail = atomic_load_explicit(&ep->tail, memory_order_acquire);
	uint64_t done = atomic_load_explicit(&ep->released, memory_order_relaxed);
	if (tail - done > m->geo.ring_size || done > tail)
		done = tail > m->geo.ring_size ? tail - m->geo.ring_size : 0;
	for (uint64_t q = done; q < tail; q++)
		zcp__ring_evict(m, &zcp__ring(ep)[q & (m->geo.ring_size - 1)], q);
	release_orphans(m, t, j, 0);
	atomic_store_explicit(&ep->released, tail, memory_order_relaxed);
	retire_publisher(zcp__topic_at(m, t), ep, st);
}

int zcp__topics_reclaim(struct zcp_mempool_manager *m, uint64_t dead)
{
	if (m->geo.max_topics == 0 || m->read_only)
		return 0;
	/* No topic in use: nothing to close, and no lock to take (reclaims
	 * and detaches of managers without topics stay independent). */
	unsigned live = 0;
	for (unsigned t = 0; t < m->geo.max_topics && !live; t++)
		live = zcp__ep_state(atomic_load_explicit(&zcp__topic_at(m, t)->state,
							  memory_order_acquire)) == ZCP__EP_LIVE;
	if (!live)
		return 0;
	int err = zcp__topics_lock(m);
	if (err)
		return err;
	for (unsigned t = 0; t < m->geo.max_topics; t++) {
		struct zcp__topic *tp = zcp__topic_at(m, t);
		if (zcp__ep_state(atomic_load_explicit(&tp->state, memory_order_acquire)) !=
		    ZCP__EP_LIVE)
			continue;
		int touched = 0;
		for (unsigned j = 0; j < m->geo.max_publishers; j++) {
			struct zcp__publisher_ep *ep = zcp__publisher_at(m, t, j);
			if (zcp__ep_state(atomic_load_explicit(&ep->state, memory_order_acquire)) ==
				    ZCP__EP_LIVE &&
			    atomic_load_explicit(&ep->owner, memory_order_relaxed) == dead) {
				close_dead_publisher(m, t, j);
				touched = 1;
			}
		}
		for (unsigned i = 0; i < m->geo.max_subscribers; i++) {
			struct zcp__subscriber_ep *sub = zcp__subscriber_at(m, t, i);
			uint64_t st = atomic_load_explicit(&sub->state, memory_order_acquire);
			if (zcp__ep_state(st) == ZCP__EP_LIVE &&
			    atomic_load_explicit(&sub->owner, memory_order_relaxed) == dead) {
				free_subscriber(m, t, i, st);
				touched = 1;
			}
		}
		if (touched) {
			ZCP__CRASH_POINT("topic.reclaimed");
			/* A publisher gone: its subscribers look again. */
			zcp__topic_ring_bell(m, t);
		}
		/* Every topic: a reclaimer killed before its sweep, or a slot
		 * taken over before its dead process's endpoints were closed,
		 * leaves work that names no process we know of now. */
		zcp__topic_sweep(m, t);
	}
	zcp__topics_unlock(m);
	return 0;
}

/* Whether topic entry tp, LIVE, has no endpoint left (after a sweep). */
static int topic_unused(struct zcp_mempool_manager *m, unsigned t)
{
	for (unsigned j = 0; j < m->geo.max_publishers; j++)
		if (zcp__ep_state(atomic_load_explicit(&zcp__publisher_at(m, t, j)->state,
						       memory_order_acquire)) != ZCP__EP_FREE)
			return 0;
	for (unsigned i = 0; i < m->geo.max_subscribers; i++)
		if (zcp__ep_state(atomic_load_explicit(&zcp__subscriber_at(m, t, i)->state,
						       memory_order_acquire)) != ZCP__EP_FREE)
			return 0;
	return 1;
}

/* The write side of tp's descriptor seqlock (topics lock held).  A
 * writer that died in between left it odd: still odd, and made even by
 * the next. */
static uint64_t desc_write_begin(struct zcp__topic *tp)
{
	uint64_t s = atomic_load_explicit(&tp->desc_seq, memory_order_relaxed) | 1;
	atomic_store_explicit(&tp->desc_seq, s, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	return s;
}

static void desc_write_end(struct zcp__topic *tp, uint64_t s)
{
	atomic_store_explicit(&tp->desc_seq, s + 1, memory_order_release);
}

/* The descriptor's fields are written and read (by read_desc(), without
 * the lock) with relaxed atomic accesses, byte by byte for the strings:
 * the seqlock decides which copy counts, and no access is a data race. */
#define DESC_PUT(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define DESC_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* str into the descriptor string dst[size], zero-filled. */
static void desc_put_str(char *dst, size_t size, const char *str)
{
	size_t n = strlen(str);
	for (size_t i = 0; i < size; i++)
		DESC_PUT(dst[i], i < n ? str[i] : '\0');
}

static void desc_get_str(char *out, const char *src, size_t size)
{
	for (size_t i = 0; i < size; i++)
		out[i] = DESC_GET(src[i]);
}

/* Write o's payload type into topic tp (inside desc_write_begin/end). */
static void set_type(struct zcp__topic *tp, const char *type, const zcp_topic_options *o,
		     uint64_t align)
{
	desc_put_str(tp->type_name, sizeof tp->type_name, type);
	DESC_PUT(tp->type_size, o->type_size);
	DESC_PUT(tp->type_align, align);
}

int zcp__topic_open(struct zcp_mempool_manager *m, const char *name, const zcp_topic_options *o,
		    int publisher)
{
	/* A subscriber that names no type takes whatever the topic carries. */
	int any = !publisher && !o->type_name && !o->type_size && !o->type_align;
	const char *type = o->type_name ? o->type_name : "";
	uint64_t align = align_of(o->type_align);
	if (zcp__name_valid(name, ZCP_TOPIC_NAME_MAX) || strlen(type) > ZCP_TYPE_NAME_MAX ||
	    (align & (align - 1)) != 0 || align > 4096 ||
	    (o->overflow != ZCP_OVERFLOW_DROP_OLDEST && o->overflow != ZCP_OVERFLOW_REJECT &&
	     o->overflow != ZCP_OVERFLOW_BLOCK))
		return ZCP_EINVAL;
	if (m->geo.max_topics == 0)
		return ZCP_ETOPICS;
	if (o->capacity == 0 || o->capacity > m->geo.ring_size || o->history > m->geo.ring_size)
		return ZCP_EINVAL;
	int free_t = -1;
	for (unsigned t = 0; t < m->geo.max_topics; t++) {
		struct zcp__topic *tp = zcp__topic_at(m, t);
		if (zcp__ep_state(atomic_load_explicit(&tp->state, memory_order_acquire)) !=
		    ZCP__EP_LIVE) {
			if (free_t < 0)
				free_t = (int)t;
			continue;
		}
		if (!terminated(tp->name, sizeof tp->name) || strcmp(tp->name, name) != 0)
			continue;
		if (!terminated(tp->type_name, sizeof tp->type_name) ||
		    tp->capacity == 0 || tp->capacity > m->geo.ring_size ||
		    tp->history > m->geo.ring_size)
			return ZCP_ECORRUPT;
		if (any)
			return (int)t;
		if (!tp->typed) {
			uint64_t s = desc_write_begin(tp);
			set_type(tp, type, o, align);
			tp->typed = 1;
			desc_write_end(tp, s);
			return (int)t;
		}
		if (strcmp(tp->type_name, type) != 0 || tp->type_size != o->type_size ||
		    align_of(tp->type_align) != align)
			return ZCP_ETYPE;
		return (int)t;
	}
	if (free_t < 0) {
		/* Full: a topic nobody uses any more makes room. */
		for (unsigned t = 0; t < m->geo.max_topics && free_t < 0; t++) {
			zcp__topic_sweep(m, t);
			if (topic_unused(m, t))
				free_t = (int)t;
		}
		if (free_t < 0)
			return ZCP_ETOPICS;
	}
	struct zcp__topic *tp = zcp__topic_at(m, (unsigned)free_t);
	uint64_t st = atomic_load_explicit(&tp->state, memory_order_relaxed);
	/* A recycled entry is LIVE all along: discovery may be reading it. */
	uint64_t s = desc_write_begin(tp);
	desc_put_str(tp->name, sizeof tp->name, name);
	set_type(tp, type, o, align);
	tp->typed = !any;
	DESC_PUT(tp->capacity, o->capacity);
	DESC_PUT(tp->history, o->history);
	desc_write_end(tp, s);
	atomic_store_explicit(&tp->pub_hwm, 0, memory_order_relaxed);
	atomic_store_explicit(&tp->blocking, 0, memory_order_relaxed);
	atomic_store_explicit(&tp->space_waiters, 0, memory_order_relaxed);
	atomic_store_explicit(&tp->published_retired, 0, memory_order_relaxed);
	/* Release: the fields above before anyone reads LIVE. */
	atomic_store_explicit(&tp->state, zcp__ep_word(ZCP__EP_LIVE, zcp__ep_inc(st) + 1),
			      memory_order_release);
	return free_t;
}

void zcp_topic_options_init(zcp_topic_options *o)
{
	if (!o)
		return;
	memset(o, 0, sizeof *o);
	o->capacity = 16;
	o->overflow = ZCP_OVERFLOW_DROP_OLDEST;
	o->block_timeout_ns = -1;
}

/* --- discovery ------------------------------------------------------------ */

int zcp_topic_slots(const zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check(mgr);
	return err ? err : (int)mgr->geo.max_topics;
}

int zcp_topic_endpoint_slots(const zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check(mgr);
	return err ? err : (int)(mgr->geo.max_publishers + mgr->geo.max_subscribers);
}

/* Samples waiting for subscriber (t, i) from publisher j, and those it
 * lost that it has not counted yet. */
static uint64_t waiting_from(const struct zcp_mempool_manager *m, unsigned t, unsigned i,
			     unsigned j, uint64_t keep, uint64_t *lost)
{
	struct zcp__publisher_ep *ep = zcp__publisher_at(m, t, j);
	uint64_t st = atomic_load_explicit(&ep->state, memory_order_acquire);
	if (zcp__ep_state(st) == ZCP__EP_FREE)
		return 0;
	struct zcp__cursor *c = &zcp__cursors(zcp__subscriber_at(m, t, i))[j];
	uint64_t tail = atomic_load_explicit(&ep->tail, memory_order_acquire);
	uint64_t pos = zcp__ep_inc(atomic_load_explicit(&c->follows, memory_order_acquire)) ==
				       zcp__ep_inc(st)
			       ? atomic_load_explicit(&c->pos, memory_order_relaxed)
			       : atomic_load_explicit(&ep->base, memory_order_relaxed);
	if (pos >= tail)
		return 0;
	if (tail - pos > keep) {
		*lost += tail - pos - keep;
		return keep;
	}
	return tail - pos;
}

/* Copy tp's descriptor into out whole: the read side of the seqlock.  A
 * writer holds the topics lock for microseconds, unless it is preempted:
 * tried 8 times, then yielding for up to 2 ms, then 1 ms apart until
 * 20 ms have passed (wall time, so that a loaded machine, where a yield
 * can cost a time slice, does not stretch it); then ZCP_EAGAIN (a writer
 * that died leaves it odd until the next holder of the lock takes the
 * lock over; a peer's scribble, for good). */
static int read_desc(const struct zcp__topic *tp, zcp_topic_info *out)
{
	uint64_t start = 0;
	for (int tries = 0;; tries++) {
		uint64_t s1 = atomic_load_explicit(&tp->desc_seq, memory_order_acquire);
		desc_get_str(out->name, tp->name, sizeof out->name);
		desc_get_str(out->type_name, tp->type_name, sizeof out->type_name);
		out->type_size = DESC_GET(tp->type_size);
		out->type_align = DESC_GET(tp->type_align);
		out->capacity = DESC_GET(tp->capacity);
		out->history = DESC_GET(tp->history);
		atomic_thread_fence(memory_order_acquire);
		if (!(s1 & 1) && atomic_load_explicit(&tp->desc_seq, memory_order_relaxed) == s1) {
			out->name[ZCP_TOPIC_NAME_MAX] = 0;
			out->type_name[ZCP_TYPE_NAME_MAX] = 0;
			return 0;
		}
		if (tries < 8)
			continue;
		uint64_t now = zcp__mono_ns();
		if (start == 0)
			start = now;
		if (now - start >= 20000000)
			break;
		if (now - start < 2000000) {
			sched_yield();
		} else {
			struct timespec ts = {0, 1000000};
			nanosleep(&ts, NULL);
		}
	}
	memset(out, 0, sizeof *out);
	return ZCP_EAGAIN;
}

/* How many samples publisher ep's ring keeps now (a snapshot). */
static uint64_t ring_kept(const zcp_mempool_manager *mgr, struct zcp__publisher_ep *ep)
{
	struct zcp__ring_slot *r = zcp__ring(ep);
	uint64_t n = 0;
	for (unsigned k = 0; k < mgr->geo.ring_size; k++)
		n += atomic_load_explicit(&r[k].pos, memory_order_relaxed) != 0;
	return n;
}

int zcp_topic_get_info(const zcp_mempool_manager *mgr, int index, zcp_topic_info *out)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (!out || index < 0 || (unsigned)index >= mgr->geo.max_topics)
		return ZCP_EINVAL;
	unsigned t = (unsigned)index;
	struct zcp__topic *tp = zcp__topic_at(mgr, t);
	if (zcp__ep_state(atomic_load_explicit(&tp->state, memory_order_acquire)) != ZCP__EP_LIVE)
		return ZCP_ENOENT;
	memset(out, 0, sizeof *out);
	if ((err = read_desc(tp, out)) != 0)
		return err;
	if (out->capacity == 0 || out->capacity > mgr->geo.ring_size || out->history > mgr->geo.ring_size)
		return ZCP_ECORRUPT;
	for (unsigned j = 0; j < mgr->geo.max_publishers; j++) {
		struct zcp__publisher_ep *ep = zcp__publisher_at(mgr, t, j);
		unsigned st = zcp__ep_state(atomic_load_explicit(&ep->state, memory_order_acquire));
		uint64_t kept = ring_kept(mgr, ep);
		out->publishers += st == ZCP__EP_LIVE;
		/* One that kept nothing is on its way to FREE (its close
		 * sweeps it under the lock): not a closed publisher. */
		out->closed_publishers += st == ZCP__EP_CLOSED && kept > 0;
		if (st != ZCP__EP_FREE) {
			uint64_t tail = atomic_load_explicit(&ep->tail, memory_order_relaxed);
			uint64_t base = atomic_load_explicit(&ep->base, memory_order_relaxed);
			out->published += tail >= base ? tail - base : 0;
		}
		out->kept += kept;
	}
	out->published += atomic_load_explicit(&tp->published_retired, memory_order_relaxed);
	uint64_t keep = zcp__topic_keep(out->capacity, out->history); /* the whole copy's */
	for (unsigned i = 0; i < mgr->geo.max_subscribers; i++) {
		struct zcp__subscriber_ep *sub = zcp__subscriber_at(mgr, t, i);
		if (zcp__ep_state(atomic_load_explicit(&sub->state, memory_order_acquire)) !=
		    ZCP__EP_LIVE)
			continue;
		out->subscribers++;
		out->lost += atomic_load_explicit(&sub->lost, memory_order_relaxed);
		for (unsigned j = 0; j < mgr->geo.max_publishers; j++)
			waiting_from(mgr, t, i, j, keep, &out->lost);
	}
	return 0;
}

int zcp_topic_get_endpoint(const zcp_mempool_manager *mgr, int index, int k, zcp_endpoint_info *out)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (!out || index < 0 || (unsigned)index >= mgr->geo.max_topics || k < 0 ||
	    (unsigned)k >= mgr->geo.max_publishers + mgr->geo.max_subscribers)
		return ZCP_EINVAL;
	unsigned t = (unsigned)index;
	struct zcp__topic *tp = zcp__topic_at(mgr, t);
	if (zcp__ep_state(atomic_load_explicit(&tp->state, memory_order_acquire)) != ZCP__EP_LIVE)
		return ZCP_ENOENT;
	memset(out, 0, sizeof *out);
	if ((unsigned)k < mgr->geo.max_publishers) {
		struct zcp__publisher_ep *ep = zcp__publisher_at(mgr, t, (unsigned)k);
		uint64_t st = atomic_load_explicit(&ep->state, memory_order_acquire);
		/* Closed and keeping nothing: being freed (see get_info). */
		if (zcp__ep_state(st) == ZCP__EP_FREE ||
		    (zcp__ep_state(st) == ZCP__EP_CLOSED && ring_kept(mgr, ep) == 0))
			return ZCP_ENOENT;
		out->kind = ZCP_ENDPOINT_PUBLISHER;
		out->closed = zcp__ep_state(st) == ZCP__EP_CLOSED;
		out->process = atomic_load_explicit(&ep->owner, memory_order_relaxed);
		int64_t pid = atomic_load_explicit(&ep->pid, memory_order_relaxed);
		out->pid = pid > 0 && pid <= INT32_MAX ? (long)pid : -1;
		out->id = ((zcp__ep_inc(st) & 0xFFFFFFFFu) << 32) | ((uint64_t)t << 10) | (unsigned)k;
		uint64_t tail = atomic_load_explicit(&ep->tail, memory_order_relaxed);
		uint64_t base = atomic_load_explicit(&ep->base, memory_order_relaxed);
		out->published = tail >= base ? tail - base : 0;
		out->rejected = atomic_load_explicit(&ep->rejected, memory_order_relaxed);
	} else {
		unsigned i = (unsigned)k - mgr->geo.max_publishers;
		struct zcp__subscriber_ep *sub = zcp__subscriber_at(mgr, t, i);
		uint64_t st = atomic_load_explicit(&sub->state, memory_order_acquire);
		if (zcp__ep_state(st) != ZCP__EP_LIVE)
			return ZCP_ENOENT;
		out->kind = ZCP_ENDPOINT_SUBSCRIBER;
		out->process = atomic_load_explicit(&sub->owner, memory_order_relaxed);
		int64_t pid = atomic_load_explicit(&sub->pid, memory_order_relaxed);
		out->pid = pid > 0 && pid <= INT32_MAX ? (long)pid : -1;
		out->taken = atomic_load_explicit(&sub->taken, memory_order_relaxed);
		out->lost = atomic_load_explicit(&sub->lost, memory_order_relaxed);
		uint64_t keep = zcp__topic_keep(DESC_GET(tp->capacity), DESC_GET(tp->history));
		if (keep > mgr->geo.ring_size)
			keep = mgr->geo.ring_size;
		for (unsigned j = 0; j < mgr->geo.max_publishers; j++)
			out->waiting += waiting_from(mgr, t, i, j, keep, &out->lost);
	}
	out->alive = out->process == mgr->process_id && !mgr->read_only
			     ? 1
			     : zcp__process_id_alive(mgr, out->process);
	return 0;
}
