/* SPDX-License-Identifier: MIT */
/* Escrow: a reference handed to another process stays owned while in
 * flight, is taken exactly once, and cannot be claimed with a forged
 * ticket. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

static uint64_t used0(zcp_mempool_manager *m)
{
	zcp_pool_stats s;
	return zcp_mempool_manager_pool_stats(m, 0, &s) == 0 ? s.used : UINT64_MAX;
}

int main(void)
{
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	int p[2];

	plan_lazy();
	zcp_mempool_config_add_entry(cfg, 512, 32);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0 || pipe(p))
		bail("setup");
	zcp_mempool_config_free(cfg);

	/* Fire and forget: send, release our own, the receiver takes it. */
	zcp_chunk *c = zcp_chunk_get(m, 100);
	strcpy(zcp_chunk_data(c), "escrowed");
	uint64_t t;
	is_int(zcp_chunk_send(m, c, 0, &t), 0, "send to any process");
	is_int(zcp_chunk_release(m, c), 0, "sender drops its own reference at once");
	is_int((long long)used0(m), 1, "the chunk stays owned while in flight");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		zcp_chunk *r = zcp_chunk_receive(cm, t);
		ZT_CHECK(r && strcmp(zcp_chunk_data(r), "escrowed") == 0);
		errno = 0;
		ZT_CHECK(zcp_chunk_receive(cm, t) == NULL && errno == ESTALE); /* taken once */
		ZT_CHECK(zcp_chunk_release(cm, r) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	zt_ok_child(pid, "receiver takes the reference once, reads, releases");
	zcp_chunk *d = zcp_chunk_get(m, 100); /* collects the lent reference */
	is_int((long long)used0(m), 1, "after the take, the sender's lent reference is dropped");
	zcp_chunk_release(m, d);
	is_int((long long)used0(m), 0, "and the chunk went back");

	/* Forged and misdirected tickets. */
	c = zcp_chunk_get(m, 100);
	is_int(zcp_chunk_send(m, c, 1, &t), 0, "send to pid 1 only");
	errno = 0;
	ok(!zcp_chunk_receive(m, t) && errno == EACCES, "another process cannot take it");
	errno = 0;
	ok(!zcp_chunk_receive(m, t ^ 1) && errno == ESTALE, "a forged nonce claims nothing");
	errno = 0;
	ok(!zcp_chunk_receive(m, 0) && errno == EINVAL, "ticket 0 is malformed");
	ok(!zcp_chunk_receive(m, UINT64_MAX), "ticket ~0 refused");
	is_int(zcp_chunk_unsend(m, t), 0, "the sender cancels it");
	is_int(zcp_chunk_unsend(m, t), ZCP_ESTALE, "cancel twice -> ESTALE");
	ok(zcp_chunk_refcount(c) == 1, "cancel dropped the lent reference");

	/* Sixteen records per process. */
	uint64_t many[ZCP_ESCROW_SLOTS + 1];
	int sent = 0;
	while (sent <= ZCP_ESCROW_SLOTS && zcp_chunk_send(m, c, 0, &many[sent]) == 0)
		sent++;
	is_int(sent, ZCP_ESCROW_SLOTS, "ZCP_ESCROW_SLOTS tickets in flight at most");
	is_int(zcp_chunk_send(m, c, 0, &t), ZCP_ENOSPC, "then ENOSPC");
	for (int i = 0; i < sent; i++)
		zcp_chunk_unsend(m, many[i]);
	ok(zcp_chunk_refcount(c) == 1, "all cancelled");
	zcp_chunk_release(m, c);
	is_int(zcp_chunk_send(m, c, 0, &t), ZCP_EALREADY, "cannot send what we do not hold");
	is_int(zcp_chunk_send(m, NULL, 0, &t), ZCP_EINVAL, "send NULL");

	/* The sender dies with a ticket in flight: reclaim frees the chunk,
	 * the ticket is stale. */
	pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		uint64_t tt;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		zcp_chunk *x = zcp_chunk_get(cm, 100);
		ZT_CHECK(x && zcp_chunk_send(cm, x, 0, &tt) == 0 && zcp_chunk_release(cm, x) == 0);
		ZT_CHECK(write(p[1], &tt, sizeof tt) == sizeof tt);
		_exit(0); /* dies without detaching */
	}
	zt_ok_child(pid, "a sender posts a ticket and dies");
	ok(read(p[0], &t, sizeof t) == sizeof t, "ticket read");
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1 && used0(m) == 0,
	   "reclaim frees the dead sender's escrowed chunk");
	errno = 0;
	ok(!zcp_chunk_receive(m, t) && errno == ESTALE, "its ticket is stale");
	is_int(zcp_mempool_manager_check(m), 0, "free lists whole");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
