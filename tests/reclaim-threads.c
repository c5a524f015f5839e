/* SPDX-License-Identifier: MIT */
/* Two threads of one process reclaiming the same dead slot.
 *
 * Thread A of the parent reclaims a dead child's slot: the slot word says
 * RECLAIMING by the parent.  Thread B of the parent calls reclaim
 * meanwhile and reads that word, "RECLAIMING by us", which is also what
 * an earlier call of ours left when it stopped on an error (the next call
 * goes on with it).  A finishes and frees the slot; a new process attaches
 * into it and takes a chunk.  B must not clean the slot now: its holder
 * bits, outbox and endpoints are the new process's.
 *
 * Crash-point hooks (lib/crashpoint.h) park A after its cleaning
 * (reclaim.dropped) and B where it would start cleaning (reclaim.claimed),
 * so the interleaving is forced, not hoped for.  The soak (attack-soak)
 * hit it on a loaded machine: a live process's chunks went back to the
 * pools, and its own next get took over the views it still held.
 */
#include "tap.h"
#include "zt.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "crashpoint.h"

#define NCHUNKS 8
#define SIZE 128

static _Thread_local int role; /* 1: thread A, 2: thread B, 0: anyone else */
static _Atomic int a_parked, a_go, b_parked, b_go, b_done;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait (10 s at most) until *flag or *other is set; 1 if either was. */
static int wait_for(_Atomic int *flag, _Atomic int *other)
{
	double end = now() + 10 * zt_slowdown();
	while (!atomic_load(flag) && !(other && atomic_load(other)))
		if (now() > end)
			return 0;
		else
			usleep(200);
	return 1;
}

static void park(_Atomic int *parked, _Atomic int *go)
{
	atomic_store(parked, 1);
	while (!atomic_load(go))
		usleep(200);
}

static void hook(const char *name)
{
	if (role == 1 && strcmp(name, "reclaim.dropped") == 0)
		park(&a_parked, &a_go);
	else if (role == 2 && strcmp(name, "reclaim.claimed") == 0)
		park(&b_parked, &b_go);
}

struct call {
	zcp_mempool_manager *m;
	int role, rc;
	zcp_reclaim_report rep;
};

static void *reclaimer(void *arg)
{
	struct call *c = arg;
	role = c->role;
	c->rc = zcp_mempool_manager_reclaim(c->m, &c->rep);
	if (role == 2)
		atomic_store(&b_done, 1);
	return NULL;
}

static int read_all(int fd, void *buf, size_t n)
{
	return read(fd, buf, n) == (ssize_t)n;
}

/* ThreadSanitizer: the newcomer is forked while thread B is parked (by
 * design), and TSan in the child counts the parent's threads as never
 * joined, failing its exit with a "thread leak".  Not ours to report. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(RT_TSAN)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "report_thread_leaks=0";
}
#endif

static int write_all(int fd, const void *buf, size_t n)
{
	return write(fd, buf, n) == (ssize_t)n;
}

/* The new process in the freed slot: takes one chunk, fills it, reports
 * its handle, and once told, checks it still holds it: data intact, a
 * handle and a count, and no get of the rest of the pool hands it out
 * again. */
static void newcomer(const char *name, int out, int in)
{
	zcp_mempool_manager *m;
	ZT_CHECK(zcp_mempool_manager_attach(name, &m) == 0);
	zcp_chunk *c = zcp_chunk_get(m, SIZE);
	ZT_CHECK(c);
	memset(zcp_chunk_data(c), 'N', SIZE);
	uint64_t h = zcp_chunk_handle(m, c);
	char go;
	ZT_CHECK(write_all(out, &h, sizeof h) && read_all(in, &go, 1));
	zcp_chunk *more[NCHUNKS];
	int n = 0;
	while (n < NCHUNKS && (more[n] = zcp_chunk_get(m, SIZE)))
		ZT_CHECK_MSG(more[n++] != c, "a get handed out the chunk we hold");
	ZT_CHECK_MSG(n == NCHUNKS - 1, "%d chunks left besides ours", n);
	const unsigned char *d = zcp_chunk_data(c);
	for (int i = 0; i < SIZE; i++)
		ZT_CHECK(d[i] == 'N');
	ZT_CHECK(zcp_chunk_refcount(c) == 1 && zcp_chunk_handle(m, c) == h);
	for (int i = 0; i < n; i++)
		ZT_CHECK(zcp_chunk_release(m, more[i]) == 0);
	ZT_CHECK(zcp_chunk_release(m, c) == 0);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

int main(void)
{
	plan_lazy();
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, SIZE, NCHUNKS);
	/* Us and one more: the dead child's slot is the only one left,
	 * so the newcomer attaches into it. */
	zcp_mempool_config_set_max_processes(cfg, 2);
	zcp_mempool_manager *m;
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);

	/* A child that dies holding two chunks. */
	int p1[2], p2[2], p3[2];
	ZT_REQUIRE(pipe(p1) == 0 && pipe(p2) == 0 && pipe(p3) == 0);
	pid_t dead = zt_fork();
	if (dead == 0) {
		zcp_mempool_manager *cm;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_chunk_get(cm, SIZE) && zcp_chunk_get(cm, SIZE));
		ZT_CHECK(write_all(p1[1], "r", 1));
		pause();
		_exit(0);
	}
	char b;
	ZT_REQUIRE(read_all(p1[0], &b, 1));
	kill(dead, SIGKILL);
	zt_wait(dead, NULL);

	zcp__crash_hook(hook);
	struct call a = {m, 1, -1, {0}}, bc = {m, 2, -1, {0}};
	pthread_t ta, tb;
	ZT_REQUIRE(pthread_create(&ta, NULL, reclaimer, &a) == 0);
	if (!wait_for(&a_parked, NULL))
		bail("thread A never reached reclaim.dropped");
	/* A has cleaned the dead slot and not freed it yet: B reads it as
	 * RECLAIMING by us. */
	ZT_REQUIRE(pthread_create(&tb, NULL, reclaimer, &bc) == 0);
	if (!wait_for(&b_parked, &b_done))
		bail("thread B neither parked nor returned");
	diag("thread B %s", atomic_load(&b_parked) ? "parked, about to clean the slot"
						   : "returned without cleaning the slot");
	atomic_store(&a_go, 1);
	pthread_join(ta, NULL);
	ok(a.rc == 0 && a.rep.processes == 1 && a.rep.references == 2,
	   "thread A reclaims the dead slot (%d, %llu processes, %llu references)", a.rc,
	   (unsigned long long)a.rep.processes, (unsigned long long)a.rep.references);

	/* The slot is free: a new process takes it and a chunk. */
	pid_t nc = zt_fork();
	if (nc == 0)
		newcomer(name, p2[1], p3[0]);
	close(p2[1]); /* its end only: a child that fails early reads as EOF */
	uint64_t h;
	ZT_REQUIRE(read_all(p2[0], &h, sizeof h));

	/* Now let B go on, if it is parked in the slot. */
	atomic_store(&b_go, 1);
	pthread_join(tb, NULL);
	zcp__crash_hook(NULL);
	ok(bc.rc == 0 && bc.rep.processes == 0 && bc.rep.references == 0,
	   "thread B cleans nothing of the slot's new process (%d, %llu processes, %llu references)",
	   bc.rc, (unsigned long long)bc.rep.processes, (unsigned long long)bc.rep.references);
	zcp_process_info pi;
	ZT_REQUIRE(zcp_mempool_manager_process(m, 1, &pi) == 0);
	ok(pi.alive && pi.chunks == 1, "the new process still holds its chunk (alive %d, chunks %llu)",
	   pi.alive, (unsigned long long)pi.chunks);
	zcp_pool_stats s;
	ZT_REQUIRE(zcp_mempool_manager_pool_stats(m, 0, &s) == 0);
	is_int((long long)s.used, 1, "its chunk is in use, not back in the pool");
	ok(zcp_chunk_from_handle(m, h) != NULL, "its chunk's handle resolves");
	ZT_REQUIRE(write_all(p3[1], "g", 1));
	zt_ok_child(nc, "the new process gets the rest of the pool, never its own chunk, and "
			"releases everything");

	zcp_reclaim_report rep;
	is_int(zcp_mempool_manager_reclaim(m, &rep), 0, "final reclaim");
	ZT_REQUIRE(zcp_mempool_manager_pool_stats(m, 0, &s) == 0);
	is_int((long long)s.used, 0, "every chunk back");
	is_int(zcp_mempool_manager_check(m), 0, "check()");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
