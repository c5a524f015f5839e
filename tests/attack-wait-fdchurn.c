/* SPDX-License-Identifier: MIT */
/* attack-wait-fdchurn: make and destroy waitset fds thousands of times
 * (and triggers/subscribers attached and closed in every order): no
 * descriptor leak, no FIFO left, the 16-per-process fd budget never
 * exhausted by waitsets that are gone, and a last waitset still wakes. */
#include "attack-wait.h"
#include <poll.h>

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

int main(void)
{
	zt_init("churn", 55);
	zt_plan(5);
	zcp_mempool_manager *m = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0, -1);
	if (!m)
		return 1;
	int fds0 = count_fds(), errs = 0, first_err = 0;
	unsigned seed = getpid();
	const int rounds = (int)zt_iters(3000); /* "make stress": ZCP_TEST_ITERS */
	for (int i = 0; i < rounds; i++) {
		zcp_waitset *ws[4];
		zcp_subscriber *s;
		zcp_trigger *t;
		int fd, r;
		zcp_subscriber_create(m, "c", NULL, &s);
		zcp_trigger_open(m, "c", &t);
		for (int k = 0; k < 4; k++) {
			if ((r = zcp_waitset_create(m, &ws[k])) || (r = zcp_waitset_fd(ws[k], &fd))) {
				errs++;
				if (!first_err)
					first_err = r;
			}
		}
		zcp_waitset_attach_subscriber(ws[rand_r(&seed) % 4], s, NULL);
		zcp_waitset_attach_trigger(ws[rand_r(&seed) % 4], t, NULL);
		switch (rand_r(&seed) % 3) {
		case 0: /* close objects first */
			zcp_subscriber_close(s);
			zcp_trigger_close(t);
			for (int k = 0; k < 4; k++)
				zcp_waitset_destroy(ws[k]);
			break;
		case 1: /* waitsets first */
			for (int k = 3; k >= 0; k--)
				zcp_waitset_destroy(ws[k]);
			zcp_trigger_close(t);
			zcp_subscriber_close(s);
			break;
		default: /* interleaved */
			zcp_waitset_destroy(ws[1]);
			zcp_subscriber_close(s);
			zcp_waitset_destroy(ws[0]);
			zcp_waitset_destroy(ws[3]);
			zcp_trigger_close(t);
			zcp_waitset_destroy(ws[2]);
			break;
		}
	}
	int fds1 = count_fds();
	zt_ok(errs == 0, "%d rounds x 4 waitsets with fds: no error (%d, first %s)", rounds, errs, zcp_err_name(first_err));
	zt_ok(fds1 == fds0, "no descriptor leaked (%d before, %d after)", fds0, fds1);
	int f = zt_leftovers(zt_name, 1);
	zt_ok(f == 0, "no FIFO left (%d)", f);
	/* a last waitset still works through its fd */
	zcp_waitset *ws;
	zcp_trigger *t;
	int fd;
	zcp_waitset_create(m, &ws);
	zcp_trigger_open(m, "last", &t);
	zcp_waitset_attach_trigger(ws, t, NULL);
	zcp_waitset_fd(ws, &fd);
	zcp_waitset_event ev[2];
	while (zcp_waitset_wait(ws, ev, 2, 0) > 0)
		;
	zcp_trigger_fire(t);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int pr = poll(&p, 1, (int)(1000 * zt_slowdown()));
	int r = zcp_waitset_wait(ws, ev, 2, 0);
	zt_ok(pr == 1 && r == 1 && ev[0].kind == ZCP_EVENT_TRIGGER, "after the churn a new fd waitset wakes on a fire (%d %d)", pr, r);
	zcp_waitset_destroy(ws);
	zcp_trigger_close(t);
	zcp_mempool_manager_destroy(m);
	int left = zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "no leftovers (%d)", left);
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
