/* SPDX-License-Identifier: MIT */
/* Topics: the shared table of publish/subscribe, its process-local
 * objects, and the calls publisher.c, subscriber.c and reclaim share.
 *
 * The table lives at the end of the management segment (header fields
 * topics_off, topic_size, ...): max_topics blocks of
 *
 *   [struct zcp__topic][max_publishers x publisher][max_subscribers x subscriber]
 *
 * A publisher owns a ring of ring_size slots (struct zcp__ring_slot).  Its
 * position p counts its samples; sample p sits in slot p % ring_size while
 * it is among the last `keep` = max(capacity, history) samples, and the
 * ring keeps a reference on it: the record's topics' bit (record.h).  A
 * chunk is in one ring at a time, so that one bit is a reference count.
 * The ring has one writer (its publisher; when that is gone, whoever
 * holds the topics lock), any number of readers: each subscriber keeps a
 * cursor per publisher (the position it reads next) and takes a sample by
 * acquiring its own reference on the chunk at the generation the slot
 * names.  So a subscriber's queue holds no reference of its own: a dead
 * subscriber leaves nothing to give back but the chunks it had taken (its
 * slot's bits, dropped by reclaim), and a dead or closed publisher's
 * samples stay readable until its subscribers have read them.
 *
 * A slot is a tiny seqlock: `pos` is p + 1 while it holds sample p, 0 while
 * its writer changes it.  A reader checks pos before and after reading the
 * handle; whatever it then reads is only a name, checked in full by the
 * acquire of the reference (the record's generation), so a scribbled or
 * stale slot costs a lost sample, never a wrong chunk.
 *
 * Rare changes (topics appearing, endpoints opening and closing, a dead
 * process's endpoints) take the manager's topics lock: a word holding the
 * taker's process id, taken over from a dead holder.  The hot paths
 * (publish, take) never take it.
 */
#ifndef ZCP_TOPIC_H
#define ZCP_TOPIC_H

#include "handle.h"

#include <zerocp/topic.h>

/* Limits of the run-time configuration (zcp_mempool_config_set_topics()). */
#define ZCP__TOPICS_MAX 4096u
#define ZCP__TRIGGERS_MAX 4096u
#define ZCP__TOPIC_ENDPOINTS_MAX 1024u
#define ZCP__RING_MAX 65536u

/* Endpoint and topic states: the low 2 bits of their state words; the
 * rest is an incarnation, +1 at every opening, so a cursor or a process
 * object that names an earlier one sees the difference. */
enum {
	ZCP__EP_FREE = 0,
	ZCP__EP_LIVE = 1,
	ZCP__EP_CLOSED = 2, /* a publisher gone: its ring is still read */
};
static inline unsigned zcp__ep_state(uint64_t w)
{
	return (unsigned)(w & 3);
}
static inline uint64_t zcp__ep_word(unsigned state, uint64_t inc)
{
	return (inc << 2) | state;
}
static inline uint64_t zcp__ep_inc(uint64_t w)
{
	return w >> 2;
}

struct zcp__topic {
	_Atomic uint64_t state; /* FREE, or LIVE once the fields below are written */
	char name[ZCP_TOPIC_NAME_MAX + 1];
	char type_name[ZCP_TYPE_NAME_MAX + 1];
	uint64_t type_size;
	uint64_t type_align;
	uint32_t capacity;
	uint32_t history;
	/* Publisher places ever opened: readers look no further.  Only
	 * grows, under the lock (a scribbled value is capped). */
	_Atomic uint32_t pub_hwm;
	/* The futex sleeping subscribers wait on; publishers bump it when
	 * the sleepers' mask (after the subscribers) is not empty. */
	_Atomic uint32_t bell;
	/* The type fields are fixed: by a publisher, or by a subscriber that
	 * named a type (0 while only any-type subscribers opened it). */
	uint32_t typed;
	/* ZCP_OVERFLOW_BLOCK: blocked publishers sleep on space_bell, counted
	 * in space_waiters; `blocking` is set once a BLOCK publisher opened,
	 * so takes on other topics skip the check (see zcp__topic_space()). */
	_Atomic uint32_t space_bell;
	_Atomic uint32_t space_waiters;
	_Atomic uint32_t blocking;
	/* Samples published by publishers whose places were freed since:
	 * zcp_topic_get_info() adds the live and closed ones' counts. */
	_Atomic uint64_t published_retired;
	/* A seqlock over name .. history for the readers that take no lock
	 * (zcp_topic_get_info()): odd while the topics lock's holder rewrites
	 * them (a topic entry recycled, a typeless topic given its type). */
	_Atomic uint64_t desc_seq;
	uint64_t reserved[7];
};

struct zcp__ring_slot {
	_Atomic uint64_t pos;    /* position + 1, 0 while written */
	_Atomic uint64_t handle; /* the sample's chunk, as a handle */
	_Atomic uint64_t stamp;  /* publish time (ns), orders publishers */
	_Atomic uint64_t offset; /* the payload's offset in the chunk */
};

struct zcp__publisher_ep {
	/* Read-mostly: written when the place opens and closes. */
	_Atomic uint64_t state;   /* FREE, LIVE, CLOSED | incarnation */
	_Atomic uint64_t owner;   /* process id (slot.h) */
	_Atomic int64_t pid;      /* informative */
	_Atomic uint64_t base;    /* first position of this incarnation */
	_Atomic uint64_t released; /* positions below are no longer in the ring */
	_Atomic uint32_t overflow;
	/* 1 while it is counted in its topic's space_waiters (BLOCK), so
	 * whoever closes it dead takes its count back. */
	_Atomic uint32_t blocked;
	uint64_t reserved1[2];
	/* What subscribers poll, alone on its line with a copy of the
	 * newest sample's slot: a subscriber that keeps up reads this one
	 * line, and the ring's lines stay in the publisher's cache.  The
	 * copy is a slot of its own (the same seqlock) and only a hint: whatever it names is checked by the
	 * reference's generation, as a slot's is. */
	_Alignas(64) _Atomic uint64_t tail; /* next position */
	struct zcp__ring_slot last;
	uint64_t reserved2[3];
	/* The publisher's own bookkeeping, off the polled lines. */
	_Alignas(64) _Atomic uint64_t pending; /* handle being published, 0 if none */
	_Atomic uint64_t rejected; /* publishes refused (ZCP_OVERFLOW_REJECT) */
	uint64_t reserved3[6];
	/* ring_size slots follow */
};

struct zcp__cursor {
	_Atomic uint64_t pos;  /* the position read next */
	_Atomic uint64_t follows; /* the publisher's state word it belongs to */
};

struct zcp__subscriber_ep {
	_Atomic uint64_t state;
	_Atomic uint64_t owner;
	_Atomic int64_t pid;
	_Atomic uint64_t lost;  /* samples lost to overflow, as last counted */
	_Atomic uint64_t taken;
	/* 1 while a waitset of its owner sleeps on it: publishers then ring
	 * the owner's doorbell too (waitset.c). */
	_Atomic uint64_t armed;
	uint64_t reserved[10];
	/* max_publishers cursors follow */
};

_Static_assert(sizeof(struct zcp__topic) == 256, "topic size");
_Static_assert(sizeof(struct zcp__ring_slot) == 32, "ring slot size");
_Static_assert(sizeof(struct zcp__publisher_ep) == 192, "publisher size");
_Static_assert(sizeof(struct zcp__subscriber_ep) == 128, "subscriber size");
_Static_assert(sizeof(struct zcp__cursor) == 16, "cursor size");

/* The seqlock's write side: slot s holds position p (readers that see
 * pos p + 1 see the rest). */
static inline void zcp__slot_write(struct zcp__ring_slot *s, uint64_t p, uint64_t handle,
				   uint64_t stamp, uint64_t offset)
{
	atomic_store_explicit(&s->pos, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&s->handle, handle, memory_order_relaxed);
	atomic_store_explicit(&s->stamp, stamp, memory_order_relaxed);
	atomic_store_explicit(&s->offset, offset, memory_order_relaxed);
	atomic_store_explicit(&s->pos, p + 1, memory_order_release);
}

/* The read side: 1 and the slot's fields if it holds position p whole. */
static inline int zcp__slot_read(struct zcp__ring_slot *s, uint64_t p, uint64_t *handle,
				 uint64_t *stamp, uint64_t *offset)
{
	uint64_t p1 = atomic_load_explicit(&s->pos, memory_order_acquire);
	uint64_t h = atomic_load_explicit(&s->handle, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&s->stamp, memory_order_relaxed);
	uint64_t o = atomic_load_explicit(&s->offset, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	uint64_t p2 = atomic_load_explicit(&s->pos, memory_order_relaxed);
	if (p1 != p + 1 || p2 != p1)
		return 0;
	*handle = h;
	*stamp = t;
	*offset = o;
	return 1;
}

/* Bytes of one topic block, or 0 on overflow. */
uint64_t zcp__topic_block_size(unsigned publishers, unsigned subscribers, unsigned ring);

static inline struct zcp__topic *zcp__topic_at(const struct zcp_mempool_manager *m, unsigned t)
{
	return (struct zcp__topic *)(m->mgmt + m->geo.topics_off + (uint64_t)t * m->geo.topic_size);
}
static inline uint64_t zcp__publisher_stride(const struct zcp_mempool_manager *m)
{
	return sizeof(struct zcp__publisher_ep) + (uint64_t)m->geo.ring_size * sizeof(struct zcp__ring_slot);
}
static inline uint64_t zcp__subscriber_stride(const struct zcp_mempool_manager *m)
{
	uint64_t n = sizeof(struct zcp__subscriber_ep) +
		     (uint64_t)m->geo.max_publishers * sizeof(struct zcp__cursor);
	return (n + 63) & ~(uint64_t)63;
}
static inline struct zcp__publisher_ep *zcp__publisher_at(const struct zcp_mempool_manager *m,
							  unsigned t, unsigned j)
{
	return (struct zcp__publisher_ep *)((unsigned char *)zcp__topic_at(m, t) +
					    sizeof(struct zcp__topic) +
					    (uint64_t)j * zcp__publisher_stride(m));
}
static inline struct zcp__ring_slot *zcp__ring(struct zcp__publisher_ep *ep)
{
	return (struct zcp__ring_slot *)(ep + 1);
}
static inline struct zcp__subscriber_ep *zcp__subscriber_at(const struct zcp_mempool_manager *m,
							    unsigned t, unsigned i)
{
	return (struct zcp__subscriber_ep *)((unsigned char *)zcp__topic_at(m, t) +
					     sizeof(struct zcp__topic) +
					     (uint64_t)m->geo.max_publishers * zcp__publisher_stride(m) +
					     (uint64_t)i * zcp__subscriber_stride(m));
}
static inline struct zcp__cursor *zcp__cursors(struct zcp__subscriber_ep *ep)
{
	return (struct zcp__cursor *)(ep + 1);
}
/* The sleepers' mask of topic t: bit i set while subscriber i sleeps. */
static inline _Atomic uint64_t *zcp__sleepers(const struct zcp_mempool_manager *m, unsigned t)
{
	return (_Atomic uint64_t *)((unsigned char *)zcp__topic_at(m, t) + sizeof(struct zcp__topic) +
				    (uint64_t)m->geo.max_publishers * zcp__publisher_stride(m) +
				    (uint64_t)m->geo.max_subscribers * zcp__subscriber_stride(m));
}
static inline unsigned zcp__sleeper_words(const struct zcp_mempool_manager *m)
{
	return (m->geo.max_subscribers + 63) / 64;
}

/* After a publish (its tail stored): wake the topic's sleepers if there
 * are any.  The protocol, with zcp_subscriber_wait():
 *   publisher: store tail; full fence; load the mask; if set: bump bell, wake
 *   subscriber: set its bit (a full barrier); read bell; look for samples;
 *               none: futex-wait while bell is unchanged; clear its bit
 * Either the publisher sees the bit, or the subscriber sees the sample;
 * and a bump after the subscriber read bell makes its wait return at
 * once.  So no wake-up is lost, and nobody asleep costs one fence.
 * A sleeper that is a waitset (its subscriber's `armed` set) sleeps on
 * its process's doorbell instead: zcp__topic_ring_bell() rings that too
 * (waitset.c states that protocol). */
void zcp__topic_ring_bell(struct zcp_mempool_manager *m, unsigned t);

/* A queue of topic t got room (a take, a subscriber gone): wake the
 * publishers blocked on it, if any.  The protocol, with a BLOCK publish:
 *   subscriber: store its cursor; full fence; load space_waiters;
 *               if set: bump space_bell, wake
 *   publisher:  space_waiters++ (full barrier); read space_bell; look at
 *               the cursors; still full: futex-wait while space_bell is
 *               unchanged; space_waiters--
 * Either the subscriber sees the waiter, or the publisher sees the
 * cursor.  Topics without a BLOCK publisher pay one relaxed load. */
void zcp__topic_ring_space(struct zcp__topic *tp);
/* A publisher no longer blocked (it returned, or it died blocked): if its
 * `blocked` flag was set, clear it and take its count from space_waiters. */
void zcp__topic_unblocked(struct zcp__topic *tp, struct zcp__publisher_ep *ep);
static inline void zcp__topic_space(struct zcp__topic *tp)
{
	if (ZCP_LIKELY(!atomic_load_explicit(&tp->blocking, memory_order_relaxed)))
		return;
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&tp->space_waiters, memory_order_relaxed))
		zcp__topic_ring_space(tp);
}
static inline void zcp__topic_wake(struct zcp_mempool_manager *m, unsigned t)
{
	atomic_thread_fence(memory_order_seq_cst);
	_Atomic uint64_t *mask = zcp__sleepers(m, t);
	for (unsigned k = 0, n = zcp__sleeper_words(m); k < n; k++)
		if (ZCP_UNLIKELY(atomic_load_explicit(&mask[k], memory_order_relaxed))) {
			zcp__topic_ring_bell(m, t);
			return;
		}
}

/* A topic's samples a ring keeps: max(capacity, history), at least 1,
 * at most ring_size (checked where the topic is made). */
static inline uint64_t zcp__topic_keep(uint32_t capacity, uint32_t history)
{
	uint64_t k = capacity > history ? capacity : history;
	return k ? k : 1;
}

/* The process-local objects. */
/* Evicted chunks a publisher keeps for its next loan (publisher.c). */
#define ZCP__PUBLISHER_SPARES 1
struct zcp_publisher {
	struct zcp_mempool_manager *m;
	struct zcp__topic *topic;
	struct zcp__publisher_ep *ep;
	struct zcp__ring_slot *ring;
	unsigned topic_index, index;
	uint64_t state;      /* our LIVE state word */
	uint64_t tail;       /* our copy of the next position */
	uint64_t keep;       /* samples the ring keeps */
	uint64_t capacity;   /* a subscriber's queue (REJECT checks it) */
	uint64_t id;         /* the origin subscribers see */
	uint64_t type_size, type_align;
	int overflow;
	int64_t block_timeout_ns;
	unsigned forks;
	/* Evicted samples taken back when the ring was their only holder
	 * (zcp__record_recycle()): the next loans, without a trip through
	 * the free list.  Held like any chunk of ours. */
	unsigned spares;
	uint64_t spare[ZCP__PUBLISHER_SPARES];
};

struct zcp__cursor_copy {
	uint64_t pos, follows;
};

struct zcp_subscriber {
	struct zcp_mempool_manager *m;
	struct zcp__topic *topic;
	struct zcp__subscriber_ep *ep;
	unsigned topic_index, index;
	uint64_t state;
	uint64_t capacity;
	uint64_t keep;
	uint64_t lost;
	unsigned forks;
	struct zcp_waitset *ws; /* the waitset it is attached to, or NULL */
	struct zcp__cursor_copy cur[]; /* max_publishers: ours, the shared copy is informative */
};

/* The topics lock (topic.c): 0, ZCP_EAGAIN after about two seconds of a
 * live holder, or ZCP_EPERM for a read-only handle. */
int zcp__topics_lock(struct zcp_mempool_manager *m);
void zcp__topics_unlock(struct zcp_mempool_manager *m);

/* Find topic `name`, or make it from opts (under the lock).  Checks the
 * payload type: ZCP_ETYPE if it differs, ZCP_ETOPICS if the table is full.
 * Returns the index or a negative error. */
int zcp__topic_open(struct zcp_mempool_manager *m, const char *name, const zcp_topic_options *o,
		    int publisher);

/* A topic's capacity and keep as a process may use them: whatever a peer
 * wrote there since it was checked, at least 1 and at most ring_size. */
static inline uint64_t zcp__clamp_ring(const struct zcp_mempool_manager *m, uint64_t v)
{
	return v == 0 ? 1 : v > m->geo.ring_size ? m->geo.ring_size : v;
}

/* Give back what ring slot s of publisher ep keeps as position q (pos
 * q + 1): mark it empty, then drop the topics' bit at the slot's
 * generation.  Under the lock or by the ring's own publisher. */
void zcp__ring_evict(struct zcp_mempool_manager *m, struct zcp__ring_slot *s, uint64_t q);

/* Under the lock: give back the samples of closed publishers of topic t
 * that no live subscriber can still read and history does not keep; free
 * endpoints whose process is gone. */
void zcp__topic_sweep(struct zcp_mempool_manager *m, unsigned t);

/* Under the lock: closed publisher j of topic t gives back all it keeps
 * (its subscribers lose what they had not read) and becomes FREE, for a
 * new publisher when no place is free. */
void zcp__publisher_reuse(struct zcp_mempool_manager *m, unsigned t, unsigned j);

/* The endpoints of process id `dead` (gone, or ourselves at detach):
 * finish or undo its publish in progress, close its publishers (their
 * rings stay for their readers), free its subscribers.  Takes the lock:
 * 0 or ZCP_EAGAIN. */
int zcp__topics_reclaim(struct zcp_mempool_manager *m, uint64_t dead);

/* Subscriber i of topic t, read as st, is closed: FREE, no sleeper bit.
 * Under the lock. */
void zcp__subscriber_freed(struct zcp_mempool_manager *m, unsigned t, unsigned i, uint64_t st);

/* Nanoseconds of CLOCK_REALTIME. */
uint64_t zcp__now_ns(void);

#endif /* ZCP_TOPIC_H */
