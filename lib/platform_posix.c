/* SPDX-License-Identifier: MIT */
/* The POSIX platform layer (see platform.h): liveness through classic
 * fcntl() record locks, nothing from /proc, peer credentials through
 * getpeereid() where the C library has it.
 *
 * Classic record locks belong to a process, not to a descriptor:
 *  - a process's own locks never conflict with each other, and F_GETLK
 *    reports only another process's lock;
 *  - closing ANY descriptor of a file drops every lock the process holds
 *    on that file;
 *  - a child does not inherit its parent's locks (so, unlike OFD locks, a
 *    forked child can never keep a dead parent alive);
 *  - exec keeps them, but the lock descriptor is close-on-exec and its
 *    close at exec drops them.
 *
 * So this file keeps, per process, a table with one entry per segment
 * file (device and inode) on which the process takes liveness locks:
 *  - each handle's lock descriptor (a dup of the segment's) and the bytes
 *    that handle holds, so that a byte held by another handle of this
 *    process counts as held (zcp__live_held()) and cannot be taken twice
 *    (zcp__live_lock() says ZCP_EBUSY), as with OFD locks;
 *  - descriptors of the file that the library closed while some handle
 *    of the process still uses it (zcp__plat_close(), zcp__live_close()):
 *    they stay open, parked, until the last handle goes, because closing
 *    them would drop the other handles' locks.  A new handle's lock
 *    descriptor is taken from the parked ones when it can be.
 *
 * A descriptor of the segment that the application opens and closes
 * itself, behind the library's back, drops the process's locks: peers
 * then take the process for dead.  The README's platform table says so.
 */
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

const char zcp__platform_name[] = "posix";

/* One handle's lock descriptor and the bytes it holds. */
struct lock_handle {
	int fd;
	unsigned *bytes;
	size_t nbytes, capbytes;
};

struct lock_file {
	dev_t dev;
	ino_t ino;
	struct lock_handle *handles; /* from zcp__live_open(), not yet closed */
	size_t nhandles, caphandles;
	int *parked; /* descriptors whose close is deferred */
	size_t nparked, capparked;
};

/* Guarded by reg_lock, which the atfork prepare handler takes. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lock_file *files;
static size_t nfiles, capfiles;

static int grow(void **arr, size_t *cap, size_t len, size_t elem)
{
	if (len < *cap)
		return 0;
	size_t n = *cap ? 2 * *cap : 8;
	void *p = realloc(*arr, n * elem);
	if (!p)
		return ZCP_ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

static struct lock_file *find_ino(dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < nfiles; i++)
		if (files[i].dev == dev && files[i].ino == ino)
			return &files[i];
	return NULL;
}

static struct lock_file *find_fd_file(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return NULL;
	return find_ino(st.st_dev, st.st_ino);
}

/* The handle whose lock descriptor is fd, and its file. */
static struct lock_handle *find_handle(int fd, struct lock_file **file)
{
	for (size_t i = 0; i < nfiles; i++)
		for (size_t j = 0; j < files[i].nhandles; j++)
			if (files[i].handles[j].fd == fd) {
				*file = &files[i];
				return &files[i].handles[j];
			}
	return NULL;
}

static size_t byte_at(const struct lock_handle *h, unsigned byte)
{
	for (size_t i = 0; i < h->nbytes; i++)
		if (h->bytes[i] == byte)
			return i;
	return (size_t)-1;
}

/* Whether some handle of this process on file f holds byte. */
static int file_holds(const struct lock_file *f, unsigned byte)
{
	for (size_t j = 0; j < f->nhandles; j++)
		if (byte_at(&f->handles[j], byte) != (size_t)-1)
			return 1;
	return 0;
}

/* Close the entry's descriptors (dropping its locks) and remove it. */
static void drop_file(struct lock_file *f)
{
	for (size_t i = 0; i < f->nparked; i++)
		close(f->parked[i]);
	for (size_t j = 0; j < f->nhandles; j++) {
		close(f->handles[j].fd);
		free(f->handles[j].bytes);
	}
	free(f->parked);
	free(f->handles);
	*f = files[--nfiles];
}

void zcp__plat_fork_prepare(void)
{
	pthread_mutex_lock(&reg_lock);
}

void zcp__plat_fork_parent(void)
{
	pthread_mutex_unlock(&reg_lock);
}

/* In the child: it holds no locks (classic locks are not inherited), so
 * its copies of the descriptors guard nothing. */
void zcp__plat_fork_child(void)
{
	while (nfiles > 0)
		drop_file(&files[nfiles - 1]);
	pthread_mutex_unlock(&reg_lock);
}

/* A parked descriptor of f open for writing, taken off the parked list,
 * or -1: reused as a new handle's lock descriptor, so that handles that
 * come and go beside a long-lived one do not pile up descriptors. */
static int unpark_writable(struct lock_file *f)
{
	for (size_t i = 0; i < f->nparked; i++) {
		int fl = fcntl(f->parked[i], F_GETFL);
		if (fl >= 0 && (fl & O_ACCMODE) == O_RDWR) {
			int fd = f->parked[i];
			f->parked[i] = f->parked[--f->nparked];
			return fd;
		}
	}
	return -1;
}

int zcp__live_open(int seg_fd, const char *shm_name, int *lock_fd)
{
	struct stat st;
	int err = 0, fd = -1;

	(void)shm_name; /* any descriptor of the file will do: the locks are the process's */
	zcp__fork_watch();
	if (fstat(seg_fd, &st) != 0)
		return zcp__neg_errno();
	pthread_mutex_lock(&reg_lock);
	struct lock_file *f = find_ino(st.st_dev, st.st_ino);
	if (!f) {
		if ((err = grow((void **)&files, &capfiles, nfiles, sizeof *files)))
			goto out;
		f = &files[nfiles++];
		memset(f, 0, sizeof *f);
		f->dev = st.st_dev;
		f->ino = st.st_ino;
	}
	if ((err = grow((void **)&f->handles, &f->caphandles, f->nhandles, sizeof *f->handles)))
		goto out_drop;
	fd = unpark_writable(f);
	if (fd < 0)
		fd = fcntl(seg_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0) {
		err = errno == EMFILE || errno == ENFILE ? ZCP_EMFILE : zcp__neg_errno();
		goto out_drop;
	}
	struct lock_handle *h = &f->handles[f->nhandles++];
	memset(h, 0, sizeof *h);
	h->fd = fd;
	*lock_fd = fd;
	goto out;
out_drop:
	if (f->nhandles == 0)
		drop_file(f);
out:
	pthread_mutex_unlock(&reg_lock);
	return err;
}

static struct flock byte_lock(short type, unsigned byte)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)byte;
	fl.l_len = 1;
	return fl;
}

static void unlock_byte(int fd, unsigned byte)
{
	struct flock fl = byte_lock(F_UNLCK, byte);
	while (fcntl(fd, F_SETLK, &fl) != 0 && errno == EINTR)
		;
}

void zcp__live_close(int lock_fd, int forked)
{
	struct lock_file *f;

	if (lock_fd < 0 || forked)
		return; /* after a fork: dropped in the child (zcp__plat_fork_child) */
	pthread_mutex_lock(&reg_lock);
	struct lock_handle *h = find_handle(lock_fd, &f);
	if (h && f->nhandles == 1) {
		drop_file(f); /* the last handle: close all, dropping our locks */
	} else if (h) {
		/* Others remain: give up this handle's bytes one by one and
		 * park its descriptor (closing it would drop theirs too). */
		for (size_t i = 0; i < h->nbytes; i++)
			unlock_byte(lock_fd, h->bytes[i]);
		free(h->bytes);
		*h = f->handles[--f->nhandles];
		if (grow((void **)&f->parked, &f->capparked, f->nparked, sizeof *f->parked) == 0)
			f->parked[f->nparked++] = lock_fd;
		/* else leak it: better than being taken for dead */
	}
	pthread_mutex_unlock(&reg_lock);
}

int zcp__live_lock(int lock_fd, unsigned byte)
{
	struct flock fl = byte_lock(F_WRLCK, byte);
	struct lock_file *f;
	int r, err = 0;

	pthread_mutex_lock(&reg_lock);
	struct lock_handle *h = find_handle(lock_fd, &f);
	if (!h) {
		err = ZCP_EINVAL;
		goto out;
	}
	if (byte_at(h, byte) != (size_t)-1)
		goto out; /* ours already (as an OFD lock taken again) */
	if (file_holds(f, byte)) {
		err = ZCP_EBUSY; /* another handle of this process */
		goto out;
	}
	if ((err = grow((void **)&h->bytes, &h->capbytes, h->nbytes, sizeof *h->bytes)))
		goto out;
	do
		r = fcntl(lock_fd, F_SETLK, &fl);
	while (r != 0 && errno == EINTR);
	if (r != 0) {
		err = errno == EAGAIN || errno == EACCES ? ZCP_EBUSY : zcp__neg_errno();
		goto out;
	}
	h->bytes[h->nbytes++] = byte;
out:
	pthread_mutex_unlock(&reg_lock);
	return err;
}

void zcp__live_unlock(int lock_fd, unsigned byte)
{
	struct lock_file *f;

	pthread_mutex_lock(&reg_lock);
	struct lock_handle *h = find_handle(lock_fd, &f);
	size_t i = h ? byte_at(h, byte) : (size_t)-1;
	if (i != (size_t)-1) {
		h->bytes[i] = h->bytes[--h->nbytes];
		unlock_byte(lock_fd, byte);
	}
	pthread_mutex_unlock(&reg_lock);
}

int zcp__live_held(int query_fd, unsigned byte)
{
	struct flock fl = byte_lock(F_WRLCK, byte);
	int r;

	pthread_mutex_lock(&reg_lock);
	struct lock_file *f = find_fd_file(query_fd);
	int mine = f && file_holds(f, byte);
	pthread_mutex_unlock(&reg_lock);
	if (mine)
		return 1; /* a handle of this process: F_GETLK would not say */
	do
		r = fcntl(query_fd, F_GETLK, &fl);
	while (r != 0 && errno == EINTR);
	if (r != 0)
		return 1; /* cannot tell: alive */
	return fl.l_type != F_UNLCK;
}

uint64_t zcp__self_pidns(void)
{
	return 0;
}

int zcp__pid_gone(int64_t pid, uint64_t pidns)
{
	/* A pid proves nothing portable: only the lock decides. */
	(void)pid;
	(void)pidns;
	return 0;
}

void zcp__plat_close(int fd)
{
	int saved = errno;

	if (fd < 0)
		return;
	pthread_mutex_lock(&reg_lock);
	struct lock_file *f = find_fd_file(fd);
	if (f) {
		/* Closing it would drop our locks: park it.  Without the
		 * memory to remember it, leak it rather than be taken for
		 * dead. */
		if (grow((void **)&f->parked, &f->capparked, f->nparked, sizeof *f->parked) == 0)
			f->parked[f->nparked++] = fd;
	} else {
		close(fd);
	}
	pthread_mutex_unlock(&reg_lock);
	errno = saved;
}

int zcp__plat_fd_path(int fd, char *buf, size_t size)
{
	(void)fd;
	(void)buf;
	(void)size;
	return ZCP_ENOSYS;
}

int zcp__plat_shm_lstat(const char *path, struct stat *st)
{
	(void)path;
	(void)st;
	return ZCP_ENOSYS;
}

const char *zcp__plat_fifo_dir(void)
{
	struct stat st;
	return stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : NULL;
}

int zcp__peer_cred(int fd, uid_t *uid, gid_t *gid)
{
#ifdef HAVE_GETPEEREID
	return getpeereid(fd, uid, gid) == 0 ? 0 : zcp__neg_errno();
#else
	(void)fd;
	(void)uid;
	(void)gid;
	return ZCP_ENOSYS;
#endif
}
