/* SPDX-License-Identifier: MIT */
/* Tiny TAP helpers for the zerocp pub/sub attack programs. */
#ifndef ATTACK_TAP_H
#define ATTACK_TAP_H
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zerocp/zerocp.h>

static int tap_n, tap_fail;
static char mgr_names[16][96];
static zcp_mempool_manager *mgr_handles[16];
static int n_mgrs;
static pid_t kids[256];
static int n_kids;
static pid_t tap_main_pid;

static inline void tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_n++;
	if (!cond)
		tap_fail++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static inline void tap_skip(const char *why, const char *what)
{
	tap_n++;
	printf("ok %d - %s # SKIP %s\n", tap_n, what, why);
	fflush(stdout);
}

static inline void diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static inline const char *en(int e) { return zcp_err_name(e); }

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static inline void msleep(int ms) { nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL); }

static inline void cleanup_all(void)
{
	if (getpid() != tap_main_pid)
		return;
	for (int i = 0; i < n_kids; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
	for (int i = 0; i < n_mgrs; i++) {
		if (mgr_handles[i])
			zcp_mempool_manager_destroy(mgr_handles[i]);
		mgr_handles[i] = NULL;
		zcp_mempool_manager_unlink(mgr_names[i]);
	}
	n_mgrs = 0;
}

static inline void on_alarm(int sig)
{
	(void)sig;
	const char m[] = "not ok 9999 - watchdog: program took too long\n";
	if (write(1, m, sizeof m - 1) < 0) {
	}
	/* best effort: kill children, unlink segments */
	for (int i = 0; i < n_kids; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGKILL);
	for (int i = 0; i < n_mgrs; i++)
		zcp_mempool_manager_unlink(mgr_names[i]);
	_exit(2);
}

static inline void on_crash(int sig)
{
	char m[80];
	int n = snprintf(m, sizeof m, "not ok 9998 - process %d died of signal %d\n", (int)getpid(), sig);
	if (write(1, m, n) < 0) {
	}
	if (getpid() == tap_main_pid) {
		for (int i = 0; i < n_kids; i++)
			if (kids[i] > 0)
				kill(kids[i], SIGKILL);
		for (int i = 0; i < n_mgrs; i++)
			zcp_mempool_manager_unlink(mgr_names[i]);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static inline void tap_init(int watchdog_s)
{
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGABRT, on_crash);
	tap_main_pid = getpid();
	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(cleanup_all);
	signal(SIGALRM, on_alarm);
	alarm(watchdog_s);
}

/* make a manager; remembered for cleanup.  Returns the index of the name. */
static inline zcp_mempool_manager *mk_mgr(const char *tag, zcp_mempool_config *cfg, const char **name_out)
{
	int i = n_mgrs++;
	snprintf(mgr_names[i], sizeof mgr_names[i], "zcpapi_%d_%s", (int)getpid(), tag);
	zcp_mempool_manager *m = NULL;
	int e = zcp_mempool_manager_create(mgr_names[i], cfg, &m);
	if (e) {
		diag("create %s: %s", mgr_names[i], en(e));
		return NULL;
	}
	mgr_handles[i] = m;
	if (name_out)
		*name_out = mgr_names[i];
	return m;
}

static inline void drop_mgr(zcp_mempool_manager *m)
{
	for (int i = 0; i < n_mgrs; i++)
		if (mgr_handles[i] == m) {
			zcp_mempool_manager_destroy(m);
			mgr_handles[i] = NULL;
		}
}

static inline pid_t spawn(int (*fn)(void *), void *arg)
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		alarm(55);
		_exit(fn(arg));
	}
	if (p > 0)
		kids[n_kids++] = p;
	return p;
}

/* wait for a child, return exit code, or 128+sig */
static inline int reap(pid_t p)
{
	int st;
	if (waitpid(p, &st, 0) != p)
		return -1;
	for (int i = 0; i < n_kids; i++)
		if (kids[i] == p)
			kids[i] = 0;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

static inline int tap_done(void)
{
	cleanup_all();
	printf("1..%d\n", tap_n);
	return tap_fail ? 1 : 0;
}

static inline zcp_topic_options topt(unsigned cap, unsigned hist, int ovf, const char *tn, uint64_t ts,
			      uint64_t ta)
{
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = cap;
	o.history = hist;
	o.overflow = ovf;
	o.type_name = tn;
	o.type_size = ts;
	o.type_align = ta;
	return o;
}

#endif
