/* SPDX-License-Identifier: MIT */
/* tools/bench/pubsub.c - the publish/subscribe figures: pubsub_rtt,
 * pubsub_local, pubsub_fanout, pubsub_size, pubsub_throughput.
 *
 * Every topic uses the default options (capacity 16, history 0,
 * DROP_OLDEST, untyped) in a manager with the default topic table (16
 * topics, 8 publishers and 16 subscribers a topic, rings of 64): what a
 * user gets without tuning.  A publish therefore also evicts the sample
 * 16 positions back from the ring, and that eviction gives the chunk back
 * to its pool once every subscriber has released it: a loan and an
 * eviction per sample are part of the steady state measured here.
 *
 * The floor beside the single-process figures is bare: the free list of
 * freelist.c (tagged-head Treiber stack, CAS, MAP_SHARED) for the chunk,
 * and a single-producer ring of chunk indexes in MAP_SHARED memory with
 * release/acquire head and tail (ring_push()/ring_pop() below, out of line
 * as a library's would be) for the delivery.  Nothing else: no reference
 * counts, no owner, no crash recovery, no history, no several readers.
 *
 * The two-process figures fork a peer that attaches to the manager, as
 * handoff.c does, and use its bare cache-line ping-pong as the baseline of
 * pubsub_rtt (the same code: one shared cache line, each side writing the
 * next count).  See docs/bench-json.md.
 */
#define _GNU_SOURCE 1
#include "tool.h"
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__GNUC__) || defined(__clang__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#define SMALL	   256u
#define LARGE	   16384u
#define SMALL_N	   256u /* chunks: rings keep 16 a topic, fanout has 3 topics */
#define LARGE_N	   64u
#define BLOCK	   16u /* fanout: publishes a timed block = the topic's capacity */
#define MAX_SUBS   8u
#define RING	   64u /* slots of the bare ring (a power of two) */
#define NIL	   UINT32_C(0xFFFFFFFF)
#define TIMEOUT_NS (UINT64_C(30) * 1000000000u)

/* ------------------------------------------------------------------ */
/* The bare single-producer ring (the floor's delivery).               */
/* ------------------------------------------------------------------ */

/* In a MAP_SHARED mapping; producer and consumer indexes on their own
 * cache lines. */
struct bare_ring {
	_Alignas(64) _Atomic uint64_t head; /* next to write: the producer's */
	_Alignas(64) _Atomic uint64_t tail; /* next to read: the consumer's */
	_Alignas(64) _Atomic uint32_t slot[RING];
};

/* 0, or -1 when full. */
static NOINLINE int ring_push(struct bare_ring *r, uint32_t v)
{
	uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* Acquire: the consumer has read the slot before we reuse it. */
	if (h - atomic_load_explicit(&r->tail, memory_order_acquire) >= RING)
		return -1;
	atomic_store_explicit(&r->slot[h % RING], v, memory_order_relaxed);
	/* Release: the slot, and the payload written before, then the index. */
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return 0;
}

/* The oldest index, or NIL when empty. */
static NOINLINE uint32_t ring_pop(struct bare_ring *r)
{
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	/* Acquire: pairs with the producer's release store of head. */
	if (t == atomic_load_explicit(&r->head, memory_order_acquire))
		return NIL;
	uint32_t v = atomic_load_explicit(&r->slot[t % RING], memory_order_relaxed);
	/* Release: our read of the slot before the producer may reuse it. */
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return v;
}

/* ------------------------------------------------------------------ */
/* Managers and endpoints.                                             */
/* ------------------------------------------------------------------ */

static zcp_mempool_manager *ps_manager(const struct zcp_bench_ctx *ctx, char *name, size_t n)
{
	snprintf(name, n, "%sp", ctx->name);
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	if (!cfg)
		zcp_bench_fatal("zcp_mempool_config_new: %s", strerror(errno));
	int err = zcp_mempool_config_add_entry(cfg, SMALL, SMALL_N);
	if (!err)
		err = zcp_mempool_config_add_entry(cfg, LARGE, LARGE_N);
	/* The defaults, spelt out: the figures are for an untuned table. */
	if (!err)
		err = zcp_mempool_config_set_topics(cfg, ZCP_DEFAULT_TOPICS,
						    ZCP_DEFAULT_TOPIC_PUBLISHERS,
						    ZCP_DEFAULT_TOPIC_SUBSCRIBERS,
						    ZCP_DEFAULT_TOPIC_QUEUE);
	if (err)
		zcp_bench_fatal("pubsub configuration: %s", zcp_strerror(err));
	zcp_mempool_manager *m = zcp_bench_create(name, cfg);
	zcp_mempool_config_free(cfg);
	return m;
}

static zcp_publisher *ps_pub(zcp_mempool_manager *m, const char *topic)
{
	zcp_publisher *p = NULL;
	int err = zcp_publisher_create(m, topic, NULL, &p);
	if (err)
		zcp_bench_fatal("zcp_publisher_create(%s): %s", topic, zcp_strerror(err));
	return p;
}

static zcp_subscriber *ps_sub(zcp_mempool_manager *m, const char *topic)
{
	zcp_subscriber *s = NULL;
	int err = zcp_subscriber_create(m, topic, NULL, &s);
	if (err)
		zcp_bench_fatal("zcp_subscriber_create(%s): %s", topic, zcp_strerror(err));
	return s;
}

static void ps_close(zcp_publisher *p, zcp_subscriber *const *s, unsigned ns)
{
	int err = zcp_publisher_close(p);
	for (unsigned i = 0; !err && i < ns; i++)
		err = zcp_subscriber_close(s[i]);
	if (err)
		zcp_bench_fatal("closing pubsub endpoints: %s", zcp_strerror(err));
}

/* errno after a NULL from the library, as text. */
static const char *errno_text(void)
{
	return zcp_strerror(-errno);
}

static NOINLINE ZCP_BENCH_NORETURN void fail_loan(void)
{
	zcp_bench_fatal("zcp_publisher_loan: %s", errno_text());
}

static NOINLINE ZCP_BENCH_NORETURN void fail_code(const char *what, int err)
{
	zcp_bench_fatal("%s: %s", what, zcp_strerror(err));
}

static NOINLINE ZCP_BENCH_NORETURN void fail_take(zcp_chunk *got)
{
	if (got)
		zcp_bench_fatal("zcp_subscriber_take: another sample than the one published");
	zcp_bench_fatal("zcp_subscriber_take: %s", errno_text());
}

static inline unsigned char *sample(zcp_chunk *c)
{
	return zcp_sample_data(c);
}

/* ------------------------------------------------------------------ */
/* Single-process kinds, interleaved trial by trial (as ops.c).        */
/* ------------------------------------------------------------------ */

struct kind {
	const char *name;
	/* n iterations: returns the timed ns, *wall the whole loop's. */
	uint64_t (*run)(void *arg, uint64_t n, uint64_t *wall);
	void *arg;
	unsigned ops; /* samples an iteration */
	uint64_t iters;
	double v[ZCP_BENCH_MAX_TRIALS]; /* timed ns per sample, per trial */
	double w[ZCP_BENCH_MAX_TRIALS]; /* wall ns per sample, per trial */
};

/* Iterations for a trial of ctx->trial_ns of wall time (the calibration
 * runs double as warm-up). */
static void calibrate(const struct zcp_bench_ctx *ctx, struct kind *k)
{
	uint64_t n = 1;
	for (;;) {
		uint64_t wall;
		k->run(k->arg, n, &wall);
		if (wall >= ctx->trial_ns / 8 || n >= (UINT64_C(1) << 36)) {
			double it = (double)n * ctx->trial_ns / (double)(wall ? wall : 1);
			k->iters = it < 1 ? 1 : (uint64_t)it;
			return;
		}
		n *= 2;
	}
}

static void interleave(const struct zcp_bench_ctx *ctx, struct kind *k, unsigned nk)
{
	for (unsigned i = 0; i < nk; i++)
		calibrate(ctx, &k[i]);
	for (unsigned t = 0; t < ctx->trials; t++)
		for (unsigned j = 0; j < nk; j++) {
			struct kind *x = &k[(t + j) % nk];
			uint64_t wall, ns = x->run(x->arg, x->iters, &wall);
			double ops = (double)x->iters * x->ops;
			x->v[t] = (double)ns / ops;
			x->w[t] = (double)wall / ops;
		}
}

/* Figure name/variant: kind z against kind b (timed or wall figures),
 * with kind a shown beside it if not NULL. */
static void kind_figure(const struct zcp_bench_ctx *ctx, struct zcp_bench_figure *f,
			const char *name, const char *variant, const struct kind *z,
			const char *bname, const struct kind *b, const struct kind *a, int wall)
{
	zcp_bench_figure_of(f, name, "ns", ctx->trials, z->iters * z->ops, wall ? z->w : z->v,
			    bname, wall ? b->w : b->v);
	snprintf(f->variant, sizeof f->variant, "%s", variant);
	if (a) {
		f->base[1].name = a->name;
		zcp_bench_stat_of(wall ? a->w : a->v, ctx->trials, &f->base[1].st);
		f->nbase = 2;
	}
}

/* One more context kind beside the figure (after kind_figure()'s). */
static void kind_also(const struct zcp_bench_ctx *ctx, struct zcp_bench_figure *f,
		      const struct kind *a)
{
	if (f->nbase >= sizeof f->base / sizeof f->base[0])
		zcp_bench_fatal("kind_also: no room for %s", a->name);
	f->base[f->nbase].name = a->name;
	zcp_bench_stat_of(a->v, ctx->trials, &f->base[f->nbase].st);
	f->nbase++;
}

/* One sample through a topic in one process: loan, write a byte, publish,
 * take, read the byte, release. */
struct local_zcp {
	zcp_mempool_manager *m;
	zcp_publisher *pub;
	zcp_subscriber *sub;
	uint64_t size;
	unsigned sink;
};

static uint64_t run_local_zcp(void *arg, uint64_t n, uint64_t *wall)
{
	struct local_zcp *a = arg;
	unsigned sink = 0;
	uint64_t t0 = zcp_bench_now();
	for (uint64_t i = 0; i < n; i++) {
		zcp_chunk *c = zcp_publisher_loan(a->pub, a->size);
		if (!c)
			fail_loan();
		sample(c)[0] = (unsigned char)i;
		int err = zcp_publisher_publish(a->pub, c);
		if (err)
			fail_code("zcp_publisher_publish", err);
		zcp_chunk *t = zcp_subscriber_take(a->sub);
		if (t != c)
			fail_take(t);
		sink += sample(t)[0];
		if ((err = zcp_chunk_release(a->m, t)))
			fail_code("zcp_chunk_release", err);
	}
	*wall = zcp_bench_now() - t0;
	a->sink += sink;
	return *wall;
}

/* The floor of the same: pop, write a byte, ring push, ring pop, read the
 * byte, push. */
struct local_floor {
	struct zcp_bench_fl *fl;
	struct bare_ring *r;
	unsigned sink;
};

static uint64_t run_local_floor(void *arg, uint64_t n, uint64_t *wall)
{
	struct local_floor *a = arg;
	unsigned sink = 0;
	uint64_t t0 = zcp_bench_now();
	for (uint64_t i = 0; i < n; i++) {
		uint32_t idx = zcp_bench_fl_pop(a->fl);
		if (idx == ZCP_BENCH_FL_NIL)
			zcp_bench_fatal("bare free list empty");
		zcp_bench_fl_data(a->fl, idx)[0] = (unsigned char)i;
		if (ring_push(a->r, idx))
			zcp_bench_fatal("bare ring full");
		uint32_t j = ring_pop(a->r);
		if (j != idx)
			zcp_bench_fatal("bare ring: another index than the one pushed");
		sink += zcp_bench_fl_data(a->fl, j)[0];
		zcp_bench_fl_push(a->fl, j);
	}
	*wall = zcp_bench_now() - t0;
	a->sink += sink;
	return *wall;
}

/* publish_nosleeper: pubsub_local's loop on a topic whose subscriber is
 * attached to a waitset with an event-loop descriptor (zcp_waitset_fd())
 * that is not armed (its last wait reported news), beside the same loop
 * on a topic with no waitset, in the same manager and the same run: what
 * a descriptor costs the publish path while nobody is asleep.  Bar:
 * ratio <= 1.1. */
void zcp_bench_publish_nosleeper(struct zcp_bench_ctx *ctx)
{
	char name[48];
	zcp_mempool_manager *m = ps_manager(ctx, name, sizeof name);
	struct local_zcp ws_side = {m, ps_pub(m, "nosleeper"), NULL, SMALL, 0};
	struct local_zcp plain = {m, ps_pub(m, "local"), NULL, SMALL, 0};
	struct zcp_bench_figure f;
	zcp_waitset *ws = NULL;
	zcp_waitset_event ev[4];
	int fd, err;

	ws_side.sub = ps_sub(m, "nosleeper");
	plain.sub = ps_sub(m, "local");
	if ((err = zcp_waitset_create(m, &ws)) ||
	    (err = zcp_waitset_attach_subscriber(ws, ws_side.sub, NULL)) ||
	    (err = zcp_waitset_fd(ws, &fd)))
		zcp_bench_fatal("publish_nosleeper waitset: %s", zcp_strerror(err));
	/* Armed by a look that finds nothing, rung by one publish, disarmed
	 * by the look that reports it: the state an event loop leaves it in
	 * while it handles news. */
	while (zcp_waitset_wait(ws, ev, 4, 0) > 0)
		;
	zcp_chunk *c = zcp_publisher_loan(ws_side.pub, SMALL);
	if (!c || zcp_publisher_publish(ws_side.pub, c))
		zcp_bench_fatal("publish_nosleeper: the first publish failed");
	if (zcp_waitset_wait(ws, ev, 4, 0) != 1)
		zcp_bench_fatal("publish_nosleeper: the wait did not report the sample");
	zcp_chunk *t = zcp_subscriber_take(ws_side.sub);
	if (!t || zcp_chunk_release(m, t))
		zcp_bench_fatal("publish_nosleeper: the first take failed");
	struct kind k[2] = {
		{"zcp", run_local_zcp, &ws_side, 1, 0, {0}, {0}},
		{"pubsub_local", run_local_zcp, &plain, 1, 0, {0}, {0}},
	};
	interleave(ctx, k, 2);
	kind_figure(ctx, &f, "publish_nosleeper", "256", &k[0], k[1].name, &k[1], NULL, 0);
	zcp_bench_bar(&f, "ratio", "<=", 1.1);
	snprintf(f.note, sizeof f.note,
		 "loan+publish+take+release, the subscriber in a waitset with a descriptor not "
		 "armed; beside: the same on a topic without a waitset");
	zcp_bench_report(ctx, &f);

	zcp_waitset_destroy(ws);
	ps_close(ws_side.pub, &ws_side.sub, 1);
	ps_close(plain.pub, &plain.sub, 1);
	zcp_bench_destroy(m);
}

/* Context for pubsub_local: one read of the clock a publish stamps its
 * sample with (CLOCK_REALTIME: zcp_sample_info's timestamp_ns), a part of
 * every publish that the floor does not pay. */
static uint64_t run_clock(void *arg, uint64_t n, uint64_t *wall)
{
	unsigned *sink = arg;
	struct timespec ts;
	uint64_t t0 = zcp_bench_now();
	for (uint64_t i = 0; i < n; i++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		*sink += (unsigned)ts.tv_nsec;
	}
	*wall = zcp_bench_now() - t0;
	return *wall;
}

/* Context for pubsub_local: a plain get + write + release of the same size. */
static uint64_t run_get_release(void *arg, uint64_t n, uint64_t *wall)
{
	struct local_zcp *a = arg;
	uint64_t t0 = zcp_bench_now();
	for (uint64_t i = 0; i < n; i++) {
		zcp_chunk *c = zcp_chunk_get(a->m, a->size);
		if (!c)
			zcp_bench_fatal("zcp_chunk_get: %s", errno_text());
		((unsigned char *)zcp_chunk_data(c))[0] = (unsigned char)i;
		int err = zcp_chunk_release(a->m, c);
		if (err)
			fail_code("zcp_chunk_release", err);
	}
	*wall = zcp_bench_now() - t0;
	return *wall;
}

void zcp_bench_pubsub_local(struct zcp_bench_ctx *ctx)
{
	char name[48];
	zcp_mempool_manager *m = ps_manager(ctx, name, sizeof name);
	struct zcp_bench_fl fl;
	struct bare_ring *r = zcp_bench_shared_alloc(sizeof *r);
	struct local_zcp lz = {m, ps_pub(m, "local"), NULL, SMALL, 0};
	struct local_floor lf = {&fl, r, 0};
	struct local_zcp gr = {m, NULL, NULL, SMALL, 0};
	struct zcp_bench_figure f;

	lz.sub = ps_sub(m, "local");
	zcp_bench_fl_init(&fl, SMALL, SMALL_N);
	unsigned clock_sink = 0;
	struct kind k[4] = {
		{"zcp", run_local_zcp, &lz, 1, 0, {0}, {0}},
		{"freelist+ring", run_local_floor, &lf, 1, 0, {0}, {0}},
		{"get_release", run_get_release, &gr, 1, 0, {0}, {0}},
		{"clock", run_clock, &clock_sink, 1, 0, {0}, {0}},
	};
	interleave(ctx, k, 4);
	kind_figure(ctx, &f, "pubsub_local", "256", &k[0], k[1].name, &k[1], &k[2], 0);
	kind_also(ctx, &f, &k[3]);
	zcp_bench_bar(&f, "ratio", "<=", 3.0);
	snprintf(f.note, sizeof f.note,
		 "loan+publish+take+release, 1 subscriber; floor: bare pop+push and ring "
		 "push+pop; context: get_release, clock (the stamp's clock_gettime)");
	zcp_bench_report(ctx, &f);

	ps_close(lz.pub, &lz.sub, 1);
	zcp_bench_fl_fini(&fl);
	zcp_bench_shared_free(r, sizeof *r);
	zcp_bench_destroy(m);
}

void zcp_bench_pubsub_size(struct zcp_bench_ctx *ctx)
{
	char name[48];
	zcp_mempool_manager *m = ps_manager(ctx, name, sizeof name);
	struct zcp_bench_fl fs, fb;
	struct bare_ring *r = zcp_bench_shared_alloc(sizeof *r);
	struct local_zcp zs = {m, ps_pub(m, "size256"), NULL, SMALL, 0};
	struct local_zcp zb = {m, ps_pub(m, "size16K"), NULL, LARGE, 0};
	struct local_floor ls = {&fs, r, 0}, lb = {&fb, r, 0};
	struct zcp_bench_figure f;

	zs.sub = ps_sub(m, "size256");
	zb.sub = ps_sub(m, "size16K");
	zcp_bench_fl_init(&fs, SMALL, SMALL_N);
	zcp_bench_fl_init(&fb, LARGE, LARGE_N);
	struct kind k[4] = {
		{"zcp256", run_local_zcp, &zs, 1, 0, {0}, {0}},
		{"zcp16K", run_local_zcp, &zb, 1, 0, {0}, {0}},
		{"freelist+ring", run_local_floor, &ls, 1, 0, {0}, {0}},
		{"freelist+ring", run_local_floor, &lb, 1, 0, {0}, {0}},
	};
	interleave(ctx, k, 4);

	kind_figure(ctx, &f, "pubsub_size", "256", &k[0], k[2].name, &k[2], NULL, 0);
	snprintf(f.note, sizeof f.note, "as pubsub_local; payload: one byte written, one read");
	zcp_bench_report(ctx, &f);
	kind_figure(ctx, &f, "pubsub_size", "16K", &k[1], k[3].name, &k[3], NULL, 0);
	snprintf(f.note, sizeof f.note, "as pubsub_local; payload: one byte written, one read");
	zcp_bench_report(ctx, &f);

	/* The ratio of the medians (min, max: extremes of the trial-by-trial
	 * ratios), as create_attach/attach_scaling. */
	double rz[ZCP_BENCH_MAX_TRIALS], rb[ZCP_BENCH_MAX_TRIALS];
	struct zcp_bench_stat s0, s1;
	for (unsigned t = 0; t < ctx->trials; t++) {
		rz[t] = k[1].v[t] / k[0].v[t];
		rb[t] = k[3].v[t] / k[2].v[t];
	}
	zcp_bench_figure_of(&f, "pubsub_size", "x", ctx->trials, 1, rz, "freelist+ring", rb);
	snprintf(f.variant, sizeof f.variant, "16K:256");
	zcp_bench_stat_of(k[1].v, ctx->trials, &s1);
	zcp_bench_stat_of(k[0].v, ctx->trials, &s0);
	f.zcp.median = s1.median / s0.median;
	zcp_bench_stat_of(k[3].v, ctx->trials, &s1);
	zcp_bench_stat_of(k[2].v, ctx->trials, &s0);
	f.base[0].st.median = s1.median / s0.median;
	zcp_bench_ratio(&f);
	zcp_bench_bar(&f, "median", "<=", 1.2);
	snprintf(f.note, sizeof f.note, "pubsub_size/16K over pubsub_size/256%s",
		 f.zcp.median < 1 / 1.2 ? "; 16K is more than 1.2x faster: not within 1.2x" : "");
	if (f.zcp.median < 1 / 1.2)
		f.bar_pass = 0; /* "within 1.2x of each other" holds both ways */
	zcp_bench_report(ctx, &f);

	ps_close(zs.pub, &zs.sub, 1);
	ps_close(zb.pub, &zb.sub, 1);
	zcp_bench_fl_fini(&fs);
	zcp_bench_fl_fini(&fb);
	zcp_bench_shared_free(r, sizeof *r);
	zcp_bench_destroy(m);
}

/* ------------------------------------------------------------------ */
/* pubsub_fanout                                                       */
/* ------------------------------------------------------------------ */

/* BLOCK publishes timed as one block (two clock reads for 16 samples),
 * then, untimed, every subscriber takes and releases the BLOCK samples:
 * the figure is what publishing costs the publisher, which is what the
 * bar compares; the wall time gives the delivery (deliver/N). */
struct fan_zcp {
	zcp_mempool_manager *m;
	zcp_publisher *pub;
	zcp_subscriber *sub[MAX_SUBS];
	unsigned nsub;
	unsigned sink;
};

static uint64_t run_fan_zcp(void *arg, uint64_t n, uint64_t *wall)
{
	struct fan_zcp *a = arg;
	uint64_t pub_ns = 0, start = zcp_bench_now();
	zcp_chunk *c[BLOCK];
	unsigned sink = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = zcp_bench_now();
		for (unsigned b = 0; b < BLOCK; b++) {
			if (!(c[b] = zcp_publisher_loan(a->pub, SMALL)))
				fail_loan();
			sample(c[b])[0] = (unsigned char)b;
			int err = zcp_publisher_publish(a->pub, c[b]);
			if (err)
				fail_code("zcp_publisher_publish", err);
		}
		pub_ns += zcp_bench_now() - t0;
		for (unsigned s = 0; s < a->nsub; s++)
			for (unsigned b = 0; b < BLOCK; b++) {
				zcp_chunk *t = zcp_subscriber_take(a->sub[s]);
				if (t != c[b])
					fail_take(t);
				sink += sample(t)[0];
				int err = zcp_chunk_release(a->m, t);
				if (err)
					fail_code("zcp_chunk_release", err);
			}
	}
	*wall = zcp_bench_now() - start;
	a->sink += sink;
	return pub_ns;
}

/* The floor's publisher half timed the same way (pop, write a byte, ring
 * push), its consumer half untimed. */
static uint64_t run_fan_floor(void *arg, uint64_t n, uint64_t *wall)
{
	struct local_floor *a = arg;
	uint64_t pub_ns = 0, start = zcp_bench_now();
	uint32_t idx[BLOCK];
	unsigned sink = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = zcp_bench_now();
		for (unsigned b = 0; b < BLOCK; b++) {
			if ((idx[b] = zcp_bench_fl_pop(a->fl)) == ZCP_BENCH_FL_NIL)
				zcp_bench_fatal("bare free list empty");
			zcp_bench_fl_data(a->fl, idx[b])[0] = (unsigned char)b;
			if (ring_push(a->r, idx[b]))
				zcp_bench_fatal("bare ring full");
		}
		pub_ns += zcp_bench_now() - t0;
		for (unsigned b = 0; b < BLOCK; b++) {
			uint32_t j = ring_pop(a->r);
			if (j != idx[b])
				zcp_bench_fatal("bare ring: another index than the one pushed");
			sink += zcp_bench_fl_data(a->fl, j)[0];
			zcp_bench_fl_push(a->fl, j);
		}
	}
	*wall = zcp_bench_now() - start;
	a->sink += sink;
	return pub_ns;
}

void zcp_bench_pubsub_fanout(struct zcp_bench_ctx *ctx)
{
	static const unsigned nsubs[3] = {1, 4, 8};
	static const char *const topic[3] = {"fanout1", "fanout4", "fanout8"};
	static const char *const variant[3] = {"1", "4", "8"};
	static const char *const deliver[3] = {"deliver/1", "deliver/4", "deliver/8"};
	char name[48];
	zcp_mempool_manager *m = ps_manager(ctx, name, sizeof name);
	struct zcp_bench_fl fl;
	struct bare_ring *r = zcp_bench_shared_alloc(sizeof *r);
	struct fan_zcp fz[3];
	struct local_floor lf = {&fl, r, 0};
	struct kind k[4];
	struct zcp_bench_figure f;

	zcp_bench_fl_init(&fl, SMALL, SMALL_N);
	memset(fz, 0, sizeof fz);
	memset(k, 0, sizeof k);
	for (int i = 0; i < 3; i++) {
		fz[i].m = m;
		fz[i].pub = ps_pub(m, topic[i]);
		fz[i].nsub = nsubs[i];
		for (unsigned s = 0; s < nsubs[i]; s++)
			fz[i].sub[s] = ps_sub(m, topic[i]);
		k[i].name = "1sub";
		k[i].run = run_fan_zcp;
		k[i].arg = &fz[i];
		k[i].ops = BLOCK;
	}
	k[3].name = "freelist+ring";
	k[3].run = run_fan_floor;
	k[3].arg = &lf;
	k[3].ops = BLOCK;
	interleave(ctx, k, 4);

	for (int i = 0; i < 3; i++) {
		/* 1 subscriber against the floor's publisher half; 4 and 8
		 * against 1 subscriber, the bar's comparison. */
		if (i == 0)
			kind_figure(ctx, &f, "pubsub_fanout", variant[i], &k[0], k[3].name, &k[3],
				    NULL, 0);
		else
			kind_figure(ctx, &f, "pubsub_fanout", variant[i], &k[i], k[0].name, &k[0],
				    NULL, 0);
		if (i == 2)
			zcp_bench_bar(&f, "ratio", "<=", 4.0);
		snprintf(f.note, sizeof f.note,
			 "loan+publish, %u subscriber%s; %u publishes timed a block, takes "
			 "and releases untimed",
			 nsubs[i], nsubs[i] > 1 ? "s" : "", BLOCK);
		zcp_bench_report(ctx, &f);
	}
	for (int i = 0; i < 3; i++) {
		if (i == 0)
			kind_figure(ctx, &f, "pubsub_fanout", deliver[i], &k[0], k[3].name, &k[3],
				    NULL, 1);
		else
			kind_figure(ctx, &f, "pubsub_fanout", deliver[i], &k[i], k[0].name, &k[0],
				    NULL, 1);
		snprintf(f.note, sizeof f.note,
			 "per sample: loan+publish and %u take+release (wall time of the loop)",
			 nsubs[i]);
		zcp_bench_report(ctx, &f);
	}

	for (int i = 0; i < 3; i++)
		ps_close(fz[i].pub, fz[i].sub, fz[i].nsub);
	zcp_bench_fl_fini(&fl);
	zcp_bench_shared_free(r, sizeof *r);
	zcp_bench_destroy(m);
}

/* ------------------------------------------------------------------ */
/* Two processes: waiting on a peer.                                   */
/* ------------------------------------------------------------------ */

struct watch {
	_Atomic int *err;
	int yield; /* fewer than 2 CPUs: spinning alone would never end */
	unsigned long spins;
	uint64_t deadline;
	const char *what;
};

static void watch_start(struct watch *w)
{
	w->spins = 0;
	w->deadline = 0;
}

static void watch_spin(struct watch *w)
{
	if (w->yield)
		sched_yield();
	if ((++w->spins & 0xFFFF) != 0)
		return;
	if (atomic_load_explicit(w->err, memory_order_relaxed))
		zcp_bench_fatal("%s: the peer failed", w->what);
	uint64_t now = zcp_bench_now();
	if (w->deadline == 0)
		w->deadline = now + TIMEOUT_NS;
	else if (now > w->deadline)
		zcp_bench_fatal("%s: the peer stopped answering", w->what);
}

/* In a peer: say the benchmark failed, then abort. */
static ZCP_BENCH_NORETURN void peer_fatal(_Atomic int *err, const char *what, const char *why)
{
	atomic_store_explicit(err, 1, memory_order_relaxed);
	zcp_bench_fatal("%s: %s", what, why);
}

static zcp_mempool_manager *peer_attach(const char *name, _Atomic int *err, int pinned, int cpu)
{
	zcp_mempool_manager *m = NULL;
	int e = zcp_mempool_manager_attach(name, &m);
	if (e)
		peer_fatal(err, "zcp_mempool_manager_attach", zcp_strerror(e));
	if (pinned && zcp_bench_pin(cpu))
		peer_fatal(err, "sched_setaffinity", strerror(errno));
	return m;
}

/* Pin this process to cpu, saving its mask; restore_cpus() undoes it. */
static void pin_self(int pinned, int cpu, cpu_set_t *saved)
{
	if (!pinned)
		return;
	if (sched_getaffinity(0, sizeof *saved, saved))
		zcp_bench_fatal("sched_getaffinity: %s", strerror(errno));
	if (zcp_bench_pin(cpu))
		zcp_bench_fatal("sched_setaffinity(CPU %d): %s", cpu, strerror(errno));
}

static void restore_cpus(int pinned, const cpu_set_t *saved)
{
	if (pinned && sched_setaffinity(0, sizeof *saved, saved))
		zcp_bench_fatal("sched_setaffinity (restore): %s", strerror(errno));
}

/* ------------------------------------------------------------------ */
/* pubsub_rtt                                                          */
/* ------------------------------------------------------------------ */

/* zerocp round (A = this process, B = a forked peer that attached):
 *   A: loan, write n, publish on "ping"; take from "pong" until a sample
 *      comes (busy poll), check it says n + 1, release it.
 *   B: take from "ping" until a sample comes, read n, release it; loan,
 *      write n + 1, publish on "pong".
 * Ping-pong round: handoff.c's, one shared cache line. */
/* The bare zero-copy ping-pong (context for pubsub_rtt): each way, a
 * payload line written in place, then a descriptor line that names it;
 * the reader finds the payload through the descriptor it loaded.  The
 * least any zero-copy pass moves: two lines a way, one after the other,
 * where the cache-line ping-pong moves one. */
#define ZC_SLOTS 16
struct zc_line {
	_Alignas(64) _Atomic uint64_t v;
};

struct rshared {
	_Alignas(64) _Atomic uint64_t pp; /* the ping-pong line */
	struct zc_line zc_desc[2]; /* A -> B, B -> A: value << 8 | slot */
	_Alignas(64) struct zc_line zc_payload[2][ZC_SLOTS];
	_Alignas(64) _Atomic uint32_t ready;
	_Atomic int err;
};

struct rside {
	struct rshared *s;
	zcp_mempool_manager *m;
	zcp_publisher *pub;
	zcp_subscriber *sub;
	struct watch w;
	uint64_t pp; /* last ping-pong value */
	uint64_t n;  /* A: sequence number */
	uint64_t zc; /* last bare zero-copy ping's value */
};

static zcp_chunk *take_wait(struct rside *x)
{
	watch_start(&x->w);
	for (;;) {
		zcp_chunk *c = zcp_subscriber_take(x->sub);
		if (c)
			return c;
		if (errno != EAGAIN)
			peer_fatal(&x->s->err, "pubsub_rtt zcp_subscriber_take", errno_text());
		watch_spin(&x->w);
	}
}

static void send_value(struct rside *x, uint64_t v)
{
	zcp_chunk *c = zcp_publisher_loan(x->pub, SMALL);
	if (!c)
		peer_fatal(&x->s->err, "pubsub_rtt zcp_publisher_loan", errno_text());
	*(uint64_t *)zcp_sample_data(c) = v;
	int err = zcp_publisher_publish(x->pub, c);
	if (err)
		peer_fatal(&x->s->err, "pubsub_rtt zcp_publisher_publish", zcp_strerror(err));
}

static uint64_t recv_value(struct rside *x)
{
	zcp_chunk *c = take_wait(x);
	uint64_t v = *(const uint64_t *)zcp_sample_data(c);
	int err = zcp_chunk_release(x->m, c);
	if (err)
		peer_fatal(&x->s->err, "pubsub_rtt zcp_chunk_release", zcp_strerror(err));
	return v;
}

static uint64_t a_zcp(struct rside *x)
{
	uint64_t n = x->n += 2;
	uint64_t t0 = zcp_bench_now();
	send_value(x, n);
	uint64_t v = recv_value(x);
	uint64_t ns = zcp_bench_now() - t0;
	if (v != n + 1)
		zcp_bench_fatal("pubsub_rtt: pong says %llu, expected %llu", (unsigned long long)v,
				(unsigned long long)(n + 1));
	return ns;
}

static void b_zcp(struct rside *x)
{
	send_value(x, recv_value(x) + 1);
}

static uint64_t a_pp(struct rside *x)
{
	uint64_t n = x->pp + 1;
	watch_start(&x->w);
	uint64_t t0 = zcp_bench_now();
	atomic_store_explicit(&x->s->pp, n, memory_order_release);
	while (atomic_load_explicit(&x->s->pp, memory_order_acquire) != n + 1)
		watch_spin(&x->w);
	uint64_t ns = zcp_bench_now() - t0;
	x->pp = n + 1;
	return ns;
}

static void b_pp(struct rside *x)
{
	uint64_t n = x->pp + 1;
	watch_start(&x->w);
	while (atomic_load_explicit(&x->s->pp, memory_order_acquire) != n)
		watch_spin(&x->w);
	atomic_store_explicit(&x->s->pp, n + 1, memory_order_release);
	x->pp = n + 1;
}

/* Send v the zero-copy way on direction d: payload, then descriptor. */
static void zc_send(struct rshared *s, int d, uint64_t v)
{
	unsigned slot = (unsigned)(v % ZC_SLOTS);
	atomic_store_explicit(&s->zc_payload[d][slot].v, v, memory_order_relaxed);
	/* Release: the payload before the descriptor that names it. */
	atomic_store_explicit(&s->zc_desc[d].v, v << 8 | slot, memory_order_release);
}

/* Wait for the descriptor of value `want` on direction d; return the
 * payload it names (its address comes from the descriptor loaded). */
static uint64_t zc_recv(struct rside *x, int d, uint64_t want)
{
	uint64_t desc;
	watch_start(&x->w);
	while (((desc = atomic_load_explicit(&x->s->zc_desc[d].v, memory_order_acquire)) >> 8) !=
	       want)
		watch_spin(&x->w);
	return atomic_load_explicit(&x->s->zc_payload[d][desc & (ZC_SLOTS - 1)].v,
				    memory_order_relaxed);
}

static uint64_t a_zc(struct rside *x)
{
	uint64_t n = x->zc + 2;
	uint64_t t0 = zcp_bench_now();
	zc_send(x->s, 0, n);
	uint64_t v = zc_recv(x, 1, n + 1);
	uint64_t ns = zcp_bench_now() - t0;
	if (v != n + 1)
		zcp_bench_fatal("pubsub_rtt: bare zero-copy pong says %llu, expected %llu",
				(unsigned long long)v, (unsigned long long)(n + 1));
	x->zc = n;
	return ns;
}

static void b_zc(struct rside *x)
{
	uint64_t n = x->zc + 2;
	zc_send(x->s, 1, zc_recv(x, 0, n) + 1);
	x->zc = n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Per-trial statistics of one kind: median, p99, max (as handoff.c). */
struct per_trial {
	double med[ZCP_BENCH_MAX_TRIALS], p99[ZCP_BENCH_MAX_TRIALS], max[ZCP_BENCH_MAX_TRIALS];
};

static void summarise(uint64_t *v, unsigned k, unsigned t, struct per_trial *out)
{
	qsort(v, k, sizeof *v, cmp_u64);
	out->med[t] = k % 2 ? (double)v[k / 2] : ((double)v[k / 2 - 1] + (double)v[k / 2]) / 2;
	unsigned i99 = (unsigned)((99ull * k + 99) / 100); /* ceil(0.99 k), 1-based */
	out->p99[t] = (double)v[(i99 ? i99 : 1) - 1];
	out->max[t] = (double)v[k - 1];
}

static void rtt_report(struct zcp_bench_ctx *ctx, const char *variant, const double *z,
		       const double *b, const double *zc, unsigned rounds, const char *note,
		       double bar)
{
	struct zcp_bench_figure f;
	zcp_bench_figure_of(&f, "pubsub_rtt", "ns", ctx->trials, rounds, z, "pingpong", b);
	f.base[1].name = "zc-pingpong";
	zcp_bench_stat_of(zc, ctx->trials, &f.base[1].st);
	f.nbase = 2;
	snprintf(f.variant, sizeof f.variant, "%s", variant);
	if (bar > 0)
		zcp_bench_bar(&f, "ratio", "<=", bar);
	snprintf(f.note, sizeof f.note, "%s", note);
	zcp_bench_report(ctx, &f);
}

void zcp_bench_pubsub_rtt(struct zcp_bench_ctx *ctx)
{
	const unsigned k = ctx->handoff_rounds, warm = k / 10 > 50 ? k / 10 : 50;
	char name[48], note[160];
	zcp_mempool_manager *m = ps_manager(ctx, name, sizeof name);
	struct rshared *s = zcp_bench_shared_alloc(sizeof *s);
	/* The kinds, in the order of rtt_kinds: zerocp, the cache-line
	 * ping-pong (the baseline), the bare zero-copy ping-pong (context). */
	uint64_t (*const a_run[3])(struct rside *) = {a_zcp, a_pp, a_zc};
	void (*const b_run[3])(struct rside *) = {b_zcp, b_pp, b_zc};
	uint64_t *v = malloc(k * sizeof *v);
	struct per_trial st[3];
	int pinned = ctx->ncpu >= 2 && ctx->cpu[1] >= 0;
	cpu_set_t saved;

	if (!v)
		zcp_bench_fatal("out of memory");
	if (pinned)
		snprintf(note, sizeof note, "A on CPU %d, B on CPU %d; %u-byte chunks, busy poll",
			 ctx->cpu[0], ctx->cpu[1], SMALL);
	else
		snprintf(note, sizeof note, "fewer than 2 CPUs: not pinned, peers yield");
	if (!pinned)
		zcp_bench_info(ctx, "pubsub_rtt: fewer than 2 CPUs; not pinning");

	/* A's endpoints before the fork: "pong" has its subscriber before
	 * its publisher exists, and B subscribes to "ping" before the first
	 * sample, so no round's sample is missed. */
	struct rside a = {s, m, ps_pub(m, "ping"), ps_sub(m, "pong"),
			  {&s->err, !pinned, 0, 0, "pubsub_rtt"}, 0, 0, 0};

	/* Each trial runs the three kinds one after the other, starting
	 * with a different one from trial to trial. */
	pid_t pid = zcp_bench_fork();
	if (pid == 0) {
		struct rside b = {s, NULL, NULL, NULL, {&s->err, !pinned, 0, 0, "pubsub_rtt"}, 0, 0, 0};
		b.m = peer_attach(name, &s->err, pinned, ctx->cpu[1]);
		int err = zcp_subscriber_create(b.m, "ping", NULL, &b.sub);
		if (!err)
			err = zcp_publisher_create(b.m, "pong", NULL, &b.pub);
		if (err)
			peer_fatal(&s->err, "pubsub_rtt endpoints", zcp_strerror(err));
		atomic_store_explicit(&s->ready, 1, memory_order_release);
		for (unsigned t = 0; t < ctx->trials; t++)
			for (unsigned ph = 0; ph < 3; ph++)
				for (unsigned r = 0; r < warm + k; r++)
					b_run[(t + ph) % 3](&b);
		if (zcp_subscriber_close(b.sub) || zcp_publisher_close(b.pub))
			_exit(1);
		zcp_mempool_manager_detach(b.m);
		_exit(0);
	}

	pin_self(pinned, ctx->cpu[0], &saved);
	if (zcp_bench_spin_until(&s->ready, 1, &s->err, 10.0))
		zcp_bench_fatal("pubsub_rtt: the peer did not start");
	for (unsigned t = 0; t < ctx->trials; t++)
		for (unsigned ph = 0; ph < 3; ph++) {
			unsigned kind = (t + ph) % 3;
			for (unsigned r = 0; r < warm + k; r++) {
				uint64_t ns = a_run[kind](&a);
				if (r >= warm)
					v[r - warm] = ns;
			}
			summarise(v, k, t, &st[kind]);
		}
	zcp_bench_wait(pid, "pubsub_rtt");
	restore_cpus(pinned, &saved);

	rtt_report(ctx, "median", st[0].med, st[1].med, st[2].med, k, note, 2.5);
	rtt_report(ctx, "p99", st[0].p99, st[1].p99, st[2].p99, k, note, 4.0);
	rtt_report(ctx, "max", st[0].max, st[1].max, st[2].max, k, note, 0);
	ps_close(a.pub, &a.sub, 1);
	free(v);
	zcp_bench_shared_free(s, sizeof *s);
	zcp_bench_destroy(m);
}

/* ------------------------------------------------------------------ */
/* pubsub_throughput                                                   */
/* ------------------------------------------------------------------ */

/* A (this process) publishes as fast as it can for a fixed time; B (a
 * forked peer) takes and releases as fast as it can, and after A stops,
 * drains what is left.  Phases (2 a trial: zerocp and the floor,
 * alternating which goes first) are numbered from 1; go, stop and done
 * carry the number of the phase they are about.  The floor: A pops a
 * chunk index from the bare free list, writes a byte and pushes it into
 * the bare ring (waiting while the list is empty or the ring full: it has
 * no way to drop); B pops it, reads the byte and pushes it back. */
struct tshared {
	_Alignas(64) _Atomic uint32_t go;
	_Alignas(64) _Atomic uint32_t stop;
	_Alignas(64) _Atomic uint32_t done; /* B drained the phase */
	_Atomic uint64_t taken;		    /* B's counts for that phase */
	_Atomic uint64_t lost;
	_Alignas(64) _Atomic uint32_t ready;
	_Atomic int err;
	struct bare_ring ring;
};

#define TBLOCK 32 /* samples between two looks at the clock */

static uint64_t t_produce_zcp(zcp_publisher *pub, uint64_t deadline)
{
	uint64_t n = 0;
	do {
		for (unsigned b = 0; b < TBLOCK; b++) {
			zcp_chunk *c = zcp_publisher_loan(pub, SMALL);
			if (!c)
				fail_loan();
			sample(c)[0] = (unsigned char)b;
			int err = zcp_publisher_publish(pub, c);
			if (err)
				fail_code("zcp_publisher_publish", err);
		}
		n += TBLOCK;
	} while (zcp_bench_now() < deadline);
	return n;
}

static uint64_t t_produce_floor(struct zcp_bench_fl *fl, struct bare_ring *r, struct watch *w,
				uint64_t deadline)
{
	uint64_t n = 0;
	do {
		for (unsigned b = 0; b < TBLOCK; b++) {
			uint32_t idx;
			watch_start(w);
			while ((idx = zcp_bench_fl_pop(fl)) == ZCP_BENCH_FL_NIL)
				watch_spin(w);
			zcp_bench_fl_data(fl, idx)[0] = (unsigned char)b;
			while (ring_push(r, idx))
				watch_spin(w);
		}
		n += TBLOCK;
	} while (zcp_bench_now() < deadline);
	return n;
}

/* B: one phase, until A's stop and the queue drained. */
static void t_consume(struct tshared *s, uint32_t phase, zcp_mempool_manager *m,
		      zcp_subscriber *sub, struct zcp_bench_fl *fl, struct watch *w)
{
	uint64_t taken = 0, lost0 = sub ? zcp_subscriber_lost(sub) : 0;
	unsigned sink = 0;
	int stopping = 0;
	watch_start(w);
	while (atomic_load_explicit(&s->go, memory_order_acquire) != phase)
		watch_spin(w);
	for (;;) {
		if (sub) {
			zcp_chunk *c = zcp_subscriber_take(sub);
			if (c) {
				sink += sample(c)[0];
				int err = zcp_chunk_release(m, c);
				if (err)
					peer_fatal(&s->err, "zcp_chunk_release", zcp_strerror(err));
				taken++;
				continue;
			}
			if (errno != EAGAIN)
				peer_fatal(&s->err, "zcp_subscriber_take", errno_text());
		} else {
			uint32_t idx = ring_pop(&s->ring);
			if (idx != NIL) {
				sink += zcp_bench_fl_data(fl, idx)[0];
				zcp_bench_fl_push(fl, idx);
				taken++;
				continue;
			}
		}
		/* Empty: done if A had stopped before we looked (then the
		 * queue was drained after its last publish). */
		if (stopping)
			break;
		stopping = atomic_load_explicit(&s->stop, memory_order_acquire) == phase;
	}
	zcp_bench_escape(&sink);
	atomic_store_explicit(&s->taken, taken, memory_order_relaxed);
	atomic_store_explicit(&s->lost, sub ? zcp_subscriber_lost(sub) - lost0 : 0,
			      memory_order_relaxed);
	/* Release: the counts before the phase's end. */
	atomic_store_explicit(&s->done, phase, memory_order_release);
}

void zcp_bench_pubsub_throughput(struct zcp_bench_ctx *ctx)
{
	char name[48], note[160];
	zcp_mempool_manager *m = ps_manager(ctx, name, sizeof name);
	struct tshared *s = zcp_bench_shared_alloc(sizeof *s);
	struct zcp_bench_fl fl;
	int pinned = ctx->ncpu >= 2 && ctx->cpu[1] >= 0;
	uint64_t dur = (uint64_t)ctx->contended_ns;
	double dz[ZCP_BENCH_MAX_TRIALS], db[ZCP_BENCH_MAX_TRIALS], pz[ZCP_BENCH_MAX_TRIALS];
	double lz[ZCP_BENCH_MAX_TRIALS];
	uint64_t published = 0, taken = 0, lost = 0;
	cpu_set_t saved;

	zcp_bench_fl_init(&fl, SMALL, SMALL_N);
	zcp_publisher *pub = ps_pub(m, "throughput");
	pid_t pid = zcp_bench_fork();
	if (pid == 0) {
		struct watch w = {&s->err, !pinned, 0, 0, "pubsub_throughput"};
		zcp_mempool_manager *bm = peer_attach(name, &s->err, pinned, ctx->cpu[1]);
		zcp_subscriber *sub = NULL;
		int err = zcp_subscriber_create(bm, "throughput", NULL, &sub);
		if (err)
			peer_fatal(&s->err, "zcp_subscriber_create", zcp_strerror(err));
		atomic_store_explicit(&s->ready, 1, memory_order_release);
		for (unsigned t = 0; t < ctx->trials; t++)
			for (unsigned ph = 0; ph < 2; ph++) {
				int zcp_phase = (ph == 0) == (t % 2 == 0);
				t_consume(s, 2 * t + ph + 1, bm, zcp_phase ? sub : NULL, &fl, &w);
			}
		if (zcp_subscriber_close(sub))
			_exit(1);
		zcp_mempool_manager_detach(bm);
		_exit(0);
	}

	struct watch w = {&s->err, !pinned, 0, 0, "pubsub_throughput"};
	pin_self(pinned, ctx->cpu[0], &saved);
	if (zcp_bench_spin_until(&s->ready, 1, &s->err, 10.0))
		zcp_bench_fatal("pubsub_throughput: the peer did not start");
	for (unsigned t = 0; t < ctx->trials; t++)
		for (unsigned ph = 0; ph < 2; ph++) {
			int zcp_phase = (ph == 0) == (t % 2 == 0);
			uint32_t phase = 2 * t + ph + 1;
			uint64_t t0 = zcp_bench_now();
			atomic_store_explicit(&s->go, phase, memory_order_release);
			uint64_t n = zcp_phase ? t_produce_zcp(pub, t0 + dur)
					       : t_produce_floor(&fl, &s->ring, &w, t0 + dur);
			double ns = (double)(zcp_bench_now() - t0);
			atomic_store_explicit(&s->stop, phase, memory_order_release);
			watch_start(&w);
			while (atomic_load_explicit(&s->done, memory_order_acquire) != phase)
				watch_spin(&w);
			uint64_t got = atomic_load_explicit(&s->taken, memory_order_relaxed);
			uint64_t gone = atomic_load_explicit(&s->lost, memory_order_relaxed);
			/* Samples delivered per second of the publisher's run
			 * (the drain after it adds at most a queue's worth). */
			if (zcp_phase) {
				dz[t] = (double)got / ns * 1e3;
				pz[t] = (double)n / ns * 1e3;
				lz[t] = n ? 100.0 * (double)gone / (double)n : 0;
				published += n;
				taken += got;
				lost += gone;
			} else {
				db[t] = (double)got / ns * 1e3;
				if (got != n)
					zcp_bench_fatal("pubsub_throughput: the bare ring delivered "
							"%llu of %llu",
							(unsigned long long)got,
							(unsigned long long)n);
			}
		}
	zcp_bench_wait(pid, "pubsub_throughput");
	restore_cpus(pinned, &saved);

	if (pinned)
		snprintf(note, sizeof note, "A on CPU %d, B on CPU %d; ", ctx->cpu[0], ctx->cpu[1]);
	else
		snprintf(note, sizeof note, "not pinned (fewer than 2 CPUs); ");
	size_t len = strlen(note);
	snprintf(note + len, sizeof note - len,
		 "all trials: %llu published, %llu taken, %llu lost%s",
		 (unsigned long long)published, (unsigned long long)taken, (unsigned long long)lost,
		 taken + lost == published ? "" : " (taken + lost != published)");

	struct zcp_bench_figure f;
	zcp_bench_figure_of(&f, "pubsub_throughput", "Msamples/s", ctx->trials, 0, dz,
			    "freelist+ring", db);
	f.higher_better = 1;
	f.samples = taken / ctx->trials;
	snprintf(f.variant, sizeof f.variant, "delivered");
	snprintf(f.note, sizeof f.note, "%s", note);
	zcp_bench_report(ctx, &f);

	zcp_bench_figure_of(&f, "pubsub_throughput", "Msamples/s", ctx->trials, 0, pz,
			    "freelist+ring", db);
	f.higher_better = 1;
	f.samples = published / ctx->trials;
	snprintf(f.variant, sizeof f.variant, "published");
	snprintf(f.note, sizeof f.note, "DROP_OLDEST, capacity 16: the publisher never waits");
	zcp_bench_report(ctx, &f);

	memset(&f, 0, sizeof f);
	f.name = "pubsub_throughput";
	snprintf(f.variant, sizeof f.variant, "lost");
	f.unit = "%";
	f.trials = ctx->trials;
	f.samples = published / ctx->trials;
	zcp_bench_stat_of(lz, ctx->trials, &f.zcp);
	zcp_bench_ratio(&f);
	snprintf(f.note, sizeof f.note, "samples lost to overflow, %% of those published");
	zcp_bench_report(ctx, &f);

	ps_close(pub, NULL, 0);
	zcp_bench_fl_fini(&fl);
	zcp_bench_shared_free(s, sizeof *s);
	zcp_bench_destroy(m);
}
