/* SPDX-License-Identifier: MIT */
/* zcp_subscriber_wait(): a timeout, a wake-up from another process, the
 * race of publish with going to sleep (a ping-pong where a lost wake-up
 * would show as a timeout), a signal, a sleeper killed in its sleep, and
 * no system call on publish or take while nobody sleeps (seccomp). */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/filter.h>) && __has_include(<linux/seccomp.h>)
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif
#endif

#include <zerocp/zerocp.h>

#include "topic.h"

#define SEC INT64_C(1000000000)

static zcp_mempool_manager *make(const char **name)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 64, 256);
	*name = zt_name();
	if (zcp_mempool_manager_create(*name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	return m;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static int publish_u64(zcp_mempool_manager *m, zcp_publisher *p, uint64_t v)
{
	zcp_chunk *c = zcp_publisher_loan(p, 8);
	if (!c)
		return -errno;
	memcpy(zcp_sample_data(c), &v, sizeof v);
	int err = zcp_publisher_publish(p, c);
	if (err)
		zcp_chunk_release(m, c);
	return err;
}

static void timeouts(zcp_mempool_manager *m)
{
	zcp_subscriber *s;
	zcp_publisher *p;
	is_int(zcp_subscriber_create(m, "idle", NULL, &s), 0, "a subscriber on an idle topic");
	is_int(zcp_subscriber_wait(s, 0), ZCP_ETIMEDOUT, "timeout 0 only looks: ZCP_ETIMEDOUT");
	int64_t t0 = mono_ns();
	int err = zcp_subscriber_wait(s, 50000000);
	int64_t dt = mono_ns() - t0;
	ok(err == ZCP_ETIMEDOUT && dt >= 50000000, "a 50 ms timeout returns ZCP_ETIMEDOUT, not early (%lld ns)",
	   (long long)dt);
	is_int(zcp_publisher_create(m, "idle", NULL, &p), 0, "a publisher");
	is_int(publish_u64(m, p, 1), 0, "publish");
	is_int(zcp_subscriber_wait(s, SEC), 0, "a sample waiting: 0 at once");
	zcp_chunk *c = zcp_subscriber_take(s);
	ok(c != NULL, "and take has it");
	zcp_chunk_release(m, c);
	is_int(zcp_subscriber_wait(NULL, 0), ZCP_EINVAL, "NULL: ZCP_EINVAL");
	zcp_publisher_close(p);
	zcp_subscriber_close(s);
}

/* Two processes, each asleep in zcp_subscriber_wait() until the other
 * publishes: every round trip needs a wake-up; one lost wake-up ends in a
 * 10 s timeout, which fails the round. */
static void pingpong(const char *name, zcp_mempool_manager *m)
{
	long rounds = zt_iters(2000) / 2;
	zcp_subscriber *pong;
	zcp_publisher *ping;
	is_int(zcp_subscriber_create(m, "pong", NULL, &pong), 0, "ping-pong: subscriber to pong");
	is_int(zcp_publisher_create(m, "ping", NULL, &ping), 0, "ping-pong: publisher of ping");
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_subscriber *s;
		zcp_publisher *p;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_subscriber_create(cm, "ping", NULL, &s) == 0 &&
			 zcp_publisher_create(cm, "pong", NULL, &p) == 0);
		ZT_CHECK(write(ready[1], "r", 1) == 1);
		for (long i = 0; i < rounds; i++) {
			int err = zcp_subscriber_wait(s, 10 * SEC);
			ZT_CHECK_MSG(err == 0, "round %ld: wait %s", i, zcp_err_name(err));
			zcp_chunk *c = zcp_subscriber_take(s);
			ZT_CHECK(c);
			uint64_t v;
			memcpy(&v, zcp_sample_data(c), sizeof v);
			ZT_CHECK_MSG(v == (uint64_t)i, "round %ld got %llu", i, (unsigned long long)v);
			zcp_chunk_release(cm, c);
			ZT_CHECK(publish_u64(cm, p, v) == 0);
		}
		zcp_publisher_close(p);
		zcp_subscriber_close(s);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	char r;
	ok(read(ready[0], &r, 1) == 1, "ping-pong: the other process is ready");
	long good = 0;
	for (long i = 0; i < rounds; i++) {
		if (publish_u64(m, ping, (uint64_t)i))
			break;
		if (zcp_subscriber_wait(pong, 10 * SEC) != 0)
			break;
		zcp_chunk *c = zcp_subscriber_take(pong);
		if (!c)
			break;
		uint64_t v;
		memcpy(&v, zcp_sample_data(c), sizeof v);
		zcp_chunk_release(m, c);
		if (v != (uint64_t)i)
			break;
		good++;
	}
	is_int(good, rounds, "ping-pong: %ld round trips, both sides asleep, no wake-up lost", rounds);
	zt_ok_child(pid, "ping-pong: the other side saw every sample in order");
	zcp_publisher_close(ping);
	zcp_subscriber_close(pong);
	close(ready[0]);
	close(ready[1]);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void interrupted(zcp_mempool_manager *m)
{
	zcp_subscriber *s;
	zcp_subscriber_create(m, "intr", NULL, &s);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, &old);
	alarm(1);
	int err = zcp_subscriber_wait(s, 30 * SEC);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	is_int(err, ZCP_EINTR, "a signal ends the wait: ZCP_EINTR");
	zcp_subscriber_close(s);
}

/* A sleeper killed in its sleep: its sleeper bit would make every publish
 * a system call; reclaim clears it. */
static void killed_sleeper(const char *name, zcp_mempool_manager *m)
{
	zcp_publisher *p;
	zcp_publisher_create(m, "sleepy", NULL, &p);
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_subscriber *s;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0 &&
			 zcp_subscriber_create(cm, "sleepy", NULL, &s) == 0);
		ZT_CHECK(write(ready[1], "r", 1) == 1);
		zcp_subscriber_wait(s, 60 * SEC);
		_exit(1);
	}
	char r;
	ok(read(ready[0], &r, 1) == 1, "killed sleeper: subscribed");
	unsigned t = p->topic_index;
	_Atomic uint64_t *mask = zcp__sleepers(m, t);
	int64_t t0 = mono_ns();
	while (atomic_load(&mask[0]) == 0 && mono_ns() - t0 < 5 * SEC)
		usleep(1000);
	ok(atomic_load(&mask[0]) != 0, "killed sleeper: its bit is set while it sleeps");
	kill(pid, SIGKILL);
	int st;
	zt_wait(pid, &st);
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1, "killed sleeper: reclaimed");
	is_int((long long)atomic_load(&mask[0]), 0, "killed sleeper: its bit is gone");
	is_int(publish_u64(m, p, 7), 0, "killed sleeper: publishing goes on");
	zcp_publisher_close(p);
	close(ready[0]);
	close(ready[1]);
}


/* Sanitizer runtimes make system calls of their own: no seccomp check. */
#if defined(__linux__) && defined(SECCOMP_MODE_FILTER) && defined(__NR_exit_group) && \
	defined(SECCOMP_RET_KILL_PROCESS) && !defined(ZT_SANITIZED)
#include <sys/auxv.h>
#define HAVE_SECCOMP_TEST 1
/* A child attaches, opens a publisher and a subscriber, then has a seccomp
 * filter kill it at any system call but write and exit, and runs a million
 * publish/take/release with nobody asleep: exiting 0 proves none was made.
 * Without a vDSO (emulators) reading the clock is a system call: then it
 * is allowed, and the test says so. */
static void no_syscalls(const char *name, zcp_mempool_manager *m, int overflow)
{
	static const char *topics[] = {"quiet", "quietreject", "quietblock"};
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.overflow = overflow;
	long n = zt_iters(100000) * 10;
	int vdso = getauxval(AT_SYSINFO_EHDR) != 0;
	pid_t pid = fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_subscriber *s;
		zcp_publisher *p;
		if (zcp_mempool_manager_attach(name, &cm) ||
		    zcp_subscriber_create(cm, topics[overflow], &o, &s) ||
		    zcp_publisher_create(cm, topics[overflow], &o, &p))
			_exit(2);
		for (int i = 0; i < 100; i++) { /* warm up: lazy pages, the vDSO */
			publish_u64(cm, p, (uint64_t)i);
			zcp_chunk *c = zcp_subscriber_take(s);
			if (c)
				zcp_chunk_release(cm, c);
		}
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_write, 4, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit_group, 3, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_exit, 2, 0),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, vdso ? __NR_exit : __NR_clock_gettime, 1, 0),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
			_exit(3);
		long bad = 0;
		for (long i = 0; i < n; i++) {
			if (publish_u64(cm, p, (uint64_t)i) != 0)
				bad++;
			zcp_chunk *c = zcp_subscriber_take(s);
			if (!c || zcp_chunk_release(cm, c) != 0)
				bad++;
		}
		_exit(bad ? 4 : 0); /* no detach: that makes system calls */
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
		skip("the kernel refused the seccomp filter (an emulated process, a sandbox)");
	else
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "no system call in %ld publish + take + release with nobody asleep, %s topic%s "
		   "(status %#x%s)",
		   n, overflow == ZCP_OVERFLOW_BLOCK ? "a BLOCK" : "a DROP_OLDEST",
		   vdso ? "" : " (clock reads allowed: no vDSO here)", st,
		   WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS ? ": killed at a system call" : "");
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1,
	   "no system call: the child reclaimed (%s)", topics[overflow]);
}
#endif

int main(void)
{
	const char *name;
	plan_lazy();
	zcp_mempool_manager *m = make(&name);
	timeouts(m);
	pingpong(name, m);
	interrupted(m);
	killed_sleeper(name, m);
#if defined(ZT_SANITIZED)
	skip("a sanitizer build: its runtime makes system calls of its own");
#elif defined(HAVE_SECCOMP_TEST)
	/* An emulator's own host system calls would meet the filter. */
	if (getenv("ZT_EMULATOR") && *getenv("ZT_EMULATOR"))
		skip("under an emulator (ZT_EMULATOR): seccomp would judge its own system calls");
	else
	{
		no_syscalls(name, m, ZCP_OVERFLOW_DROP_OLDEST);
		no_syscalls(name, m, ZCP_OVERFLOW_BLOCK);
	}
#else
	skip("no seccomp filters on this platform: the zero-system-call check needs them");
#endif
	zcp_pool_stats ps;
	zcp_mempool_manager_pool_stats(m, 0, &ps);
	is_int((long long)ps.used, 0, "every chunk back");
	is_int(zcp_mempool_manager_check(m), 0, "manager check");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
