/* SPDX-License-Identifier: MIT */
/*
 * Attacks "Only the dead are reclaimed" and "Reclaim is safe beside live
 * traffic, from any process, twice ... The slot is freed for reuse only
 * after all its references are gone" (README, Crash safety): a reclaimer
 * that decided a slot was dead and is delayed must never reclaim the
 * slot's next, live occupant.
 *
 * Two processes loop zcp_mempool_manager_reclaim() while short-lived
 * processes, more than there are free slots of a 6-slot table, attach
 * (retrying ZCP_EUSERS), take 1-4 chunks, stamp them, check them and their
 * slot a few times, then detach, die attached (_exit) or SIGKILL
 * themselves; the parent also SIGKILLs some.  No live process may ever
 * find a chunk of its overwritten or no longer held (release != 0), nor
 * its slot no longer its own (self, its pid, alive).  At the end, all
 * stopped and reclaimed: nothing in use, every chunk free once, only our
 * slot occupied.  5 s in make check; ZCP_TEST_ITERS / 1000 s (at least 5)
 * under make stress.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define SLOTS 6
#define CHUNK 256
#define COUNT 64
#define MAXHOLD 4
#define WORKERS 5 /* live at once: more than the SLOTS - 3 free slots */
#define RECLAIMERS 2

struct box {
	_Atomic int stop, reclaimers_ready;
	_Atomic long attached, eusers_gaveup, attach_err, robbed_procs, robbed_stamp, robbed_release,
		robbed_slot, detached, died, reclaimed_procs, reclaim_err, rec_attach_err;
	_Atomic int last_err;
};

static struct box *box;
static const char *name;

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
	nanosleep(&ts, NULL);
}

static void stamp(zcp_chunk *c, uint64_t tag)
{
	uint64_t *d = zcp_chunk_data(c);
	for (size_t i = 0; i < CHUNK / 8; i++)
		d[i] = tag ^ ((uint64_t)i << 56);
}

static int stamp_ok(zcp_chunk *c, uint64_t tag)
{
	const volatile uint64_t *d = zcp_chunk_data(c);
	for (size_t i = 0; i < CHUNK / 8; i++)
		if (d[i] != (tag ^ ((uint64_t)i << 56)))
			return 0;
	return 1;
}

static void reclaimer(void)
{
	zcp_mempool_manager *m;
	int err = zcp_mempool_manager_attach(name, &m);
	atomic_fetch_add(&box->reclaimers_ready, 1);
	if (err) {
		atomic_fetch_add(&box->rec_attach_err, 1);
		ZT_NOTE("reclaimer: attach: %s", zcp_strerror(err));
		_exit(1);
	}
	while (!atomic_load(&box->stop)) {
		zcp_reclaim_report rep;
		memset(&rep, 0, sizeof rep);
		int r = zcp_mempool_manager_reclaim(m, &rep);
		if (r != 0)
			atomic_fetch_add(&box->reclaim_err, 1);
		atomic_fetch_add(&box->reclaimed_procs, (long)rep.processes);
	}
	zcp_mempool_manager_detach(m);
	_exit(0);
}

/* Is `slot` still ours?  self, our pid, alive, and our id if listed. */
static int slot_ours(zcp_mempool_manager *m, int slot, uint64_t id)
{
	zcp_process_info pi;
	if (slot < 0 || zcp_mempool_manager_process(m, slot, &pi) != 0)
		return 0;
	return pi.self == 1 && pi.pid == getpid() && pi.alive == 1 && (pi.id == 0 || pi.id == id);
}

static void worker(uint64_t seed)
{
	zcp_mempool_manager *m = NULL;
	zcp_chunk *c[MAXHOLD];
	uint64_t tag[MAXHOLD];
	int err = ZCP_EUSERS;
	for (int tries = 0; tries < 2000 && err == ZCP_EUSERS; tries++) {
		err = zcp_mempool_manager_attach(name, &m);
		if (err == ZCP_EUSERS)
			sleep_us(200 + (long)(xorshift(&seed) % 300));
	}
	if (err) {
		if (err == ZCP_EUSERS)
			atomic_fetch_add(&box->eusers_gaveup, 1);
		else {
			atomic_fetch_add(&box->attach_err, 1);
			atomic_store(&box->last_err, err);
		}
		_exit(0);
	}
	atomic_fetch_add(&box->attached, 1);
	uint64_t id = zcp_mempool_manager_process_id(m);
	int slot = -1;
	for (int s = 0; s < zcp_mempool_manager_process_slots(m); s++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, s, &pi) == 0 && pi.self)
			slot = s;
	}
	int n = 1 + (int)(xorshift(&seed) % MAXHOLD), held = 0;
	for (int i = 0; i < n; i++) {
		if (!(c[held] = zcp_chunk_get(m, CHUNK)))
			continue;
		tag[held] = ((uint64_t)getpid() << 20) ^ (xorshift(&seed) & 0xfffff) ^ ((uint64_t)i << 48);
		stamp(c[held], tag[held]);
		held++;
	}
	int bad_stamp = 0, bad_slot = !slot_ours(m, slot, id), bad_rel = 0;
	int checks = 2 + (int)(xorshift(&seed) % 6);
	for (int k = 0; k < checks; k++) {
		uint64_t r = xorshift(&seed) % 4;
		if (r == 0)
			sched_yield();
		else if (r == 1)
			sleep_us((long)(xorshift(&seed) % 500));
		else if (r == 2) {
			/* Traffic: take, stamp and give back one more chunk. */
			zcp_chunk *x = zcp_chunk_get(m, CHUNK);
			if (x) {
				memset(zcp_chunk_data(x), 0x5A, CHUNK);
				if (zcp_chunk_release(m, x) != 0)
					bad_rel++;
			}
		}
		for (int i = 0; i < held; i++)
			bad_stamp += !stamp_ok(c[i], tag[i]);
		bad_slot += !slot_ours(m, slot, id);
	}
	int end = (int)(xorshift(&seed) % 3);
	if (end == 0) {
		for (int i = 0; i < held; i++) {
			bad_stamp += !stamp_ok(c[i], tag[i]);
			if (zcp_chunk_release(m, c[i]) != 0)
				bad_rel++;
		}
		bad_slot += !slot_ours(m, slot, id);
	}
	if (bad_stamp || bad_slot || bad_rel) {
		atomic_fetch_add(&box->robbed_procs, 1);
		atomic_fetch_add(&box->robbed_stamp, bad_stamp);
		atomic_fetch_add(&box->robbed_slot, bad_slot);
		atomic_fetch_add(&box->robbed_release, bad_rel);
	}
	if (end == 0) {
		zcp_mempool_manager_detach(m);
		atomic_fetch_add(&box->detached, 1);
		_exit(0);
	}
	atomic_fetch_add(&box->died, 1);
	if (end == 1)
		_exit(0); /* dies attached */
	raise(SIGKILL);
	_exit(0);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	plan_lazy();
	box = mmap(NULL, sizeof *box, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (box == MAP_FAILED)
		bail("mmap");
	name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	zcp_mempool_config_add_entry(cfg, CHUNK, COUNT);
	zcp_mempool_config_set_max_processes(cfg, SLOTS);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);

	long iters = zt_iters(0);
	double secs = iters ? (double)iters / 1000.0 : 5.0;
	if (secs < 5)
		secs = 5;
	secs *= (double)zt_slowdown(); /* as many processes as natively */
	pid_t rec[RECLAIMERS];
	for (int i = 0; i < RECLAIMERS; i++)
		if ((rec[i] = zt_fork()) == 0)
			reclaimer();
	for (int i = 0; i < 5000 && atomic_load(&box->reclaimers_ready) < RECLAIMERS; i++)
		sleep_us(1000);

	pid_t w[WORKERS] = {0};
	uint64_t seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	long spawned = 0, killed = 0;
	double t0 = now_s();
	while (now_s() - t0 < secs) {
		for (int i = 0; i < WORKERS; i++) {
			if (w[i] > 0) {
				int st;
				pid_t r = waitpid(w[i], &st, WNOHANG);
				if (r == 0)
					continue;
				w[i] = 0;
			}
			uint64_t s = xorshift(&seed);
			w[i] = zt_fork();
			if (w[i] == 0)
				worker(s | 1);
			spawned++;
		}
		sleep_us(200 + (long)(xorshift(&seed) % 800));
		if (xorshift(&seed) % 8 == 0) {
			int i = (int)(xorshift(&seed) % WORKERS);
			if (w[i] > 0 && kill(w[i], SIGKILL) == 0)
				killed++;
		}
	}
	for (int i = 0; i < WORKERS; i++)
		if (w[i] > 0) {
			kill(w[i], SIGKILL);
			zt_wait(w[i], NULL);
		}
	atomic_store(&box->stop, 1);
	for (int i = 0; i < RECLAIMERS; i++)
		zt_ok_child(rec[i], "reclaimer %d ran and detached", i);

	zcp_reclaim_report rep;
	memset(&rep, 0, sizeof rep);
	zcp_mempool_manager_reclaim(m, &rep);
	diag("%.0f s: %ld processes started, %ld attached (%ld gave up on ZCP_EUSERS), %ld detached, %ld died attached, %ld killed by us; reclaimers freed %ld slots",
	     secs, spawned, atomic_load(&box->attached), atomic_load(&box->eusers_gaveup),
	     atomic_load(&box->detached), atomic_load(&box->died), killed, atomic_load(&box->reclaimed_procs));
	is_int(atomic_load(&box->rec_attach_err), 0, "both reclaimers attached");
	ok(atomic_load(&box->attached) > 50, "short-lived processes attached (%ld)", atomic_load(&box->attached));
	ok(atomic_load(&box->attach_err) == 0, "no attach failed other than with ZCP_EUSERS (%ld, last %s)",
	   atomic_load(&box->attach_err), zcp_err_name(atomic_load(&box->last_err)));
	ok(atomic_load(&box->robbed_procs) == 0,
	   "no live process was robbed: %ld of %ld lost something (%ld chunk checks failed, %ld releases failed, %ld slot checks failed)",
	   atomic_load(&box->robbed_procs), atomic_load(&box->attached), atomic_load(&box->robbed_stamp),
	   atomic_load(&box->robbed_release), atomic_load(&box->robbed_slot));
	is_int(atomic_load(&box->reclaim_err), 0, "every reclaim call returned 0");
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	is_int((long long)st.used, 0, "at the end, all stopped and reclaimed: nothing in use");
	is_int(zcp_mempool_manager_check(m), 0, "at the end every chunk is on its free list once");
	int others = 0;
	for (int s = 0; s < zcp_mempool_manager_process_slots(m); s++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, s, &pi) == 0 && pi.pid && !pi.self)
			others++;
	}
	is_int(others, 0, "at the end only our slot is occupied");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
