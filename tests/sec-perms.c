/* SPDX-License-Identifier: MIT */
/* Segment permissions (shm backend): 0600 by default, a group granted on
 * request, and a process of another uid cannot attach without it.  The
 * parts that change uid need root; they are skipped otherwise. */
#include "config.h"

#include "tap.h"
#include "zt.h"

#include <grp.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define NOBODY 65534
/* A group id the test can hand out as root (need not exist in /etc/group). */
#define TEST_GID 54321

static zcp_mempool_config *config(unsigned mode, long gid)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	if (!cfg || zcp_mempool_config_add_entry(cfg, 256, 8) ||
	    (mode && zcp_mempool_config_set_access(cfg, mode, gid)))
		bail("cannot build a configuration");
	return cfg;
}

static int stat_seg(const char *name, const char *suffix, struct stat *st)
{
	char path[256];
	snprintf(path, sizeof path, "/dev/shm/zerocp_%s%s", name, suffix);
	return stat(path, st);
}

/* In a child: become uid/gid (supplementary groups: just gid), then try
 * to attach, expecting the segments to belong to `owner`.  Exit 0 if the
 * result is `want`. */
static void child_attach_owned(const char *name, uid_t uid, gid_t gid, long owner, int want)
{
	gid_t groups[1] = {gid};
	ZT_CHECK(setgroups(1, groups) == 0 && setgid(gid) == 0 && setuid(uid) == 0);
	ZT_CHECK(getuid() == uid && geteuid() == uid);
	zcp_mempool_manager *m = NULL;
	zcp_attach_options o;
	zcp_attach_options_init(&o);
	o.owner_uid = owner;
	int err = zcp_mempool_manager_attach_opts(name, &o, &m);
	if (err == 0) {
		/* Use it a little: a chunk back and forth. */
		zcp_chunk *c = zcp_chunk_get(m, 10);
		ZT_CHECK(c && zcp_chunk_release(m, c) == 0);
		zcp_mempool_manager_detach(m);
	}
	if (err != want)
		ZT_NOTE("attach returned %d (%s), want %d (%s)", err, zcp_err_name(err), want,
			zcp_err_name(want));
	_exit(err == want ? 0 : 10 + (-err % 100));
}

/* The same, expecting the segments to be the caller's own (the default). */
static void child_attach(const char *name, uid_t uid, gid_t gid, int want)
{
	child_attach_owned(name, uid, gid, ZCP_OWNER_SELF, want);
}

/* Squatting: another user creates the manager's segments before its owner
 * does; the owner's attach must refuse them, naming the owner problem.
 * And a segment chmod'ed wider than its header declares is refused too. */
static void squatting(void)
{
	const char *name = zt_name();
	pid_t pid = zt_fork();
	if (pid == 0) {
		ZT_CHECK(setgid(NOBODY) == 0 && setuid(NOBODY) == 0);
		zcp_mempool_config *cfg = zcp_mempool_config_new();
		zcp_mempool_manager *sq;
		ZT_CHECK(cfg && zcp_mempool_config_add_entry(cfg, 256, 4) == 0 &&
			 zcp_mempool_manager_create(name, cfg, &sq) == 0);
		/* Keep it alive but gone from our view: leave without destroy. */
		_exit(0);
	}
	zt_ok_child(pid, "uid %d squats manager '%s'", NOBODY, name);
	zcp_mempool_manager *m = NULL;
	is_int(zcp_mempool_manager_attach(name, &m), ZCP_EOWNER,
	       "root's attach refuses segments owned by uid %d: ZCP_EOWNER", NOBODY);
	zcp_attach_options o;
	zcp_attach_options_init(&o);
	o.owner_uid = NOBODY;
	o.read_only = 1;
	int err = zcp_mempool_manager_attach_opts(name, &o, &m);
	is_int(err, 0, "naming uid %d as the owner, a read-only attach works", NOBODY);
	if (!err)
		zcp_mempool_manager_detach(m);
	zcp_mempool_manager_unlink(name);

	/* The owner's own segment, made world-writable behind its back. */
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *own;
	name = zt_name();
	if (!cfg || zcp_mempool_config_add_entry(cfg, 256, 4) ||
	    zcp_mempool_manager_create(name, cfg, &own))
		bail("create");
	zcp_mempool_config_free(cfg);
	char path[256];
	snprintf(path, sizeof path, "/dev/shm/zerocp_%s_data", name);
	ok(chmod(path, 0666) == 0, "the data segment chmod'ed 0666");
	is_int(zcp_mempool_manager_attach(name, &m), ZCP_EOWNER,
	       "attach refuses a segment writable beyond its declared mode: ZCP_EOWNER");
	zcp_mempool_manager_destroy(own);
}

int main(void)
{
	struct stat st;
	zcp_mempool_manager *m = NULL;
	const char *name = zt_name();
	int root = geteuid() == 0;

	plan_lazy();
	zcp_mempool_config *cfg = config(0, -1);
	is_int(zcp_mempool_manager_create(name, cfg, &m), 0, "create with the default access");
	zcp_mempool_config_free(cfg);
	if (!m)
		bail("no manager");
	ok(stat_seg(name, "_mgmt", &st) == 0 && (st.st_mode & 07777) == 0600,
	   "management segment is 0600 by default");
	ok(stat_seg(name, "_data", &st) == 0 && (st.st_mode & 07777) == 0600,
	   "data segment is 0600 by default");
	ok(st.st_uid == geteuid(), "owned by the creator");
	if (root) {
		pid_t pid = zt_fork();
		if (pid == 0)
			child_attach(name, NOBODY, NOBODY, ZCP_EACCES);
		zt_ok_child(pid, "uid %d cannot attach to a 0600 manager: ZCP_EACCES", NOBODY);
		pid = zt_fork();
		if (pid == 0)
			child_attach(name, NOBODY, TEST_GID, ZCP_EACCES);
		zt_ok_child(pid, "nor with some group of its own");
	} else {
		skip("not root: cannot drop to another uid");
		skip("not root: cannot drop to another uid");
	}
	is_int(zcp_mempool_manager_destroy(m), 0, "destroy");

	/* Group access.  As root any gid can be given; otherwise use our own
	 * primary group. */
	gid_t gid = root ? TEST_GID : getegid();
	name = zt_name();
	cfg = config(0660, (long)gid);
	m = NULL;
	is_int(zcp_mempool_manager_create(name, cfg, &m), 0, "create with mode 0660, gid %ld",
	       (long)gid);
	zcp_mempool_config_free(cfg);
	if (!m)
		bail("no manager");
	ok(stat_seg(name, "_mgmt", &st) == 0 && (st.st_mode & 07777) == 0660 && st.st_gid == gid,
	   "management segment is 0660 with the group");
	ok(stat_seg(name, "_data", &st) == 0 && (st.st_mode & 07777) == 0660 && st.st_gid == gid,
	   "data segment is 0660 with the group");
	if (root) {
		pid_t pid = zt_fork();
		if (pid == 0)
			child_attach_owned(name, NOBODY, gid, (long)geteuid(), 0);
		zt_ok_child(pid, "uid %d in group %ld, naming the owner, attaches and uses a chunk",
			    NOBODY, (long)gid);
		pid = zt_fork();
		if (pid == 0)
			child_attach(name, NOBODY, gid, ZCP_EOWNER);
		zt_ok_child(pid, "without naming the owner it refuses the manager: ZCP_EOWNER");
		pid = zt_fork();
		if (pid == 0)
			child_attach(name, NOBODY, NOBODY, ZCP_EACCES);
		zt_ok_child(pid, "uid %d outside the group cannot attach: ZCP_EACCES", NOBODY);
		pid = zt_fork();
		if (pid == 0) {
			/* Other users cannot even remove the segments. */
			ZT_CHECK(setgid(NOBODY) == 0 && setuid(NOBODY) == 0);
			int err = zcp_mempool_manager_unlink(name);
			_exit(err == ZCP_EACCES || err == ZCP_EPERM ? 0 : 1);
		}
		zt_ok_child(pid, "nor unlink them (sticky /dev/shm): ZCP_EACCES or ZCP_EPERM");
	} else {
		skip("not root: cannot drop to another uid");
		skip("not root: cannot drop to another uid");
		skip("not root: cannot drop to another uid");
		skip("not root: cannot drop to another uid");
	}
	is_int(zcp_mempool_manager_destroy(m), 0, "destroy");
	if (root)
		squatting();
	else
		skip("not root: cannot squat as another uid");
	zt_done();
	return done_testing();
}
