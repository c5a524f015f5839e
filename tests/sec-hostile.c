/* SPDX-License-Identifier: MIT */
/* A hostile peer scribbles over the shared segments while a victim keeps
 * calling the API: the victim may get errors, never a signal, a hang, a
 * pointer outside the segments, or a value no function documents.
 *
 * One round, for one seed (rounds in their own process, so that even a
 * crash of the creator's destroy is seen as a signal, not as the end of
 * this test):
 *
 *   round process: creates the manager (the seed's four pools)
 *   ├── victim:    attaches, then get/ref/release/handle/from_handle
 *   │              (random and real handles)/send/receive/pool_stats/
 *   │              print_stats/reclaim/check/process..., checking every
 *   │              result; at the end attaches a fresh handle
 *   └── scribbler: maps the management (or data) segment and writes random
 *                  bytes or crafted words over whole ranges, pool heads,
 *                  record words, next links, the process table, the header
 *   then destroys the manager.
 *
 * A failure names its seed; rerun just that round with
 *   ZCP_HOSTILE_SEED=<seed> ZCP_TEST_ITERS=1 tests/sec-hostile
 *
 * A second part replays crafted states that once (or still) broke a
 * victim, one test each.
 */
#include "config.h"

#include "tap.h"
#include "zt.h"

#include "handle.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

/* What a round reports, in a shared anonymous page. */
struct result {
	_Atomic int victim_ready;
	_Atomic int scribble_done;
	int bad_op;     /* victim: the op that returned an undocumented value */
	long long bad_value;
	int last_op;    /* victim: the op it was in (for a signal) */
	long scribbles; /* scribbler: writes made */
	long ops;       /* victim: API calls made */
	_Atomic uint64_t held[8]; /* victim: global index + 1 of each chunk it holds */
};

enum { SCRIBBLE_MGMT, SCRIBBLE_DATA };

/* Round process exit codes. */
enum {
	RC_OK = 0,
	RC_VICTIM_SIGNAL = 1,
	RC_VICTIM_BAD = 2,
	RC_VICTIM_HANG = 3,
	RC_SETUP = 4,
	RC_SCRIBBLER = 5,
	RC_DESTROY_HANG = 6,
	RC_KNOWN_GET_HANG = 7, /* a hang in get on a re-popped held chunk */
};

static const char *const op_names[] = {
	"attach", "get", "ref", "release", "handle", "from_handle(real)", "from_handle(random)",
	"pool_stats", "print_stats", "reclaim", "check", "process", "accessors", "write payload",
	"send", "receive", "unsend", "fresh attach", "detach", "creator_alive",
};
enum {
	OP_ATTACH, OP_GET, OP_REF, OP_RELEASE, OP_HANDLE, OP_FROM_REAL, OP_FROM_RANDOM,
	OP_STATS, OP_PRINT, OP_RECLAIM, OP_CHECK, OP_PROCESS, OP_ACCESSORS, OP_WRITE,
	OP_SEND, OP_RECEIVE, OP_UNSEND, OP_FRESH, OP_DETACH, OP_ALIVE,
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

static struct result *res;

/* Any documented result of an int-returning call. */
static int known_code(long long v)
{
	return v >= 0 || strcmp(zcp_err_name((int)v), "ZCP_E?") != 0;
}

static void bad(int op, long long v)
{
	res->bad_op = op;
	res->bad_value = v;
	_exit(RC_VICTIM_BAD);
}

#define CHECK_CODE(op, v)                                                                          \
	do {                                                                                       \
		long long v_ = (v);                                                                \
		if (!known_code(v_) || v_ > 0)                                                     \
			bad(op, v_);                                                               \
	} while (0)

/* errno after a NULL return must be one the function documents. */
static void check_errno(int op, const void *p)
{
	if (!p && (errno <= 0 || !known_code(-errno)))
		bad(op, errno);
}

#define HELD_MAX 8

struct victim {
	zcp_mempool_manager *m;
	zcp_chunk *held[HELD_MAX];
	unsigned refs[HELD_MAX];
	uint64_t tickets[HELD_MAX];
	FILE *devnull;
	uint64_t rng;
};

/* A payload must lie inside the data segment, capacity bytes of it. */
static void check_chunk(struct victim *v, zcp_chunk *c)
{
	const zcp_mempool_manager *m = v->m;
	unsigned char *d = zcp_chunk_data(c);
	uint64_t cap = zcp_chunk_capacity(c), size = zcp_chunk_size(c);
	int pool = zcp_chunk_pool_index(c);

	if (pool < 0 || (unsigned)pool >= m->geo.pool_count)
		bad(OP_ACCESSORS, pool);
	if (cap != m->geo.chunk_size[pool])
		bad(OP_ACCESSORS, (long long)cap);
	if (size > cap)
		bad(OP_ACCESSORS, (long long)size);
	if (!d || d < m->data || d + cap > m->data + m->geo.data_size)
		bad(OP_ACCESSORS, (long long)(d - m->data));
	(void)zcp_chunk_refcount(c);
}

static int held_slot(struct victim *v, zcp_chunk *c)
{
	for (int i = 0; i < HELD_MAX; i++)
		if (v->held[i] == c)
			return i;
	return -1;
}

static void one_op(struct victim *v)
{
	static const uint64_t sizes[] = {1, 100, 256, 257, 1000, 1024, 4096, 5000, 16384, 16385};
	uint64_t *r = &v->rng;
	zcp_mempool_manager *m = v->m;
	int i = (int)rng_below(r, HELD_MAX), e;
	zcp_chunk *c;

	for (int k = 0; k < HELD_MAX; k++)
		atomic_store_explicit(&res->held[k],
				      v->held[k] ? (uint64_t)(v->held[k] - m->chunks) + 1 : 0,
				      memory_order_relaxed);
	switch (rng_below(r, 20)) {
	case 0:
	case 1:
	case 2:
		res->last_op = OP_GET;
		if (v->held[i])
			break;
		c = zcp_chunk_get(m, sizes[rng_below(r, 10)]);
		check_errno(OP_GET, c);
		if (c) {
			int j = held_slot(v, c);
			if (j >= 0) {
				/* A peer pushed a chunk we hold back on the
				 * free list and we got it again. */
				v->refs[j]++;
				break;
			}
			check_chunk(v, c);
			v->held[i] = c;
			v->refs[i] = 1;
		}
		break;
	case 3:
		res->last_op = OP_REF;
		if (!v->held[i])
			break;
		e = zcp_chunk_ref(m, v->held[i]);
		CHECK_CODE(OP_REF, e);
		if (e == 0)
			v->refs[i]++;
		break;
	case 4:
	case 5:
	case 6:
		res->last_op = OP_RELEASE;
		if (!v->held[i])
			break;
		e = zcp_chunk_release(m, v->held[i]);
		CHECK_CODE(OP_RELEASE, e);
		/* On any error the library has dropped our local reference
		 * (EALREADY: a peer or a reclaim of a scribbled slot took the
		 * shared side away); stop tracking the chunk. */
		if (e != 0 || --v->refs[i] == 0)
			v->held[i] = NULL;
		break;
	case 7:
		res->last_op = OP_HANDLE;
		if (v->held[i]) {
			uint64_t h = zcp_chunk_handle(m, v->held[i]);
			res->last_op = OP_FROM_REAL;
			c = zcp_chunk_from_handle(m, rng_below(r, 4) ? h : h ^ (rng_next(r) & 0xff));
			check_errno(OP_FROM_REAL, c);
			if (c) {
				check_chunk(v, c);
				e = zcp_chunk_ref(m, c);
				CHECK_CODE(OP_REF, e);
				if (e == 0) {
					e = zcp_chunk_release(m, c);
					CHECK_CODE(OP_RELEASE, e);
				}
			}
		}
		break;
	case 8:
		res->last_op = OP_FROM_RANDOM;
		c = zcp_chunk_from_handle(m, rng_below(r, 2) ? rng_next(r)
							     : ((rng_below(r, 200) + 1) << 38) |
								       rng_below(r, 4));
		check_errno(OP_FROM_RANDOM, c);
		if (c) {
			check_chunk(v, c);
			if (held_slot(v, c) < 0 && zcp_chunk_ref(m, c) == 0) {
				e = zcp_chunk_release(m, c);
				CHECK_CODE(OP_RELEASE, e);
			}
		}
		break;
	case 9: {
		res->last_op = OP_STATS;
		zcp_pool_stats st;
		int idx = (int)rng_below(r, 6) - 1;
		e = zcp_mempool_manager_pool_stats(m, idx, &st);
		CHECK_CODE(OP_STATS, e);
		if (e == 0 && (st.used > st.total || st.used + st.free != st.total ||
			       st.used_max > st.total))
			bad(OP_STATS, (long long)st.used);
		break;
	}
	case 10:
		res->last_op = OP_PRINT;
		CHECK_CODE(OP_PRINT, zcp_mempool_manager_print_stats(m, v->devnull));
		break;
	case 11: {
		res->last_op = OP_RECLAIM;
		zcp_reclaim_report rep;
		CHECK_CODE(OP_RECLAIM, zcp_mempool_manager_reclaim(m, &rep));
		break;
	}
	case 12:
		res->last_op = OP_CHECK;
		CHECK_CODE(OP_CHECK, zcp_mempool_manager_check(m));
		break;
	case 13: {
		res->last_op = OP_PROCESS;
		zcp_process_info pi;
		int n = zcp_mempool_manager_process_slots(m);
		if (n != (int)m->geo.max_processes)
			bad(OP_PROCESS, n);
		e = zcp_mempool_manager_process(m, (int)rng_below(r, (uint64_t)n + 2) - 1, &pi);
		CHECK_CODE(OP_PROCESS, e);
		res->last_op = OP_ALIVE;
		e = zcp_mempool_manager_creator_alive(m);
		if (e != 0 && e != 1)
			bad(OP_ALIVE, e);
		break;
	}
	case 14:
	case 15:
		res->last_op = OP_WRITE;
		if (v->held[i]) {
			check_chunk(v, v->held[i]);
			memset(zcp_chunk_data(v->held[i]), (int)rng_below(r, 256),
			       zcp_chunk_capacity(v->held[i]));
		}
		break;
	case 16:
	case 17:
#ifdef ZCP_ESCROW_SLOTS
		res->last_op = OP_SEND;
		if (v->held[i] && !v->tickets[i]) {
			uint64_t t = 0;
			e = zcp_chunk_send(m, v->held[i], rng_below(r, 2) ? 0 : (long)getpid(), &t);
			CHECK_CODE(OP_SEND, e);
			if (e == 0)
				v->tickets[i] = t;
		} else if (v->tickets[i]) {
			uint64_t t = v->tickets[i];
			v->tickets[i] = 0;
			if (rng_below(r, 2)) {
				res->last_op = OP_RECEIVE;
				c = zcp_chunk_receive(m, t);
				check_errno(OP_RECEIVE, c);
				if (c) {
					check_chunk(v, c);
					CHECK_CODE(OP_RELEASE, zcp_chunk_release(m, c));
				}
			} else {
				res->last_op = OP_UNSEND;
				CHECK_CODE(OP_UNSEND, zcp_chunk_unsend(m, t));
			}
		}
#endif
		break;
	case 18:
#ifdef ZCP_ESCROW_SLOTS
		res->last_op = OP_RECEIVE;
		c = zcp_chunk_receive(m, rng_next(r));
		check_errno(OP_RECEIVE, c);
		if (c) {
			check_chunk(v, c);
			CHECK_CODE(OP_RELEASE, zcp_chunk_release(m, c));
		}
#endif
		break;
	default:
		res->last_op = OP_ACCESSORS;
		if (v->held[i]) {
			check_chunk(v, v->held[i]);
			(void)zcp_chunk_handle(m, v->held[i]);
		}
		break;
	}
	res->ops++;
}

static int victim(const char *name, uint64_t seed, int fresh_attach)
{
	struct victim v;
	memset(&v, 0, sizeof v);
	v.rng = seed ^ UINT64_C(0x5eed5eed5eed5eed);
	v.devnull = fopen("/dev/null", "w");
	res->last_op = OP_ATTACH;
	int err = zcp_mempool_manager_attach(name, &v.m);
	atomic_store(&res->victim_ready, 1);
	if (err)
		return RC_SETUP;
	long after = 0;
	for (long n = 0; n < 20000 && after < 300; n++) {
		one_op(&v);
		if (atomic_load_explicit(&res->scribble_done, memory_order_relaxed))
			after++;
	}
	if (fresh_attach) {
		/* Attach a fresh handle to the scribbled manager: it may be
		 * refused, never crash. */
		zcp_mempool_manager *f = NULL;
		res->last_op = OP_FRESH;
		err = zcp_mempool_manager_attach(name, &f);
		CHECK_CODE(OP_FRESH, err);
		if (err == 0) {
			zcp_mempool_manager *keep = v.m;
			v.m = f;
			memset(v.held, 0, sizeof v.held);
			memset(v.tickets, 0, sizeof v.tickets);
			for (int n = 0; n < 200; n++)
				one_op(&v);
			res->last_op = OP_DETACH;
			zcp_mempool_manager_detach(f);
			v.m = keep;
		}
	}
	res->last_op = OP_DETACH;
	zcp_mempool_manager_detach(v.m);
	return RC_OK;
}

/* Offsets of the shared words worth aiming at. */
struct targets {
	uint64_t size;          /* of the segment scribbled */
	unsigned pools;
	uint64_t head_off[ZCP_MAX_POOLS];
	uint32_t count[ZCP_MAX_POOLS];
	uint64_t first[ZCP_MAX_POOLS];
	uint64_t records_off, total;
	uint64_t procs_off, proc_size, procs;
};

static uint64_t crafted_word(uint64_t *r, const struct targets *t, unsigned pool)
{
	uint64_t gen = rng_below(r, 4);
	switch (rng_below(r, 6)) {
	case 0:
		return zcp__w_free(gen);
	case 1:
		return zcp__w_releasing((unsigned)rng_below(r, 64), gen);
	case 2:
		return zcp__w_held(UINT64_C(1) << rng_below(r, 56), gen);
	case 3:
		return zcp__w_held(rng_next(r) & ZCP__W_HOLDERS_MASK, gen);
	case 4:
		return 0;
	default:
		(void)t;
		(void)pool;
		return rng_next(r);
	}
}

static uint64_t crafted_head(uint64_t *r, const struct targets *t, unsigned pool)
{
	static const unsigned ops[] = {0, 63, 1, 2, 3, 56, 57, 62};
	uint32_t top = rng_below(r, 4) ? (uint32_t)rng_below(r, t->count[pool])
		       : rng_below(r, 2) ? ZCP__H_NIL
					 : (uint32_t)rng_next(r) & 0xFFFFF;
	return zcp__h_make(top, ops[rng_below(r, 8)], rng_next(r));
}

static void scribble_once(unsigned char *base, const struct targets *t, int what, uint64_t *r)
{
	unsigned pool = (unsigned)rng_below(r, t->pools);
	uint64_t k, off, len;

	if (what == SCRIBBLE_DATA) {
		off = rng_below(r, t->size);
		len = rng_below(r, 2) ? 8 : rng_below(r, t->size - off) + 1;
		if (rng_below(r, 50) == 0) {
			off = 0;
			len = t->size;
		}
		for (k = 0; k < len; k++)
			base[off + k] = (unsigned char)rng_next(r);
		return;
	}
	switch (rng_below(r, 10)) {
	case 0: /* the whole segment, rarely */
		if (rng_below(r, 10) == 0)
			for (k = 0; k < t->size; k++)
				base[k] = (unsigned char)rng_next(r);
		break;
	case 1: /* a random range */
		off = rng_below(r, t->size);
		len = rng_below(r, 256) + 1;
		for (k = 0; k < len && off + k < t->size; k++)
			base[off + k] = (unsigned char)rng_next(r);
		break;
	case 2:
	case 3: { /* a pool's free-list head */
		_Atomic uint64_t *h = (_Atomic uint64_t *)(base + t->head_off[pool]);
		atomic_store(h, rng_below(r, 4) ? crafted_head(r, t, pool) : rng_next(r));
		break;
	}
	case 4:
	case 5: { /* a record's holder word */
		uint64_t g = t->first[pool] + rng_below(r, t->count[pool]);
		struct zcp__record *rec =
			(struct zcp__record *)(base + t->records_off) + g;
		atomic_store(&rec->word, crafted_word(r, t, pool));
		if (rng_below(r, 2)) {
			/* ...and make it the top of its list. */
			_Atomic uint64_t *h = (_Atomic uint64_t *)(base + t->head_off[pool]);
			uint64_t old = atomic_load(h);
			static const unsigned ops[] = {0, 63, 1, 2};
			atomic_store(h, zcp__h_make((uint32_t)(g - t->first[pool]),
						    ops[rng_below(r, 4)], zcp__h_tag(old) + 1));
		}
		break;
	}
	case 6: { /* a next link: out of range, self, or a cycle */
		uint64_t g = t->first[pool] + rng_below(r, t->count[pool]);
		struct zcp__record *rec =
			(struct zcp__record *)(base + t->records_off) + g;
		uint32_t n = rng_below(r, 3) ? (uint32_t)rng_below(r, t->count[pool])
			     : rng_below(r, 2) ? (uint32_t)(g - t->first[pool])
					       : (uint32_t)rng_next(r);
		atomic_store(&rec->next, n);
		break;
	}
	case 7: { /* seq and size of a record */
		uint64_t g = t->first[pool] + rng_below(r, t->count[pool]);
		struct zcp__record *rec =
			(struct zcp__record *)(base + t->records_off) + g;
		atomic_store(&rec->seq, rng_below(r, 2) ? rng_next(r) : rng_below(r, 4));
		atomic_store(&rec->size, rng_next(r));
		break;
	}
	case 8: { /* the process table: state words, pids, outboxes */
		uint64_t p = rng_below(r, t->procs);
		unsigned char *slot = base + t->procs_off + p * t->proc_size;
		if (rng_below(r, 2)) {
			struct zcp__proc *pr = (struct zcp__proc *)slot;
			/* Any state, incarnation and reclaimer, some naming
			 * live slots as reclaimers. */
			uint64_t w = rng_below(r, 2) ? rng_next(r)
				     : zcp__sid_reclaiming(rng_below(r, 8), (unsigned)rng_below(r, t->procs),
							   rng_below(r, 4));
			atomic_store(&pr->id, w);
			atomic_store(&pr->pid, rng_below(r, 3) == 0 ? (int64_t)getppid() : (int64_t)rng_next(r));
		} else {
			off = rng_below(r, t->proc_size);
			len = rng_below(r, 64) + 1;
			for (k = 0; k < len && off + k < t->proc_size; k++)
				slot[off + k] = (unsigned char)rng_next(r);
		}
		break;
	}
	default: { /* the header (seen by fresh attaches only) */
		off = rng_below(r, ZCP__HEADER_SIZE);
		if (off < 4 * 4 + 8)
			off = 4 * 4 + 8; /* spare magic/version/state: they only refuse */
		base[off] = (unsigned char)rng_next(r);
		break;
	}
	}
}

static int scribbler(const char *name, const struct targets *t, int what, uint64_t seed)
{
	char seg[ZCP_SEGMENT_NAME_MAX + 1];
	zcp_segment *s;
	uint64_t r = seed;

	snprintf(seg, sizeof seg, "%s%s", name, what == SCRIBBLE_DATA ? "_data" : "_mgmt");
	if (zcp_segment_open(seg, 1, &s))
		return RC_SCRIBBLER;
	/* Let the victim attach first: attach refusing a scribbled header
	 * is tested at the end of the victim's run. */
	for (int i = 0; i < 100000 && !atomic_load(&res->victim_ready); i++)
		sched_yield();
	long n = 1 + (long)rng_below(&r, 40);
	for (long i = 0; i < n; i++) {
		scribble_once(zcp_segment_base(s), t, what, &r);
		res->scribbles++;
		if (rng_below(&r, 2)) {
			struct timespec ts = {0, (long)rng_below(&r, 200000)};
			nanosleep(&ts, NULL);
		}
	}
	atomic_store(&res->scribble_done, 1);
	zcp_segment_close(s);
	return RC_OK;
}

/* Wait for pid at most ms milliseconds, then SIGKILL it.  Returns the
 * status, or -1 if it had to be killed. */
static int wait_ms(pid_t pid, long ms, int *status)
{
	for (long waited = 0;; waited++) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -2;
		if (waited >= ms) {
			kill(pid, SIGKILL);
			while (waitpid(pid, status, 0) < 0 && errno == EINTR)
				;
			return -1;
		}
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

static zcp_mempool_config *seed_config(void)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	if (!cfg || zcp_mempool_config_add_entry(cfg, 256, 100) ||
	    zcp_mempool_config_add_entry(cfg, 1024, 50) ||
	    zcp_mempool_config_add_entry(cfg, 4096, 20) ||
	    zcp_mempool_config_add_entry(cfg, 16384, 10) ||
	    zcp_mempool_config_set_max_processes(cfg, 8))
		return NULL;
	return cfg;
}

/* One round, in its own process; returns an R_* exit code. */
static int round_main(const char *name, uint64_t seed, int what)
{
	zcp_mempool_config *cfg = seed_config();
	zcp_mempool_manager *m;
	struct targets t;
	uint64_t r = seed;

	if (!cfg || zcp_mempool_manager_create(name, cfg, &m))
		return RC_SETUP;
	zcp_mempool_config_free(cfg);
	memset(&t, 0, sizeof t);
	t.size = what == SCRIBBLE_DATA ? m->geo.data_size : m->geo.mgmt_size;
	t.pools = m->geo.pool_count;
	for (unsigned i = 0; i < t.pools; i++) {
		t.head_off[i] = (uint64_t)((unsigned char *)&m->pools[i].desc->head - m->mgmt);
		t.count[i] = m->pools[i].count;
		t.first[i] = m->pools[i].first;
	}
	t.records_off = m->geo.records_off;
	t.total = m->geo.total_chunks;
	t.procs_off = m->geo.procs_off;
	t.proc_size = m->geo.proc_size;
	t.procs = m->geo.max_processes;

	/* The creator holds a chunk or two, like a server would. */
	zcp_chunk *mine = zcp_chunk_get(m, 200);
	int fresh = rng_below(&r, 4) == 0;

	pid_t v = zt_fork();
	if (v == 0)
		_exit(victim(name, seed, fresh));
	pid_t s = zt_fork();
	if (s == 0)
		_exit(scribbler(name, &t, what, rng_next(&r)));
	int vs = 0, ss = 0, rc = RC_OK;
	wait_ms(s, 10000, &ss);
	atomic_store(&res->scribble_done, 1);
	int w = wait_ms(v, 6000, &vs);
	if (w == -1 || (WIFSIGNALED(vs) && WTERMSIG(vs) == SIGALRM)) {
		rc = RC_VICTIM_HANG;
		/* The hang fixed in c2edd45: a head whose top is a chunk the
		 * victim holds. */
		for (unsigned i = 0; i < m->geo.pool_count; i++) {
			uint64_t h = atomic_load(&m->pools[i].desc->head);
			uint64_t g = (uint64_t)m->pools[i].first + zcp__h_top(h) + 1;
			for (int k = 0; k < 8; k++)
				if (zcp__h_top(h) < m->pools[i].count && atomic_load(&res->held[k]) == g)
					rc = RC_KNOWN_GET_HANG;
		}
	}
	else if (WIFSIGNALED(vs))
		rc = RC_VICTIM_SIGNAL;
	else if (WIFEXITED(vs) && WEXITSTATUS(vs) == RC_VICTIM_BAD)
		rc = RC_VICTIM_BAD;
	if (rc == RC_VICTIM_SIGNAL)
		res->bad_value = WTERMSIG(vs);
	/* The creator's own calls on the scribbled manager, then its end. */
	if (mine)
		(void)zcp_chunk_release(m, mine);
	(void)zcp_mempool_manager_reclaim(m, NULL);
	(void)zcp_mempool_manager_check(m);
	if (zcp_mempool_manager_destroy(m) != 0)
		zcp_mempool_manager_unlink(name);
	return rc;
}

static void run_rounds(int what, long rounds, uint64_t base)
{
	long fails = 0, ops = 0, scribbles = 0, setup = 0;
	const char *label = what == SCRIBBLE_DATA ? "data" : "management";

	for (long i = 0; i < rounds; i++) {
		uint64_t seed = base + (uint64_t)i;
		const char *name = zt_name();
		memset(res, 0, sizeof *res);
		res->last_op = -1;
		pid_t pid = zt_fork();
		if (pid == 0)
			_exit(round_main(name, seed, what));
		int st = 0;
		zt_wait(pid, &st);
		zcp_mempool_manager_unlink(name);
		ops += res->ops;
		scribbles += res->scribbles;
		const char *op = res->last_op >= 0 ? op_names[res->last_op] : "?";
		const char *bop = res->bad_op >= 0 ? op_names[res->bad_op] : "?";
		if (WIFSIGNALED(st)) {
			diag("seed %llu (%s): the creator died of signal %d in its reclaim/check/destroy",
			     (unsigned long long)seed, label, WTERMSIG(st));
			fails++;
			continue;
		}
		switch (WEXITSTATUS(st)) {
		case RC_OK:
			break;
		case RC_SETUP:
			setup++;
			break;
		case RC_VICTIM_SIGNAL:
			diag("seed %llu (%s): victim died of signal %lld in %s", (unsigned long long)seed,
			     label, res->bad_value, op);
			fails++;
			break;
		case RC_VICTIM_HANG:
			diag("seed %llu (%s): victim hung in %s", (unsigned long long)seed, label, op);
			fails++;
			break;
		case RC_KNOWN_GET_HANG:
			diag("seed %llu (%s): victim hung in get: a free-list head names a chunk "
			     "it holds (see held_chunk_on_free_list())",
			     (unsigned long long)seed, label);
			fails++;
			break;
		case RC_VICTIM_BAD:
			diag("seed %llu (%s): %s returned an undocumented value %lld",
			     (unsigned long long)seed, label, bop, res->bad_value);
			fails++;
			break;
		default:
			diag("seed %llu (%s): round exit %d", (unsigned long long)seed, label,
			     WEXITSTATUS(st));
			fails++;
			break;
		}
	}
	ok(fails == 0, "%ld rounds scribbling the %s segment: no victim crashed, hung or got an "
		       "undocumented result (%ld API calls, %ld scribbles)",
	   rounds, label, ops, scribbles);
	if (setup)
		diag("%ld rounds where the victim could not attach", setup);
}

/* --- crafted states -------------------------------------------------------- */

/* Run fn in a child with a 3 s alarm; 1 if it returned 0. */
static int in_child(int (*fn)(zcp_mempool_manager *), zcp_mempool_manager *m, const char *what)
{
	(void)m;
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *v;
		alarm(3);
		ZT_CHECK(zcp_mempool_manager_attach(zcp_mempool_manager_name(m), &v) == 0);
		_exit(fn(v));
	}
	int st = 0;
	zt_wait(pid, &st);
	if (WIFSIGNALED(st))
		diag("  %s: killed by signal %d%s", what, WTERMSIG(st),
		     WTERMSIG(st) == SIGALRM ? " (hung)" : "");
	else if (WEXITSTATUS(st))
		diag("  %s: exit %d", what, WEXITSTATUS(st));
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* A peer puts a chunk the victim holds back on top of the free list,
 * marked FREE.  The victim's next get pops its own chunk again. */
static int held_chunk_on_free_list(zcp_mempool_manager *m)
{
	zcp_chunk *c = zcp_chunk_get(m, 16384);
	if (!c)
		return 1;
	struct zcp__pool_view *p = &m->pools[3];
	uint64_t gidx = (uint64_t)(c - m->chunks);
	uint32_t idx = (uint32_t)(gidx - p->first);
	uint64_t h = atomic_load(&p->desc->head);
	/* What the hostile peer writes: two words. */
	atomic_store(&p->records[idx].word, zcp__w_free(atomic_load(&p->records[idx].seq)));
	atomic_store(&p->desc->head, zcp__h_make(idx, ZCP__H_OP_NONE, zcp__h_tag(h) + 1));
	zcp_chunk *d = zcp_chunk_get(m, 16384); /* must return, whatever it returns */
	(void)d;
	return 0;
}

/* A peer sets ONTOP on a held chunk that is not the top of its list: its
 * give-back would then skip the push.  check() must see it; release and
 * get must neither crash nor hang. */
static int ontop_away_from_top(zcp_mempool_manager *m)
{
	zcp_chunk *a = zcp_chunk_get(m, 4096), *b = zcp_chunk_get(m, 4096);
	if (!a || !b)
		return 1;
	uint64_t gidx = (uint64_t)(a - m->chunks);
	_Atomic uint64_t *w = &m->records[gidx].word;
	atomic_store(w, atomic_load(w) | ZCP__W_ONTOP);
	if (zcp_mempool_manager_check(m) != ZCP_ENOTRECOVERABLE)
		return 2;
	(void)zcp_chunk_release(m, a);
	(void)zcp_chunk_release(m, b);
	for (int i = 0; i < 30; i++)
		(void)zcp_chunk_get(m, 4096);
	return 0;
}

/* A peer makes a free list cyclic (a record's next is itself). */
static int cyclic_free_list(zcp_mempool_manager *m)
{
	struct zcp__pool_view *p = &m->pools[2];
	uint64_t h = atomic_load(&p->desc->head);
	uint32_t top = zcp__h_top(h);
	atomic_store(&p->records[top].next, top);
	for (int i = 0; i < 100; i++) {
		zcp_chunk *c = zcp_chunk_get(m, 4096);
		if (!c)
			break;
	}
	(void)zcp_mempool_manager_check(m);
	return 0;
}

/* A peer claims every process slot with dead or absurd pids. */
static int process_table_garbage(zcp_mempool_manager *m)
{
	for (unsigned i = 0; i < m->geo.max_processes; i++) {
		if (i == m->slot)
			continue;
		struct zcp__proc *pr = zcp__proc_at(m, i);
		/* Occupied with nobody holding the lock, reclaimed by
		 * absurd reclaimers, or taken over by nobody. */
		uint64_t w = i % 3 == 0 ? zcp__sid_make(ZCP__SLOT_LIVE, UINT64_C(0xFFFFFFFF))
			     : i % 3 == 1 ? zcp__sid_reclaiming(7, 63, UINT64_C(0xFFFFFF))
					  : zcp__sid_make(ZCP__SLOT_TAKEOVER, 1);
		atomic_store(&pr->id, w);
		atomic_store(&pr->pid, i % 2 ? -1 : 1);
	}
	zcp_reclaim_report rep;
	(void)zcp_mempool_manager_reclaim(m, &rep);
	zcp_process_info pi;
	for (int i = 0; i < (int)m->geo.max_processes; i++)
		(void)zcp_mempool_manager_process(m, i, &pi);
	return 0;
}

/* A peer rewrites the header's pool_count while others attach: attach
 * validates the live segment, so it must read each header word once. */
static void attach_race(void)
{
	zcp_mempool_config *cfg = seed_config();
	zcp_mempool_manager *m;
	const char *name = zt_name();

	if (!cfg || zcp_mempool_manager_create(name, cfg, &m)) {
		skip("cannot create a manager");
		zcp_mempool_config_free(cfg);
		return;
	}
	zcp_mempool_config_free(cfg);
	pid_t flipper = zt_fork();
	if (flipper == 0) {
		_Atomic uint32_t *pc = (_Atomic uint32_t *)&m->hdr->pool_count;
		time_t end = time(NULL) + 2;
		while (time(NULL) < end)
			for (int i = 0; i < 100000; i++) {
				atomic_store_explicit(pc, 4, memory_order_relaxed);
				atomic_store_explicit(pc, 200000, memory_order_relaxed);
			}
		atomic_store(pc, 4);
		_exit(0);
	}
	pid_t victim = zt_fork();
	if (victim == 0) {
		time_t end = time(NULL) + 1;
		while (time(NULL) <= end) {
			zcp_mempool_manager *a = NULL;
			if (zcp_mempool_manager_attach(name, &a) == 0)
				zcp_mempool_manager_detach(a);
		}
		_exit(0);
	}
	int st = 0;
	zt_wait(victim, &st);
	zt_wait(flipper, NULL);
	int pass = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!pass)
		diag("  attacher: %s %d", WIFSIGNALED(st) ? "killed by signal" : "exit status",
		     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	/* Was a crash: zcp__mgmt_validate() read the header twice. */
	ok(pass, "attach while a peer flips the header's pool_count (4 <-> 200000): no signal");
	zcp_mempool_manager_destroy(m);
}

static void crafted(void)
{
	static const struct {
		int (*fn)(zcp_mempool_manager *);
		const char *what;
		const char *todo; /* non-NULL: a known library bug */
	} cases[] = {
		/* Hung before c2edd45: zcp_chunk_get() spun forever waiting
		 * for the view's local count to drop to zero. */
		{held_chunk_on_free_list, "a held chunk put back on the free list as FREE", NULL},
		{cyclic_free_list, "a cyclic free list", NULL},
		{ontop_away_from_top, "ONTOP on a held chunk below the top (check() reports it)",
		 NULL},
		{process_table_garbage, "a process table full of absurd pids", NULL},
	};
	zcp_mempool_config *cfg = seed_config();

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		zcp_mempool_manager *m;
		if (!cfg || zcp_mempool_manager_create(zt_name(), cfg, &m)) {
			skip("cannot create a manager");
			continue;
		}
		int pass = in_child(cases[i].fn, m, cases[i].what);
		if (cases[i].todo && !pass)
			ok(0, "crafted state: %s # TODO %s", cases[i].what, cases[i].todo);
		else
			ok(pass, "crafted state: %s: no signal, no hang", cases[i].what);
		zcp_mempool_manager_destroy(m);
	}
	zcp_mempool_config_free(cfg);
}

int main(void)
{
	long rounds = zt_iters(200);
	const char *s = getenv("ZCP_HOSTILE_SEED");
	uint64_t base = s && *s ? strtoull(s, NULL, 0) : 1;

	plan_lazy();
	res = mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		bail("mmap: %s", strerror(errno));
	diag("seeds %llu..%llu (ZCP_HOSTILE_SEED, ZCP_TEST_ITERS)", (unsigned long long)base,
	     (unsigned long long)(base + (uint64_t)rounds - 1));
	run_rounds(SCRIBBLE_MGMT, rounds, base);
	run_rounds(SCRIBBLE_DATA, rounds / 4 > 0 ? rounds / 4 : 1, base);
	crafted();
	attach_race();
	zt_done();
	return done_testing();
}
