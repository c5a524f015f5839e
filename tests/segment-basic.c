/* SPDX-License-Identifier: MIT */
/* tests/segment-basic.c - create, open, size, options and errors of
 * segments in one process. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "zt.h"

static int shm_exists(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "/dev/shm/zerocp_%s", name);
	return access(path, F_OK) == 0;
}

static unsigned int fd_mode(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return 0xffffffffu;
	return (unsigned int)(st.st_mode & 07777);
}

static void test_invalid_names(void)
{
	char buf[400], base[64];
	const char *bad[8];
	zcp_segment *seg = NULL;
	size_t i;

	snprintf(base, sizeof(base), "%s", zt_name());
	/* Derived from a zt name, so zt_done() would catch any litter. */
	bad[0] = NULL;
	bad[1] = "";
	snprintf(buf, sizeof(buf), "%s/b", base);
	bad[2] = strdup(buf);
	bad[3] = "..x";
	memset(buf, 'a', 300);
	memcpy(buf, base, strlen(base));
	buf[300] = '\0';
	bad[4] = strdup(buf);
	snprintf(buf, sizeof(buf), "%s\xc3\xa9", base);
	bad[5] = strdup(buf);
	snprintf(buf, sizeof(buf), "%s x", base);
	bad[6] = strdup(buf);
	snprintf(buf, sizeof(buf), ".%s", base);
	bad[7] = strdup(buf);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *shown = bad[i] ? bad[i] : "(null)";

		is_int(zcp_segment_create(bad[i], 4096, NULL, &seg), ZCP_EINVAL,
		       "create rejects name %zu \"%.20s\"", i, shown);
		ok(seg == NULL, "  and sets no segment");
		is_int(zcp_segment_open(bad[i], 1, &seg), ZCP_EINVAL, "open rejects name %zu", i);
		is_int(zcp_segment_unlink(bad[i]), ZCP_EINVAL, "unlink rejects name %zu", i);
		if (bad[i] != NULL && bad[i][0] != '\0' && strchr(bad[i], '/') == NULL)
			ok(!shm_exists(bad[i]), "  nothing in /dev/shm for name %zu", i);
	}
	for (i = 2; i < 8; i++)
		if (i != 3)
			free((void *)bad[i]);
}

static void test_create_open(void)
{
	const char *name = zt_name();
	zcp_segment *a = NULL, *b = NULL, *c = NULL;
	unsigned char *pa, *pb;
	size_t real = 0;
	int err;

	err = zcp_segment_create(name, 8192, NULL, &a);
	is_int(err, 0, "create %s", name);
	if (err != 0)
		return;
	ok(shm_exists(name), "/dev/shm/zerocp_%s exists", name);
	is_int((long long)zcp_segment_size(a), 8192, "size");
	is_string(zcp_segment_name(a), name, "name without prefix");
	is_int(zcp_segment_backend(a), ZCP_BACKEND_SHM, "default backend is shm");
	ok(zcp_segment_fd(a) >= 0, "has a descriptor");
	is_int(fd_mode(zcp_segment_fd(a)), 0600, "default mode is 0600");
	ok(fcntl(zcp_segment_fd(a), F_GETFD) & FD_CLOEXEC, "descriptor is close-on-exec");
	pa = zcp_segment_base(a);
	ok(pa != NULL && pa[0] == 0 && pa[8191] == 0, "new memory is zeroed");
	is_int(zcp_segment_real_size(a, &real), 0, "real_size");
	is_int((long long)real, 8192, "real size matches");

	is_int(zcp_segment_create(name, 4096, NULL, &c), ZCP_EEXIST, "exclusive create: EEXIST");
	ok(c == NULL, "  no segment returned");

	err = zcp_segment_open(name, 1, &b);
	is_int(err, 0, "open by name");
	if (err == 0) {
		pb = zcp_segment_base(b);
		is_int((long long)zcp_segment_size(b), 8192, "opened size from fstat");
		ok(pb != pa, "second mapping at another address");
		memcpy(pa + 100, "hello", 6);
		is_string((char *)pb + 100, "hello", "bytes written via one mapping seen in the other");
		zcp_segment_close(b);
	}

	err = zcp_segment_open(name, 0, &b);
	is_int(err, 0, "open read-only");
	if (err == 0) {
		pid_t pid;

		is_string((char *)zcp_segment_base(b) + 100, "hello", "read-only mapping reads");
		pid = zt_fork();
		if (pid == 0) {
			struct sigaction sa;

			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = _exit; /* _exit(SIGSEGV or SIGBUS) */
			sigaction(SIGSEGV, &sa, NULL);
			sigaction(SIGBUS, &sa, NULL);
			*(volatile char *)zcp_segment_base(b) = 1;
			_exit(0);
		}
		{
			int st = 0;

			is_int(zt_wait(pid, &st), 0, "child writing to a read-only mapping reaped");
			ok(!(WIFEXITED(st) && WEXITSTATUS(st) == 0),
			   "writing to a read-only mapping faults");
		}
		zcp_segment_close(b);
	}

	is_int(zcp_segment_unlink(name), 0, "unlink");
	ok(!shm_exists(name), "gone from /dev/shm");
	is_int(zcp_segment_unlink(name), ZCP_ENOENT, "second unlink: ENOENT");
	is_int(zcp_segment_open(name, 1, &b), ZCP_ENOENT, "open after unlink: ENOENT");
	strcpy((char *)pa, "still mapped");
	is_string((char *)pa, "still mapped", "mapping survives unlink");
	zcp_segment_close(a);
}

static void test_options(void)
{
	zcp_segment_options o;
	zcp_segment *s = NULL;
	const char *name = zt_name();
	mode_t old;
	int err;

	zcp_segment_options_init(NULL);
	ok(1, "options_init(NULL) is a no-op");
	memset(&o, 0x5a, sizeof(o));
	zcp_segment_options_init(&o);
	ok(o.backend == ZCP_BACKEND_SHM && o.mode == 0 && o.gid == -1 && o.seal == 0 &&
		   o.reserved[0] == NULL && o.reserved[3] == NULL,
	   "options_init sets the defaults");

	/* umask must not matter. */
	old = umask(0077);
	o.mode = 0644;
	err = zcp_segment_create(name, 4096, &o, &s);
	is_int(err, 0, "create with mode 0644 under umask 077");
	if (err == 0) {
		is_int(fd_mode(zcp_segment_fd(s)), 0644, "mode applied exactly");
		zcp_segment_close(s);
		zcp_segment_unlink(name);
	}
	umask(old);

	zcp_segment_options_init(&o);
	o.gid = (long)getgid();
	err = zcp_segment_create(name, 4096, &o, &s);
	is_int(err, 0, "create with gid = own group");
	if (err == 0) {
		struct stat st;

		ok(fstat(zcp_segment_fd(s), &st) == 0 && st.st_gid == getgid(), "group set");
		zcp_segment_close(s);
		zcp_segment_unlink(name);
	}

	s = NULL;
	zcp_segment_options_init(&o);
	o.mode = 01777;
	is_int(zcp_segment_create(name, 4096, &o, &s), ZCP_EINVAL, "mode above 0777: EINVAL");
	zcp_segment_options_init(&o);
	o.gid = -2;
	is_int(zcp_segment_create(name, 4096, &o, &s), ZCP_EINVAL, "gid -2: EINVAL");
	zcp_segment_options_init(&o);
	o.backend = (zcp_backend)7;
	is_int(zcp_segment_create(name, 4096, &o, &s), ZCP_EINVAL, "unknown backend: EINVAL");
	zcp_segment_options_init(&o);
	o.seal = 1;
	is_int(zcp_segment_create(name, 4096, &o, &s), ZCP_EINVAL, "seal with shm: EINVAL");
	zcp_segment_options_init(&o);
	o.reserved[1] = &o;
	is_int(zcp_segment_create(name, 4096, &o, &s), ZCP_EINVAL, "reserved set: EINVAL");
	ok(s == NULL && !shm_exists(name), "failed creates leave nothing");

	if (geteuid() != 0) {
		zcp_segment_options_init(&o);
		o.mode = 0400;
		err = zcp_segment_create(name, 4096, &o, &s);
		is_int(err, 0, "create with mode 0400");
		if (err == 0) {
			zcp_segment *t = NULL;

			is_int(zcp_segment_open(name, 1, &t), ZCP_EACCES, "open writable: EACCES");
			zcp_segment_close(s);
			zcp_segment_unlink(name);
		}
	} else {
		skip("running as root: permissions are not enforced");
	}
}

static void test_errors(void)
{
	const char *name = zt_name();
	zcp_segment *s = NULL;
	char path[256];
	int fd;

	is_int(zcp_segment_create(name, 0, NULL, &s), ZCP_EINVAL, "size 0: EINVAL");
	is_int(zcp_segment_create(name, (size_t)PTRDIFF_MAX + 1, NULL, &s), ZCP_EINVAL,
	       "size > PTRDIFF_MAX: EINVAL");
	is_int(zcp_segment_create(name, 4096, NULL, NULL), ZCP_EINVAL, "NULL out: EINVAL");
	ok(!shm_exists(name), "nothing created");
	is_int(zcp_segment_open(name, 1, &s), ZCP_ENOENT, "open missing: ENOENT");
	is_int(zcp_segment_open(name, 1, NULL), ZCP_EINVAL, "open NULL out: EINVAL");
	is_int(zcp_segment_unlink(name), ZCP_ENOENT, "unlink missing: ENOENT");

	/* A peer that created the object but has not sized it yet. */
	snprintf(path, sizeof(path), "/zerocp_%s", name);
	fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ok(fd >= 0, "raw shm_open of an empty object");
	if (fd >= 0) {
		is_int(zcp_segment_open(name, 1, &s), ZCP_ETRUNCATED, "size 0: ETRUNCATED");
		is_int(zcp_segment_open_fd(fd, 1, &s), ZCP_ETRUNCATED, "open_fd size 0: ETRUNCATED");
		close(fd);
		shm_unlink(path);
	}

	is_int(zcp_segment_open_fd(-1, 1, &s), ZCP_EINVAL, "open_fd(-1): EINVAL");
	fd = open("/dev/null", O_RDWR);
	is_int(zcp_segment_open_fd(fd, 1, &s), ZCP_EINVAL, "open_fd of a device: EINVAL");
	close(fd);
	is_int(zcp_segment_open_fd(fd, 1, &s), -EBADF, "open_fd of a closed fd: -EBADF");
	is_int(zcp_segment_open_fd(0, 1, NULL), ZCP_EINVAL, "open_fd NULL out: EINVAL");

	zcp_segment_close(NULL);
	ok(1, "close(NULL) is a no-op");
	ok(zcp_segment_base(NULL) == NULL, "base(NULL)");
	is_int((long long)zcp_segment_size(NULL), 0, "size(NULL)");
	ok(zcp_segment_fd(NULL) < 0, "fd(NULL) is negative");
	ok(zcp_segment_name(NULL) == NULL, "name(NULL)");
	is_int(zcp_segment_backend(NULL), ZCP_BACKEND_SHM, "backend(NULL)");
	is_int(zcp_segment_real_size(NULL, NULL), ZCP_EINVAL, "real_size(NULL)");
}

static void test_memfd(void)
{
	zcp_segment_options o;
	zcp_segment *s = NULL, *t = NULL;
	const char *name = zt_name();
	int err;

	zcp_segment_options_init(&o);
	o.backend = ZCP_BACKEND_MEMFD;
	err = zcp_segment_create(name, 4096, &o, &s);
#ifdef HAVE_MEMFD
	is_int(err, 0, "memfd create");
	if (err != 0)
		return;
	ok(!shm_exists(name), "memfd leaves nothing in /dev/shm");
	is_int(zcp_segment_backend(s), ZCP_BACKEND_MEMFD, "backend is memfd");
	is_int(fd_mode(zcp_segment_fd(s)), 0600, "memfd mode 0600");
	err = zcp_segment_open_fd(zcp_segment_fd(s), 1, &t);
	is_int(err, 0, "open_fd of the memfd");
	if (err == 0) {
		ok(zcp_segment_fd(t) != zcp_segment_fd(s), "open_fd dup()s");
		is_int(zcp_segment_backend(t), ZCP_BACKEND_MEMFD, "open_fd sees a memfd");
		is_string(zcp_segment_name(t), name, "open_fd recovers the name");
		is_int((long long)zcp_segment_size(t), 4096, "open_fd size");
		zcp_segment_close(t);
	}
	is_int(zcp_segment_open(name, 1, &t), ZCP_ENOENT, "memfd is not found by name");
	zcp_segment_close(s);
#else
	is_int(err, ZCP_ENOSYS, "memfd backend without memfd: ENOSYS");
	ok(s == NULL, "  no segment returned");
#endif

	/* open_fd of an shm descriptor recovers its name and backend too. */
	name = zt_name();
	err = zcp_segment_create(name, 4096, NULL, &s);
	is_int(err, 0, "create shm for open_fd");
	if (err != 0)
		return;
	err = zcp_segment_open_fd(zcp_segment_fd(s), 0, &t);
	is_int(err, 0, "open_fd of an shm descriptor");
	if (err == 0) {
		is_int(zcp_segment_backend(t), ZCP_BACKEND_SHM, "open_fd sees shm");
#ifdef ZCP_PLATFORM_LINUX
		is_string(zcp_segment_name(t), name, "open_fd recovers the shm name");
#else
		skip("open_fd name recovery needs /proc/self/fd (linux platform)");
#endif
		zcp_segment_close(t);
	}
	zcp_segment_close(s);
	zcp_segment_unlink(name);
}

int main(void)
{
	plan_lazy();
	test_invalid_names();
	test_create_open();
	test_options();
	test_errors();
	test_memfd();
	zt_done();
	return done_testing();
}
