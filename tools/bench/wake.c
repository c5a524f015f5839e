/* SPDX-License-Identifier: MIT */
/* tools/bench/wake.c - the wake-up figures: wake_rtt,
 * syscalls_per_publish, wake_pub_cost.
 *
 * wake_rtt: two processes ping-pong on topics "ping" and "pong", each
 * asleep in zcp_subscriber_wait() until the other publishes (every round:
 * take everything, publish, wait), beside a bare futex ping-pong between
 * the same two processes (a shared word per direction, FUTEX_WAIT and
 * FUTEX_WAKE, both sides asleep, no spinning), trials interleaved as in
 * pubsub_rtt.  Bar (issue 13): median <= 1.3x of the bare futex.
 *
 * syscalls_per_publish: a forked child attaches, opens a publisher and a
 * subscriber of one topic, installs a seccomp filter that traps every
 * system call but write, exit, exit_group and rt_sigreturn (and the clock
 * where there is no vDSO) into a SIGSYS handler that counts them, and runs
 * loan + publish + take + release with nobody asleep.  Beside it, as a
 * control that the counting works, the same loop with one getppid() an
 * iteration (it must count 1).  Bar: 0 calls a publish.
 *
 * wake_pub_cost: what one publish costs the publisher when a subscriber
 * of another process is asleep in zcp_subscriber_wait() (a futex wake),
 * beside the same publish while nobody sleeps (the ratio), and a bare
 * FUTEX_WAKE of a sleeper of that process.  Context, no bar.
 *
 * wake_fd_rtt: wake_rtt's ping-pong with each side asleep in epoll_wait()
 * on its waitset's descriptor (zcp_waitset_fd(): on readiness
 * zcp_waitset_wait(..., 0), take), beside a bare ping-pong of two
 * eventfds between the same two processes, each side asleep in
 * epoll_wait() on its own (write; epoll_wait; read).  Bar (issue 13):
 * median <= 1.3x of the eventfds.
 *
 * Linux only (futex, seccomp, /proc, epoll): elsewhere each figure is skipped
 * with the reason.  See docs/bench-json.md.
 */
#define _GNU_SOURCE 1
#include "tool.h"
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#if defined(__has_include)
#if __has_include(<linux/futex.h>)
#include <linux/futex.h>
#endif
#if __has_include(<linux/filter.h>) && __has_include(<linux/seccomp.h>) &&                        \
	__has_include(<sys/prctl.h>) && __has_include(<sys/auxv.h>)
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <ucontext.h>
#endif
#endif
#if defined(SYS_futex)
#define HAVE_FUTEX 1
/* The kernel's ABI, for C libraries without the kernel headers. */
#ifndef FUTEX_WAIT
#define FUTEX_WAIT 0
#endif
#ifndef FUTEX_WAKE
#define FUTEX_WAKE 1
#endif
#endif
/* The clock's calls, allowed where there is no vDSO (else never made). */
#if defined(__NR_clock_gettime)
#define NR_CLOCK __NR_clock_gettime
#else
#define NR_CLOCK __NR_exit
#endif
#if defined(__NR_clock_gettime64)
#define NR_CLOCK64 __NR_clock_gettime64
#else
#define NR_CLOCK64 __NR_exit
#endif
#if defined(SECCOMP_MODE_FILTER) && defined(SECCOMP_RET_TRAP) && defined(__NR_exit_group) &&   \
	defined(__NR_rt_sigreturn) && defined(__NR_write) && defined(SYS_getppid)
#define HAVE_SECCOMP 1
#endif
#endif

/* Sanitizer runtimes make system calls of their own. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                        \
	__has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif

#define SMALL	  256u
#define SMALL_N	  64u
#define SLICE_NS  (INT64_C(100) * 1000000)	/* one zcp_subscriber_wait() */
#define TIMEOUT_NS (UINT64_C(30) * 1000000000u) /* a peer silent this long failed */

/* ------------------------------------------------------------------ */
/* Shared helpers (as pubsub.c's).                                     */
/* ------------------------------------------------------------------ */

#if defined(HAVE_FUTEX) || (defined(HAVE_SECCOMP) && !defined(SANITIZED))
static zcp_mempool_manager *w_manager(const struct zcp_bench_ctx *ctx, char *name, size_t n)
{
	snprintf(name, n, "%sw", ctx->name);
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	if (!cfg)
		zcp_bench_fatal("zcp_mempool_config_new: %s", strerror(errno));
	int err = zcp_mempool_config_add_entry(cfg, SMALL, SMALL_N);
	if (err)
		zcp_bench_fatal("wake configuration: %s", zcp_strerror(err));
	/* The default topic table (zcp_mempool_config_set_topics() unset). */
	zcp_mempool_manager *m = zcp_bench_create(name, cfg);
	zcp_mempool_config_free(cfg);
	return m;
}
#endif

#if defined(HAVE_FUTEX)
static const char *errno_text(void)
{
	return zcp_strerror(-errno);
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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Per-trial median and p99 of one kind (as pubsub.c). */
struct per_trial {
	double med[ZCP_BENCH_MAX_TRIALS], p99[ZCP_BENCH_MAX_TRIALS];
};

static void summarise(uint64_t *v, unsigned k, unsigned t, struct per_trial *out)
{
	qsort(v, k, sizeof *v, cmp_u64);
	out->med[t] = k % 2 ? (double)v[k / 2] : ((double)v[k / 2 - 1] + (double)v[k / 2]) / 2;
	unsigned i99 = (unsigned)((99ull * k + 99) / 100); /* ceil(0.99 k), 1-based */
	out->p99[t] = (double)v[(i99 ? i99 : 1) - 1];
}

/* A wait that must end: the peer's error flag and a deadline. */
struct patience {
	_Atomic int *err;
	uint64_t deadline;
	const char *what;
};

static void patience_start(struct patience *p)
{
	p->deadline = 0;
}

/* After a wait slice ended with nothing: give up when the peer failed or
 * has been silent for TIMEOUT_NS. */
static void patience_check(struct patience *p)
{
	if (atomic_load_explicit(p->err, memory_order_relaxed))
		zcp_bench_fatal("%s: the peer failed", p->what);
	uint64_t now = zcp_bench_now();
	if (p->deadline == 0)
		p->deadline = now + TIMEOUT_NS;
	else if (now > p->deadline)
		zcp_bench_fatal("%s: the peer stopped answering", p->what);
}

static long futex(_Atomic uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)w, op, val, ts, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* wake_rtt                                                            */
/* ------------------------------------------------------------------ */

/* zerocp round (A = this process, B = a forked peer that attached):
 *   A: take everything from "pong" (nothing: the last round took it);
 *      loan, write n, publish on "ping"; zcp_subscriber_wait() on "pong"
 *      until a sample comes, take it, check it says n + 1, release.
 *   B: zcp_subscriber_wait() on "ping", take everything (the last says
 *      n), release; loan, write n + 1, publish on "pong".
 * Futex round: A stores n in ping and FUTEX_WAKEs it, then FUTEX_WAITs on
 * pong until it says n; B FUTEX_WAITs on ping until it says n, stores n
 * in pong and FUTEX_WAKEs it. */
struct wshared {
	_Alignas(64) _Atomic uint32_t ping; /* the futex words */
	_Alignas(64) _Atomic uint32_t pong;
	_Alignas(64) _Atomic uint32_t ready;
	_Atomic int err;
};

struct wside {
	struct wshared *s;
	zcp_mempool_manager *m;
	zcp_publisher *pub;
	zcp_subscriber *sub;
	struct patience p;
	uint64_t n;  /* zerocp sequence number */
	uint32_t fx; /* futex round number */
};

static void w_send(struct wside *x, uint64_t v)
{
	zcp_chunk *c = zcp_publisher_loan(x->pub, SMALL);
	if (!c)
		peer_fatal(&x->s->err, "wake_rtt zcp_publisher_loan", errno_text());
	*(uint64_t *)zcp_sample_data(c) = v;
	int err = zcp_publisher_publish(x->pub, c);
	if (err)
		peer_fatal(&x->s->err, "wake_rtt zcp_publisher_publish", zcp_strerror(err));
}

/* Take everything waiting; sleep in zcp_subscriber_wait() while there is
 * nothing.  The value of the last sample taken. */
static uint64_t w_recv(struct wside *x)
{
	patience_start(&x->p);
	for (;;) {
		uint64_t v = 0;
		unsigned got = 0;
		zcp_chunk *c;
		while ((c = zcp_subscriber_take(x->sub)) != NULL) {
			v = *(const uint64_t *)zcp_sample_data(c);
			int err = zcp_chunk_release(x->m, c);
			if (err)
				peer_fatal(&x->s->err, "wake_rtt zcp_chunk_release",
					   zcp_strerror(err));
			got++;
		}
		if (errno != EAGAIN)
			peer_fatal(&x->s->err, "wake_rtt zcp_subscriber_take", errno_text());
		if (got)
			return v;
		int err = zcp_subscriber_wait(x->sub, SLICE_NS);
		if (err == ZCP_ETIMEDOUT)
			patience_check(&x->p);
		else if (err && err != ZCP_EINTR)
			peer_fatal(&x->s->err, "wake_rtt zcp_subscriber_wait", zcp_strerror(err));
	}
}

static uint64_t a_zcp(struct wside *x)
{
	uint64_t n = x->n += 2;
	uint64_t t0 = zcp_bench_now();
	w_send(x, n);
	uint64_t v = w_recv(x);
	uint64_t ns = zcp_bench_now() - t0;
	if (v != n + 1)
		zcp_bench_fatal("wake_rtt: pong says %llu, expected %llu", (unsigned long long)v,
				(unsigned long long)(n + 1));
	return ns;
}

static void b_zcp(struct wside *x)
{
	w_send(x, w_recv(x) + 1);
}

/* FUTEX_WAIT on w until it says want (slices of SLICE_NS). */
static void fx_wait(struct wside *x, _Atomic uint32_t *w, uint32_t want)
{
	static const struct timespec slice = {0, SLICE_NS};
	uint32_t v;
	patience_start(&x->p);
	while ((v = atomic_load_explicit(w, memory_order_acquire)) != want) {
		if (futex(w, FUTEX_WAIT, v, &slice) == 0)
			continue;
		if (errno == ETIMEDOUT)
			patience_check(&x->p);
		else if (errno != EAGAIN && errno != EINTR)
			peer_fatal(&x->s->err, "wake_rtt FUTEX_WAIT", strerror(errno));
	}
}

static void fx_post(struct wside *x, _Atomic uint32_t *w, uint32_t v)
{
	atomic_store_explicit(w, v, memory_order_release);
	if (futex(w, FUTEX_WAKE, 1, NULL) < 0)
		peer_fatal(&x->s->err, "wake_rtt FUTEX_WAKE", strerror(errno));
}

static uint64_t a_fx(struct wside *x)
{
	uint32_t n = ++x->fx;
	uint64_t t0 = zcp_bench_now();
	fx_post(x, &x->s->ping, n);
	fx_wait(x, &x->s->pong, n);
	return zcp_bench_now() - t0;
}

static void b_fx(struct wside *x)
{
	uint32_t n = ++x->fx;
	fx_wait(x, &x->s->ping, n);
	fx_post(x, &x->s->pong, n);
}

static void wake_rtt_report(struct zcp_bench_ctx *ctx, const char *variant, const double *z,
			    const double *b, unsigned rounds, const char *note, double bar)
{
	struct zcp_bench_figure f;
	zcp_bench_figure_of(&f, "wake_rtt", "ns", ctx->trials, rounds, z, "futex", b);
	snprintf(f.variant, sizeof f.variant, "%s", variant);
	if (bar > 0)
		zcp_bench_bar(&f, "ratio", "<=", bar);
	snprintf(f.note, sizeof f.note, "%s", note);
	zcp_bench_report(ctx, &f);
}

void zcp_bench_wake_rtt(struct zcp_bench_ctx *ctx)
{
	/* A round sleeps twice: ten times fewer than pubsub_rtt's. */
	const unsigned k = ctx->quick ? 100 : 1000, warm = k / 10 > 20 ? k / 10 : 20;
	char name[48], note[160];
	zcp_mempool_manager *m = w_manager(ctx, name, sizeof name);
	struct wshared *s = zcp_bench_shared_alloc(sizeof *s);
	uint64_t *vz = malloc(k * sizeof *vz), *vf = malloc(k * sizeof *vf);
	struct per_trial z, fx;
	int pinned = ctx->ncpu >= 2 && ctx->cpu[1] >= 0;
	cpu_set_t saved;

	if (!vz || !vf)
		zcp_bench_fatal("out of memory");
	if (pinned)
		snprintf(note, sizeof note,
			 "A on CPU %d, B on CPU %d; both asleep every round (zcp_subscriber_wait / "
			 "FUTEX_WAIT)",
			 ctx->cpu[0], ctx->cpu[1]);
	else
		snprintf(note, sizeof note,
			 "fewer than 2 CPUs: not pinned; both asleep every round");

	/* A's endpoints before the fork, as pubsub_rtt: no sample missed. */
	struct wside a = {s, m, NULL, NULL, {&s->err, 0, "wake_rtt"}, 0, 0};
	int err = zcp_publisher_create(m, "ping", NULL, &a.pub);
	if (!err)
		err = zcp_subscriber_create(m, "pong", NULL, &a.sub);
	if (err)
		zcp_bench_fatal("wake_rtt endpoints: %s", zcp_strerror(err));

	pid_t pid = zcp_bench_fork();
	if (pid == 0) {
		struct wside b = {s, NULL, NULL, NULL, {&s->err, 0, "wake_rtt"}, 0, 0};
		b.m = peer_attach(name, &s->err, pinned, ctx->cpu[1]);
		err = zcp_subscriber_create(b.m, "ping", NULL, &b.sub);
		if (!err)
			err = zcp_publisher_create(b.m, "pong", NULL, &b.pub);
		if (err)
			peer_fatal(&s->err, "wake_rtt endpoints", zcp_strerror(err));
		atomic_store_explicit(&s->ready, 1, memory_order_release);
		for (unsigned t = 0; t < ctx->trials; t++)
			for (int ph = 0; ph < 2; ph++) {
				int zcp_phase = (ph == 0) == (t % 2 == 0);
				for (unsigned r = 0; r < warm + k; r++)
					zcp_phase ? b_zcp(&b) : b_fx(&b);
			}
		if (zcp_subscriber_close(b.sub) || zcp_publisher_close(b.pub))
			_exit(1);
		zcp_mempool_manager_detach(b.m);
		_exit(0);
	}

	pin_self(pinned, ctx->cpu[0], &saved);
	if (zcp_bench_spin_until(&s->ready, 1, &s->err, 10.0))
		zcp_bench_fatal("wake_rtt: the peer did not start");
	for (unsigned t = 0; t < ctx->trials; t++)
		for (int ph = 0; ph < 2; ph++) {
			int zcp_phase = (ph == 0) == (t % 2 == 0);
			for (unsigned r = 0; r < warm + k; r++) {
				uint64_t ns = zcp_phase ? a_zcp(&a) : a_fx(&a);
				if (r >= warm)
					(zcp_phase ? vz : vf)[r - warm] = ns;
			}
			summarise(zcp_phase ? vz : vf, k, t, zcp_phase ? &z : &fx);
		}
	zcp_bench_wait(pid, "wake_rtt");
	restore_cpus(pinned, &saved);

	wake_rtt_report(ctx, "median", z.med, fx.med, k, note, 1.3);
	wake_rtt_report(ctx, "p99", z.p99, fx.p99, k, note, 0);
	if (zcp_publisher_close(a.pub) || zcp_subscriber_close(a.sub))
		zcp_bench_fatal("wake_rtt: closing the endpoints failed");
	free(vz);
	free(vf);
	zcp_bench_shared_free(s, sizeof *s);
	zcp_bench_destroy(m);
}

/* ------------------------------------------------------------------ */
/* wake_fd_rtt                                                         */
/* ------------------------------------------------------------------ */

/* A side of wake_fd_rtt: wake_rtt's, plus its waitset, the waitset's
 * descriptor in an epoll instance, and for the bare round an epoll
 * instance on the eventfd it receives on. */
struct fside {
	struct wside w;
	zcp_waitset *ws;
	int ep;           /* epoll on the waitset's descriptor */
	int efd_in;       /* bare: the eventfd we receive on */
	int efd_out;      /* bare: the one we send on */
	int ep_bare;      /* epoll on efd_in */
};

static void fd_sleep(struct fside *x, int ep)
{
	struct epoll_event e;
	int r = epoll_wait(ep, &e, 1, (int)(SLICE_NS / 1000000));
	if (r == 0)
		patience_check(&x->w.p);
	else if (r < 0 && errno != EINTR)
		peer_fatal(&x->w.s->err, "wake_fd_rtt epoll_wait", strerror(errno));
}

/* The usage the header documents: look (zcp_waitset_wait, timeout 0),
 * take on news, sleep in epoll_wait when the look armed the descriptor. */
static uint64_t fd_recv(struct fside *x)
{
	zcp_waitset_event ev[4];
	patience_start(&x->w.p);
	for (;;) {
		int n = zcp_waitset_wait(x->ws, ev, 4, 0);
		if (n == ZCP_ETIMEDOUT) {
			fd_sleep(x, x->ep);
			continue;
		}
		if (n < 0)
			peer_fatal(&x->w.s->err, "wake_fd_rtt zcp_waitset_wait", zcp_strerror(n));
		uint64_t v = 0;
		unsigned got = 0;
		zcp_chunk *c;
		while ((c = zcp_subscriber_take(x->w.sub)) != NULL) {
			v = *(const uint64_t *)zcp_sample_data(c);
			if (zcp_chunk_release(x->w.m, c))
				peer_fatal(&x->w.s->err, "wake_fd_rtt zcp_chunk_release", "failed");
			got++;
		}
		if (got)
			return v;
	}
}

static void fd_setup(struct fside *x)
{
	int fd, err = zcp_waitset_create(x->w.m, &x->ws);
	if (!err)
		err = zcp_waitset_attach_subscriber(x->ws, x->w.sub, NULL);
	if (!err)
		err = zcp_waitset_fd(x->ws, &fd);
	if (err)
		peer_fatal(&x->w.s->err, "wake_fd_rtt waitset", zcp_strerror(err));
	struct epoll_event e = {.events = EPOLLIN};
	x->ep = epoll_create1(EPOLL_CLOEXEC);
	x->ep_bare = epoll_create1(EPOLL_CLOEXEC);
	if (x->ep < 0 || x->ep_bare < 0 || epoll_ctl(x->ep, EPOLL_CTL_ADD, fd, &e) ||
	    epoll_ctl(x->ep_bare, EPOLL_CTL_ADD, x->efd_in, &e))
		peer_fatal(&x->w.s->err, "wake_fd_rtt epoll", strerror(errno));
}

static void fd_teardown(struct fside *x)
{
	zcp_waitset_destroy(x->ws);
	close(x->ep);
	close(x->ep_bare);
}

static void bare_send(struct fside *x)
{
	uint64_t one = 1;
	if (write(x->efd_out, &one, sizeof one) != (ssize_t)sizeof one)
		peer_fatal(&x->w.s->err, "wake_fd_rtt eventfd write", strerror(errno));
}

static void bare_recv(struct fside *x)
{
	uint64_t v;
	patience_start(&x->w.p);
	for (;;) {
		fd_sleep(x, x->ep_bare);
		if (read(x->efd_in, &v, sizeof v) == (ssize_t)sizeof v)
			return;
		if (errno != EAGAIN && errno != EINTR)
			peer_fatal(&x->w.s->err, "wake_fd_rtt eventfd read", strerror(errno));
	}
}

static uint64_t a_fdz(struct fside *x)
{
	uint64_t n = x->w.n += 2;
	uint64_t t0 = zcp_bench_now();
	w_send(&x->w, n);
	uint64_t v = fd_recv(x);
	uint64_t ns = zcp_bench_now() - t0;
	if (v != n + 1)
		zcp_bench_fatal("wake_fd_rtt: pong says %llu, expected %llu", (unsigned long long)v,
				(unsigned long long)(n + 1));
	return ns;
}

static void b_fdz(struct fside *x)
{
	w_send(&x->w, fd_recv(x) + 1);
}

static uint64_t a_bare(struct fside *x)
{
	uint64_t t0 = zcp_bench_now();
	bare_send(x);
	bare_recv(x);
	return zcp_bench_now() - t0;
}

static void b_bare(struct fside *x)
{
	bare_recv(x);
	bare_send(x);
}

void zcp_bench_wake_fd_rtt(struct zcp_bench_ctx *ctx)
{
	const unsigned k = ctx->quick ? 100 : 1000, warm = k / 10 > 20 ? k / 10 : 20;
	char name[48], note[150];
	zcp_mempool_manager *m = w_manager(ctx, name, sizeof name);
	struct wshared *s = zcp_bench_shared_alloc(sizeof *s);
	uint64_t *vz = malloc(k * sizeof *vz), *vf = malloc(k * sizeof *vf);
	struct per_trial z, fx;
	int pinned = ctx->ncpu >= 2 && ctx->cpu[1] >= 0;
	cpu_set_t saved;
	int ping = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), pong = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	if (!vz || !vf)
		zcp_bench_fatal("out of memory");
	if (ping < 0 || pong < 0)
		zcp_bench_fatal("eventfd: %s", strerror(errno));
	snprintf(note, sizeof note,
		 "%s; both asleep in epoll_wait every round (the waitset's descriptor / an eventfd)",
		 pinned ? "A and B pinned to two CPUs" : "fewer than 2 CPUs: not pinned");

	struct fside a = {{s, m, NULL, NULL, {&s->err, 0, "wake_fd_rtt"}, 0, 0}, NULL, -1, pong, ping, -1};
	int err = zcp_publisher_create(m, "ping", NULL, &a.w.pub);
	if (!err)
		err = zcp_subscriber_create(m, "pong", NULL, &a.w.sub);
	if (err)
		zcp_bench_fatal("wake_fd_rtt endpoints: %s", zcp_strerror(err));

	pid_t pid = zcp_bench_fork();
	if (pid == 0) {
		struct fside b = {{s, NULL, NULL, NULL, {&s->err, 0, "wake_fd_rtt"}, 0, 0}, NULL, -1, ping, pong, -1};
		b.w.m = peer_attach(name, &s->err, pinned, ctx->cpu[1]);
		err = zcp_subscriber_create(b.w.m, "ping", NULL, &b.w.sub);
		if (!err)
			err = zcp_publisher_create(b.w.m, "pong", NULL, &b.w.pub);
		if (err)
			peer_fatal(&s->err, "wake_fd_rtt endpoints", zcp_strerror(err));
		fd_setup(&b);
		atomic_store_explicit(&s->ready, 1, memory_order_release);
		for (unsigned t = 0; t < ctx->trials; t++)
			for (int ph = 0; ph < 2; ph++) {
				int zcp_phase = (ph == 0) == (t % 2 == 0);
				for (unsigned r = 0; r < warm + k; r++)
					zcp_phase ? b_fdz(&b) : b_bare(&b);
			}
		fd_teardown(&b);
		if (zcp_subscriber_close(b.w.sub) || zcp_publisher_close(b.w.pub))
			_exit(1);
		zcp_mempool_manager_detach(b.w.m);
		_exit(0);
	}

	pin_self(pinned, ctx->cpu[0], &saved);
	fd_setup(&a);
	if (zcp_bench_spin_until(&s->ready, 1, &s->err, 10.0))
		zcp_bench_fatal("wake_fd_rtt: the peer did not start");
	for (unsigned t = 0; t < ctx->trials; t++)
		for (int ph = 0; ph < 2; ph++) {
			int zcp_phase = (ph == 0) == (t % 2 == 0);
			for (unsigned r = 0; r < warm + k; r++) {
				uint64_t ns = zcp_phase ? a_fdz(&a) : a_bare(&a);
				if (r >= warm)
					(zcp_phase ? vz : vf)[r - warm] = ns;
			}
			summarise(zcp_phase ? vz : vf, k, t, zcp_phase ? &z : &fx);
		}
	zcp_bench_wait(pid, "wake_fd_rtt");
	restore_cpus(pinned, &saved);

	struct zcp_bench_figure f;
	for (int v = 0; v < 2; v++) {
		zcp_bench_figure_of(&f, "wake_fd_rtt", "ns", ctx->trials, k, v ? z.p99 : z.med,
				    "eventfd", v ? fx.p99 : fx.med);
		snprintf(f.variant, sizeof f.variant, "%s", v ? "p99" : "median");
		if (!v)
			zcp_bench_bar(&f, "ratio", "<=", 1.3);
		snprintf(f.note, sizeof f.note, "%s", note);
		zcp_bench_report(ctx, &f);
	}
	fd_teardown(&a);
	if (zcp_publisher_close(a.w.pub) || zcp_subscriber_close(a.w.sub))
		zcp_bench_fatal("wake_fd_rtt: closing the endpoints failed");
	close(ping);
	close(pong);
	free(vz);
	free(vf);
	zcp_bench_shared_free(s, sizeof *s);
	zcp_bench_destroy(m);
}

/* ------------------------------------------------------------------ */
/* wake_pub_cost                                                       */
/* ------------------------------------------------------------------ */

/* Rounds are numbered from 1 across the run; a trial has a phase of each
 * kind (the order rotating from trial to trial):
 *   ASLEEP: B (a forked peer, the subscriber) says it is ready for round r
 *     (bready = r) and sleeps in zcp_subscriber_wait() until the sample
 *     comes, then takes and releases it;
 *   NONE: B says it is ready, spins until A says the sample is out
 *     (published = r), then takes and releases it;
 *   FUTEX: the bare wake beside them: B says it is ready and FUTEX_WAITs
 *     until word says r; A stores r in word and FUTEX_WAKEs it.
 * A waits for bready = r, and when B is to sleep until /proc says it does
 * (state S); then loans (untimed) and times the publish alone, or the
 * store and FUTEX_WAKE. */
enum { ASLEEP, NONE, FUTEX, NKINDS };

struct cshared {
	_Alignas(64) _Atomic uint32_t bready;
	_Alignas(64) _Atomic uint32_t published;
	_Alignas(64) _Atomic uint32_t word; /* FUTEX's */
	_Alignas(64) _Atomic uint32_t ready;
	_Atomic int err;
};

static int c_kind(unsigned t, int ph)
{
	return (int)((t + (unsigned)ph) % NKINDS);
}

static void c_take(zcp_mempool_manager *m, zcp_subscriber *sub, _Atomic int *err, int asleep)
{
	struct patience p = {err, 0, "wake_pub_cost"};
	for (;;) {
		zcp_chunk *c = zcp_subscriber_take(sub);
		if (c) {
			int e = zcp_chunk_release(m, c);
			if (e)
				peer_fatal(err, "wake_pub_cost zcp_chunk_release", zcp_strerror(e));
			return;
		}
		if (errno != EAGAIN)
			peer_fatal(err, "wake_pub_cost zcp_subscriber_take", errno_text());
		if (!asleep) {
			patience_check(&p);
			continue;
		}
		int e = zcp_subscriber_wait(sub, SLICE_NS);
		if (e == ZCP_ETIMEDOUT)
			patience_check(&p);
		else if (e && e != ZCP_EINTR)
			peer_fatal(err, "wake_pub_cost zcp_subscriber_wait", zcp_strerror(e));
	}
}

static void c_fxwait(struct cshared *s, uint32_t want)
{
	static const struct timespec slice = {0, SLICE_NS};
	struct patience p = {&s->err, 0, "wake_pub_cost"};
	uint32_t v;
	while ((v = atomic_load_explicit(&s->word, memory_order_acquire)) != want) {
		if (futex(&s->word, FUTEX_WAIT, v, &slice) == 0)
			continue;
		if (errno == ETIMEDOUT)
			patience_check(&p);
		else if (errno != EAGAIN && errno != EINTR)
			peer_fatal(&s->err, "wake_pub_cost FUTEX_WAIT", strerror(errno));
	}
}

/* Whether the process of /proc/<pid>/stat open at fd sleeps now (state
 * S); -1 when it cannot be told. */
static int sleeping(int fd)
{
	char buf[512];
	ssize_t n = fd < 0 ? -1 : pread(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -1;
	return p[2] == 'S';
}

void zcp_bench_wake_pub_cost(struct zcp_bench_ctx *ctx)
{
	const unsigned k = ctx->quick ? 50 : 300, warm = 10;
	char name[48], note[160], path[64];
	zcp_mempool_manager *m = w_manager(ctx, name, sizeof name);
	struct cshared *s = zcp_bench_shared_alloc(sizeof *s);
	uint64_t *v[NKINDS];
	struct per_trial st[NKINDS];
	int pinned = ctx->ncpu >= 2 && ctx->cpu[1] >= 0;
	uint64_t unsure = 0; /* rounds where B was not seen asleep */
	cpu_set_t saved;

	for (int i = 0; i < NKINDS; i++)
		if (!(v[i] = malloc(k * sizeof *v[i])))
			zcp_bench_fatal("out of memory");
	zcp_publisher *pub = NULL;
	int err = zcp_publisher_create(m, "pubcost", NULL, &pub);
	if (err)
		zcp_bench_fatal("wake_pub_cost: zcp_publisher_create: %s", zcp_strerror(err));

	pid_t pid = zcp_bench_fork();
	if (pid == 0) {
		zcp_mempool_manager *bm = peer_attach(name, &s->err, pinned, ctx->cpu[1]);
		zcp_subscriber *sub = NULL;
		err = zcp_subscriber_create(bm, "pubcost", NULL, &sub);
		if (err)
			peer_fatal(&s->err, "wake_pub_cost zcp_subscriber_create",
				   zcp_strerror(err));
		atomic_store_explicit(&s->ready, 1, memory_order_release);
		uint32_t r = 0;
		for (unsigned t = 0; t < ctx->trials; t++)
			for (int ph = 0; ph < NKINDS; ph++) {
				int kind = c_kind(t, ph);
				for (unsigned i = 0; i < warm + k; i++) {
					atomic_store_explicit(&s->bready, ++r, memory_order_release);
					if (kind == FUTEX) {
						c_fxwait(s, r);
						continue;
					}
					if (kind == NONE &&
					    zcp_bench_spin_until(&s->published, r, &s->err, 30.0))
						peer_fatal(&s->err, "wake_pub_cost",
							   "A stopped publishing");
					c_take(bm, sub, &s->err, kind == ASLEEP);
				}
			}
		if (zcp_subscriber_close(sub))
			_exit(1);
		zcp_mempool_manager_detach(bm);
		_exit(0);
	}

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	pin_self(pinned, ctx->cpu[0], &saved);
	if (zcp_bench_spin_until(&s->ready, 1, &s->err, 10.0))
		zcp_bench_fatal("wake_pub_cost: the peer did not start");
	uint32_t r = 0;
	for (unsigned t = 0; t < ctx->trials; t++)
		for (int ph = 0; ph < NKINDS; ph++) {
			int kind = c_kind(t, ph);
			for (unsigned i = 0; i < warm + k; i++) {
				if (zcp_bench_spin_until(&s->bready, ++r, &s->err, 30.0))
					zcp_bench_fatal("wake_pub_cost: the peer stopped answering");
				if (kind != NONE) {
					/* Up to 100 ms for B to be in its sleep. */
					uint64_t until = zcp_bench_now() + 100000000u;
					int sl;
					while ((sl = sleeping(fd)) == 0 && zcp_bench_now() < until)
						sched_yield();
					if (sl != 1 && i >= warm)
						unsure++;
				}
				uint64_t t0, ns;
				if (kind == FUTEX) {
					t0 = zcp_bench_now();
					atomic_store_explicit(&s->word, r, memory_order_release);
					long fr = futex(&s->word, FUTEX_WAKE, 1, NULL);
					ns = zcp_bench_now() - t0;
					if (fr < 0)
						zcp_bench_fatal("wake_pub_cost: FUTEX_WAKE: %s",
								strerror(errno));
				} else {
					zcp_chunk *c = zcp_publisher_loan(pub, SMALL);
					if (!c)
						zcp_bench_fatal("wake_pub_cost: zcp_publisher_loan: %s",
								errno_text());
					*(uint32_t *)zcp_sample_data(c) = r;
					t0 = zcp_bench_now();
					err = zcp_publisher_publish(pub, c);
					ns = zcp_bench_now() - t0;
					if (err)
						zcp_bench_fatal("wake_pub_cost: zcp_publisher_publish: %s",
								zcp_strerror(err));
					atomic_store_explicit(&s->published, r, memory_order_release);
				}
				if (i >= warm)
					v[kind][i - warm] = ns;
			}
			summarise(v[kind], k, t, &st[kind]);
		}
	zcp_bench_wait(pid, "wake_pub_cost");
	restore_cpus(pinned, &saved);
	if (fd >= 0)
		close(fd);

	size_t len = (size_t)snprintf(note, sizeof note,
				      "publish alone (loan untimed), subscriber in another process%s; "
				      "futex: bare FUTEX_WAKE of a sleeper",
				      pinned ? "" : ", unpinned");
	if (unsure)
		snprintf(note + len, sizeof note - len, "; %u/%u not seen asleep",
			 (unsigned)unsure, k * ctx->trials * 2);
	for (int p99 = 0; p99 < 2; p99++) {
		struct zcp_bench_figure f;
		zcp_bench_figure_of(&f, "wake_pub_cost", "ns", ctx->trials, k,
				    p99 ? st[ASLEEP].p99 : st[ASLEEP].med, "none_asleep",
				    p99 ? st[NONE].p99 : st[NONE].med);
		f.base[1].name = "futex";
		zcp_bench_stat_of(p99 ? st[FUTEX].p99 : st[FUTEX].med, ctx->trials, &f.base[1].st);
		f.nbase = 2;
		snprintf(f.variant, sizeof f.variant, "%s", p99 ? "p99" : "median");
		snprintf(f.note, sizeof f.note, "%s", note);
		zcp_bench_report(ctx, &f);
	}

	if (zcp_publisher_close(pub))
		zcp_bench_fatal("wake_pub_cost: closing the publisher failed");
	for (int i = 0; i < NKINDS; i++)
		free(v[i]);
	zcp_bench_shared_free(s, sizeof *s);
	zcp_bench_destroy(m);
}

#else /* !HAVE_FUTEX */

void zcp_bench_wake_rtt(struct zcp_bench_ctx *ctx)
{
	zcp_bench_skip(ctx, "wake_rtt", "median", "ratio <=1.3x",
		       "no futex on this platform: the bare futex baseline cannot run");
}

void zcp_bench_wake_pub_cost(struct zcp_bench_ctx *ctx)
{
	zcp_bench_skip(ctx, "wake_pub_cost", "median", NULL,
		       "no futex on this platform: sleepers are woken by polling");
}

void zcp_bench_wake_fd_rtt(struct zcp_bench_ctx *ctx)
{
	zcp_bench_skip(ctx, "wake_fd_rtt", "median", "ratio <=1.3x",
		       "not Linux: no epoll or eventfd for the baseline");
}

#endif /* HAVE_FUTEX */

/* ------------------------------------------------------------------ */
/* syscalls_per_publish                                                */
/* ------------------------------------------------------------------ */

#if defined(HAVE_SECCOMP) && !defined(SANITIZED)

/* Written by the child (and its SIGSYS handler), read by the parent after
 * the child ended, or when it failed.  trapped: every call the filter
 * trapped; n[t], c[t]: pairs run and calls trapped in trial t (control:
 * nc, cc). */
struct sshared {
	_Atomic uint64_t trapped;
	_Atomic int32_t first_nr; /* the first trapped call's number, or -1 */
	_Atomic uint32_t trials_done;
	_Atomic uint32_t stage; /* 1 attached, 2 filter on, 3 done */
	_Atomic uint64_t pairs; /* pairs of the current trial run so far */
	uint64_t n[ZCP_BENCH_MAX_TRIALS], c[ZCP_BENCH_MAX_TRIALS];
	uint64_t nc[ZCP_BENCH_MAX_TRIALS], cc[ZCP_BENCH_MAX_TRIALS];
};

static struct sshared *sys_shared;

static void on_sigsys(int sig, siginfo_t *si, void *uc_)
{
	(void)sig;
	struct sshared *s = sys_shared;
	int32_t none = -1;
	atomic_fetch_add_explicit(&s->trapped, 1, memory_order_relaxed);
	atomic_compare_exchange_strong_explicit(&s->first_nr, &none, si->si_syscall,
						memory_order_relaxed, memory_order_relaxed);
	/* The call was not made: make it return -ENOSYS (the kernel leaves
	 * the registers as they were at the call). */
	ucontext_t *uc = uc_;
#if defined(__x86_64__) && defined(REG_RAX)
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__i386__) && defined(REG_EAX)
	uc->uc_mcontext.gregs[REG_EAX] = -ENOSYS;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
	(void)uc; /* elsewhere the call returns what its registers held */
#endif
}

/* loan + write + publish + take + release, n times (and getppid() each
 * time when control): 0, or the number of pairs that went wrong. */
static uint64_t sys_pairs(struct sshared *s, zcp_mempool_manager *m, zcp_publisher *p,
			  zcp_subscriber *sub, uint64_t n, int control)
{
	uint64_t bad = 0;
	for (uint64_t i = 0; i < n; i++) {
		zcp_chunk *c = zcp_publisher_loan(p, SMALL);
		if (!c) {
			bad++;
			continue;
		}
		*(uint64_t *)zcp_sample_data(c) = i;
		if (zcp_publisher_publish(p, c) != 0) {
			bad++;
			continue;
		}
		zcp_chunk *t = zcp_subscriber_take(sub);
		if (!t || zcp_chunk_release(m, t) != 0)
			bad++;
		if (control)
			syscall(SYS_getppid);
		if ((i & 1023) == 1023)
			atomic_store_explicit(&s->pairs, i + 1, memory_order_relaxed);
	}
	atomic_store_explicit(&s->pairs, n, memory_order_relaxed);
	return bad;
}

static ZCP_BENCH_NORETURN void sys_child(const struct zcp_bench_ctx *ctx, struct sshared *s,
					 const char *name, uint64_t n, uint64_t nctl, int vdso)
{
	zcp_mempool_manager *m = NULL;
	zcp_publisher *p = NULL;
	zcp_subscriber *sub = NULL;
	if (zcp_mempool_manager_attach(name, &m) ||
	    zcp_subscriber_create(m, "quiet", NULL, &sub) ||
	    zcp_publisher_create(m, "quiet", NULL, &p))
		_exit(2);
	atomic_store_explicit(&s->stage, 1, memory_order_relaxed);
	/* Warm up: lazy pages, the vDSO, the chunks of the ring. */
	sys_pairs(s, m, p, sub, 1000, 0);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL))
		_exit(3);
	/* A call trapped in a loop would never end: SIGALRM ends the child. */
	alarm(120);
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_write, 6, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 5, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigreturn, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, vdso ? __NR_exit : NR_CLOCK, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, vdso ? __NR_exit : NR_CLOCK64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		_exit(4);
	atomic_store_explicit(&s->stage, 2, memory_order_relaxed);

	uint64_t bad = 0;
	for (unsigned t = 0; t < ctx->trials; t++) {
		/* The control first, then zerocp: each trial counts both. */
		uint64_t c0 = atomic_load_explicit(&s->trapped, memory_order_relaxed);
		bad += sys_pairs(s, m, p, sub, nctl, 1);
		uint64_t c1 = atomic_load_explicit(&s->trapped, memory_order_relaxed);
		bad += sys_pairs(s, m, p, sub, n, 0);
		uint64_t c2 = atomic_load_explicit(&s->trapped, memory_order_relaxed);
		s->nc[t] = nctl;
		s->cc[t] = c1 - c0;
		s->n[t] = n;
		s->c[t] = c2 - c1;
		atomic_store_explicit(&s->trials_done, t + 1, memory_order_release);
	}
	atomic_store_explicit(&s->stage, 3, memory_order_release);
	_exit(bad ? 5 : 0); /* no detach: that makes system calls */
}

void zcp_bench_syscalls_per_publish(struct zcp_bench_ctx *ctx)
{
	/* Pairs a trial (over a million in all), and control iterations: a
	 * trapped call costs microseconds. */
	const uint64_t n = ctx->quick ? 5000 : 150000;
	const uint64_t nctl = ctx->quick ? 200 : 2000;
	char name[48], note[160];

	if (getenv("ZT_EMULATOR") && *getenv("ZT_EMULATOR")) {
		zcp_bench_skip(ctx, "syscalls_per_publish", "nobody_asleep", "median <=0 calls",
			       "under an emulator (ZT_EMULATOR): seccomp would judge its own "
			       "system calls");
		return;
	}
	int vdso = getauxval(AT_SYSINFO_EHDR) != 0;
	zcp_mempool_manager *m = w_manager(ctx, name, sizeof name);
	struct sshared *s = zcp_bench_shared_alloc(sizeof *s);
	atomic_store_explicit(&s->first_nr, -1, memory_order_relaxed);
	sys_shared = s;

	pid_t pid = zcp_bench_fork();
	if (pid == 0)
		sys_child(ctx, s, name, n, nctl, vdso);
	int st = 0;
	pid_t w;
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (w < 0)
		zcp_bench_fatal("waitpid (syscalls_per_publish): %s", strerror(errno));
	/* The child died with its own process record: reclaim it. */
	zcp_mempool_manager_reclaim(m, NULL);

	unsigned done = atomic_load_explicit(&s->trials_done, memory_order_acquire);
	uint32_t stage = atomic_load_explicit(&s->stage, memory_order_relaxed);
	int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!ok && stage < 2) {
		char why[160];
		snprintf(why, sizeof why,
			 "the child could not %s (status %#x)",
			 stage == 0 ? "attach" : "install the seccomp filter", (unsigned)st);
		zcp_bench_skip(ctx, "syscalls_per_publish", "nobody_asleep", "median <=0 calls",
			       why);
		zcp_bench_destroy(m);
		zcp_bench_shared_free(s, sizeof *s);
		return;
	}

	double z[ZCP_BENCH_MAX_TRIALS], b[ZCP_BENCH_MAX_TRIALS];
	unsigned nt = done;
	for (unsigned t = 0; t < done; t++) {
		z[t] = (double)s->c[t] / (double)s->n[t];
		b[t] = (double)s->cc[t] / (double)s->nc[t];
	}
	if (nt == 0) {
		/* Not one trial ended: what the calls trapped so far say. */
		uint64_t pairs = atomic_load_explicit(&s->pairs, memory_order_relaxed);
		z[0] = (double)atomic_load_explicit(&s->trapped, memory_order_relaxed) /
		       (double)(pairs ? pairs : 1);
		b[0] = 1;
		nt = 1;
	}
	struct zcp_bench_figure f;
	zcp_bench_figure_of(&f, "syscalls_per_publish", "calls", nt, n, z, "getppid", b);
	snprintf(f.variant, sizeof f.variant, "nobody_asleep");
	zcp_bench_bar(&f, "median", "<=", 0);
	int32_t first = atomic_load_explicit(&s->first_nr, memory_order_relaxed);
	uint64_t trapped = atomic_load_explicit(&s->trapped, memory_order_relaxed);
	size_t len = (size_t)snprintf(
		note, sizeof note,
		"loan+publish+take+release, 1 subscriber, %llu pairs under seccomp%s; %llu calls "
		"trapped in all (getppid: control)",
		(unsigned long long)(n * nt), vdso ? "" : " (clock allowed: no vDSO)",
		(unsigned long long)trapped);
	if (first >= 0)
		len += (size_t)snprintf(note + len, sizeof note - len, ", first nr %d", (int)first);
	if (!ok)
		snprintf(note + len, sizeof note - len, "; child %s %d after %u trials",
			 WIFSIGNALED(st) ? "killed by signal" : "exit status",
			 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), done);
	snprintf(f.note, sizeof f.note, "%s", note);
	if (!ok)
		f.bar_pass = 0;
	zcp_bench_report(ctx, &f);

	zcp_bench_shared_free(s, sizeof *s);
	zcp_bench_destroy(m);
}

#else

void zcp_bench_syscalls_per_publish(struct zcp_bench_ctx *ctx)
{
#if defined(SANITIZED)
	const char *why = "a sanitizer build: its runtime makes system calls of its own";
#else
	const char *why = "no seccomp filters here (not Linux, or no kernel headers): the count "
			  "needs them";
#endif
	zcp_bench_skip(ctx, "syscalls_per_publish", "nobody_asleep", "median <=0 calls", why);
}

#endif
