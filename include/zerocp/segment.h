/* SPDX-License-Identifier: MIT */
/*
 * zerocp/segment.h - named shared-memory segments.
 *
 * A segment is a region of shared memory mapped into the calling process.
 * Two backends exist:
 *
 *  - ZCP_BACKEND_SHM: a POSIX shared-memory object "/zerocp_<name>"
 *    (on Linux the file /dev/shm/zerocp_<name>).  It outlives every process
 *    until zcp_segment_unlink() removes its name; other processes find it by
 *    name with zcp_segment_open().
 *
 *  - ZCP_BACKEND_MEMFD: an anonymous memfd, named "zerocp_<name>" only for
 *    debugging.  It has no global name: other processes get it by inheriting
 *    the descriptor across fork()/exec() or by receiving it over a UNIX
 *    socket (SCM_RIGHTS), then call zcp_segment_open_fd().  It disappears
 *    when the last descriptor and mapping are gone, so it leaves no litter
 *    after a crash, and it can be sealed against resizing.
 *
 * A zcp_segment object is process-local: it records the mapping and the
 * descriptor of this process.  It must not be placed in shared memory and
 * must not be used by a child after fork() (the child should open the
 * segment again).  The functions here do no locking: one zcp_segment may be
 * read by several threads at once (the accessors), but zcp_segment_close()
 * must not run beside any other use of the same object.  Different
 * zcp_segment objects are independent.
 *
 * Names: 1 to ZCP_SEGMENT_NAME_MAX characters from [A-Za-z0-9._-], not
 * starting with '.'.  Any other name fails with ZCP_EINVAL before any system
 * call is made.
 */
#ifndef ZEROCP_SEGMENT_H
#define ZEROCP_SEGMENT_H

#include <zerocp/common.h>

ZCP_BEGIN_DECLS

/* A mapped segment; opaque and process-local. */
typedef struct zcp_segment zcp_segment;

typedef enum zcp_backend {
	ZCP_BACKEND_SHM = 0,   /* POSIX shm_open() object, found by name */
	ZCP_BACKEND_MEMFD = 1, /* anonymous memfd, shared by descriptor */
} zcp_backend;

/* Longest segment name accepted, in bytes, without the "zerocp_" prefix. */
#define ZCP_SEGMENT_NAME_MAX 200

/*
 * Options for zcp_segment_create().  Always initialise with
 * zcp_segment_options_init() before setting fields, so that fields added in
 * later versions (taken from reserved[]) get their defaults.
 */
typedef struct zcp_segment_options {
	zcp_backend backend; /* default ZCP_BACKEND_SHM */
	unsigned int mode;   /* permission bits (at most 0777); 0 means 0600;
				applied exactly with fchmod(), umask ignored */
	long gid;            /* -1 (default): keep; else fchown(fd, -1, gid) */
	int seal;            /* memfd only: non-zero seals the size after
				sizing (F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL) */
	void *reserved[4];   /* must be NULL */
} zcp_segment_options;

/*
 * zcp_segment_options_init - fill *opts with the defaults.
 *
 * Concurrency: touches only *opts.
 * Sets backend = ZCP_BACKEND_SHM, mode = 0 (0600), gid = -1, seal = 0 and
 * clears reserved[].  A NULL opts is ignored.
 */
ZCP_API void zcp_segment_options_init(zcp_segment_options *opts);

/*
 * zcp_segment_create - create a new segment of size bytes and map it
 * read-write.
 *
 * Concurrency: may run beside any zerocp call on other objects, in this or
 * other processes.  For the shm backend creation is exclusive: of several
 * processes creating the same name at once exactly one succeeds, the
 * others get ZCP_EEXIST.  The new memory is zero-filled.  Permissions are set
 * before the size, so no other process can open the object in a state
 * more permissive than asked for; a peer may however open it (permissions
 * allowing) before it is sized and see size 0 (zcp_segment_open() then
 * returns ZCP_ETRUNCATED; retry).
 *
 * The memory is reserved, not just sized: every page of the segment is
 * allocated (fallocate()) before the call returns, so no process touching
 * the segment later can die of SIGBUS because /dev/shm (or, for memfd,
 * memory) ran out.  When the memory cannot be had the call fails with
 * ZCP_ENOSPC.  Cheap checks come first, so a hopeless request fails fast
 * and creates nothing: a size over the RLIMIT_FSIZE limit (which would
 * otherwise raise SIGXFSZ), on Linux a size over all RAM and swap together,
 * and for the shm backend a size over the free space that fstatvfs()
 * reports for /dev/shm (not checked for a tmpfs without a size limit).
 * Reserving costs time, a few tenths of a second per GiB, which the
 * first touches of the pages then no longer pay; a signal arriving
 * meanwhile does not make the call fail (EINTR is retried).  Where the filesystem cannot
 * fallocate() (EOPNOTSUPP, ENOSYS: not tmpfs or memfd on Linux), one byte
 * of every page is written with pwrite() instead, which reserves the same
 * way; a peer must then not write the segment before this call returns.
 * On a system where even that is refused the segment stays sparse, as an
 * ftruncate()d file is.  A segment that fitted may still take memory that
 * others need: the OOM killer is no more excluded than for malloc().
 * The reserved memory counts as used at once (df /dev/shm, the memory
 * cgroup of the creator), not when it is first written.
 *
 * opts may be NULL for the defaults (see zcp_segment_options_init()).
 * On success stores a new segment in *out and returns 0; the caller owns
 * it and must release it with zcp_segment_close(); the shm name stays until
 * zcp_segment_unlink().  On failure *out is left unchanged and nothing is
 * left behind: the descriptor is closed and the name is unlinked again if
 * it had been created (and still names the object this call created).
 *
 * Returns:
 *   0               success
 *   ZCP_EINVAL      NULL name or out, invalid name, size 0 or larger than
 *                   PTRDIFF_MAX, mode above 0777, gid below -1, unknown
 *                   backend, seal with the shm backend, reserved[] not NULL
 *   ZCP_EEXIST      (shm) a segment of that name already exists
 *   ZCP_ENOSPC      the memory could not be reserved: size above
 *                   RLIMIT_FSIZE, above RAM plus swap, above the free space
 *                   of /dev/shm, or fallocate() (or the pwrite() fallback)
 *                   failed with ENOSPC, ENOMEM or EFBIG
 *   ZCP_EACCES      permission denied (e.g. on /dev/shm)
 *   ZCP_EPERM       fchown() to gid is not permitted
 *   ZCP_ENOSYS      memfd backend requested but not built in, or not
 *                   supported by the running kernel
 *   ZCP_ENOMEM      no memory for the process-local object, or mmap()
 *                   failed (address space)
 *   ZCP_EMFILE and other negative errno values from shm_open(),
 *                   memfd_create(), fallocate(), ftruncate() or mmap()
 *
 * Pair with zcp_segment_close() and, for shm, zcp_segment_unlink().
 */
ZCP_API int zcp_segment_create(const char *name, size_t size, const zcp_segment_options *opts,
			       zcp_segment **out);

/*
 * zcp_segment_open - map an existing shm-backend segment by name.
 *
 * Concurrency: may run beside anything, including the creator's
 * zcp_segment_create() of the same name (see the ZCP_ETRUNCATED case) and
 * another process's zcp_segment_unlink() (the mapping stays valid once
 * made).
 *
 * Maps the whole object, read-write if writable is non-zero, else
 * read-only (writes through the mapping then fault).  The size is the
 * object's size at the time of the call.  On success stores a new segment
 * in *out and returns 0; the caller owns it and releases it with
 * zcp_segment_close().
 *
 * Returns:
 *   0               success
 *   ZCP_EINVAL      NULL name or out, invalid name, or the name is not a
 *                   regular shared-memory object (a FIFO, a directory:
 *                   opened without blocking, then refused)
 *   ZCP_ENOENT      no segment of that name
 *   ZCP_EACCES      permission denied for the requested access
 *   ZCP_ETRUNCATED  the object has size 0 (its creator has not sized it yet,
 *                   or something truncated it)
 *   ZCP_EOVERFLOW   the object is too large to map in this process
 *   other negative errno values from shm_open(), fstat() or mmap()
 *
 * Pair with zcp_segment_close().
 */
ZCP_API int zcp_segment_open(const char *name, int writable, zcp_segment **out);

/*
 * zcp_segment_open_fd - map the segment behind a descriptor.
 *
 * For a memfd (or shm) descriptor inherited across fork()/exec() or
 * received over a UNIX socket.  Concurrency as for zcp_segment_open().
 *
 * The descriptor is dup()ed (with FD_CLOEXEC): the caller keeps ownership
 * of fd and may close it at once.  The size is taken from fstat() now.  The
 * segment's name, and so its zcp_segment_id(), is recovered from
 * /proc/self/fd when the descriptor names a zerocp segment there; otherwise
 * the name is "" (the id then differs from the creator's).  The backend is
 * ZCP_BACKEND_MEMFD for a memfd and ZCP_BACKEND_SHM otherwise.
 *
 * Returns:
 *   0               success
 *   ZCP_EINVAL      NULL out, negative fd, or fd is not a regular file or
 *                   shared-memory object
 *   ZCP_ETRUNCATED  the object has size 0
 *   ZCP_EOVERFLOW   the object is too large to map in this process
 *   ZCP_EACCES      fd's open mode does not allow the requested access
 *   other negative errno values from dup(), fstat() or mmap() (EBADF for a
 *   closed descriptor)
 *
 * Pair with zcp_segment_close().
 */
ZCP_API int zcp_segment_open_fd(int fd, int writable, zcp_segment **out);

/*
 * Accessors.  Concurrency: may run beside each other and beside any use of
 * the segment's memory; not beside zcp_segment_close() of the same object.
 *
 * zcp_segment_base - address of the mapping in this process (NULL for NULL
 *   seg).  Different processes, and different opens in one process, see
 *   different addresses: store zcp_relptr values in shared memory, never
 *   raw pointers.  Valid until zcp_segment_close().
 * zcp_segment_size - size of the mapping in bytes (0 for NULL seg).
 * zcp_segment_fd - the segment's descriptor, owned by the segment and closed
 *   by zcp_segment_close(); dup() it to keep it longer or to pass it on
 *   (ZCP_EINVAL for NULL seg).
 * zcp_segment_backend - the backend (ZCP_BACKEND_SHM for NULL seg).
 * zcp_segment_name - the user name, without the "zerocp_" prefix; owned by
 *   the segment ("" when unknown, NULL for NULL seg).
 */
ZCP_API void *zcp_segment_base(const zcp_segment *seg);
ZCP_API size_t zcp_segment_size(const zcp_segment *seg);
ZCP_API int zcp_segment_fd(const zcp_segment *seg);
ZCP_API zcp_backend zcp_segment_backend(const zcp_segment *seg);
ZCP_API const char *zcp_segment_name(const zcp_segment *seg);

/*
 * zcp_segment_real_size - the object's current size, from fstat() now.
 *
 * Concurrency: as for the accessors.  Detects a peer that resized the
 * object after it was mapped: touching the mapping beyond the real size
 * raises SIGBUS, so compare before trusting zcp_segment_size().
 *
 * Returns 0 and stores the size in *size, ZCP_EINVAL for NULL arguments,
 * ZCP_EOVERFLOW if the size does not fit a size_t, or the negative errno
 * of fstat().
 */
ZCP_API int zcp_segment_real_size(const zcp_segment *seg, size_t *size);

/*
 * zcp_segment_unlink - remove the name of an shm-backend segment.
 *
 * Concurrency: may run beside anything.  Existing mappings and descriptors
 * stay valid; the memory is freed when the last of them is gone.  Later
 * zcp_segment_open() calls of the name fail with ZCP_ENOENT, and the name
 * may be created again.
 *
 * Returns 0, ZCP_EINVAL for a NULL or invalid name, ZCP_ENOENT if no
 * segment has that name, ZCP_EACCES if not permitted.
 * Pair with zcp_segment_create().
 */
ZCP_API int zcp_segment_unlink(const char *name);

/*
 * zcp_segment_unlink_same - remove seg's name, but only if that name still
 * refers to the very object seg has open.
 *
 * Concurrency: may run beside anything, like zcp_segment_unlink().
 *
 * For a process that must remove only what it created, such as a server
 * that stops: after its segment was unlinked by someone else and the name
 * created again (a replacement server), zcp_segment_unlink() would remove
 * the replacement's name; this function leaves it alone.  The check
 * compares the device and inode numbers of seg's descriptor (fstat()) with
 * those of the object the name opens now (shm_open() read-only and
 * non-blocking; on Linux, lstat() of the file in /dev/shm when that open is
 * refused for want of permission or of descriptors).  seg's mapping and
 * descriptor stay valid either way.
 *
 * Residual race: the check and the unlink are two steps, and no system call
 * unlinks a name only if it names a given inode.  If, between them, another
 * process unlinks the name and creates a replacement under it, the
 * replacement's name is removed.  That needs an unlink and a create by
 * others inside a window of a few microseconds; a replacement that exists
 * before the call, the case this function is for, is always left alone.
 * An equal pair means the same object: seg holds its object open, so its
 * inode number cannot be given to another one (save on a tmpfs mounted
 * with inode32 after 2^32 objects were created, where numbers wrap).
 * The file is looked up under /dev/shm, where glibc and musl keep POSIX
 * shared memory.
 *
 * Returns:
 *   0               seg's object is no longer reachable by its name: the
 *                   name was unlinked now, or it names nothing, or it names
 *                   another object (then nothing was touched); also for a
 *                   memfd segment, which has no global name
 *   ZCP_EINVAL      NULL seg, or an shm segment whose name is unknown ("",
 *                   from zcp_segment_open_fd())
 *   ZCP_EACCES      not permitted to look the name up or to unlink it
 *   other negative errno values from fstat(), shm_open() or shm_unlink()
 *                   (e.g. -EPERM for another user's name in the sticky
 *                   /dev/shm)
 *
 * Pair with zcp_segment_create().
 */
ZCP_API int zcp_segment_unlink_same(const zcp_segment *seg);

/*
 * zcp_segment_close - unmap the segment and close its descriptor.
 *
 * Concurrency: must not run beside any other use of seg or of its memory
 * in this process.  Does not unlink the name (see zcp_segment_unlink()).
 * seg is freed; NULL is a no-op.  Pair with zcp_segment_create(),
 * zcp_segment_open() and zcp_segment_open_fd().
 */
ZCP_API void zcp_segment_close(zcp_segment *seg);

ZCP_END_DECLS

#endif /* ZEROCP_SEGMENT_H */
