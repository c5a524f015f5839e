/* SPDX-License-Identifier: MIT */
/* attack-wait-lostwakeup: ping-pong between two processes where every
 * round sleeps right after waking the peer, so a publish/fire always races
 * the peer going to sleep.  Any wait reaching its (long) timeout while the
 * news is there is a lost wake-up.  Variants: zcp_subscriber_wait,
 * waitset on subscribers, waitset on triggers, waitset fd + poll. */
#include "attack-wait.h"
#include <poll.h>
#include <sys/epoll.h>

/* "make stress": ZCP_TEST_ITERS.  On the POSIX platform layer a wake-up
 * takes up to a millisecond (sleepers look every millisecond): fewer
 * rounds, so seven ways to wait fit the test's time. */
#define ROUNDS ((int)zt_iters(zt_posix_platform() ? 2000 : 20000))
#define TMO ZT_MS(5000) /* 5 s (x ZT_SLOWDOWN): a wake-up lost if reached */

enum { V_SUBWAIT, V_WS_SUB, V_WS_TRIG, V_FD, V_EPOLLET, V_MIX, V_COUNT };
static const char *vname[] = {"zcp_subscriber_wait", "waitset+subscriber", "waitset+trigger",
			      "waitset fd+poll", "waitset fd+EPOLLET (wait until ETIMEDOUT)", "fd+poll mixed with timed waits"};

static void jitter(unsigned *seed)
{
	unsigned r = rand_r(seed) % 64;
	for (volatile unsigned i = 0; i < r * 10; i++)
		;
}

/* wait on whichever object for the given variant; returns 0, or error */
struct side {
	zcp_mempool_manager *m;
	zcp_subscriber *sub;
	zcp_publisher *pub;
	zcp_trigger *mine, *theirs;
	zcp_waitset *ws;
	int fd, ep, k;
};

static int side_wait(struct side *s, int v)
{
	zcp_waitset_event ev[4];
	int64_t end = zt_now() + TMO;
	for (;;) {
		int64_t left = end - zt_now();
		if (left <= 0)
			return ZCP_ETIMEDOUT;
		int r;
		switch (v) {
		case V_SUBWAIT:
			r = zcp_subscriber_wait(s->sub, left);
			if (r == 0) {
				if (zt_drain(s->m, s->sub) > 0)
					return 0;
				continue; /* spurious: keep waiting */
			}
			return r;
		case V_WS_SUB:
		case V_WS_TRIG:
			r = zcp_waitset_wait(s->ws, ev, 4, left);
			if (r < 0)
				return r;
			for (int i = 0; i < r; i++) {
				if (v == V_WS_SUB && ev[i].kind == ZCP_EVENT_DATA &&
				    zt_drain(s->m, s->sub) > 0)
					return 0;
				if (v == V_WS_TRIG && ev[i].kind == ZCP_EVENT_TRIGGER)
					return 0;
			}
			continue;
		case V_EPOLLET: {
			struct epoll_event oe;
			int pr = epoll_wait(s->ep, &oe, 1, (int)(left / 1000000) + 1);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0)
				return ZCP_ETIMEDOUT;
			int got = 0;
			/* edge-triggered: call wait until ETIMEDOUT */
			while ((r = zcp_waitset_wait(s->ws, ev, 4, 0)) > 0)
				for (int i = 0; i < r; i++)
					if (ev[i].kind == ZCP_EVENT_DATA && zt_drain(s->m, s->sub) > 0)
						got = 1;
			if (r != ZCP_ETIMEDOUT)
				return r;
			if (got)
				return 0;
			continue;
		}
		case V_MIX:
			if (s->k++ % 2 == 0) {
				r = zcp_waitset_wait(s->ws, ev, 4, left);
				if (r < 0)
					return r;
				for (int i = 0; i < r; i++)
					if (ev[i].kind == ZCP_EVENT_DATA && zt_drain(s->m, s->sub) > 0)
						return 0;
				continue;
			}
			__attribute__((fallthrough)); /* the poll path */
		case V_FD: {
			struct pollfd p = {.fd = s->fd, .events = POLLIN};
			int pr = poll(&p, 1, (int)(left / 1000000) + 1);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0)
				return ZCP_ETIMEDOUT;
			r = zcp_waitset_wait(s->ws, ev, 4, 0);
			if (r == ZCP_ETIMEDOUT)
				continue;
			if (r < 0)
				return r;
			for (int i = 0; i < r; i++)
				if (ev[i].kind == ZCP_EVENT_DATA && zt_drain(s->m, s->sub) > 0)
					return 0;
			continue;
		}
		}
	}
}

static int side_poke(struct side *s, int v, int i)
{
	if (v == V_WS_TRIG)
		return zcp_trigger_fire(s->theirs);
	return zt_publish_int(s->pub, i);
}

static int side_setup(struct side *s, int v, const char *mine_t, const char *theirs_t)
{
	memset(s, 0, sizeof *s);
	if (zcp_mempool_manager_attach(zt_name, &s->m))
		return 1;
	if (v == V_WS_TRIG) {
		if (zcp_trigger_open(s->m, mine_t, &s->mine) ||
		    zcp_trigger_open(s->m, theirs_t, &s->theirs))
			return 2;
	} else {
		if (zcp_subscriber_create(s->m, mine_t, NULL, &s->sub) ||
		    zcp_publisher_create(s->m, theirs_t, NULL, &s->pub))
			return 3;
	}
	if (v != V_SUBWAIT) {
		if (zcp_waitset_create(s->m, &s->ws))
			return 4;
		if (v == V_WS_TRIG ? zcp_waitset_attach_trigger(s->ws, s->mine, NULL)
				   : zcp_waitset_attach_subscriber(s->ws, s->sub, NULL))
			return 5;
		if ((v == V_FD || v == V_EPOLLET || v == V_MIX) && zcp_waitset_fd(s->ws, &s->fd))
			return 6;
		if (v == V_EPOLLET) {
			s->ep = epoll_create1(EPOLL_CLOEXEC);
			struct epoll_event ee = {.events = EPOLLIN | EPOLLET};
			if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->fd, &ee))
				return 7;
		}
	}
	return 0;
}
static void side_teardown(struct side *s)
{
	if (s->ep > 0)
		close(s->ep);
	zcp_waitset_destroy(s->ws);
	zcp_trigger_close(s->mine);
	zcp_trigger_close(s->theirs);
	zcp_subscriber_close(s->sub);
	zcp_publisher_close(s->pub);
	zcp_mempool_manager_detach(s->m);
}

/* child: B.  waits ping, answers pong */
static int run_child(int v, int rfd, int wfd)
{
	struct side s;
	unsigned seed = getpid();
	int e = side_setup(&s, v, "ping", "pong");
	char c = e ? 'E' : 'R';
	if (write(wfd, &c, 1) != 1 || e)
		return 10 + e;
	if (read(rfd, &c, 1) != 1) /* parent ready */
		return 20;
	for (int i = 0; i < ROUNDS; i++) {
		int r = side_wait(&s, v);
		if (r) {
			fprintf(stderr, "child: round %d wait: %s\n", i, zcp_strerror(r));
			return 30;
		}
		jitter(&seed);
		if (side_poke(&s, v, i))
			return 40;
	}
	side_teardown(&s);
	return 0;
}

int main(void)
{
	zt_init("lw", 55);
	zt_plan(V_COUNT + 1);
	zcp_mempool_manager *m =
	    zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0, -1);
	if (!m) {
		for (int v = 0; v < V_COUNT; v++)
			zt_ok(0, "%s: create manager", vname[v]);
		return 1;
	}
	for (int v = 0; v < V_COUNT; v++) {
		int p2c[2], c2p[2];
		if (pipe(p2c) || pipe(c2p))
			return 1;
		pid_t pid = fork();
		if (pid == 0) {
			close(p2c[1]);
			close(c2p[0]);
			_exit(run_child(v, p2c[0], c2p[1]));
		}
		close(p2c[0]);
		close(c2p[1]);
		char c = 0;
		struct side s;
		unsigned seed = 12345 + v;
		int lost_at = -1, lost_err = 0, e = 0;
		if (read(c2p[0], &c, 1) != 1 || c != 'R')
			e = 100;
		else
			e = side_setup(&s, v, "pong", "ping");
		int64_t t0 = zt_now();
		if (!e && write(p2c[1], "g", 1) == 1) {
			for (int i = 0; i < ROUNDS; i++) {
				jitter(&seed);
				if (side_poke(&s, v, i)) {
					e = 200;
					break;
				}
				int r = side_wait(&s, v);
				if (r) {
					lost_at = i;
					lost_err = r;
					break;
				}
			}
		}
		int64_t t1 = zt_now();
		int st = zt_reap(pid, 5000);
		if (!e)
			side_teardown(&s);
		close(p2c[1]);
		close(c2p[0]);
		zt_ok(!e && lost_at < 0 && zt_exit_ok(st),
		      "%s: %d ping-pong rounds, no wake-up lost (setup %d, parent lost at %d: %s, "
		      "child status %d, %.1f us/round)",
		      vname[v], ROUNDS, e, lost_at, lost_at >= 0 ? zcp_strerror(lost_err) : "-",
		      st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : st,
		      (t1 - t0) / 1000.0 / ROUNDS);
	}
	zcp_mempool_manager_reclaim(m, NULL);
	zcp_mempool_manager_destroy(m);
	int left = zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "nothing left in /dev/shm (found %d)", left);
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
