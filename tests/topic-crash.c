/* SPDX-License-Identifier: MIT */
/* Crash windows of publish/subscribe, seen from the survivors (crash-windows
 * checks the pools after the same kills; this checks delivery and locks):
 *
 *   - a publisher killed at pub.moved, pub.evicting, pub.written (several
 *     hits each): after reclaim its in-flight sample reached both live
 *     subscribers in other processes or neither, and exactly the samples
 *     the point implies; nothing is left in use at the end;
 *   - a subscriber killed at sub.taken: reclaim drops the reference it had
 *     just taken and the ones it held, and nothing else;
 *   - the topics lock: a reclaimer killed holding it (at topic.reclaimed)
 *     does not block the next create; a live (stopped) holder makes create
 *     wait about two seconds and answer ZCP_EAGAIN; a process killed while
 *     blocked inside create harms nobody; once the holder is killed the
 *     next create goes through at once. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "crashpoint.h"
#include "handle.h"
#include "layout.h"
#include "topic.h"

struct shared {
	_Atomic uint64_t ready, drain, published;
	_Atomic uint64_t taken[2];
	_Atomic uint64_t seen[2]; /* bit q: sequence q taken */
	_Atomic uint64_t lost[2];
};
static struct shared *sh;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&ts, NULL);
}

static int wait_ge(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t end = mono_ms() + 10000;
	while (atomic_load(a) < v) {
		if (mono_ms() > end)
			return 0;
		nap(100);
	}
	return 1;
}

/* Ring slots per publisher: 16, or 2 for the rounds where the ring is no
 * larger than the queue (then a publish evicts before its own slot). */
static unsigned ring_size = 16;

static zcp_mempool_manager *make(const char **name)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 128, 32);
	zcp_mempool_config_set_topics(cfg, 4, 2, 4, ring_size);
	*name = zt_name();
	if (zcp_mempool_manager_create(*name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	return m;
}

static zcp_mempool_manager *join(const char *name)
{
	zcp_mempool_manager *m = NULL;
	ZT_CHECK(zcp_mempool_manager_attach(name, &m) == 0);
	return m;
}

static uint64_t used(zcp_mempool_manager *m)
{
	zcp_pool_stats s;
	return zcp_mempool_manager_pool_stats(m, 0, &s) == 0 ? s.used : UINT64_MAX;
}

static void topic_totals(zcp_mempool_manager *m, unsigned *kept, unsigned *endpoints)
{
	*kept = *endpoints = 0;
	for (int t = 0; t < zcp_topic_slots(m); t++) {
		zcp_topic_info ti;
		if (zcp_topic_get_info(m, t, &ti) == 0) {
			*kept += (unsigned)ti.kept;
			*endpoints += ti.publishers + ti.subscribers + ti.closed_publishers;
		}
	}
}

static int killed(pid_t pid)
{
	int st = 0;
	return zt_wait(pid, &st) == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

static zcp_topic_options queue_of_2(void)
{
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 2; /* the third publish evicts */
	return o;
}

/* A subscriber process: takes as samples come, marks each sequence seen,
 * and once told to drain, takes the rest and leaves. */
static pid_t seer(const char *name, int s)
{
	pid_t pid = zt_fork();
	if (pid != 0)
		return pid;
	zcp_mempool_manager *m = join(name);
	zcp_topic_options o = queue_of_2();
	zcp_subscriber *sub;
	ZT_CHECK(zcp_subscriber_create(m, "inflight", &o, &sub) == 0);
	atomic_fetch_add(&sh->ready, 1);
	uint64_t next = 0, end = mono_ms() + 15000;
	for (;;) {
		int drain = atomic_load(&sh->drain) != 0;
		zcp_chunk *c = zcp_subscriber_take(sub);
		if (!c) {
			ZT_CHECK(errno == EAGAIN);
			if (drain)
				break;
			ZT_CHECK(mono_ms() < end);
			sched_yield();
			continue;
		}
		zcp_sample_info info;
		uint64_t v;
		memcpy(&v, zcp_sample_data(c), sizeof v);
		ZT_CHECK(zcp_chunk_sample_info(c, &info) == 0 && info.sequence == v);
		ZT_CHECK_MSG(v == next && v < 64, "sequence %llu, want %llu", (unsigned long long)v,
			     (unsigned long long)next);
		next++;
		atomic_fetch_or(&sh->seen[s], UINT64_C(1) << v);
		atomic_fetch_add(&sh->taken[s], 1);
		ZT_CHECK(zcp_chunk_release(m, c) == 0);
	}
	atomic_store(&sh->lost[s], zcp_subscriber_lost(sub));
	ZT_CHECK(zcp_subscriber_close(sub) == 0);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

/* Publisher killed at the (skip+1)-th hit of point; `expect` samples
 * must have reached both subscribers. */
static void inflight(const char *point, unsigned skip, uint64_t expect)
{
	const char *name;
	zcp_mempool_manager *m = make(&name);
	memset(sh, 0, sizeof *sh);
	pid_t subs[2] = {seer(name, 0), seer(name, 1)};
	char what[64];
	snprintf(what, sizeof what, "%s #%u (ring %u)", point, skip + 1, ring_size);
	int ready = wait_ge(&sh->ready, 2);
	pid_t pub = zt_fork();
	if (pub == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_topic_options o = queue_of_2();
		zcp_publisher *p;
		ZT_CHECK(zcp_publisher_create(cm, "inflight", &o, &p) == 0);
		zcp__crash_arm(point, skip);
		for (uint64_t i = 0; i < 16; i++) {
			/* Lock step: both have taken all before the next. */
			ZT_CHECK(wait_ge(&sh->taken[0], i) && wait_ge(&sh->taken[1], i));
			zcp_chunk *c = zcp_publisher_loan(p, 64);
			ZT_CHECK(c);
			memcpy(zcp_sample_data(c), &i, sizeof i);
			ZT_CHECK(zcp_publisher_publish(p, c) == 0);
			atomic_store(&sh->published, i + 1);
		}
		_exit(0);
	}
	ok(ready && killed(pub), "%s: the publisher was killed there", what);
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1, "%s: reclaim", what);
	atomic_store(&sh->drain, 1);
	int a = zt_ok_child(subs[0], "%s: subscriber 0 read in order", what);
	int b = zt_ok_child(subs[1], "%s: subscriber 1 read in order", what);
	uint64_t s0 = atomic_load(&sh->seen[0]), s1 = atomic_load(&sh->seen[1]);
	uint64_t want = (UINT64_C(1) << expect) - 1;
	ok(a && b && s0 == s1, "%s: the in-flight sample reached both subscribers or neither (%llx, %llx)",
	   what, (unsigned long long)s0, (unsigned long long)s1);
	ok(s0 == want && s1 == want, "%s: exactly sequences 0..%llu delivered (%llx, want %llx)", what,
	   (unsigned long long)expect - 1, (unsigned long long)s0, (unsigned long long)want);
	ok(atomic_load(&sh->lost[0]) == 0 && atomic_load(&sh->lost[1]) == 0, "%s: nothing counted lost",
	   what);
	unsigned kept, endpoints;
	topic_totals(m, &kept, &endpoints);
	ok(used(m) == 0 && kept == 0 && endpoints == 0,
	   "%s: at the end nothing in use (%llu), kept (%u) or open (%u)", what,
	   (unsigned long long)used(m), kept, endpoints);
	is_int(zcp_mempool_manager_check(m), 0, "%s: manager check", what);
	zcp_mempool_manager_destroy(m);
}

/* A subscriber killed right after taking its reference on its second take. */
static void subscriber_killed(void)
{
	const char *name;
	zcp_mempool_manager *m = make(&name);
	memset(sh, 0, sizeof *sh);
	zcp_publisher *p;
	zcp_subscriber *mine;
	is_int(zcp_publisher_create(m, "taken", NULL, &p), 0, "sub.taken: a publisher here");
	is_int(zcp_subscriber_create(m, "taken", NULL, &mine), 0, "sub.taken: a subscriber here");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_subscriber *s;
		ZT_CHECK(zcp_subscriber_create(cm, "taken", NULL, &s) == 0);
		atomic_store(&sh->ready, 1);
		ZT_CHECK(wait_ge(&sh->published, 3));
		zcp__crash_arm("sub.taken", 1);
		ZT_CHECK(zcp_subscriber_take(s) != NULL); /* held */
		zcp_subscriber_take(s);                   /* killed in here */
		_exit(0);
	}
	ok(wait_ge(&sh->ready, 1), "sub.taken: a subscriber in another process");
	for (uint64_t i = 0; i < 3; i++) {
		zcp_chunk *c = zcp_publisher_loan(p, 64);
		memcpy(zcp_sample_data(c), &i, sizeof i);
		zcp_publisher_publish(p, c);
	}
	atomic_store(&sh->published, 3);
	ok(killed(pid), "sub.taken: the subscriber was killed after taking its second reference");
	zcp_chunk *c[3];
	for (int i = 0; i < 3; i++)
		c[i] = zcp_subscriber_take(mine);
	ok(c[0] && c[1] && c[2], "sub.taken: our subscriber gets all three");
	if (!(c[0] && c[1] && c[2]))
		bail("sub.taken: no samples");
	ok(zcp_chunk_refcount(c[0]) == 3 && zcp_chunk_refcount(c[1]) == 3 && zcp_chunk_refcount(c[2]) == 2,
	   "sub.taken: before reclaim the dead one still holds samples 0 and 1 (%llu %llu %llu)",
	   (unsigned long long)zcp_chunk_refcount(c[0]), (unsigned long long)zcp_chunk_refcount(c[1]),
	   (unsigned long long)zcp_chunk_refcount(c[2]));
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1 && rep.references == 2,
	   "sub.taken: reclaim drops its two references (%llu)", (unsigned long long)rep.references);
	ok(zcp_chunk_refcount(c[0]) == 2 && zcp_chunk_refcount(c[1]) == 2 && zcp_chunk_refcount(c[2]) == 2,
	   "sub.taken: then each sample has the ring's and ours (%llu %llu %llu)",
	   (unsigned long long)zcp_chunk_refcount(c[0]), (unsigned long long)zcp_chunk_refcount(c[1]),
	   (unsigned long long)zcp_chunk_refcount(c[2]));
	for (int i = 0; i < 3; i++)
		zcp_chunk_release(m, c[i]);
	zcp_subscriber_close(mine);
	zcp_publisher_close(p);
	unsigned kept, endpoints;
	topic_totals(m, &kept, &endpoints);
	ok(used(m) == 0 && kept == 0 && endpoints == 0,
	   "sub.taken: at the end nothing in use (%llu), kept (%u) or open (%u)", (unsigned long long)used(m),
	   kept, endpoints);
	is_int(zcp_mempool_manager_check(m), 0, "sub.taken: manager check");
	zcp_mempool_manager_destroy(m);
}

/* A process that dies with a publisher (two samples) and a subscriber. */
static void die_with_endpoints(const char *name)
{
	pid_t g = zt_fork();
	if (g == 0) {
		zcp_mempool_manager *m = join(name);
		zcp_publisher *p;
		zcp_subscriber *s;
		ZT_CHECK(zcp_subscriber_create(m, "locked", NULL, &s) == 0 &&
			 zcp_publisher_create(m, "locked", NULL, &p) == 0);
		for (int i = 0; i < 2; i++) {
			zcp_chunk *c = zcp_publisher_loan(p, 64);
			ZT_CHECK(c && zcp_publisher_publish(p, c) == 0);
		}
		_exit(0);
	}
	zt_wait(g, NULL);
}

static void dead_lock_holder(void)
{
	const char *name;
	zcp_mempool_manager *m = make(&name);
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm = join(name);
		die_with_endpoints(name);
		zcp__crash_arm("topic.reclaimed", 0);
		zcp_mempool_manager_reclaim(cm, NULL);
		_exit(0);
	}
	ok(killed(pid), "lock: a reclaimer killed at topic.reclaimed");
	ok(atomic_load(&m->hdr->topics_lock) != 0, "lock: it died holding the topics lock");
	uint64_t t0 = mono_ms();
	zcp_publisher *p;
	int err = zcp_publisher_create(m, "locked", NULL, &p);
	uint64_t dt = mono_ms() - t0;
	ok(err == 0 && dt < 1000, "lock: the next create takes it over at once (%s, %llu ms)", zcp_err_name(err),
	   (unsigned long long)dt);
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 2,
	   "lock: reclaim frees the killed reclaimer and the process it was reclaiming (%llu)",
	   (unsigned long long)rep.processes);
	if (err == 0)
		zcp_publisher_close(p);
	unsigned kept, endpoints;
	topic_totals(m, &kept, &endpoints);
	ok(used(m) == 0 && kept == 0 && endpoints == 0,
	   "lock: nothing in use (%llu), kept (%u) or open (%u)", (unsigned long long)used(m), kept,
	   endpoints);
	is_int(zcp_mempool_manager_check(m), 0, "lock: manager check");
	zcp_mempool_manager_destroy(m);
}

/* A process that died holding the topics lock while writing a topic's
 * descriptor (its seqlock odd): zcp_topic_get_info() answers ZCP_EAGAIN
 * within its bound, never a half-written descriptor; the next create
 * takes the lock over, and the descriptor reads again. */
static void dead_descriptor_writer(void)
{
	const char *name;
	zcp_mempool_manager *m = make(&name);
	zcp_subscriber *s;
	ZT_REQUIRE(zcp_subscriber_create(m, "desc", NULL, &s) == 0);
	int idx = -1;
	for (int k = 0; k < zcp_topic_slots(m) && idx < 0; k++) {
		zcp_topic_info info;
		if (zcp_topic_get_info(m, k, &info) == 0 && strcmp(info.name, "desc") == 0)
			idx = k;
	}
	ZT_REQUIRE(idx >= 0);
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm = join(name);
		atomic_store(&cm->hdr->topics_lock, cm->process_id);
		atomic_fetch_add(&zcp__topic_at(cm, (unsigned)idx)->desc_seq, 1);
		_exit(0); /* holding the lock, the descriptor "being written" */
	}
	int st = 0;
	ok(zt_wait(pid, &st) == 0 && WIFEXITED(st), "descriptor: its writer is gone");
	zcp_topic_info info;
	uint64_t t0 = mono_ms();
	int err = zcp_topic_get_info(m, idx, &info);
	uint64_t dt = mono_ms() - t0;
	ok(err == ZCP_EAGAIN && dt < 1000,
	   "descriptor: being written by a dead process: ZCP_EAGAIN after %llu ms (%s)",
	   (unsigned long long)dt, zcp_err_name(err));
	zcp_publisher *p;
	err = zcp_publisher_create(m, "other", NULL, &p);
	ok(err == 0, "descriptor: the next create takes the lock over (%s)", zcp_err_name(err));
	if (err == 0)
		zcp_publisher_close(p);
	err = zcp_topic_get_info(m, idx, &info);
	ok(err == 0 && strcmp(info.name, "desc") == 0,
	   "descriptor: reads again once the lock was taken over (%s, \"%s\")", zcp_err_name(err),
	   err == 0 ? info.name : "");
	zcp_subscriber_close(s);
	zcp_mempool_manager_reclaim(m, NULL);
	is_int(zcp_mempool_manager_check(m), 0, "descriptor: manager check");
	zcp_mempool_manager_destroy(m);
}

static void live_lock_holder(void)
{
	const char *name;
	zcp_mempool_manager *m = make(&name);
	int idp[2];
	if (pipe(idp))
		bail("pipe");
	pid_t holder = zt_fork();
	if (holder == 0) {
		zcp_mempool_manager *cm = join(name);
		uint64_t id = zcp_mempool_manager_process_id(cm);
		ZT_CHECK(write(idp[1], &id, sizeof id) == sizeof id);
		raise(SIGSTOP);
		_exit(0);
	}
	uint64_t id = 0;
	ok(read(idp[0], &id, sizeof id) == sizeof id && id != 0, "lock: a holder process");
	int st;
	waitpid(holder, &st, WUNTRACED);
	/* As if it stopped inside a create: the lock word names it. */
	atomic_store(&m->hdr->topics_lock, id);
	uint64_t t0 = mono_ms();
	zcp_publisher *p;
	int err = zcp_publisher_create(m, "held", NULL, &p);
	uint64_t dt = mono_ms() - t0;
	ok(err == ZCP_EAGAIN && dt >= 1500 && dt < 5000,
	   "lock: a live (stopped) holder: create waits about 2 s, then ZCP_EAGAIN (%s, %llu ms)",
	   zcp_err_name(err), (unsigned long long)dt);
	/* A process killed while it waits inside create. */
	memset(sh, 0, sizeof *sh);
	pid_t waiter = zt_fork();
	if (waiter == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_subscriber *s;
		atomic_store(&sh->ready, 1);
		zcp_subscriber_create(cm, "held", NULL, &s);
		_exit(3);
	}
	wait_ge(&sh->ready, 1);
	nap(300000);
	kill(waiter, SIGKILL);
	ok(killed(waiter), "lock: a process killed while blocked in zcp_subscriber_create");
	ok(atomic_load(&m->hdr->topics_lock) == id, "lock: the lock still names the holder");
	kill(holder, SIGKILL);
	zt_wait(holder, NULL);
	t0 = mono_ms();
	err = zcp_publisher_create(m, "held", NULL, &p);
	dt = mono_ms() - t0;
	ok(err == 0 && dt < 1000, "lock: the holder killed, the next create goes through at once (%s, %llu ms)",
	   zcp_err_name(err), (unsigned long long)dt);
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 2,
	   "lock: reclaim frees the holder and the waiter (%llu)", (unsigned long long)rep.processes);
	if (err == 0)
		is_int(zcp_publisher_close(p), 0, "lock: close");
	ok(atomic_load(&m->hdr->topics_lock) == 0, "lock: free at the end");
	is_int(zcp_mempool_manager_check(m), 0, "lock: manager check");
	close(idp[0]);
	close(idp[1]);
	zcp_mempool_manager_destroy(m);
}

/* A subscriber reading a closed publisher's last samples, and a sweep (any
 * create or close on the topic, in any process) in the middle.  The sweep
 * trusts the subscriber's shared cursor, so take must move that cursor only
 * after it holds its reference (it once did it before: a sweep in between
 * evicted the sample, the reference failed ZCP_ESTALE and the sample was
 * lost, although the header promises a closed publisher's samples "stay
 * readable by its subscribers until they have read them").  Here: the
 * cursor as the take leaves it before its reference, then the sweep in
 * another process, then the take. */
static void sweep_under_take(void)
{
	const char *name;
	zcp_mempool_manager *m = make(&name);
	zcp_topic_options o = queue_of_2();
	zcp_subscriber *s;
	zcp_publisher *p;
	is_int(zcp_subscriber_create(m, "sweep", &o, &s), 0, "sweep race: a subscriber");
	is_int(zcp_publisher_create(m, "sweep", &o, &p), 0, "sweep race: a publisher");
	for (uint64_t i = 0; i < 2; i++) {
		zcp_chunk *c = zcp_publisher_loan(p, 64);
		memcpy(zcp_sample_data(c), &i, sizeof i);
		zcp_publisher_publish(p, c);
	}
	unsigned j = (unsigned)(zcp_publisher_id(p) & 1023);
	is_int(zcp_publisher_close(p), 0, "sweep race: the publisher closes, 2 samples unread");
	/* The take's first steps: peek found sample 0; the shared cursor
	 * still says 0 until the reference is taken. */
	(void)zcp_subscriber_waiting(s); /* follows the publisher */
	struct zcp__cursor *cur = &zcp__cursors(s->ep)[j];
	ok(atomic_load(&cur->pos) == 0, "sweep race: the shared cursor still names sample 0");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_subscriber *x;
		ZT_CHECK(zcp_subscriber_create(cm, "sweep", &o, &x) == 0); /* sweeps */
		ZT_CHECK(zcp_subscriber_close(x) == 0);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	zt_ok_child(pid, "sweep race: another process opens and closes a subscriber (a sweep)");
	zcp_chunk *c = zcp_subscriber_take(s);
	uint64_t v = UINT64_MAX;
	if (c) {
		memcpy(&v, zcp_sample_data(c), sizeof v);
		zcp_chunk_release(m, c);
	}
	ok(v == 0 && zcp_subscriber_lost(s) == 0,
	   "sweep race: the take still gets sample 0 (got %lld, lost %llu)",
	   v == UINT64_MAX ? -1LL : (long long)v, (unsigned long long)zcp_subscriber_lost(s));
	while ((c = zcp_subscriber_take(s)))
		zcp_chunk_release(m, c);
	zcp_subscriber_close(s);
	ok(used(m) == 0, "sweep race: nothing in use at the end");
	is_int(zcp_mempool_manager_check(m), 0, "sweep race: manager check");
	zcp_mempool_manager_destroy(m);
}

/* A process killed while its sweep evicts a closed publisher's sample
 * (zcp__ring_evict() under the topics lock, at pub.evicting: the slot's
 * pos is 0, the topics' bit not yet dropped).  The next sweep's
 * zcp__ring_evict() returns early because pos != q + 1 (lib/topic.c:94),
 * moves `released` past it and frees the place (lib/topic.c:246-252):
 * nobody drops that topics' bit, the chunk is lost to its pool for good.
 * (close_dead_publisher() repairs such slots, but only for a LIVE
 * publisher of a dead process, not for a CLOSED one being swept.) */
static void sweeper_killed(void)
{
	const char *name;
	zcp_mempool_manager *m = make(&name);
	zcp_topic_options o = queue_of_2();
	memset(sh, 0, sizeof *sh);
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm = join(name);
		zcp_subscriber *s;
		ZT_CHECK(zcp_subscriber_create(cm, "swept", &o, &s) == 0);
		atomic_store(&sh->ready, 1);
		ZT_CHECK(wait_ge(&sh->published, 1));
		zcp__crash_arm("pub.evicting", 0);
		zcp_subscriber_close(s); /* its sweep evicts the closed publisher's samples */
		_exit(0);
	}
	zcp_publisher *p;
	ok(wait_ge(&sh->ready, 1), "sweeper: a subscriber in another process");
	is_int(zcp_publisher_create(m, "swept", &o, &p), 0, "sweeper: a publisher here");
	for (uint64_t i = 0; i < 2; i++) {
		zcp_chunk *c = zcp_publisher_loan(p, 64);
		zcp_publisher_publish(p, c);
	}
	is_int(zcp_publisher_close(p), 0, "sweeper: the publisher closes, its 2 samples kept for the reader");
	atomic_store(&sh->published, 1);
	ok(killed(pid), "sweeper: the subscriber's process killed in its close's sweep, mid-eviction");
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1, "sweeper: reclaim");
	unsigned kept, endpoints;
	topic_totals(m, &kept, &endpoints);
	ok(kept == 0 && endpoints == 0, "sweeper: nothing kept (%u) or open (%u)", kept, endpoints);
	ok(used(m) == 0, "sweeper: every chunk back in its pool (%llu in use)",
	   (unsigned long long)used(m));
	is_int(zcp_mempool_manager_check(m), 0, "sweeper: manager check");
	zcp_mempool_manager_destroy(m);
}

int main(void)
{
	plan_lazy();
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bail("mmap");
	/* The (skip+1)-th hit is in the publish of sequence skip (moved,
	 * written) or skip + 2 (evicting: the third publish evicts, after its
	 * tail, the ring being larger than the queue). */
	for (unsigned k = 0; k < 3; k++) {
		inflight("pub.moved", k, k);           /* not in the ring: nobody */
		inflight("pub.written", k, k + 1);     /* in the ring: everybody */
		inflight("pub.evicting", k, k + 3);    /* after its tail: everybody */
	}
	/* A ring of 2 = the queue: the third publish evicts into its own
	 * slot, so before it: a kill there delivers nothing new. */
	ring_size = 2;
	for (unsigned k = 0; k < 2; k++)
		inflight("pub.evicting", k, k + 2);
	ring_size = 16;
	subscriber_killed();
	dead_lock_holder();
	dead_descriptor_writer();
	live_lock_holder();
	sweep_under_take();
	sweeper_killed();
	zt_done();
	return done_testing();
}
