/* SPDX-License-Identifier: MIT */
/* attack-wait-xns: the waitset fd and wake-ups across users and PID
 * namespaces.  Manager 0660 + group 65534; children drop to uid/gid 65534
 * (attach with owner_uid 0) or live in a new PID namespace (pid 1 there).
 * They publish/fire to the root waiter's fd, or own a waitset fd root
 * rings; killed, their FIFOs must go at reclaim (root reclaims); a FIFO
 * must carry the segments' mode and group. */
#include "attack-wait.h"
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>

#define NOBODY 65534

static int drop(void)
{
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		return -1;
	return 0;
}

static int attach_as(zcp_mempool_manager **m)
{
	zcp_attach_options o;
	zcp_attach_options_init(&o);
	o.owner_uid = 0;
	return zcp_mempool_manager_attach_opts(zt_name, &o, m);
}

/* ringer: publish one sample to "x" and fire "q" each time asked */
static int ringer(int rfd, int wfd, int mode /*0 same,1 uid,2 pidns*/)
{
	if (mode == 1 && drop())
		return 50;
	zcp_mempool_manager *m;
	zcp_publisher *p;
	zcp_trigger *q;
	int r;
	if ((r = attach_as(&m))) {
		fprintf(stderr, "ringer attach: %s\n", zcp_strerror(r));
		return 51;
	}
	if (zcp_publisher_create(m, "x", NULL, &p) || zcp_trigger_open(m, "q", &q))
		return 52;
	char c;
	if (write(wfd, "r", 1) != 1)
		return 53;
	int i = 0;
	while (read(rfd, &c, 1) == 1) {
		if (c == 'p')
			r = zt_publish_int(p, i++);
		else
			r = zcp_trigger_fire(q);
		if (r)
			return 54;
		if (write(wfd, "d", 1) != 1)
			return 55;
	}
	zcp_trigger_close(q);
	zcp_publisher_close(p);
	zcp_mempool_manager_detach(m);
	return 0;
}

/* waiter child: owns a waitset fd on "y", reports each DATA */
static int waiter(int wfd, int mode)
{
	if (mode == 1 && drop())
		return 60;
	zcp_mempool_manager *m;
	zcp_subscriber *s;
	zcp_waitset *ws;
	int fd, r;
	if ((r = attach_as(&m)))
		return 61;
	if (zcp_subscriber_create(m, "y", NULL, &s) || zcp_waitset_create(m, &ws) ||
	    zcp_waitset_attach_subscriber(ws, s, NULL))
		return 62;
	if ((r = zcp_waitset_fd(ws, &fd))) {
		fprintf(stderr, "waiter fd: %s\n", zcp_strerror(r));
		return 63;
	}
	if (write(wfd, "r", 1) != 1)
		return 64;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)(3000 * zt_slowdown())) != 1)
			return 65; /* lost */
		zcp_waitset_event ev[4];
		r = zcp_waitset_wait(ws, ev, 4, 0);
		for (int i = 0; i < r; i++)
			if (ev[i].kind == ZCP_EVENT_DATA) {
				int n = zt_drain(m, s);
				while (n-- > 0)
					if (write(wfd, "d", 1) != 1)
						return 66;
			}
	}
}

/* run fn in a child of the given mode; mode 2: via unshare(CLONE_NEWPID)+fork */
static pid_t spawn(int mode, int kind, int *to, int *from)
{
	int a[2], b[2];
	if (pipe(a) || pipe(b))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(a[1]);
		close(b[0]);
		if (mode == 2) {
			if (unshare(CLONE_NEWPID))
				_exit(70);
			pid_t g = fork();
			if (g < 0)
				_exit(71);
			if (g > 0) { /* relay exit status */
				int st;
				waitpid(g, &st, 0);
				_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 72);
			}
			if (getpid() != 1)
				_exit(73);
			/* die with the relay: killing the relay kills the namespace's pid 1 */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 0 && 0)
				_exit(74);
		}
		_exit(kind == 0 ? ringer(a[0], b[1], mode) : waiter(b[1], mode));
	}
	close(a[0]);
	close(b[1]);
	*to = a[1];
	*from = b[0];
	char c;
	if (read(*from, &c, 1) != 1)
		return -pid;
	return pid;
}

static const char *mname[] = {"same uid", "uid 65534", "new PID namespace (pid 1)"};

int main(void)
{
	zt_init("xns", 55);
	if (geteuid() != 0) {
		zt_skip_all("needs root");
		return 0;
	}
	zt_plan(13); /* the original said 15 but has 13 checks */
	zcp_mempool_manager *m = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0660, NOBODY);
	if (!m)
		return 1;
	zcp_subscriber *sub;
	zcp_trigger *q;
	zcp_waitset *ws;
	zcp_publisher *py;
	int fd;
	if (zcp_subscriber_create(m, "x", NULL, &sub) || zcp_trigger_open(m, "q", &q) ||
	    zcp_waitset_create(m, &ws) || zcp_waitset_attach_subscriber(ws, sub, NULL) ||
	    zcp_waitset_attach_trigger(ws, q, NULL) || zcp_waitset_fd(ws, &fd) ||
	    zcp_publisher_create(m, "y", NULL, &py))
		return 1;
	/* FIFO mode and group */
	{
		char pfx[128];
		snprintf(pfx, sizeof pfx, "/dev/shm/zerocp_%s.fd.", zt_name);
		int found = 0, good = 0;
		struct stat sb;
		char fdp[64], target[512];
		snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(fdp, target, sizeof target - 1);
		if (n > 0) {
			target[n] = 0;
			found = strncmp(target, pfx, strlen(pfx)) == 0;
			if (found && stat(target, &sb) == 0)
				good = S_ISFIFO(sb.st_mode) && (sb.st_mode & 0777) == 0660 && sb.st_gid == NOBODY;
			zt_ok(found && good, "fd is a FIFO %s, mode %o gid %d (want 0660, %d)", target,
			      found ? (unsigned)(sb.st_mode & 0777) : 0, found ? (int)sb.st_gid : -1, NOBODY);
		} else
			zt_ok(0, "readlink of the fd");
	}
	for (int mode = 0; mode < 3; mode++) {
		/* A: a ringer of this mode wakes root's fd, publishes and fires */
		int to, from;
		pid_t pid = spawn(mode, 0, &to, &from);
		int lost = 0, rounds = 0;
		if (pid > 0) {
			for (rounds = 0; rounds < 300; rounds++) {
				char what = rounds % 2 ? 'p' : 'f', c;
				if (write(to, &what, 1) != 1 || read(from, &c, 1) != 1) {
					lost += 1000;
					break;
				}
				int found = 0;
				int64_t end = zt_now() + ZT_MS(2000);
				while (!found && zt_now() < end) {
					struct pollfd p = {.fd = fd, .events = POLLIN};
					if (poll(&p, 1, (int)(2000 * zt_slowdown())) != 1)
						break;
					zcp_waitset_event ev[4];
					int r = zcp_waitset_wait(ws, ev, 4, 0);
					for (int i = 0; i < r; i++) {
						if (what == 'f' && ev[i].kind == ZCP_EVENT_TRIGGER)
							found = 1;
						if (what == 'p' && ev[i].kind == ZCP_EVENT_DATA && zt_drain(m, sub) > 0)
							found = 1;
					}
				}
				lost += !found;
			}
		}
		close(to);
		int st = zt_reap(pid > 0 ? pid : -pid, 3000);
		close(from);
		zt_ok(pid > 0 && lost == 0 && zt_exit_ok(st),
		      "%s publisher/firer rings root's waitset fd: 300 rounds, none lost (lost %d, child status 0x%x)",
		      mname[mode], lost, st);
		zcp_mempool_manager_reclaim(m, NULL);
		zcp_waitset_event ev[8];
		while (zcp_waitset_wait(ws, ev, 8, 0) > 0)
			zt_drain(m, sub);

		/* B: a waiter of this mode owns an fd; root publishes; then it is killed */
		pid = spawn(mode, 1, &to, &from);
		int got = 0;
		if (pid > 0) {
			for (int i = 0; i < 200; i++) {
				char c;
				zt_publish_int(py, i);
				struct pollfd p = {.fd = from, .events = POLLIN};
				if (poll(&p, 1, (int)(3000 * zt_slowdown())) != 1 || read(from, &c, 1) != 1)
					break;
				got++;
			}
		}
		int fifos_before = zt_leftovers(zt_name, 1);
		kill(pid > 0 ? pid : -pid, SIGKILL);
		st = zt_reap(pid > 0 ? pid : -pid, 3000);
		close(to);
		close(from);
		zt_ok(pid > 0 && got == 200, "root publishes to a %s waiter's fd: 200 of 200 seen (%d)",
		      mname[mode], got);
		zt_sleep_ms(20); /* a PID namespace's pid 1 dies with its relay; let the kernel finish */
		zcp_mempool_manager_reclaim(m, NULL);
		int fifos_after = zt_leftovers(zt_name, 1);
		zt_ok(fifos_before == 2 && fifos_after == 1,
		      "%s waiter killed, root reclaims: its FIFO removed (FIFOs %d before, %d after; root's own 1)",
		      mname[mode], fifos_before, fifos_after);
	}
	/* C: a root child with an fd is killed; a uid-65534 process reclaims (may not unlink in
	 * sticky /dev/shm); then root reclaims/destroys: is the FIFO ever removed? */
	{
		int to, from;
		pid_t pid = spawn(0, 1, &to, &from);
		kill(pid, SIGKILL);
		zt_reap(pid, 3000);
		close(to);
		close(from);
		pid_t r = fork();
		if (r == 0) {
			zcp_mempool_manager *mm;
			if (drop() || attach_as(&mm))
				_exit(1);
			zcp_reclaim_report rep;
			int e = zcp_mempool_manager_reclaim(mm, &rep);
			zcp_mempool_manager_detach(mm);
			_exit(e == 0 && rep.processes >= 1 ? 0 : 2);
		}
		int st = zt_reap(r, 5000);
		int after_nobody = zt_leftovers(zt_name, 1);
		zcp_mempool_manager_reclaim(m, NULL);
		int after_root = zt_leftovers(zt_name, 1);
		zt_diag("dead root waiter reclaimed by uid 65534 (status 0x%x): FIFOs %d, after root reclaim %d",
			st, after_nobody, after_root);
		zt_ok(after_root == 1,
		      "dead waiter reclaimed by an unprivileged peer: its FIFO still removed eventually (FIFOs now %d, root's own 1)",
		      after_root);
	}
	zcp_waitset_destroy(ws);
	zcp_trigger_close(q);
	zcp_subscriber_close(sub);
	zcp_publisher_close(py);
	zcp_mempool_manager_destroy(m);
	int left = zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "after destroy: no segments or FIFOs left (found %d)", left);
	{
		int u = zcp_mempool_manager_unlink(zt_name);
		int l2 = zt_leftovers(zt_name, 0);
		int cr = zt_tool_clean(zt_name);
		int l3 = zt_leftovers(zt_name, 0);
		zt_diag("after destroy: zcp_mempool_manager_unlink -> %s, leftovers %d; `zerocp clean --name --force` rc %d, leftovers %d",
			zcp_err_name(u), l2, cr, l3);
		if (zt_tool() == NULL)
			zt_skip("no $top_builddir/tools/zerocp", "the leaked FIFO can be removed by the library's own cleanup (unlink / zerocp clean)");
		else
			zt_ok(l3 == 0, "the leaked FIFO can be removed by the library's own cleanup (unlink / zerocp clean): %d left", l3);
	}
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
