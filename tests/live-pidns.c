/* SPDX-License-Identifier: MIT */
/*
 * Attacks the promise of <zerocp/reclaim.h>: "A process is taken for dead
 * only when it certainly is ... This holds whatever PID namespaces the
 * process and the checker are in", and zcp_mempool_manager_creator_alive()
 * across PID namespaces (containers sharing /dev/shm).
 *
 * For every placement of a chunk holder and a checker (host, own PID
 * namespace without its own /proc, own PID namespace with a fresh /proc,
 * two different namespaces): the checker must see the live holder alive,
 * its reclaim must take nothing from it, the holder's chunks must survive
 * the checker taking and overwriting every free chunk; once the holder is
 * SIGKILLed and reaped, reclaim must free its slot and chunks (a dead
 * namespaced process must not stay alive forever).  Then a creator in a
 * namespace is alive for the host while it runs and dead after, and the
 * other way round.
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
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define CHUNK 256
#define COUNT 16
#define HELD 4
#define SLOTS 8

enum place { HOST, NS, NS_PROC };
static const char *const place_name[] = {"the host", "a PID namespace without its own /proc",
					 "a PID namespace with its own /proc"};

struct box {
	/* holder */
	_Atomic int h_ready, h_err, h_bad;
	_Atomic long h_verified;
	_Atomic uint64_t h_id;
	_Atomic long h_hostpid, h_nspid;
	/* checker */
	_Atomic int c_phase, c_go, c_err;
	_Atomic int c_found, c_alive, c_not_alive, c_after_alive;
	_Atomic long c_rep1_procs, c_rep1_refs, c_taken, c_rep2_procs, c_rep2_chunks;
	_Atomic int c_gone, c_id_listed;
	_Atomic long c_used;
	_Atomic int c_creator1, c_creator2;
	/* server */
	_Atomic int s_ready, s_err;
	_Atomic long s_hostpid;
};

static struct box *box;
static const char *cur_name;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Wait up to ms for *v >= want. */
static int wait_for(_Atomic int *v, int want, long ms)
{
	for (long i = 0; i < ms; i++) {
		if (atomic_load(v) >= want)
			return 1;
		sleep_ms(1);
	}
	return atomic_load(v) >= want;
}

static void on_alarm(int sig)
{
	(void)sig;
	_exit(124);
}

/*
 * Runs fn at place p.  Returns the pid to reap (the direct child); the pid
 * of the process running fn, as the host sees it, goes to *hostpid.  In a
 * namespace the direct child unshares and forks fn's process, which is pid
 * 1 of the new namespace; it dies with the direct child (PDEATHSIG) and
 * after 20 s (a handled SIGALRM: a namespace's init ignores default ones).
 */
/* Where spawn() stores a host pid nobody reads. */
static _Atomic long unused_hostpid;

static pid_t spawn(enum place p, void (*fn)(void), _Atomic long *hostpid)
{
	pid_t pid = zt_fork();
	if (pid != 0) {
		if (p == HOST && pid > 0)
			atomic_store(hostpid, pid);
		return pid;
	}
	if (p == HOST) {
		fn();
		_exit(0);
	}
	ZT_CHECK(unshare(CLONE_NEWPID | CLONE_NEWNS) == 0);
	ZT_CHECK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	pid_t g = fork();
	ZT_CHECK(g >= 0);
	if (g == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGALRM, on_alarm);
		alarm(20);
		ZT_CHECK(p != NS_PROC ||
			 mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0);
		fn();
		_exit(0);
	}
	atomic_store(hostpid, g);
	int st;
	while (waitpid(g, &st, 0) < 0 && errno == EINTR)
		;
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
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

/* The holder: takes HELD chunks, stamps them, and checks them until killed. */
static void holder(void)
{
	zcp_mempool_manager *m;
	zcp_chunk *c[HELD];
	int bad[HELD] = {0};
	int err = zcp_mempool_manager_attach(cur_name, &m);
	if (err) {
		atomic_store(&box->h_err, err);
		ZT_NOTE("holder: attach: %s", zcp_strerror(err));
		_exit(1);
	}
	uint64_t id = zcp_mempool_manager_process_id(m);
	for (int i = 0; i < HELD; i++) {
		c[i] = zcp_chunk_get(m, CHUNK);
		if (!c[i]) {
			atomic_store(&box->h_err, -errno);
			ZT_NOTE("holder: get: %s", strerror(errno));
			_exit(1);
		}
		stamp(c[i], (id << 8) ^ ((uint64_t)i << 60));
	}
	atomic_store(&box->h_id, id);
	atomic_store(&box->h_nspid, (long)getpid());
	atomic_store(&box->h_ready, 1);
	for (;;) {
		for (int i = 0; i < HELD; i++)
			if (!bad[i] && !stamp_ok(c[i], (id << 8) ^ ((uint64_t)i << 60))) {
				bad[i] = 1;
				atomic_fetch_add(&box->h_bad, 1);
			}
		atomic_fetch_add(&box->h_verified, 1);
		sleep_ms(1);
	}
}

static int find_slot(zcp_mempool_manager *m, uint64_t id, zcp_process_info *out)
{
	int n = zcp_mempool_manager_process_slots(m);
	for (int s = 0; s < n; s++)
		if (zcp_mempool_manager_process(m, s, out) == 0 && out->pid && out->id == id)
			return s;
	return -1;
}

/* The holder's slot: by its process id, else (an implementation that does
 * not fill zcp_process_info.id) the one slot holding HELD chunks. */
static int find_holder(zcp_mempool_manager *m, uint64_t id, zcp_process_info *out)
{
	int s = find_slot(m, id, out), n = zcp_mempool_manager_process_slots(m);
	for (int i = 0; s < 0 && i < n; i++)
		if (zcp_mempool_manager_process(m, i, out) == 0 && out->pid && !out->self &&
		    out->chunks == HELD)
			s = i;
	return s;
}

static uint64_t pool_used(zcp_mempool_manager *m)
{
	zcp_pool_stats st;
	if (zcp_mempool_manager_pool_stats(m, 0, &st) != 0)
		return (uint64_t)-1;
	return st.used;
}

/* The checker: looks at the holder, reclaims, churns every free chunk;
 * after the holder was killed, reclaims again. */
static void checker(void)
{
	zcp_mempool_manager *m;
	zcp_process_info pi;
	zcp_reclaim_report rep;
	int err = zcp_mempool_manager_attach(cur_name, &m);
	if (err) {
		atomic_store(&box->c_err, err);
		atomic_store(&box->c_phase, 2);
		ZT_NOTE("checker: attach: %s", zcp_strerror(err));
		_exit(1);
	}
	uint64_t hid = atomic_load(&box->h_id);
	int s = find_slot(m, hid, &pi);
	atomic_store(&box->c_id_listed, s >= 0);
	s = find_holder(m, hid, &pi);
	int hslot = s;
	atomic_store(&box->c_found, s >= 0);
	atomic_store(&box->c_alive, s >= 0 && pi.alive == 1);
	int not_alive = 0, n = zcp_mempool_manager_process_slots(m);
	for (int i = 0; i < n; i++)
		if (zcp_mempool_manager_process(m, i, &pi) == 0 && pi.pid && !pi.alive)
			not_alive++;
	atomic_store(&box->c_not_alive, not_alive);
	memset(&rep, 0, sizeof rep);
	zcp_mempool_manager_reclaim(m, &rep);
	atomic_store(&box->c_rep1_procs, (long)rep.processes);
	atomic_store(&box->c_rep1_refs, (long)rep.references);
	s = find_holder(m, hid, &pi);
	atomic_store(&box->c_after_alive, s >= 0 && pi.alive == 1);
	/* Churn: take every chunk we can, overwrite it, give it back. */
	long most = 0;
	for (int round = 0; round < 20; round++) {
		zcp_chunk *got[COUNT];
		int k = 0;
		while (k < COUNT && (got[k] = zcp_chunk_get(m, CHUNK)) != NULL)
			memset(zcp_chunk_data(got[k++]), 0xEE, CHUNK);
		if (k > most)
			most = k;
		while (k > 0)
			zcp_chunk_release(m, got[--k]);
	}
	atomic_store(&box->c_taken, most);
	atomic_store(&box->c_phase, 1);
	wait_for(&box->c_go, 1, 10000);
	/* The holder is dead and reaped: reclaim must free it, soon. */
	long procs = 0, chunks = 0;
	for (int i = 0; i < 50 && procs == 0; i++) {
		memset(&rep, 0, sizeof rep);
		zcp_mempool_manager_reclaim(m, &rep);
		procs += (long)rep.processes;
		chunks += (long)rep.chunks;
		if (procs || (hslot >= 0 && zcp_mempool_manager_process(m, hslot, &pi) == 0 && pi.pid == 0))
			break;
		sleep_ms(10);
	}
	atomic_store(&box->c_rep2_procs, procs);
	atomic_store(&box->c_rep2_chunks, chunks);
	/* Nobody attached since: the holder's slot must be free now. */
	atomic_store(&box->c_gone, hslot >= 0 ? zcp_mempool_manager_process(m, hslot, &pi) == 0 && pi.pid == 0
					       : find_slot(m, hid, &pi) < 0);
	atomic_store(&box->c_used, (long)pool_used(m));
	atomic_store(&box->c_phase, 2);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

static zcp_mempool_manager *make(const char *name)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, CHUNK, COUNT);
	zcp_mempool_config_set_max_processes(cfg, SLOTS);
	int err = zcp_mempool_manager_create(name, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (err)
		bail("create %s: %s", name, zcp_strerror(err));
	return m;
}

static void holder_checker(enum place hp, enum place cp)
{
	char what[200];
	snprintf(what, sizeof what, "holder in %s, checker in %s%s", place_name[hp], place_name[cp],
		 hp != HOST && cp != HOST ? " (another one)" : "");
	cur_name = zt_name();
	zcp_mempool_manager *m = make(cur_name);
	memset(box, 0, sizeof *box);

	pid_t hpid = spawn(hp, holder, &box->h_hostpid);
	int ready = wait_for(&box->h_ready, 1, 5000);
	for (int i = 0; i < 1000 && atomic_load(&box->h_hostpid) == 0; i++)
		sleep_ms(1);
	if (!ready || atomic_load(&box->h_hostpid) == 0) {
		ok(0, "%s: holder ready (attach: %s)", what, zcp_strerror(atomic_load(&box->h_err)));
		kill(hpid, SIGKILL);
		zt_wait(hpid, NULL);
		zcp_mempool_manager_destroy(m);
		return;
	}
	pid_t cpid = spawn(cp, checker, &unused_hostpid);
	wait_for(&box->c_phase, 1, 10000);
	/* Let the holder check its chunks twice after the churn. */
	long v = atomic_load(&box->h_verified);
	for (int i = 0; i < 2000 && atomic_load(&box->h_verified) < v + 2; i++)
		sleep_ms(1);
	int hbad = atomic_load(&box->h_bad);
	long hv = atomic_load(&box->h_verified);
	kill((pid_t)atomic_load(&box->h_hostpid), SIGKILL);
	int st;
	zt_wait(hpid, &st);
	atomic_store(&box->c_go, 1);
	wait_for(&box->c_phase, 2, 10000);
	zt_wait(cpid, &st);

	if (atomic_load(&box->c_err))
		diag("checker attach: %s", zcp_strerror(atomic_load(&box->c_err)));
	ok(atomic_load(&box->c_found) && atomic_load(&box->c_alive),
	   "%s: the live holder is shown alive (found %d, alive %d, holder pid %ld here / %ld in its namespace)",
	   what, atomic_load(&box->c_found), atomic_load(&box->c_alive),
	   atomic_load(&box->h_hostpid), atomic_load(&box->h_nspid));
	ok(atomic_load(&box->c_id_listed),
	   "%s: the holder's slot lists its zcp_mempool_manager_process_id() as id", what);
	is_int(atomic_load(&box->c_not_alive), 0, "%s: every occupied slot (all live) is shown alive", what);
	ok(atomic_load(&box->c_rep1_procs) == 0 && atomic_load(&box->c_after_alive),
	   "%s: reclaim reclaims nothing of the live holder (reclaimed %ld processes, %ld references; holder still listed alive: %d)",
	   what, atomic_load(&box->c_rep1_procs), atomic_load(&box->c_rep1_refs),
	   atomic_load(&box->c_after_alive));
	ok(hbad == 0 && hv > v,
	   "%s: the holder's chunks stay its own (%d of %d overwritten; checker took at most %ld of %d chunks at once)",
	   what, hbad, HELD, atomic_load(&box->c_taken), COUNT);
	is_int(atomic_load(&box->c_taken), COUNT - HELD, "%s: the checker could take exactly the free chunks", what);
	ok(atomic_load(&box->c_phase) == 2 && atomic_load(&box->c_rep2_procs) == 1 &&
		   atomic_load(&box->c_gone) && atomic_load(&box->c_used) == 0,
	   "%s: once SIGKILLed and reaped, the holder is reclaimed (processes %ld, chunks %ld, slot freed %d, used %ld)",
	   what, atomic_load(&box->c_rep2_procs), atomic_load(&box->c_rep2_chunks),
	   atomic_load(&box->c_gone), atomic_load(&box->c_used));
	zcp_reclaim_report rep;
	zcp_mempool_manager_reclaim(m, &rep);
	ok(pool_used(m) == 0 && zcp_mempool_manager_check(m) == 0,
	   "%s: afterwards nothing is used and every chunk is free once", what);
	zcp_mempool_manager_destroy(m);
}

/* A server that creates the manager and waits to be killed. */
static void server(void)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	zcp_mempool_config_add_entry(cfg, CHUNK, COUNT);
	zcp_mempool_config_set_max_processes(cfg, SLOTS);
	int err = zcp_mempool_manager_create(cur_name, cfg, &m);
	if (err) {
		atomic_store(&box->s_err, err);
		ZT_NOTE("creator: create: %s", zcp_strerror(err));
		_exit(1);
	}
	zcp_chunk_get(m, CHUNK);
	atomic_store(&box->s_ready, 1);
	for (;;)
		pause();
}

/* A client that watches the creator: alive now, dead after c_go. */
static void creator_watcher(void)
{
	zcp_mempool_manager *m;
	zcp_reclaim_report rep;
	int err = zcp_mempool_manager_attach(cur_name, &m);
	if (err) {
		atomic_store(&box->c_err, err);
		atomic_store(&box->c_phase, 2);
		ZT_NOTE("watcher: attach: %s", zcp_strerror(err));
		_exit(1);
	}
	atomic_store(&box->c_creator1, zcp_mempool_manager_creator_alive(m));
	memset(&rep, 0, sizeof rep);
	zcp_mempool_manager_reclaim(m, &rep);
	atomic_store(&box->c_rep1_procs, (long)rep.processes);
	atomic_store(&box->c_phase, 1);
	wait_for(&box->c_go, 1, 10000);
	int alive = 1;
	for (int i = 0; i < 50 && (alive = zcp_mempool_manager_creator_alive(m)) != 0; i++)
		sleep_ms(10);
	atomic_store(&box->c_creator2, alive);
	long procs = 0;
	for (int i = 0; i < 50 && procs == 0; i++) {
		memset(&rep, 0, sizeof rep);
		zcp_mempool_manager_reclaim(m, &rep);
		procs += (long)rep.processes;
		if (!procs && atomic_load(&box->c_rep1_procs) == 0)
			sleep_ms(10);
		else
			break;
	}
	atomic_store(&box->c_rep2_procs, procs);
	atomic_store(&box->c_used, (long)pool_used(m));
	atomic_store(&box->c_phase, 2);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

static void creator_case(enum place sp, enum place cp)
{
	char what[200];
	snprintf(what, sizeof what, "creator in %s, client in %s", place_name[sp], place_name[cp]);
	cur_name = zt_name();
	memset(box, 0, sizeof *box);
	pid_t spid = spawn(sp, server, &box->s_hostpid);
	int ready = wait_for(&box->s_ready, 1, 5000);
	for (int i = 0; i < 1000 && atomic_load(&box->s_hostpid) == 0; i++)
		sleep_ms(1);
	if (!ready) {
		ok(0, "%s: server ready (create: %s)", what, zcp_strerror(atomic_load(&box->s_err)));
		kill(spid, SIGKILL);
		zt_wait(spid, NULL);
		zcp_mempool_manager_unlink(cur_name);
		return;
	}
	pid_t cpid = spawn(cp, creator_watcher, &unused_hostpid);
	wait_for(&box->c_phase, 1, 10000);
	kill((pid_t)atomic_load(&box->s_hostpid), SIGKILL);
	zt_wait(spid, NULL);
	atomic_store(&box->c_go, 1);
	wait_for(&box->c_phase, 2, 10000);
	zt_wait(cpid, NULL);
	if (atomic_load(&box->c_err))
		diag("client attach: %s", zcp_strerror(atomic_load(&box->c_err)));
	is_int(atomic_load(&box->c_creator1), 1, "%s: creator_alive() is 1 while the creator runs", what);
	is_int(atomic_load(&box->c_rep1_procs), 0, "%s: reclaim takes nothing from the live creator", what);
	is_int(atomic_load(&box->c_creator2), 0, "%s: creator_alive() is 0 once it was killed", what);
	ok(atomic_load(&box->c_rep2_procs) == 1 && atomic_load(&box->c_used) == 0,
	   "%s: the dead creator is reclaimed (processes %ld, used after %ld)", what,
	   atomic_load(&box->c_rep2_procs), atomic_load(&box->c_used));
	zcp_mempool_manager_unlink(cur_name);
}

static void noop(void)
{
	_exit(0);
}

int main(void)
{
	box = mmap(NULL, sizeof *box, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (box == MAP_FAILED)
		bail("mmap");
	if (geteuid() != 0)
		skip_all("PID namespaces need root");
	{
		_Atomic long dummy = 0;
		int st = 0;
		pid_t p = spawn(NS_PROC, noop, &dummy);
		if (p < 0 || zt_wait(p, &st) != 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			skip_all("unshare(CLONE_NEWPID|CLONE_NEWNS) or mounting /proc is unavailable (status %d)",
				 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	plan_lazy();
	holder_checker(NS, HOST);
	holder_checker(NS_PROC, HOST);
	holder_checker(HOST, NS);
	holder_checker(HOST, NS_PROC);
	holder_checker(NS, NS);
	holder_checker(NS_PROC, NS_PROC);
	holder_checker(NS_PROC, NS);
	creator_case(NS, HOST);
	creator_case(NS_PROC, HOST);
	creator_case(HOST, NS_PROC);
	creator_case(NS, NS_PROC);
	zt_done();
	return done_testing();
}
