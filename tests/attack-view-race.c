/* SPDX-License-Identifier: MIT */
/* Attacks the process-local view of a chunk (struct zcp_chunk) from two
 * threads of one process at once, across a peer's release:
 *
 *   peer Q (a forked process)  gets the one chunk X of the pool, stamps
 *                              it, publishes its handle (or an escrow
 *                              ticket), waits a little, releases it;
 *   P's resolver threads (A)   resolve the published handle with
 *                              zcp_chunk_from_handle() and take a reference
 *                              with zcp_chunk_ref() (or zcp_chunk_receive()
 *                              the ticket), racing Q's release;
 *   P's taker threads (B)      zcp_chunk_get() the same X as soon as Q lets
 *                              go of it, stamp it, check it, release it.
 *
 * chunk.h allows all of it beside everything, and promises that a chunk
 * released meanwhile is refused with ZCP_ESTALE "never revived".  The
 * suspect: from_handle() binds the view's generation with plain stores
 * outside any crossing, zcp_chunk_ref() trusts the view when this process
 * holds the chunk (a count > 0: maybe B's new holding, not the generation
 * the handle named), and zcp_chunk_get() writes the count and generation
 * with plain stores even if a resolver thread's crossing is under way, so
 * one thread can clobber the other's holding.
 *
 * Variants: "handle" (2 A and 2 B threads, A dawdles between from_handle
 * and ref); "handle, P on one core" (the same, P pinned to core 0, Q to
 * core 1: preemption lands between the calls); "handle, A and B fired by
 * Q's release" (one A pinned to core 0, one B to core 1, both spinning on
 * Q's release counter, A's delay tuned on the fly to meet B's get(): the
 * window of get()'s plain stores); "escrow" (A receives Q's tickets).
 * Two A threads alone suffice for the wrong-generation grant: A1's view is
 * bound to a stale handle, A2 holds Q's next generation, A1's ref() rides
 * on A2's count.
 *
 * Each variant runs 2 s times ZT_SLOWDOWN (ZT_VIEWRACE_SECONDS overrides).
 *
 * Asserted per variant:
 *  - no unexpected error code (from_handle: EINVAL; ref/receive: ESTALE;
 *    get: ENOBUFS; nothing else);
 *  - a reference that ref()/receive() grants is to the generation the
 *    handle or ticket named: zcp_chunk_handle() of it is the handle, and
 *    the payload is Q's stamp for that handle;
 *  - a holder's view is never changed under it: B's zcp_chunk_handle() and
 *    stamp are the same at release as at get, and so are Q's;
 *  - every zcp_chunk_release() returns 0;
 *  - afterwards the pool is whole: used 0, every chunk can be taken again,
 *    zcp_mempool_manager_check() is 0; and nothing is left in /dev/shm. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#endif
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define CHUNKS 1        /* chunks in the pool: Q and B keep cycling the same one */
#define SIZE 64
#define RESOLVERS 2     /* threads A */
#define TAKERS 2        /* threads B */
#define MAGIC_Q UINT64_C(0x5151515100000000)
#define MAGIC_B UINT64_C(0x4242424200000000)

enum { V_HANDLE, V_HANDLE_ONECORE, V_TIMED, V_ESCROW, V_COUNT };
static const char *const vname[V_COUNT] = { "handle", "handle, P on one core",
					    "handle, A and B fired by Q's release", "escrow" };

/* Shared with Q (MAP_SHARED anonymous, made before the fork). */
struct box {
	_Atomic uint64_t word;  /* the handle (or ticket) Q published last */
	_Atomic int stop;
	_Atomic uint64_t released; /* Q's releases so far */
	_Atomic uint64_t q_rounds, q_errors, q_corrupt;
	char q_msg[200];
};

/* P's counters (threads A and B). */
struct counts {
	_Atomic uint64_t resolved, refs, stale, gets, enobufs;
	_Atomic uint64_t unexpected, wrong_gen, wrong_data, view_changed, b_corrupt, rel_fail;
};

static struct box *box;
static struct counts cnt;
static zcp_mempool_manager *pm;
static int variant;
static _Atomic uint64_t b_got; /* V_TIMED: the release B's last get followed */
static _Atomic uint64_t a_delay; /* V_TIMED: A's delay at the end, for the log */
/* The first message of each kind of problem (index: K_*). */
enum { K_UNEXPECTED, K_WRONG_GEN, K_WRONG_DATA, K_VIEW, K_B_CORRUPT, K_REL, K_COUNT };
static char first_msg[K_COUNT][256];
static _Atomic int have_msg[K_COUNT];

static void note(int k, const char *fmt, ...) TAP_PRINTF(2, 3);
static void note(int k, const char *fmt, ...)
{
	if (atomic_exchange(&have_msg[k], 1))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(first_msg[k], sizeof first_msg[k], fmt, ap);
	va_end(ap);
}

static uint64_t xs(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void spin(uint64_t n)
{
	for (volatile uint64_t i = 0; i < n; i++)
		;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
#ifdef __linux__
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu % (int)n, &set);
	(void)sched_setaffinity(0, sizeof set, &set); /* best effort */
#else
	(void)cpu;
#endif
}

static void unpin(void)
{
#ifdef __linux__
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	CPU_ZERO(&set);
	for (long i = 0; i < n && i < CPU_SETSIZE; i++)
		CPU_SET((int)i, &set);
	(void)sched_setaffinity(0, sizeof set, &set);
#endif
}

/* ---- Q: the peer that holds X, publishes it, releases it ----------- */
static void q_fail(const char *what, long long v)
{
	if (atomic_fetch_add(&box->q_errors, 1) == 0)
		snprintf(box->q_msg, sizeof box->q_msg, "Q: %s (%lld)", what, v);
}

static void q_main(const char *name, int v)
{
	zcp_mempool_manager *m;
	int err = zcp_mempool_manager_attach(name, &m);
	if (err) {
		q_fail("attach", err);
		_exit(1);
	}
	int escrow = v == V_ESCROW, timed = v == V_TIMED;
	const struct timespec pause = { 0, 20000 };
	uint64_t rng = (uint64_t)getpid() * 0x9E3779B97F4A7C15ULL | 1, seq = 0;
	while (!atomic_load_explicit(&box->stop, memory_order_relaxed)) {
		zcp_chunk *c = zcp_chunk_get(m, SIZE);
		if (!c) {
			if (errno != ENOBUFS)
				q_fail("get: unexpected errno", errno);
			continue;
		}
		uint64_t h = zcp_chunk_handle(m, c), *p = zcp_chunk_data(c);
		if (h == 0)
			q_fail("handle of a held chunk is 0", 0);
		p[0] = MAGIC_Q | (++seq & 0xFFFFFFFF);
		p[1] = h;
		uint64_t ticket = 0;
		if (escrow) {
			err = zcp_chunk_send(m, c, 0, &ticket);
			if (err) {
				q_fail("send", err);
				ticket = 0;
			}
			atomic_store_explicit(&box->word, ticket, memory_order_release);
		} else {
			/* Relaxed is enough: zcp_chunk_handle() is a release fence. */
			atomic_store_explicit(&box->word, h, memory_order_relaxed);
		}
		if (timed)
			nanosleep(&pause, NULL); /* A resolves the handle meanwhile */
		else
			spin(xs(&rng) % 512);
		/* Our view and stamp must not have changed while we held X. */
		if (zcp_chunk_handle(m, c) != h || p[1] != h || (p[0] >> 32) != (MAGIC_Q >> 32)) {
			if (atomic_fetch_add(&box->q_corrupt, 1) == 0)
				snprintf(box->q_msg, sizeof box->q_msg,
					 "Q: held chunk changed: handle %llx -> %llx, payload %llx %llx",
					 (unsigned long long)h,
					 (unsigned long long)zcp_chunk_handle(m, c),
					 (unsigned long long)p[0], (unsigned long long)p[1]);
		}
		err = zcp_chunk_release(m, c);
		if (err)
			q_fail("release", err);
		/* The starting shot for V_TIMED's A and B. */
		atomic_fetch_add_explicit(&box->released, 1, memory_order_relaxed);
		if (timed)
			nanosleep(&pause, NULL);
		if (escrow && ticket) {
			spin(xs(&rng) % 256);
			err = zcp_chunk_unsend(m, ticket);
			if (err && err != ZCP_ESTALE)
				q_fail("unsend", err);
			long s = zcp_mempool_manager_settle(m);
			if (s < 0)
				q_fail("settle", s);
		}
		atomic_fetch_add_explicit(&box->q_rounds, 1, memory_order_relaxed);
	}
	zcp_mempool_manager_detach(m);
	_exit(atomic_load(&box->q_errors) || atomic_load(&box->q_corrupt) ? 1 : 0);
}

/* ---- A: resolve Q's handle (or ticket) and take a reference ---------- */
static void check_granted(zcp_chunk *c, uint64_t h_expect, const char *how)
{
	/* We hold c now: it must be the generation the handle named, with
	 * Q's stamp for that handle. */
	uint64_t h = zcp_chunk_handle(pm, c);
	const uint64_t *p = zcp_chunk_data(c);
	uint64_t p0 = p[0], p1 = p[1];
	if (h_expect && h != h_expect) {
		atomic_fetch_add(&cnt.wrong_gen, 1);
		note(K_WRONG_GEN, "%s granted a reference to another generation: asked %llx, hold %llx "
		     "(payload %llx %llx)",
		     how, (unsigned long long)h_expect, (unsigned long long)h,
		     (unsigned long long)p0, (unsigned long long)p1);
	} else if ((p0 >> 32) != (MAGIC_Q >> 32) || p1 != h) {
		atomic_fetch_add(&cnt.wrong_data, 1);
		note(K_WRONG_DATA, "%s: the chunk held (handle %llx) is not Q's message: payload %llx %llx", how,
		     (unsigned long long)h, (unsigned long long)p0, (unsigned long long)p1);
	}
	int err = zcp_chunk_release(pm, c);
	if (err) {
		atomic_fetch_add(&cnt.rel_fail, 1);
		note(K_REL, "A: release after %s: %d (%s)", how, err, zcp_err_name(err));
	}
}

static void *resolver(void *arg)
{
	uint64_t rng = ((uint64_t)(long)arg + 1) * 0xD1B54A32D192ED03ULL | 1;
	uint64_t delay = 0;
	if (variant == V_TIMED)
		pin(0);
	while (!atomic_load_explicit(&box->stop, memory_order_relaxed)) {
		uint64_t r0 = atomic_load_explicit(&box->released, memory_order_relaxed);
		uint64_t w = atomic_load_explicit(&box->word, memory_order_acquire);
		if (w == 0)
			continue;
		if (variant == V_ESCROW) {
			zcp_chunk *c = zcp_chunk_receive(pm, w);
			if (!c) {
				if (errno == ESTALE) {
					atomic_fetch_add_explicit(&cnt.stale, 1, memory_order_relaxed);
				} else {
					atomic_fetch_add(&cnt.unexpected, 1);
					note(K_UNEXPECTED, "receive: errno %d", errno);
				}
				continue;
			}
			atomic_fetch_add_explicit(&cnt.refs, 1, memory_order_relaxed);
			check_granted(c, 0, "receive");
			continue;
		}
		zcp_chunk *c = zcp_chunk_from_handle(pm, w);
		if (!c) {
			if (errno != EINVAL) {
				atomic_fetch_add(&cnt.unexpected, 1);
				note(K_UNEXPECTED, "from_handle: errno %d", errno);
			}
			continue;
		}
		atomic_fetch_add_explicit(&cnt.resolved, 1, memory_order_relaxed);
		/* A caller may take its time between the two calls: Q may
		 * release X meanwhile, and ref() must then say ESTALE. */
		if (variant == V_TIMED) {
			/* V_TIMED: wait for Q's release, then ref() after a
			 * delay that tracks the moment B's get() pops X on the
			 * other core: one step shorter when B had its chunk
			 * already (too late), one longer when not (too early),
			 * plus a jitter, so the two calls keep meeting. */
			uint64_t r1;
			while ((r1 = atomic_load_explicit(&box->released, memory_order_relaxed)) ==
				       r0 &&
			       !atomic_load_explicit(&box->stop, memory_order_relaxed))
				;
			spin(delay + xs(&rng) % 32);
			if (atomic_load_explicit(&b_got, memory_order_relaxed) == r1)
				delay -= delay > 0;
			else
				delay += delay < 100000;
		} else {
			spin(xs(&rng) % 256);
		}
		int err = zcp_chunk_ref(pm, c);
		if (err == ZCP_ESTALE) {
			atomic_fetch_add_explicit(&cnt.stale, 1, memory_order_relaxed);
			continue;
		}
		if (err) {
			atomic_fetch_add(&cnt.unexpected, 1);
			note(K_UNEXPECTED, "ref: %d (%s)", err, zcp_err_name(err));
			continue;
		}
		atomic_fetch_add_explicit(&cnt.refs, 1, memory_order_relaxed);
		check_granted(c, w, "ref");
	}
	atomic_store(&a_delay, delay);
	return NULL;
}

/* ---- B: take X from the pool whenever Q lets go of it ---------------- */
static void *taker(void *arg)
{
	uint64_t id = (uint64_t)(long)arg, rng = (id + 7) * 0x94D049BB133111EBULL | 1, seq = 0;
	if (variant == V_TIMED)
		pin(1);
	uint64_t r0 = 0;
	while (!atomic_load_explicit(&box->stop, memory_order_relaxed)) {
		if (variant == V_TIMED) {
			/* Fire at Q's release, like A. */
			while (atomic_load_explicit(&box->released, memory_order_relaxed) == r0 &&
			       !atomic_load_explicit(&box->stop, memory_order_relaxed))
				;
			r0 = atomic_load_explicit(&box->released, memory_order_relaxed);
		}
		zcp_chunk *c = zcp_chunk_get(pm, SIZE);
		if (!c) {
			if (errno == ENOBUFS) {
				atomic_fetch_add_explicit(&cnt.enobufs, 1, memory_order_relaxed);
			} else {
				atomic_fetch_add(&cnt.unexpected, 1);
				note(K_UNEXPECTED, "get: errno %d", errno);
			}
			continue;
		}
		atomic_fetch_add_explicit(&cnt.gets, 1, memory_order_relaxed);
		atomic_store_explicit(&b_got, r0, memory_order_relaxed);
		uint64_t h = zcp_chunk_handle(pm, c), *p = zcp_chunk_data(c);
		uint64_t stamp = MAGIC_B | (id << 24) | (++seq & 0xFFFFFF);
		p[0] = stamp;
		p[1] = h;
		spin(xs(&rng) % 64);
		uint64_t h2 = zcp_chunk_handle(pm, c);
		if (h == 0 || h2 != h) {
			atomic_fetch_add(&cnt.view_changed, 1);
			note(K_VIEW, "B: the view of a chunk B holds changed: handle %llx at get, %llx now "
			     "(refcount %llu)",
			     (unsigned long long)h, (unsigned long long)h2,
			     (unsigned long long)zcp_chunk_refcount(c));
		}
		if (p[0] != stamp || p[1] != h) {
			atomic_fetch_add(&cnt.b_corrupt, 1);
			note(K_B_CORRUPT, "B: payload of a held chunk changed: %llx %llx, want %llx %llx",
			     (unsigned long long)p[0], (unsigned long long)p[1],
			     (unsigned long long)stamp, (unsigned long long)h);
		}
		int err = zcp_chunk_release(pm, c);
		if (err) {
			atomic_fetch_add(&cnt.rel_fail, 1);
			note(K_REL, "B: release of a chunk from get: %d (%s)", err, zcp_err_name(err));
		}
	}
	return NULL;
}

static void run(int v, double seconds)
{
	const char *name = zt_name();
	const char *vn = vname[v];
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	if (!cfg || zcp_mempool_config_add_entry(cfg, SIZE, CHUNKS))
		bail("config");
	int err = zcp_mempool_manager_create(name, cfg, &pm);
	zcp_mempool_config_free(cfg);
	if (err)
		bail("create %s: %d", name, err);

	variant = v;
	memset(box, 0, sizeof *box);
	memset(&cnt, 0, sizeof cnt);
	atomic_store(&b_got, 0);
	atomic_store(&a_delay, 0);
	for (int k = 0; k < K_COUNT; k++) {
		atomic_store(&have_msg[k], 0);
		first_msg[k][0] = 0;
	}

	pid_t q = zt_fork();
	if (q < 0)
		bail("fork");
	if (q == 0) {
		if (v == V_HANDLE_ONECORE)
			pin(1);
		q_main(name, v);
	}
	if (v == V_HANDLE_ONECORE)
		pin(0); /* every thread of P on one core; Q on another */

	/* V_TIMED: one A pinned to core 0, one B to core 1. */
	int nres = v == V_TIMED ? 1 : RESOLVERS, ntak = v == V_TIMED ? 1 : TAKERS;
	pthread_t th[RESOLVERS + TAKERS];
	for (long i = 0; i < nres; i++)
		if (pthread_create(&th[i], NULL, resolver, (void *)i))
			bail("pthread_create");
	for (long i = 0; i < ntak; i++)
		if (pthread_create(&th[nres + i], NULL, taker, (void *)i))
			bail("pthread_create");
	double end = now() + seconds;
	while (now() < end)
		usleep(10000);
	atomic_store(&box->stop, 1);
	for (int i = 0; i < nres + ntak; i++)
		pthread_join(th[i], NULL);
	unpin();
	zt_ok_child(q, "%s: peer Q ran without error (its own releases 0, its held chunk unchanged)",
		    vn);
	if (box->q_msg[0])
		diag("%s: %s", vn, box->q_msg);

	char tail[64] = "";
	if (v == V_TIMED)
		snprintf(tail, sizeof tail, "; A's delay at the end: %llu spins",
			 (unsigned long long)a_delay);
	diag("%s: Q %llu rounds; A resolved %llu, refs %llu, stale %llu; B gets %llu, "
	     "ENOBUFS %llu%s",
	     vn, (unsigned long long)box->q_rounds, (unsigned long long)cnt.resolved,
	     (unsigned long long)cnt.refs, (unsigned long long)cnt.stale,
	     (unsigned long long)cnt.gets, (unsigned long long)cnt.enobufs,
	     tail);
	for (int k = 0; k < K_COUNT; k++)
		if (first_msg[k][0])
			diag("%s: first: %s", vn, first_msg[k]);
	ok(box->q_rounds > 0 && cnt.gets > 0, "%s: Q and B both took the chunk (%llu, %llu)", vn,
	   (unsigned long long)box->q_rounds, (unsigned long long)cnt.gets);
	is_int((long long)cnt.unexpected, 0,
	       "%s: no unexpected error (from_handle EINVAL, ref/receive ESTALE, get ENOBUFS only)",
	       vn);
	is_int((long long)cnt.wrong_gen, 0,
	       "%s: a granted reference is to the generation the handle named (else ESTALE)", vn);
	is_int((long long)cnt.wrong_data, 0, "%s: a granted reference holds Q's stamped message", vn);
	is_int((long long)cnt.view_changed, 0,
	       "%s: B's view (zcp_chunk_handle) of a chunk it holds never changes", vn);
	is_int((long long)cnt.b_corrupt, 0, "%s: B's payload never changes while B holds it", vn);
	is_int((long long)cnt.rel_fail, 0, "%s: every release in P returns 0", vn);

	/* Everyone let go: the pool must be whole. */
	zcp_pool_stats st;
	err = zcp_mempool_manager_pool_stats(pm, 0, &st);
	ok(err == 0 && st.used == 0 && st.free == st.total && st.total == CHUNKS,
	   "%s: afterwards the pool is whole (err %d, total %llu, used %llu, free %llu)", vn, err,
	   (unsigned long long)st.total, (unsigned long long)st.used, (unsigned long long)st.free);
	zcp_chunk *all[CHUNKS];
	int got = 0;
	for (int i = 0; i < CHUNKS; i++) {
		all[i] = zcp_chunk_get(pm, SIZE);
		if (!all[i])
			break;
		got++;
	}
	is_int(got, CHUNKS, "%s: every chunk can be taken again", vn);
	int bad = 0;
	for (int i = 0; i < got; i++)
		bad += zcp_chunk_release(pm, all[i]) != 0;
	is_int(bad, 0, "%s: and given back", vn);
	is_int(zcp_mempool_manager_check(pm), 0, "%s: zcp_mempool_manager_check", vn);
	err = zcp_mempool_manager_destroy(pm);
	if (err)
		diag("%s: destroy: %d", vn, err);
	pm = NULL;
}

int main(void)
{
	plan_lazy();
	box = mmap(NULL, sizeof *box, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (box == MAP_FAILED)
		bail("mmap");
	double secs = 2.0 * (double)zt_slowdown();
	const char *s = getenv("ZT_VIEWRACE_SECONDS");
	if (s && atof(s) > 0)
		secs = atof(s);
	for (int v = 0; v < V_COUNT; v++)
		run(v, secs);
	zt_done();
	return done_testing();
}
