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
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "crashpoint.h"

#define POOL_COUNT 16

static zcp_mempool_manager *new_manager(const char **name)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 128, POOL_COUNT);
	zcp_mempool_config_add_entry(cfg, 4096, 4);
	*name = zt_name();
	if (zcp_mempool_manager_create(*name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	return m;
}

/* The child's traffic: passes through every get/ref/release point. */
static void script(zcp_mempool_manager *m, uint64_t parent_handle)
{
	for (int i = 0; i < 6; i++) {
		zcp_chunk *a = zcp_chunk_get(m, 100);
		zcp_chunk *b = zcp_chunk_get(m, 100);
		if (!a || !b)
			_exit(10);
		memset(zcp_chunk_data(a), 0xAA, 100);
		zcp_chunk_release(m, a);
		zcp_chunk *c = zcp_chunk_from_handle(m, parent_handle);
		if (!c || zcp_chunk_ref(m, c) != 0)
			_exit(11);
		zcp_chunk_release(m, c);
		zcp_chunk_ref(m, b);
		zcp_chunk_release(m, b);
		uint64_t ticket;
		if (zcp_chunk_send(m, b, 0, &ticket) != 0)
			_exit(12);
		zcp_chunk_release(m, b);
		zcp_chunk *r = zcp_chunk_receive(m, ticket);
		if (!r)
			_exit(13);
		zcp_chunk_release(m, r);
	}
}

/* A process that dies holding three chunks. */
static void die_holding(const char *name)
{
	pid_t g = zt_fork();
	if (g == 0) {
		zcp_mempool_manager *m;
		if (zcp_mempool_manager_attach(name, &m) != 0)
			_exit(1);
		for (int i = 0; i < 3; i++)
			zcp_chunk_get(m, 100);
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

static void one(const char *point, unsigned skip)
{
	const char *name;
	zcp_mempool_manager *m = new_manager(&name);
	zcp_chunk *mine[2];
	for (int i = 0; i < 2; i++) {
		mine[i] = zcp_chunk_get(m, 100);
		memset(zcp_chunk_data(mine[i]), 'P' + i, 128);
	}
	uint64_t handle = zcp_chunk_handle(m, mine[0]);
	int reclaim_point = strcmp(point, "reclaim.claimed") == 0;

	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		if (zcp_mempool_manager_attach(name, &cm) != 0)
			_exit(1);
		if (reclaim_point) {
			die_holding(name);
			zcp__crash_arm(point, 0);
			zcp_mempool_manager_reclaim(cm, NULL);
		} else {
			zcp__crash_arm(point, skip);
			script(cm, handle);
		}
		_exit(0);
	}
	int died = killed(pid);
	ok(died, "%s #%u: the child was killed there", point, skip + 1);

	zcp_reclaim_report rep;
	int err = zcp_mempool_manager_reclaim(m, &rep);
	ok(err == 0 && rep.processes == (reclaim_point ? 2u : 1u),
	   "%s #%u: reclaim frees the dead slots (%d, %llu processes, %llu refs, %llu chunks)",
	   point, skip + 1, err, (unsigned long long)rep.processes,
	   (unsigned long long)rep.references, (unsigned long long)rep.chunks);
	zcp_pool_stats s;
	zcp_mempool_manager_pool_stats(m, 0, &s);
	is_int((long long)s.used, 2, "%s #%u: only the survivor's 2 chunks are in use", point,
	       skip + 1);
	is_int(zcp_mempool_manager_check(m), 0, "%s #%u: free lists whole, nothing lost", point,
	       skip + 1);
	/* Everything else can be taken: no chunk stranded anywhere. */
	zcp_chunk *all[POOL_COUNT];
	int n = 0;
	while (n < POOL_COUNT && (all[n] = zcp_chunk_get(m, 100)))
		n++;
	is_int(n, POOL_COUNT - 2, "%s #%u: every other chunk can be taken again", point, skip + 1);
	for (int i = 0; i < n; i++)
		zcp_chunk_release(m, all[i]);
	int intact = 1;
	for (int i = 0; i < 2; i++) {
		unsigned char *d = zcp_chunk_data(mine[i]);
		for (int k = 0; k < 128; k++)
			intact &= d[k] == 'P' + i;
	}
	ok(intact && zcp_chunk_refcount(mine[0]) == 1,
	   "%s #%u: the survivor's data and references are untouched", point, skip + 1);
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 0,
	   "%s #%u: a second reclaim has nothing to do", point, skip + 1);
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
		if (zcp_mempool_manager_attach(name, &cm) != 0)
			_exit(1);
		id = zcp_mempool_manager_process_id(cm);
		if (write(idpipe[1], &id, sizeof id) != sizeof id ||
		    read(pipefd[0], &t, sizeof t) != sizeof t)
			_exit(1);
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

int main(void)
{
	plan_lazy();
	for (int i = 0; zcp__crash_points[i]; i++) {
		unsigned tries = strcmp(zcp__crash_points[i], "reclaim.claimed") == 0 ? 1 : 3;
		for (unsigned skip = 0; skip < tries; skip++)
			one(zcp__crash_points[i], skip);
	}
	receiver_dies();
	zt_done();
	return done_testing();
}
