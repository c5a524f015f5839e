/* SPDX-License-Identifier: MIT */
/* tests/attack-wait.h - tiny TAP helpers shared by the attack-wait-*.c programs (header-only).
 * Not tests/zt.h: these programs do not link its helpers; the few they
 * share (ZT_SLOWDOWN, ZT_EMULATOR, ZCP_TEST_ITERS, ZT_SANITIZED) are
 * repeated here with the same meaning. */
#ifndef ZEROCP_TESTS_ATTACK_WAIT_H
#define ZEROCP_TESTS_ATTACK_WAIT_H
/* Each attack-wait-*.c includes this first: unshare, setgroups, strsignal,
 * F_SETPIPE_SZ and friends need the GNU extensions (the programs build
 * under -std=c11 and do not include config.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zerocp/zerocp.h>

/* ZT_SANITIZED: as in tests/zt.h (sanitizer runtimes make system calls of
 * their own, so the no-system-call checks skip there). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define ZT_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ZT_SANITIZED 1
#endif

static __attribute__((unused)) long zt_env_long(const char *var, long dflt)
{
	const char *s = getenv(var);
	char *end;
	long v;
	if (s == NULL || *s == '\0')
		return dflt;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return dflt;
	return v;
}
/* ZT_SLOWDOWN (default 1): how much slower than native the tests run
 * (qemu-user: 8).  Every time bound a test asserts is multiplied by it. */
static __attribute__((unused)) long zt_slowdown(void)
{
	static long f;
	if (f == 0)
		f = zt_env_long("ZT_SLOWDOWN", 1);
	return f;
}
/* ZT_EMULATOR ("qemu-user"), or NULL when native. */
static __attribute__((unused)) const char *zt_emulator(void)
{
	const char *s = getenv("ZT_EMULATOR");
	return s != NULL && *s != '\0' ? s : NULL;
}
/* Whether the library is built on the POSIX platform layer (configure
 * --with-platform=posix; make check exports ZCP_PLATFORM): no futex, so a
 * sleeper looks every millisecond and a wake-up is no system call. */
static __attribute__((unused)) int zt_posix_platform(void)
{
	const char *s = getenv("ZCP_PLATFORM");
	return s != NULL && strcmp(s, "posix") == 0;
}
/* ZCP_TEST_ITERS if set and positive ("make stress"), else dflt. */
static __attribute__((unused)) long zt_iters(long dflt)
{
	double v;
	char *end;
	const char *s = getenv("ZCP_TEST_ITERS");
	if (s == NULL || *s == '\0')
		return dflt;
	v = strtod(s, &end);
	if (*end != '\0' || !(v >= 1) || v > 1e9)
		return dflt;
	return (long)v;
}
/* A time bound of ms milliseconds, scaled by ZT_SLOWDOWN, in ns. */
#define ZT_MS(ms) ((int64_t)(ms) * 1000000LL * zt_slowdown())

static __attribute__((unused)) int zt_n, zt_failed;
static char zt_name[64];

static __attribute__((unused)) void zt_plan(int n) { printf("1..%d\n", n); fflush(stdout); }
static __attribute__((unused)) void zt_skip_all(const char *why) { printf("1..0 # SKIP %s\n", why); fflush(stdout); }
static __attribute__((unused)) int zt_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%sok %d - ", cond ? "" : "not ", ++zt_n);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	if (!cond)
		zt_failed++;
	return cond;
}
static __attribute__((unused)) void zt_skip(const char *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("ok %d - ", ++zt_n);
	vprintf(fmt, ap);
	printf(" # SKIP %s\n", why);
	fflush(stdout);
	va_end(ap);
}
static __attribute__((unused)) void zt_diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("# ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static __attribute__((unused)) int64_t zt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
static __attribute__((unused)) void zt_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* count entries of /dev/shm whose name starts with zerocp_<name> */
static __attribute__((unused)) int zt_leftovers(const char *name, int fifos_only)
{
	char pfx[128];
	snprintf(pfx, sizeof pfx, "zerocp_%s", name);
	DIR *d = opendir("/dev/shm");
	int n = 0;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, pfx, strlen(pfx)))
			continue;
		char after = e->d_name[strlen(pfx)];
		if (after != '_' && after != '.' && after != 0)
			continue;
		if (fifos_only && !strstr(e->d_name, ".fd."))
			continue;
		n++;
	}
	closedir(d);
	return n;
}
static __attribute__((unused)) void zt_rm_leftovers(const char *name)
{
	char pfx[128], p[512];
	snprintf(pfx, sizeof pfx, "zerocp_%s", name);
	DIR *d = opendir("/dev/shm");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, pfx, strlen(pfx)))
			continue;
		char after = e->d_name[strlen(pfx)];
		if (after != '_' && after != '.' && after != 0)
			continue;
		snprintf(p, sizeof p, "/dev/shm/%s", e->d_name);
		unlink(p);
	}
	closedir(d);
}
static __attribute__((unused)) void zt_on_alarm(int s)
{
	(void)s;
	static const char m[] = "Bail out! alarm: test hung\n";
	if (write(1, m, sizeof m - 1)) {}
	zt_rm_leftovers(zt_name);
	kill(0, SIGKILL);
	_exit(2);
}
static __attribute__((unused)) void zt_init(const char *tag, unsigned secs)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(zt_name, sizeof zt_name, "atk_%s_%d", tag, (int)getpid());
	/* own process group so the alarm handler can kill stray children */
	setpgid(0, 0);
	signal(SIGALRM, zt_on_alarm);
	/* secs of native time, scaled by ZT_SLOWDOWN; "make stress" sets a
	 * longer ZT_TIMEOUT_TOTAL for its long runs. */
	long total = (long)secs * zt_slowdown();
	if (zt_env_long("ZT_TIMEOUT_TOTAL", 0) > total)
		total = zt_env_long("ZT_TIMEOUT_TOTAL", 0);
	alarm((unsigned)total);
}

static __attribute__((unused)) zcp_mempool_manager *zt_create(const char *name, unsigned triggers, unsigned maxproc,
				      unsigned topics, unsigned pubs, unsigned subs, unsigned q,
				      unsigned mode, long gid)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 256, 512);
	if (triggers)
		zcp_mempool_config_set_triggers(cfg, triggers);
	if (maxproc)
		zcp_mempool_config_set_max_processes(cfg, maxproc);
	if (topics)
		zcp_mempool_config_set_topics(cfg, topics, pubs, subs, q);
	if (mode)
		zcp_mempool_config_set_access(cfg, mode, gid);
	int e = zcp_mempool_manager_create(name, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (e) {
		zt_diag("create %s: %s", name, zcp_strerror(e));
		return NULL;
	}
	return m;
}

static __attribute__((unused)) int zt_publish_int(zcp_publisher *p, int v)
{
	zcp_chunk *c = zcp_publisher_loan(p, sizeof v);
	if (!c)
		return -errno;
	memcpy(zcp_sample_data(c), &v, sizeof v);
	int e = zcp_publisher_publish(p, c);
	return e;
}

static __attribute__((unused)) int zt_drain(zcp_mempool_manager *m, zcp_subscriber *s)
{
	int n = 0;
	zcp_chunk *c;
	while ((c = zcp_subscriber_take(s))) {
		zcp_chunk_release(m, c);
		n++;
	}
	return n;
}

/* wait for child with a deadline (ms, scaled by ZT_SLOWDOWN); SIGKILL it
 * after; returns status or -1 */
static __attribute__((unused)) int zt_reap(pid_t pid, int ms)
{
	int st;
	int64_t end = zt_now() + ZT_MS(ms);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		if (zt_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -2;
		}
		zt_sleep_ms(2);
	}
}
/* The zerocp tool of this build, $top_builddir/tools/zerocp (the test
 * harness exports top_builddir), or NULL if it is not there. */
static __attribute__((unused)) const char *zt_tool(void)
{
	static char path[4096];
	const char *b = getenv("top_builddir");
	if (b == NULL || *b == '\0')
		b = ".";
	snprintf(path, sizeof path, "%s/tools/zerocp", b);
	return access(path, X_OK) == 0 ? path : NULL;
}
/* `zerocp clean --name NAME --force` with the tool above: system()'s
 * status, or -1 without the tool. */
static __attribute__((unused)) int zt_tool_clean(const char *name)
{
	char cmd[4608];
	const char *t = zt_tool();
	if (t == NULL)
		return -1;
	snprintf(cmd, sizeof cmd, "'%s' clean --name '%s' --force >/dev/null 2>&1", t, name);
	fflush(NULL);
	return system(cmd);
}
static __attribute__((unused)) int zt_exit_ok(int st) { return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0; }

#endif /* ZEROCP_TESTS_ATTACK_WAIT_H */
