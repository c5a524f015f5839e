/* SPDX-License-Identifier: MIT */
/* zcp_waitset_fd() FIFO litter: a listener killed and reclaimed by a
 * process of another user, which /dev/shm's sticky bit keeps from
 * unlinking its FIFO (EPERM).  The record stays, and the next process
 * that may remove it does: a root attach, a root reclaim, the owner's
 * attach, the manager's destroy.  Unrecorded FIFOs of the name pattern
 * that nobody holds open go with zcp_mempool_manager_unlink() (so
 * `zerocp clean`); nothing but such FIFOs is ever removed (a planted
 * regular file, a symlink, a FIFO held open, a name off the pattern stay).
 * Root only (it switches users); skipped otherwise. */
#define _GNU_SOURCE
#include "tap.h"
#include "zt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define NOBODY 65534
#define OTHER  65533 /* another user, in group NOBODY */

static zcp_mempool_manager *make(const char **name)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 64, 64);
	zcp_mempool_config_set_topics(cfg, 8, 2, 4, 16);
	zcp_mempool_config_set_access(cfg, 0660, NOBODY);
	*name = zt_name();
	if (zcp_mempool_manager_create(*name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	return m;
}

/* The FIFOs of manager `name` in /dev/shm (entries of its pattern that
 * are FIFOs). */
static int fifos_of(const char *name)
{
	char pre[128], path[512];
	snprintf(pre, sizeof pre, "zerocp_%s.fd.", name);
	DIR *d = opendir("/dev/shm");
	int n = 0;
	struct dirent *e;
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
		n += strncmp(e->d_name, pre, strlen(pre)) == 0 && lstat(path, &st) == 0 &&
		     S_ISFIFO(st.st_mode);
	}
	closedir(d);
	return n;
}

static void become(uid_t uid)
{
	gid_t g[1] = {NOBODY};
	ZT_CHECK(setgroups(1, g) == 0 && setgid(NOBODY) == 0 && setuid(uid) == 0);
}

static zcp_mempool_manager *attach_any(const char *name)
{
	zcp_mempool_manager *m = NULL;
	zcp_attach_options o;
	zcp_attach_options_init(&o);
	o.owner_uid = ZCP_OWNER_ANY;
	ZT_CHECK(zcp_mempool_manager_attach_opts(name, &o, &m) == 0);
	return m;
}

/* A child of user uid (0: root) with a waitset descriptor, SIGKILLed. */
static void listener_killed(const char *name, uid_t uid)
{
	int pfd[2];
	if (pipe(pfd) != 0)
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		close(pfd[0]);
		if (uid)
			become(uid);
		zcp_mempool_manager *m = attach_any(name);
		zcp_waitset *ws;
		int fd;
		ZT_CHECK(zcp_waitset_create(m, &ws) == 0);
		ZT_CHECK(zcp_waitset_fd(ws, &fd) == 0);
		ZT_CHECK(write(pfd[1], "x", 1) == 1);
		pause();
		_exit(0);
	}
	close(pfd[1]);
	char c;
	ok(read(pfd[0], &c, 1) == 1 && fifos_of(name) == 1, "a listener of uid %u has its FIFO",
	   (unsigned)uid);
	close(pfd[0]);
	kill(pid, SIGKILL);
	int st;
	zt_wait(pid, &st);
}

/* A child of user uid reclaims the dead listener, then detaches. */
static void reclaim_as(const char *name, uid_t uid)
{
	pid_t pid = zt_fork();
	if (pid == 0) {
		become(uid);
		zcp_mempool_manager *m = attach_any(name);
		zcp_reclaim_report rep;
		ZT_CHECK(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1);
		zcp_mempool_manager_detach(m);
		_exit(0);
	}
	zt_ok_child(pid, "uid %u reclaims the dead listener", (unsigned)uid);
}

/* Root's listener, reclaimed by uid 65534: EPERM, the FIFO stays; then
 * `how` removes it. */
static void case_root_listener(int how)
{
	static const char *const what[] = {"a root attach", "a root reclaim",
					   "the manager's destroy"};
	const char *name;
	zcp_mempool_manager *m = make(&name);
	listener_killed(name, 0);
	reclaim_as(name, NOBODY);
	ok(fifos_of(name) == 1,
	   "uid %d could not unlink root's FIFO (sticky /dev/shm: EPERM); it is still there",
	   NOBODY);
	if (how == 0) {
		zcp_mempool_manager *m2;
		ok(zcp_mempool_manager_attach(name, &m2) == 0 && fifos_of(name) == 0,
		   "%s removes the leftover FIFO", what[how]);
		zcp_mempool_manager_detach(m2);
	} else if (how == 1) {
		zcp_reclaim_report rep;
		ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && fifos_of(name) == 0,
		   "%s removes the leftover FIFO", what[how]);
	} else {
		ok(zcp_mempool_manager_destroy(m) == 0 && fifos_of(name) == 0,
		   "%s removes the leftover FIFO", what[how]);
		return;
	}
	zcp_mempool_manager_destroy(m);
	ok(fifos_of(name) == 0, "no FIFO after the destroy");
}

/* A listener of uid 65534 reclaimed by uid 65533 (both non-root): the
 * owner's next attach removes it. */
static void case_owner_attach(void)
{
	const char *name;
	zcp_mempool_manager *m = make(&name);
	listener_killed(name, NOBODY);
	reclaim_as(name, OTHER);
	ok(fifos_of(name) == 1, "uid %d could not unlink uid %d's FIFO", OTHER, NOBODY);
	pid_t pid = zt_fork();
	if (pid == 0) {
		become(NOBODY);
		zcp_mempool_manager *c = attach_any(name);
		int left = fifos_of(name);
		zcp_mempool_manager_detach(c);
		_exit(left == 0 ? 0 : 1);
	}
	zt_ok_child(pid, "the owner's (uid %d) next attach removes it", NOBODY);
	ok(fifos_of(name) == 0, "no FIFO left");
	zcp_mempool_manager_destroy(m);
}

static int plant(const char *path, int kind, const char *target)
{
	switch (kind) {
	case 0: {
		int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		close(fd);
		return 0;
	}
	case 1:
		return symlink(target, path);
	default:
		return mkfifo(path, 0600);
	}
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Unrecorded FIFOs: swept when old and unread; planted other files kept. */
static void case_sweep(void)
{
	const char *name;
	zcp_mempool_manager *m = make(&name);
	char reg[256], lnk[256], tgt[256], fifo[256], other[256], held[256], bad[256];
	snprintf(reg, sizeof reg, "/dev/shm/zerocp_%s.fd.1.00000000000000ab", name);
	snprintf(lnk, sizeof lnk, "/dev/shm/zerocp_%s.fd.2.00000000000000cd", name);
	snprintf(tgt, sizeof tgt, "/tmp/zerocp-litter-target.%ld", (long)getpid());
	snprintf(fifo, sizeof fifo, "/dev/shm/zerocp_%s.fd.3.00000000000000ef", name);
	snprintf(other, sizeof other, "/dev/shm/zerocp_%s.fd.4.0000000000000012", name);
	snprintf(held, sizeof held, "/dev/shm/zerocp_%s.fd.5.0000000000000034", name);
	snprintf(bad, sizeof bad, "/dev/shm/zerocp_%s.fd.6.xyz", name);
	int tfd = open(tgt, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	ok(tfd >= 0 && plant(reg, 0, NULL) == 0 && plant(lnk, 1, tgt) == 0 &&
		   plant(fifo, 2, NULL) == 0 && plant(held, 2, NULL) == 0 &&
		   plant(bad, 2, NULL) == 0,
	   "planted: a regular file, a symlink, FIFOs of the pattern, one off it");
	if (tfd >= 0)
		close(tfd);
	pid_t pid = zt_fork();
	if (pid == 0) {
		become(NOBODY);
		_exit(mkfifo(other, 0600) == 0 ? 0 : 1);
	}
	zt_ok_child(pid, "uid %d planted a FIFO of the pattern", NOBODY);
	int hfd = open(held, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	ok(hfd >= 0, "one FIFO held open (a live listener's look)");
	/* A young FIFO is left alone: it may be in the making. */
	zcp_mempool_manager_remove(m);
	ok(exists(fifo), "remove: a FIFO younger than 2 s stays");
	sleep(3);
	zcp_mempool_manager_destroy(m);
	ok(!exists(fifo) && !exists(other), "destroy: old unrecorded FIFOs nobody reads go");
	ok(exists(held), "a FIFO held open for reading stays");
	ok(exists(reg) && exists(lnk) && exists(tgt) && exists(bad),
	   "a regular file, a symlink (and its target), a name off the pattern stay");
	close(hfd);
	ok(zcp_mempool_manager_unlink(name) == 0 && !exists(held),
	   "unlink by name (no segments left): the FIFO no longer held goes");
	is_int(zcp_mempool_manager_unlink(name), ZCP_ENOENT, "then nothing is left to unlink");
	unlink(reg);
	unlink(lnk);
	unlink(tgt);
	unlink(bad);
	unlink(held);
	ok(fifos_of(name) == 0, "nothing left");
}

int main(void)
{
	plan_lazy();
	if (geteuid() != 0) {
		skip("FIFO litter across users: not root");
		zt_done();
		return 0;
	}
	case_root_listener(0);
	case_root_listener(1);
	case_root_listener(2);
	case_owner_attach();
	case_sweep();
	zt_done();
	return 0;
}
