/* SPDX-License-Identifier: MIT */
/* attack-wait-fifokill: a process SIGKILLed while it makes or destroys a
 * waitset fd (zcp_waitset_fd / zcp_waitset_destroy in a loop).  Promise
 * (waitset.h, zcp_waitset_fd(3)): "zcp_waitset_destroy() closes it and
 * removes the FIFO, as a reclaim of a dead process does" and "a killed
 * waiter blocks nobody; reclaim clears what it left".  After each kill and
 * a root reclaim (same uid: the reclaimer may unlink), no FIFO of the dead
 * process may remain. */
#include "attack-wait.h"

#define ROUNDS 200

int main(int argc, char **argv)
{
	zt_init("fk", 55);
	int rounds = argc > 1 ? atoi(argv[1]) : (int)zt_iters(ROUNDS);
	/* mode 0: loop create/fd/destroy; 1: killed during one zcp_waitset_fd;
	 * 2: killed during one zcp_waitset_destroy of a waitset with an fd */
	int mode = argc > 2 ? atoi(argv[2]) : 0;
	zt_plan(3);
	zcp_mempool_manager *m = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0, -1);
	if (!m)
		return 1;
	unsigned seed = getpid();
	int leaked_rounds = 0, first_leak = -1, prev = 0, reclaim_err = 0;
	/* stop early after 40 s (x ZT_SLOWDOWN): fewer rounds, same check */
	int64_t deadline = zt_now() + ZT_MS(40000);
	int r;
	for (r = 0; r < rounds && zt_now() < deadline; r++) {
		int b[2];
		if (pipe(b))
			return 1;
		pid_t c = fork();
		if (c == 0) {
			close(b[0]);
			zcp_mempool_manager *cm;
			if (zcp_mempool_manager_attach(zt_name, &cm))
				_exit(1);
			if (mode == 1 || mode == 2) {
				zcp_waitset *ws;
				int fd;
				if (zcp_waitset_create(cm, &ws))
					_exit(3);
				if (mode == 2 && zcp_waitset_fd(ws, &fd))
					_exit(4);
				if (write(b[1], "r", 1) != 1)
					_exit(2);
				if (mode == 1)
					zcp_waitset_fd(ws, &fd); /* killed somewhere in here */
				else
					zcp_waitset_destroy(ws); /* or in here */
				for (;;)
					pause();
			}
			if (write(b[1], "r", 1) != 1)
				_exit(2);
			for (;;) {
				zcp_waitset *ws;
				int fd;
				if (zcp_waitset_create(cm, &ws))
					continue;
				zcp_waitset_fd(ws, &fd);
				zcp_waitset_destroy(ws);
			}
		}
		close(b[1]);
		char ch;
		if (read(b[0], &ch, 1) != 1) {
			close(b[0]);
			waitpid(c, NULL, 0);
			continue;
		}
		close(b[0]);
		/* random moment inside the create/fd/destroy loop */
		struct timespec ts = {0, (long)(rand_r(&seed) % (mode ? 200 : 3000)) * 1000L};
		nanosleep(&ts, NULL);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		if (zcp_mempool_manager_reclaim(m, NULL))
			reclaim_err++;
		int f = zt_leftovers(zt_name, 1);
		if (f > prev) {
			leaked_rounds++;
			if (first_leak < 0)
				first_leak = r;
		}
		prev = f;
	}
	int fifos = zt_leftovers(zt_name, 1);
	zt_ok(reclaim_err == 0, "%d kill+reclaim rounds, reclaim never failed (%d)", r, reclaim_err);
	zt_ok(fifos == 0,
	      "no FIFO of a process killed inside %s survives its reclaim "
	      "(%d FIFOs left, %d rounds leaked one, first at round %d)",
	      mode == 0 ? "a create/fd/destroy loop" : mode == 1 ? "zcp_waitset_fd" : "zcp_waitset_destroy", fifos, leaked_rounds, first_leak);
	if (fifos) {
		char cmd[256];
		snprintf(cmd, sizeof cmd, "ls -l /dev/shm | grep 'zerocp_%s\\.fd' | head -3 | sed 's/^/# /'", zt_name);
		fflush(stdout);
		if (system(cmd)) {}
	}
	zcp_mempool_manager_destroy(m);
	int left = zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "no leftovers after destroy (%d)", left);
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
