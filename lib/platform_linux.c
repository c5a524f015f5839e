/* SPDX-License-Identifier: MIT */
/* The Linux platform layer (see platform.h): liveness through open file
 * description locks, proof of death through the PID namespace, paths and
 * peer credentials through /proc and SO_PEERCRED. */
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef F_OFD_SETLK
#error "the Linux platform needs open file description locks (F_OFD_SETLK, Linux 3.15 and later)"
#endif

const char zcp__platform_name[] = "linux";

/* The descriptors from zcp__live_open() that are open now, so that a
 * forked child can close its copies.  Guarded by reg_lock, which the
 * atfork prepare handler takes, so the child sees a consistent list. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static int *reg_fds;
static size_t reg_len, reg_cap;

void zcp__plat_fork_prepare(void)
{
	pthread_mutex_lock(&reg_lock);
}

void zcp__plat_fork_parent(void)
{
	pthread_mutex_unlock(&reg_lock);
}

/* In the child: its copies of our lock descriptors share the parent's
 * open file descriptions, and so its locks; closing them here is what
 * keeps a child from holding a dead parent alive. */
void zcp__plat_fork_child(void)
{
	for (size_t i = 0; i < reg_len; i++)
		close(reg_fds[i]);
	reg_len = 0;
	pthread_mutex_unlock(&reg_lock);
}

static int reg_add(int fd)
{
	int err = 0;
	pthread_mutex_lock(&reg_lock);
	if (reg_len == reg_cap) {
		size_t cap = reg_cap ? 2 * reg_cap : 16;
		int *n = realloc(reg_fds, cap * sizeof *n);
		if (n) {
			reg_fds = n;
			reg_cap = cap;
		} else {
			err = ZCP_ENOMEM;
		}
	}
	if (!err)
		reg_fds[reg_len++] = fd;
	pthread_mutex_unlock(&reg_lock);
	return err;
}

/* Forget fd and close it, under the lock so that a fork cannot see it
 * listed but closed (and close a reused number in the child). */
static void reg_close(int fd)
{
	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < reg_len; i++) {
		if (reg_fds[i] == fd) {
			reg_fds[i] = reg_fds[--reg_len];
			break;
		}
	}
	close(fd);
	pthread_mutex_unlock(&reg_lock);
}

static int same_object(int a, int b)
{
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static int open_errno(void)
{
	return errno == EMFILE || errno == ENFILE ? ZCP_EMFILE : -errno;
}

int zcp__live_open(int seg_fd, const char *shm_name, int *lock_fd)
{
	char path[64];
	int fd, err;

	zcp__fork_watch();
	snprintf(path, sizeof path, "/proc/self/fd/%d", seg_fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE))
		return ZCP_EMFILE;
	if (fd < 0 && shm_name) {
		/* No /proc: the name, if it still names our object. */
		fd = shm_open(shm_name, O_RDWR | O_CLOEXEC, 0);
		if (fd < 0)
			return open_errno();
	}
	if (fd < 0)
		return errno == ENOENT ? ZCP_ENOSYS : open_errno();
	if (!same_object(fd, seg_fd)) {
		close(fd);
		return ZCP_EAGAIN; /* replaced meanwhile */
	}
	err = reg_add(fd);
	if (err) {
		close(fd);
		return err;
	}
	*lock_fd = fd;
	return 0;
}

void zcp__live_close(int lock_fd, int forked)
{
	if (lock_fd < 0)
		return;
	if (forked)
		return; /* closed in the child at the fork (zcp__plat_fork_child) */
	reg_close(lock_fd);
}

static struct flock byte_lock(short type, unsigned byte)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)byte;
	fl.l_len = 1;
	return fl; /* l_pid 0, as F_OFD_* require */
}

int zcp__live_lock(int lock_fd, unsigned byte)
{
	struct flock fl = byte_lock(F_WRLCK, byte);
	int r;
	do
		r = fcntl(lock_fd, F_OFD_SETLK, &fl);
	while (r != 0 && errno == EINTR);
	if (r == 0)
		return 0;
	return errno == EAGAIN || errno == EACCES ? ZCP_EBUSY : -errno;
}

void zcp__live_unlock(int lock_fd, unsigned byte)
{
	struct flock fl = byte_lock(F_UNLCK, byte);
	while (fcntl(lock_fd, F_OFD_SETLK, &fl) != 0 && errno == EINTR)
		;
}

int zcp__live_held(int query_fd, unsigned byte)
{
	struct flock fl = byte_lock(F_WRLCK, byte);
	int r;
	do
		r = fcntl(query_fd, F_OFD_GETLK, &fl);
	while (r != 0 && errno == EINTR);
	if (r != 0)
		return 1; /* cannot tell: alive */
	return fl.l_type != F_UNLCK;
}

uint64_t zcp__self_pidns(void)
{
	struct stat st;
	return stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
}

int zcp__pid_gone(int64_t pid, uint64_t pidns)
{
	if (pid <= 0 || pid > INT32_MAX || pidns == 0 || pidns != zcp__self_pidns())
		return 0;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

void zcp__plat_close(int fd)
{
	int saved = errno;
	close(fd);
	errno = saved;
}

int zcp__plat_fd_path(int fd, char *buf, size_t size)
{
	char proc[64];
	ssize_t n;

	if (size == 0)
		return ZCP_EINVAL;
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, size - 1);
	if (n < 0)
		return errno == ENOENT ? ZCP_ENOSYS : zcp__neg_errno();
	buf[n] = '\0';
	return (int)n;
}

int zcp__plat_shm_lstat(const char *path, struct stat *st)
{
	char file[sizeof("/dev/shm") + 256];
	int n = snprintf(file, sizeof file, "/dev/shm%s", path);

	if (n < 0 || (size_t)n >= sizeof file)
		return ZCP_ENAMETOOLONG;
	return lstat(file, st) == 0 ? 0 : zcp__neg_errno();
}

const char *zcp__plat_fifo_dir(void)
{
	return "/dev/shm";
}

int zcp__peer_cred(int fd, uid_t *uid, gid_t *gid)
{
	struct ucred cred;
	socklen_t len = sizeof cred;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return zcp__neg_errno();
	if (len != sizeof cred)
		return ZCP_EPROTO;
	*uid = cred.uid;
	*gid = cred.gid;
	return 0;
}
