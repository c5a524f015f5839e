/* SPDX-License-Identifier: MIT */
/* tests/attack-topic.h - stamped samples for the attack-topic-* tests
 * (public API of <zerocp/topic.h> only).  A stamped sample carries, at
 * zcp_sample_data(): the writer's tag (a test-level publisher number), its
 * own sequence number, the payload length, a checksum of the payload, the
 * chunk's handle as the publisher saw it (to prove zero copy: a subscriber
 * resolves it to its own view and compares pointers), then `len` bytes of
 * payload generated from (tag, seq).  Header-only. */
#ifndef ZEROCP_TESTS_ATTACK_TOPIC_H
#define ZEROCP_TESTS_ATTACK_TOPIC_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <zerocp/zerocp.h>

struct stamp {
	uint64_t magic;
	uint64_t tag;
	uint64_t seq;
	uint64_t len;
	uint64_t sum;
	uint64_t handle;
	uint64_t kind; /* free for tests (e.g. a type number) */
	uint64_t pad;
};

#define STAMP_MAGIC UINT64_C(0x7a6370746f706963) /* "zcptopic" */

static inline double at_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t at_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/* A small per-thread PRNG. */
static inline uint64_t at_rand(uint64_t *s)
{
	*s += UINT64_C(0x9e3779b97f4a7c15);
	return at_mix(*s);
}

static inline void at_fill(unsigned char *p, uint64_t tag, uint64_t seq, uint64_t len)
{
	uint64_t s = at_mix(tag * UINT64_C(1000003) + seq);
	for (uint64_t i = 0; i < len; i += 8) {
		uint64_t v = at_rand(&s);
		uint64_t n = len - i < 8 ? len - i : 8;
		memcpy(p + i, &v, n);
	}
}

static inline uint64_t at_sum(const unsigned char *p, uint64_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (uint64_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* Write a stamped sample into a loaned chunk of at least
 * sizeof(struct stamp) + len bytes. */
static inline void at_stamp(zcp_mempool_manager *m, zcp_chunk *c, uint64_t tag, uint64_t seq,
			    uint64_t len, uint64_t kind)
{
	unsigned char *d = zcp_sample_data(c);
	struct stamp st = {STAMP_MAGIC, tag, seq, len, 0, zcp_chunk_handle(m, c), kind, 0};
	at_fill(d + sizeof st, tag, seq, len);
	st.sum = at_sum(d + sizeof st, len);
	memcpy(d, &st, sizeof st);
}

/* Verify a sample: 0 if intact and, when want_tag != UINT64_MAX, it is
 * (want_tag, want_seq); else a small code saying what is wrong. */
static inline int at_verify(const zcp_chunk *c, uint64_t want_tag, uint64_t want_seq,
			    struct stamp *out)
{
	const unsigned char *d = zcp_sample_data(c);
	struct stamp st;
	if (!d)
		return 1;
	memcpy(&st, d, sizeof st);
	if (out)
		*out = st;
	if (st.magic != STAMP_MAGIC)
		return 2;
	if (want_tag != UINT64_MAX && (st.tag != want_tag || st.seq != want_seq))
		return 3;
	if (sizeof st + st.len > zcp_chunk_capacity(c))
		return 4;
	if (at_sum(d + sizeof st, st.len) != st.sum)
		return 5;
	/* the payload is the one (tag, seq) generates, not another valid one */
	unsigned char buf[256];
	uint64_t s = at_mix(st.tag * UINT64_C(1000003) + st.seq);
	for (uint64_t i = 0; i < st.len; i += 8) {
		uint64_t v = at_rand(&s);
		uint64_t n = st.len - i < 8 ? st.len - i : 8;
		memcpy(buf, &v, n);
		if (memcmp(buf, d + sizeof st + i, n) != 0)
			return 6;
	}
	return 0;
}

static inline uint64_t at_used_all(const zcp_mempool_manager *m)
{
	uint64_t u = 0;
	int n = zcp_mempool_manager_pool_count(m);
	for (int i = 0; i < n; i++) {
		zcp_pool_stats s;
		if (zcp_mempool_manager_pool_stats(m, i, &s) == 0)
			u += s.used;
		else
			return UINT64_MAX;
	}
	return u;
}

/* Index of topic `name` in the table, or -1. */
static inline int at_topic_index(const zcp_mempool_manager *m, const char *name,
				 zcp_topic_info *ti)
{
	int n = zcp_topic_slots(m);
	for (int i = 0; i < n; i++)
		if (zcp_topic_get_info(m, i, ti) == 0 && strcmp(ti->name, name) == 0)
			return i;
	return -1;
}

#endif /* ZEROCP_TESTS_ATTACK_TOPIC_H */
