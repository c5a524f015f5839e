/* SPDX-License-Identifier: MIT */
/* zcp_chunk_ref() after zcp_chunk_from_handle() while another thread of
 * the process holds the chunk: the reference is to the generation the
 * handle named, and no other.
 *
 * Thread A resolves the handle of a chunk that the main thread holds (a
 * count of 1 in the process's view, at the handle's generation) and calls
 * ref(); it checks the view's generation, then takes the count with a
 * compare-and-swap 1 -> 2.  Parked between the two (crash-point hook at
 * ref.checked), the main thread releases the chunk and gets it again: a
 * new generation, and the count is 1 again.  The count alone cannot tell:
 * the CAS succeeds, and A holds the new generation it never named (the
 * one-core variant of attack-view-race saw it, once: "ref granted a
 * reference to another generation").  zcp_chunk_receive() takes its
 * reference the same way, but a ticket's chunk cannot change generation
 * while the ticket is live (the lent reference keeps it), and a receive
 * that got in late fails on the entry and gives its reference back: the
 * second round checks that it stays so.
 */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "crashpoint.h"

static _Thread_local int is_a;
static _Atomic int parked, go;

static void hook(const char *name)
{
	if (is_a && strcmp(name, "ref.checked") == 0) {
		atomic_store(&parked, 1);
		while (!atomic_load(&go))
			usleep(100);
	}
}

struct arg {
	zcp_mempool_manager *m;
	uint64_t handle, ticket;
	zcp_chunk *c;
	int err;
};

static void *thread_a(void *p)
{
	struct arg *a = p;
	is_a = 1;
	if (a->ticket) {
		errno = 0;
		a->c = zcp_chunk_receive(a->m, a->ticket);
		a->err = a->c ? 0 : -errno;
		return NULL;
	}
	a->c = zcp_chunk_from_handle(a->m, a->handle);
	a->err = a->c ? zcp_chunk_ref(a->m, a->c) : ZCP_EINVAL;
	return NULL;
}

static int wait_parked(void)
{
	for (int i = 0; i < 100000 && !atomic_load(&parked); i++)
		usleep(100);
	return atomic_load(&parked);
}

/* One round: the main thread holds X; A resolves (or receives) it and is
 * parked inside ref(); X is released and taken again; A goes on. */
static void round_of(zcp_mempool_manager *m, int by_ticket)
{
	const char *how = by_ticket ? "receive" : "from_handle+ref";
	atomic_store(&parked, 0);
	atomic_store(&go, 0);
	zcp_chunk *x = zcp_chunk_get(m, 64);
	ZT_REQUIRE(x);
	memset(zcp_chunk_data(x), 'O', 64);
	struct arg a = {m, zcp_chunk_handle(m, x), 0, NULL, -1};
	if (by_ticket) {
		/* The lent reference is the count of 1 A finds. */
		ZT_REQUIRE(zcp_chunk_send(m, x, 0, &a.ticket) == 0);
		ZT_REQUIRE(zcp_chunk_release(m, x) == 0);
	}
	pthread_t t;
	ZT_REQUIRE(pthread_create(&t, NULL, thread_a, &a) == 0);
	if (!wait_parked())
		bail("%s: thread A never reached ref.checked", how);
	/* X goes back to the pool and comes out again: a new generation,
	 * and the process's count is 1 again. */
	if (by_ticket) {
		ZT_REQUIRE(zcp_chunk_unsend(m, a.ticket) == 0);
	} else {
		ZT_REQUIRE(zcp_chunk_release(m, x) == 0);
	}
	zcp_chunk *y = zcp_chunk_get(m, 64);
	ZT_REQUIRE(y == x);
	memset(zcp_chunk_data(y), 'N', 64);
	uint64_t h2 = zcp_chunk_handle(m, y);
	ZT_REQUIRE(h2 != a.handle);
	atomic_store(&go, 1);
	pthread_join(t, NULL);
	is_int(a.err, ZCP_ESTALE, "%s of the old generation while we hold the new one: ESTALE", how);
	if (a.err == 0) {
		diag("granted: handle now %llx, asked %llx",
		     (unsigned long long)zcp_chunk_handle(m, a.c), (unsigned long long)a.handle);
		zcp_chunk_release(m, a.c);
	}
	is_int((long long)zcp_chunk_refcount(y), 1, "%s: our new holding's count is untouched", how);
	ok(zcp_chunk_handle(m, y) == h2 && ((char *)zcp_chunk_data(y))[0] == 'N',
	   "%s: our new holding unchanged", how);
	ZT_REQUIRE(zcp_chunk_release(m, y) == 0);
	zcp_pool_stats s;
	ZT_REQUIRE(zcp_mempool_manager_pool_stats(m, 0, &s) == 0);
	is_int((long long)s.used, 0, "%s: the pool is whole", how);
}

int main(void)
{
	plan_lazy();
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 1);
	zcp_mempool_manager *m;
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	zcp__crash_hook(hook);
	round_of(m, 0);
	round_of(m, 1);
	zcp__crash_hook(NULL);
	is_int(zcp_mempool_manager_check(m), 0, "check()");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
