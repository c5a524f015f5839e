/* SPDX-License-Identifier: MIT */
/*
 * Attacks "A manager outlives its creator" and attach's promise of
 * ZCP_EUSERS only when the "process table [is] full even after reclaiming
 * dead processes" (pool.h), with a small table whose dead slot is the
 * creator's (slot 0).
 *
 * max_processes 2: a server creates the manager and takes chunks, a client
 * attaches and stamps chunks, the server is SIGKILLed.  A new attach must
 * succeed (taking over the dead server's slot), see the creator dead, and
 * the client alive with its chunks intact after the newcomer took and
 * overwrote every free chunk.  With the table then full of live processes,
 * a third attach answers ZCP_EUSERS; a read-only attach still works and
 * describes the table; after the newcomer detaches, attach works again.
 * max_processes 1: the dead creator's only slot is taken over.  And the
 * same with the dead slot being a client's (the creator alive).
 */
#define _GNU_SOURCE
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define CHUNK 256
#define COUNT 16

struct box {
	_Atomic int s_ready, s_err, c_ready, c_err, c_verify, c_bad, c_rel, c_done;
};

static struct box *box;
static const char *name;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int wait_for(_Atomic int *v, int want, long ms)
{
	for (long i = 0; i < ms && atomic_load(v) < want; i++)
		sleep_ms(1);
	return atomic_load(v) >= want;
}

static void stamp(zcp_chunk *c, uint64_t tag)
{
	uint64_t *d = zcp_chunk_data(c);
	for (size_t i = 0; i < CHUNK / 8; i++)
		d[i] = tag + i;
}

static int stamp_ok(zcp_chunk *c, uint64_t tag)
{
	const volatile uint64_t *d = zcp_chunk_data(c);
	for (size_t i = 0; i < CHUNK / 8; i++)
		if (d[i] != tag + i)
			return 0;
	return 1;
}

static uint64_t used(zcp_mempool_manager *m)
{
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	return st.used;
}

static pid_t server(unsigned slots, int hold)
{
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_config *cfg = zcp_mempool_config_new();
		zcp_mempool_manager *m;
		zcp_mempool_config_add_entry(cfg, CHUNK, COUNT);
		zcp_mempool_config_set_max_processes(cfg, slots);
		int err = zcp_mempool_manager_create(name, cfg, &m);
		atomic_store(&box->s_err, err);
		ZT_CHECK(err == 0);
		for (int i = 0; i < hold; i++)
			zcp_chunk_get(m, CHUNK);
		atomic_store(&box->s_ready, 1);
		for (;;)
			pause();
	}
	return pid;
}

/* A client holding 3 stamped chunks; checks them on c_verify, then
 * releases and detaches on c_verify == 2. */
static pid_t client(void)
{
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *m;
		zcp_chunk *c[3];
		int err = zcp_mempool_manager_attach(name, &m);
		atomic_store(&box->c_err, err);
		if (err) {
			atomic_store(&box->c_ready, 1);
			ZT_NOTE("client: attach: %s", zcp_strerror(err));
			_exit(1);
		}
		for (int i = 0; i < 3; i++) {
			c[i] = zcp_chunk_get(m, CHUNK);
			ZT_CHECK(c[i] != NULL);
			stamp(c[i], 0xC11E47 + (uint64_t)i * 1000);
		}
		atomic_store(&box->c_ready, 1);
		int bad = 0;
		while (atomic_load(&box->c_verify) < 2) {
			for (int i = 0; i < 3; i++)
				bad |= !stamp_ok(c[i], 0xC11E47 + (uint64_t)i * 1000);
			sleep_ms(1);
		}
		int rel = 0;
		for (int i = 0; i < 3; i++)
			rel += zcp_chunk_release(m, c[i]) != 0;
		atomic_store(&box->c_bad, bad);
		atomic_store(&box->c_rel, rel);
		zcp_mempool_manager_detach(m);
		atomic_store(&box->c_done, 1);
		_exit(0);
	}
	return pid;
}

static int try_attach_in_child(void)
{
	_Atomic int *r = &box->s_err;
	atomic_store(r, 1);
	pid_t p = zt_fork();
	if (p == 0) {
		zcp_mempool_manager *m;
		int err = zcp_mempool_manager_attach(name, &m);
		atomic_store(r, err);
		if (!err)
			zcp_mempool_manager_detach(m);
		_exit(0);
	}
	zt_wait(p, NULL);
	return atomic_load(r);
}

static void dead_server_two_slots(void)
{
	name = zt_name();
	memset(box, 0, sizeof *box);
	pid_t s = server(2, 2);
	if (!wait_for(&box->s_ready, 1, 5000))
		bail("server: %s", zcp_strerror(atomic_load(&box->s_err)));
	pid_t c = client();
	wait_for(&box->c_ready, 1, 5000);
	is_int(atomic_load(&box->c_err), 0, "2 slots: a client attached beside the server");
	kill(s, SIGKILL);
	zt_wait(s, NULL);

	zcp_mempool_manager *m = NULL;
	int err = zcp_mempool_manager_attach(name, &m);
	ok(err == 0, "2 slots, server SIGKILLed, client alive: a new attach succeeds (got %s)", zcp_err_name(err));
	if (err) {
		/* Show the table as a read-only observer sees it. */
		zcp_attach_options o;
		zcp_attach_options_init(&o);
		o.read_only = 1;
		zcp_mempool_manager *ro;
		int rerr = zcp_mempool_manager_attach_opts(name, &o, &ro);
		ok(rerr == 0, "2 slots, server dead, table full: a read-only attach works (got %s)", zcp_err_name(rerr));
		if (rerr == 0) {
			for (int i = 0; i < zcp_mempool_manager_process_slots(ro); i++) {
				zcp_process_info pi;
				zcp_mempool_manager_process(ro, i, &pi);
				diag("  slot %d: pid %lld alive %d chunks %llu", i, (long long)pi.pid, pi.alive,
				     (unsigned long long)pi.chunks);
			}
			zcp_mempool_manager_detach(ro);
		}
		atomic_store(&box->c_verify, 2);
		zt_wait(c, NULL);
		ok(atomic_load(&box->c_bad) == 0 && atomic_load(&box->c_rel) == 0,
		   "2 slots: the client's chunks stayed its own");
		zcp_mempool_manager_unlink(name);
		return;
	}
	is_int(zcp_mempool_manager_creator_alive(m), 0, "2 slots: the newcomer sees the creator dead");
	zcp_reclaim_report rep;
	zcp_mempool_manager_reclaim(m, &rep);
	is_int((long long)used(m), 3, "2 slots: the dead server's chunks are reclaimed, the client's are not");
	int live = 0;
	for (int i = 0; i < zcp_mempool_manager_process_slots(m); i++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, i, &pi) == 0 && pi.pid && !pi.self && pi.alive && pi.chunks == 3)
			live++;
	}
	is_int(live, 1, "2 slots: the client is listed alive with its 3 chunks");
	zcp_chunk *got[COUNT];
	int n = 0;
	while (n < COUNT && (got[n] = zcp_chunk_get(m, CHUNK)) != NULL)
		memset(zcp_chunk_data(got[n++]), 0xEE, CHUNK);
	is_int(n, COUNT - 3, "2 slots: the newcomer can take exactly the free chunks");
	while (n > 0)
		zcp_chunk_release(m, got[--n]);
	is_int(try_attach_in_child(), ZCP_EUSERS, "2 slots, both live: a third attach answers ZCP_EUSERS");
	zcp_attach_options o;
	zcp_attach_options_init(&o);
	o.read_only = 1;
	zcp_mempool_manager *ro = NULL;
	is_int(zcp_mempool_manager_attach_opts(name, &o, &ro), 0, "2 slots, both live: a read-only attach works");
	if (ro) {
		is_int(zcp_mempool_manager_creator_alive(ro), 0, "read-only: the creator is dead");
		zcp_mempool_manager_detach(ro);
	}
	zcp_mempool_manager_detach(m);
	is_int(try_attach_in_child(), 0, "2 slots: after the newcomer detached, attach works again");
	atomic_store(&box->c_verify, 2);
	wait_for(&box->c_done, 1, 5000);
	zt_wait(c, NULL);
	ok(atomic_load(&box->c_bad) == 0 && atomic_load(&box->c_rel) == 0,
	   "2 slots: the client's chunks stayed intact and its own through it all");
	zcp_mempool_manager_unlink(name);
}

static void dead_server_one_slot(void)
{
	name = zt_name();
	memset(box, 0, sizeof *box);
	pid_t s = server(1, 4);
	if (!wait_for(&box->s_ready, 1, 5000))
		bail("server: %s", zcp_strerror(atomic_load(&box->s_err)));
	kill(s, SIGKILL);
	zt_wait(s, NULL);
	zcp_mempool_manager *m = NULL;
	int err = zcp_mempool_manager_attach(name, &m);
	ok(err == 0, "1 slot, server SIGKILLed: a new attach takes over its slot (got %s)", zcp_err_name(err));
	if (m) {
		zcp_mempool_manager_reclaim(m, NULL);
		ok(used(m) == 0 && zcp_mempool_manager_check(m) == 0, "1 slot: the dead server's chunks are back");
		zcp_mempool_manager_detach(m);
	}
	zcp_mempool_manager_unlink(name);
}

static void dead_client(void)
{
	name = zt_name();
	memset(box, 0, sizeof *box);
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	zcp_mempool_config_add_entry(cfg, CHUNK, COUNT);
	zcp_mempool_config_set_max_processes(cfg, 2);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	pid_t c = client();
	wait_for(&box->c_ready, 1, 5000);
	kill(c, SIGKILL);
	zt_wait(c, NULL);
	is_int(try_attach_in_child(), 0, "2 slots, a client SIGKILLed: a new attach takes over its slot");
	zcp_mempool_manager_reclaim(m, NULL);
	ok(used(m) == 0 && zcp_mempool_manager_check(m) == 0, "2 slots: the dead client's chunks are back");
	zcp_mempool_manager_destroy(m);
}

int main(void)
{
	plan_lazy();
	box = mmap(NULL, sizeof *box, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (box == MAP_FAILED)
		bail("mmap");
	dead_server_two_slots();
	dead_server_one_slot();
	dead_client();
	zt_done();
	return done_testing();
}
