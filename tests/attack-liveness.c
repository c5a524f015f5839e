/* SPDX-License-Identifier: MIT */
/* Attacks the README's "Only the dead are reclaimed" and reclaim.h's
 * liveness rule ("taken for dead only when it certainly is: the kernel has
 * released the lock it took on its slot"), plus handles and tickets after
 * reclaim and slot reuse:
 *  L1 a live process that, through the public API, opens and closes the
 *     manager's segments once more (a read-only attach + detach, a
 *     zcp_segment_open + close of <name>_mgmt, a second attach + detach)
 *     must not look dead: a peer's reclaim must leave its chunks alone;
 *  L2 a forked child inheriting the descriptors does not keep a dead parent
 *     alive, and the child's calls on the parent's handle (ECHILD; detach
 *     and destroy included) do not touch the parent's slot;
 *  L3 a SIGSTOPped process keeps everything;
 *  L4 a process whose main thread exited while another thread runs keeps
 *     everything;
 *  L5 a handle of a dead holder's chunk fails after reclaim, and after the
 *     chunk is taken again;
 *  L6 a ticket named to a receiver that detached (or died) cannot be taken
 *     by the process that reuses its slot;
 *  L7 a sender that detaches with a ticket in flight: the ticket either
 *     yields the intact chunk or is stale once the chunk went back. */
#include "attack-agent.h"

#include <dirent.h>
#include <stdlib.h>

static zcp_mempool_manager *m;
static const char *name;

static void mk(unsigned procs, uint32_t count)
{
	name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 128, count);
	zcp_mempool_config_set_max_processes(cfg, procs);
	int err = zcp_mempool_manager_create(name, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (err)
		bail("create: %s", zcp_strerror(err));
}

static void finish(const char *what)
{
	zcp_mempool_manager_reclaim(m, NULL);
	zcp_mempool_manager_settle(m);
	ok(pool_used(m, 0) == 0, "%s: all chunks back at the end (used %llu)", what,
	   (unsigned long long)pool_used(m, 0));
	is_int(zcp_mempool_manager_check(m), 0, "%s: check", what);
	zcp_mempool_manager_destroy(m);
}

static uint64_t reclaim_n(void)
{
	zcp_reclaim_report r;
	memset(&r, 0, sizeof r);
	if (zcp_mempool_manager_reclaim(m, &r))
		return UINT64_MAX;
	return r.processes;
}

static void l1(int op, const char *what)
{
	mk(8, 8);
	struct agent *a = agent_alloc();
	if (agent_start(a, name))
		bail("agent");
	agent_do(a, OP_GET, 100, 0);
	agent_do_text(a, OP_WRITE, 0, 0, "alive");
	int64_t r = agent_do(a, op, 0, 0);
	if (r != 0) {
		skip("%s: the operation itself failed (%s)", what, zcp_err_name((int)r));
	} else {
		uint64_t n = reclaim_n();
		is_int((long long)n, 0, "%s: a peer's reclaim finds nobody dead", what);
		is_int((long long)pool_used(m, 0), 1, "%s: the live process's chunk stays used", what);
		zcp_chunk *c = zcp_chunk_get(m, 100);
		if (c)
			strcpy(zcp_chunk_data(c), "intruder");
		agent_do(a, OP_READ, 0, 0);
		ok(strcmp(a->text, "alive") == 0, "%s: its data intact (\"%s\")", what, a->text);
		if (c)
			zcp_chunk_release(m, c);
		is_int(agent_do(a, OP_RELEASE, 0, 0), 0, "%s: it still releases its chunk", what);
	}
	ok(agent_stop(a), "%s: detaches", what);
	finish(what);
	munmap(a, sizeof *a);
}

struct forkbox {
	_Atomic int stage;
	pid_t grandchild;
	int get_errno, release_ret, ref_ret, send_ret, settle_ret, destroy_ret, reclaim_ret;
	uint64_t pid_id;
};

static void l2(void)
{
	const char *what = "L2 (fork)";
	mk(8, 8);
	struct forkbox *b =
		mmap(NULL, sizeof *b, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(b, 0, sizeof *b);
	pid_t c = zt_fork();
	if (c == 0) {
		zcp_mempool_manager *cm;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		zcp_chunk *x = zcp_chunk_get(cm, 100);
		ZT_CHECK(x);
		strcpy(zcp_chunk_data(x), "parent C");
		pid_t g = fork();
		if (g == 0) {
			uint64_t t;
			alarm((unsigned)(60 * zt_slowdown())); /* never outlive the test */
			errno = 0;
			b->get_errno = zcp_chunk_get(cm, 100) ? 0 : errno;
			b->release_ret = zcp_chunk_release(cm, x);
			b->ref_ret = zcp_chunk_ref(cm, x);
			b->send_ret = zcp_chunk_send(cm, x, 0, &t);
			b->settle_ret = (int)zcp_mempool_manager_settle(cm);
			b->reclaim_ret = zcp_mempool_manager_reclaim(cm, NULL);
			b->pid_id = zcp_mempool_manager_process_id(cm);
			b->destroy_ret = zcp_mempool_manager_destroy(cm);
			zcp_mempool_manager_detach(cm);
			/* The grandchild says it is done itself: a store by C
			 * after its fork() could land after this one and hide
			 * it (CI saw that once). */
			b->grandchild = getpid();
			atomic_store(&b->stage, 2);
			for (;;)
				pause();
		}
		ZT_CHECK(g > 0);
		for (;;)
			pause();
	}
	double end = agent_now() + 30 * (double)zt_slowdown(); /* a loaded CI machine once took past 10 s */
	while (atomic_load(&b->stage) < 2 && agent_now() < end)
		usleep(100);
	ok(atomic_load(&b->stage) == 2, "%s: child and grandchild set up", what);
	is_int(b->get_errno, ECHILD, "%s: get on the parent's handle: ECHILD", what);
	is_int(b->release_ret, ZCP_ECHILD, "%s: release: ECHILD", what);
	is_int(b->ref_ret, ZCP_ECHILD, "%s: ref: ECHILD", what);
	is_int(b->send_ret, ZCP_ECHILD, "%s: send: ECHILD", what);
	is_int(b->settle_ret, ZCP_ECHILD, "%s: settle: ECHILD", what);
	is_int(b->reclaim_ret, ZCP_ECHILD, "%s: reclaim: ECHILD", what);
	is_int((long long)b->pid_id, 0, "%s: process_id: 0", what);
	is_int(b->destroy_ret, ZCP_ECHILD, "%s: destroy: ECHILD", what);
	is_int((long long)pool_used(m, 0), 1, "%s: after the child's calls and detach, C still holds its chunk", what);
	is_int((long long)reclaim_n(), 0, "%s: C alive: nothing reclaimed", what);
	char path[128];
	snprintf(path, sizeof path, "/dev/shm/zerocp_%s_mgmt", name);
	ok(access(path, F_OK) == 0, "%s: the child's destroy did not unlink the segments", what);
	kill(c, SIGKILL);
	int st;
	waitpid(c, &st, 0);
	is_int((long long)reclaim_n(), 1,
	       "%s: C dead, its forked child (inherited descriptors) alive: C reclaimed", what);
	is_int((long long)pool_used(m, 0), 0, "%s: C's chunk back", what);
	if (b->grandchild > 0) {
		kill(b->grandchild, SIGKILL);
		/* not our child: wait until it is gone */
		for (int i = 0; i < 1000 && kill(b->grandchild, 0) == 0; i++)
			usleep(1000);
	}
	finish(what);
	munmap(b, sizeof *b);
}

static void l3(void)
{
	const char *what = "L3 (SIGSTOP)";
	mk(8, 8);
	struct agent *a = agent_alloc();
	if (agent_start(a, name))
		bail("agent");
	agent_do(a, OP_GET, 100, 0);
	kill(a->pid, SIGSTOP);
	usleep(20000);
	is_int((long long)reclaim_n(), 0, "%s: a stopped process is not reclaimed", what);
	is_int((long long)pool_used(m, 0), 1, "%s: its chunk stays used", what);
	kill(a->pid, SIGCONT);
	is_int(agent_do(a, OP_RELEASE, 0, 0), 0, "%s: resumed, it releases", what);
	ok(agent_stop(a), "%s: detaches", what);
	finish(what);
	munmap(a, sizeof *a);
}

static void l4(void)
{
	const char *what = "L4 (main thread exited)";
	mk(8, 8);
	struct agent *a = agent_alloc();
	if (agent_start(a, name))
		bail("agent");
	agent_do(a, OP_GET, 100, 0);
	agent_do(a, OP_STOP_MAIN, 0, 0);
	usleep(20000);
	char path[64], st[256] = "";
	snprintf(path, sizeof path, "/proc/%d/task", (int)a->pid);
	int threads = 0;
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)))
		threads += e->d_name[0] != '.';
	if (d)
		closedir(d);
	snprintf(path, sizeof path, "/proc/%d/stat", (int)a->pid);
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(st, sizeof st, f))
			st[0] = 0;
		fclose(f);
	}
	st[strcspn(st, "\n")] = 0;
	diag("%s: process %d has %d threads; /proc stat: %.60s", what, (int)a->pid, threads, st);
	ok(kill(a->pid, 0) == 0 && threads >= 1, "%s: the process is alive", what);
	is_int((long long)reclaim_n(), 0, "%s: not reclaimed while a thread runs", what);
	is_int((long long)pool_used(m, 0), 1, "%s: its chunk stays used", what);
	agent_kill(a);
	is_int((long long)reclaim_n(), 1, "%s: killed: reclaimed", what);
	finish(what);
	munmap(a, sizeof *a);
}

static void l5(void)
{
	const char *what = "L5 (handle after reclaim)";
	mk(8, 1);
	struct agent *a = agent_alloc();
	if (agent_start(a, name))
		bail("agent");
	agent_do(a, OP_GET, 100, 0);
	uint64_t h = a->out;
	agent_kill(a);
	ok(zcp_chunk_from_handle(m, h) != NULL, "%s: before reclaim the dead holder's handle resolves",
	   what);
	is_int((long long)reclaim_n(), 1, "%s: reclaim", what);
	errno = 0;
	ok(!zcp_chunk_from_handle(m, h) && errno == EINVAL, "%s: after reclaim it fails (EINVAL)", what);
	zcp_chunk *x = zcp_chunk_get(m, 100);
	ok(x != NULL, "%s: the chunk is taken again", what);
	errno = 0;
	zcp_chunk *y = zcp_chunk_from_handle(m, h);
	ok(!y && errno == EINVAL, "%s: the old handle still fails", what);
	if (y)
		is_int(zcp_chunk_ref(m, y), ZCP_ESTALE, "%s: and a ref through it is refused", what);
	if (x) {
		uint64_t h2 = zcp_chunk_handle(m, x);
		ok(h2 != h && zcp_chunk_from_handle(m, h2) == x, "%s: the new handle resolves", what);
		zcp_chunk_release(m, x);
	}
	finish(what);
	munmap(a, sizeof *a);
}

static void l6(int dies)
{
	const char *what = dies ? "L6 (receiver died, slot reused)" : "L6 (receiver detached, slot reused)";
	mk(2, 8); /* the parent and one more: R2 must reuse R's slot */
	struct agent *r = agent_alloc(), *r2 = agent_alloc();
	if (agent_start(r, name))
		bail("agent");
	zcp_chunk *x = zcp_chunk_get(m, 100);
	strcpy(zcp_chunk_data(x), "for R");
	uint64_t t;
	is_int(zcp_chunk_send(m, x, atomic_load(&r->id), &t), 0, "%s: send X to R", what);
	zcp_chunk_release(m, x);
	if (dies)
		agent_kill(r);
	else
		ok(agent_stop(r), "%s: R detaches", what);
	ok(agent_start(r2, name) == 0, "%s: R2 attaches into R's slot", what);
	ok(atomic_load(&r2->id) != atomic_load(&r->id), "%s: with another process id", what);
	int64_t ret = agent_do(r2, OP_RECEIVE, t, 0);
	if (ret == 0)
		diag("%s: R2 took R's ticket: \"%s\"", what, r2->text);
	ok(ret == -EACCES || ret == -ESTALE, "%s: R2 cannot take R's ticket (%s)", what,
	   zcp_err_name((int)ret));
	if (ret == 0)
		agent_do(r2, OP_RELEASE, 0, 0);
	int u = zcp_chunk_unsend(m, t);
	ok(u == 0 || u == ZCP_ESTALE, "%s: the sender cancels or finds it cancelled (%s)", what,
	   zcp_err_name(u));
	zcp_mempool_manager_settle(m);
	is_int((long long)pool_used(m, 0), 0, "%s: X back", what);
	ok(agent_stop(r2), "%s: R2 detaches", what);
	finish(what);
	munmap(r, sizeof *r);
	munmap(r2, sizeof *r2);
}

static void l7(void)
{
	const char *what = "L7 (sender detaches, ticket in flight)";
	mk(8, 1);
	struct agent *s = agent_alloc(), *r = agent_alloc();
	if (agent_start(s, name) || agent_start(r, name))
		bail("agents");
	agent_do(s, OP_GET, 100, 0);
	agent_do_text(s, OP_WRITE, 0, 0, "from S");
	agent_do(s, OP_SEND, 0, 0);
	uint64_t t = s->out;
	agent_do(s, OP_RELEASE, 0, 0);
	ok(agent_stop(s), "%s: S detaches", what);
	errno = 0;
	zcp_chunk *x = zcp_chunk_get(m, 100);
	if (x)
		strcpy(zcp_chunk_data(x), "P's now");
	int64_t ret = agent_do(r, OP_RECEIVE, t, 0);
	if (x) {
		is_int(ret, -ESTALE, "%s: X went back with the detach: the ticket is stale", what);
		ok(strcmp(zcp_chunk_data(x), "P's now") == 0, "%s: P's data untouched", what);
		zcp_chunk_release(m, x);
	} else {
		is_int(ret, 0, "%s: X still lent: the ticket yields it", what);
		ok(strcmp(r->text, "from S") == 0, "%s: with S's data", what);
	}
	if (ret == 0)
		agent_do(r, OP_RELEASE, 0, 0);
	ok(agent_stop(r), "%s: R detaches", what);
	finish(what);
	munmap(s, sizeof *s);
	munmap(r, sizeof *r);
}

int main(void)
{
	plan_lazy();
	l1(OP_RO_CYCLE, "L1 (read-only attach+detach in the same process)");
	l1(OP_SEG_CYCLE, "L1 (zcp_segment_open+close of the mgmt segment)");
	l1(OP_ATT2_CYCLE, "L1 (second attach+detach in the same process)");
	l2();
	l3();
	l4();
	l5();
	l6(0);
	l6(1);
	l7();
	zt_done();
	return done_testing();
}
