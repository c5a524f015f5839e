/* SPDX-License-Identifier: MIT */
/* attack-wait-fifoleak: who removes the FIFO of a dead zcp_waitset_fd()
 * holder?  The docs: "a reclaim removes a dead process's" (when the
 * reclaiming user may unlink it), destroy "unlinks both segments",
 * `zerocp clean --name N` removes a manager's leftovers.
 *  1. root waiter killed; an unprivileged group member reclaims it (can't
 *     unlink in sticky /dev/shm); then root reclaims and destroys.
 *  2. waiter killed; the creator destroys without any reclaim.
 *  3. waiter and creator killed; `zerocp clean --name N --force`.
 * In each case: is a zerocp_<name>.fd.* FIFO left in /dev/shm forever? */
#include "attack-wait.h"
#include <grp.h>

#define NOBODY 65534

static pid_t fd_holder(void)
{
	int b[2];
	if (pipe(b))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(b[0]);
		zcp_mempool_manager *m;
		zcp_waitset *ws;
		int fd;
		if (zcp_mempool_manager_attach(zt_name, &m) || zcp_waitset_create(m, &ws) ||
		    zcp_waitset_fd(ws, &fd))
			_exit(1);
		if (write(b[1], "r", 1) != 1)
			_exit(2);
		for (;;)
			pause();
	}
	close(b[1]);
	char c;
	int ok = read(b[0], &c, 1) == 1;
	close(b[0]);
	if (!ok) {
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/* `zerocp clean --name <zt_name> --force` with this build's tool (points 1
 * and 3 skip without it) */
static int run_clean(void)
{
	return zt_tool_clean(zt_name);
}

int main(void)
{
	zt_init("leak", 40);
	if (geteuid() != 0) {
		zt_skip_all("needs root");
		return 0;
	}
	zt_plan(4);
	char base[64];
	snprintf(base, sizeof base, "%s", zt_name);
	/* 1 */
	if (zt_tool() == NULL) {
		zt_skip("no $top_builddir/tools/zerocp", "dead root waiter reclaimed by uid 65534: FIFO removed by the end");
	} else {
		snprintf(zt_name, sizeof zt_name, "%.40s_1", base);
		zcp_mempool_manager *m = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0660, NOBODY);
		pid_t w = fd_holder();
		kill(w, SIGKILL);
		waitpid(w, NULL, 0);
		pid_t r = fork();
		if (r == 0) {
			zcp_attach_options o;
			zcp_attach_options_init(&o);
			o.owner_uid = 0;
			zcp_mempool_manager *mm;
			if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY) ||
			    zcp_mempool_manager_attach_opts(zt_name, &o, &mm))
				_exit(1);
			zcp_reclaim_report rep;
			int e = zcp_mempool_manager_reclaim(mm, &rep);
			zcp_mempool_manager_detach(mm);
			_exit(e == 0 && rep.processes == 1 ? 0 : 2);
		}
		int st = zt_reap(r, 5000);
		int a = zt_leftovers(zt_name, 1);
		zcp_mempool_manager_reclaim(m, NULL);
		int b = zt_leftovers(zt_name, 1);
		zcp_mempool_manager_destroy(m);
		int c = zt_leftovers(zt_name, 1);
		run_clean();
		int d = zt_leftovers(zt_name, 1);
		zt_ok(w > 0 && zt_exit_ok(st) && d == 0,
		      "dead root waiter reclaimed by uid 65534: FIFO left after that reclaim %d, after root's reclaim %d, "
		      "after destroy %d, after `zerocp clean --force` %d (want 0 at the end)",
		      a, b, c, d);
		zt_rm_leftovers(zt_name);
	}
	/* 2 */
	{
		snprintf(zt_name, sizeof zt_name, "%.40s_2", base);
		zcp_mempool_manager *m = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0, -1);
		pid_t w = fd_holder();
		kill(w, SIGKILL);
		waitpid(w, NULL, 0);
		zcp_mempool_manager_destroy(m);
		int c = zt_leftovers(zt_name, 1);
		zt_ok(w > 0 && c == 0, "waiter killed, creator destroys without a reclaim: %d FIFO(s) left", c);
		zt_rm_leftovers(zt_name);
	}
	/* 3 */
	if (zt_tool() == NULL) {
		zt_skip("no $top_builddir/tools/zerocp", "server and waiter killed, `zerocp clean --name N --force` removes all");
	} else {
		snprintf(zt_name, sizeof zt_name, "%.40s_3", base);
		int b[2];
		if (pipe(b))
			return 1;
		pid_t srv = fork();
		if (srv == 0) {
			close(b[0]);
			zcp_mempool_manager *m = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0, -1);
			if (!m || write(b[1], "r", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		close(b[1]);
		char c;
		int ok = read(b[0], &c, 1) == 1;
		close(b[0]);
		pid_t w = ok ? fd_holder() : -1;
		kill(w, SIGKILL);
		waitpid(w, NULL, 0);
		kill(srv, SIGKILL);
		waitpid(srv, NULL, 0);
		int before = zt_leftovers(zt_name, 0);
		int rc = run_clean();
		int segs = zt_leftovers(zt_name, 0) - zt_leftovers(zt_name, 1);
		int f = zt_leftovers(zt_name, 1);
		zt_ok(w > 0 && segs == 0 && f == 0,
		      "server and waiter killed, `zerocp clean --name N --force` (rc %d): %d entries before, %d segments and %d FIFO(s) after",
		      rc, before, segs, f);
		zt_rm_leftovers(zt_name);
	}
	snprintf(zt_name, sizeof zt_name, "%s", base);
	int left = 0;
	for (int i = 1; i <= 3; i++) {
		char n[80];
		snprintf(n, sizeof n, "%.40s_%d", base, i);
		left += zt_leftovers(n, 0);
	}
	zt_ok(left == 0, "test cleaned up after itself (%d)", left);
	return zt_failed != 0;
}
