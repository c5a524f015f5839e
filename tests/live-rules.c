/* SPDX-License-Identifier: MIT */
/*
 * Attacks the liveness rules of README "Crash safety" and <zerocp/reclaim.h>:
 *  - "A stopped (SIGSTOP) or busy process keeps everything": a stopped
 *    holder is alive, reclaim takes nothing, its chunks survive a churn;
 *  - a zombie (killed, not yet reaped by its parent) is dead: reclaimed
 *    while still unreaped;
 *  - "Descriptors inherited by a child do not keep a dead parent alive, and
 *    a forked child never inherits its parent's registration": a forked
 *    child that did not attach does not keep its SIGKILLed parent alive; a
 *    child that attached itself keeps its own chunks when the parent is
 *    reclaimed; the parent's handle answers ZCP_ECHILD in the child and
 *    cannot release the parent's references;
 *  - "the kernel has released the lock it took on its slot when it
 *    attached, which happens when its last thread exits (or it execs)": a
 *    process that exec()s another program is dead for the manager while it
 *    still runs; if the new program attaches, the old registration is
 *    reclaimed and the new one (same pid, same start time) keeps its
 *    chunks.
 * (README says a process is dead when "its pid is gone, is a zombie, or now
 * belongs to a process started at another time"; reclaim.h adds exec: the
 * exec()ed image has none of the mappings, so its references can never be
 * released by it.  We test reclaim.h.)
 */
#define _GNU_SOURCE
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define CHUNK 256
#define COUNT 16

static const char *name;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
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

static int other_slot(zcp_mempool_manager *m, uint64_t chunks, zcp_process_info *pi)
{
	for (int s = 0; s < zcp_mempool_manager_process_slots(m); s++)
		if (zcp_mempool_manager_process(m, s, pi) == 0 && pi->pid && !pi->self && pi->chunks == chunks)
			return s;
	return -1;
}

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

static zcp_reclaim_report reclaim(zcp_mempool_manager *m)
{
	zcp_reclaim_report rep;
	memset(&rep, 0, sizeof rep);
	zcp_mempool_manager_reclaim(m, &rep);
	return rep;
}

/* Child side of a holder: attach, take n chunks stamped tag+k, tell the
 * parent on fd. */
static zcp_mempool_manager *hold(int n, zcp_chunk **c, uint64_t tag, int fd)
{
	zcp_mempool_manager *m;
	ZT_CHECK(zcp_mempool_manager_attach(name, &m) == 0);
	for (int i = 0; i < n; i++) {
		c[i] = zcp_chunk_get(m, CHUNK);
		ZT_CHECK(c[i] != NULL);
		stamp(c[i], tag + (uint64_t)i * 1000);
	}
	ZT_CHECK(fd < 0 || write(fd, "r", 1) == 1);
	return m;
}

static int readc(int fd)
{
	char c;
	return read(fd, &c, 1) == 1 ? c : -1;
}

static void stopped(zcp_mempool_manager *m)
{
	zcp_process_info pi;
	int st;
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_chunk *c[3];
		hold(3, c, 0x5700, -1);
		raise(SIGSTOP);
		int bad = 0;
		for (int i = 0; i < 3; i++)
			bad |= !stamp_ok(c[i], 0x5700 + (uint64_t)i * 1000);
		_exit(bad ? 3 : 0); /* dies attached */
	}
	waitpid(pid, &st, WUNTRACED);
	ok(WIFSTOPPED(st), "holder stopped itself");
	sleep_ms(50);
	int s = other_slot(m, 3, &pi);
	ok(s >= 0 && pi.alive == 1, "a SIGSTOPped holder is shown alive");
	zcp_reclaim_report rep = reclaim(m);
	ok(rep.processes == 0 && used(m) == 3, "a SIGSTOPped holder keeps its chunks (reclaimed %llu, used %llu)",
	   (unsigned long long)rep.processes, (unsigned long long)used(m));
	is_int(churn(m), COUNT - 3, "beside a stopped holder only the free chunks can be taken");
	kill(pid, SIGCONT);
	zt_ok_child(pid, "the stopped holder's chunks were intact when it continued");
	rep = reclaim(m);
	ok(rep.processes == 1 && used(m) == 0, "once it died, it is reclaimed");
}

static void zombie(zcp_mempool_manager *m)
{
	zcp_process_info pi;
	int p[2];
	if (pipe(p))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_chunk *c[3];
		close(p[0]);
		hold(3, c, 0x2000, p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	ok(readc(p[0]) == 'r', "zombie-to-be holds 3 chunks");
	close(p[0]);
	kill(pid, SIGKILL);
	siginfo_t si;
	memset(&si, 0, sizeof si);
	/* Wait for it to be a zombie, without reaping it. */
	int r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT);
	ok(r == 0 && si.si_pid == pid, "the holder is a zombie, not reaped");
	int s = other_slot(m, 3, &pi);
	ok(s >= 0 && pi.alive == 0, "a zombie holder is shown dead (slot %d, alive %d)", s, s >= 0 ? pi.alive : -1);
	zcp_reclaim_report rep = reclaim(m);
	ok(rep.processes == 1 && used(m) == 0, "a zombie holder is reclaimed before it is reaped (processes %llu, used %llu)",
	   (unsigned long long)rep.processes, (unsigned long long)used(m));
	zt_wait(pid, NULL);
	reclaim(m);
}

/* Parent attached, forks a child that does not attach, parent is killed. */
static void forked_child(zcp_mempool_manager *m, int child_attaches)
{
	const char *how = child_attaches ? "a child that attached itself" : "a forked child that did not attach";
	zcp_process_info pi;
	int ready[2], gate[2], res[2];
	if (pipe(ready) || pipe(gate) || pipe(res))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_chunk *c[3];
		zcp_mempool_manager *pm = hold(3, c, 0x3000, -1);
		pid_t k = fork();
		if (k == 0) {
			char ch = 0;
			close(gate[1]);
			/* The parent's handle is not ours. */
			errno = 0;
			zcp_chunk *x = zcp_chunk_get(pm, CHUNK);
			int echild = x == NULL && errno == ECHILD;
			echild &= zcp_chunk_release(pm, c[0]) == ZCP_ECHILD;
			echild &= zcp_mempool_manager_reclaim(pm, NULL) == ZCP_ECHILD;
			zcp_mempool_manager *cm = NULL;
			zcp_chunk *mine = NULL;
			if (child_attaches) {
				ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0 &&
					 (mine = zcp_chunk_get(cm, CHUNK)) != NULL);
				stamp(mine, 0x4000);
			}
			ZT_CHECK(write(ready[1], echild ? "e" : "n", 1) == 1);
			/* Wait for the parent's death and the reclaim. */
			(void)!read(gate[0], &ch, 1);
			int bad = mine && !stamp_ok(mine, 0x4000);
			if (cm && zcp_chunk_release(cm, mine) != 0)
				bad = 1;
			if (cm)
				zcp_mempool_manager_detach(cm);
			(void)!write(res[1], bad ? "b" : "g", 1);
			_exit(0);
		}
		for (;;)
			pause();
	}
	close(gate[0]);
	close(res[1]);
	int e = readc(ready[0]);
	ok(e == 'e', "%s: the parent's handle answers ZCP_ECHILD in the child (get, release, reclaim)", how);
	kill(pid, SIGKILL);
	zt_wait(pid, NULL);
	int s = other_slot(m, 3, &pi);
	ok(s >= 0 && pi.alive == 0, "%s: the killed parent is shown dead while the child runs", how);
	zcp_reclaim_report rep = reclaim(m);
	ok(rep.processes == 1 && used(m) == (uint64_t)child_attaches,
	   "%s: does not keep its dead parent alive (reclaimed %llu, used %llu)", how,
	   (unsigned long long)rep.processes, (unsigned long long)used(m));
	if (child_attaches) {
		s = other_slot(m, 1, &pi);
		ok(s >= 0 && pi.alive == 1, "%s: the child's own slot is alive", how);
		churn(m);
	}
	(void)!write(gate[1], "g", 1);
	int r = readc(res[0]);
	is_int(r, 'g', "%s: the child's chunk survived, and it released it", how);
	close(gate[1]);
	close(res[0]);
	close(ready[0]);
	close(ready[1]);
	for (int i = 0; i < 100 && used(m) != 0; i++)
		sleep_ms(5);
	reclaim(m);
	ok(used(m) == 0 && zcp_mempool_manager_check(m) == 0, "%s: nothing left in use", how);
}

/* The image a holder exec()s: "exec-sleep FD" tells FD and waits to be
 * killed; "exec-attach FD CMDFD" attaches, takes one chunk, tells FD,
 * then on each command byte on CMDFD answers on FD whether the chunk is
 * intact. */
static int exec_main(int argc, char **argv)
{
	alarm(20);
	int fd = atoi(argv[2]);
	if (strcmp(argv[1], "exec-sleep") == 0) {
		(void)!write(fd, "x", 1);
		for (;;)
			pause();
	}
	ZT_CHECK(argc >= 4);
	int cmd = atoi(argv[3]);
	name = getenv("LIVE_RULES_NAME");
	zcp_chunk *c;
	zcp_mempool_manager *m = hold(1, &c, 0x6000, fd);
	for (;;) {
		if (readc(cmd) < 0)
			_exit(0);
		(void)!write(fd, stamp_ok(c, 0x6000) ? "g" : "b", 1);
	}
	(void)m;
}

static void execs(zcp_mempool_manager *m, int reattach)
{
	const char *how = reattach ? "exec()ed a program that attached anew" : "exec()ed another program";
	zcp_process_info pi;
	int p[2], cmd[2];
	if (pipe(p) || pipe(cmd))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_chunk *c[3];
		hold(3, c, 0x7000, p[1]);
		char a[16], b[16];
		snprintf(a, sizeof a, "%d", p[1]);
		snprintf(b, sizeof b, "%d", cmd[0]);
		setenv("LIVE_RULES_NAME", name, 1);
		char *argv[] = {"live-rules", reattach ? "exec-attach" : "exec-sleep", a, b, NULL};
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(p[1]);
	close(cmd[0]);
	ok(readc(p[0]) == 'r', "%s: holder took 3 chunks", how);
	int c = readc(p[0]);
	ok(c == (reattach ? 'r' : 'x'), "%s: the new program runs, same pid", how);
	int s = other_slot(m, 3, &pi);
	ok(s >= 0 && pi.alive == 0, "%s: the old registration is shown dead (slot %d, alive %d)", how, s,
	   s >= 0 ? pi.alive : -1);
	zcp_reclaim_report rep = reclaim(m);
	ok(rep.processes == 1 && used(m) == (uint64_t)reattach,
	   "%s: its old references are reclaimed while it runs (processes %llu, used %llu)", how,
	   (unsigned long long)rep.processes, (unsigned long long)used(m));
	if (reattach) {
		s = other_slot(m, 1, &pi);
		ok(s >= 0 && pi.alive == 1, "%s: the new registration is alive", how);
		churn(m);
		rep = reclaim(m);
		(void)!write(cmd[1], "v", 1);
		is_int(readc(p[0]), 'g', "%s: the new registration's chunk survived reclaim and churn", how);
		s = other_slot(m, 1, &pi);
		ok(s >= 0 && pi.alive == 1, "%s: the new registration is still listed, alive, with its chunk", how);
	}
	kill(pid, SIGKILL);
	zt_wait(pid, NULL);
	close(p[0]);
	close(cmd[1]);
	rep = reclaim(m);
	ok(used(m) == 0 && zcp_mempool_manager_check(m) == 0, "%s: after it died nothing is left in use", how);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strncmp(argv[1], "exec-", 5) == 0)
		return exec_main(argc, argv);
	plan_lazy();
	name = zt_name();
	zcp_mempool_manager *m = make(name);
	stopped(m);
	zombie(m);
	forked_child(m, 0);
	forked_child(m, 1);
	execs(m, 0);
	execs(m, 1);
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
