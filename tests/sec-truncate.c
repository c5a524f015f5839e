/* SPDX-License-Identifier: MIT */
/* A peer tries to resize the segments under everyone.
 *
 * shm backend: nothing stops a peer with write access from ftruncate()ing
 * the objects; processes already attached would fault on the lost pages,
 * but every new attach checks the real size with fstat() and refuses the
 * segment with ZCP_ETRUNCATED (growing: ZCP_ECORRUPT), never maps past
 * the end.  memfd backend: the seals F_SEAL_SHRINK and F_SEAL_GROW make
 * every resize fail with EPERM, and attach_fds refuses an unsealed memfd.
 */
#include "config.h"

#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

static zcp_mempool_config *config(int memfd)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	if (!cfg || zcp_mempool_config_add_entry(cfg, 256, 100) ||
	    zcp_mempool_config_add_entry(cfg, 4096, 20))
		bail("cannot build a configuration");
	if (memfd && zcp_mempool_config_set_backend(cfg, ZCP_BACKEND_MEMFD))
		return zcp_mempool_config_free(cfg), NULL;
	return cfg;
}

/* A peer (a child) resizes segment "<name><suffix>" by delta bytes. */
static int peer_resize(const char *name, const char *suffix, long delta)
{
	pid_t pid = zt_fork();
	if (pid == 0) {
		char path[256];
		snprintf(path, sizeof path, "/zerocp_%s%s", name, suffix);
		int fd = shm_open(path, O_RDWR, 0);
		struct stat st;
		ZT_CHECK(fd >= 0 && fstat(fd, &st) == 0);
		off_t size = delta < -(long)st.st_size ? 0 : st.st_size + delta;
		_exit(ftruncate(fd, size) == 0 ? 0 : 2);
	}
	int st = 0;
	zt_wait(pid, &st);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Attach in a child (so a SIGBUS would be seen); exit 0 iff it returns
 * want. */
static void child_attach_expect(const char *name, int want, int want2, const char *what)
{
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *m = NULL;
		int err = zcp_mempool_manager_attach(name, &m);
		if (m)
			zcp_mempool_manager_detach(m);
		_exit(err == want || (want2 && err == want2) ? 0 : 1);
	}
	zt_ok_child(pid, "%s", what);
}

/* want2: a second acceptable result (0 for none). */
static void shm_case(const char *suffix, long delta, int want, int want2, const char *what)
{
	const char *name = zt_name();

	/* The creator is a child that leaves at once: its handle would fault
	 * on the lost pages of a shrunk segment (what the memfd seals
	 * prevent), and only new attaches are the point here. */
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_config *cfg = config(0);
		zcp_mempool_manager *m = NULL;
		_exit(zcp_mempool_manager_create(name, cfg, &m) == 0 ? 0 : 1);
	}
	int st = 0;
	zt_wait(pid, &st);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		bail("cannot create a manager");
	ok(peer_resize(name, suffix, delta), "shm: a peer %s the %s segment by %ld bytes",
	   delta < 0 ? "shrinks" : "grows", suffix + 1, delta < 0 ? -delta : delta);
	child_attach_expect(name, want, want2, what);
	is_int(zcp_mempool_manager_unlink(name), 0, "shm: unlink the leftovers");
}

static void memfd_case(void)
{
#ifdef HAVE_MEMFD
	zcp_mempool_config *cfg = config(1);
	zcp_mempool_manager *m = NULL;
	int mfd, dfd;

	if (!cfg) {
		skip("memfd backend not available at run time");
		return;
	}
	is_int(zcp_mempool_manager_create(zt_name(), cfg, &m), 0, "memfd: create");
	zcp_mempool_config_free(cfg);
	if (!m)
		bail("no memfd manager");
	is_int(zcp_mempool_manager_fds(m, &mfd, &dfd), 0, "memfd: the descriptors");
	int seals = fcntl(mfd, F_GET_SEALS);
	ok(seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
				 (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
	   "memfd: sealed with F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL");
	const int fds[2] = {mfd, dfd};
	const char *names[2] = {"management", "data"};
	for (int i = 0; i < 2; i++) {
		/* The peer: a child with the inherited descriptor, as good as
		 * one received over a socket. */
		pid_t pid = zt_fork();
		if (pid == 0) {
			struct stat st;
			ZT_CHECK(fstat(fds[i], &st) == 0);
			ZT_CHECK(ftruncate(fds[i], st.st_size / 2) != 0 && errno == EPERM);
			ZT_CHECK(ftruncate(fds[i], 0) != 0 && errno == EPERM);
			ZT_CHECK(ftruncate(fds[i], st.st_size * 2) != 0 && errno == EPERM);
			/* F_SEAL_SEAL: no seal can be removed or added */
			ZT_CHECK(fcntl(fds[i], F_ADD_SEALS, 0) != 0 && errno == EPERM);
			ZT_CHECK(fallocate(fds[i], 0, st.st_size, 4096) != 0);
			_exit(0);
		}
		zt_ok_child(pid, "memfd: shrinking, emptying, growing the %s segment: EPERM",
			    names[i]);
	}
	zcp_mempool_manager *a = NULL;
	is_int(zcp_mempool_manager_attach_fds(NULL, mfd, dfd, &a), 0,
	       "memfd: attach_fds of the sealed segments works");
	if (a)
		zcp_mempool_manager_detach(a);

	/* An unsealed memfd with a perfect copy of the segments. */
	struct stat ms, ds;
	fstat(mfd, &ms);
	fstat(dfd, &ds);
	int um = memfd_create("zerocp_unsealed_mgmt", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int ud = memfd_create("zerocp_unsealed_data", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ok(um >= 0 && ud >= 0 && ftruncate(um, ms.st_size) == 0 && ftruncate(ud, ds.st_size) == 0,
	   "memfd: two unsealed memfds of the same sizes");
	void *src = mmap(NULL, (size_t)ms.st_size, PROT_READ, MAP_SHARED, mfd, 0);
	void *dst = mmap(NULL, (size_t)ms.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, um, 0);
	if (src != MAP_FAILED && dst != MAP_FAILED)
		memcpy(dst, src, (size_t)ms.st_size);
	a = NULL;
	is_int(zcp_mempool_manager_attach_fds(NULL, um, ud, &a), ZCP_EACCES,
	       "memfd: attach_fds refuses unsealed memfds");
	fcntl(um, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
	is_int(zcp_mempool_manager_attach_fds(NULL, um, ud, &a), ZCP_EACCES,
	       "memfd: and a sealed one with an unsealed one");
	if (a)
		zcp_mempool_manager_detach(a);
	if (src != MAP_FAILED)
		munmap(src, (size_t)ms.st_size);
	if (dst != MAP_FAILED)
		munmap(dst, (size_t)ms.st_size);
	close(um);
	close(ud);
	is_int(zcp_mempool_manager_destroy(m), 0, "memfd: destroy");
#else
	skip("memfd backend not built");
#endif
}

int main(void)
{
	plan_lazy();
	shm_case("_mgmt", -4096, ZCP_ETRUNCATED, 0,
		 "shm: a new attach to a shrunk management segment: ZCP_ETRUNCATED");
	shm_case("_data", -4096, ZCP_ETRUNCATED, 0,
		 "shm: a new attach to a shrunk data segment: ZCP_ETRUNCATED");
	shm_case("_data", -100000000, ZCP_ETRUNCATED, 0,
		 "shm: ... to an emptied data segment: ZCP_ETRUNCATED");
	/* Below the header size attach cannot tell a truncated segment from
	 * one its creator has not sized (or locked) yet: it waits (1 s), then
	 * EAGAIN, never "leftovers". */
	shm_case("_mgmt", -100000000, ZCP_ETRUNCATED, ZCP_EAGAIN,
		 "shm: ... to an emptied management segment: ZCP_ETRUNCATED or ZCP_EAGAIN");
	shm_case("_mgmt", 4096, ZCP_ECORRUPT, 0,
		 "shm: ... to a grown management segment: ZCP_ECORRUPT");
	shm_case("_data", 4096, ZCP_ECORRUPT, 0,
		 "shm: ... to a grown data segment: ZCP_ECORRUPT");
	memfd_case();
	zt_done();
	return done_testing();
}
