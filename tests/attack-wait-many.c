/* SPDX-License-Identifier: MIT */
/* attack-wait-many: one waitset with 100 subscribers and 100 triggers (200
 * attachments).  Every attachment must be reported (none starved, each
 * trigger exactly once per fire batch, with small max), a fire of the last
 * attached trigger from another process must wake the waitset every time,
 * via wait and via the fd. */
#include "attack-wait.h"
#include <poll.h>

#define NS 100
#define NT 100

int main(void)
{
	zt_init("many", 55);
	zt_plan(7);
	zcp_mempool_manager *m = zt_create(zt_name, 256, 0, 4, 8, 128, 16, 0, -1);
	if (!m)
		return 1;
	zcp_subscriber *sub[NS];
	zcp_trigger *trg[NT];
	zcp_waitset *ws;
	int r, bad = 0;
	zcp_waitset_create(m, &ws);
	for (int i = 0; i < NS; i++) {
		if ((r = zcp_subscriber_create(m, "many", NULL, &sub[i])) ||
		    (r = zcp_waitset_attach_subscriber(ws, sub[i], (void *)(intptr_t)(i + 1)))) {
			zt_diag("sub %d: %s", i, zcp_err_name(r));
			bad++;
			break;
		}
	}
	for (int i = 0; i < NT; i++) {
		char n[16];
		snprintf(n, sizeof n, "t%d", i);
		if ((r = zcp_trigger_open(m, n, &trg[i])) ||
		    (r = zcp_waitset_attach_trigger(ws, trg[i], (void *)(intptr_t)(1000 + i)))) {
			zt_diag("trigger %d: %s", i, zcp_err_name(r));
			bad++;
			break;
		}
	}
	if (!zt_ok(bad == 0, "%d subscribers and %d triggers attached to one waitset", NS, NT)) {
		zt_rm_leftovers(zt_name);
		return 1;
	}
	zcp_publisher *pub;
	zcp_publisher_create(m, "many", NULL, &pub);
	zcp_waitset_event ev[7];
	/* drain the APPEARED events (100 subscribers x 1 publisher) */
	int appeared = 0;
	while ((r = zcp_waitset_wait(ws, ev, 7, 0)) > 0)
		for (int i = 0; i < r; i++)
			appeared += ev[i].kind == ZCP_EVENT_PUBLISHER_APPEARED && ev[i].publishers == 1;
	zt_ok(appeared == NS, "each of %d subscribers reports PUBLISHER_APPEARED(1) once (%d)", NS,
	      appeared);
	/* one sample: every subscriber gets DATA; take per event; all drained in bounded calls */
	zt_publish_int(pub, 42);
	int seen[NS] = {0}, calls = 0, dup = 0;
	while ((r = zcp_waitset_wait(ws, ev, 7, 0)) > 0 && calls < 1000) {
		calls++;
		for (int i = 0; i < r; i++) {
			if (ev[i].kind != ZCP_EVENT_DATA)
				continue;
			int k = (int)(intptr_t)ev[i].user_data - 1;
			if (k < 0 || k >= NS)
				continue;
			if (seen[k])
				dup++;
			seen[k]++;
			zt_drain(m, sub[k]);
		}
	}
	int missing = 0;
	for (int i = 0; i < NS; i++)
		missing += !seen[i];
	zt_ok(missing == 0 && dup == 0 && calls <= NS / 7 + 3,
	      "one sample: DATA for all %d subscribers, none twice, in %d calls of max 7 (missing %d, dup %d)",
	      NS, calls, missing, dup);
	/* all triggers fired: each reported exactly once */
	for (int i = 0; i < NT; i++)
		zcp_trigger_fire(trg[i]);
	int tseen[NT] = {0}, tdup = 0, tmiss = 0;
	calls = 0;
	while ((r = zcp_waitset_wait(ws, ev, 7, 0)) > 0 && calls < 1000) {
		calls++;
		for (int i = 0; i < r; i++) {
			int k = (int)(intptr_t)ev[i].user_data - 1000;
			if (ev[i].kind == ZCP_EVENT_TRIGGER && k >= 0 && k < NT)
				tdup += tseen[k]++ > 0;
		}
	}
	for (int i = 0; i < NT; i++)
		tmiss += !tseen[i];
	zt_ok(tmiss == 0 && tdup == 0, "all %d triggers fired: each reported exactly once (missing %d, dup %d, %d calls)",
	      NT, tmiss, tdup, calls);
	/* starvation: keep subscriber 0 always having data; fire trigger 99; it must come */
	{
		for (int i = 0; i < 3; i++)
			zt_publish_int(pub, i); /* all subscribers now have data */
		zcp_trigger_fire(trg[NT - 1]);
		int found = 0;
		for (calls = 0; calls < 60 && !found; calls++) {
			r = zcp_waitset_wait(ws, ev, 7, 0);
			for (int i = 0; i < r; i++)
				found |= ev[i].kind == ZCP_EVENT_TRIGGER && ev[i].object == trg[NT - 1];
		}
		zt_ok(found, "with 100 level-triggered DATA pending, trigger #%d is reported within %d calls of max 7 (no starvation)",
		      NT - 1, calls);
		for (int i = 0; i < NS; i++)
			zt_drain(m, sub[i]);
		while (zcp_waitset_wait(ws, ev, 7, 0) > 0)
			;
	}
	/* cross-process: child fires random triggers with handshake; parent waits via fd+poll or wait */
	{
		int c2p[2], p2c[2];
		if (pipe(c2p) || pipe(p2c))
			return 1;
		pid_t pid = fork();
		if (pid == 0) {
			zcp_mempool_manager *cm;
			zcp_trigger *ct[NT];
			close(p2c[1]);
			close(c2p[0]);
			if (zcp_mempool_manager_attach(zt_name, &cm))
				_exit(1);
			for (int i = 0; i < NT; i++) {
				char n[16];
				snprintf(n, sizeof n, "t%d", i);
				if (zcp_trigger_open(cm, n, &ct[i]))
					_exit(2);
			}
			unsigned seed = getpid();
			unsigned char k;
			for (;;) {
				if (read(p2c[0], &k, 1) != 1)
					break;
				k = rand_r(&seed) % NT;
				if (write(c2p[1], &k, 1) != 1)
					break;
				zcp_trigger_fire(ct[k]);
			}
			for (int i = 0; i < NT; i++)
				zcp_trigger_close(ct[i]);
			zcp_mempool_manager_detach(cm);
			_exit(0);
		}
		close(c2p[1]);
		close(p2c[0]);
		int fd;
		zcp_waitset_fd(ws, &fd);
		int lostw = 0, rounds = 0;
		for (rounds = 0; rounds < 2000; rounds++) {
			unsigned char k;
			if (write(p2c[1], "g", 1) != 1 || read(c2p[0], &k, 1) != 1)
				break;
			int found = 0;
			int64_t end = zt_now() + ZT_MS(2000);
			while (!found && zt_now() < end) {
				if (rounds % 2) {
					struct pollfd p = {.fd = fd, .events = POLLIN};
					if (poll(&p, 1, (int)(2000 * zt_slowdown())) != 1)
						break;
					r = zcp_waitset_wait(ws, ev, 7, 0);
				} else
					r = zcp_waitset_wait(ws, ev, 7, end - zt_now());
				for (int i = 0; i < r; i++)
					found |= ev[i].kind == ZCP_EVENT_TRIGGER && ev[i].object == trg[k];
			}
			lostw += !found;
		}
		close(p2c[1]);
		int st = zt_reap(pid, 3000);
		close(c2p[0]);
		zt_ok(lostw == 0 && rounds == 2000 && zt_exit_ok(st),
		      "another process fires a random one of 100 triggers, 2000 times: always woken (lost %d, rounds %d, child 0x%x)",
		      lostw, rounds, st);
	}
	zcp_waitset_destroy(ws);
	for (int i = 0; i < NT; i++)
		zcp_trigger_close(trg[i]);
	for (int i = 0; i < NS; i++)
		zcp_subscriber_close(sub[i]);
	zcp_publisher_close(pub);
	zcp_mempool_manager_reclaim(m, NULL);
	zcp_mempool_manager_destroy(m);
	int left = zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "no leftovers (found %d)", left);
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
