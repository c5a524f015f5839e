/* SPDX-License-Identifier: MIT */
/* tests/segment-fork.c - segments shared with forked children: by name
 * (shm), by inherited descriptor (memfd), seals, and a peer's resize. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "zt.h"

#define SIZE 65536

static void test_shm(void)
{
	const char *name = zt_name();
	zcp_segment *seg = NULL;
	unsigned char *p;
	long i, iters = zt_iters(4);
	pid_t pid;
	int err;

	err = zcp_segment_create(name, SIZE, NULL, &seg);
	is_int(err, 0, "parent creates %s", name);
	if (err != 0)
		return;
	p = zcp_segment_base(seg);
	for (i = 0; i < SIZE; i++)
		p[i] = (unsigned char)(i * 7);

	pid = zt_fork();
	if (pid == 0) {
		zcp_segment *c = NULL;
		unsigned char *q;

		ZT_CHECK(zcp_segment_open(name, 1, &c) == 0);
		ZT_CHECK(zcp_segment_size(c) == SIZE);
		q = zcp_segment_base(c);
		for (i = 0; i < SIZE; i++)
			ZT_CHECK(q[i] == (unsigned char)(i * 7));
		for (i = 0; i < SIZE; i++)
			q[i] = (unsigned char)(i * 13);
		zcp_segment_close(c);
		_exit(0);
	}
	zt_ok_child(pid, "child opens by name, sees the parent's bytes, writes its own");
	for (i = 0; i < SIZE; i++)
		if (p[i] != (unsigned char)(i * 13))
			break;
	is_int(i, SIZE, "parent sees the child's bytes");

	/* Repeated open/close in children: no descriptor or mapping leaks
	 * that would show as failures later. */
	for (i = 0; i < iters; i++) {
		pid = zt_fork();
		if (pid == 0) {
			zcp_segment *c = NULL;

			ZT_CHECK(zcp_segment_open(name, 0, &c) == 0);
			zcp_segment_close(c);
			_exit(0);
		}
		if (!zt_ok_child(pid, "child %ld opens read-only", i))
			break;
	}

	/* A peer truncates the object: real_size notices. */
	pid = zt_fork();
	if (pid == 0) {
		zcp_segment *c = NULL;

		ZT_CHECK(zcp_segment_open(name, 1, &c) == 0);
		ZT_CHECK(ftruncate(zcp_segment_fd(c), SIZE / 2) == 0);
		_exit(0);
	}
	zt_ok_child(pid, "child shrinks the segment");
	{
		size_t real = 0;

		is_int(zcp_segment_real_size(seg, &real), 0, "real_size after the peer's ftruncate");
		is_int((long long)real, SIZE / 2, "real size is the new size");
		is_int((long long)zcp_segment_size(seg), SIZE, "mapped size is unchanged");
	}
	zcp_segment_close(seg);
	is_int(zcp_segment_unlink(name), 0, "unlink");
}

static void test_memfd(void)
{
#ifdef HAVE_MEMFD
	const char *name = zt_name();
	zcp_segment_options o;
	zcp_segment *seg = NULL;
	char *p;
	pid_t pid;
	int err, fd;

	zcp_segment_options_init(&o);
	o.backend = ZCP_BACKEND_MEMFD;
	err = zcp_segment_create(name, SIZE, &o, &seg);
	is_int(err, 0, "parent creates memfd %s", name);
	if (err != 0)
		return;
	p = zcp_segment_base(seg);
	strcpy(p, "from parent");
	fd = zcp_segment_fd(seg);
	pid = zt_fork();
	if (pid == 0) {
		zcp_segment *c = NULL;
		char *q;

		ZT_CHECK(zcp_segment_open_fd(fd, 1, &c) == 0);
		q = zcp_segment_base(c);
		ZT_CHECK(strcmp(q, "from parent") == 0);
		ZT_CHECK(strcmp(zcp_segment_name(c), name) == 0);
		strcpy(q + 1000, "from child");
		zcp_segment_close(c);
		_exit(0);
	}
	zt_ok_child(pid, "child maps the inherited memfd and writes");
	is_string(p + 1000, "from child", "parent sees the child's write");
	ok(ftruncate(fd, SIZE * 2) == 0, "unsealed memfd can grow");
	zcp_segment_close(seg);

	o.seal = 1;
	err = zcp_segment_create(name, SIZE, &o, &seg);
	is_int(err, 0, "create sealed memfd");
	if (err != 0)
		return;
	fd = zcp_segment_fd(seg);
	errno = 0;
	ok(ftruncate(fd, SIZE / 2) < 0 && errno == EPERM, "sealed: shrinking fails with EPERM");
	errno = 0;
	ok(ftruncate(fd, SIZE * 2) < 0 && errno == EPERM, "sealed: growing fails with EPERM");
	ok(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EPERM, "sealed: seals are final");
	is_int(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, "seal set");
	pid = zt_fork();
	if (pid == 0) {
		zcp_segment *c = NULL;

		ZT_CHECK(zcp_segment_open_fd(fd, 1, &c) == 0);
		ZT_CHECK(ftruncate(zcp_segment_fd(c), 1) != 0 && errno == EPERM);
		zcp_segment_close(c);
		_exit(0);
	}
	zt_ok_child(pid, "child cannot resize the sealed memfd either");
	zcp_segment_close(seg);
#else
	skip("built without memfd");
#endif
}

int main(void)
{
	plan_lazy();
	test_shm();
	test_memfd();
	zt_done();
	return done_testing();
}
