/* SPDX-License-Identifier: MIT */
/* Attaching: process ids, read-only handles (no slot, even in a full
 * table; every writing call refused), an attach that cannot take its
 * liveness lock fails instead of registering, a full table makes room from
 * dead processes only, a creator that died while building is reported,
 * and every call's shared retries are bounded under a hostile peer. */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "layout.h"

static zcp_mempool_manager *make(const char *name, unsigned slots)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	if (!cfg || zcp_mempool_config_add_entry(cfg, 256, 16) ||
	    zcp_mempool_config_set_max_processes(cfg, slots) ||
	    zcp_mempool_manager_create(name, cfg, &m))
		bail("create %s", name);
	zcp_mempool_config_free(cfg);
	return m;
}

static int live_processes(zcp_mempool_manager *m)
{
	int n = 0, slots = zcp_mempool_manager_process_slots(m);
	for (int i = 0; i < slots; i++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, i, &pi) == 0 && pi.pid != 0 && pi.alive)
			n++;
	}
	return n;
}

static zcp_mempool_manager *attach_ro(const char *name, int *err)
{
	zcp_attach_options o;
	zcp_mempool_manager *r = NULL;
	zcp_attach_options_init(&o);
	o.read_only = 1;
	*err = zcp_mempool_manager_attach_opts(name, &o, &r);
	return r;
}

static void process_ids(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4), *a = NULL, *b = NULL;
	is_int(zcp_mempool_manager_attach(name, &a), 0, "ids: a second handle in this process");
	is_int(zcp_mempool_manager_attach(name, &b), 0, "ids: and a third");
	uint64_t im = zcp_mempool_manager_process_id(m), ia = zcp_mempool_manager_process_id(a),
		 ib = zcp_mempool_manager_process_id(b);
	ok(im && ia && ib && im != ia && ia != ib && im != ib, "ids: nonzero and distinct");
	is_int(live_processes(m), 3, "ids: three handles, three live slots (each its own lock)");
	zcp_mempool_manager_detach(a);
	is_int(live_processes(m), 2, "ids: a detached handle's slot is free, the others alive");
	is_int(zcp_mempool_manager_attach(name, &a), 0, "ids: attach again");
	ok(zcp_mempool_manager_process_id(a) != ia, "ids: the reused slot has a new id");
	ok(zcp_mempool_manager_process_id(NULL) == 0, "ids: NULL gives 0");
	zcp_mempool_manager_detach(a);
	zcp_mempool_manager_detach(b);
	zcp_mempool_manager_destroy(m);
}

static void read_only(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 2), *c = NULL, *r;
	int err;
	is_int(zcp_mempool_manager_attach(name, &c), 0, "read-only: a client fills the table");
	zcp_mempool_manager *x = NULL;
	is_int(zcp_mempool_manager_attach(name, &x), ZCP_EUSERS, "read-only: the table is full");
	zcp_chunk *held = zcp_chunk_get(c, 10);
	r = attach_ro(name, &err);
	is_int(err, 0, "read-only: attach works with a full table");
	if (!r) {
		for (int i = 0; i < 9; i++)
			skip("no read-only handle");
	} else {
		zcp_pool_stats s;
		ok(zcp_mempool_manager_pool_stats(r, 0, &s) == 0 && s.used == 1,
		   "read-only: sees the pools");
		is_int(live_processes(r), 2, "read-only: sees both live processes, takes no slot");
		ok(zcp_mempool_manager_process_id(r) == 0, "read-only: has no process id");
		errno = 0;
		ok(!zcp_chunk_get(r, 10) && errno == EPERM, "read-only: get is EPERM");
		uint64_t t;
		is_int(zcp_chunk_send(r, held, 0, &t), ZCP_EPERM, "read-only: send is EPERM");
		is_int(zcp_mempool_manager_reclaim(r, NULL), ZCP_EPERM, "read-only: reclaim is EPERM");
		is_int(zcp_mempool_manager_settle(r), ZCP_EPERM, "read-only: settle is EPERM");
		is_int(zcp_mempool_manager_check(r), 0, "read-only: check works");
		is_int(zcp_mempool_manager_creator_alive(r), 1, "read-only: the creator is alive");
		zcp_mempool_manager_detach(r);
	}
	zcp_chunk_release(c, held);
	zcp_mempool_manager_detach(c);
	zcp_mempool_manager_destroy(m);
}

/* With every descriptor but the two segments' used up, attach cannot take
 * its liveness lock: it must fail, and leave no slot that would look dead
 * (or alive) to others. */
static void no_descriptor_for_the_lock(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4);
	pid_t pid = zt_fork();
	if (pid == 0) {
		/* Fill every descriptor but two, then attach. */
		int fds[4096], n = 0, fd;
		struct rlimit rl = {64, 64};
		ZT_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
		while (n < 4096 && (fd = open("/dev/null", O_RDONLY)) >= 0)
			fds[n++] = fd;
		close(fds[--n]);
		close(fds[--n]);
		zcp_mempool_manager *c = NULL;
		int err = zcp_mempool_manager_attach(name, &c);
		if (err != ZCP_EMFILE)
			ZT_NOTE("attach returned %d (%s), want ZCP_EMFILE", err, zcp_err_name(err));
		_exit(err == ZCP_EMFILE ? 0 : 10 + (-err % 100));
	}
	zt_ok_child(pid, "no descriptor for the lock: attach fails with ZCP_EMFILE");
	is_int(live_processes(m), 1, "no descriptor for the lock: nothing was registered");
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 0,
	   "no descriptor for the lock: nothing to reclaim");
	zcp_mempool_manager_destroy(m);
}

/* A creator that died after creating the management segment, before
 * publishing it: attach reports ZCP_ESRCH (leftovers), not ZCP_EAGAIN. */
static void creator_died_building(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4);
	/* Turn it into a manager still being built whose creator is gone:
	 * state INIT, the creator's lock dropped with its handle. */
	zcp_mempool_manager_detach(m);
	char path[256];
	snprintf(path, sizeof path, "/zerocp_%s_mgmt", name);
	int fd = shm_open(path, O_RDWR, 0);
	struct zcp__header *h = fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
					 : MAP_FAILED;
	if (h == MAP_FAILED)
		bail("map %s", path);
	atomic_store(&h->state, ZCP__STATE_INIT);
	zcp_mempool_manager *c = NULL;
	is_int(zcp_mempool_manager_attach(name, &c), ZCP_ESRCH,
	       "creator died building: attach says ZCP_ESRCH (leftovers)");
	int err;
	zcp_mempool_manager *r = attach_ro(name, &err);
	is_int(err, ZCP_ESRCH, "creator died building: a read-only attach says so too");
	if (r)
		zcp_mempool_manager_detach(r);
	munmap(h, 4096);
	close(fd);
	zcp_mempool_manager_unlink(name);
}

/* A management segment that never got sized: its creator may be stopped
 * between creating it and taking its lock, or still reserving memory with
 * its lock held: ZCP_EAGAIN either way, never taken for leftovers. */
static void unsized_segment(void)
{
	const char *name = zt_name();
	char path[256];
	snprintf(path, sizeof path, "/zerocp_%s_mgmt", name);
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		bail("shm_open %s", path);
	zcp_mempool_manager *c = NULL;
	is_int(zcp_mempool_manager_attach(name, &c), ZCP_EAGAIN,
	       "unsized, nobody's lock: ZCP_EAGAIN (its creator may be stopped before "
	       "its lock: never taken for leftovers)");
	/* Now as a live creator would: its lock on byte 0 through a
	 * description of its own. */
	char self[64];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	int lk = open(self, O_RDWR | O_CLOEXEC);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
	ok(lk >= 0 && fcntl(lk, F_OFD_SETLK, &fl) == 0, "unsized: a creator's lock taken");
	is_int(zcp_mempool_manager_attach(name, &c), ZCP_EAGAIN,
	       "unsized, its creator's lock held: ZCP_EAGAIN, still being built");
	close(lk);
	close(fd);
	shm_unlink(path);
}

/* A peer that rewrites a pool head forever: get and release come back
 * (a chunk, or ZCP_EAGAIN) instead of spinning. */
static void bounded_under_a_flipper(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name, 4);
	char path[256];
	snprintf(path, sizeof path, "/zerocp_%s_mgmt", name);
	int fd = shm_open(path, O_RDWR, 0);
	unsigned char *base = fd >= 0 ? mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
				      : MAP_FAILED;
	if (base == MAP_FAILED)
		bail("map %s", path);
	struct zcp__pool_desc *d = (struct zcp__pool_desc *)(base + ZCP__HEADER_SIZE);
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t flipper = zt_fork();
	if (flipper == 0) {
		/* Bump the head's tag as fast as we can, for 4 s at most. */
		time_t end = time(NULL) + 4;
		(void)!write(ready[1], "r", 1);
		while (time(NULL) < end)
			for (int i = 0; i < 100000; i++)
				atomic_fetch_add_explicit(&d->head, 1, memory_order_relaxed);
		_exit(0);
	}
	int got = 0, again = 0, other = 0, calls = 0;
	char r;
	(void)!read(ready[0], &r, 1);
	close(ready[0]);
	close(ready[1]);
	/* One second of calls while the peer rewrites the head. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		calls++;
		zcp_chunk *c = zcp_chunk_get(m, 10);
		if (c) {
			got++;
			if (zcp_chunk_release(m, c) != 0)
				other++;
		} else if (errno == EAGAIN) {
			again++;
		} else {
			other++;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec < 1);
	kill(flipper, SIGKILL);
	zt_wait(flipper, NULL);
	ok(got + again == calls && other == 0,
	   "a head rewritten forever: %d gets came back (%d chunks, %d EAGAIN, %d other)", calls,
	   got, again, other);
	is_int(zcp_mempool_manager_check(m), 0, "and the pool is whole");
	munmap(base, 4096);
	close(fd);
	zcp_mempool_manager_destroy(m);
}

static int exists(const char *name, const char *suffix)
{
	char path[256];
	snprintf(path, sizeof path, "/dev/shm/zerocp_%s%s", name, suffix);
	return access(path, F_OK) == 0;
}

/* A server that stops removes only the segments it created: not those of
 * a server that replaced it under the same name (after a clean, a
 * takeover or a replace). */
static void destroy_only_its_own(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *old = make(name, 4), *new = NULL, *c = NULL;
	is_int(zcp_mempool_manager_unlink(name), 0, "own segments: the names are cleaned away");
	new = make(name, 4);
	is_int(zcp_mempool_manager_destroy(old), 0, "own segments: the old server stops");
	ok(exists(name, "_mgmt") && exists(name, "_data"),
	   "own segments: the new server's segments are still there");
	is_int(zcp_mempool_manager_attach(name, &c), 0, "own segments: and a client attaches to it");
	zcp_mempool_manager_detach(c);
	/* remove() on a read-only handle of the new one, after a third
	 * replaced it: the third stays. */
	int err;
	zcp_mempool_manager *ro = attach_ro(name, &err);
	zcp_mempool_manager_unlink(name);
	zcp_mempool_manager *third = make(name, 4);
	is_int(ro ? zcp_mempool_manager_remove(ro) : err, 0,
	       "own segments: remove() through a stale handle succeeds");
	ok(exists(name, "_mgmt") && exists(name, "_data"), "own segments: and leaves the third alone");
	if (ro)
		zcp_mempool_manager_detach(ro);
	zcp_mempool_manager_destroy(new);
	is_int(zcp_mempool_manager_destroy(third), 0, "own segments: the third stops");
	ok(!exists(name, "_mgmt") && !exists(name, "_data"), "own segments: and removes its own");
}

int main(void)
{
	plan_lazy();
	process_ids();
	read_only();
	no_descriptor_for_the_lock();
	creator_died_building();
	bounded_under_a_flipper();
	destroy_only_its_own();
	unsized_segment();
	zt_done();
	return done_testing();
}
