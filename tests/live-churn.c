/* SPDX-License-Identifier: MIT */
/*
 * Attacks the whole crash-safety contract at once (README, Crash safety:
 * "Only the dead are reclaimed", "Reclaim is safe beside live traffic,
 * from any process, twice", "References in flight"; chunk.h: "every
 * reference is attributable to a live or dead process, never lost").
 *
 * Processes attach to a table with one free slot fewer than them (slots
 * reused constantly; ZCP_EUSERS retried), take and stamp chunks of two
 * pools, hand chunks to each other by plain handle + ref and by escrow,
 * call reclaim themselves, and end by detaching, by dying attached or by
 * SIGKILL (theirs or ours), at random.  Every chunk a live process took
 * itself or received by escrow is checked against its stamp before each
 * release and at random, and its release must answer 0 (chunks taken by
 * plain handle are not: README lets the sender's death or release before
 * our ref void them); a process's slot must stay its own.  At the end, all stopped and reclaimed: nothing in use in any pool,
 * check() == 0, only our slot occupied.  4 s in make check;
 * ZCP_TEST_ITERS / 1000 s under make stress.
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
#define WORKERS 6 /* live at once; 5 slots are free */
#define HOLD 6
#define MAILBOX 16
#define WORDS 16 /* stamped words: 128 bytes, the smaller pool */

static const uint64_t sizes[2] = {128, 1024};

struct box {
	_Atomic int stop;
	_Atomic uint64_t handle[MAILBOX];
	_Atomic uint64_t ticket[MAILBOX];
	_Atomic long attached, gaveup, attach_err, ops, robbed_procs, bad_stamp, bad_release, bad_slot,
		handoffs, escrows, reclaims, reclaim_err, detached, died;
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

/* Self-describing stamp: word 0 is the tag, word i is tag ^ (i << 56). */
static void stamp(zcp_chunk *c, uint64_t tag)
{
	uint64_t *d = zcp_chunk_data(c);
	for (size_t i = 0; i < WORDS; i++)
		d[i] = tag ^ ((uint64_t)i << 56);
}

static int stamp_ok(zcp_chunk *c, uint64_t tag)
{
	const volatile uint64_t *d = zcp_chunk_data(c);
	for (size_t i = 0; i < WORDS; i++)
		if (d[i] != (tag ^ ((uint64_t)i << 56)))
			return 0;
	return 1;
}

static uint64_t read_tag(zcp_chunk *c)
{
	return ((const volatile uint64_t *)zcp_chunk_data(c))[0];
}

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
	zcp_chunk *c[HOLD] = {0};
	uint64_t tag[HOLD];
	/* Taken by plain handle: the sender may have let go before our ref
	 * (it may release or die with its handle posted, which README does not
	 * cover), so its content and our release are not checked. */
	int plain[HOLD] = {0};
	int err = ZCP_EUSERS;
	for (int tries = 0; tries < 2000 && err == ZCP_EUSERS; tries++) {
		err = zcp_mempool_manager_attach(name, &m);
		if (err == ZCP_EUSERS)
			sleep_us(100 + (long)(xorshift(&seed) % 300));
	}
	if (err) {
		if (err == ZCP_EUSERS)
			atomic_fetch_add(&box->gaveup, 1);
		else {
			atomic_fetch_add(&box->attach_err, 1);
			atomic_store(&box->last_err, err);
		}
		_exit(0);
	}
	atomic_fetch_add(&box->attached, 1);
	uint64_t id = zcp_mempool_manager_process_id(m), seq = 0;
	int slot = -1;
	for (int s = 0; s < zcp_mempool_manager_process_slots(m); s++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, s, &pi) == 0 && pi.self)
			slot = s;
	}
	long bad_stamp = 0, bad_rel = 0, bad_slot = !slot_ours(m, slot, id), ops = 0;
	long life = 20 + (long)(xorshift(&seed) % 200);
	for (long op = 0; op < life && !atomic_load(&box->stop); op++, ops++) {
		uint64_t r = xorshift(&seed);
		int k = (int)(r % HOLD);
		switch ((r >> 8) % 8) {
		case 0:
		case 1: /* take and stamp */
			if (!c[k] && (c[k] = zcp_chunk_get(m, sizes[(r >> 16) & 1])) != NULL) {
				tag[k] = ((uint64_t)getpid() << 32) | (++seq << 8) | (uint64_t)k;
				plain[k] = 0;
				stamp(c[k], tag[k]);
			}
			break;
		case 2: /* check and release */
			if (c[k]) {
				bad_stamp += !plain[k] && !stamp_ok(c[k], tag[k]);
				bad_rel += zcp_chunk_release(m, c[k]) != 0 && !plain[k];
				c[k] = NULL;
			}
			break;
		case 3: { /* post a plain handle (we keep our reference) or take one */
			int b = (int)((r >> 16) % MAILBOX);
			if (c[k] && !plain[k] && (r >> 24) & 1) {
				atomic_store(&box->handle[b], zcp_chunk_handle(m, c[k]));
			} else if (!c[k]) {
				uint64_t h = atomic_exchange(&box->handle[b], 0);
				zcp_chunk *x = h ? zcp_chunk_from_handle(m, h) : NULL;
				if (x && zcp_chunk_ref(m, x) == 0) {
					c[k] = x;
					plain[k] = 1;
					atomic_fetch_add(&box->handoffs, 1);
				}
			}
			break;
		}
		case 4: { /* escrow: lend and release, or receive */
			int b = (int)((r >> 16) % MAILBOX);
			uint64_t t;
			if (c[k] && !plain[k] && (r >> 24) & 1) {
				bad_stamp += !stamp_ok(c[k], tag[k]);
				if (zcp_chunk_send(m, c[k], 0, &t) == 0) {
					t = atomic_exchange(&box->ticket[b], t);
					if (t)
						zcp_chunk_unsend(m, t); /* ours or not: an error is fine */
				}
				bad_rel += zcp_chunk_release(m, c[k]) != 0;
				c[k] = NULL;
			} else if (!c[k]) {
				t = atomic_exchange(&box->ticket[b], 0);
				zcp_chunk *x = t ? zcp_chunk_receive(m, t) : NULL;
				if (x) {
					c[k] = x;
					plain[k] = 0;
					tag[k] = read_tag(x);
					bad_stamp += !stamp_ok(x, tag[k]);
					atomic_fetch_add(&box->escrows, 1);
				}
			}
			break;
		}
		case 5: { /* reclaim, as any attached process may */
			zcp_reclaim_report rep;
			if (zcp_mempool_manager_reclaim(m, &rep) != 0)
				atomic_fetch_add(&box->reclaim_err, 1);
			atomic_fetch_add(&box->reclaims, 1);
			break;
		}
		case 6:
			sched_yield();
			break;
		case 7:
			for (int i = 0; i < HOLD; i++)
				if (c[i] && !plain[i])
					bad_stamp += !stamp_ok(c[i], tag[i]);
			bad_slot += !slot_ours(m, slot, id);
			break;
		}
	}
	for (int i = 0; i < HOLD; i++)
		if (c[i] && !plain[i])
			bad_stamp += !stamp_ok(c[i], tag[i]);
	bad_slot += !slot_ours(m, slot, id);
	int end = (int)(xorshift(&seed) % 3);
	if (end == 0) {
		for (int i = 0; i < HOLD; i++)
			if (c[i])
				bad_rel += zcp_chunk_release(m, c[i]) != 0 && !plain[i];
		zcp_mempool_manager_settle(m);
	}
	atomic_fetch_add(&box->ops, ops);
	if (bad_stamp || bad_rel || bad_slot) {
		atomic_fetch_add(&box->robbed_procs, 1);
		atomic_fetch_add(&box->bad_stamp, bad_stamp);
		atomic_fetch_add(&box->bad_release, bad_rel);
		atomic_fetch_add(&box->bad_slot, bad_slot);
	}
	if (end == 0) {
		zcp_mempool_manager_detach(m);
		atomic_fetch_add(&box->detached, 1);
		_exit(0);
	}
	atomic_fetch_add(&box->died, 1);
	if (end == 1)
		_exit(0);
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
	zcp_mempool_config_add_entry(cfg, sizes[0], 48);
	zcp_mempool_config_add_entry(cfg, sizes[1], 24);
	zcp_mempool_config_set_max_processes(cfg, SLOTS);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);

	long iters = zt_iters(0);
	double secs = iters ? (double)iters / 1000.0 : 4.0;
	if (secs < 4)
		secs = 4;
	secs *= (double)zt_slowdown(); /* as many processes as natively */
	pid_t w[WORKERS] = {0};
	uint64_t seed = 0x2545F4914F6CDD1Dull ^ (uint64_t)getpid();
	long spawned = 0, killed = 0;
	double t0 = now_s();
	while (now_s() - t0 < secs) {
		for (int i = 0; i < WORKERS; i++) {
			if (w[i] > 0) {
				if (waitpid(w[i], NULL, WNOHANG) == 0)
					continue;
				w[i] = 0;
			}
			uint64_t s = xorshift(&seed);
			if ((w[i] = zt_fork()) == 0)
				worker(s | 1);
			spawned++;
		}
		sleep_us(200 + (long)(xorshift(&seed) % 800));
		if (xorshift(&seed) % 4 == 0) {
			int i = (int)(xorshift(&seed) % WORKERS);
			if (w[i] > 0 && kill(w[i], SIGKILL) == 0)
				killed++;
		}
		/* We reclaim too, now and then. */
		if (xorshift(&seed) % 4 == 0)
			zcp_mempool_manager_reclaim(m, NULL);
	}
	atomic_store(&box->stop, 1);
	for (int i = 0; i < WORKERS; i++)
		if (w[i] > 0)
			zt_wait(w[i], NULL);

	zcp_reclaim_report rep;
	memset(&rep, 0, sizeof rep);
	int rc = zcp_mempool_manager_reclaim(m, &rep);
	zcp_reclaim_report again;
	memset(&again, 0, sizeof again);
	zcp_mempool_manager_reclaim(m, &again);
	diag("%.0f s: %ld processes, %ld attached (%ld gave up on ZCP_EUSERS), %ld detached, %ld died attached, %ld killed by us; %ld operations, %ld handoffs, %ld escrow receipts, %ld reclaim calls",
	     secs, spawned, atomic_load(&box->attached), atomic_load(&box->gaveup), atomic_load(&box->detached),
	     atomic_load(&box->died), killed, atomic_load(&box->ops), atomic_load(&box->handoffs),
	     atomic_load(&box->escrows), atomic_load(&box->reclaims));
	ok(atomic_load(&box->attached) > 50, "processes attached (%ld)", atomic_load(&box->attached));
	ok(atomic_load(&box->attach_err) == 0, "no attach failed other than with ZCP_EUSERS (%ld, last %s)",
	   atomic_load(&box->attach_err), zcp_err_name(atomic_load(&box->last_err)));
	ok(atomic_load(&box->robbed_procs) == 0,
	   "no live process lost a chunk or its slot: %ld of %ld did (%ld stamp checks failed, %ld releases failed, %ld slot checks failed)",
	   atomic_load(&box->robbed_procs), atomic_load(&box->attached), atomic_load(&box->bad_stamp),
	   atomic_load(&box->bad_release), atomic_load(&box->bad_slot));
	is_int(atomic_load(&box->reclaim_err), 0, "every reclaim call by the processes returned 0");
	is_int(rc, 0, "final reclaim returned 0");
	is_int((long long)again.processes, 0, "a second reclaim finds nothing to do");
	uint64_t used = 0;
	for (int p = 0; p < 2; p++) {
		zcp_pool_stats st;
		zcp_mempool_manager_pool_stats(m, p, &st);
		used += st.used;
	}
	is_int((long long)used, 0, "conservation: all stopped and reclaimed, nothing is in use in any pool");
	is_int(zcp_mempool_manager_check(m), 0, "conservation: every chunk is on its free list exactly once");
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
