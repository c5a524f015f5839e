/* SPDX-License-Identifier: MIT */
/* attack-wait-timeout: deadlines, extreme timeouts, EINTR, and a hostile
 * peer scribbling random bytes over the management segment while a victim
 * (in its own process) waits with short timeouts: every call must return
 * (any error is allowed) within timeout + slack, never crash or hang. */
#include "attack-wait.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>

/* 400 ms past the deadline, times ZT_SLOWDOWN (a loaded machine or an
 * emulator may be late to run us; never early). */
#define SLACK_NS ZT_MS(400)

static volatile sig_atomic_t got_sig;
static void on_usr1(int s) { (void)s; got_sig++; }

static void install_usr1(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1; /* no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
}

/* a child that sends SIGUSR1 to target every ms_period ms, count times */
static pid_t signaller(pid_t target, int ms_first, int ms_period, int count)
{
	pid_t p = fork();
	if (p == 0) {
		zt_sleep_ms(ms_first);
		for (int i = 0; i < count; i++) {
			kill(target, SIGUSR1);
			zt_sleep_ms(ms_period);
		}
		_exit(0);
	}
	return p;
}

/* victim for the hostile test: attaches, and loops over every waiting call
 * with a 50 ms timeout; reports over pipe the worst overshoot (ns). */
static int victim(int wfd, int64_t run_ns)
{
	zcp_mempool_manager *m;
	zcp_subscriber *sub = NULL;
	zcp_publisher *pub = NULL;
	zcp_trigger *t = NULL;
	zcp_waitset *ws = NULL;
	int fd = -1;
	if (zcp_mempool_manager_attach(zt_name, &m))
		return 1;
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.overflow = ZCP_OVERFLOW_BLOCK;
	o.block_timeout_ns = 50000000;
	zcp_subscriber_create(m, "t", NULL, &sub);
	zcp_publisher_create(m, "t", &o, &pub);
	zcp_trigger_open(m, "trg", &t);
	zcp_waitset_create(m, &ws);
	if (ws) {
		if (sub)
			zcp_waitset_attach_subscriber(ws, sub, NULL);
		if (t)
			zcp_waitset_attach_trigger(ws, t, NULL);
		zcp_waitset_fd(ws, &fd);
	}
	int64_t worst = 0, end = zt_now() + run_ns;
	long calls = 0;
	while (zt_now() < end) {
		int64_t t0, d;
		zcp_waitset_event ev[8];
		/* subscriber_wait */
		if (sub) {
			t0 = zt_now();
			zcp_subscriber_wait(sub, 50000000);
			d = zt_now() - t0 - 50000000;
			if (d > worst)
				worst = d;
			zt_drain(m, sub);
		}
		if (ws) {
			t0 = zt_now();
			zcp_waitset_wait(ws, ev, 8, 50000000);
			d = zt_now() - t0 - 50000000;
			if (d > worst)
				worst = d;
			t0 = zt_now();
			zcp_waitset_wait(ws, ev, 8, 0);
			d = zt_now() - t0;
			if (d > worst)
				worst = d;
		}
		if (t)
			zcp_trigger_fire(t);
		if (pub) {
			/* fill the queue: BLOCK publish must end by its block timeout */
			for (int i = 0; i < 20; i++) {
				zcp_chunk *c = zcp_publisher_loan(pub, 8);
				if (!c)
					break;
				t0 = zt_now();
				int e = zcp_publisher_publish(pub, c);
				d = zt_now() - t0 - 50000000;
				if (d > worst)
					worst = d;
				if (e) {
					zcp_chunk_release(m, c);
					break;
				}
			}
		}
		calls++;
	}
	if (write(wfd, &worst, sizeof worst) != sizeof worst)
		return 3;
	/* no clean teardown needed: exit and let reclaim do it (the segment is garbage) */
	return 0;
}

static int hostile_round(unsigned seed, int64_t *worst_out, int *status_out)
{
	zcp_mempool_manager *m = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0, -1);
	if (!m)
		return -1;
	int pfd[2];
	if (pipe(pfd))
		return -1;
	pid_t v = fork();
	if (v == 0) {
		close(pfd[0]);
		alarm((unsigned)(20 * zt_slowdown()));
		_exit(victim(pfd[1], 600000000LL));
	}
	close(pfd[1]);
	/* scribbler: map the mgmt segment and write random bytes */
	char path[256];
	snprintf(path, sizeof path, "/dev/shm/zerocp_%s_mgmt", zt_name);
	int fd = open(path, O_RDWR);
	struct stat sb;
	unsigned char *p = MAP_FAILED;
	if (fd >= 0 && fstat(fd, &sb) == 0)
		p = mmap(NULL, sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	zt_sleep_ms(100); /* let the victim set up */
	int64_t end = zt_now() + 400000000LL;
	while (p != MAP_FAILED && zt_now() < end) {
		for (int i = 0; i < 64; i++) {
			size_t off = (size_t)rand_r(&seed) % (size_t)sb.st_size;
			int mode = rand_r(&seed) % 4;
			if (mode == 0)
				p[off] = (unsigned char)rand_r(&seed);
			else if (mode == 1)
				p[off] = 0xff;
			else if (mode == 2)
				p[off] = 0;
			else
				p[off] ^= 1u << (rand_r(&seed) % 8);
		}
		zt_sleep_ms(1);
	}
	if (p != MAP_FAILED)
		munmap(p, sb.st_size);
	if (fd >= 0)
		close(fd);
	int64_t worst = -1;
	ssize_t r = read(pfd[0], &worst, sizeof worst);
	(void)r;
	close(pfd[0]);
	*status_out = zt_reap(v, (int)(15000 * zt_slowdown()));
	*worst_out = worst;
	zcp_mempool_manager_destroy(m);
	zt_rm_leftovers(zt_name);
	return 0;
}

struct tw {
	zcp_subscriber *sub;
	zcp_waitset *ws;
	int64_t tmo;
	int which;
	int rc;
	int64_t el;
};

int main(void)
{
	zt_init("to", 58);
	install_usr1();
	zt_plan(17);
	zcp_mempool_manager *m = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0, -1);
	if (!m)
		return 1;
	zcp_subscriber *sub;
	zcp_waitset *ws;
	zcp_trigger *t;
	zcp_publisher *pub;
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 2;
	o.overflow = ZCP_OVERFLOW_BLOCK;
	o.block_timeout_ns = -1;
	if (zcp_subscriber_create(m, "x", &o, &sub) || zcp_waitset_create(m, &ws) ||
	    zcp_trigger_open(m, "t1", &t) || zcp_waitset_attach_subscriber(ws, sub, NULL) ||
	    zcp_waitset_attach_trigger(ws, t, NULL) || zcp_publisher_create(m, "x", &o, &pub))
		return 1;
	zcp_waitset_event ev[4];
	int64_t t0, el;
	int r;

	/* 1-2: plain deadlines: not early, not late */
	t0 = zt_now();
	r = zcp_subscriber_wait(sub, 100000000);
	el = zt_now() - t0;
	zt_ok(r == ZCP_ETIMEDOUT && el >= 100000000 && el < 100000000 + SLACK_NS,
	      "subscriber_wait(100ms) on nothing: ETIMEDOUT after >=100ms (got %d %s, %.1f ms)", r,
	      zcp_err_name(r), el / 1e6);
	while (zcp_waitset_wait(ws, ev, 4, 0) > 0) /* the publisher's APPEARED */
		;
	t0 = zt_now();
	r = zcp_waitset_wait(ws, ev, 4, 100000000);
	el = zt_now() - t0;
	zt_ok(r == ZCP_ETIMEDOUT && el >= 100000000 && el < 100000000 + SLACK_NS,
	      "waitset_wait(100ms) on nothing: ETIMEDOUT after >=100ms (got %s, %.1f ms)",
	      zcp_err_name(r), el / 1e6);
	/* 3: tiny timeouts */
	int bad = 0;
	for (int64_t tmo = 1; tmo < 2000000; tmo = tmo * 3 + 1) {
		t0 = zt_now();
		r = zcp_waitset_wait(ws, ev, 4, tmo);
		el = zt_now() - t0;
		if (r != ZCP_ETIMEDOUT || el < tmo || el > tmo + SLACK_NS)
			bad++;
		t0 = zt_now();
		r = zcp_subscriber_wait(sub, tmo);
		el = zt_now() - t0;
		if (r != ZCP_ETIMEDOUT || el < tmo || el > tmo + SLACK_NS)
			bad++;
	}
	zt_ok(bad == 0, "1ns..2ms timeouts all ETIMEDOUT, not early or late (%d bad)", bad);

	/* 4-7: INT64_MAX / INT64_MIN / -1 must sleep (not overflow into an
	 * immediate return), and a signal ends them with EINTR */
	int64_t tmos[] = {INT64_MAX, INT64_MIN, -1, INT64_MAX - 1};
	for (int k = 0; k < 4; k++) {
		pid_t s = signaller(getpid(), 200, 100, 30);
		got_sig = 0;
		t0 = zt_now();
		int r1 = zcp_waitset_wait(ws, ev, 4, tmos[k]);
		int64_t el1 = zt_now() - t0;
		int64_t t1 = zt_now();
		int r2 = zcp_subscriber_wait(sub, tmos[k]);
		int64_t el2 = zt_now() - t1;
		kill(s, SIGKILL);
		waitpid(s, NULL, 0);
		zt_ok(r1 == ZCP_EINTR && r2 == ZCP_EINTR && el1 >= 150000000 && el1 < ZT_MS(3000) &&
			  el2 < ZT_MS(3000),
		      "timeout %lld: both waits sleep until a signal, then EINTR (waitset %s after "
		      "%.1f ms, subscriber %s after %.1f ms)",
		      (long long)tmos[k], zcp_err_name(r1), el1 / 1e6, zcp_err_name(r2), el2 / 1e6);
	}

	/* 8: EINTR with a finite timeout, a signal storm: never past the deadline */
	if (zt_emulator() != NULL) {
		zt_skip("signal timing under an emulator", "signal storm: waitset_wait only EINTR/ETIMEDOUT, never past the deadline");
	} else {
		pid_t s = signaller(getpid(), 5, 1, 100000);
		int64_t end = zt_now() + 300000000LL, over = 0;
		int eintr = 0, other = 0;
		while (zt_now() < end) {
			int64_t left = end - zt_now();
			r = zcp_waitset_wait(ws, ev, 4, left);
			int64_t o2 = zt_now() - end;
			if (o2 > over)
				over = o2;
			if (r == ZCP_EINTR)
				eintr++;
			else if (r != ZCP_ETIMEDOUT)
				other++;
		}
		kill(s, SIGKILL);
		waitpid(s, NULL, 0);
		zt_ok(other == 0 && over < SLACK_NS,
		      "signal storm: waitset_wait only EINTR/ETIMEDOUT (%d EINTR, %d other), "
		      "worst overshoot %.1f ms",
		      eintr, other, over / 1e6);
	}

	/* 9: BLOCK publish with infinite block timeout; signal -> EINTR "within 10 ms" */
	if (zt_emulator() != NULL) {
		zt_skip("signal timing under an emulator", "BLOCK publish on a full queue (no timeout) ends with EINTR shortly after the signal");
	} else {
		zt_drain(m, sub);
		int filled = 0;
		for (int i = 0; i < 8; i++) {
			zcp_chunk *c = zcp_publisher_loan(pub, 8);
			if (!c)
				break;
			o.block_timeout_ns = 0;
			/* publish with the blocking pub: the first two fill the queue */
			if (i < 2) {
				if (zcp_publisher_publish(pub, c) == 0)
					filled++;
				else
					zcp_chunk_release(m, c);
				continue;
			}
			pid_t s = signaller(getpid(), 150, 1000, 1);
			got_sig = 0;
			t0 = zt_now();
			r = zcp_publisher_publish(pub, c);
			el = zt_now() - t0;
			kill(s, SIGKILL);
			waitpid(s, NULL, 0);
			if (r)
				zcp_chunk_release(m, c);
			zt_ok(filled == 2 && r == ZCP_EINTR && el >= 140000000 && el < 150000000 + ZT_MS(600),
			      "BLOCK publish on a full queue (no timeout) ends with EINTR shortly after "
			      "the signal (%s after %.1f ms, got_sig %d)",
			      zcp_err_name(r), el / 1e6, (int)got_sig);
			break;
		}
		zt_drain(m, sub);
	}

	/* 10: zero-timeout wait on a waitset with nothing attached returns at once */
	{
		zcp_waitset *w2;
		zcp_waitset_create(m, &w2);
		t0 = zt_now();
		r = zcp_waitset_wait(w2, ev, 4, 0);
		el = zt_now() - t0;
		zt_ok(r == ZCP_ETIMEDOUT && el < ZT_MS(200), "empty waitset, timeout 0: ETIMEDOUT at once (%s, %.2f ms)",
		      zcp_err_name(r), el / 1e6);
		zcp_waitset_destroy(w2);
	}

	zcp_publisher_close(pub);
	zcp_waitset_destroy(ws);
	zcp_trigger_close(t);
	zcp_subscriber_close(sub);
	zcp_mempool_manager_destroy(m);

	/* 11-16: hostile scribbler, 6 seeds x 0.6 s */
	for (unsigned seed = 1; seed <= 6; seed++) {
		int64_t worst = -1;
		int st = -1;
		snprintf(zt_name, sizeof zt_name, "atk_to_%d_%u", (int)getpid(), seed);
		if (hostile_round(seed * 7919, &worst, &st) < 0) {
			zt_ok(0, "hostile seed %u: setup", seed);
			continue;
		}
		zt_ok(zt_exit_ok(st) && worst >= 0 && worst < SLACK_NS,
		      "hostile scribbler seed %u: victim's waits/BLOCK publishes all end by their "
		      "timeout (victim status 0x%x%s, worst overshoot %.1f ms)",
		      seed, st, st >= 0 && WIFSIGNALED(st) ? " KILLED BY SIGNAL" : "", worst / 1e6);
	}
	snprintf(zt_name, sizeof zt_name, "atk_to_%d", (int)getpid());
	int left = 0;
	for (unsigned seed = 1; seed <= 6; seed++) {
		char n[64];
		snprintf(n, sizeof n, "atk_to_%d_%u", (int)getpid(), seed);
		left += zt_leftovers(n, 0);
		zt_rm_leftovers(n);
	}
	left += zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "no leftovers in /dev/shm (found %d)", left);
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
