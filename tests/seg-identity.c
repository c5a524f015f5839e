/* SPDX-License-Identifier: MIT */
/*
 * tests/seg-identity.c - zcp_segment_unlink_same() removes a segment's name
 * only while it names that very object; and the name lookups of
 * zcp_segment_open() and zcp_segment_unlink_same() neither block on a FIFO
 * nor follow a symbolic link put under a segment's name, nor fail for want
 * of descriptors.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "zt.h"

static void shm_file(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "/dev/shm/zerocp_%s", name);
}

static int shm_exists(const char *name)
{
	char path[512];
	struct stat st;

	shm_file(path, sizeof(path), name);
	return lstat(path, &st) == 0;
}

/* Create A, unlink its name, create B under the same name: unlink_same(A)
 * must leave B alone; unlink_same(B) removes B. */
static void test_replaced(void)
{
	const char *name = zt_name();
	zcp_segment *a = NULL, *b = NULL, *c = NULL;
	int err;

	err = zcp_segment_create(name, 4096, NULL, &a);
	is_int(err, 0, "create A");
	if (err != 0)
		return;
	strcpy(zcp_segment_base(a), "A");
	is_int(zcp_segment_unlink(name), 0, "unlink A's name");
	is_int(zcp_segment_unlink_same(a), 0, "unlink_same(A) with the name gone: 0");
	err = zcp_segment_create(name, 8192, NULL, &b);
	is_int(err, 0, "create B under the same name");
	if (err != 0) {
		zcp_segment_close(a);
		return;
	}
	strcpy(zcp_segment_base(b), "B");

	is_int(zcp_segment_unlink_same(a), 0, "unlink_same(A) with B under the name: 0");
	ok(shm_exists(name), "  B's name is still there");
	err = zcp_segment_open(name, 0, &c);
	is_int(err, 0, "  B can still be opened by name");
	if (err == 0) {
		is_string(zcp_segment_base(c), "B", "  and it is B");
		is_int((long long)zcp_segment_size(c), 8192, "  of B's size");
		zcp_segment_close(c);
	}
	is_string(zcp_segment_base(a), "A", "A's mapping is untouched");

	is_int(zcp_segment_unlink_same(b), 0, "unlink_same(B) removes B");
	ok(!shm_exists(name), "  the name is gone");
	is_int(zcp_segment_unlink_same(b), 0, "unlink_same(B) again: 0 (already gone)");
	is_string(zcp_segment_base(b), "B", "B's mapping survives");
	zcp_segment_close(a);
	zcp_segment_close(b);
}

/* Every handle of the object may remove it: one from create, one from
 * open by name, one from open_fd. */
static void test_handles(void)
{
	const char *name = zt_name();
	zcp_segment *a = NULL, *b = NULL, *c = NULL;
	int err;

	err = zcp_segment_create(name, 4096, NULL, &a);
	is_int(err, 0, "create");
	if (err != 0)
		return;
	err = zcp_segment_open(name, 0, &b);
	is_int(err, 0, "open read-only by name");
	if (err == 0) {
		is_int(zcp_segment_unlink_same(b), 0, "unlink_same through a read-only open");
		ok(!shm_exists(name), "  removed the name");
		zcp_segment_close(b);
	}

	/* A new object under the name; a's descriptor, reopened with
	 * open_fd, must not remove it. */
	b = NULL;
	err = zcp_segment_create(name, 4096, NULL, &b);
	is_int(err, 0, "create again under the name");
	if (err != 0) {
		zcp_segment_unlink(name);
		zcp_segment_close(a);
		return;
	}
	err = zcp_segment_open_fd(zcp_segment_fd(a), 1, &c);
	is_int(err, 0, "open_fd of the first object's descriptor");
#ifdef ZCP_PLATFORM_LINUX
	if (err == 0) {
		is_string(zcp_segment_name(c), name, "  name recovered (\"(deleted)\" stripped)");
		is_int(zcp_segment_unlink_same(c), 0, "  unlink_same: 0");
		ok(shm_exists(name), "  the second object stays");
		zcp_segment_close(c);
	}
	err = zcp_segment_open_fd(zcp_segment_fd(b), 0, &c);
	is_int(err, 0, "open_fd of the second object's descriptor");
	if (err == 0) {
		is_int(zcp_segment_unlink_same(c), 0, "  unlink_same removes it");
		ok(!shm_exists(name), "  gone");
		zcp_segment_close(c);
	}
#else
	/* No descriptor paths: open_fd cannot learn a name, so unlink_same
	 * of such a handle has nothing to compare and refuses. */
	if (err == 0) {
		is_string(zcp_segment_name(c), "", "  no name without descriptor paths");
		is_int(zcp_segment_unlink_same(c), ZCP_EINVAL, "  unlink_same: EINVAL (no name)");
		ok(shm_exists(name), "  the second object stays");
		zcp_segment_close(c);
	}
	skip("open_fd name recovery needs /proc/self/fd (linux platform)");
	skip("open_fd name recovery needs /proc/self/fd (linux platform)");
	skip("open_fd name recovery needs /proc/self/fd (linux platform)");
#endif
	zcp_segment_unlink(name);
	zcp_segment_close(b);
	zcp_segment_close(a);
}

static void test_args(void)
{
	zcp_segment_options o;
	zcp_segment *s = NULL;
	int err;

	is_int(zcp_segment_unlink_same(NULL), ZCP_EINVAL, "unlink_same(NULL): EINVAL");

	zcp_segment_options_init(&o);
	o.backend = ZCP_BACKEND_MEMFD;
	err = zcp_segment_create(zt_name(), 4096, &o, &s);
#ifdef HAVE_MEMFD
	is_int(err, 0, "memfd create");
	if (err == 0) {
		is_int(zcp_segment_unlink_same(s), 0, "unlink_same of a memfd: 0 (no name)");
		zcp_segment_close(s);
	}
#else
	is_int(err, ZCP_ENOSYS, "memfd not built");
	skip("memfd not built");
#endif

	/* An shm descriptor whose name is unknown: a plain file. */
	{
		char tmpl[] = "/tmp/zcp-seg-identity.XXXXXX";
		int fd = mkstemp(tmpl);

		ok(fd >= 0 && ftruncate(fd, 4096) == 0, "a plain file");
		if (fd >= 0) {
			unlink(tmpl);
			err = zcp_segment_open_fd(fd, 0, &s);
			is_int(err, 0, "open_fd of a plain file");
			if (err == 0) {
				is_string(zcp_segment_name(s), "", "  has no name");
				is_int(zcp_segment_unlink_same(s), ZCP_EINVAL,
				       "  unlink_same: EINVAL");
				zcp_segment_close(s);
			}
			close(fd);
		}
	}
}

/*
 * Something other than a shared-memory object under the name: a FIFO (a
 * read-only open of it blocks until a writer comes, unless O_NONBLOCK) and
 * a symbolic link.  In a child with a short alarm, so a hang fails the test
 * instead of stalling it.
 */
static void strange_child(int kind)
{
	const char *name = zt_name();
	char path[512];
	zcp_segment *a = NULL, *s = NULL;
	int err;

	alarm(5);
	shm_file(path, sizeof(path), name);
	ZT_CHECK(zcp_segment_create(name, 4096, NULL, &a) == 0 && zcp_segment_unlink(name) == 0);
	ZT_CHECK(kind == 0 ? mkfifo(path, 0600) == 0 : symlink("/dev/null", path) == 0);
	err = zcp_segment_open(name, 0, &s);
	if (err != ZCP_EINVAL && !(kind == 1 && err == -ELOOP)) {
		fprintf(stderr, "# open read-only: %s\n", zcp_err_name(err));
		unlink(path);
		_exit(12);
	}
	err = zcp_segment_open(name, 1, &s);
	if (err != ZCP_EINVAL && !(kind == 1 && err == -ELOOP)) {
		fprintf(stderr, "# open read-write: %s\n", zcp_err_name(err));
		unlink(path);
		_exit(13);
	}
	err = zcp_segment_unlink_same(a);
	if (err != 0 || !shm_exists(name)) {
		fprintf(stderr, "# unlink_same: %s\n", zcp_err_name(err));
		unlink(path);
		_exit(14);
	}
	unlink(path);
	zcp_segment_close(a);
	_exit(0);
}

/* Fork; the child runs fn(arg).  The parent skips the zt names the child
 * may use (it counts on from the parent's count), so that no later child
 * meets what a failed one left. */
static pid_t spawn(void (*fn)(int), int arg)
{
	pid_t pid = zt_fork();
	int i;

	if (pid == 0) {
		fn(arg);
		_exit(99);
	}
	for (i = 0; i < 8; i++)
		zt_name();
	return pid;
}

static void test_strange(void)
{
	pid_t pid;

	pid = spawn(strange_child, 0);
	zt_ok_child(pid, "a FIFO under the name: open fails with EINVAL without blocking, "
			 "unlink_same leaves it");
	pid = spawn(strange_child, 1);
	zt_ok_child(pid, "a symlink under the name: open refuses it, unlink_same leaves it");
}

/* Use up every descriptor in the child. */
static void exhaust_fds(void)
{
	while (dup(0) >= 0)
		;
}

/* Out of descriptors: create and open fail with EMFILE and leave nothing;
 * unlink_same still works (lstat() instead of the probe's shm_open()). */
static void emfile_child(int unused)
{
	const char *name = zt_name(), *other = zt_name();
	zcp_segment_options o;
	zcp_segment *a = NULL, *s = NULL;
	struct rlimit rl = {64, 64};
	int err;

	(void)unused;
	ZT_CHECK(setrlimit(RLIMIT_NOFILE, &rl) >= 0);
	ZT_CHECK(zcp_segment_create(name, 4096, NULL, &a) == 0);
	exhaust_fds();
	err = zcp_segment_create(other, 4096, NULL, &s);
	ZT_CHECK_MSG(err == ZCP_EMFILE && !shm_exists(other), "create: %s", zcp_err_name(err));
	zcp_segment_options_init(&o);
	o.backend = ZCP_BACKEND_MEMFD;
	err = zcp_segment_create(other, 4096, &o, &s);
	ZT_CHECK_MSG(err == ZCP_EMFILE || err == ZCP_ENOSYS, "memfd create: %s", zcp_err_name(err));
	err = zcp_segment_open(name, 1, &s);
	ZT_CHECK_MSG(err == ZCP_EMFILE, "open: %s", zcp_err_name(err));
	err = zcp_segment_open_fd(zcp_segment_fd(a), 1, &s);
	ZT_CHECK_MSG(err == ZCP_EMFILE, "open_fd: %s", zcp_err_name(err));
	err = zcp_segment_unlink_same(a);
#ifdef ZCP_PLATFORM_LINUX
	ZT_CHECK_MSG(err == 0 && !shm_exists(name), "unlink_same: %s", zcp_err_name(err));
#else
	ZT_CHECK(err == 0 || err == ZCP_EMFILE);
#endif
	zcp_segment_unlink(name);
	_exit(0);
}

static void test_emfile(void)
{
	pid_t pid = spawn(emfile_child, 0);

	zt_ok_child(pid, "out of descriptors: EMFILE from create, open, open_fd, nothing left; "
			 "unlink_same still works");
}

int main(void)
{
	plan_lazy();
	test_replaced();
	test_handles();
	test_args();
	test_strange();
	test_emfile();
	zt_done();
	return done_testing();
}
