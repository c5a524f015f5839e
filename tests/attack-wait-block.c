/* SPDX-License-Identifier: MIT */
/* attack-wait-block: the ZCP_OVERFLOW_BLOCK policy.  A publisher asleep on
 * a full queue must end by block_timeout_ns (chunk still the caller's),
 * and must be woken when the slow subscriber takes, closes, or is killed
 * (dead subscriber reclaimed by the waiting publisher), even with no
 * timeout; a stopped (alive) subscriber must not make a timed publish
 * overrun. */
#include "attack-wait.h"

#define CAP 4

static zcp_topic_options opts(int64_t tmo)
{
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = CAP;
	o.overflow = ZCP_OVERFLOW_BLOCK;
	o.block_timeout_ns = tmo;
	return o;
}

/* child subscriber: subscribe, say ready, then behave per mode */
enum { M_SLEEP, M_CLOSE_AFTER, M_TAKE_AFTER };
static void sub_child(int wfd, const char *topic, int mode, int ms)
{
	zcp_mempool_manager *m;
	zcp_subscriber *s;
	zcp_topic_options o = opts(-1);
	if (zcp_mempool_manager_attach(zt_name, &m) || zcp_subscriber_create(m, topic, &o, &s))
		_exit(1);
	if (write(wfd, "r", 1) != 1)
		_exit(2);
	if (mode == M_SLEEP)
		for (;;)
			pause();
	zt_sleep_ms(ms);
	if (mode == M_CLOSE_AFTER)
		zcp_subscriber_close(s);
	else {
		zcp_chunk *c = zcp_subscriber_take(s);
		if (c)
			zcp_chunk_release(m, c);
		zt_sleep_ms(2000);
	}
	zcp_mempool_manager_detach(m);
	_exit(0);
}
static pid_t spawn_sub(const char *topic, int mode, int ms)
{
	int pf[2];
	if (pipe(pf))
		return -1;
	pid_t p = fork();
	if (p == 0) {
		close(pf[0]);
		sub_child(pf[1], topic, mode, ms);
	}
	close(pf[1]);
	char c;
	if (read(pf[0], &c, 1) != 1) {
		close(pf[0]);
		return -1;
	}
	close(pf[0]);
	return p;
}

static zcp_mempool_manager *M;

/* fill a subscriber's queue: CAP publishes that must succeed at once */
static int fill(zcp_publisher *p)
{
	for (int i = 0; i < CAP; i++)
		if (zt_publish_int(p, i))
			return -1;
	return 0;
}

/* one blocked publish; returns rc, elapsed in *el; releases the chunk on error */
static int blocked_publish(zcp_publisher *p, int64_t *el, int *release_ok)
{
	zcp_chunk *c = zcp_publisher_loan(p, 8);
	if (!c)
		return -errno;
	int64_t t0 = zt_now();
	int r = zcp_publisher_publish(p, c);
	*el = zt_now() - t0;
	if (r)
		*release_ok = zcp_chunk_release(M, c) == 0;
	else
		*release_ok = 1;
	return r;
}

int main(void)
{
	zt_init("blk", 58);
	zt_plan(8);
	M = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0, -1);
	if (!M)
		return 1;
	int64_t el;
	int rel, r;
	zcp_publisher *p;
	zcp_topic_options o;

	/* 1: timeout 200 ms, sleeping subscriber */
	{
		pid_t s = spawn_sub("t1", M_SLEEP, 0);
		o = opts(200000000);
		zcp_publisher_create(M, "t1", &o, &p);
		int f = fill(p);
		r = blocked_publish(p, &el, &rel);
		zt_ok(s > 0 && f == 0 && r == ZCP_ETIMEDOUT && rel && el >= 200000000 &&
			  el < 200000000 + ZT_MS(800),
		      "BLOCK 200ms on a full queue: ETIMEDOUT after %.1f ms (%s), chunk still ours (%d)",
		      el / 1e6, zcp_err_name(r), rel);
		/* 2: timeout 0 */
		zcp_publisher_close(p);
		o = opts(0);
		zcp_publisher_create(M, "t1", &o, &p);
		fill(p);
		r = blocked_publish(p, &el, &rel);
		zt_ok(r == ZCP_ETIMEDOUT && rel && el < ZT_MS(200),
		      "BLOCK timeout 0 on a full queue: ETIMEDOUT at once (%s, %.2f ms)", zcp_err_name(r),
		      el / 1e6);
		/* 3: SIGSTOP'd subscriber (alive): timed publish still ends */
		kill(s, SIGSTOP);
		zcp_publisher_close(p);
		o = opts(150000000);
		zcp_publisher_create(M, "t1", &o, &p);
		fill(p);
		r = blocked_publish(p, &el, &rel);
		zt_ok(r == ZCP_ETIMEDOUT && el < 150000000 + ZT_MS(800),
		      "stopped subscriber: BLOCK 150ms publish ends (%s after %.1f ms)", zcp_err_name(r),
		      el / 1e6);
		kill(s, SIGCONT);
		/* 4: kill the subscriber while a no-timeout publish is blocked */
		zcp_publisher_close(p);
		o = opts(-1);
		zcp_publisher_create(M, "t1", &o, &p);
		fill(p);
		pid_t k = fork();
		if (k == 0) {
			zt_sleep_ms(150);
			kill(s, SIGKILL);
			_exit(0);
		}
		r = blocked_publish(p, &el, &rel);
		zt_ok(r == 0 && el < ZT_MS(2000),
		      "subscriber SIGKILLed while BLOCK publish (no timeout) waits: publish ends (%s "
		      "after %.1f ms; kill at 150 ms, reclaim promised every 100 ms)",
		      zcp_err_name(r), el / 1e6);
		waitpid(k, NULL, 0);
		waitpid(s, NULL, 0);
		zcp_publisher_close(p);
	}
	/* 5: subscriber closes */
	{
		pid_t s = spawn_sub("t2", M_CLOSE_AFTER, 200);
		o = opts(-1);
		zcp_publisher_create(M, "t2", &o, &p);
		int f = fill(p);
		r = blocked_publish(p, &el, &rel);
		zt_ok(s > 0 && f == 0 && r == 0 && el < 200000000 + ZT_MS(1300),
		      "subscriber closes at 200 ms: blocked publish ends (%s after %.1f ms)",
		      zcp_err_name(r), el / 1e6);
		zt_reap(s, 4000);
		zcp_publisher_close(p);
	}
	/* 6: subscriber takes one */
	{
		pid_t s = spawn_sub("t3", M_TAKE_AFTER, 200);
		o = opts(-1);
		zcp_publisher_create(M, "t3", &o, &p);
		int f = fill(p);
		r = blocked_publish(p, &el, &rel);
		zt_ok(s > 0 && f == 0 && r == 0 && el >= 150000000 && el < 200000000 + ZT_MS(1300),
		      "subscriber takes at 200 ms: blocked publish ends (%s after %.1f ms)",
		      zcp_err_name(r), el / 1e6);
		kill(s, SIGKILL);
		waitpid(s, NULL, 0);
		zcp_publisher_close(p);
	}
	/* 7: many kills: subscriber killed at random moments of a BLOCK stream */
	{
		unsigned seed = getpid();
		int bad = 0;
		for (int round = 0; round < 10; round++) {
			char tn[16];
			snprintf(tn, sizeof tn, "k%d", round);
			pid_t s = spawn_sub(tn, M_SLEEP, 0);
			o = opts(-1);
			zcp_publisher_create(M, tn, &o, &p);
			pid_t k = fork();
			if (k == 0) {
				zt_sleep_ms(rand_r(&seed) % 50);
				kill(s, SIGKILL);
				_exit(0);
			}
			int64_t t0 = zt_now();
			for (int i = 0; i < CAP + 3; i++)
				if (zt_publish_int(p, i))
					bad++;
			if (zt_now() - t0 > ZT_MS(2000))
				bad++;
			waitpid(k, NULL, 0);
			waitpid(s, NULL, 0);
			zcp_publisher_close(p);
		}
		zt_ok(bad == 0, "10 rounds: subscriber killed at random while publisher streams with BLOCK: all publishes succeed within 2 s x ZT_SLOWDOWN (%d bad)", bad);
	}
	zcp_mempool_manager_reclaim(M, NULL);
	zcp_mempool_manager_destroy(M);
	int left = zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "no leftovers (found %d)", left);
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
