/* SPDX-License-Identifier: MIT */
/* attack-wait-scribble: a hostile peer that targets exactly the shared
 * words the waiting machinery uses.  The words are found from outside by
 * diffing snapshots of the management segment: before/after the victim
 * made its subscriber, trigger, waitset and fd, and while it sleeps.  The
 * peer then hammers those words (0, ~0, +1, random, its own sleeper's
 * values) while the victim loops over every wait with short timeouts.
 * Promise: "Never longer than the timeout, whatever a peer writes in
 * shared memory"; no crash, no hang. */
#include "attack-wait.h"
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>

#define TMO 30000000LL /* 30 ms */

/* How long the victim loops while the peer hammers, per round: 400 ms
 * (x ZT_SLOWDOWN); "make stress" (ZCP_TEST_ITERS set) runs the original
 * 1.5 s rounds. */
static int64_t run_ns;

static int victim(int rfd, int wfd)
{
	zcp_mempool_manager *m;
	zcp_subscriber *s;
	zcp_trigger *t;
	zcp_waitset *ws;
	zcp_publisher *p;
	int fd;
	char c;
	if (zcp_mempool_manager_attach(zt_name, &m))
		return 1;
	if (write(wfd, "0", 1) != 1 || read(rfd, &c, 1) != 1) /* S0 taken */
		return 2;
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 2;
	o.overflow = ZCP_OVERFLOW_BLOCK;
	o.block_timeout_ns = TMO;
	if (zcp_subscriber_create(m, "s", &o, &s) || zcp_trigger_open(m, "t", &t) ||
	    zcp_waitset_create(m, &ws) || zcp_waitset_attach_subscriber(ws, s, NULL) ||
	    zcp_waitset_attach_trigger(ws, t, NULL) || zcp_waitset_fd(ws, &fd) ||
	    zcp_publisher_create(m, "s2", &o, &p))
		return 3;
	zcp_subscriber *s2;
	zcp_subscriber_create(m, "s2", &o, &s2);
	zcp_waitset_event ev[8];
	while (zcp_waitset_wait(ws, ev, 8, 0) > 0)
		;
	if (write(wfd, "1", 1) != 1) /* S1 now; then we sleep 300 ms */
		return 4;
	zcp_waitset_wait(ws, ev, 8, 300000000LL);
	if (read(rfd, &c, 1) != 1) /* scribbling starts */
		return 5;
	int64_t worst = 0, end = zt_now() + run_ns;
	long calls = 0;
	while (zt_now() < end) {
		int64_t t0, d;
		t0 = zt_now();
		zcp_waitset_wait(ws, ev, 8, TMO);
		d = zt_now() - t0 - TMO;
		worst = d > worst ? d : worst;
		t0 = zt_now();
		zcp_subscriber_wait(s, TMO);
		d = zt_now() - t0 - TMO;
		worst = d > worst ? d : worst;
		zt_drain(m, s);
		t0 = zt_now();
		zcp_waitset_wait(ws, ev, 8, 0);
		d = zt_now() - t0;
		worst = d > worst ? d : worst;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		poll(&pf, 1, 5);
		zcp_trigger_fire(t);
		for (int i = 0; i < 4; i++) {
			zcp_chunk *ch = zcp_publisher_loan(p, 8);
			if (!ch)
				break;
			t0 = zt_now();
			int e = zcp_publisher_publish(p, ch);
			d = zt_now() - t0 - TMO;
			worst = d > worst ? d : worst;
			if (e)
				zcp_chunk_release(m, ch);
		}
		calls++;
	}
	if (write(wfd, &worst, sizeof worst) != sizeof worst)
		return 6;
	return 0;
}

int main(void)
{
	zt_init("scr", 58);
	zt_plan(9);
	run_ns = zt_iters(0) > 0 ? ZT_MS(1500) : ZT_MS(400);
	int bad_status = 0;
	for (int round = 0; round < 8; round++) {
		snprintf(zt_name, sizeof zt_name, "atk_scr_%d_%d", (int)getppid() ^ 0, round);
		snprintf(zt_name, sizeof zt_name, "atk_scr_%d_%d", (int)getpid(), round);
		zcp_mempool_manager *m = zt_create(zt_name, 8, 4, 4, 4, 4, 8, 0, -1);
		if (!m) {
			zt_ok(0, "round %d: create", round);
			continue;
		}
		char path[256];
		snprintf(path, sizeof path, "/dev/shm/zerocp_%s_mgmt", zt_name);
		int sfd = open(path, O_RDWR);
		struct stat sb;
		fstat(sfd, &sb);
		size_t len = sb.st_size;
		uint32_t *seg = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
		close(sfd);
		uint32_t *s0 = malloc(len), *s1 = malloc(len), *s2 = malloc(len);
		int p2c[2], c2p[2];
		if (pipe(p2c) || pipe(c2p) || seg == MAP_FAILED)
			return 1;
		pid_t v = fork();
		if (v == 0) {
			close(p2c[1]);
			close(c2p[0]);
			alarm((unsigned)((run_ns / 1000000000LL + 14) * zt_slowdown()));
			_exit(victim(p2c[0], c2p[1]));
		}
		close(p2c[0]);
		close(c2p[1]);
		char c;
		int ok = read(c2p[0], &c, 1) == 1;
		memcpy(s0, seg, len);
		ok &= write(p2c[1], "g", 1) == 1;
		ok &= read(c2p[0], &c, 1) == 1;
		memcpy(s1, seg, len);
		zt_sleep_ms(150); /* victim asleep now */
		memcpy(s2, seg, len);
		size_t nw = len / 4, ncand = 0;
		size_t *cand = malloc(sizeof(size_t) * 4096);
		for (size_t i = 0; i < nw && ncand < 4096; i++)
			if (s0[i] != s1[i] || s1[i] != s2[i])
				cand[ncand++] = i;
		/* also: a word that changed only while asleep goes first */
		size_t nsleep = 0;
		for (size_t i = 0; i < nw; i++)
			if (s1[i] != s2[i])
				nsleep++;
		ok &= write(p2c[1], "s", 1) == 1;
		unsigned seed = round * 2654435761u;
		int64_t end = zt_now() + run_ns + ZT_MS(100);
		/* a peer of ours also publishes/fires so wake paths run */
		while (zt_now() < end) {
			for (int k = 0; k < 32 && ncand; k++) {
				size_t i = cand[rand_r(&seed) % ncand];
				switch ((rand_r(&seed) + round) % 6) {
				case 0: seg[i] = 0; break;
				case 1: seg[i] = 0xffffffffu; break;
				case 2: seg[i]++; break;
				case 3: seg[i] = (uint32_t)rand_r(&seed); break;
				case 4: seg[i] = s2[i]; break; /* the asleep snapshot */
				case 5: seg[i] = s0[i]; break; /* before it existed */
				}
			}
			if (round >= 4) /* later rounds: no pause at all */
				continue;
			struct timespec ts = {0, 100000};
			nanosleep(&ts, NULL);
		}
		int64_t worst = -1;
		struct pollfd pf = {.fd = c2p[0], .events = POLLIN};
		if (poll(&pf, 1, (int)(run_ns / 1000000 + 5000 * zt_slowdown())) == 1 && read(c2p[0], &worst, sizeof worst) != sizeof worst)
			worst = -1;
		int st = zt_reap(v, 5000);
		char why[64] = "exit";
		if (st == -2)
			snprintf(why, sizeof why, "HUNG");
		else if (st >= 0 && WIFSIGNALED(st))
			snprintf(why, sizeof why, "killed by %s", strsignal(WTERMSIG(st)));
		else if (st >= 0 && WIFEXITED(st))
			snprintf(why, sizeof why, "exit %d", WEXITSTATUS(st));
		if (!zt_exit_ok(st))
			bad_status++;
		zt_ok(ok && zt_exit_ok(st) && worst >= 0 && worst < ZT_MS(500),
		      "round %d: %zu candidate words (%zu changed by sleeping) hammered %s: victim %s, worst overshoot %.1f ms",
		      round, ncand, nsleep, round >= 4 ? "non-stop" : "every 0.1 ms", why, worst / 1e6);
		munmap(seg, len);
		free(s0);
		free(s1);
		free(s2);
		free(cand);
		close(p2c[1]);
		close(c2p[0]);
		zcp_mempool_manager_destroy(m);
		zt_rm_leftovers(zt_name);
	}
	int left = 0;
	for (int round = 0; round < 8; round++) {
		snprintf(zt_name, sizeof zt_name, "atk_scr_%d_%d", (int)getpid(), round);
		left += zt_leftovers(zt_name, 0);
		zt_rm_leftovers(zt_name);
	}
	zt_ok(left == 0, "no leftovers (%d)", left);
	return zt_failed != 0;
}
