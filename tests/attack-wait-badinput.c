/* SPDX-License-Identifier: MIT */
/* attack-wait-badinput: NULLs, closed/foreign/reused objects, huge max,
 * zero and extreme timeouts, bad trigger names, full tables, use after
 * fork, read-only handles: every call must answer its documented error,
 * never crash (run the .asan build too), abort or hang. */
#include "attack-wait.h"
#include <poll.h>

#define CHK(cond, ...) zt_ok((cond), __VA_ARGS__)

static int readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

int main(void)
{
	zt_init("bad", 50);
	zt_plan(54);
	char name2[80];
	zcp_mempool_manager *m = zt_create(zt_name, 2, 0, 0, 0, 0, 0, 0, -1);
	snprintf(name2, sizeof name2, "%s_b", zt_name);
	zcp_mempool_manager *m2 = zt_create(name2, 0, 0, 0, 0, 0, 0, 0, -1);
	if (!m || !m2)
		return 1;
	zcp_waitset *ws = NULL, *ws2 = NULL;
	zcp_subscriber *sub, *sub_b;
	zcp_trigger *t1, *t2, *t3 = NULL, *tb;
	zcp_waitset_event ev[4];
	int fd, r;

	CHK(zcp_waitset_create(NULL, &ws) == ZCP_EINVAL, "waitset_create(NULL mgr) EINVAL");
	CHK(zcp_waitset_create(m, NULL) == ZCP_EINVAL, "waitset_create(NULL out) EINVAL");
	CHK(zcp_waitset_destroy(NULL) == 0, "waitset_destroy(NULL) 0");
	zcp_waitset_create(m, &ws);
	zcp_waitset_create(m, &ws2);
	zcp_subscriber_create(m, "s", NULL, &sub);
	zcp_subscriber_create(m2, "s", NULL, &sub_b);
	zcp_trigger_open(m2, "tb", &tb);
	CHK(zcp_waitset_attach_subscriber(NULL, sub, NULL) == ZCP_EINVAL, "attach_subscriber(NULL ws) EINVAL");
	CHK(zcp_waitset_attach_subscriber(ws, NULL, NULL) == ZCP_EINVAL, "attach_subscriber(NULL sub) EINVAL");
	CHK(zcp_waitset_attach_trigger(ws, NULL, NULL) == ZCP_EINVAL, "attach_trigger(NULL) EINVAL");
	r = zcp_waitset_attach_subscriber(ws, sub_b, NULL);
	CHK(r == ZCP_EINVAL, "attach a subscriber of another manager: EINVAL (%s)", zcp_err_name(r));
	r = zcp_waitset_attach_trigger(ws, tb, NULL);
	CHK(r == ZCP_EINVAL, "attach a trigger of another manager: EINVAL (%s)", zcp_err_name(r));
	CHK(zcp_waitset_attach_subscriber(ws, sub, (void *)0x1234) == 0, "attach subscriber");
	r = zcp_waitset_attach_subscriber(ws, sub, NULL);
	CHK(r == ZCP_EBUSY, "attach it again: EBUSY (%s)", zcp_err_name(r));
	r = zcp_waitset_attach_subscriber(ws2, sub, NULL);
	CHK(r == ZCP_EBUSY, "attach it to a second waitset: EBUSY (%s)", zcp_err_name(r));
	CHK(zcp_waitset_detach(NULL, sub) == ZCP_EINVAL, "detach(NULL ws) EINVAL");
	CHK(zcp_waitset_detach(ws, NULL) == ZCP_EINVAL, "detach(NULL object) EINVAL");
	r = zcp_waitset_detach(ws2, sub);
	CHK(r == ZCP_ENOENT, "detach from the wrong waitset: ENOENT (%s)", zcp_err_name(r));
	int dummy = 0;
	r = zcp_waitset_detach(ws, &dummy);
	CHK(r == ZCP_ENOENT, "detach a random pointer: ENOENT (%s)", zcp_err_name(r));
	CHK(zcp_waitset_wait(NULL, ev, 4, 0) == ZCP_EINVAL, "wait(NULL ws) EINVAL");
	CHK(zcp_waitset_wait(ws, NULL, 4, 0) == ZCP_EINVAL, "wait(NULL events) EINVAL");
	CHK(zcp_waitset_wait(ws, ev, 0, 0) == ZCP_EINVAL, "wait(max 0) EINVAL");
	r = zcp_waitset_wait(ws, ev, SIZE_MAX, 0);
	CHK(r == ZCP_ETIMEDOUT, "wait(max SIZE_MAX, nothing there) ETIMEDOUT (%s)", zcp_err_name(r));
	{
		zcp_publisher *p;
		zcp_publisher_create(m, "s", NULL, &p);
		zt_publish_int(p, 1);
		zcp_waitset_event *one = malloc(2 * sizeof *one); /* ASan sees overruns */
		r = zcp_waitset_wait(ws, one, SIZE_MAX, 0);
		int okk = r >= 1 && r <= 2 && one[0].user_data == (void *)0x1234;
		CHK(okk, "wait(max SIZE_MAX) with 2 events pending writes 1..2 (r=%d, user_data ok %d)", r,
		    r > 0 && one[0].user_data == (void *)0x1234);
		free(one);
		zt_drain(m, sub);
		zcp_publisher_close(p);
		while (zcp_waitset_wait(ws, ev, 4, 0) > 0)
			;
	}
	CHK(zcp_waitset_fd(NULL, &fd) == ZCP_EINVAL, "fd(NULL ws) EINVAL");
	CHK(zcp_waitset_fd(ws, NULL) == ZCP_EINVAL, "fd(NULL out) EINVAL");
	CHK(zcp_subscriber_wait(NULL, 0) == ZCP_EINVAL, "subscriber_wait(NULL) EINVAL");
	/* fd semantics */
	r = zcp_waitset_fd(ws, &fd);
	int fd2 = -1;
	zcp_waitset_fd(ws, &fd2);
	CHK(r == 0 && fd == fd2, "fd: same descriptor on the second call (%d %d)", fd, fd2);
	CHK(readable(fd, 0), "a new descriptor is readable at once");
	r = zcp_waitset_wait(ws, ev, 4, 0);
	CHK(r == ZCP_ETIMEDOUT && !readable(fd, 50), "wait(0) finds nothing: ETIMEDOUT and the fd is armed/not readable (%s)", zcp_err_name(r));
	/* triggers */
	CHK(zcp_trigger_open(NULL, "a", &t1) == ZCP_EINVAL, "trigger_open(NULL mgr) EINVAL");
	CHK(zcp_trigger_open(m, NULL, &t1) == ZCP_EINVAL, "trigger_open(NULL name) EINVAL");
	CHK(zcp_trigger_open(m, "a", NULL) == ZCP_EINVAL, "trigger_open(NULL out) EINVAL");
	{
		const char *bad[] = {"", ".x", "a/b", "a b", "a\n", "\xc3\xa9", "a:b"};
		int nb = 0;
		for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
			zcp_trigger *x = NULL;
			r = zcp_trigger_open(m, bad[i], &x);
			if (r != ZCP_EINVAL) {
				nb++;
				zt_diag("bad name %zu answered %s", i, zcp_err_name(r));
				zcp_trigger_close(x);
			}
		}
		char n63[64], n64[65];
		memset(n63, 'a', 63); n63[63] = 0;
		memset(n64, 'b', 64); n64[64] = 0;
		zcp_trigger *x = NULL;
		r = zcp_trigger_open(m, n64, &x);
		if (r != ZCP_EINVAL) { nb++; zcp_trigger_close(x); }
		CHK(nb == 0, "bad trigger names (empty, dot first, '/', space, newline, utf-8, ':', 64 chars) all EINVAL (%d not)", nb);
		r = zcp_trigger_open(m, n63, &t1);
		CHK(r == 0, "63-character name opens (%s)", zcp_err_name(r));
	}
	r = zcp_trigger_open(m, "second", &t2);
	CHK(r == 0, "second trigger of a table of 2 (%s)", zcp_err_name(r));
	r = zcp_trigger_open(m, "third", &t3);
	CHK(r == ZCP_ENOSPC, "third trigger of a table of 2: ENOSPC (%s)", zcp_err_name(r));
	{
		zcp_trigger *same;
		r = zcp_trigger_open(m, "second", &same);
		CHK(r == 0, "opening an existing name again with a full table works (%s)", zcp_err_name(r));
		/* same trigger, two handles, two waitsets: a fire on one wakes both */
		zcp_waitset_attach_trigger(ws, t2, NULL);
		zcp_waitset_attach_trigger(ws2, same, NULL);
		zcp_trigger_fire(same);
		int a = zcp_waitset_wait(ws, ev, 4, ZT_MS(1000));
		int b = zcp_waitset_wait(ws2, ev, 4, ZT_MS(1000));
		CHK(a == 1 && b == 1, "fire via one handle wakes both waitsets of the name (%d %d)", a, b);
		CHK(readable(fd, 0), "fd readable after an event-returning wait");
		zcp_trigger_close(same); /* closes while attached: detaches */
		r = zcp_waitset_wait(ws2, ev, 4, 0);
		CHK(r == ZCP_ETIMEDOUT, "wait on a waitset whose trigger was closed: ETIMEDOUT, no UAF (%s)", zcp_err_name(r));
	}
	CHK(zcp_trigger_fire(NULL) == ZCP_EINVAL, "fire(NULL) EINVAL");
	CHK(zcp_trigger_close(NULL) == 0, "trigger_close(NULL) 0");
	{
		/* fires before attach are not reported; many fires -> one event */
		zcp_waitset_detach(ws, t2);
		zcp_trigger_fire(t2);
		zcp_waitset_attach_trigger(ws, t2, NULL);
		while ((r = zcp_waitset_wait(ws, ev, 4, 0)) > 0 && ev[0].kind != ZCP_EVENT_TRIGGER)
			;
		CHK(r == ZCP_ETIMEDOUT, "fire before attach is not reported (%s)", zcp_err_name(r));
		for (int i = 0; i < 1000; i++)
			zcp_trigger_fire(t2);
		int a = zcp_waitset_wait(ws, ev, 4, 0);
		int b = zcp_waitset_wait(ws, ev, 4, 0);
		CHK(a == 1 && b == ZCP_ETIMEDOUT, "1000 fires: one event, then nothing (%d %d)", a, b);
	}
	{
		zcp_mempool_config *c = zcp_mempool_config_new();
		CHK(zcp_mempool_config_set_triggers(c, 4097) == ZCP_EINVAL && zcp_mempool_config_set_triggers(NULL, 1) == ZCP_EINVAL,
		    "set_triggers(4097) and (NULL) EINVAL");
		zcp_mempool_config_free(c);
	}
	/* close an attached subscriber, then wait (ASan: no use-after-free) */
	zcp_subscriber_close(sub);
	r = zcp_waitset_wait(ws, ev, 4, 0);
	CHK(r == ZCP_ETIMEDOUT || r > 0, "wait after closing an attached subscriber (%s)", zcp_err_name(r));
	r = zcp_waitset_detach(ws, sub);
	CHK(r == ZCP_ENOENT, "detach a closed subscriber: ENOENT (%s)", zcp_err_name(r));
	/* destroy a waitset, then close its trigger (no UAF), and re-attach */
	zcp_waitset_destroy(ws);
	r = zcp_waitset_attach_trigger(ws2, t2, NULL);
	CHK(r == 0, "trigger of a destroyed waitset attaches elsewhere (%s)", zcp_err_name(r));
	zcp_trigger_close(t2);
	/* 16 fds max */
	{
		zcp_waitset *w[17];
		int got = 0, r17 = 0;
		for (int i = 0; i < 17; i++) {
			zcp_waitset_create(m, &w[i]);
			r = zcp_waitset_fd(w[i], &fd);
			if (r == 0)
				got++;
			else if (i == 16 || r17 == 0)
				r17 = r;
		}
		/* ws2 has none: 16 of w got one? */
		CHK(got == 16 && r17 == ZCP_ENOSPC, "17 waitsets: 16 fds, then ENOSPC (%d, %s)", got, zcp_err_name(r17));
		zcp_waitset_destroy(w[3]);
		r = zcp_waitset_fd(w[16], &fd);
		CHK(r == 0, "after destroying one, the 17th gets an fd (%s)", zcp_err_name(r));
		int fifos = zt_leftovers(zt_name, 1);
		CHK(fifos == 16, "16 FIFOs on disk (%d)", fifos);
		for (int i = 0; i < 17; i++)
			if (i != 3)
				zcp_waitset_destroy(w[i]);
		fifos = zt_leftovers(zt_name, 1);
		CHK(fifos == 0, "destroy removes every FIFO (%d left)", fifos);
	}
	/* after fork: ECHILD, never crash */
	{
		pid_t p = fork();
		if (p == 0) {
			int e = 0;
			zcp_waitset *x;
			e |= zcp_waitset_wait(ws2, ev, 4, 0) != ZCP_ECHILD;
			e |= (zcp_waitset_fd(ws2, &fd) != ZCP_ECHILD) << 1;
			e |= (zcp_waitset_create(m, &x) != ZCP_ECHILD) << 2;
			e |= (zcp_trigger_fire(t1) != ZCP_ECHILD) << 3;
			e |= (zcp_waitset_attach_trigger(ws2, t1, NULL) != ZCP_ECHILD) << 4;
			_exit(e);
		}
		int st = zt_reap(p, 5000);
		CHK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "after fork the child's wait/fd/create/fire/attach answer ECHILD (status 0x%x)", st);
	}
	/* read-only handle */
	{
		zcp_attach_options ao;
		zcp_attach_options_init(&ao);
		ao.read_only = 1;
		zcp_mempool_manager *ro;
		r = zcp_mempool_manager_attach_opts(zt_name, &ao, &ro);
		if (r == 0) {
			zcp_waitset *x = NULL;
			zcp_trigger *tx = NULL;
			int a = zcp_waitset_create(ro, &x), b = zcp_trigger_open(ro, "ro", &tx);
			CHK(a == ZCP_EPERM && b == ZCP_EPERM, "read-only handle: waitset_create %s, trigger_open %s (EPERM)", zcp_err_name(a), zcp_err_name(b));
			zcp_waitset_destroy(x);
			zcp_trigger_close(tx);
			zcp_mempool_manager_detach(ro);
		} else
			CHK(0, "read-only attach: %s", zcp_err_name(r));
	}
	/* triggers off */
	{
		char n3[80];
		snprintf(n3, sizeof n3, "%s_c", zt_name);
		zcp_mempool_config *c = zcp_mempool_config_new();
		zcp_mempool_config_add_entry(c, 64, 4);
		zcp_mempool_config_set_triggers(c, 0);
		zcp_mempool_manager *m3;
		r = zcp_mempool_manager_create(n3, c, &m3);
		zcp_mempool_config_free(c);
		zcp_trigger *x = NULL;
		int e = r ? r : zcp_trigger_open(m3, "x", &x);
		CHK(e == ZCP_ENOSPC, "table of size 0: trigger_open ENOSPC (%s)", zcp_err_name(e));
		zcp_trigger_close(x);
		if (!r)
			zcp_mempool_manager_destroy(m3);
	}
	/* a waitset with nothing attached sleeps until the timeout */
	{
		zcp_waitset *x;
		zcp_waitset_create(m, &x);
		int64_t t0 = zt_now();
		r = zcp_waitset_wait(x, ev, 4, 50000000);
		int64_t el = zt_now() - t0;
		CHK(r == ZCP_ETIMEDOUT && el >= 50000000, "empty waitset sleeps to the timeout (%s, %.1f ms)", zcp_err_name(r), el / 1e6);
		zcp_waitset_destroy(x);
	}
	zcp_waitset_destroy(ws2);
	zcp_trigger_close(t1);
	zcp_trigger_close(tb);
	zcp_subscriber_close(sub_b);
	zcp_mempool_manager_destroy(m);
	zcp_mempool_manager_destroy(m2);
	int left = zt_leftovers(zt_name, 0) + zt_leftovers(name2, 0);
	CHK(left == 0, "no leftovers (found %d)", left);
	zt_rm_leftovers(zt_name);
	zt_rm_leftovers(name2);
	printf("# planned vs run: %d\n", zt_n);
	return zt_failed != 0;
}
