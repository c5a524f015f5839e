/* SPDX-License-Identifier: MIT */
/* zcp_waitset_fd(): the descriptor with poll and with epoll, readable on a
 * publish from another process and on a trigger, not without news,
 * readable until the news is reported, the re-arm race (a ping-pong at
 * random moments: the listener never sleeps in epoll_wait past a
 * sample), a listener killed (its FIFO goes at reclaim), no system call
 * on publish while the descriptor is not armed (seccomp), another user
 * (root only) and another PID namespace ringing it, and bad arguments. */
#define _GNU_SOURCE
#include "tap.h"
#include "zt.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/epoll.h>
#define HAVE_EPOLL 1
#endif
#if defined(__linux__) && defined(__has_include)
#if __has_include(<linux/filter.h>) && __has_include(<linux/seccomp.h>)
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif
#endif

#include <zerocp/zerocp.h>

#define NOBODY 65534

static zcp_mempool_manager *make(const char **name, unsigned mode, long gid)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 64, 1024);
	zcp_mempool_config_set_topics(cfg, 8, 2, 4, 16);
	zcp_mempool_config_set_triggers(cfg, 8);
	if (mode)
		zcp_mempool_config_set_access(cfg, mode, gid);
	*name = zt_name();
	if (zcp_mempool_manager_create(*name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	return m;
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

static long take_all(zcp_mempool_manager *m, zcp_subscriber *s, uint64_t *last)
{
	long n = 0;
	zcp_chunk *c;
	while ((c = zcp_subscriber_take(s)) != NULL) {
		if (last)
			memcpy(last, zcp_sample_data(c), sizeof *last);
		zcp_chunk_release(m, c);
		n++;
	}
	return n;
}

static int readable(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	int r;
	while ((r = poll(&p, 1, ms)) < 0 && errno == EINTR)
		;
	return r == 1 && (p.revents & POLLIN);
}

/* The FIFOs of manager `name` left in /dev/shm. */
static int fifos_of(const char *name)
{
	char pre[128];
	snprintf(pre, sizeof pre, "zerocp_%s.fd.", name);
	DIR *d = opendir("/dev/shm");
	int n = 0;
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, pre, strlen(pre)) == 0;
	closedir(d);
	return n;
}

/* A child that attaches and publishes `count` samples on `topic`, one
 * every `gap_ms`; or fires trigger `topic` if fire. */
static pid_t feeder(const char *name, const char *topic, int count, int gap_ms, int fire)
{
	pid_t pid = zt_fork();
	if (pid != 0)
		return pid;
	zcp_mempool_manager *m;
	ZT_CHECK(zcp_mempool_manager_attach(name, &m) == 0);
	if (fire) {
		zcp_trigger *t;
		ZT_CHECK(zcp_trigger_open(m, topic, &t) == 0);
		usleep((useconds_t)gap_ms * 1000);
		ZT_CHECK(zcp_trigger_fire(t) == 0);
		zcp_trigger_close(t);
	} else {
		zcp_publisher *p;
		ZT_CHECK(zcp_publisher_create(m, topic, NULL, &p) == 0);
		for (int i = 0; i < count; i++) {
			usleep((useconds_t)gap_ms * 1000);
			ZT_CHECK(publish_u64(m, p, (uint64_t)i + 1) == 0);
		}
		usleep(200000); /* the listener reads before the publisher goes */
		zcp_publisher_close(p);
	}
	zcp_mempool_manager_detach(m);
	_exit(0);
}

static void basics(const char *name, zcp_mempool_manager *m)
{
	zcp_waitset *ws;
	zcp_subscriber *s;
	zcp_waitset_event ev[4];
	int fd = -1, fd2 = -1;
	zcp_waitset_create(m, &ws);
	zcp_subscriber_create(m, "basic", NULL, &s);
	zcp_waitset_attach_subscriber(ws, s, s);
	is_int(zcp_waitset_fd(NULL, &fd), ZCP_EINVAL, "NULL waitset: ZCP_EINVAL");
	is_int(zcp_waitset_fd(ws, NULL), ZCP_EINVAL, "NULL fd_out: ZCP_EINVAL");
	is_int(zcp_waitset_fd(ws, &fd), 0, "zcp_waitset_fd");
	ok(fd >= 0 && zcp_waitset_fd(ws, &fd2) == 0 && fd2 == fd, "the same descriptor again");
	ok(fifos_of(name) == 1, "one FIFO in /dev/shm");
	ok(readable(fd, 0), "a new descriptor is readable at once");
	is_int(zcp_waitset_wait(ws, ev, 4, 0), ZCP_ETIMEDOUT, "nothing yet: the wait arms it");
	ok(!readable(fd, 0), "armed: not readable");
	ok(!readable(fd, 300), "not readable without news (300 ms)");

	pid_t pid = feeder(name, "basic", 1, 50, 0);
	/* A publisher appearing is news too. */
	int got_data = 0, rounds = 0;
	while (!got_data && rounds++ < 10) {
		if (!readable(fd, 5000))
			break;
		int n = zcp_waitset_wait(ws, ev, 4, 0);
		for (int i = 0; i < n; i++)
			got_data |= ev[i].kind == ZCP_EVENT_DATA;
	}
	ok(got_data, "a publish in another process makes it readable (poll)");
	ok(readable(fd, 0), "still readable while the sample waits");
	is_int(zcp_waitset_wait(ws, ev, 4, 0), 1, "the sample is reported again");
	ok(readable(fd, 0) && ev[0].kind == ZCP_EVENT_DATA && ev[0].user_data == s,
	   "still readable: DATA is level-triggered");
	is_int((int)take_all(m, s, NULL), 1, "one sample taken");
	zt_ok_child(pid, "the feeder published");
	/* The publisher went: GONE, then nothing. */
	int n, gone = 0;
	while ((n = zcp_waitset_wait(ws, ev, 4, 0)) > 0)
		gone |= ev[0].kind == ZCP_EVENT_PUBLISHER_GONE;
	ok(gone && n == ZCP_ETIMEDOUT && !readable(fd, 0),
	   "the publisher gone reported; then armed, not readable");

	/* A blocking wait leaves it readable. */
	is_int(zcp_waitset_wait(ws, ev, 4, 1000000), ZCP_ETIMEDOUT, "a blocking wait times out");
	ok(readable(fd, 0), "readable after a blocking wait");
	is_int(zcp_waitset_wait(ws, ev, 4, 0), ZCP_ETIMEDOUT, "and armed again by a look");

	/* Triggers. */
	zcp_trigger *t;
	zcp_trigger_open(m, "bell", &t);
	zcp_waitset_attach_trigger(ws, t, t);
	is_int(zcp_waitset_wait(ws, ev, 4, 0), ZCP_ETIMEDOUT, "trigger attached: nothing yet");
	pid = feeder(name, "bell", 0, 50, 1);
	ok(readable(fd, 5000), "a fire in another process makes it readable");
	ok(zcp_waitset_wait(ws, ev, 4, 0) == 1 && ev[0].kind == ZCP_EVENT_TRIGGER &&
		   ev[0].object == t,
	   "the wait reports the trigger");
	zt_ok_child(pid, "the child fired");
	is_int(zcp_waitset_wait(ws, ev, 4, 0), ZCP_ETIMEDOUT, "reported: armed again");
	ok(!readable(fd, 0), "not readable after the trigger was reported");
	zcp_trigger_fire(t);
	ok(readable(fd, 0), "a fire in this process makes it readable");
	zcp_waitset_wait(ws, ev, 4, 0);
	zcp_waitset_detach(ws, t);
	zcp_trigger_close(t);

	/* Attaching while armed: readable, so the loop looks again. */
	zcp_waitset_wait(ws, ev, 4, 0);
	zcp_subscriber *s2;
	zcp_subscriber_create(m, "other", NULL, &s2);
	zcp_waitset_attach_subscriber(ws, s2, s2);
	ok(readable(fd, 0), "an attach while armed makes it readable");
	zcp_waitset_wait(ws, ev, 4, 0);
	zcp_subscriber_close(s2);
	zcp_waitset_destroy(ws);
	ok(fifos_of(name) == 0, "destroy removes the FIFO");
	zcp_subscriber_close(s);
}

#if defined(HAVE_EPOLL)
static void with_epoll(const char *name, zcp_mempool_manager *m)
{
	zcp_waitset *ws;
	zcp_subscriber *s;
	zcp_waitset_event ev[4];
	int fd;
	zcp_waitset_create(m, &ws);
	zcp_subscriber_create(m, "ep", NULL, &s);
	zcp_waitset_attach_subscriber(ws, s, NULL);
	zcp_waitset_fd(ws, &fd);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = {.events = EPOLLIN}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	pid_t pid = feeder(name, "ep", 5, 20, 0);
	long got = 0;
	for (int i = 0; i < 100 && got < 5; i++) {
		if (epoll_wait(ep, &out, 1, 5000) != 1)
			break;
		int n = zcp_waitset_wait(ws, ev, 4, 0);
		for (int k = 0; k < n; k++)
			if (ev[k].kind == ZCP_EVENT_DATA)
				got += take_all(m, s, NULL);
	}
	is_int((int)got, 5, "epoll: five samples from another process");
	zt_ok_child(pid, "the epoll feeder published");
	close(ep);
	zcp_waitset_destroy(ws);
	zcp_subscriber_close(s);
}

/* Ping-pong: the child publishes sample i at a random moment (a random
 * spin after our ack), waits for our ack; we sleep in epoll_wait on the
 * descriptor with a generous timeout.  A timeout is a missed wake-up. */
static void race(const char *name, zcp_mempool_manager *m)
{
	long iters = zt_iters(3000);
	zcp_waitset *ws;
	zcp_subscriber *s;
	zcp_publisher *ack;
	zcp_waitset_event ev[4];
	int fd;
	zcp_waitset_create(m, &ws);
	zcp_subscriber_create(m, "ping", NULL, &s);
	zcp_publisher_create(m, "pong", NULL, &ack);
	zcp_waitset_attach_subscriber(ws, s, NULL);
	zcp_waitset_fd(ws, &fd);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event e = {.events = EPOLLIN}, out;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_publisher *p;
		zcp_subscriber *back;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_publisher_create(cm, "ping", NULL, &p) == 0);
		ZT_CHECK(zcp_subscriber_create(cm, "pong", NULL, &back) == 0);
		srand((unsigned)getpid());
		for (long i = 1; i <= iters; i++) {
			for (volatile int k = rand() % 20000; k > 0; k--)
				;
			ZT_CHECK(publish_u64(cm, p, (uint64_t)i) == 0);
			uint64_t v = 0;
			while (v != (uint64_t)i) {
				int err = zcp_subscriber_wait(back, 5000000000);
				ZT_CHECK_MSG(err == 0, "no ack for %ld: %d", i, err);
				take_all(cm, back, &v);
			}
		}
		_exit(0);
	}
	long misses = 0, got = 0;
	uint64_t last = 0;
	while ((long)last < iters && misses < 3) {
		int r = epoll_wait(ep, &out, 1, 3000);
		if (r == 0) {
			misses++;
			diag("epoll_wait slept 3 s past sample %llu", (unsigned long long)last + 1);
			continue;
		}
		if (r < 0)
			continue;
		if (zcp_waitset_wait(ws, ev, 4, 0) > 0) {
			uint64_t before = last;
			got += take_all(m, s, &last);
			if (last != before)
				publish_u64(m, ack, last);
		}
	}
	ok(misses == 0 && got == iters, "%ld ping-pongs at random moments: %ld received, %ld misses",
	   iters, got, misses);
	if (misses)
		kill(pid, SIGKILL);
	zt_ok_child(pid, "the pinger finished");
	close(ep);
	zcp_waitset_destroy(ws);
	zcp_subscriber_close(s);
	zcp_publisher_close(ack);
}
#endif

static void killed(const char *name, zcp_mempool_manager *m)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_waitset *ws;
		zcp_subscriber *s;
		zcp_waitset_event ev[2];
		int fd;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_waitset_create(cm, &ws) == 0);
		ZT_CHECK(zcp_subscriber_create(cm, "doomed", NULL, &s) == 0);
		ZT_CHECK(zcp_waitset_attach_subscriber(ws, s, NULL) == 0);
		ZT_CHECK(zcp_waitset_fd(ws, &fd) == 0);
		ZT_CHECK(zcp_waitset_wait(ws, ev, 2, 0) == ZCP_ETIMEDOUT); /* armed */
		ZT_CHECK(write(pfd[1], "x", 1) == 1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	char c;
	ok(read(pfd[0], &c, 1) == 1 && fifos_of(name) == 1, "a listener armed in a child: its FIFO");
	close(pfd[0]);
	kill(pid, SIGKILL);
	int st;
	zt_wait(pid, &st);
	/* A publish to its armed subscriber rings a FIFO nobody reads. */
	zcp_publisher *p;
	zcp_publisher_create(m, "doomed", NULL, &p);
	ok(publish_u64(m, p, 1) == 0, "publishing to the dead listener is fine");
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes >= 1, "reclaim");
	ok(fifos_of(name) == 0, "the SIGKILLed listener's FIFO is gone after reclaim");
	ok(publish_u64(m, p, 2) == 0, "publishing after the reclaim is fine");
	zcp_publisher_close(p);
}

#if defined(__linux__) && defined(SECCOMP_MODE_FILTER) && defined(__NR_exit_group) && \
	defined(SECCOMP_RET_KILL_PROCESS) && !defined(ZT_SANITIZED)
#define HAVE_SECCOMP_TEST 1
/* A child with a waitset and its descriptor on its subscriber: armed,
 * rung, reported (so disarmed), then a seccomp filter kills it at any
 * system call but exit (write too), and it publishes and takes: exiting
 * 0 proves no system call was made while the listener is not armed. */
static void no_syscalls(const char *name, zcp_mempool_manager *m)
{
	long n = zt_iters(100000);
	int vdso = getauxval(AT_SYSINFO_EHDR) != 0;
	pid_t pid = fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_waitset *ws;
		zcp_subscriber *s;
		zcp_publisher *p;
		zcp_waitset_event ev[4];
		int fd;
		if (zcp_mempool_manager_attach(name, &cm) || zcp_waitset_create(cm, &ws) ||
		    zcp_subscriber_create(cm, "quiet", NULL, &s) ||
		    zcp_publisher_create(cm, "quiet", NULL, &p) ||
		    zcp_waitset_attach_subscriber(ws, s, NULL) || zcp_waitset_fd(ws, &fd))
			_exit(2);
		while (zcp_waitset_wait(ws, ev, 4, 0) > 0)
			; /* the publisher appearing */
		if (readable(fd, 0))
			_exit(5);
		publish_u64(cm, p, 0);
		if (!readable(fd, 0) || zcp_waitset_wait(ws, ev, 4, 0) != 1)
			_exit(6);
		for (int i = 0; i < 100; i++) {
			publish_u64(cm, p, 1);
			take_all(cm, s, NULL);
		}
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
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
			if (take_all(cm, s, NULL) != 1)
				bad++;
		}
		_exit(bad ? 4 : 0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
		skip("the kernel refused the seccomp filter");
	else
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		   "no system call (not even write) in %ld publish + take with the descriptor "
		   "not armed (status %#x%s)",
		   n, st, WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS ? ": killed at a system call" : "");
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && fifos_of(name) == 0,
	   "no system call: the child reclaimed, its FIFO gone");
}
#endif

/* Another user, or another PID namespace, rings our descriptor. */
static void ringer(const char *name, int how)
{
	zcp_mempool_manager *m;
	zcp_attach_options o;
	zcp_attach_options_init(&o);
	o.owner_uid = ZCP_OWNER_ANY;
	ZT_CHECK(zcp_mempool_manager_attach_opts(name, &o, &m) == 0);
	zcp_publisher *p;
	ZT_CHECK(zcp_publisher_create(m, how ? "ns" : "uid", NULL, &p) == 0);
	for (int i = 1; i <= 3; i++) {
		usleep(100000);
		ZT_CHECK(publish_u64(m, p, (uint64_t)i) == 0);
	}
	usleep(300000);
	zcp_publisher_close(p);
	zcp_mempool_manager_detach(m);
}

/* Listen for three samples of topic on m's waitset descriptor. */
static int listen3(zcp_mempool_manager *m, const char *topic, zcp_waitset **wsp,
		   zcp_subscriber **sp, int *fdp)
{
	zcp_waitset_event ev[4];
	if (!*wsp) {
		zcp_waitset_create(m, wsp);
		zcp_subscriber_create(m, topic, NULL, sp);
		zcp_waitset_attach_subscriber(*wsp, *sp, NULL);
		if (zcp_waitset_fd(*wsp, fdp))
			return -1;
		zcp_waitset_wait(*wsp, ev, 4, 0);
		return 0;
	}
	long got = 0;
	for (int i = 0; i < 50 && got < 3; i++) {
		if (!readable(*fdp, 5000))
			break;
		if (zcp_waitset_wait(*wsp, ev, 4, 0) > 0)
			got += take_all(m, *sp, NULL);
	}
	zcp_waitset_destroy(*wsp);
	zcp_subscriber_close(*sp);
	return (int)got;
}

static void other_user(void)
{
	if (geteuid() != 0) {
		skip("another user: not root");
		return;
	}
	const char *name;
	zcp_mempool_manager *m = make(&name, 0660, NOBODY);
	zcp_waitset *ws = NULL;
	zcp_subscriber *s = NULL;
	int fd;
	listen3(m, "uid", &ws, &s, &fd);
	struct stat st;
	ok(fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0660 &&
		   st.st_gid == NOBODY,
	   "the FIFO has the segments' mode 0660 and group");
	pid_t pid = zt_fork();
	if (pid == 0) {
		gid_t g[1] = {NOBODY};
		ZT_CHECK(setgroups(1, g) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0);
		ringer(name, 0);
		_exit(0);
	}
	is_int(listen3(m, "uid", &ws, &s, &fd), 3, "a publisher of uid %d rings the descriptor",
	       NOBODY);
	zt_ok_child(pid, "the other user published");
	zcp_mempool_manager_destroy(m);
}

static void other_pidns(const char *name, zcp_mempool_manager *m)
{
	zcp_waitset *ws = NULL;
	zcp_subscriber *s = NULL;
	int fd;
	listen3(m, "ns", &ws, &s, &fd);
	pid_t pid = zt_fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWPID) != 0)
			_exit(77);
		pid_t g = fork();
		if (g == 0) {
			ringer(name, 1);
			_exit(0);
		}
		int st;
		while (waitpid(g, &st, 0) < 0 && errno == EINTR)
			;
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100);
	}
	/* Wait a little for the child's verdict on unshare. */
	int st = 0;
	usleep(50000);
	pid_t r = waitpid(pid, &st, WNOHANG);
	if (r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		skip("another PID namespace: unshare(CLONE_NEWPID) refused");
		skip("another PID namespace: unshare(CLONE_NEWPID) refused");
		zcp_waitset_destroy(ws);
		zcp_subscriber_close(s);
		return;
	}
	is_int(listen3(m, "ns", &ws, &s, &fd), 3,
	       "a publisher in another PID namespace rings the descriptor");
	if (r == pid)
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the namespaced child published");
	else
		zt_ok_child(pid, "the namespaced child published");
}

int main(void)
{
	const char *name;
	plan_lazy();
	signal(SIGPIPE, SIG_DFL); /* a write to a closed FIFO must never happen */
	zcp_mempool_manager *m = make(&name, 0, -1);
	basics(name, m);
#if defined(HAVE_EPOLL)
	with_epoll(name, m);
	race(name, m);
#else
	skip("no epoll");
#endif
	killed(name, m);
#if defined(HAVE_SECCOMP_TEST)
	if (getenv("ZT_EMULATOR") && *getenv("ZT_EMULATOR"))
		skip("under an emulator: seccomp would judge its own system calls");
	else
		no_syscalls(name, m);
#elif defined(ZT_SANITIZED)
	skip("a sanitizer build: its runtime makes system calls of its own");
#else
	skip("no seccomp here");
#endif
	other_user();
	other_pidns(name, m);
	zcp_mempool_manager_destroy(m);
	zt_done();
	return 0;
}
