/* SPDX-License-Identifier: MIT */
/*
 * Attacks liveness where it meets descriptors: reclaim.h says a process
 * is dead when "the kernel has released the lock it took on its slot when
 * it attached, which happens when its last thread exits (or it execs)",
 * and README that "Descriptors inherited by a child do not keep a dead
 * parent alive".  A lock on an open file description is shared by every
 * descriptor that refers to it: dup(), fork(), SCM_RIGHTS.
 *
 *  - memfd managers attached through inherited descriptors
 *    (zcp_mempool_manager_attach_fds(), "shared by inheritance"): each
 *    holder must be alive while it runs, and dead, reclaimed, once killed,
 *    while the creator and another holder sharing the same descriptions
 *    live on; their chunks intact.
 *  - children made without fork()'s atfork handlers (_Fork(), vfork() +
 *    exec, posix_spawn()) that outlive their attached parent must not keep
 *    it alive.
 *  - a live process that closes every descriptor above 2 (as daemons and
 *    closefrom() do) while it keeps using its chunks: README promises
 *    nothing for it; reported as TODO.
 */
#define _GNU_SOURCE
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define CHUNK 256
#define COUNT 16
#define HELD 3

extern char **environ;

struct holder {
	_Atomic int ready, err, bad, verified, creator_alive, creator_slot_alive;
	_Atomic long child; /* a child it made */
};

struct box {
	struct holder h[2];
	_Atomic int stop;
};

static struct box *box;
static const char *name;

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

static uint64_t used(zcp_mempool_manager *m)
{
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	return st.used;
}

static zcp_reclaim_report reclaim(zcp_mempool_manager *m)
{
	zcp_reclaim_report rep;
	memset(&rep, 0, sizeof rep);
	zcp_mempool_manager_reclaim(m, &rep);
	return rep;
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

static zcp_mempool_manager *make(int backend)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, CHUNK, COUNT);
	zcp_mempool_config_set_max_processes(cfg, 8);
	if (backend == ZCP_BACKEND_MEMFD && zcp_mempool_config_set_backend(cfg, backend) != 0) {
		zcp_mempool_config_free(cfg);
		return NULL;
	}
	int err = zcp_mempool_manager_create(name, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (err)
		bail("create %s: %s", name, zcp_strerror(err));
	return m;
}

/* Holder k: attach (by the given descriptors, or by name), take HELD
 * stamped chunks, look at the creator, then check the chunks until
 * stopped or killed. */
static void holder(int k, int mfd, int dfd, void (*after)(struct holder *))
{
	struct holder *h = &box->h[k];
	zcp_mempool_manager *m;
	zcp_chunk *c[HELD];
	int err = mfd >= 0 ? zcp_mempool_manager_attach_fds(name, mfd, dfd, &m) : zcp_mempool_manager_attach(name, &m);
	if (err) {
		atomic_store(&h->err, err);
		atomic_store(&h->ready, 1);
		ZT_NOTE("holder: attach: %s", zcp_strerror(err));
		_exit(1);
	}
	for (int i = 0; i < HELD; i++) {
		c[i] = zcp_chunk_get(m, CHUNK);
		ZT_CHECK(c[i] != NULL);
		stamp(c[i], 0x1000 * (uint64_t)(k + 1) + (uint64_t)i * 100);
	}
	atomic_store(&h->creator_alive, zcp_mempool_manager_creator_alive(m));
	zcp_process_info pi;
	int alive = 0;
	for (int s = 0; s < zcp_mempool_manager_process_slots(m); s++)
		if (zcp_mempool_manager_process(m, s, &pi) == 0 && pi.pid == (int64_t)getppid())
			alive = pi.alive;
	atomic_store(&h->creator_slot_alive, alive);
	if (after)
		after(h);
	atomic_store(&h->ready, 1);
	int bad = 0;
	for (;;) {
		for (int i = 0; i < HELD; i++)
			bad |= !stamp_ok(c[i], 0x1000 * (uint64_t)(k + 1) + (uint64_t)i * 100);
		atomic_store(&h->bad, bad);
		atomic_fetch_add(&h->verified, 1);
		if (atomic_load(&box->stop))
			_exit(0);
		sleep_ms(1);
	}
}

static int slot_of_chunks(zcp_mempool_manager *m, uint64_t chunks, zcp_process_info *pi, int nth)
{
	for (int s = 0; s < zcp_mempool_manager_process_slots(m); s++)
		if (zcp_mempool_manager_process(m, s, pi) == 0 && pi->pid && !pi->self && pi->chunks == chunks &&
		    nth-- == 0)
			return s;
	return -1;
}

static void memfd_inherited(void)
{
	name = zt_name();
	zcp_mempool_manager *m = make(ZCP_BACKEND_MEMFD);
	if (!m) {
		skip("memfd backend not built in");
		return;
	}
	memset(box, 0, sizeof *box);
	int mfd, dfd;
	if (zcp_mempool_manager_fds(m, &mfd, &dfd) != 0)
		bail("fds");
	pid_t p[2];
	for (int k = 0; k < 2; k++) {
		if ((p[k] = zt_fork()) == 0)
			holder(k, mfd, dfd, NULL);
		wait_for(&box->h[k].ready, 1, 5000);
		is_int(atomic_load(&box->h[k].err), 0, "memfd: holder %d attached through inherited descriptors", k);
	}
	for (int k = 0; k < 2; k++) {
		is_int(atomic_load(&box->h[k].creator_alive), 1, "memfd: holder %d sees the creator alive", k);
		is_int(atomic_load(&box->h[k].creator_slot_alive), 1, "memfd: holder %d sees the creator's slot alive", k);
	}
	zcp_process_info pi;
	int alive = 0;
	for (int n = 0; n < 2; n++)
		alive += slot_of_chunks(m, HELD, &pi, n) >= 0 && pi.alive == 1;
	is_int(alive, 2, "memfd: the creator sees both holders alive");
	zcp_reclaim_report rep = reclaim(m);
	is_int((long long)rep.processes, 0, "memfd: reclaim takes nothing from live holders");
	is_int(churn(m), COUNT - 2 * HELD, "memfd: only the free chunks can be taken");
	/* Kill holder 0; holder 1 and the creator share its descriptions. */
	kill(p[0], SIGKILL);
	zt_wait(p[0], NULL);
	rep = reclaim(m);
	ok(rep.processes == 1 && used(m) == HELD,
	   "memfd: the killed holder is reclaimed though others hold its open file descriptions (processes %llu, used %llu)",
	   (unsigned long long)rep.processes, (unsigned long long)used(m));
	alive = slot_of_chunks(m, HELD, &pi, 0) >= 0 && pi.alive == 1;
	ok(alive, "memfd: the other holder is still alive");
	churn(m);
	int v = atomic_load(&box->h[1].verified);
	for (int i = 0; i < 2000 && atomic_load(&box->h[1].verified) < v + 2; i++)
		sleep_ms(1);
	is_int(atomic_load(&box->h[1].bad), 0, "memfd: the other holder's chunks are intact");
	atomic_store(&box->stop, 1);
	zt_ok_child(p[1], "memfd: the other holder ended");
	rep = reclaim(m);
	ok(used(m) == 0 && zcp_mempool_manager_check(m) == 0, "memfd: everything back after both died");
	zcp_mempool_manager_destroy(m);
}

/* Children without atfork handlers, living on after the holder dies. */
static void make_fork_child(struct holder *h)
{
	pid_t c = _Fork();
	if (c == 0) {
		alarm(20);
		for (;;)
			pause();
	}
	atomic_store(&h->child, c);
}

static void make_vfork_child(struct holder *h)
{
	char *argv[] = {"live-fds", "exec-sleep", NULL};
	pid_t c = vfork();
	if (c == 0) {
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	atomic_store(&h->child, c);
}

static void make_spawn_child(struct holder *h)
{
	char *argv[] = {"live-fds", "exec-sleep", NULL};
	pid_t c = -1;
	if (posix_spawn(&c, "/proc/self/exe", NULL, NULL, argv, environ) != 0)
		c = -1;
	atomic_store(&h->child, c);
}

static void closefrom3(struct holder *h)
{
	(void)h;
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
}

static void child_outlives(const char *how, void (*after)(struct holder *))
{
	name = zt_name();
	zcp_mempool_manager *m = make(ZCP_BACKEND_SHM);
	memset(box, 0, sizeof *box);
	pid_t p = zt_fork();
	if (p == 0)
		holder(0, -1, -1, after);
	wait_for(&box->h[0].ready, 1, 5000);
	pid_t c = (pid_t)atomic_load(&box->h[0].child);
	ok(c > 0, "%s: the holder made a child (%ld)", how, (long)c);
	sleep_ms(20); /* let an exec happen */
	kill(p, SIGKILL);
	zt_wait(p, NULL);
	zcp_process_info pi;
	int s = slot_of_chunks(m, HELD, &pi, 0);
	ok(s >= 0 && pi.alive == 0, "%s: the killed holder is shown dead while its child runs (slot %d, alive %d)",
	   how, s, s >= 0 ? pi.alive : -1);
	zcp_reclaim_report rep = reclaim(m);
	ok(rep.processes == 1 && used(m) == 0, "%s: its child does not keep it alive (processes %llu, used %llu)",
	   how, (unsigned long long)rep.processes, (unsigned long long)used(m));
	if (c > 0) {
		kill(c, SIGKILL); /* reparented to us, the subreaper */
		zt_wait(c, NULL);
	}
	reclaim(m);
	zcp_mempool_manager_destroy(m);
}

static void closes_all_fds(void)
{
	name = zt_name();
	zcp_mempool_manager *m = make(ZCP_BACKEND_SHM);
	memset(box, 0, sizeof *box);
	pid_t p = zt_fork();
	if (p == 0)
		holder(0, -1, -1, closefrom3);
	wait_for(&box->h[0].ready, 1, 5000);
	zcp_process_info pi;
	int s = slot_of_chunks(m, HELD, &pi, 0);
	int alive = s >= 0 && pi.alive == 1;
	zcp_reclaim_report rep = reclaim(m);
	churn(m);
	int v = atomic_load(&box->h[0].verified);
	for (int i = 0; i < 2000 && atomic_load(&box->h[0].verified) < v + 2; i++)
		sleep_ms(1);
	int bad = atomic_load(&box->h[0].bad);
	atomic_store(&box->stop, 1);
	zt_wait(p, NULL);
	ok(alive && rep.processes == 0 && bad == 0,
	   "a live process that closed every descriptor above 2 keeps its chunks (alive %d, reclaimed %llu, overwritten %d) # TODO closing the library's descriptors",
	   alive, (unsigned long long)rep.processes, bad);
	reclaim(m);
	zcp_mempool_manager_destroy(m);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "exec-sleep") == 0) {
		alarm(20);
		for (;;)
			pause();
	}
	plan_lazy();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	box = mmap(NULL, sizeof *box, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (box == MAP_FAILED)
		bail("mmap");
	memfd_inherited();
	child_outlives("_Fork() child", make_fork_child);
	child_outlives("vfork()+exec child", make_vfork_child);
	child_outlives("posix_spawn() child", make_spawn_child);
	closes_all_fds();
	zt_done();
	return done_testing();
}
