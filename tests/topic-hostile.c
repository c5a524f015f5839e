/* SPDX-License-Identifier: MIT */
/* A hostile peer scribbles over the topic table (header topics_off,
 * topic_size: topic entries, publisher places and their rings, subscriber
 * places and their cursors) and the topics lock, while two victims
 * publish, take, release, create and close endpoints, reclaim and read
 * the discovery calls.  A victim may get error codes or lose samples;
 * it must never die of a signal, hang (an alarm of 5 s per call: the lock
 * may be waited for 2 s), or get a pointer outside the data segment or an
 * undocumented code.
 *
 * A failure names its seed; rerun one round with
 *   ZCP_HOSTILE_SEED=<seed> ZCP_TEST_ITERS=1 tests/topic-hostile
 */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "handle.h"
#include "layout.h"
#include "topic.h"

#define VICTIMS 2
#define NAMES 3

struct result {
	_Atomic int ready;
	_Atomic int scribble_done;
	_Atomic int last_op[VICTIMS];
	_Atomic long bad_value[VICTIMS];
	_Atomic long ops[VICTIMS];
	_Atomic long scribbles;
	_Atomic uint64_t victim_id[VICTIMS];
};
static struct result *res;

enum {
	OP_ATTACH, OP_PUB_CREATE, OP_SUB_CREATE, OP_LOAN, OP_PUBLISH, OP_TAKE, OP_RELEASE, OP_PUB_CLOSE,
	OP_SUB_CLOSE, OP_RECLAIM, OP_INFO, OP_ENDPOINT, OP_WAITING, OP_LOST, OP_SAMPLE_INFO, OP_CHECK,
	OP_DETACH, OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
	"attach", "publisher_create", "subscriber_create", "loan", "publish", "take", "release",
	"publisher_close", "subscriber_close", "reclaim", "topic_get_info", "topic_get_endpoint",
	"waiting", "lost", "sample_info", "check", "detach",
};

enum { RC_OK = 0, RC_BAD = 2, RC_SETUP = 4 };

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
	return n ? rng_next(s) % n : 0;
}

static int me;

static __attribute__((noreturn)) void bad(int op, long v)
{
	atomic_store(&res->last_op[me], op);
	atomic_store(&res->bad_value[me], v);
	_exit(RC_BAD);
}

static int known(long v)
{
	return v == 0 || (v < 0 && strcmp(zcp_err_name((int)v), "ZCP_E?") != 0);
}

#define CODE(op, v)                                                                                \
	do {                                                                                       \
		long v_ = (v);                                                                     \
		if (!known(v_))                                                                    \
			bad(op, v_);                                                               \
	} while (0)

static void check_errno(int op)
{
	if (errno != EAGAIN && (errno <= 0 || !known(-errno)))
		bad(op, errno);
}

static void check_chunk(zcp_mempool_manager *m, int op, zcp_chunk *c)
{
	unsigned char *d = zcp_chunk_data(c), *s = zcp_sample_data(c);
	uint64_t cap = zcp_chunk_capacity(c);
	if (!d || d < m->data || d + cap > m->data + m->geo.data_size || !s || s < d || s >= d + cap)
		bad(op, (long)(d - m->data));
}

/* One call, under an alarm. */
#define CALL(op, expr)                                                                             \
	do {                                                                                       \
		atomic_store_explicit(&res->last_op[me], op, memory_order_relaxed);                \
		alarm(5);                                                                          \
		expr;                                                                              \
		alarm(0);                                                                          \
	} while (0)

static int victim(const char *name, uint64_t seed)
{
	zcp_mempool_manager *m;
	zcp_publisher *pub[NAMES] = {0};
	zcp_subscriber *sub[NAMES] = {0};
	zcp_chunk *held[4] = {0};
	static const char *const names[NAMES] = {"h0", "h1", "h2"};
	uint64_t r = seed;
	int e;
	CALL(OP_ATTACH, e = zcp_mempool_manager_attach(name, &m));
	if (e)
		return RC_SETUP;
	atomic_store(&res->victim_id[me], zcp_mempool_manager_process_id(m));
	atomic_fetch_add(&res->ready, 1);
	long after = 0;
	for (long n = 0; n < 4000 && after < 400; n++) {
		int t = (int)below(&r, NAMES), k = (int)below(&r, 4);
		zcp_topic_options o;
		zcp_topic_options_init(&o);
		o.capacity = 1 + (unsigned)below(&r, 4);
		o.history = (unsigned)below(&r, 3);
		o.overflow = (int)below(&r, 2);
		zcp_chunk *c;
		switch (below(&r, 14)) {
		case 0:
			if (pub[t]) {
				CALL(OP_PUB_CLOSE, e = zcp_publisher_close(pub[t]));
				pub[t] = NULL;
			} else {
				CALL(OP_PUB_CREATE, e = zcp_publisher_create(m, names[t], &o, &pub[t]));
				if (e)
					pub[t] = NULL;
			}
			CODE(OP_PUB_CREATE, e);
			break;
		case 1:
			if (sub[t]) {
				CALL(OP_SUB_CLOSE, e = zcp_subscriber_close(sub[t]));
				sub[t] = NULL;
			} else {
				CALL(OP_SUB_CREATE, e = zcp_subscriber_create(m, names[t], &o, &sub[t]));
				if (e)
					sub[t] = NULL;
			}
			CODE(OP_SUB_CREATE, e);
			break;
		case 2:
		case 3:
		case 4:
			if (!pub[t])
				break;
			CALL(OP_LOAN, c = zcp_publisher_loan(pub[t], 1 + below(&r, 120)));
			if (!c) {
				check_errno(OP_LOAN);
				break;
			}
			check_chunk(m, OP_LOAN, c);
			memset(zcp_sample_data(c), (int)n, 1);
			CALL(OP_PUBLISH, e = zcp_publisher_publish(pub[t], c));
			CODE(OP_PUBLISH, e);
			if (e)
				CALL(OP_RELEASE, CODE(OP_RELEASE, zcp_chunk_release(m, c)));
			break;
		case 5:
		case 6:
		case 7:
			if (!sub[t])
				break;
			CALL(OP_TAKE, c = zcp_subscriber_take(sub[t]));
			if (!c) {
				check_errno(OP_TAKE);
				break;
			}
			check_chunk(m, OP_TAKE, c);
			zcp_sample_info si;
			CALL(OP_SAMPLE_INFO, e = zcp_chunk_sample_info(c, &si));
			CODE(OP_SAMPLE_INFO, e);
			(void)*(volatile unsigned char *)zcp_sample_data(c);
			if (held[k])
				CALL(OP_RELEASE, CODE(OP_RELEASE, zcp_chunk_release(m, held[k])));
			held[k] = c;
			break;
		case 8:
			if (held[k] && pub[t]) {
				/* A taken sample published again: refused or not. */
				CALL(OP_PUBLISH, e = zcp_publisher_publish(pub[t], held[k]));
				CODE(OP_PUBLISH, e);
				if (e == 0)
					held[k] = NULL;
			}
			break;
		case 9:
			if (held[k]) {
				CALL(OP_RELEASE, CODE(OP_RELEASE, zcp_chunk_release(m, held[k])));
				held[k] = NULL;
			}
			break;
		case 10: {
			zcp_topic_info ti;
			int idx = (int)below(&r, (uint64_t)zcp_topic_slots(m) + 2) - 1;
			CALL(OP_INFO, e = zcp_topic_get_info(m, idx, &ti));
			CODE(OP_INFO, e);
			if (e == 0 && (ti.name[ZCP_TOPIC_NAME_MAX] || ti.type_name[ZCP_TYPE_NAME_MAX]))
				bad(OP_INFO, 1);
			zcp_endpoint_info ei;
			int k2 = (int)below(&r, (uint64_t)zcp_topic_endpoint_slots(m) + 2) - 1;
			CALL(OP_ENDPOINT, e = zcp_topic_get_endpoint(m, idx, k2, &ei));
			CODE(OP_ENDPOINT, e);
			break;
		}
		case 11:
			if (sub[t]) {
				long w;
				CALL(OP_WAITING, w = zcp_subscriber_waiting(sub[t]));
				if (w < 0)
					CODE(OP_WAITING, w);
				CALL(OP_LOST, (void)zcp_subscriber_lost(sub[t]));
			}
			break;
		case 12:
			CALL(OP_RECLAIM, e = zcp_mempool_manager_reclaim(m, NULL));
			CODE(OP_RECLAIM, e);
			break;
		default:
			CALL(OP_CHECK, e = zcp_mempool_manager_check(m));
			CODE(OP_CHECK, e);
			break;
		}
		atomic_fetch_add_explicit(&res->ops[me], 1, memory_order_relaxed);
		if (atomic_load_explicit(&res->scribble_done, memory_order_relaxed))
			after++;
	}
	for (int i = 0; i < 4; i++)
		if (held[i])
			CALL(OP_RELEASE, (void)zcp_chunk_release(m, held[i]));
	for (int t = 0; t < NAMES; t++) {
		CALL(OP_PUB_CLOSE, CODE(OP_PUB_CLOSE, zcp_publisher_close(pub[t])));
		CALL(OP_SUB_CLOSE, CODE(OP_SUB_CLOSE, zcp_subscriber_close(sub[t])));
	}
	CALL(OP_DETACH, zcp_mempool_manager_detach(m));
	return RC_OK;
}

/* Random bytes or crafted words over the topic table and the lock. */
static void scribble_once(zcp_mempool_manager *m, uint64_t *r, const uint64_t *ids, unsigned nids)
{
	unsigned char *tab = m->mgmt + m->geo.topics_off;
	uint64_t size = (uint64_t)m->geo.max_topics * m->geo.topic_size;
	unsigned t = (unsigned)below(r, m->geo.max_topics);
	unsigned j = (unsigned)below(r, m->geo.max_publishers);
	unsigned i = (unsigned)below(r, m->geo.max_subscribers);
	struct zcp__publisher_ep *ep = zcp__publisher_at(m, t, j);
	struct zcp__subscriber_ep *se = zcp__subscriber_at(m, t, i);
	struct zcp__topic *tp = zcp__topic_at(m, t);
	uint64_t small = below(r, 2) ? rng_next(r) : below(r, 70);
	switch (below(r, 12)) {
	case 0: { /* a random range */
		uint64_t off = below(r, size), len = 1 + below(r, 512);
		for (uint64_t k = 0; k < len && off + k < size; k++)
			tab[off + k] = (unsigned char)rng_next(r);
		break;
	}
	case 1: /* the lock: nobody, a victim (alive), garbage; rarely */
		if (below(r, 8) == 0)
			atomic_store(&m->hdr->topics_lock, below(r, 3) == 0 && nids ? ids[below(r, nids)]
							   : below(r, 2) ? rng_next(r) : 0);
		break;
	case 2: /* a topic entry's fields */
		atomic_store(&tp->state, below(r, 2) ? zcp__ep_word((unsigned)below(r, 4), below(r, 5))
						  : rng_next(r));
		if (below(r, 2)) {
			tp->capacity = (uint32_t)small;
			tp->history = (uint32_t)(below(r, 2) ? rng_next(r) : below(r, 70));
		}
		if (below(r, 4) == 0)
			memset(tp->name, 'x', sizeof tp->name); /* unterminated */
		if (below(r, 4) == 0)
			tp->type_align = rng_next(r);
		break;
	case 3:
	case 4: /* a publisher place's words */
		switch (below(r, 6)) {
		case 0:
			atomic_store(&ep->state, zcp__ep_word((unsigned)below(r, 4), below(r, 6)));
			break;
		case 1:
			atomic_store(&ep->tail, below(r, 2) ? atomic_load(&ep->tail) + small : rng_next(r));
			break;
		case 2:
			atomic_store(&ep->base, small);
			break;
		case 3:
			atomic_store(&ep->released, small);
			break;
		case 4:
			atomic_store(&ep->owner, nids && below(r, 2) ? ids[below(r, nids)] : rng_next(r));
			break;
		default:
			atomic_store(&ep->pending, rng_next(r));
			break;
		}
		break;
	case 5:
	case 6:
	case 7: { /* a ring slot: a real chunk at some generation, or junk */
		struct zcp__ring_slot *s = &zcp__ring(ep)[below(r, m->geo.ring_size)];
		uint64_t g1 = 1 + below(r, m->geo.total_chunks);
		uint64_t h = below(r, 3) ? zcp__handle_make(g1 - 1, atomic_load(&m->records[g1 - 1].seq) +
									      below(r, 2))
				       : rng_next(r);
		atomic_store(&s->handle, h);
		atomic_store(&s->pos, below(r, 2) ? atomic_load(&ep->tail) - below(r, 3) + 1 : small);
		if (below(r, 2))
			atomic_store(&s->stamp, rng_next(r));
		break;
	}
	case 8:
	case 9: { /* a subscriber place: state, owner, cursors */
		struct zcp__cursor *c = &zcp__cursors(se)[j];
		switch (below(r, 4)) {
		case 0:
			atomic_store(&se->state, zcp__ep_word((unsigned)below(r, 4), below(r, 6)));
			break;
		case 1:
			atomic_store(&se->owner, nids && below(r, 2) ? ids[below(r, nids)] : rng_next(r));
			break;
		default:
			atomic_store(&c->pos, below(r, 2) ? small : rng_next(r));
			atomic_store(&c->follows, below(r, 2) ? atomic_load(&ep->state) : rng_next(r));
			break;
		}
		break;
	}
	case 10: /* the chunk header of a sample (data segment) */
		memset(m->data + m->geo.data_off[0] + below(r, m->geo.chunk_count[0]) * m->geo.stride[0] +
			       below(r, 64),
		       (int)rng_next(r), 1 + below(r, 8));
		break;
	default: { /* a whole place */
		unsigned char *p = below(r, 2) ? (unsigned char *)ep : (unsigned char *)se;
		for (unsigned k = 0; k < 128; k++)
			p[k] = (unsigned char)rng_next(r);
		break;
	}
	}
}

static int wait_ms(pid_t pid, long ms, int *status)
{
	for (long waited = 0;; waited++) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
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

/* One round in its own process: 0 if every victim was fine. */
static int round_main(const char *name, uint64_t seed)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	uint64_t r = seed;
	zcp_mempool_config_add_entry(cfg, 128, 64);
	zcp_mempool_config_set_topics(cfg, 4, 3, 3, 4);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		return RC_SETUP;
	zcp_mempool_config_free(cfg);
	pid_t v[VICTIMS];
	for (int k = 0; k < VICTIMS; k++) {
		uint64_t s = rng_next(&r);
		if ((v[k] = zt_fork()) == 0) {
			me = k;
			_exit(victim(name, s));
		}
	}
	for (int i = 0; i < 2000 && atomic_load(&res->ready) < VICTIMS; i++) {
		struct timespec ts = {0, 500000};
		nanosleep(&ts, NULL);
	}
	/* The scribbler: this process (it maps the same segment, and it
	 * is not one of the victims). */
	uint64_t ids[VICTIMS + 1];
	unsigned nids = 0;
	for (int k = 0; k < VICTIMS; k++)
		if ((ids[nids] = atomic_load(&res->victim_id[k])) != 0)
			nids++;
	ids[nids++] = zcp_mempool_manager_process_id(m);
	long n = 5 + (long)below(&r, 60);
	for (long i = 0; i < n; i++) {
		scribble_once(m, &r, ids, nids);
		atomic_fetch_add(&res->scribbles, 1);
		struct timespec ts = {0, (long)below(&r, 300000)};
		nanosleep(&ts, NULL);
	}
	/* Leave the lock to nobody, or victims could wait 2 s per call
	 * until the end: that is documented (ZCP_EAGAIN), and slow. */
	atomic_store(&m->hdr->topics_lock, 0);
	atomic_store(&res->scribble_done, 1);
	int rc = 0;
	for (int k = 0; k < VICTIMS; k++) {
		int st = 0;
		int w = wait_ms(v[k], 25000, &st);
		int code = w == -1 ? 3 : WIFSIGNALED(st) ? (WTERMSIG(st) == SIGALRM ? 3 : 1)
						     : WEXITSTATUS(st) == RC_BAD ? 2 : WEXITSTATUS(st) == RC_SETUP ? 0 : WEXITSTATUS(st) ? 5 : 0;
		if (code && !rc)
			rc = code * 16 + k;
		if (WIFSIGNALED(st))
			atomic_store(&res->bad_value[k], WTERMSIG(st));
	}
	(void)zcp_mempool_manager_reclaim(m, NULL);
	(void)zcp_mempool_manager_check(m);
	if (zcp_mempool_manager_destroy(m) != 0)
		zcp_mempool_manager_unlink(name);
	return rc;
}

int main(void)
{
	long rounds = zt_iters(30);
	const char *s = getenv("ZCP_HOSTILE_SEED");
	uint64_t base = s && *s ? strtoull(s, NULL, 0) : 1;
	plan_lazy();
	res = mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		bail("mmap");
	diag("seeds %llu..%llu (ZCP_HOSTILE_SEED, ZCP_TEST_ITERS)", (unsigned long long)base,
	     (unsigned long long)(base + (uint64_t)rounds - 1));
	long fails = 0, ops = 0, scribbles = 0;
	for (long i = 0; i < rounds; i++) {
		uint64_t seed = base + (uint64_t)i;
		const char *name = zt_name();
		memset(res, 0, sizeof *res);
		pid_t pid = zt_fork();
		if (pid == 0)
			_exit(round_main(name, seed));
		int st = 0;
		zt_wait(pid, &st);
		zcp_mempool_manager_unlink(name);
		ops += atomic_load(&res->ops[0]) + atomic_load(&res->ops[1]);
		scribbles += atomic_load(&res->scribbles);
		if (WIFSIGNALED(st)) {
			diag("seed %llu: the scribbler/creator died of signal %d", (unsigned long long)seed,
			     WTERMSIG(st));
			fails++;
			continue;
		}
		int rc = WEXITSTATUS(st);
		if (rc == 0 || rc == RC_SETUP)
			continue;
		int k = rc % 16, how = rc / 16;
		int op = atomic_load(&res->last_op[k]);
		const char *opn = op >= 0 && op < OP_COUNT ? op_names[op] : "?";
		fails++;
		if (how == 1)
			diag("seed %llu: victim %d died of signal %ld in %s", (unsigned long long)seed, k,
			     atomic_load(&res->bad_value[k]), opn);
		else if (how == 2)
			diag("seed %llu: victim %d: %s returned an undocumented %ld", (unsigned long long)seed, k,
			     opn, atomic_load(&res->bad_value[k]));
		else if (how == 3)
			diag("seed %llu: victim %d hung in %s", (unsigned long long)seed, k, opn);
		else
			diag("seed %llu: round exit %d", (unsigned long long)seed, rc);
	}
	ok(fails == 0, "%ld rounds scribbling the topic table: no victim crashed, hung or got an "
		       "undocumented result (%ld calls, %ld scribbles)",
	   rounds, ops, scribbles);
	zt_done();
	return done_testing();
}
