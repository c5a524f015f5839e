/* SPDX-License-Identifier: MIT */
/* attack-wait-kill: SIGKILL children at random moments while they wait
 * (waitset_wait, zcp_subscriber_wait, poll on the waitset fd), fire, or
 * publish.  Promises: a killed waiter blocks nobody; reclaim clears its
 * state, including the FIFO of its zcp_waitset_fd(); a publisher killed
 * mid-publish never leaves a subscriber asleep on data that is there. */
#include "attack-wait.h"
#include <poll.h>

#define ROUNDS 40

static int fifo_count(void) { return zt_leftovers(zt_name, 1); }

/* child: waiter doing every waiting call at random until killed */
static void waiter_child(int wfd, unsigned seed)
{
	zcp_mempool_manager *m;
	zcp_subscriber *sub;
	zcp_trigger *t;
	zcp_waitset *ws[3];
	int fd;
	if (zcp_mempool_manager_attach(zt_name, &m) ||
	    zcp_subscriber_create(m, "data", NULL, &sub) || zcp_trigger_open(m, "go", &t))
		_exit(1);
	for (int i = 0; i < 3; i++)
		if (zcp_waitset_create(m, &ws[i]) || zcp_waitset_fd(ws[i], &fd))
			_exit(2);
	zcp_waitset_attach_subscriber(ws[0], sub, NULL);
	zcp_waitset_attach_trigger(ws[1], t, NULL);
	if (write(wfd, "r", 1) != 1)
		_exit(3);
	for (;;) {
		zcp_waitset_event ev[4];
		int f;
		switch (rand_r(&seed) % 5) {
		case 0:
			zcp_waitset_wait(ws[rand_r(&seed) % 3], ev, 4, (rand_r(&seed) % 20) * 1000000LL);
			break;
		case 1:
			zcp_subscriber_wait(sub, (rand_r(&seed) % 20) * 1000000LL);
			zt_drain(m, sub);
			break;
		case 2: {
			zcp_waitset_fd(ws[0], &f);
			struct pollfd p = {.fd = f, .events = POLLIN};
			poll(&p, 1, rand_r(&seed) % 10);
			zcp_waitset_wait(ws[0], ev, 4, 0);
			zt_drain(m, sub);
			break;
		}
		case 3:
			zcp_trigger_fire(t);
			break;
		case 4:
			zcp_waitset_destroy(ws[2]);
			if (zcp_waitset_create(m, &ws[2]) == 0)
				zcp_waitset_fd(ws[2], &f);
			break;
		}
	}
}

/* child: publisher publishing as fast as it can until killed */
static void publisher_child(int wfd)
{
	zcp_mempool_manager *m;
	zcp_publisher *p;
	if (zcp_mempool_manager_attach(zt_name, &m) || zcp_publisher_create(m, "data", NULL, &p))
		_exit(1);
	if (write(wfd, "r", 1) != 1)
		_exit(3);
	for (int i = 0;; i++) {
		zcp_chunk *c = zcp_publisher_loan(p, 8);
		if (!c) {
			zt_sleep_ms(1);
			continue;
		}
		memcpy(zcp_sample_data(c), &i, sizeof i);
		if (zcp_publisher_publish(p, c))
			zcp_chunk_release(m, c);
	}
}

static pid_t spawn(void (*fn)(int, unsigned), unsigned seed, int *ok)
{
	int pf[2];
	*ok = 0;
	if (pipe(pf))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(pf[0]);
		fn(pf[1], seed);
		_exit(0);
	}
	close(pf[1]);
	char c;
	*ok = read(pf[0], &c, 1) == 1;
	close(pf[0]);
	return pid;
}
static void pub_wrap(int w, unsigned s) { (void)s; publisher_child(w); }

int main(void)
{
	zt_init("kill", 58);
	zt_plan(9);
	zcp_mempool_manager *m = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0, -1);
	if (!m)
		return 1;
	zcp_subscriber *sub;
	zcp_publisher *pub;
	zcp_trigger *t;
	zcp_waitset *ws;
	if (zcp_subscriber_create(m, "data", NULL, &sub) || zcp_publisher_create(m, "data", NULL, &pub) ||
	    zcp_trigger_open(m, "go", &t) || zcp_waitset_create(m, &ws) ||
	    zcp_waitset_attach_trigger(ws, t, NULL))
		return 1;
	unsigned seed = (unsigned)getpid();

	/* 1-4: waiters killed at random moments */
	int setup_bad = 0, fifo_bad = 0, slow_pub = 0, slow_fire = 0, own_wait_bad = 0;
	int64_t worst_pub = 0, worst_fire = 0;
	int max_fifos_left = 0;
	for (int r = 0; r < ROUNDS; r++) {
		int ok;
		pid_t a = spawn(waiter_child, seed + r, &ok);
		pid_t b = spawn(waiter_child, seed + 1000 + r, &ok);
		setup_bad += !ok;
		zt_sleep_ms(rand_r(&seed) % 15);
		/* traffic while they live */
		for (int i = 0; i < 5; i++) {
			zt_publish_int(pub, i);
			zcp_trigger_fire(t);
		}
		zt_drain(m, sub);
		kill(a, SIGKILL);
		if (r % 2)
			zt_sleep_ms(rand_r(&seed) % 3);
		kill(b, SIGKILL);
		waitpid(a, NULL, 0);
		waitpid(b, NULL, 0);
		/* before reclaim: the dead sleepers must not block publishers/firers */
		for (int i = 0; i < 20; i++) {
			int64_t t0 = zt_now();
			zt_publish_int(pub, i);
			int64_t d = zt_now() - t0;
			if (d > worst_pub)
				worst_pub = d;
			t0 = zt_now();
			zcp_trigger_fire(t);
			d = zt_now() - t0;
			if (d > worst_fire)
				worst_fire = d;
		}
		zt_drain(m, sub);
		zcp_reclaim_report rep;
		zcp_mempool_manager_reclaim(m, &rep);
		int f = fifo_count();
		if (f) {
			fifo_bad++;
			if (f > max_fifos_left)
				max_fifos_left = f;
		}
		/* our own waitset still wakes on a fire */
		zcp_waitset_event ev[4];
		while (zcp_waitset_wait(ws, ev, 4, 0) > 0)
			;
		zcp_trigger_fire(t);
		if (zcp_waitset_wait(ws, ev, 4, ZT_MS(2000)) != 1 || ev[0].kind != ZCP_EVENT_TRIGGER)
			own_wait_bad++;
	}
	/* blocking would be seconds or forever; 250 ms (x ZT_SLOWDOWN) leaves
	 * room for a loaded machine */
	slow_pub = worst_pub > ZT_MS(250);
	slow_fire = worst_fire > ZT_MS(250);
	zt_ok(setup_bad == 0, "%d rounds of two waiter children set up (bad %d)", ROUNDS, setup_bad);
	zt_ok(!slow_pub && !slow_fire,
	      "publish/fire with killed sleepers never block (worst publish %.2f ms, fire %.2f ms)",
	      worst_pub / 1e6, worst_fire / 1e6);
	zt_ok(fifo_bad == 0, "reclaim removes killed waiters' FIFOs (%d rounds left some, max %d)",
	      fifo_bad, max_fifos_left);
	zt_ok(own_wait_bad == 0, "survivor's waitset wakes on a fire after each kill (%d bad)",
	      own_wait_bad);
	{
		int alive = 0, n = zcp_mempool_manager_process_slots(m);
		for (int i = 0; i < n; i++) {
			zcp_process_info pi;
			if (zcp_mempool_manager_process(m, i, &pi) == 0 && pi.pid && !pi.self)
				alive++;
		}
		zt_ok(alive == 0, "process table holds only us after reclaims (%d other slots used)", alive);
	}

	/* 6-8: publisher killed mid-publish: data there => wait returns at once */
	int asleep_on_data = 0, waiting_but_no_take = 0, ws_missed = 0;
	zcp_waitset *ws2;
	zcp_waitset_create(m, &ws2);
	zcp_waitset_attach_subscriber(ws2, sub, NULL);
	for (int r = 0; r < ROUNDS; r++) {
		int ok;
		zt_drain(m, sub);
		pid_t p = spawn(pub_wrap, 0, &ok);
		/* kill at a random moment of its publishing loop */
		for (volatile unsigned i = 0, n = rand_r(&seed) % 200000; i < n; i++)
			;
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		for (int phase = 0; phase < 2; phase++) {
			if (phase == 1)
				zcp_mempool_manager_reclaim(m, NULL);
			long w = zcp_subscriber_waiting(sub);
			if (w > 0) {
				int64_t t0 = zt_now();
				int e = zcp_subscriber_wait(sub, ZT_MS(2000));
				if (e != 0 || zt_now() - t0 > ZT_MS(250))
					asleep_on_data++;
				zcp_waitset_event ev[8];
				int n = zcp_waitset_wait(ws2, ev, 8, ZT_MS(2000));
				int data = 0;
				for (int i = 0; i < n; i++)
					data |= ev[i].kind == ZCP_EVENT_DATA;
				if (!data)
					ws_missed++;
				zcp_chunk *c = zcp_subscriber_take(sub);
				if (!c)
					waiting_but_no_take++;
				else
					zcp_chunk_release(m, c);
			}
		}
		zt_drain(m, sub);
	}
	zt_ok(asleep_on_data == 0,
	      "publisher killed mid-publish: zcp_subscriber_wait returns 0 at once when waiting>0 "
	      "(%d sleeps on data)", asleep_on_data);
	zt_ok(ws_missed == 0, "... and the waitset reports DATA (%d misses)", ws_missed);
	zt_ok(waiting_but_no_take == 0, "... and take gets it (%d waiting>0 but take NULL)",
	      waiting_but_no_take);
	zcp_waitset_destroy(ws2);
	zcp_waitset_destroy(ws);
	zcp_trigger_close(t);
	zcp_publisher_close(pub);
	zcp_subscriber_close(sub);
	zcp_mempool_manager_reclaim(m, NULL);
	zcp_mempool_manager_destroy(m);
	int left = zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "no segments or FIFOs left in /dev/shm (found %d)", left);
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
