/* SPDX-License-Identifier: MIT */
/*
 * zerocp/topic.h - publish/subscribe: zero-copy topics over a manager's pools.
 *
 * A publisher loans a chunk from the manager's pools, writes its sample in
 * place and publishes it on a named topic; every subscriber of the topic
 * then takes a reference to that same chunk (no copy) and releases it with
 * zcp_chunk_release() when done.  A chunk goes back to its pool when the
 * last subscriber has released it and its publisher's ring no longer
 * keeps it, with one exception: a publisher may keep back one chunk its
 * ring let go of, for its next loan of that size (no trip through the
 * pool's free list), and only while that pool has another chunk free.
 * It gives it back at its next loan from another pool and at close.  So
 * size a pool for the rings of its publishers (K samples each, below),
 * what subscribers hold, and one chunk more per publisher.
 *
 * Delivery.  Each publisher keeps its last K samples in a ring in shared
 * memory, K = max(capacity, history) of the topic (zcp_topic_options).  A
 * subscriber reads each publisher's ring from its own position: per
 * publisher it sees the samples in publish order, each at most once; a
 * subscriber that falls more than `capacity` samples behind a publisher
 * loses the oldest (ZCP_OVERFLOW_DROP_OLDEST: counted by
 * zcp_subscriber_lost()), or the publisher is refused with ZCP_EFULL
 * (ZCP_OVERFLOW_REJECT).  With DROP_OLDEST a sample is lost only when
 * the ring lets it go: with history above capacity, a subscriber may
 * have up to `history` samples waiting, and loses what is older.  A subscriber made after a publisher first gets
 * that publisher's last `history` samples; one made before gets all of
 * them.  Across publishers, zcp_subscriber_take() returns the sample
 * published first.
 *
 * Crashes.  A subscriber that dies leaves nothing behind once its manager
 * handle's process is reclaimed (zcp_mempool_manager_reclaim()): its queue
 * holds no reference of its own.  A publisher that dies or closes leaves its
 * published samples readable by its subscribers until they have read them
 * (or, with history, until the ring is reused); a publish it was in the
 * middle of is delivered to every subscriber or to none.
 *
 * Types.  A topic has a payload type (name, size, alignment) set by the
 * first publisher, or the first subscriber that names one; a publisher or
 * subscriber that names another type gets ZCP_ETYPE.  A subscriber whose
 * options name no type (type_name NULL, size and alignment 0: the
 * defaults) takes any type, as inspection tools do.  Payloads are 64-byte aligned; a larger alignment (a power of
 * two up to 4096) is honoured at loan time: zcp_sample_data() returns the
 * aligned payload, for publisher and subscribers alike.
 *
 * Threads.  A zcp_publisher and a zcp_subscriber are each used by one thread
 * at a time (calls on one object do not run beside each other); different
 * publishers and subscribers, of the same topic or not, in the same process
 * or not, run beside each other and beside every other call of the library.
 * Publish and take are lock-free and make no system call (publish makes one
 * to wake sleeping subscribers, only when there are some); create and close
 * take the manager's topics lock (a few microseconds; a dead holder's lock is
 * taken over, a live one is waited for up to about two seconds: ZCP_EAGAIN).
 * Calls that return a chunk return NULL with errno set to the negated code.
 *
 * Limits are set at run time in the manager's configuration
 * (zcp_mempool_config_set_topics()); running out answers ZCP_ETOPICS (no
 * free topic) or ZCP_EENDPOINTS (no free publisher or subscriber place).
 */
#ifndef ZEROCP_TOPIC_H
#define ZEROCP_TOPIC_H

#include <stdint.h>

#include <zerocp/common.h>
#include <zerocp/chunk.h>
#include <zerocp/pool.h>

ZCP_BEGIN_DECLS

#define ZCP_TOPIC_NAME_MAX 63 /* characters of a topic name */
#define ZCP_TYPE_NAME_MAX 63  /* characters of a payload type name */
#define ZCP_DEFAULT_TOPICS 16
#define ZCP_DEFAULT_TOPIC_PUBLISHERS 8
#define ZCP_DEFAULT_TOPIC_SUBSCRIBERS 16
#define ZCP_DEFAULT_TOPIC_QUEUE 64

/* What a publisher does when a subscriber's queue is full. */
enum zcp_overflow {
	ZCP_OVERFLOW_DROP_OLDEST = 0, /* the oldest sample is lost for it (counted) */
	ZCP_OVERFLOW_REJECT = 1,      /* publish fails with ZCP_EFULL; the caller keeps its chunk */
	ZCP_OVERFLOW_BLOCK = 2,       /* publish waits until every queue has room (block_timeout_ns) */
};

/* Options of a topic, a publisher, a subscriber.  Set up with
 * zcp_topic_options_init(). */
typedef struct zcp_topic_options {
	/* Samples a subscriber may have waiting per publisher (default 16)
	 * before the publisher's overflow policy applies (with DROP_OLDEST
	 * and a larger history: up to `history`, see Delivery above).  The
	 * topic's, set by whoever opens it first. */
	unsigned int capacity;
	/* Samples kept per publisher for subscribers that come later
	 * (default 0).  The topic's, set by whoever opens it first. */
	unsigned int history;
	/* A publisher's zcp_overflow policy (default DROP_OLDEST). */
	int overflow;
	/* The payload type: a name ("" for none), a size in bytes (0: not
	 * fixed) and an alignment (0: 64; a power of two up to 4096).  Every
	 * publisher and subscriber of a topic must name the same; NULL for a
	 * publisher is "", for a subscriber (with size and alignment 0) "any
	 * type".  A publish of a chunk smaller than the type's size is
	 * refused (ZCP_EINVAL). */
	const char *type_name;
	uint64_t type_size;
	uint64_t type_align;
	/* ZCP_OVERFLOW_BLOCK: how long a publish waits for room, in ns
	 * (default -1, and any negative value: as long as it takes; 0: not
	 * at all). */
	int64_t block_timeout_ns;
} zcp_topic_options;

typedef struct zcp_publisher zcp_publisher;
typedef struct zcp_subscriber zcp_subscriber;

/* What zcp_chunk_sample_info() tells about a published chunk. */
typedef struct zcp_sample_info {
	uint64_t origin;       /* the publisher's id (zcp_publisher_id()) */
	uint64_t sequence;     /* its publisher's count of samples before it */
	uint64_t timestamp_ns; /* CLOCK_REALTIME at publish, ns since the epoch */
} zcp_sample_info;

/* zcp_topic_options_init - the defaults above.  NULL is a no-op. */
ZCP_API void zcp_topic_options_init(zcp_topic_options *opts);

/* zcp_mempool_config_set_topics - size the manager's topic table: up to
 * max_topics topics, each with up to max_publishers publishers and
 * max_subscribers subscribers, and rings of up to max_queue samples (the
 * largest capacity or history a topic may ask for).  Defaults
 * ZCP_DEFAULT_TOPICS, ZCP_DEFAULT_TOPIC_PUBLISHERS,
 * ZCP_DEFAULT_TOPIC_SUBSCRIBERS, ZCP_DEFAULT_TOPIC_QUEUE; max_topics 0
 * turns topics off (every create answers ZCP_ETOPICS).
 * Returns 0 or ZCP_EINVAL (NULL cfg; a count above 4096 topics, 1024
 * publishers or subscribers, 65536 queue slots; 0 publishers,
 * subscribers or queue slots with topics on).
 */
ZCP_API int zcp_mempool_config_set_topics(zcp_mempool_config *cfg, unsigned int max_topics,
					  unsigned int max_publishers,
					  unsigned int max_subscribers, unsigned int max_queue);

/* zcp_publisher_create - open a publisher on topic `name` (a topic name is 1
 * to ZCP_TOPIC_NAME_MAX characters of [A-Za-z0-9._-], not starting with
 * '.'), making the topic if it does not exist.  opts may be NULL (the defaults).
 * Returns 0 and *out, or ZCP_EINVAL (NULL argument, bad name, capacity or
 * history above the manager's max_queue, a bad alignment or overflow),
 * ZCP_ETYPE (the topic's type differs), ZCP_ETOPICS, ZCP_EENDPOINTS,
 * ZCP_EPERM (read-only handle), ZCP_ECHILD, ZCP_EAGAIN, ZCP_ENOMEM.
 * Close with zcp_publisher_close().
 */
ZCP_API int zcp_publisher_create(zcp_mempool_manager *mgr, const char *name,
				 const zcp_topic_options *opts, zcp_publisher **out);

/* zcp_publisher_loan - take a chunk for a sample of `size` bytes (0: the
 * topic's type size) from the manager's pools, like zcp_chunk_get(), with
 * room for the topic's alignment.  Write the sample at zcp_sample_data().
 * Returns the chunk (one reference, the caller's) or NULL with errno: as
 * zcp_chunk_get(), and ZCP_EINVAL if size is 0 on an untyped topic or
 * differs from a typed topic's size.
 */
ZCP_API zcp_chunk *zcp_publisher_loan(zcp_publisher *pub, uint64_t size);

/* zcp_publisher_loan_aligned - zcp_publisher_loan() with a payload
 * alignment of at least `align` (a power of two up to 4096). */
ZCP_API zcp_chunk *zcp_publisher_loan_aligned(zcp_publisher *pub, uint64_t size, uint64_t align);

/* zcp_publisher_publish - publish `chunk` (loaned by this publisher, or any
 * chunk of the manager the caller holds) to every subscriber of the topic.
 * Takes over one of the caller's references on success: do not release it.
 * Writes before the call are visible to every subscriber that takes it.
 * Returns 0, or ZCP_EINVAL (NULL, foreign chunk, a sample smaller than the
 * topic's type size: its zcp_chunk_size() or its chunk's room past the
 * payload offset), ZCP_EALREADY (the caller
 * holds no reference), ZCP_EBUSY (the chunk is published already and a
 * ring still keeps it: a chunk is in one topic at a time), ZCP_EFULL
 * (REJECT policy and a subscriber's queue is full), ZCP_ETIMEDOUT (BLOCK
 * policy and a queue still full after block_timeout_ns), ZCP_EINTR (BLOCK
 * policy and a signal with a handler came while it waited: signals are
 * held back during the wait and let in within 10 ms), ZCP_ECHILD, ZCP_EPERM,
 * ZCP_EAGAIN.  On error the caller keeps its reference.
 *
 * BLOCK: the publisher sleeps (no spinning) until each live subscriber
 * has fewer than `capacity` of its samples waiting, so none is lost to
 * overflow.  A subscriber that takes, closes or dies (its process
 * reclaimed: a waiting publisher runs zcp_mempool_manager_reclaim() every
 * 100 ms) ends the wait.  Take costs no system call while no publisher
 * waits.
 */
ZCP_API int zcp_publisher_publish(zcp_publisher *pub, zcp_chunk *chunk);

/* zcp_publisher_id - the id subscribers see as zcp_sample_info.origin;
 * unique among the manager's publishers while the manager lives.  0 for
 * NULL. */
ZCP_API uint64_t zcp_publisher_id(const zcp_publisher *pub);

/* zcp_publisher_close - close a publisher.  Its published samples stay
 * readable by its subscribers.  NULL is a no-op (0).
 * Returns 0 or ZCP_EAGAIN (the topics lock stayed busy: the publisher is
 * freed anyway, and reclaim finishes its closing once this process is gone).
 */
ZCP_API int zcp_publisher_close(zcp_publisher *pub);

/* zcp_subscriber_create - open a subscriber on topic `name`, making the
 * topic if it does not exist.  It starts with the last `history` samples of
 * each publisher there is.  Arguments and errors as zcp_publisher_create().
 */
ZCP_API int zcp_subscriber_create(zcp_mempool_manager *mgr, const char *name,
				  const zcp_topic_options *opts, zcp_subscriber **out);

/* zcp_subscriber_take - the oldest sample waiting, as a chunk of which the
 * caller now holds one reference (release it with zcp_chunk_release()).
 * Read it at zcp_sample_data(); zcp_chunk_sample_info() tells where it
 * comes from.  Never blocks.
 * Returns the chunk, or NULL with errno EAGAIN when nothing is waiting, or
 * another negated code: ZCP_EINVAL, ZCP_ECHILD, ZCP_EOVERFLOW.
 */
ZCP_API zcp_chunk *zcp_subscriber_take(zcp_subscriber *sub);

/* zcp_subscriber_wait - sleep until a sample is waiting, for at most
 * timeout_ns nanoseconds (CLOCK_MONOTONIC; 0: only look; negative: no
 * timeout).  A publish that races with going to sleep always wakes the
 * sleeper; publishing costs no system call while nobody sleeps.  A
 * publisher closing or dying also wakes the topic's sleepers (they find
 * nothing new and sleep again, or return at the deadline).
 * Returns 0 (zcp_subscriber_take() has something), ZCP_ETIMEDOUT,
 * ZCP_EINTR (a signal arrived: handle it and call again), ZCP_EINVAL,
 * ZCP_ECHILD, ZCP_EPERM.  Never longer than the timeout, whatever a peer
 * writes in shared memory.  Like sem_wait(3), it is the sleep that a
 * signal interrupts: one whose handler runs just before the sleep begins
 * does not end it (a futex cannot take a signal mask, as pselect(2) does);
 * a program that must react to such a signal promptly waits with a
 * timeout and looks at its flag between waits.
 */
ZCP_API int zcp_subscriber_wait(zcp_subscriber *sub, int64_t timeout_ns);

/* zcp_subscriber_lost - samples this subscriber lost so far (overflow, or
 * a publisher's ring reused before it read them).  0 for NULL. */
ZCP_API uint64_t zcp_subscriber_lost(zcp_subscriber *sub);

/* zcp_subscriber_waiting - samples waiting now (a snapshot), or a negative
 * code (ZCP_EINVAL, ZCP_ECHILD). */
ZCP_API long zcp_subscriber_waiting(zcp_subscriber *sub);

/* zcp_subscriber_close - close a subscriber.  Samples it took stay the
 * caller's (release them); nothing else is held.  NULL is a no-op (0).
 * Returns 0 or ZCP_EAGAIN (as zcp_publisher_close()). */
ZCP_API int zcp_subscriber_close(zcp_subscriber *sub);

/* zcp_chunk_sample_info - origin, sequence and publish time of a chunk the
 * caller holds that was published.
 * Returns 0, ZCP_EINVAL (NULL), ZCP_ENOENT (not a published sample, or its
 * description was overwritten: the data segment is writable by every
 * attached process, so this is information, not proof). */
ZCP_API int zcp_chunk_sample_info(const zcp_chunk *chunk, zcp_sample_info *out);

/* zcp_sample_data - the payload of a published or loaned sample: its
 * zcp_chunk_data() moved up to the alignment asked for at loan time (the
 * same pointer when 64 bytes were enough).  NULL for NULL. */
ZCP_API void *zcp_sample_data(const zcp_chunk *chunk);

/* Discovery: what zcp_topic_get_info() tells about a topic. */
typedef struct zcp_topic_info {
	char name[ZCP_TOPIC_NAME_MAX + 1];
	char type_name[ZCP_TYPE_NAME_MAX + 1];
	uint64_t type_size;
	uint64_t type_align;
	unsigned int capacity;
	unsigned int history;
	unsigned int publishers;  /* open */
	unsigned int subscribers; /* open */
	unsigned int closed_publishers; /* gone, with samples still kept */
	uint64_t published;       /* samples published, all publishers */
	uint64_t lost;            /* samples lost, all subscribers */
	uint64_t kept;            /* samples rings keep now */
} zcp_topic_info;

/* Endpoint kinds of zcp_endpoint_info. */
enum zcp_endpoint_kind {
	ZCP_ENDPOINT_PUBLISHER = 1,
	ZCP_ENDPOINT_SUBSCRIBER = 2,
};

typedef struct zcp_endpoint_info {
	int kind;            /* zcp_endpoint_kind */
	int closed;          /* a publisher gone whose ring is still read */
	int alive;           /* its process is alive (1), or not (0) */
	long pid;            /* in its own PID namespace; -1 if unknown */
	uint64_t id;         /* publisher: zcp_publisher_id() */
	uint64_t process;    /* zcp_mempool_manager_process_id() of its process */
	uint64_t published;  /* publisher: samples published */
	uint64_t taken;      /* subscriber: samples taken */
	uint64_t waiting;    /* subscriber: samples waiting now */
	uint64_t lost;       /* subscriber: samples lost */
	uint64_t rejected;   /* publisher: publishes refused (ZCP_EFULL; BLOCK: timeout or signal) */
} zcp_endpoint_info;

/* zcp_topic_slots - the size of the topic table (max_topics), or a
 * negative code.  Works on read-only handles. */
ZCP_API int zcp_topic_slots(const zcp_mempool_manager *mgr);

/* zcp_topic_get_info - topic number `index` (0 to zcp_topic_slots() - 1): 0 and
 * *out, ZCP_ENOENT (no topic there), ZCP_EINVAL, ZCP_ECHILD, ZCP_ECORRUPT
 * (its entry fails validation), ZCP_EAGAIN (its name or type was being
 * written for all of about 20 ms: a writer preempted, or dead until the
 * next create or close takes the topics lock over, or a peer's scribble;
 * try again).  A snapshot: counts move under it; the name, type, capacity
 * and history are read whole, never half of a topic being made in that
 * entry or of a type being given to a typeless topic. */
ZCP_API int zcp_topic_get_info(const zcp_mempool_manager *mgr, int index, zcp_topic_info *out);

/* zcp_topic_get_endpoint - endpoint k of topic `index`, k from 0 to
 * zcp_topic_endpoint_slots() - 1: 0 and *out, ZCP_ENOENT (no endpoint
 * there), ZCP_EINVAL, ZCP_ECHILD.  A snapshot. */
ZCP_API int zcp_topic_get_endpoint(const zcp_mempool_manager *mgr, int index, int k,
			       zcp_endpoint_info *out);

/* zcp_topic_endpoint_slots - publishers plus subscribers a topic may have,
 * or a negative code. */
ZCP_API int zcp_topic_endpoint_slots(const zcp_mempool_manager *mgr);

ZCP_END_DECLS

#endif /* ZEROCP_TOPIC_H */
