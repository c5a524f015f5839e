/* SPDX-License-Identifier: MIT */
/*
 * Attacks the promise of <zerocp/reclaim.h>: a process "whose main thread
 * exited while others run keeps everything it holds" (dead only "when its
 * last thread exits").
 *
 * 1. A holder's main thread calls pthread_exit() while a worker thread
 *    keeps running and holding chunks (Linux then shows the process as a
 *    zombie, 'Z', in /proc/PID/stat).  Another process must see it alive,
 *    reclaim nothing of it, and its chunks must survive that process taking
 *    and overwriting every free chunk; the worker can still take a chunk,
 *    and release one (no ZCP_EALREADY).  When the last thread exits, it is
 *    reclaimed.
 * 2. The thread that attached exits (joined), the main thread keeps the
 *    chunks: still alive, chunks intact.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <pthread.h>
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
	_Atomic int ready, verify, verified, bad, err, release_rc, state;
	_Atomic long pid;
};

static struct box *box;
static const char *name;
static zcp_mempool_manager *hm;
static zcp_chunk *ca, *cb;

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

/* Main thread gone?  /proc/PID/stat of the thread group leader says 'Z'. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return '?';
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* Worker of a holder whose main thread exits. */
static void *worker(void *arg)
{
	(void)arg;
	/* Wait until the main thread has gone. */
	for (int i = 0; i < 2000 && proc_state(getpid()) != 'Z'; i++)
		sleep_ms(1);
	atomic_store(&box->state, proc_state(getpid()));
	cb = zcp_chunk_get(hm, CHUNK);
	if (!cb) {
		atomic_store(&box->err, -errno);
		ZT_NOTE("holder: get: %s", strerror(errno));
		_exit(2);
	}
	stamp(cb, 0xB0B0);
	atomic_store(&box->ready, 1);
	int bad = 0;
	while (atomic_load(&box->verify) == 0) {
		if (!stamp_ok(ca, 0xA0A0) || !stamp_ok(cb, 0xB0B0))
			bad = 1;
		sleep_ms(1);
	}
	bad |= !stamp_ok(ca, 0xA0A0) || !stamp_ok(cb, 0xB0B0);
	atomic_store(&box->bad, bad);
	atomic_store(&box->release_rc, zcp_chunk_release(hm, cb));
	atomic_store(&box->verified, 1);
	/* Wait for the go to end; the process then dies holding ca. */
	wait_for(&box->verify, 2, 10000);
	_exit(0);
}

static zcp_mempool_manager *make(const char *n)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, CHUNK, COUNT);
	zcp_mempool_config_set_max_processes(cfg, 8);
	int err = zcp_mempool_manager_create(n, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (err)
		bail("create %s: %s", n, zcp_strerror(err));
	return m;
}

static uint64_t used(zcp_mempool_manager *m)
{
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	return st.used;
}

/* Slot of the other process holding `chunks` chunks, or -1. */
static int other_slot(zcp_mempool_manager *m, uint64_t chunks, zcp_process_info *pi)
{
	for (int s = 0; s < zcp_mempool_manager_process_slots(m); s++)
		if (zcp_mempool_manager_process(m, s, pi) == 0 && pi->pid && !pi->self && pi->chunks == chunks)
			return s;
	return -1;
}

/* Take every free chunk, overwrite it, give it back; the most taken. */
static int churn(zcp_mempool_manager *m)
{
	int most = 0;
	for (int r = 0; r < 10; r++) {
		zcp_chunk *got[COUNT];
		int k = 0;
		while (k < COUNT && (got[k] = zcp_chunk_get(m, CHUNK)) != NULL)
			memset(zcp_chunk_data(got[k++]), 0xEE, CHUNK);
		if (k > most)
			most = k;
		while (k > 0)
			zcp_chunk_release(m, got[--k]);
	}
	return most;
}

static void main_thread_exits(void)
{
	zcp_mempool_manager *m = make(name);
	zcp_process_info pi;
	zcp_reclaim_report rep;
	if (zt_emulator()) {
		/* qemu-user 7.2 aborts (rcu_read_unlock assertion) when the
		 * main thread exits while others run. */
		skip("main thread exits while a worker runs: not under %s, which aborts then",
		     zt_emulator());
		zcp_mempool_manager_destroy(m);
		return;
	}
	memset(box, 0, sizeof *box);
	pid_t pid = zt_fork();
	if (pid == 0) {
		atomic_store(&box->err, zcp_mempool_manager_attach(name, &hm));
		ZT_CHECK(atomic_load(&box->err) == 0);
		ca = zcp_chunk_get(hm, CHUNK);
		ZT_CHECK(ca);
		stamp(ca, 0xA0A0);
		pthread_t t;
		ZT_CHECK(pthread_create(&t, NULL, worker, NULL) == 0);
		pthread_exit(NULL);
	}
	if (!wait_for(&box->ready, 1, 5000)) {
		ok(0, "holder ready (err %s)", zcp_strerror(atomic_load(&box->err)));
		kill(pid, SIGKILL);
		zt_wait(pid, NULL);
		zcp_mempool_manager_destroy(m);
		return;
	}
	is_int(atomic_load(&box->state), 'Z', "the holder's main thread has exited (state Z, a worker runs)");
	int s = other_slot(m, 2, &pi);
	ok(s >= 0 && pi.alive == 1, "main thread exited: the holder is shown alive (slot %d, alive %d)", s,
	   s >= 0 ? pi.alive : -1);
	memset(&rep, 0, sizeof rep);
	zcp_mempool_manager_reclaim(m, &rep);
	ok(rep.processes == 0 && rep.references == 0,
	   "main thread exited: reclaim takes nothing (processes %llu, references %llu, chunks %llu)",
	   (unsigned long long)rep.processes, (unsigned long long)rep.references,
	   (unsigned long long)rep.chunks);
	int most = churn(m);
	is_int(most, COUNT - 2, "main thread exited: another process can take only the free chunks");
	atomic_store(&box->verify, 1);
	wait_for(&box->verified, 1, 5000);
	is_int(atomic_load(&box->bad), 0, "main thread exited: the worker's chunks were never overwritten");
	is_int(atomic_load(&box->release_rc), 0, "main thread exited: the worker can still release its chunk");
	atomic_store(&box->verify, 2);
	zt_ok_child(pid, "the holder's worker thread ended the process");
	memset(&rep, 0, sizeof rep);
	zcp_mempool_manager_reclaim(m, &rep);
	ok(used(m) == 0 && zcp_mempool_manager_check(m) == 0,
	   "after its last thread exited the holder is reclaimed (processes %llu, used %llu)",
	   (unsigned long long)rep.processes, (unsigned long long)used(m));
	zcp_mempool_manager_destroy(m);
}

/* The attaching thread exits; the main thread keeps the chunk. */
static void *attacher(void *arg)
{
	(void)arg;
	int err = zcp_mempool_manager_attach(name, &hm);
	if (err) {
		atomic_store(&box->err, err);
		return NULL;
	}
	ca = zcp_chunk_get(hm, CHUNK);
	if (ca)
		stamp(ca, 0xC0C0);
	return NULL;
}

static void attaching_thread_exits(void)
{
	name = zt_name();
	zcp_mempool_manager *m = make(name);
	zcp_process_info pi;
	zcp_reclaim_report rep;
	memset(box, 0, sizeof *box);
	pid_t pid = zt_fork();
	if (pid == 0) {
		pthread_t t;
		ZT_CHECK(pthread_create(&t, NULL, attacher, NULL) == 0 &&
			 pthread_join(t, NULL) == 0 && ca);
		atomic_store(&box->ready, 1);
		int bad = 0;
		while (atomic_load(&box->verify) == 0) {
			bad |= !stamp_ok(ca, 0xC0C0);
			sleep_ms(1);
		}
		bad |= !stamp_ok(ca, 0xC0C0);
		atomic_store(&box->bad, bad);
		atomic_store(&box->release_rc, zcp_chunk_release(hm, ca));
		zcp_mempool_manager_detach(hm);
		_exit(0);
	}
	if (!wait_for(&box->ready, 1, 5000)) {
		ok(0, "holder ready (err %s)", zcp_strerror(atomic_load(&box->err)));
		kill(pid, SIGKILL);
		zt_wait(pid, NULL);
		zcp_mempool_manager_destroy(m);
		return;
	}
	int s = other_slot(m, 1, &pi);
	ok(s >= 0 && pi.alive == 1, "attaching thread exited: the process is shown alive (slot %d, alive %d)",
	   s, s >= 0 ? pi.alive : -1);
	memset(&rep, 0, sizeof rep);
	zcp_mempool_manager_reclaim(m, &rep);
	is_int((long long)rep.processes, 0, "attaching thread exited: reclaim takes nothing");
	churn(m);
	atomic_store(&box->verify, 1);
	zt_ok_child(pid, "attaching thread exited: the process released and detached");
	is_int(atomic_load(&box->bad), 0, "attaching thread exited: its chunk was never overwritten");
	is_int(atomic_load(&box->release_rc), 0, "attaching thread exited: the main thread released its chunk");
	ok(used(m) == 0 && zcp_mempool_manager_check(m) == 0, "attaching thread exited: nothing left in use");
	zcp_mempool_manager_destroy(m);
}

int main(void)
{
	plan_lazy();
	box = mmap(NULL, sizeof *box, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (box == MAP_FAILED)
		bail("mmap");
	name = zt_name();
	main_thread_exits();
	attaching_thread_exits();
	zt_done();
	return done_testing();
}
