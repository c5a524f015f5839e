/* SPDX-License-Identifier: MIT */
/* attack-wait-fifo-hostile: a hostile peer allowed to use the manager
 * tampers with the waitset FIFOs in /dev/shm.
 *  A. a group member (uid 65534) owning a waitset fd replaces its own FIFO
 *     with a symlink to a root-only file (or to a reader-less FIFO); a root
 *     publisher then rings it: the file must not be written, and the
 *     publisher must not hang or die.
 *  B. a same-uid peer writes to a waiter's FIFO without pause: the victim's
 *     zcp_waitset_wait(ws, 0) and timed waits must still return in time.
 *  C. a same-uid peer replaces a waiter's FIFO with a FIFO whose reader it
 *     keeps opening and closing: publishers (default SIGPIPE) must survive.
 * Threat model (README, Security): a hostile attached peer cannot crash
 * another process, make it hang, or make it write outside the segments. */
#include "attack-wait.h"
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>

#define NOBODY 65534

static int attach0(zcp_mempool_manager **m)
{
	zcp_attach_options o;
	zcp_attach_options_init(&o);
	o.owner_uid = 0;
	return zcp_mempool_manager_attach_opts(zt_name, &o, m);
}

/* waiter child: attach, subscribe "s", waitset+fd, arm, report the FIFO path
 * over the pipe, then do what mode says */
enum { W_SLEEP, W_LOOP_WAIT0 };
static pid_t waiter(int drop_uid, int mode, int *from)
{
	int b[2];
	if (pipe(b))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(b[0]);
		if (drop_uid && (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY)))
			_exit(1);
		zcp_mempool_manager *m;
		zcp_subscriber *s;
		zcp_waitset *ws;
		int fd;
		if (attach0(&m) || zcp_subscriber_create(m, "s", NULL, &s) || zcp_waitset_create(m, &ws) ||
		    zcp_waitset_attach_subscriber(ws, s, NULL) || zcp_waitset_fd(ws, &fd))
			_exit(2);
		zcp_waitset_event ev[4];
		while (zcp_waitset_wait(ws, ev, 4, 0) > 0)
			zt_drain(m, s);
		char path[256], link[64];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, path, sizeof path - 1);
		if (n <= 0)
			_exit(3);
		path[n] = 0;
		if (write(b[1], path, sizeof path) != sizeof path)
			_exit(4);
		if (mode == W_SLEEP)
			for (;;)
				pause();
		/* W_LOOP_WAIT0: report worst duration of wait(0) and wait(20ms) */
		int64_t worst0 = 0, worstT = 0, end = zt_now() + 800000000LL;
		while (zt_now() < end) {
			int64_t t0 = zt_now();
			zcp_waitset_wait(ws, ev, 4, 0);
			int64_t d = zt_now() - t0;
			if (d > worst0)
				worst0 = d;
			t0 = zt_now();
			zcp_waitset_wait(ws, ev, 4, 20000000);
			d = zt_now() - t0 - 20000000;
			if (d > worstT)
				worstT = d;
			zt_drain(m, s);
		}
		int64_t w[2] = {worst0, worstT};
		if (write(b[1], w, sizeof w) != sizeof w)
			_exit(5);
		_exit(0);
	}
	close(b[1]);
	*from = b[0];
	return pid;
}

/* publisher child (root, default SIGPIPE): publish n samples, exit 0 if none took > 1 s
 * (x ZT_SLOWDOWN) */
static pid_t publisher(int n)
{
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		zcp_mempool_manager *m;
		zcp_publisher *p;
		if (zcp_mempool_manager_attach(zt_name, &m) || zcp_publisher_create(m, "s", NULL, &p))
			_exit(1);
		for (int i = 0; i < n; i++) {
			int64_t t0 = zt_now();
			zt_publish_int(p, i);
			if (zt_now() - t0 > ZT_MS(1000))
				_exit(2);
			if (i % 16 == 0)
				zt_sleep_ms(1);
		}
		zcp_publisher_close(p);
		zcp_mempool_manager_detach(m);
		_exit(0);
	}
	return pid;
}

static const char *stname(int st, char *buf, size_t n)
{
	if (st == -2)
		snprintf(buf, n, "HUNG (killed after deadline)");
	else if (st >= 0 && WIFSIGNALED(st))
		snprintf(buf, n, "killed by %s", strsignal(WTERMSIG(st)));
	else if (st >= 0 && WIFEXITED(st))
		snprintf(buf, n, "exit %d", WEXITSTATUS(st));
	else
		snprintf(buf, n, "status %d", st);
	return buf;
}

int main(void)
{
	zt_init("fifo", 55);
	if (geteuid() != 0) {
		zt_skip_all("needs root");
		return 0;
	}
	zt_plan(7);
	zcp_mempool_manager *m = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0660, NOBODY);
	if (!m)
		return 1;
	char buf[128], victim[128], path[256];
	snprintf(victim, sizeof victim, "/tmp/atk_fifo_victim_%d", (int)getpid());
	/* A1: symlink to a root-only regular file */
	{
		int vf = open(victim, O_CREAT | O_TRUNC | O_WRONLY, 0600);
		if (write(vf, "ROOTONLY", 8) != 8)
			return 1;
		close(vf);
		int from;
		pid_t w = waiter(1, W_SLEEP, &from);
		int got = read(from, path, sizeof path) == (ssize_t)sizeof path;
		/* as uid 65534: swap its own FIFO for a symlink to the root-only file */
		pid_t h = fork();
		if (h == 0) {
			if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
				_exit(1);
			if (unlink(path) || symlink(victim, path))
				_exit(2);
			_exit(0);
		}
		int hs = zt_reap(h, 3000);
		pid_t p = publisher(200);
		int ps = zt_reap(p, 10000);
		char content[32] = {0};
		vf = open(victim, O_RDONLY);
		ssize_t cn = read(vf, content, sizeof content - 1);
		close(vf);
		struct stat sb;
		stat(victim, &sb);
		int intact = cn == 8 && !memcmp(content, "ROOTONLY", 8);
		zt_ok(got && zt_exit_ok(hs) && intact,
		      "uid 65534 swaps its FIFO for a symlink to a root-only 0600 file: root publisher must not write it "
		      "(file now \"%.*s\", %zd bytes, size %lld)",
		      (int)(cn > 0 ? cn : 0), content, cn, (long long)sb.st_size);
		zt_ok(zt_exit_ok(ps), "... and the root publisher neither hangs nor dies (%s)", stname(ps, buf, sizeof buf));
		kill(w, SIGKILL);
		waitpid(w, NULL, 0);
		close(from);
		unlink(path);
		zcp_mempool_manager_reclaim(m, NULL);
	}
	/* A2: symlink to a FIFO that has no reader */
	{
		char rf[128];
		snprintf(rf, sizeof rf, "/tmp/atk_fifo_noreader_%d", (int)getpid());
		mkfifo(rf, 0666);
		int from;
		pid_t w = waiter(1, W_SLEEP, &from);
		int got = read(from, path, sizeof path) == (ssize_t)sizeof path;
		pid_t h = fork();
		if (h == 0) {
			if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
				_exit(1);
			if (unlink(path) || symlink(rf, path))
				_exit(2);
			_exit(0);
		}
		int hs = zt_reap(h, 3000);
		pid_t p = publisher(100);
		int ps = zt_reap(p, 8000);
		zt_ok(got && zt_exit_ok(hs) && zt_exit_ok(ps),
		      "FIFO swapped for a symlink to a reader-less FIFO: publisher does not hang (%s)",
		      stname(ps, buf, sizeof buf));
		kill(w, SIGKILL);
		waitpid(w, NULL, 0);
		close(from);
		unlink(path);
		unlink(rf);
		zcp_mempool_manager_reclaim(m, NULL);
	}
	/* B: continuous writer on the victim's FIFO */
	{
		int from;
		pid_t w = waiter(0, W_LOOP_WAIT0, &from);
		int got = read(from, path, sizeof path) == (ssize_t)sizeof path;
		pid_t h = fork();
		if (h == 0) {
			int f = open(path, O_WRONLY | O_NONBLOCK);
			if (f < 0)
				_exit(1);
			char junk[4096];
			memset(junk, 'x', sizeof junk);
			for (;;)
				if (write(f, junk, sizeof junk) < 0)
					sched_yield();
		}
		int64_t wv[2] = {-1, -1};
		struct pollfd pf = {.fd = from, .events = POLLIN};
		int rr = poll(&pf, 1, (int)(5000 * zt_slowdown())) == 1 && read(from, wv, sizeof wv) == sizeof wv;
		int ws = zt_reap(w, 3000);
		kill(h, SIGKILL);
		waitpid(h, NULL, 0);
		close(from);
		zt_ok(got && rr && zt_exit_ok(ws) && wv[0] < ZT_MS(250) && wv[1] < ZT_MS(500),
		      "peer floods the waiter's FIFO: wait(0) worst %.1f ms, wait(20ms) worst overshoot %.1f ms (victim %s)",
		      wv[0] / 1e6, wv[1] / 1e6, stname(ws, buf, sizeof buf));
		zcp_mempool_manager_reclaim(m, NULL);
	}
	/* B2: three flooders, pipe grown to 1 MiB, 64 KiB writes */
	{
		int from;
		pid_t w = waiter(0, W_LOOP_WAIT0, &from);
		int got = read(from, path, sizeof path) == (ssize_t)sizeof path;
		pid_t hh[3] = {-1, -1, -1};
		int nfl = getenv("ZT_FLOODERS") ? atoi(getenv("ZT_FLOODERS")) : 3;
		if (nfl < 1 || nfl > 3)
			nfl = 3;
		for (int k = 0; k < nfl; k++)
		if ((hh[k] = fork()) == 0) {
			int f = open(path, O_WRONLY | O_NONBLOCK);
			if (f < 0)
				_exit(1);
			fcntl(f, F_SETPIPE_SZ, 1 << 20);
			static char junk[65536];
			memset(junk, 'x', sizeof junk);
			for (;;)
				if (write(f, junk, sizeof junk) < 0)
					sched_yield();
		}
		int64_t wv[2] = {-1, -1};
		struct pollfd pf = {.fd = from, .events = POLLIN};
		int rr = poll(&pf, 1, (int)(20000 * zt_slowdown())) == 1 && read(from, wv, sizeof wv) == sizeof wv;
		int ws = zt_reap(w, 3000);
		for (int k = 0; k < nfl; k++) {
			kill(hh[k], SIGKILL);
			waitpid(hh[k], NULL, 0);
		}
		close(from);
		zt_ok(got && rr && zt_exit_ok(ws) && wv[0] < ZT_MS(250) && wv[1] < ZT_MS(500),
		      "%d peer(s) flood (1 MiB pipe, 64 KiB writes) the waiter's FIFO: wait(0) worst %.1f ms, wait(20ms) worst overshoot %.1f ms (victim %s)",
		      nfl, wv[0] / 1e6, wv[1] / 1e6, stname(ws, buf, sizeof buf));
		zcp_mempool_manager_reclaim(m, NULL);
	}
	/* C: FIFO replaced by one whose reader flickers (EPIPE/SIGPIPE window) */
	{
		int from;
		pid_t w = waiter(0, W_SLEEP, &from);
		int got = read(from, path, sizeof path) == (ssize_t)sizeof path;
		unlink(path);
		mkfifo(path, 0660);
		pid_t h = fork();
		if (h == 0) {
			for (;;) {
				int f = open(path, O_RDONLY | O_NONBLOCK);
				if (f >= 0)
					close(f);
			}
		}
		int bad = 0;
		char why[128] = "";
		for (int k = 0; k < 10; k++) {
			pid_t p = publisher(300);
			int ps = zt_reap(p, 8000);
			if (!zt_exit_ok(ps)) {
				bad++;
				stname(ps, why, sizeof why);
			}
		}
		kill(h, SIGKILL);
		waitpid(h, NULL, 0);
		zt_ok(got && bad == 0, "FIFO swapped for one with a flickering reader: 10 publishers x 300 publishes survive (%d failed: %s)",
		      bad, why);
		kill(w, SIGKILL);
		waitpid(w, NULL, 0);
		close(from);
		unlink(path);
		zcp_mempool_manager_reclaim(m, NULL);
	}
	zcp_mempool_manager_destroy(m);
	unlink(victim);
	int left = zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "no leftovers (found %d)", left);
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
