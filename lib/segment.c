/* SPDX-License-Identifier: MIT */
/*
 * lib/segment.c - shared-memory segments: POSIX shm objects and memfds.
 *
 * Creation follows one order for both backends: check that the size can
 * be had at all (RLIMIT_FSIZE, RAM and swap), get a descriptor, make it
 * close-on-exec, set the exact permissions (fchmod, so the umask does not
 * matter) and the group, check the free space of the filesystem (shm),
 * reserve the memory (fallocate), size it, seal it (memfd, on request), map
 * it.  Every failure after the shm name exists unlinks it again (if it
 * still names our object), so a failed create never leaves litter in
 * /dev/shm.
 *
 * Reserving matters because tmpfs and memfd objects are sparse: ftruncate()
 * alone allocates nothing, and a page that cannot be allocated when it is
 * first touched through a mapping raises SIGBUS in whichever process
 * touches it.  With the memory reserved at create, a full /dev/shm is an
 * error code for the creator instead of a crash for anyone.
 */
#include "internal.h"
#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sysinfo.h>
#endif

struct zcp_segment {
	void *base;
	size_t size;
	int fd;
	zcp_backend backend;
	char name[ZCP_SEGMENT_NAME_MAX + 1];
};

/* "/zerocp_" + name + NUL. */
#define SEG_PATH_MAX (1 + sizeof(ZCP__SHM_PREFIX) + ZCP_SEGMENT_NAME_MAX + 1)


/* close() that keeps errno, for error paths. */
static void close_keep_errno(int fd)
{
	zcp__plat_close(fd); /* keeps errno */
}

static int set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	/* POSIX shm_open() already sets it: then one syscall, not two. */
	if (flags < 0 || (!(flags & FD_CLOEXEC) && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0))
		return zcp__neg_errno();
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
		int err = zcp__neg_errno();

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

static size_t page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (size_t)page : 4096;
}

/* An errno value of a failed reservation as a zerocp code: every way of
 * running out of room is ZCP_ENOSPC. */
static int reserve_errno(int e)
{
	if (e == ENOSPC || e == ENOMEM || e == EFBIG)
		return ZCP_ENOSPC;
	return e > 0 ? -e : ZCP_EINVAL;
}

/*
 * Checks that need no descriptor, made before anything is created so that
 * a hopeless request fails fast: a size over RLIMIT_FSIZE (ftruncate() or
 * fallocate() would raise SIGXFSZ, which kills the process by default),
 * and, on Linux, a size over all RAM and swap together (fallocate() of a
 * memfd, or of a tmpfs mounted without a size limit, would push the system
 * into the OOM killer before it failed).
 */
static int space_precheck(size_t size)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (uintmax_t)size > (uintmax_t)rl.rlim_cur)
		return ZCP_ENOSPC;
#ifdef __linux__
	{
		struct sysinfo si;

		if (sysinfo(&si) == 0 && si.mem_unit > 0) {
			uintmax_t units = (uintmax_t)si.totalram + (uintmax_t)si.totalswap;

			if (units <= UINTMAX_MAX / si.mem_unit &&
			    (uintmax_t)size > units * si.mem_unit)
				return ZCP_ENOSPC;
		}
	}
#endif
	return 0;
}

/*
 * The free space of the filesystem holding fd (shm backend only: a memfd
 * lives on the kernel's internal shm mount, which has no limit of its own).
 * A tmpfs mounted without a size limit reports 0 blocks: nothing to check.
 * When fstatvfs() fails the check is skipped; fallocate() still decides.
 */
static int space_check_fs(int fd, size_t size)
{
	struct statvfs sv;
	unsigned long bs;
	uintmax_t need;

	if (fstatvfs(fd, &sv) < 0 || sv.f_blocks == 0)
		return 0;
	bs = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
	if (bs == 0)
		return 0;
	need = (uintmax_t)size / bs + ((uintmax_t)size % bs != 0);
	return need > (uintmax_t)sv.f_bavail ? ZCP_ENOSPC : 0;
}

/* The first step of reservation; halved on every EINTR (see reserve()). */
#define RESERVE_STEP ((size_t)64 << 20)

/*
 * Reserve size bytes of memory for the still empty object fd.
 *
 * On Linux: fallocate(FALLOC_FL_KEEP_SIZE) in steps of up to RESERVE_STEP,
 * so the object's size stays 0 until segment_setup() sets it (a peer
 * opening it meanwhile sees ZCP_ETRUNCATED, never a half-reserved size).
 * tmpfs gives up a fallocate() interrupted by a signal and frees what it
 * had allocated in that call, so a large single call could be interrupted
 * again and again by a frequent timer signal: each EINTR retries a step
 * half as large (down to one page), and finished steps are kept.
 * Elsewhere: posix_fallocate() of the whole size, retried on EINTR.
 *
 * Returns 0 when reserved, 1 when the filesystem cannot fallocate
 * (EOPNOTSUPP, ENOSYS; then nothing was reserved), ZCP_ENOSPC when the
 * memory is not there, another negative errno otherwise.
 */
static int reserve(int fd, size_t size)
{
#if defined(__linux__) && defined(FALLOC_FL_KEEP_SIZE)
	size_t off = 0, step = RESERVE_STEP, page = page_size();

	while (off < size) {
		size_t len = size - off < step ? size - off : step;

		if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0) {
			off += len;
			continue;
		}
		if (errno == EINTR) {
			if (step > page)
				step /= 2;
			continue;
		}
		if (off == 0 && (errno == EOPNOTSUPP || errno == ENOSYS))
			return 1;
		return reserve_errno(errno);
	}
	return 0;
#else
	int e;

	do
		e = posix_fallocate(fd, 0, (off_t)size);
	while (e == EINTR);
	if (e == EOPNOTSUPP || e == ENOSYS || e == EINVAL)
		return 1;
	return e == 0 ? 0 : reserve_errno(e);
#endif
}

/*
 * The fallback for a filesystem without fallocate(): write one zero byte
 * into every page of the sized, still zero-filled object, which allocates
 * it (tmpfs) or fails with ENOSPC, as pwrite() reports a full filesystem
 * instead of raising SIGBUS.  A peer must not write the segment before
 * zcp_segment_create() has returned (it could not know its layout anyway);
 * a byte it wrote at a page start meanwhile could be reset to zero.  If the
 * very first write fails for another reason (a system whose shm objects
 * cannot be written with pwrite()), the object stays sparse, as it was
 * before reservation existed.
 */
static int touch_pages(int fd, size_t size)
{
	size_t off, page = page_size();

	for (off = 0; off < size; off += page) {
		ssize_t n;

		do
			n = pwrite(fd, "", 1, (off_t)off);
		while (n < 0 && errno == EINTR);
		if (n == 1)
			continue;
		if (n >= 0)
			return ZCP_ENOSPC;
		if (off == 0 && reserve_errno(errno) != ZCP_ENOSPC)
			return 0;
		return reserve_errno(errno);
	}
	return 0;
}

/* Permissions, group, reservation, size and seals for a freshly created
 * descriptor. */
static int segment_setup(int fd, size_t size, const zcp_segment_options *o)
{
	int err, unsupported;

	if ((err = set_cloexec(fd)) < 0)
		return err;
	if (fchmod(fd, o->mode ? (mode_t)o->mode : (mode_t)0600) < 0)
		return zcp__neg_errno();
	if (o->gid != -1 && fchown(fd, (uid_t)-1, (gid_t)o->gid) < 0)
		return zcp__neg_errno();
	if (o->backend == ZCP_BACKEND_SHM && (err = space_check_fs(fd, size)) < 0)
		return err;
	if ((unsupported = reserve(fd, size)) < 0)
		return unsupported;
	while (ftruncate(fd, (off_t)size) < 0)
		if (errno != EINTR)
			return reserve_errno(errno);
	if (unsupported && (err = touch_pages(fd, size)) < 0)
		return err;
#ifdef HAVE_MEMFD
	if (o->seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return zcp__neg_errno();
#endif
	return 0;
}

/*
 * Does the shm path (as given to shm_open(), "/zerocp_<name>") name the
 * object described by *mine right now?  Returns 1 if so, 0 if the name
 * names nothing or something else, or a negative error.
 *
 * The probe opens the name read-only with O_NONBLOCK and O_NOCTTY, so
 * that a FIFO put in its place cannot block us (O_NOFOLLOW is added by the
 * C library, so a symbolic link fails with ELOOP: not ours either).  When the
 * probe cannot be opened for want of read permission or of a free
 * descriptor, lstat() of the file under /dev/shm answers instead where the
 * platform layer has that path (Linux).
 */
static int name_is(const char *path, const struct stat *mine)
{
	struct stat st;
	int fd, e;

	fd = shm_open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0);
	if (fd >= 0) {
		e = fstat(fd, &st) < 0 ? errno : 0;
		zcp__plat_close(fd);
		if (e)
			return -e;
	} else {
		e = errno;
		if (e == ENOENT || e == ELOOP)
			return 0;
		if (e == EACCES || e == EMFILE || e == ENFILE) {
			/* Through the file system, where it has a path
			 * (Linux: /dev/shm). */
			int r = zcp__plat_shm_lstat(path, &st);

			if (r == ZCP_ENOENT)
				return 0;
			if (r == ZCP_ENOSYS)
				return -e;
			if (r < 0)
				return r;
		} else {
			return e > 0 ? -e : ZCP_EINVAL;
		}
	}
	return st.st_dev == mine->st_dev && st.st_ino == mine->st_ino;
}

/* shm_unlink(path) if path still names the object open as fd; 0 if it was
 * unlinked or names something else now. */
static int unlink_if_same(const char *path, int fd)
{
	struct stat mine;
	int err;

	if (fstat(fd, &mine) < 0)
		return zcp__neg_errno();
	if ((err = name_is(path, &mine)) <= 0)
		return err;
	if (shm_unlink(path) < 0 && errno != ENOENT)
		return zcp__neg_errno();
	return 0;
}

static int create_shm(const char *name, size_t size, const zcp_segment_options *o,
		      const struct zcp__segment_hook *hook, zcp_segment **out)
{
	char path[SEG_PATH_MAX];
	int fd, err;

	if ((err = zcp__shm_path(path, sizeof(path), name, NULL)) < 0)
		return err;
	/* O_CLOEXEC is not specified for shm_open(); segment_setup() sets
	 * FD_CLOEXEC (glibc and musl set it already). */
	fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, o->mode ? (mode_t)o->mode : (mode_t)0600);
	if (fd < 0)
		return zcp__neg_errno();
	err = hook ? hook->fn(fd, hook->arg) : 0;
	if (err == 0)
		err = segment_setup(fd, size, o);
	if (err == 0)
		err = segment_wrap(fd, size, 1, ZCP_BACKEND_SHM, name, out);
	if (err < 0) {
		/* Only our own object: its name may have been unlinked and
		 * created again by someone else meanwhile. */
		unlink_if_same(path, fd);
		zcp__plat_close(fd);
	}
	return err;
}

static int create_memfd(const char *name, size_t size, const zcp_segment_options *o,
			const struct zcp__segment_hook *hook, zcp_segment **out)
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
		return errno == ENOSYS ? ZCP_ENOSYS : zcp__neg_errno();
	err = hook ? hook->fn(fd, hook->arg) : 0;
	if (err == 0)
		err = segment_setup(fd, size, o);
	if (err == 0)
		err = segment_wrap(fd, size, 1, ZCP_BACKEND_MEMFD, name, out);
	if (err < 0)
		zcp__plat_close(fd);
	return err;
#else
	(void)name;
	(void)size;
	(void)o;
	(void)hook;
	(void)out;
	return ZCP_ENOSYS;
#endif
}

int zcp_segment_create(const char *name, size_t size, const zcp_segment_options *opts,
		       zcp_segment **out)
{
	return zcp__segment_create_hooked(name, size, opts, NULL, out);
}

int zcp__segment_create_hooked(const char *name, size_t size, const zcp_segment_options *opts,
			       const struct zcp__segment_hook *hook, zcp_segment **out)
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
	if ((err = space_precheck(size)) < 0)
		return err;
	if (opts->backend == ZCP_BACKEND_MEMFD)
		return create_memfd(name, size, opts, hook, out);
	return create_shm(name, size, opts, hook, out);
}

/* Size of the object behind fd, checked to be mappable. */
static int fd_size(int fd, size_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return zcp__neg_errno();
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
	/* O_NONBLOCK: opening a FIFO that someone put under the name must not
	 * block (fd_size() then rejects it), O_NOCTTY: nor may a terminal
	 * device become ours; neither has an effect on a regular file. */
	fd = shm_open(path, (writable ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_NOCTTY, 0);
	if (fd < 0)
		return zcp__neg_errno();
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
 * path (zcp__plat_fd_path(), Linux: its /proc/self/fd link):
 * "/memfd:zerocp_<name> (deleted)" for a memfd,
 * "/dev/shm/zerocp_<name>" for an shm object.  Without one, or for
 * anything else, the name stays "" and the backend is guessed as shm.
 */
static void fd_identity(int fd, char *name, size_t namesz, zcp_backend *backend)
{
	static const char memfd_prefix[] = "/memfd:" ZCP__SHM_PREFIX;
	static const char shm_prefix[] = "/dev/shm/" ZCP__SHM_PREFIX;
	static const char deleted[] = " (deleted)";
	char link[PATH_MAX];
	const char *p = NULL;
	int n;
	size_t len;

	name[0] = '\0';
	*backend = ZCP_BACKEND_SHM;
	n = zcp__plat_fd_path(fd, link, sizeof(link));
	if (n <= 0)
		return;
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
		return zcp__neg_errno();
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
		return zcp__neg_errno();
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
		return zcp__neg_errno();
	return 0;
}

int zcp_segment_unlink_same(const zcp_segment *seg)
{
	char path[SEG_PATH_MAX];
	int err;

	if (seg == NULL)
		return ZCP_EINVAL;
	if (seg->backend == ZCP_BACKEND_MEMFD)
		return 0;
	if ((err = zcp__name_valid(seg->name, ZCP_SEGMENT_NAME_MAX)) < 0)
		return err;
	if ((err = zcp__shm_path(path, sizeof(path), seg->name, NULL)) < 0)
		return err;
	return unlink_if_same(path, seg->fd);
}

void zcp_segment_close(zcp_segment *seg)
{
	if (seg == NULL)
		return;
	munmap(seg->base, seg->size);
	zcp__plat_close(seg->fd);
	free(seg);
}
