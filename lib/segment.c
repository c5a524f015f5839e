/*
 * lib/segment.c - shared-memory segments: POSIX shm objects and memfds.
 *
 * Creation follows one order for both backends: get a descriptor, make it
 * close-on-exec, set the exact permissions (fchmod, so the umask does not
 * matter) and the group, size it, seal it (memfd, on request), map it.
 * Every failure after the shm name exists unlinks it again, so a failed
 * create never leaves litter in /dev/shm.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

struct zcp_segment {
	void *base;
	size_t size;
	int fd;
	zcp_backend backend;
	char name[ZCP_SEGMENT_NAME_MAX + 1];
};

/* "/zerocp_" + name + NUL. */
#define SEG_PATH_MAX (1 + sizeof(ZCP__SHM_PREFIX) + ZCP_SEGMENT_NAME_MAX + 1)

/* The current errno as a zerocp code; never 0 so a failure stays one. */
static int neg_errno(void)
{
	return errno > 0 ? -errno : ZCP_EINVAL;
}

/* close() that keeps errno, for error paths. */
static void close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

static int set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	/* POSIX shm_open() already sets it: then one syscall, not two. */
	if (flags < 0 || (!(flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0))
		return neg_errno();
	return 0;
}

void zcp_segment_options_init(zcp_segment_options *opts)
{
	if (opts == NULL)
		return;
	memset(opts, 0, sizeof(*opts));
	opts->backend = ZCP_BACKEND_SHM;
	opts->mode = 0;
	opts->gid = -1;
	opts->seal = 0;
}

static int options_valid(const zcp_segment_options *o)
{
	size_t i;

	if (o->backend != ZCP_BACKEND_SHM && o->backend != ZCP_BACKEND_MEMFD)
		return ZCP_EINVAL;
	if (o->mode & ~0777u)
		return ZCP_EINVAL;
	/* -1 keeps the group; (gid_t)-1 itself is not a group. */
	if (o->gid < -1 || (o->gid >= 0 && ((long)(gid_t)o->gid != o->gid ||
					    (gid_t)o->gid == (gid_t)-1)))
		return ZCP_EINVAL;
	if (o->seal && o->backend != ZCP_BACKEND_MEMFD)
		return ZCP_EINVAL;
	for (i = 0; i < ZCP_ARRAY_SIZE(o->reserved); i++)
		if (o->reserved[i] != NULL)
			return ZCP_EINVAL;
	return 0;
}

/* Map fd and wrap it in a new segment object; takes ownership of fd only
 * on success. */
static int segment_wrap(int fd, size_t size, int writable, zcp_backend backend, const char *name,
			zcp_segment **out)
{
	zcp_segment *seg;
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);

	seg = calloc(1, sizeof(*seg));
	if (seg == NULL)
		return ZCP_ENOMEM;
	seg->base = mmap(NULL, size, prot, MAP_SHARED, fd, 0);
	if (seg->base == MAP_FAILED) {
		int err = neg_errno();

		free(seg);
		return err;
	}
	seg->size = size;
	seg->fd = fd;
	seg->backend = backend;
	/* name is at most ZCP_SEGMENT_NAME_MAX bytes, checked by callers. */
	strncpy(seg->name, name, sizeof(seg->name) - 1);
	*out = seg;
	return 0;
}

/* Permissions, group, size and seals for a freshly created descriptor. */
static int segment_setup(int fd, size_t size, const zcp_segment_options *o)
{
	int err;

	if ((err = set_cloexec(fd)) < 0)
		return err;
	if (fchmod(fd, o->mode ? (mode_t)o->mode : (mode_t)0600) < 0)
		return neg_errno();
	if (o->gid != -1 && fchown(fd, (uid_t)-1, (gid_t)o->gid) < 0)
		return neg_errno();
	if (ftruncate(fd, (off_t)size) < 0)
		return neg_errno();
#ifdef HAVE_MEMFD
	if (o->seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return neg_errno();
#endif
	return 0;
}

static int create_shm(const char *name, size_t size, const zcp_segment_options *o,
		      zcp_segment **out)
{
	char path[SEG_PATH_MAX];
	int fd, err;

	if ((err = zcp__shm_path(path, sizeof(path), name, NULL)) < 0)
		return err;
	/* O_CLOEXEC is not specified for shm_open(); segment_setup() sets
	 * FD_CLOEXEC (glibc and musl set it already). */
	fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, o->mode ? (mode_t)o->mode : (mode_t)0600);
	if (fd < 0)
		return neg_errno();
	err = segment_setup(fd, size, o);
	if (err == 0)
		err = segment_wrap(fd, size, 1, ZCP_BACKEND_SHM, name, out);
	if (err < 0) {
		shm_unlink(path);
		close(fd);
	}
	return err;
}

static int create_memfd(const char *name, size_t size, const zcp_segment_options *o,
			zcp_segment **out)
{
#ifdef HAVE_MEMFD
	char mname[sizeof(ZCP__SHM_PREFIX) + ZCP_SEGMENT_NAME_MAX];
	int fd, err;

	/* The memfd name only shows in /proc/<pid>/fd; zcp_segment_open_fd()
	 * reads the user name back from there. */
	if ((err = zcp__shm_path(mname, sizeof(mname), name, NULL)) < 0)
		return err;
	fd = memfd_create(mname + 1, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return errno == ENOSYS ? ZCP_ENOSYS : neg_errno();
	err = segment_setup(fd, size, o);
	if (err == 0)
		err = segment_wrap(fd, size, 1, ZCP_BACKEND_MEMFD, name, out);
	if (err < 0)
		close(fd);
	return err;
#else
	(void)name;
	(void)size;
	(void)o;
	(void)out;
	return ZCP_ENOSYS;
#endif
}

int zcp_segment_create(const char *name, size_t size, const zcp_segment_options *opts,
		       zcp_segment **out)
{
	zcp_segment_options defaults;
	int err;

	if (out == NULL || size == 0 || size > PTRDIFF_MAX)
		return ZCP_EINVAL;
	if ((err = zcp__name_valid(name, ZCP_SEGMENT_NAME_MAX)) < 0)
		return err;
	if (opts == NULL) {
		zcp_segment_options_init(&defaults);
		opts = &defaults;
	}
	if ((err = options_valid(opts)) < 0)
		return err;
	if (opts->backend == ZCP_BACKEND_MEMFD)
		return create_memfd(name, size, opts, out);
	return create_shm(name, size, opts, out);
}

/* Size of the object behind fd, checked to be mappable. */
static int fd_size(int fd, size_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return neg_errno();
	if (!S_ISREG(st.st_mode))
		return ZCP_EINVAL;
	if (st.st_size < 0)
		return ZCP_ECORRUPT;
	if ((uintmax_t)st.st_size > (uintmax_t)PTRDIFF_MAX)
		return ZCP_EOVERFLOW;
	*size = (size_t)st.st_size;
	return 0;
}

int zcp_segment_open(const char *name, int writable, zcp_segment **out)
{
	char path[SEG_PATH_MAX];
	size_t size;
	int fd, err;

	if (out == NULL)
		return ZCP_EINVAL;
	if ((err = zcp__name_valid(name, ZCP_SEGMENT_NAME_MAX)) < 0)
		return err;
	if ((err = zcp__shm_path(path, sizeof(path), name, NULL)) < 0)
		return err;
	fd = shm_open(path, writable ? O_RDWR : O_RDONLY, 0);
	if (fd < 0)
		return neg_errno();
	err = set_cloexec(fd);
	if (err == 0)
		err = fd_size(fd, &size);
	if (err == 0 && size == 0)
		err = ZCP_ETRUNCATED;
	if (err == 0)
		err = segment_wrap(fd, size, writable, ZCP_BACKEND_SHM, name, out);
	if (err < 0)
		close_keep_errno(fd);
	return err;
}

/*
 * Recover the backend and the user name of a descriptor from its
 * /proc/self/fd link: "/memfd:zerocp_<name> (deleted)" for a memfd,
 * "/dev/shm/zerocp_<name>" for an shm object.  Without /proc, or for
 * anything else, the name stays "" and the backend is guessed as shm.
 */
static void fd_identity(int fd, char *name, size_t namesz, zcp_backend *backend)
{
	static const char memfd_prefix[] = "/memfd:" ZCP__SHM_PREFIX;
	static const char shm_prefix[] = "/dev/shm/" ZCP__SHM_PREFIX;
	static const char deleted[] = " (deleted)";
	char proc[64], link[PATH_MAX];
	const char *p = NULL;
	ssize_t n;
	size_t len;

	name[0] = '\0';
	*backend = ZCP_BACKEND_SHM;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, link, sizeof(link) - 1);
	if (n <= 0)
		return;
	link[n] = '\0';
	len = (size_t)n;
	if (len >= sizeof(deleted) - 1 &&
	    strcmp(link + len - (sizeof(deleted) - 1), deleted) == 0)
		link[len - (sizeof(deleted) - 1)] = '\0';
	if (strncmp(link, "/memfd:", 7) == 0)
		*backend = ZCP_BACKEND_MEMFD;
	if (strncmp(link, memfd_prefix, sizeof(memfd_prefix) - 1) == 0)
		p = link + sizeof(memfd_prefix) - 1;
	else if (strncmp(link, shm_prefix, sizeof(shm_prefix) - 1) == 0)
		p = link + sizeof(shm_prefix) - 1;
	if (p != NULL && zcp__name_valid(p, ZCP_SEGMENT_NAME_MAX) == 0 && strlen(p) < namesz)
		strcpy(name, p);
}

int zcp_segment_open_fd(int fd, int writable, zcp_segment **out)
{
	char name[ZCP_SEGMENT_NAME_MAX + 1];
	zcp_backend backend;
	size_t size;
	int nfd, err;

	if (out == NULL || fd < 0)
		return ZCP_EINVAL;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (nfd < 0)
		return neg_errno();
	err = fd_size(nfd, &size);
	if (err == 0 && size == 0)
		err = ZCP_ETRUNCATED;
	if (err == 0) {
		fd_identity(nfd, name, sizeof(name), &backend);
		err = segment_wrap(nfd, size, writable, backend, name, out);
	}
	if (err < 0)
		close_keep_errno(nfd);
	return err;
}

void *zcp_segment_base(const zcp_segment *seg)
{
	return seg != NULL ? seg->base : NULL;
}

size_t zcp_segment_size(const zcp_segment *seg)
{
	return seg != NULL ? seg->size : 0;
}

int zcp_segment_fd(const zcp_segment *seg)
{
	return seg != NULL ? seg->fd : ZCP_EINVAL;
}

zcp_backend zcp_segment_backend(const zcp_segment *seg)
{
	return seg != NULL ? seg->backend : ZCP_BACKEND_SHM;
}

const char *zcp_segment_name(const zcp_segment *seg)
{
	return seg != NULL ? seg->name : NULL;
}

int zcp_segment_real_size(const zcp_segment *seg, size_t *size)
{
	struct stat st;

	if (seg == NULL || size == NULL)
		return ZCP_EINVAL;
	if (fstat(seg->fd, &st) < 0)
		return neg_errno();
	if (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)SIZE_MAX)
		return ZCP_EOVERFLOW;
	*size = (size_t)st.st_size;
	return 0;
}

int zcp_segment_unlink(const char *name)
{
	char path[SEG_PATH_MAX];
	int err;

	if ((err = zcp__name_valid(name, ZCP_SEGMENT_NAME_MAX)) < 0)
		return err;
	if ((err = zcp__shm_path(path, sizeof(path), name, NULL)) < 0)
		return err;
	if (shm_unlink(path) < 0)
		return neg_errno();
	return 0;
}

void zcp_segment_close(zcp_segment *seg)
{
	if (seg == NULL)
		return;
	munmap(seg->base, seg->size);
	close(seg->fd);
	free(seg);
}
