/* SPDX-License-Identifier: MIT */
/* attack-wait-stale: state a dead waiter leaves behind.
 *  - a waiter killed while its fd is armed: the next publish/fire must not
 *    raise SIGPIPE in (kill) the publisher, nor block it;
 *  - a dead waiter's process slot taken over by a new attach (table full):
 *    the newcomer's waitset fd must wake, and the dead one's FIFO must go;
 *  - trigger entries of a dead process are reused without an explicit
 *    reclaim (zcp_trigger_open documents this);
 *  - PUBLISHER_APPEARED/GONE counts after publishers close, die, reclaim. */
#include "attack-wait.h"
#include <poll.h>

static pid_t armed_waiter(int *from, const char *topic)
{
	int b[2];
	if (pipe(b))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(b[0]);
		zcp_mempool_manager *m;
		zcp_subscriber *s;
		zcp_trigger *t;
		zcp_waitset *ws;
		int fd;
		if (zcp_mempool_manager_attach(zt_name, &m) || zcp_subscriber_create(m, topic, NULL, &s) ||
		    zcp_trigger_open(m, "tt", &t) || zcp_waitset_create(m, &ws) ||
		    zcp_waitset_attach_subscriber(ws, s, NULL) || zcp_waitset_attach_trigger(ws, t, NULL) ||
		    zcp_waitset_fd(ws, &fd))
			_exit(1);
		zcp_waitset_event ev[4];
		for (int round = 0;; round++) {
			while (zcp_waitset_wait(ws, ev, 4, 0) > 0) /* until ETIMEDOUT: armed */
				zt_drain(m, s);
			if (write(b[1], "a", 1) != 1)
				_exit(2);
			struct pollfd p = {.fd = fd, .events = POLLIN};
			poll(&p, 1, -1);
		}
	}
	close(b[1]);
	*from = b[0];
	return pid;
}

int main(void)
{
	zt_init("stale", 55);
	zt_plan(9);
	zcp_mempool_manager *m = zt_create(zt_name, 4, 3, 0, 0, 0, 0, 0, -1);
	if (!m)
		return 1;
	zcp_publisher *pub;
	zcp_trigger *t;
	zcp_publisher_create(m, "a", NULL, &pub);
	zcp_trigger_open(m, "tt", &t);
	/* 1: SIGPIPE after an armed waiter dies (default SIGPIPE disposition) */
	{
		signal(SIGPIPE, SIG_DFL);
		pid_t tester = fork();
		if (tester == 0) {
			/* the publisher side in its own process, so a SIGPIPE death is seen */
			zcp_mempool_manager *pm;
			zcp_publisher *pp;
			zcp_trigger *pt;
			if (zcp_mempool_manager_attach(zt_name, &pm) || zcp_publisher_create(pm, "a", NULL, &pp) ||
			    zcp_trigger_open(pm, "tt", &pt))
				_exit(1);
			for (int r = 0; r < 20; r++) {
				int from;
				char c;
				pid_t w = armed_waiter(&from, "a");
				if (read(from, &c, 1) != 1)
					_exit(3);
				/* ring it a few times so its FIFO gets written (and any write end cached) */
				for (int i = 0; i < 3; i++) {
					zt_publish_int(pp, i);
					zcp_trigger_fire(pt);
					if (read(from, &c, 1) != 1)
						_exit(4);
				}
				kill(w, SIGKILL);
				waitpid(w, NULL, 0);
				close(from);
				int64_t t0 = zt_now();
				for (int i = 0; i < 5; i++) {
					zt_publish_int(pp, i);
					zcp_trigger_fire(pt);
				}
				if (zt_now() - t0 > ZT_MS(500))
					_exit(5);
				zcp_mempool_manager_reclaim(pm, NULL);
			}
			zcp_trigger_close(pt);
			zcp_publisher_close(pp);
			zcp_mempool_manager_detach(pm);
			_exit(0);
		}
		int st = zt_reap(tester, 20000);
		zt_ok(zt_exit_ok(st),
		      "publisher/firer survives and is not blocked after armed fd waiters are killed, 20 rounds (status 0x%x%s%s)",
		      st, st >= 0 && WIFSIGNALED(st) ? ", killed by signal " : "",
		      st >= 0 && WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "");
		zcp_mempool_manager_reclaim(m, NULL);
		int f = zt_leftovers(zt_name, 1);
		zt_ok(f == 0, "their FIFOs are gone after reclaim (%d left)", f);
	}
	/* 2: slot takeover: table of 3 = us + 2; fill with 2 armed waiters, kill one, attach anew without reclaim */
	{
		int f1, f2;
		char c;
		pid_t w1 = armed_waiter(&f1, "a");
		pid_t w2 = armed_waiter(&f2, "a");
		int ok1 = read(f1, &c, 1) == 1 && read(f2, &c, 1) == 1;
		kill(w1, SIGKILL);
		waitpid(w1, NULL, 0);
		close(f1);
		int fifos_dead = zt_leftovers(zt_name, 1);
		/* newcomer takes the dead slot (no reclaim by us) */
		int f3;
		pid_t w3 = armed_waiter(&f3, "a");
		int ok3 = read(f3, &c, 1) == 1;
		zt_ok(ok1 && ok3, "a new waiter attaches into a full table by taking the dead slot (%d %d)", ok1, ok3);
		int lost = 0;
		for (int i = 0; i < 50 && ok3; i++) {
			zt_publish_int(pub, i);
			struct pollfd p = {.fd = f3, .events = POLLIN};
			if (poll(&p, 1, (int)(2000 * zt_slowdown())) != 1 || read(f3, &c, 1) != 1)
				lost++;
			p.fd = f2;
			if (poll(&p, 1, (int)(2000 * zt_slowdown())) != 1 || read(f2, &c, 1) != 1)
				lost++;
		}
		zt_ok(lost == 0, "both waiters (one in the taken-over slot) wake on each of 50 publishes (%d lost)", lost);
		int fifos_now = zt_leftovers(zt_name, 1);
		zt_ok(fifos_dead == 2 && fifos_now == 2,
		      "the dead waiter's FIFO is removed when its slot is taken over (FIFOs: %d with the corpse, %d now, want 2)",
		      fifos_dead, fifos_now);
		kill(w2, SIGKILL);
		kill(w3, SIGKILL);
		waitpid(w2, NULL, 0);
		waitpid(w3, NULL, 0);
		close(f2);
		close(f3);
		zcp_mempool_manager_reclaim(m, NULL);
		int f = zt_leftovers(zt_name, 1);
		zt_ok(f == 0, "after all die and a reclaim, no FIFO is left (%d)", f);
	}
	/* 3: trigger table of 4, we hold 1 ("tt"); a child opens 3 and dies; we open 3 others without reclaim */
	{
		pid_t c = fork();
		if (c == 0) {
			zcp_mempool_manager *cm;
			zcp_trigger *x[3];
			if (zcp_mempool_manager_attach(zt_name, &cm))
				_exit(1);
			for (int i = 0; i < 3; i++) {
				char n[8];
				snprintf(n, sizeof n, "c%d", i);
				if (zcp_trigger_open(cm, n, &x[i]))
					_exit(2);
			}
			_exit(0); /* dies holding them */
		}
		int st = zt_reap(c, 5000);
		int opened = 0, err = 0;
		zcp_trigger *y[3] = {0};
		for (int i = 0; i < 3; i++) {
			char n[8];
			snprintf(n, sizeof n, "p%d", i);
			int r = zcp_trigger_open(m, n, &y[i]);
			if (r == 0)
				opened++;
			else
				err = r;
		}
		zt_ok(zt_exit_ok(st) && opened == 3,
		      "dead process's 3 trigger entries reused by trigger_open without an explicit reclaim (%d of 3, last error %s)",
		      opened, zcp_err_name(err));
		for (int i = 0; i < 3; i++)
			zcp_trigger_close(y[i]);
		zcp_mempool_manager_reclaim(m, NULL);
	}
	/* 4: publisher counts */
	{
		zcp_subscriber *s;
		zcp_waitset *ws;
		zcp_subscriber_create(m, "cnt", NULL, &s);
		zcp_waitset_create(m, &ws);
		zcp_waitset_attach_subscriber(ws, s, NULL);
		pid_t kids[2];
		int b[2];
		if (pipe(b))
			return 1;
		for (int k = 0; k < 2; k++) {
			kids[k] = fork();
			if (kids[k] == 0) {
				zcp_mempool_manager *cm;
				zcp_publisher *cp;
				if (zcp_mempool_manager_attach(zt_name, &cm) || zcp_publisher_create(cm, "cnt", NULL, &cp))
					_exit(1);
				if (write(b[1], "r", 1) != 1)
					_exit(2);
				pause();
				_exit(0);
			}
		}
		char ch;
		int rd = read(b[0], &ch, 1) + read(b[0], &ch, 1);
		zcp_publisher *mine;
		zcp_publisher_create(m, "cnt", NULL, &mine);
		zcp_waitset_event ev[8];
		int last = -1, r;
		while ((r = zcp_waitset_wait(ws, ev, 8, 100000000)) > 0)
			for (int i = 0; i < r; i++)
				if (ev[i].kind == ZCP_EVENT_PUBLISHER_APPEARED || ev[i].kind == ZCP_EVENT_PUBLISHER_GONE)
					last = ev[i].publishers;
		int up = last;
		kill(kids[0], SIGKILL);
		kill(kids[1], SIGKILL);
		waitpid(kids[0], NULL, 0);
		waitpid(kids[1], NULL, 0);
		zcp_mempool_manager_reclaim(m, NULL);
		zcp_publisher_close(mine);
		int gone_kind = 0;
		last = -1;
		while ((r = zcp_waitset_wait(ws, ev, 8, 100000000)) > 0)
			for (int i = 0; i < r; i++)
				if (ev[i].kind == ZCP_EVENT_PUBLISHER_APPEARED || ev[i].kind == ZCP_EVENT_PUBLISHER_GONE) {
					last = ev[i].publishers;
					gone_kind = ev[i].kind == ZCP_EVENT_PUBLISHER_GONE;
				}
		zt_ok(rd == 2 && up == 3 && last == 0 && gone_kind,
		      "APPEARED reports 3 live publishers; after 2 killed+reclaimed and 1 closed, GONE reports 0 (up %d, last %d, gone %d)",
		      up, last, gone_kind);
		close(b[0]);
		close(b[1]);
		zcp_waitset_destroy(ws);
		zcp_subscriber_close(s);
	}
	zcp_trigger_close(t);
	zcp_publisher_close(pub);
	zcp_mempool_manager_reclaim(m, NULL);
	zcp_mempool_manager_destroy(m);
	int left = zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "no leftovers (found %d)", left);
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
