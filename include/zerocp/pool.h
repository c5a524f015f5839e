/* SPDX-License-Identifier: MIT */
/* zerocp: pools of fixed-size chunks in shared memory, and their manager.
 *
 * A server creates a manager with zcp_mempool_manager_create(): two
 * shared-memory segments, a management segment (header, pool descriptors,
 * lock-free free lists, the table of attached processes and one 64-byte
 * record per chunk) and a data segment (the chunks: a 64-byte header, then
 * the payload, aligned to 64 bytes).  Clients attach with
 * zcp_mempool_manager_attach().  Chunks are then taken and given back with
 * the functions of <zerocp/chunk.h>.
 *
 * Segments are named after the manager: /dev/shm/zerocp_<name>_mgmt and
 * /dev/shm/zerocp_<name>_data.  A NULL name means $ZEROCP_NAME, or "default"
 * when that is unset.
 *
 * Synchronisation: a zcp_mempool_manager handle may be shared by the threads
 * of the process that created or attached it; every function below is
 * thread-safe except create/attach (which produce the handle) and
 * destroy/detach (which consume it: no other call on that handle may run
 * beside or after them).  A handle is not inherited across fork(): in the
 * child every call on it fails with ZCP_ECHILD; the child attaches anew.
 */
#ifndef ZEROCP_POOL_H
#define ZEROCP_POOL_H

#include <zerocp/common.h>

ZCP_BEGIN_DECLS

/* Limits of a configuration. */
#define ZCP_MAX_POOLS 32              /* pools in one manager */
#define ZCP_MAX_CHUNKS_PER_POOL 1048575u /* 2^20 - 1: the free-list index width */
#define ZCP_MAX_CHUNK_SIZE (UINT64_C(1) << 40) /* one chunk's payload, bytes */
#define ZCP_MAX_SEGMENT_SIZE (UINT64_C(1) << 46) /* either segment, bytes */
#define ZCP_MAX_PROCESSES 55          /* attached processes (the holder mask keeps one bit for topics) */
#define ZCP_DEFAULT_PROCESSES 32
#define ZCP_MANAGER_NAME_MAX 64       /* characters of a manager name */

/* A pool configuration under construction (process-local, not shared). */
typedef struct zcp_mempool_config zcp_mempool_config;

/* A process's handle on a manager (process-local, opaque). */
typedef struct zcp_mempool_manager zcp_mempool_manager;

/* One pool's status, as filled by zcp_mempool_manager_pool_stats(). */
typedef struct zcp_pool_stats {
	uint64_t chunk_size; /* payload bytes of each chunk */
	uint64_t total;      /* chunks in the pool */
	uint64_t used;       /* chunks held by some process now */
	uint64_t free;       /* total - used */
	uint64_t used_max;   /* the most chunks ever held at once */
	uint64_t reserved[3];
} zcp_pool_stats;

/* zcp_mempool_config_new - start an empty pool configuration.
 *
 * Returns a configuration with no pool, ZCP_DEFAULT_PROCESSES process slots
 * and segment mode 0600, or NULL with errno ENOMEM.  Pair with
 * zcp_mempool_config_free().  Not shared: use from one thread at a time.
 */
ZCP_API zcp_mempool_config *zcp_mempool_config_new(void);

/* zcp_mempool_config_add_entry - add a pool of chunk_count chunks that each
 * hold chunk_size bytes of payload (the seed's addMemPoolEntry).
 *
 * Entries may come in any order; pools are sorted by size when the manager
 * is created.  A pool's chunk_size is what a user may write: a 16384-byte
 * pool serves a 16384-byte request.
 *
 * Returns 0, or ZCP_EINVAL for a NULL cfg, a zero or too large size
 * (> ZCP_MAX_CHUNK_SIZE), a zero or too large count
 * (> ZCP_MAX_CHUNKS_PER_POOL), a size already present, or a
 * ZCP_MAX_POOLS+1-th entry.  On error cfg is unchanged.
 */
ZCP_API int zcp_mempool_config_add_entry(zcp_mempool_config *cfg, uint64_t chunk_size,
					 uint32_t chunk_count);

/* zcp_mempool_config_set_max_processes - size the table of attached
 * processes (1 to ZCP_MAX_PROCESSES, default ZCP_DEFAULT_PROCESSES).
 * Attaching beyond it fails with ZCP_EUSERS.
 * Returns 0 or ZCP_EINVAL (NULL cfg, n out of range; cfg unchanged).
 */
ZCP_API int zcp_mempool_config_set_max_processes(zcp_mempool_config *cfg, unsigned int n);

/* zcp_mempool_config_set_access - permission bits and group of the
 * segments, for sharing with a group the way a system service does.
 * mode is a subset of 0660 (owner and group read/write; 0 means 0600);
 * gid is the group to give the segments, or -1 to keep the creator's.
 * Returns 0 or ZCP_EINVAL (NULL cfg, mode outside 0660, gid < -1).
 */
ZCP_API int zcp_mempool_config_set_access(zcp_mempool_config *cfg, unsigned int mode, long gid);

/* zcp_mempool_config_set_backend - where the segments live:
 * ZCP_BACKEND_SHM (default: named objects in /dev/shm, attach by name) or
 * ZCP_BACKEND_MEMFD (Linux: anonymous memfds, sealed against resizing with
 * F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL; shared by inheritance or by
 * passing descriptors, see zcp_mempool_manager_fds() and
 * zcp_mempool_manager_attach_fds(), or the broker of <zerocp/broker.h>).
 * Returns 0, ZCP_EINVAL (NULL, unknown backend) or ZCP_ENOSYS (memfd not
 * built in). */
ZCP_API int zcp_mempool_config_set_backend(zcp_mempool_config *cfg, int backend);

/* zcp_mempool_config_set_chunk_ages - whether a chunk's record notes the
 * time it was taken from its pool, so inspection tools can show its age
 * (zcp_mempool_manager_chunks(), zerocp stat --chunks).  Off by default: it
 * costs a clock read (a few nanoseconds) on every zcp_chunk_get().
 * Returns 0 or ZCP_EINVAL (NULL cfg). */
ZCP_API int zcp_mempool_config_set_chunk_ages(zcp_mempool_config *cfg, int on);

/* zcp_mempool_config_pool_count - number of entries added so far, or
 * ZCP_EINVAL for NULL. */
ZCP_API int zcp_mempool_config_pool_count(const zcp_mempool_config *cfg);

/* zcp_mempool_config_free - free a configuration; NULL is a no-op.
 * Managers created from it do not depend on it. */
ZCP_API void zcp_mempool_config_free(zcp_mempool_config *cfg);

/* zcp_mempool_manager_create - create the shared manager `name` from cfg
 * (the seed's createSharedInstance) and register the caller as its first
 * process.
 *
 * Both segments are created exclusively; their sizes are computed exactly
 * from cfg (see zcp_mempool_manager_layout()).  The manager becomes visible
 * to attach only once fully initialised (a release store of its state is
 * the last write).
 *
 * Returns 0 and *out, or: ZCP_EINVAL (NULL cfg or out, invalid name, no
 * pool, sizes whose total overflows), ZCP_EEXIST (a manager or a leftover
 * segment has this name; see zcp_mempool_manager_unlink()), ZCP_EACCES,
 * ZCP_ENOMEM, ZCP_ENOSPC, or another negative errno from the system.  On
 * error nothing is left in /dev/shm.  Pair with
 * zcp_mempool_manager_destroy().
 */
ZCP_API int zcp_mempool_manager_create(const char *name, const zcp_mempool_config *cfg,
				       zcp_mempool_manager **out);

/* zcp_mempool_manager_attach - attach to the manager `name` created by
 * another process (the seed's getInstanceIfInitialized) and register the
 * caller in its process table.
 *
 * Checks the magic, the layout version, every pool descriptor and both
 * segments' real sizes against the header before using anything; never
 * sees a half-initialised manager.
 *
 * Returns 0 and *out, or: ZCP_EINVAL (bad name, NULL out), ZCP_ENOENT (no
 * such manager), ZCP_EAGAIN (its creator, alive, is still initialising it
 * after a short wait), ZCP_ESRCH (its creator died while initialising it:
 * the segments are leftovers), ZCP_EFOREIGN (not a zerocp manager),
 * ZCP_EVERSION (another layout version), ZCP_ECORRUPT (descriptors fail
 * validation), ZCP_ETRUNCATED (a segment is smaller than its header says),
 * ZCP_EACCES, ZCP_EOWNER (a segment belongs to another uid, or its mode
 * grants more than the manager declares: see zcp_attach_options),
 * ZCP_EUSERS (process table full, and no slot of a dead process to take
 * over), ZCP_EMFILE (no descriptor left for the liveness lock),
 * ZCP_ENOMEM.  The caller then holds a lock on one byte of the management
 * segment (see <zerocp/reclaim.h>) through a descriptor of its own: do not
 * close descriptors you did not open.  Pair with
 * zcp_mempool_manager_detach().
 */
ZCP_API int zcp_mempool_manager_attach(const char *name, zcp_mempool_manager **out);

/* ZCP_OWNER_SELF, ZCP_OWNER_ANY - values of zcp_attach_options.owner_uid. */
#define ZCP_OWNER_SELF (-1L) /* the caller's effective uid (the default) */
#define ZCP_OWNER_ANY (-2L)  /* no owner check: only for inspection tools */

/* Options of zcp_mempool_manager_attach_opts(); set them up with
 * zcp_attach_options_init(). */
typedef struct zcp_attach_options {
	/* The uid that must own both segments (and, through a broker, run the
	 * broker and own its socket and directory): ZCP_OWNER_SELF (default),
	 * a uid >= 0 (e.g. a system server's), or ZCP_OWNER_ANY. */
	long owner_uid;
	/* 1: map both segments read-only and take no process slot.  Such a
	 * handle can describe the manager (pool stats, processes, check) but
	 * every call that would write answers ZCP_EPERM.  Works with a full
	 * process table.  Default 0. */
	int read_only;
	int reserved0;
	/* Non-NULL: attach through the broker listening at this socket path
	 * (see <zerocp/broker.h>) instead of by name.  Default NULL. */
	const char *socket_path;
	/* Must stay zero. */
	uint64_t reserved[4];
} zcp_attach_options;

/* zcp_attach_options_init - owner_uid ZCP_OWNER_SELF, read_only 0,
 * socket_path NULL, reserved zero.  NULL is a no-op. */
ZCP_API void zcp_attach_options_init(zcp_attach_options *opts);

/* zcp_mempool_manager_attach_opts - zcp_mempool_manager_attach() with
 * options (opts NULL: the defaults).
 *
 * Ownership.  Another user could create segments with the manager's names
 * before its server starts (squatting) and read what the victim writes.
 * So attach checks that both segments are owned by the expected uid
 * (opts->owner_uid) and that their mode grants nothing beyond the mode
 * the manager declares in its header, and never more than group write.
 * Through a broker, the broker's uid (its SO_PEERCRED), the socket's and
 * its directory's owners are checked the same way.
 *
 * Returns as zcp_mempool_manager_attach(), plus ZCP_EOWNER (a segment, the
 * socket or its directory belongs to another uid, or is writable beyond
 * its declared mode) and ZCP_EINVAL (owner_uid below ZCP_OWNER_ANY,
 * reserved fields set).  Thread-safe; pair with
 * zcp_mempool_manager_detach().
 */
ZCP_API int zcp_mempool_manager_attach_opts(const char *name, const zcp_attach_options *opts,
					    zcp_mempool_manager **out);

/* zcp_mempool_manager_process_id - this process's identity in the
 * manager: a nonzero 64-bit value naming its process slot and that slot's
 * incarnation, the same seen from every process whatever its PID
 * namespace (a pid is not).  Pass it to a peer to name it as the receiver
 * of zcp_chunk_send().  Returns 0 for NULL, a read-only handle, or a
 * handle used after fork.  Wait-free. */
ZCP_API uint64_t zcp_mempool_manager_process_id(const zcp_mempool_manager *mgr);

/* zcp_mempool_manager_detach - release every reference the process still
 * holds through this handle, leave the process table, unmap, and free the
 * handle.  The segments stay.  NULL is a no-op.  No other call on mgr may
 * run beside or after it.
 */
ZCP_API void zcp_mempool_manager_detach(zcp_mempool_manager *mgr);

/* zcp_mempool_manager_destroy - the creator's end (the seed's
 * destroySharedInstance): mark the manager gone, unlink both segments, then
 * detach.  Processes still attached keep their mappings until they detach.
 * Returns 0, ZCP_EINVAL (NULL), ZCP_EPERM (mgr was attached, not created:
 * use detach) or ZCP_ECHILD (used after fork); mgr is freed in every case
 * but EINVAL and ECHILD.
 */
ZCP_API int zcp_mempool_manager_destroy(zcp_mempool_manager *mgr);

/* zcp_mempool_manager_unlink - remove the segments of manager `name`
 * without attaching (for leftovers of a crashed server).  Processes still
 * attached keep working on their mappings.  Returns 0 if at least one
 * segment was removed, ZCP_ENOENT if none existed, ZCP_EINVAL, ZCP_EACCES.
 */
ZCP_API int zcp_mempool_manager_unlink(const char *name);

/* zcp_mempool_manager_remove - unlink the segments this handle mapped
 * (attached, read-only or created), each only if its name still refers to
 * that very object (same device and inode): a manager created since under
 * the same name, by a server replacing this one, is left alone.  For a
 * server replacing the leftovers of a dead one, and for tools.  Processes
 * still attached keep their mappings.  The memfd backend has no names:
 * a no-op.  Returns 0 (what was ours is gone), ZCP_EINVAL, ZCP_ECHILD,
 * ZCP_EACCES. */
ZCP_API int zcp_mempool_manager_remove(const zcp_mempool_manager *mgr);

/* zcp_mempool_manager_fds - the descriptors of the management and data
 * segments (owned by mgr: do not close; dup() to keep).  For passing a
 * memfd-backed manager to another process over a Unix socket
 * (SCM_RIGHTS) or by inheritance.  Returns 0, ZCP_EINVAL, ZCP_ECHILD. */
ZCP_API int zcp_mempool_manager_fds(const zcp_mempool_manager *mgr, int *mgmt_fd, int *data_fd);

/* zcp_mempool_manager_attach_fds - attach through descriptors of both
 * segments (dup()ed: the caller keeps and closes its own), with the same
 * checks as zcp_mempool_manager_attach(), plus: memfd segments must carry
 * the seals F_SEAL_SHRINK and F_SEAL_GROW, else ZCP_EACCES is returned
 * (an unsealed segment could be truncated under us).  name is only
 * recorded (NULL: the default rules).  Returns as zcp_mempool_manager_attach(),
 * plus ZCP_EINVAL for a negative descriptor. */
ZCP_API int zcp_mempool_manager_attach_fds(const char *name, int mgmt_fd, int data_fd,
					   zcp_mempool_manager **out);

/* zcp_mempool_manager_name - the manager's name (after NULL/$ZEROCP_NAME
 * resolution); NULL for a NULL mgr. */
ZCP_API const char *zcp_mempool_manager_name(const zcp_mempool_manager *mgr);

/* zcp_mempool_manager_pool_count - number of pools, or ZCP_EINVAL. */
ZCP_API int zcp_mempool_manager_pool_count(const zcp_mempool_manager *mgr);

/* zcp_mempool_manager_pool_stats - status of pool `index` (0 = smallest).
 *
 * used and free are counted from the chunk records at the time of the call
 * (a consistent snapshot is impossible while others allocate; each record
 * is read once).  used_max is exact: pools hand out chunks in LIFO order
 * from an initially sorted list, so the highest chunk index ever handed
 * out, plus one, is the peak.
 * Lock-free, read-only; may run beside anything.
 * Returns 0, ZCP_EINVAL (NULL, index out of range) or ZCP_ECHILD.
 */
ZCP_API int zcp_mempool_manager_pool_stats(const zcp_mempool_manager *mgr, int index,
					   zcp_pool_stats *out);

/* zcp_mempool_manager_print_stats - print one line a pool, exactly
 *   "  Pool 0: chunk_size=256, total=100, used=0, free=100"
 * to fp (stdout if NULL).  Returns 0 or a negative error as above. */
ZCP_API int zcp_mempool_manager_print_stats(const zcp_mempool_manager *mgr, FILE *fp);

/* The segment sizes a configuration needs. */
typedef struct zcp_mempool_layout {
	uint64_t mgmt_size;        /* management segment, bytes */
	uint64_t data_size;        /* data segment, bytes */
	uint64_t total_chunks;     /* chunks over all pools */
	uint64_t record_size;      /* management bytes per chunk (the record) */
	uint64_t fixed_mgmt_size;  /* management bytes not per chunk nor topics */
	uint64_t topic_table_size; /* management bytes of the topic and trigger tables */
	uint64_t reserved[2];
} zcp_mempool_layout;

/* zcp_mempool_manager_layout - compute the exact segment sizes that
 * zcp_mempool_manager_create() would use for cfg, without creating
 * anything.  Returns 0 or ZCP_EINVAL (NULL, no pool, overflow). */
ZCP_API int zcp_mempool_config_layout(const zcp_mempool_config *cfg, zcp_mempool_layout *out);

/* zcp_mempool_manager_get_layout - the sizes of an existing manager. */
ZCP_API int zcp_mempool_manager_get_layout(const zcp_mempool_manager *mgr,
					   zcp_mempool_layout *out);

ZCP_END_DECLS

#endif /* ZEROCP_POOL_H */
