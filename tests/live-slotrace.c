/* SPDX-License-Identifier: MIT */
/*
 * Attacks the process table's promise: "Every attached process owns a slot
 * in the manager's process table" (README, Crash safety) — one process a
 * slot — and zcp_mempool_manager_process_id() "naming its process slot and
 * that slot's incarnation", when dead slots are taken over at the same
 * instant.
 *
 * Each round: 7 of 8 slots are held by processes holding chunks, which are
 * SIGKILLed and reaped (the 8th is ours, the creator).  Then 7 new
 * processes, released at once from a barrier in shared memory, attach:
 * every one must succeed (attach reclaims dead slots), see exactly one slot
 * of its own, and get a slot and a process id no other live attacher has.
 * Each stamps two chunks; half of them detach, we take and overwrite every
 * free chunk, and the other half must find their chunks intact, still held
 * (release answers 0) and their slot still theirs.
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

#define SLOTS 8
#define N (SLOTS - 1)
#define CHUNK 256
#define COUNT 64
#define HOLD 2

struct racer {
	_Atomic int err, slot, selves, bad, release_bad, slot_lost;
	_Atomic uint64_t id;
};

struct box {
	_Atomic int arrived, go, stamped, detached, phase, done, victims_ready, victims_err;
	struct racer r[N];
};

static struct box *box;
static const char *name;

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
	nanosleep(&ts, NULL);
}

static void spin_until(_Atomic int *v, int want)
{
	for (long i = 0; atomic_load(v) < want; i++) {
		ZT_CHECK(i <= 20000000);
		if (i & 1)
			sched_yield();
		if (i > 100000)
			sleep_us(100);
	}
}

static void stamp(zcp_chunk *c, uint64_t tag)
{
	uint64_t *d = zcp_chunk_data(c);
	for (size_t i = 0; i < CHUNK / 8; i++)
		d[i] = tag ^ ((uint64_t)i << 48);
}

static int stamp_ok(zcp_chunk *c, uint64_t tag)
{
	const volatile uint64_t *d = zcp_chunk_data(c);
	for (size_t i = 0; i < CHUNK / 8; i++)
		if (d[i] != (tag ^ ((uint64_t)i << 48)))
			return 0;
	return 1;
}

static void victim(void)
{
	zcp_mempool_manager *m;
	int err = zcp_mempool_manager_attach(name, &m);
	if (err) {
		atomic_store(&box->victims_err, err);
		atomic_fetch_add(&box->victims_ready, 1);
		ZT_NOTE("victim: attach: %s", zcp_strerror(err));
		_exit(1);
	}
	for (int i = 0; i < HOLD; i++)
		zcp_chunk_get(m, CHUNK);
	atomic_fetch_add(&box->victims_ready, 1);
	for (;;)
		pause();
}

static int own_slot(zcp_mempool_manager *m, int *selves)
{
	zcp_process_info pi;
	int slot = -1;
	*selves = 0;
	for (int s = 0; s < zcp_mempool_manager_process_slots(m); s++)
		if (zcp_mempool_manager_process(m, s, &pi) == 0 && pi.self) {
			(*selves)++;
			if (slot < 0 && pi.pid == getpid() && pi.alive)
				slot = s;
		}
	return slot;
}

static void racer(int k, long round)
{
	struct racer *r = &box->r[k];
	zcp_mempool_manager *m;
	zcp_chunk *c[HOLD];
	atomic_fetch_add(&box->arrived, 1);
	spin_until(&box->go, 1);
	int err = zcp_mempool_manager_attach(name, &m);
	atomic_store(&r->err, err);
	if (err) {
		atomic_fetch_add(&box->stamped, 1);
		ZT_NOTE("attacher: attach: %s", zcp_strerror(err));
		_exit(1);
	}
	int selves;
	int slot = own_slot(m, &selves);
	uint64_t id = zcp_mempool_manager_process_id(m);
	atomic_store(&r->slot, slot);
	atomic_store(&r->selves, selves);
	atomic_store(&r->id, id);
	int got = 0;
	for (int i = 0; i < HOLD; i++)
		if ((c[i] = zcp_chunk_get(m, CHUNK)) != NULL) {
			stamp(c[i], ((uint64_t)round << 24) | ((uint64_t)k << 8) | (uint64_t)i);
			got++;
		}
	if (got != HOLD)
		atomic_store(&r->bad, 100);
	atomic_fetch_add(&box->stamped, 1);
	spin_until(&box->phase, 1);
	int bad = 0, relbad = 0;
	if (k & 1) {
		/* Detach at once, after a check. */
		for (int i = 0; i < got; i++)
			bad += !stamp_ok(c[i], ((uint64_t)round << 24) | ((uint64_t)k << 8) | (uint64_t)i);
		atomic_store(&r->bad, bad);
		zcp_mempool_manager_detach(m);
		atomic_fetch_add(&box->detached, 1);
		_exit(0);
	}
	spin_until(&box->phase, 2); /* the others detached, the free chunks were overwritten */
	for (int i = 0; i < got; i++)
		bad += !stamp_ok(c[i], ((uint64_t)round << 24) | ((uint64_t)k << 8) | (uint64_t)i);
	int s2 = own_slot(m, &selves);
	atomic_store(&r->slot_lost, s2 != slot || selves != 1);
	for (int i = 0; i < got; i++)
		relbad += zcp_chunk_release(m, c[i]) != 0;
	atomic_store(&r->bad, bad);
	atomic_store(&r->release_bad, relbad);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

static uint64_t used(zcp_mempool_manager *m)
{
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	return st.used;
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

	/* make check: as many rounds as fit in 5 s (at least 30); make stress:
	 * ZCP_TEST_ITERS / 100 rounds (at least 120). */
	long rounds = zt_iters(0) ? zt_iters(0) / 100 : 100000;
	if (zt_iters(0) && rounds < 120)
		rounds = 120;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long bad_victims = 0, bad_attach = 0, shared_slot = 0, no_self = 0, dup_id = 0, zero_id = 0;
	long lost_stamp = 0, bad_release = 0, slot_lost = 0, bad_after = 0, timeouts = 0;
	long shared_rounds = 0, lost_rounds = 0;
	long round;
	for (round = 0; round < rounds; round++) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (!zt_iters(0) && round >= 30 && t1.tv_sec - t0.tv_sec >= 5)
			break;
		memset(box, 0, sizeof *box);
		pid_t v[N], r[N];
		for (int k = 0; k < N; k++)
			if ((v[k] = zt_fork()) == 0)
				victim();
		for (int i = 0; i < 25000 && atomic_load(&box->victims_ready) < N; i++)
			sleep_us(200);
		if (atomic_load(&box->victims_err)) {
			if (bad_victims++ < 3)
				diag("round %ld: a victim could not attach: %s", round,
				     zcp_strerror(atomic_load(&box->victims_err)));
		}
		for (int k = 0; k < N; k++)
			kill(v[k], SIGKILL);
		for (int k = 0; k < N; k++)
			zt_wait(v[k], NULL);
		for (int k = 0; k < N; k++) {
			atomic_store(&box->r[k].slot, -2);
			if ((r[k] = zt_fork()) == 0)
				racer(k, round);
		}
		for (int i = 0; i < 25000 && atomic_load(&box->arrived) < N; i++)
			sleep_us(200);
		atomic_store(&box->go, 1);
		for (int i = 0; i < 5000 && atomic_load(&box->stamped) < N; i++)
			sleep_us(200);
		int attached = 0, odd_attached = 0;
		for (int k = 0; k < N; k++)
			if (atomic_load(&box->r[k].err) == 0) {
				attached++;
				odd_attached += k & 1;
			}
		atomic_store(&box->phase, 1);
		int i;
		for (i = 0; i < 5000 && atomic_load(&box->detached) < odd_attached; i++)
			sleep_us(200);
		timeouts += i == 5000;
		/* Take and overwrite every free chunk, then give them back. */
		zcp_chunk *got[COUNT];
		int n = 0;
		while (n < COUNT && (got[n] = zcp_chunk_get(m, CHUNK)) != NULL)
			memset(zcp_chunk_data(got[n++]), 0xEE, CHUNK);
		while (n > 0)
			zcp_chunk_release(m, got[--n]);
		atomic_store(&box->phase, 2);
		for (int k = 0; k < N; k++)
			zt_wait(r[k], NULL);

		int round_shared = 0, round_lost = 0;
		for (int k = 0; k < N; k++) {
			struct racer *a = &box->r[k];
			if (a->err) {
				if (bad_attach++ < 3)
					diag("round %ld: racer %d attach: %s", round, k, zcp_strerror(a->err));
				continue;
			}
			if (a->slot < 0 || a->selves != 1) {
				if (no_self++ < 3)
					diag("round %ld: racer %d sees %d slots of its own (slot %d)", round, k,
					     a->selves, a->slot);
			}
			zero_id += a->id == 0;
			lost_stamp += a->bad;
			round_lost += a->bad + a->release_bad;
			bad_release += a->release_bad;
			slot_lost += a->slot_lost;
			for (int j = 0; j < k; j++) {
				struct racer *b = &box->r[j];
				if (b->err)
					continue;
				if (a->slot >= 0 && a->slot == b->slot) {
					shared_slot++;
					round_shared = 1;
					if (shared_slot <= 3)
						diag("round %ld: racers %d and %d, both alive, share slot %d", round, j, k,
						     a->slot);
				}
				if (a->id && a->id == b->id)
					dup_id++;
			}
		}
		shared_rounds += round_shared;
		lost_rounds += round_lost > 0;
		zcp_reclaim_report rep;
		zcp_mempool_manager_reclaim(m, &rep);
		if (used(m) != 0 || zcp_mempool_manager_check(m) != 0) {
			if (bad_after++ < 3)
				diag("round %ld: after all detached and a reclaim, used %llu, check %d", round,
				     (unsigned long long)used(m), zcp_mempool_manager_check(m));
		}
	}
	rounds = round;
	diag("%ld rounds of %d simultaneous attaches over %d dead slots", rounds, N, N);
	is_int(bad_victims, 0, "every round's 7 holders could attach (dead slots of the last round reclaimed)");
	is_int(bad_attach, 0, "every simultaneous attacher got a slot (no ZCP_EUSERS with 7 dead slots)");
	is_int(no_self, 0, "every attacher sees exactly one slot of its own, with its pid");
	ok(shared_slot == 0, "no two live attachers share a slot (%ld pairs, in %ld of %ld rounds)", shared_slot,
	   shared_rounds, rounds);
	is_int(zero_id, 0, "every attacher has a nonzero process id");
	is_int(dup_id, 0, "no two live attachers have the same process id");
	ok(lost_stamp == 0 && bad_release == 0,
	   "no attacher's chunk was dropped or overwritten by another's detach (%ld overwritten, %ld releases failed, in %ld of %ld rounds)",
	   lost_stamp, bad_release, lost_rounds, rounds);
	is_int(slot_lost, 0, "no attacher lost its slot to another's detach");
	is_int(timeouts, 0, "no round timed out");
	is_int(bad_after, 0, "after every round: nothing in use, every chunk free once");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
