/* SPDX-License-Identifier: MIT */
/* A process killed at every shared-memory write of get, ref, release and
 * reclaim: after another process's reclaim, no chunk is lost, every free
 * list is whole, and the survivor's chunks are untouched.
 *
 * The child arms a named crash point (lib/crashpoint.h) and runs a script
 * that passes through it; it SIGKILLs itself there.  Each point is tried at
 * its 1st, 2nd and 3rd hit, so claim and flip paths of the free list are
 * both covered. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "crashpoint.h"
#include "handle.h"

#define POOL_COUNT 16

static zcp_mempool_manager *new_manager_slots(const char **name, unsigned slots)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 128, POOL_COUNT);
	zcp_mempool_config_add_entry(cfg, 4096, 4);
	zcp_mempool_config_set_max_processes(cfg, slots);
	*name = zt_name();
	if (zcp_mempool_manager_create(*name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	return m;
}

static zcp_mempool_manager *new_manager(const char **name)
{
	return new_manager_slots(name, ZCP_DEFAULT_PROCESSES);
}

/* Publish/subscribe traffic: passes every pub.* and sub.* point at least
 * three times (a queue of 2, so publishes evict from the third on). */
static void topic_script(zcp_mempool_manager *m)
{
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = 2;
	zcp_publisher *p;
	zcp_subscriber *s;
	ZT_CHECK(zcp_subscriber_create(m, "cw", &o, &s) == 0);
	ZT_CHECK(zcp_publisher_create(m, "cw", &o, &p) == 0);
	for (int i = 0; i < 6; i++) {
		zcp_chunk *c = zcp_publisher_loan(p, 100);
		ZT_CHECK(c);
		memset(zcp_sample_data(c), 'T', 100);
		ZT_CHECK(zcp_publisher_publish(p, c) == 0);
		if (i % 2) {
			zcp_chunk *r = zcp_subscriber_take(s);
			ZT_CHECK(r && ((char *)zcp_sample_data(r))[99] == 'T');
			zcp_chunk_release(m, r);
		}
	}
	zcp_chunk *r;
	while ((r = zcp_subscriber_take(s)))
		zcp_chunk_release(m, r);
	zcp_publisher_close(p);
	zcp_subscriber_close(s);
}

/* The child's traffic: passes through every get/ref/release point. */
static void script(zcp_mempool_manager *m, uint64_t parent_handle)
{
	topic_script(m);
	for (int i = 0; i < 6; i++) {
		zcp_chunk *a = zcp_chunk_get(m, 100);
		zcp_chunk *b = zcp_chunk_get(m, 100);
		ZT_CHECK(a && b);
		memset(zcp_chunk_data(a), 0xAA, 100);
		zcp_chunk_release(m, a);
		zcp_chunk *c = zcp_chunk_from_handle(m, parent_handle);
		ZT_CHECK(c && zcp_chunk_ref(m, c) == 0);
		zcp_chunk_release(m, c);
		zcp_chunk_ref(m, b);
		zcp_chunk_release(m, b);
		uint64_t ticket;
		ZT_CHECK(zcp_chunk_send(m, b, 0, &ticket) == 0);
		zcp_chunk_release(m, b);
		zcp_chunk *r = zcp_chunk_receive(m, ticket);
		ZT_CHECK(r);
		zcp_chunk_release(m, r);
	}
}

/* A process that dies holding three chunks. */
static void die_holding(const char *name)
{
	pid_t g = zt_fork();
	if (g == 0) {
		zcp_mempool_manager *m;
		ZT_CHECK(zcp_mempool_manager_attach(name, &m) == 0);
		for (int i = 0; i < 3; i++)
			zcp_chunk_get(m, 100);
		/* And open endpoints, one sample queued and one taken. */
		zcp_publisher *p;
		zcp_subscriber *s;
		ZT_CHECK(zcp_subscriber_create(m, "dead", NULL, &s) == 0 &&
			 zcp_publisher_create(m, "dead", NULL, &p) == 0);
		for (int i = 0; i < 2; i++) {
			zcp_chunk *c = zcp_publisher_loan(p, 100);
			ZT_CHECK(c && zcp_publisher_publish(p, c) == 0);
		}
		ZT_CHECK(zcp_subscriber_take(s) != NULL);
		_exit(0);
	}
	int st;
	zt_wait(g, &st);
}

static int killed(pid_t pid)
{
	int st = 0;
	if (zt_wait(pid, &st) != 0)
		return 0;
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

/* Where a point is hit, and so what the child runs to reach it. */
enum mode { TRAFFIC, RECLAIMING, ATTACHING, TAKING_OVER };

static enum mode mode_of(const char *point)
{
	if (strncmp(point, "reclaim.", 8) == 0 || strcmp(point, "topic.reclaimed") == 0)
		return RECLAIMING;
	if (strcmp(point, "slot.locked") == 0 || strcmp(point, "slot.claimed") == 0)
		return ATTACHING;
	if (strcmp(point, "takeover.claimed") == 0)
		return TAKING_OVER;
	return TRAFFIC;
}

/* The parent's checks once the child died at `point`: reclaim frees
 * `dead` slots, only the survivor's two chunks stay in use, the lists are
 * whole, everything else can be taken, the survivor's data is intact. */
static void after_death(zcp_mempool_manager *m, zcp_chunk **mine, const char *what,
			unsigned dead)
{
	zcp_reclaim_report rep;
	int err = zcp_mempool_manager_reclaim(m, &rep);
	ok(err == 0 && rep.processes == dead,
	   "%s: reclaim frees the dead slots (%d, %llu of %u processes, %llu refs, %llu chunks)",
	   what, err, (unsigned long long)rep.processes, dead,
	   (unsigned long long)rep.references, (unsigned long long)rep.chunks);
	zcp_pool_stats s;
	zcp_mempool_manager_pool_stats(m, 0, &s);
	is_int((long long)s.used, 2, "%s: only the survivor's 2 chunks are in use", what);
	is_int(zcp_mempool_manager_check(m), 0, "%s: free lists whole, nothing lost", what);
	/* Everything else can be taken: no chunk stranded anywhere. */
	zcp_chunk *all[POOL_COUNT];
	int n = 0;
	while (n < POOL_COUNT && (all[n] = zcp_chunk_get(m, 100)))
		n++;
	is_int(n, POOL_COUNT - 2, "%s: every other chunk can be taken again", what);
	for (int i = 0; i < n; i++)
		zcp_chunk_release(m, all[i]);
	int intact = 1;
	for (int i = 0; i < 2; i++) {
		unsigned char *d = zcp_chunk_data(mine[i]);
		for (int k = 0; k < 128; k++)
			intact &= d[k] == 'P' + i;
	}
	ok(intact && zcp_chunk_refcount(mine[0]) == 1,
	   "%s: the survivor's data and references are untouched", what);
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 0,
	   "%s: a second reclaim has nothing to do", what);
	/* No topic keeps a sample or an endpoint of the dead. */
	unsigned kept = 0, endpoints = 0;
	for (int t = 0; t < zcp_topic_slots(m); t++) {
		zcp_topic_info ti;
		if (zcp_topic_get_info(m, t, &ti) == 0) {
			kept += (unsigned)ti.kept;
			endpoints += ti.publishers + ti.subscribers + ti.closed_publishers;
		}
	}
	ok(kept == 0 && endpoints == 0, "%s: no topic keeps a sample (%u) or an endpoint (%u)",
	   what, kept, endpoints);
}

/* Die at `point` (its skip+1-th hit) in the role mode_of() gives it, or,
 * with takeover, while attaching to a full table by taking over the slot
 * of a process that died holding three chunks. */
static void one_in(const char *point, unsigned skip, int takeover)
{
	const char *name;
	enum mode mode = takeover ? TAKING_OVER : mode_of(point);
	zcp_mempool_manager *m = new_manager_slots(&name, takeover ? 2 : ZCP_DEFAULT_PROCESSES);
	zcp_chunk *mine[2];
	char what[96];
	for (int i = 0; i < 2; i++) {
		mine[i] = zcp_chunk_get(m, 100);
		memset(zcp_chunk_data(mine[i]), 'P' + i, 128);
	}
	uint64_t handle = zcp_chunk_handle(m, mine[0]);
	if (mode == TAKING_OVER)
		die_holding(name); /* fills the table with a dead process */

	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		if (mode == ATTACHING || mode == TAKING_OVER)
			zcp__crash_arm(point, skip);
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		if (mode == RECLAIMING) {
			die_holding(name);
			zcp__crash_arm(point, 0);
			zcp_mempool_manager_reclaim(cm, NULL);
		} else if (mode == TRAFFIC) {
			zcp__crash_arm(point, skip);
			script(cm, handle);
		}
		_exit(0);
	}
	snprintf(what, sizeof what, "%s%s #%u", takeover ? "takeover, " : "", point, skip + 1);
	ok(killed(pid), "%s: the child was killed there", what);
	/* Dead slots: the child's, and in reclaim the holder it reclaimed;
	 * a child killed before its claim left none, and in a takeover the
	 * one slot is the dead holder's or, taken over, the child's. */
	unsigned dead = mode == RECLAIMING ? 2 : 1;
	if (mode == ATTACHING && strcmp(point, "slot.locked") == 0)
		dead = 0;
	after_death(m, mine, what, dead);
	zcp_mempool_manager_destroy(m);
}

static void one(const char *point, unsigned skip)
{
	one_in(point, skip, 0);
}

/* A reclaimer that read a dead slot's word, was preempted, and resumes
 * after another reclaimer freed the slot and a new process took it: its
 * decision must fail (one CAS on the exact word it judged), never act on
 * the new, live occupant. */
static void delayed_reclaimer(void)
{
	const char *name;
	zcp_mempool_manager *m = new_manager_slots(&name, 2);
	die_holding(name); /* slot 1: dead, three chunks */
	uint64_t w = atomic_load(&zcp__proc_at(m, 1)->id);
	ok(zcp__slot_orphaned(m, 1, w), "delayed reclaimer: judges slot 1 dead");
	/* Meanwhile: another reclaimer frees the slot and a new process
	 * takes it and a chunk.  Here: a reclaim, then a live child. */
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1,
	   "delayed reclaimer: someone else reclaims slot 1");
	int go[2], back[2];
	if (pipe(go) || pipe(back))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		char c;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		zcp_chunk *x = zcp_chunk_get(cm, 100);
		ZT_CHECK(x);
		memset(zcp_chunk_data(x), 'N', 100);
		ZT_CHECK(write(back[1], "a", 1) == 1 && read(go[0], &c, 1) == 1);
		for (int k = 0; k < 100; k++)
			ZT_CHECK(((char *)zcp_chunk_data(x))[k] == 'N');
		ZT_CHECK(zcp_chunk_refcount(x) == 1);
		_exit(0);
	}
	char c;
	ok(read(back[0], &c, 1) == 1, "delayed reclaimer: a new process lives in slot 1");
	uint64_t mine;
	ok(!zcp__slot_begin_reclaim(m, 1, w, &mine),
	   "delayed reclaimer: its stale decision fails its CAS");
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 0,
	   "delayed reclaimer: a reclaim leaves the live occupant alone");
	/* Someone takes every free chunk and writes it: the child's stays. */
	zcp_chunk *all[POOL_COUNT];
	int n = 0;
	while (n < POOL_COUNT && (all[n] = zcp_chunk_get(m, 100)))
		memset(zcp_chunk_data(all[n++]), 'X', 100);
	is_int(n, POOL_COUNT - 1, "delayed reclaimer: every chunk but the live one can be taken");
	(void)!write(go[1], "g", 1);
	zt_ok_child(pid, "delayed reclaimer: the live occupant's chunk is intact");
	for (int i = 0; i < n; i++)
		zcp_chunk_release(m, all[i]);
	for (int i = 0; i < 2; i++) {
		close(go[i]);
		close(back[i]);
	}
	zcp_mempool_manager_destroy(m);
}

/* A holder killed after taking a chunk, before writing its generation:
 * the chunk must come back at a generation past the one it was taken at,
 * so its next word differs from every word it had before. */
static void unrecorded_generation(void)
{
	const char *name;
	zcp_mempool_manager *m = new_manager(&name);
	zcp_chunk *x = zcp_chunk_get(m, 100);
	uint64_t h = zcp_chunk_handle(m, x);
	uint64_t gidx = (h >> 38) - 1;
	zcp_chunk_release(m, x); /* RELEASING(gen 1), the top: the next get takes it */
	uint64_t before = atomic_load(&m->records[gidx].word);
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		zcp__crash_arm("pop.taken", 0);
		zcp_chunk_get(cm, 100);
		_exit(0);
	}
	ok(killed(pid), "unrecorded generation: the taker died before writing it");
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.chunks == 1,
	   "unrecorded generation: reclaim returns the chunk");
	uint64_t after = atomic_load(&m->records[gidx].word);
	ok(after != before && zcp__w_gen(after) == zcp__w_gen(before) + 1,
	   "unrecorded generation: given back at the next generation (%llx -> %llx)",
	   (unsigned long long)before, (unsigned long long)after);
	is_int(zcp_mempool_manager_check(m), 0, "unrecorded generation: lists whole");
	zcp_mempool_manager_destroy(m);
}

/* A receiver killed after taking its reference, before marking the ticket
 * taken: reclaim drops its reference and cancels the ticket, and the
 * sender's lent reference comes back. */
static void receiver_dies(void)
{
	const char *name;
	zcp_mempool_manager *m = new_manager(&name);
	zcp_chunk *c = zcp_chunk_get(m, 100);
	int pipefd[2];
	if (pipe(pipefd))
		bail("pipe");
	int idpipe[2];
	if (pipe(idpipe))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		uint64_t t, id;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		id = zcp_mempool_manager_process_id(cm);
		ZT_CHECK(write(idpipe[1], &id, sizeof id) == sizeof id &&
			 read(pipefd[0], &t, sizeof t) == sizeof t);
		zcp__crash_arm("receive.bit", 0);
		zcp_chunk_receive(cm, t);
		_exit(0);
	}
	uint64_t ticket, child_id = 0;
	ok(read(idpipe[0], &child_id, sizeof child_id) == sizeof child_id && child_id != 0,
	   "the receiver tells its process id");
	close(idpipe[0]);
	close(idpipe[1]);
	is_int(zcp_chunk_send(m, c, child_id, &ticket), 0, "send a reference to the child");
	is_int(zcp_chunk_release(m, c), 0, "sender releases its own reference at once");
	ok(write(pipefd[1], &ticket, sizeof ticket) == sizeof ticket, "ticket written to the pipe");
	ok(killed(pid), "receiver killed between its reference and the ticket");
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1 && rep.cancelled == 1,
	   "reclaim frees the receiver and cancels its ticket");
	zcp_chunk *again = zcp_chunk_get(m, 100); /* collects the lent reference */
	zcp_pool_stats s;
	zcp_mempool_manager_pool_stats(m, 0, &s);
	ok(again && s.used == 1, "the lent reference is gone: only the new chunk is in use");
	errno = 0;
	ok(!zcp_chunk_receive(m, ticket) && errno == ESTALE, "the cancelled ticket is stale");
	zcp_chunk_release(m, again);
	is_int(zcp_mempool_manager_check(m), 0, "free lists whole");
	close(pipefd[0]);
	close(pipefd[1]);
	zcp_mempool_manager_destroy(m);
}

/* A chunk whose holder died in the middle of giving it back (RELEASING,
 * not pushed) cannot be taken until reclaim finishes it: the pool's stats
 * count it as used, and a reclaim frees exactly what `used` then drops. */
static void unfinished_release_counts_used(void)
{
	const char *name;
	zcp_mempool_manager *m = new_manager(&name);
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		zcp_chunk *a = zcp_chunk_get(cm, 100), *b = zcp_chunk_get(cm, 100);
		ZT_CHECK(a && b);
		/* a is below the head now: its release goes the long way. */
		zcp__crash_arm("release.releasing", 0);
		zcp_chunk_release(cm, a);
		_exit(0);
	}
	ok(killed(pid), "unfinished release: the holder died giving a chunk back");
	zcp_pool_stats s;
	zcp_mempool_manager_pool_stats(m, 0, &s);
	is_int((long long)s.used, 2, "unfinished release: both of its chunks count as used");
	uint64_t before = s.used;
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0, "unfinished release: reclaim");
	zcp_mempool_manager_pool_stats(m, 0, &s);
	ok(s.used == 0 && rep.chunks == before - s.used,
	   "unfinished release: reclaim freed %llu chunks, exactly what used dropped (%llu -> %llu)",
	   (unsigned long long)rep.chunks, (unsigned long long)before,
	   (unsigned long long)s.used);
	zcp_mempool_manager_destroy(m);
}

int main(void)
{
	plan_lazy();
	for (int i = 0; zcp__crash_points[i]; i++) {
		enum mode mode = mode_of(zcp__crash_points[i]);
		unsigned tries = mode == TRAFFIC ? 3 : mode == TAKING_OVER ? 0 : 1;
		for (unsigned skip = 0; skip < tries; skip++)
			one(zcp__crash_points[i], skip);
	}
	/* Attaching to a full table: a kill at each step of the takeover
	 * and of the cleaning it does as the slot's new owner. */
	static const char *const takeover_points[] = {
		"slot.locked", "takeover.claimed", "release.releasing",
		"push.finalized", "push.done", "reclaim.dropped", NULL,
	};
	for (int i = 0; takeover_points[i]; i++)
		one_in(takeover_points[i], 0, 1);
	receiver_dies();
	delayed_reclaimer();
	unrecorded_generation();
	unfinished_release_counts_used();
	zt_done();
	return done_testing();
}
