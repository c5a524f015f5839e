/* SPDX-License-Identifier: MIT */
/* Creating, attaching, describing and leaving a manager. */
#include "handle.h"

#include "escrow.h"
#include "reclaim.h"
#include "topic.h"
#include "waitset.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* How long attach waits for a creator that is still initialising. */
#define ATTACH_WAIT_MS 1000

static const char *resolve_name(const char *name)
{
	if (name)
		return name;
	const char *env = getenv("ZEROCP_NAME");
	return env && *env ? env : "default";
}

static int seg_name(char *buf, size_t n, const char *name, const char *suffix)
{
	int len = snprintf(buf, n, "%s%s", name, suffix);
	return len < 0 || (size_t)len >= n ? ZCP_ENAMETOOLONG : 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Open our liveness lock descriptor on the management segment. */
static int open_lock(struct zcp_mempool_manager *m)
{
	char path[ZCP_SEGMENT_NAME_MAX + 16];
	const char *shm = NULL;
	if (zcp_segment_backend(m->mgmt_seg) == ZCP_BACKEND_SHM &&
	    zcp__shm_path(path, sizeof path, zcp_segment_name(m->mgmt_seg), NULL) == 0)
		shm = path;
	return zcp__live_open(zcp_segment_fd(m->mgmt_seg), shm, &m->lock_fd);
}

/* The creator's lock on slot 0's byte, on the management segment's new
 * descriptor (a zcp__segment_hook). */
static int creator_lock(int fd, void *arg)
{
	struct zcp_mempool_manager *m = arg;
	char seg[ZCP_SEGMENT_NAME_MAX + 1], path[ZCP_SEGMENT_NAME_MAX + 16];
	/* The name, for a system without /proc (memfd: none needed). */
	const char *shm = seg_name(seg, sizeof seg, m->name, "_mgmt") == 0 &&
				  zcp__shm_path(path, sizeof path, seg, NULL) == 0
			  ? path
			  : NULL;
	int err = zcp__live_open(fd, shm, &m->lock_fd);
	return err ? err : zcp__live_lock(m->lock_fd, 0);
}

/* Claim a process slot: a free one, else take over one whose process
 * died (slot.c).  The words of the hot paths follow from it. */
static int claim_slot(struct zcp_mempool_manager *m)
{
	for (unsigned i = 0; i < m->geo.max_processes; i++) {
		/* Acquire: pairs with the release CAS that freed it. */
		uint64_t w = atomic_load_explicit(&zcp__proc_at(m, i)->id, memory_order_acquire);
		if (zcp__sid_state(w) != ZCP__SLOT_FREE)
			continue;
		int err = zcp__slot_claim(m, i, w, ZCP__SLOT_LIVE);
		if (err != ZCP_EBUSY)
			return err;
	}
	return zcp__slot_takeover(m);
}

/* Build the process-local views from a validated geometry. */
static int build_views(struct zcp_mempool_manager *m)
{
	const struct zcp__geometry *g = &m->geo;
	m->hdr = (struct zcp__header *)m->mgmt;
	m->records = (struct zcp__record *)(m->mgmt + g->records_off);
	for (unsigned i = 0; i < g->pool_count; i++) {
		struct zcp__pool_view *p = &m->pools[i];
		p->desc = (struct zcp__pool_desc *)(m->mgmt + g->pools_off +
						    (uint64_t)i * ZCP__POOL_DESC_SIZE);
		p->records = m->records + g->first_record[i];
		p->chunks = m->data + g->data_off[i];
		p->chunk_size = g->chunk_size[i];
		p->stride = g->stride[i];
		p->count = g->chunk_count[i];
		p->first = g->first_record[i];
		p->index = i;
		p->ages = (m->hdr->flags & ZCP__HDR_CHUNK_AGES) != 0;
	}
	m->chunks_bytes = (size_t)g->total_chunks * sizeof(struct zcp_chunk);
	/* Views are zero until used: no per-chunk work at attach. */
	void *v = mmap(NULL, m->chunks_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v == MAP_FAILED)
		return ZCP_ENOMEM;
	m->chunks = v;
	m->forks = zcp__fork_count();
	return 0;
}

static void free_manager(struct zcp_mempool_manager *m)
{
	zcp__live_close(m->lock_fd, m->forks != zcp__fork_count());
	if (m->chunks)
		munmap(m->chunks, m->chunks_bytes);
	zcp_segment_close(m->data_seg);
	zcp_segment_close(m->mgmt_seg);
	pthread_mutex_destroy(&m->topics_mutex);
	zcp__fd_cache_close(m);
	pthread_mutex_destroy(&m->fd_mutex);
	free(m->trig_opens);
	free(m->trig_listens);
	free(m);
}

static uint64_t make_nonce(void);

static struct zcp_mempool_manager *new_manager(const char *name)
{
	struct zcp_mempool_manager *m = calloc(1, sizeof *m);
	if (m) {
		strcpy(m->name, name);
		m->lock_fd = -1;
		m->forks = zcp__fork_count();
		pthread_mutex_init(&m->topics_mutex, NULL);
		pthread_mutex_init(&m->fd_mutex, NULL);
		/* Ticket nonces start somewhere a peer cannot predict. */
		atomic_store_explicit(&m->next_nonce, make_nonce(), memory_order_relaxed);
	}
	return m;
}

/* Write a new manager's shared structures (attach waits for READY). */
static void init_shared(struct zcp_mempool_manager *m, uint64_t nonce, unsigned mode, unsigned flags)
{
	const struct zcp__geometry *g = &m->geo;
	struct zcp__header *h = m->hdr;
	h->layout_version = ZCP__LAYOUT_VERSION;
	h->header_size = ZCP__HEADER_SIZE;
	h->pool_count = g->pool_count;
	h->max_processes = g->max_processes;
	h->outbox_slots = ZCP__OUTBOX_SLOTS;
	h->mgmt_size = g->mgmt_size;
	h->data_size = g->data_size;
	h->pools_off = g->pools_off;
	h->procs_off = g->procs_off;
	h->proc_size = g->proc_size;
	h->records_off = g->records_off;
	h->total_chunks = g->total_chunks;
	h->topics_off = g->topics_off;
	h->topic_size = g->topic_size;
	h->max_topics = g->max_topics;
	h->max_publishers = g->max_publishers;
	h->max_subscribers = g->max_subscribers;
	h->ring_size = g->ring_size;
	h->triggers_off = g->triggers_off;
	h->max_triggers = g->max_triggers;
	atomic_store_explicit(&h->creator_pid, (int64_t)getpid(), memory_order_relaxed);
	h->nonce = nonce;
	h->mode = mode;
	h->flags = flags;
	for (unsigned i = 0; i < g->pool_count; i++)
		m->pools[i].ages = (h->flags & ZCP__HDR_CHUNK_AGES) != 0;
	for (unsigned i = 0; i < g->pool_count; i++) {
		struct zcp__pool_view *p = &m->pools[i];
		p->desc->chunk_size = p->chunk_size;
		p->desc->stride = p->stride;
		p->desc->data_off = g->data_off[i];
		p->desc->chunk_count = p->count;
		p->desc->first_record = p->first;
		zcp__freelist_init(p);
	}
}

static uint64_t make_nonce(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 17);
	x ^= (uint64_t)(uintptr_t)&ts;
	x *= UINT64_C(0x9E3779B97F4A7C15);
	return x ^ (x >> 31);
}

int zcp_mempool_manager_create(const char *name, const zcp_mempool_config *cfg,
			       zcp_mempool_manager **out)
{
	char mname[ZCP_SEGMENT_NAME_MAX + 1], dname[ZCP_SEGMENT_NAME_MAX + 1];
	struct zcp_mempool_manager *m;
	zcp_segment_options opts;
	int err;

	name = resolve_name(name);
	if (!cfg || !out || zcp__name_valid(name, ZCP_MANAGER_NAME_MAX))
		return ZCP_EINVAL;
	zcp__fork_watch();
	if (!(m = new_manager(name)))
		return ZCP_ENOMEM;
	err = zcp__config_geometry(cfg, &m->geo);
	if (err)
		goto fail;
	seg_name(mname, sizeof mname, name, "_mgmt");
	seg_name(dname, sizeof dname, name, "_data");
	zcp_segment_options_init(&opts);
	opts.mode = cfg->mode;
	opts.gid = cfg->gid;
	opts.backend = cfg->backend;
	opts.seal = cfg->backend == ZCP_BACKEND_MEMFD;
	/* Our liveness lock on slot 0's byte before the segment is even
	 * sized: an attacher that finds no lock on a manager being built
	 * knows its creator died (open_ready_mgmt()). */
	struct zcp__segment_hook lock_first = {creator_lock, m};
	err = zcp__segment_create_hooked(mname, m->geo.mgmt_size, &opts, &lock_first, &m->mgmt_seg);
	if (err)
		goto fail;
	m->mgmt = zcp_segment_base(m->mgmt_seg);
	m->hdr = (struct zcp__header *)m->mgmt;
	/* A memfd has no name, so its mode guards nothing but a reopen
	 * through /proc/self/fd by a holder of the descriptor: every process
	 * the broker hands it to must reopen it for its liveness lock. */
	if (cfg->backend == ZCP_BACKEND_MEMFD && fchmod(zcp_segment_fd(m->mgmt_seg), 0666) != 0) {
		err = -errno;
		goto fail;
	}
	/* Release: pairs with the acquire load of the magic in
	 * open_ready_mgmt(); our lock (taken before) is what it then asks. */
	atomic_store_explicit(&m->hdr->magic, ZCP__MAGIC, memory_order_release);
	err = zcp_segment_create(dname, m->geo.data_size, &opts, &m->data_seg);
	if (err)
		goto fail_unlink_mgmt;
	m->data = zcp_segment_base(m->data_seg);
	err = build_views(m);
	if (err)
		goto fail_unlink;
	init_shared(m, make_nonce(), cfg->mode, cfg->chunk_ages ? ZCP__HDR_CHUNK_AGES : 0);
	/* Slot 0, whose lock byte we hold already. */
	err = zcp__slot_claim(m, 0, zcp__sid_make(ZCP__SLOT_FREE, 0), ZCP__SLOT_LIVE);
	if (err)
		goto fail_unlink;
	atomic_store_explicit(&m->hdr->creator_id, m->process_id, memory_order_relaxed);
	m->creator = 1;
	/* Publish: everything above happens-before an attach that reads
	 * READY with acquire. */
	atomic_store_explicit(&m->hdr->state, ZCP__STATE_READY, memory_order_release);
	*out = m;
	return 0;

fail_unlink:
	if (cfg->backend == ZCP_BACKEND_SHM)
		zcp_segment_unlink(dname);
fail_unlink_mgmt:
	if (cfg->backend == ZCP_BACKEND_SHM)
		zcp_segment_unlink(mname);
fail:
	free_manager(m);
	return err;
}

/* Check a management segment image and derive its geometry.  Every field
 * is recomputed from the pool sizes and counts and must match.  Reads only
 * inside [mgmt, mgmt + real). */
int zcp__mgmt_validate(const unsigned char *mgmt, size_t real, struct zcp__geometry *g)
{
	struct zcp__header h;
	struct zcp__pool_desc d[ZCP_MAX_POOLS];

	/* Work on copies: a peer may rewrite the segment while we look, and
	 * every value must be checked and then used as the same value. */
	if (real < ZCP__HEADER_SIZE)
		return ZCP_ETRUNCATED;
	memcpy(&h, mgmt, sizeof h);
	if (atomic_load_explicit(&h.magic, memory_order_relaxed) != ZCP__MAGIC)
		return ZCP_EFOREIGN;
	if (h.layout_version != ZCP__LAYOUT_VERSION)
		return ZCP_EVERSION;
	if (h.header_size != ZCP__HEADER_SIZE || h.pool_count == 0 ||
	    h.pool_count > ZCP_MAX_POOLS || h.max_processes == 0 ||
	    h.max_processes > ZCP_MAX_PROCESSES || h.outbox_slots != ZCP__OUTBOX_SLOTS ||
	    h.pools_off != ZCP__HEADER_SIZE || (h.mode & ~0660u) != 0)
		return ZCP_ECORRUPT;
	if (real < ZCP__HEADER_SIZE + (uint64_t)h.pool_count * ZCP__POOL_DESC_SIZE)
		return ZCP_ETRUNCATED;
	memcpy(d, mgmt + ZCP__HEADER_SIZE, (size_t)h.pool_count * ZCP__POOL_DESC_SIZE);
	memset(g, 0, sizeof *g);
	g->pool_count = h.pool_count;
	g->max_processes = h.max_processes;
	for (unsigned i = 0; i < g->pool_count; i++) {
		g->chunk_size[i] = d[i].chunk_size;
		g->chunk_count[i] = d[i].chunk_count;
	}
	g->max_topics = h.max_topics;
	g->max_publishers = h.max_publishers;
	g->max_subscribers = h.max_subscribers;
	g->ring_size = h.ring_size;
	g->max_triggers = h.max_triggers;
	if (zcp__geometry_compute(g))
		return ZCP_ECORRUPT;
	for (unsigned i = 0; i < g->pool_count; i++)
		if (d[i].stride != g->stride[i] || d[i].data_off != g->data_off[i] ||
		    d[i].first_record != g->first_record[i])
			return ZCP_ECORRUPT;
	if (h.mgmt_size != g->mgmt_size || h.data_size != g->data_size ||
	    h.procs_off != g->procs_off || h.proc_size != g->proc_size ||
	    h.records_off != g->records_off || h.total_chunks != g->total_chunks ||
	    h.topics_off != g->topics_off || h.topic_size != g->topic_size ||
	    h.triggers_off != g->triggers_off)
		return ZCP_ECORRUPT;
	if (real < g->mgmt_size)
		return ZCP_ETRUNCATED;
	if (real > g->mgmt_size)
		return ZCP_ECORRUPT;
	return 0;
}

static int validate_mgmt(struct zcp_mempool_manager *m, size_t real)
{
	m->hdr = (struct zcp__header *)m->mgmt;
	return zcp__mgmt_validate(m->mgmt, real, &m->geo);
}

/* Open the management segment once it is READY.  A creator still at work
 * is waited for (ATTACH_WAIT_MS).  Its creator takes its liveness lock
 * before it sizes the segment, so a sized segment still in INIT whose lock
 * nobody holds is leftovers: ZCP_ESRCH.  An unsized one is never judged:
 * its creator may be stopped between creating and locking it (err towards
 * alive: ZCP_EAGAIN; `zerocp clean --force` removes a real leftover). */
static int open_ready_mgmt(struct zcp_mempool_manager *m, const char *mname, int writable)
{
	int err = 0;
	for (long waited = 0; waited <= ATTACH_WAIT_MS; waited++) {
		err = zcp_segment_open(mname, writable, &m->mgmt_seg);
		if (err == ZCP_ETRUNCATED) {
			err = ZCP_EAGAIN; /* not sized yet */
			if (waited < ATTACH_WAIT_MS)
				sleep_ms(1);
			continue;
		}
		if (err)
			return err;
		if (zcp_segment_size(m->mgmt_seg) < ZCP__HEADER_SIZE) {
			err = ZCP_EAGAIN;
		} else {
			struct zcp__header *h = zcp_segment_base(m->mgmt_seg);
			/* Acquire: pairs with the creator's release stores of
			 * the magic and of READY. */
			uint64_t magic = atomic_load_explicit(&h->magic, memory_order_acquire);
			uint32_t st = atomic_load_explicit(&h->state, memory_order_acquire);
			/* A creator writes the magic before READY; anything
			 * else there is not ours, whatever the state says. */
			if (magic != 0 && magic != ZCP__MAGIC)
				err = ZCP_EFOREIGN;
			else if (st == ZCP__STATE_READY && magic == ZCP__MAGIC)
				return 0;
			else if (st == ZCP__STATE_GONE)
				err = ZCP_ENOENT;
			else if (st != ZCP__STATE_INIT)
				err = ZCP_ECORRUPT;
			else if (!zcp__live_held(zcp_segment_fd(m->mgmt_seg), 0))
				err = ZCP_ESRCH;
			else
				err = ZCP_EAGAIN;
			if (err != ZCP_EAGAIN) {
				zcp_segment_close(m->mgmt_seg);
				m->mgmt_seg = NULL;
				return err;
			}
		}
		zcp_segment_close(m->mgmt_seg);
		m->mgmt_seg = NULL;
		if (waited < ATTACH_WAIT_MS)
			sleep_ms(1);
	}
	return err;
}

/* The owner and mode checks of attach (see zcp_attach_options): the
 * segment behind fd belongs to `uid` (unless ZCP_OWNER_ANY) and its mode
 * grants nothing beyond `mode`. */
static int owner_ok(int fd, long uid, unsigned mode)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (uid != ZCP_OWNER_ANY && (long)st.st_uid != uid)
		return ZCP_EOWNER;
	if ((st.st_mode & 0777u) & ~mode)
		return ZCP_EOWNER;
	return 0;
}

static int owners_ok(struct zcp_mempool_manager *m, long uid)
{
	unsigned mode = m->hdr->mode & 0660u;
	int err = owner_ok(zcp_segment_fd(m->mgmt_seg), uid, mode);
	return err ? err : owner_ok(zcp_segment_fd(m->data_seg), uid, mode);
}

/* Finish an attach whose management segment is open and validated and
 * whose data segment is open: sizes, views, a process slot (not for a
 * read-only handle). */
static int attach_rest(struct zcp_mempool_manager *m)
{
	size_t real = zcp_segment_size(m->data_seg);
	if (real < m->geo.data_size)
		return ZCP_ETRUNCATED;
	if (real != m->geo.data_size)
		return ZCP_ECORRUPT;
	m->data = zcp_segment_base(m->data_seg);
	int err = build_views(m);
	if (err || m->read_only)
		return err;
	/* Who we are must be readable by others before we take a slot: no
	 * lock, no registration. */
	err = open_lock(m);
	if (!err)
		err = claim_slot(m);
	if (!err) {
		/* FIFOs earlier occupants left that their reclaimers could not
		 * remove (waitset.c): ours to try, in our slot and the free
		 * ones. */
		zcp__fd_reclaim(m, m->slot);
		zcp__fd_retry(m, 0);
	}
	return err;
}

/* The common end of both attaches: err from opening the segments, then the
 * rest; *out on success, the handle freed on any error. */
static int finish_attach(struct zcp_mempool_manager *m, int err, zcp_mempool_manager **out)
{
	if (!err)
		err = attach_rest(m);
	if (err) {
		free_manager(m);
		return err;
	}
	*out = m;
	return 0;
}

/* Attach by name, with the owner checks of uid (or none). */
int zcp__attach_named(const char *name, long uid, int read_only, zcp_mempool_manager **out)
{
	char mname[ZCP_SEGMENT_NAME_MAX + 1], dname[ZCP_SEGMENT_NAME_MAX + 1];
	struct zcp_mempool_manager *m;
	int err;

	name = resolve_name(name);
	if (!out || zcp__name_valid(name, ZCP_MANAGER_NAME_MAX))
		return ZCP_EINVAL;
	zcp__fork_watch();
	if (!(m = new_manager(name)))
		return ZCP_ENOMEM;
	m->read_only = read_only;
	seg_name(mname, sizeof mname, name, "_mgmt");
	seg_name(dname, sizeof dname, name, "_data");
	err = open_ready_mgmt(m, mname, !read_only);
	if (!err) {
		m->mgmt = zcp_segment_base(m->mgmt_seg);
		err = validate_mgmt(m, zcp_segment_size(m->mgmt_seg));
	}
	if (!err)
		err = zcp_segment_open(dname, !read_only, &m->data_seg);
	if (!err)
		err = owners_ok(m, uid);
	return finish_attach(m, err, out);
}

int zcp_mempool_manager_attach(const char *name, zcp_mempool_manager **out)
{
	return zcp__attach_named(name, (long)geteuid(), 0, out);
}

/* A memfd must carry both seals that keep a peer from resizing it under
 * us; an shm object has no seals (F_GET_SEALS fails) and is size-checked
 * instead.  Returns 0 or ZCP_EACCES. */
static int seals_ok(int fd)
{
#ifdef HAVE_MEMFD
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
		return ZCP_EACCES;
#else
	(void)fd;
#endif
	return 0;
}

int zcp_mempool_manager_attach_fds(const char *name, int mgmt_fd, int data_fd,
				   zcp_mempool_manager **out)
{
	return zcp__attach_fds(name, mgmt_fd, data_fd, 0, out);
}

int zcp__attach_fds(const char *name, int mgmt_fd, int data_fd, int read_only,
		    zcp_mempool_manager **out)
{
	struct zcp_mempool_manager *m;
	int err;

	name = resolve_name(name);
	if (!out || mgmt_fd < 0 || data_fd < 0 || zcp__name_valid(name, ZCP_MANAGER_NAME_MAX))
		return ZCP_EINVAL;
	zcp__fork_watch();
	if (!(m = new_manager(name)))
		return ZCP_ENOMEM;
	m->read_only = read_only;
	err = seals_ok(mgmt_fd);
	if (!err)
		err = seals_ok(data_fd);
	if (!err)
		err = zcp_segment_open_fd(mgmt_fd, !read_only, &m->mgmt_seg);
	if (!err) {
		size_t size = zcp_segment_size(m->mgmt_seg);
		m->mgmt = zcp_segment_base(m->mgmt_seg);
		if (size < ZCP__HEADER_SIZE)
			err = ZCP_ETRUNCATED;
		else if (atomic_load_explicit(&((struct zcp__header *)m->mgmt)->state,
					      memory_order_acquire) != ZCP__STATE_READY)
			err = ZCP_EAGAIN;
		else
			err = validate_mgmt(m, size);
	}
	if (!err)
		err = zcp_segment_open_fd(data_fd, !read_only, &m->data_seg);
	/* No owner check: the caller vouches for descriptors it holds (the
	 * broker's client checks the broker's uid before calling us). */
	return finish_attach(m, err, out);
}

int zcp_mempool_manager_fds(const zcp_mempool_manager *mgr, int *mgmt_fd, int *data_fd)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (!mgmt_fd || !data_fd)
		return ZCP_EINVAL;
	*mgmt_fd = zcp_segment_fd(mgr->mgmt_seg);
	*data_fd = zcp_segment_fd(mgr->data_seg);
	return 0;
}

/* Leave: settle what we lent, empty our outbox (its tickets turn stale),
 * drop every reference of our slot, then free the slot. */
static void leave(struct zcp_mempool_manager *m)
{
	uint64_t refs;
	if (m->read_only)
		return;
	zcp__escrow_collect(m);
	/* Endpoints left open: closed as a dead process's would be. */
	zcp__topics_reclaim(m, m->process_id);
	zcp__triggers_reclaim(m, m->slot);
	zcp__fd_reclaim(m, m->slot);
	zcp__fd_retry(m, 0);
	zcp__escrow_clear_slot(m, m->slot);
	zcp__slot_drop_all(m, m->slot, m->slot, &refs);
	zcp__slot_leave(m);
}

void zcp_mempool_manager_detach(zcp_mempool_manager *mgr)
{
	if (!mgr)
		return;
	/* In a forked child the slot and the references are the parent's:
	 * only unmap. */
	if (zcp__mgr_check(mgr) == 0)
		leave(mgr);
	free_manager(mgr);
}

int zcp_mempool_manager_destroy(zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (!mgr->creator)
		return ZCP_EPERM;
	/* Release: pairs with the acquire load of the state in a later
	 * attach, which then answers ZCP_ENOENT. */
	atomic_store_explicit(&mgr->hdr->state, ZCP__STATE_GONE, memory_order_release);
	/* Only what we created: a replacement under our name stays. */
	zcp_mempool_manager_remove(mgr);
	leave(mgr);
	free_manager(mgr);
	return 0;
}

int zcp_mempool_manager_unlink(const char *name)
{
	char buf[ZCP_SEGMENT_NAME_MAX + 1];
	name = resolve_name(name);
	if (zcp__name_valid(name, ZCP_MANAGER_NAME_MAX))
		return ZCP_EINVAL;
	seg_name(buf, sizeof buf, name, "_mgmt");
	int a = zcp_segment_unlink(buf);
	seg_name(buf, sizeof buf, name, "_data");
	int b = zcp_segment_unlink(buf);
	/* Its event-loop FIFOs nobody uses any more (waitset.c). */
	int f = zcp__fd_sweep(name, ZCP_MAX_PROCESSES);
	if (a == 0 || b == 0 || f > 0)
		return 0;
	return a != ZCP_ENOENT ? a : b;
}

const char *zcp_mempool_manager_name(const zcp_mempool_manager *mgr)
{
	return mgr ? mgr->name : NULL;
}

int zcp_mempool_manager_pool_count(const zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check(mgr);
	return err ? err : (int)mgr->geo.pool_count;
}

int zcp_mempool_manager_pool_stats(const zcp_mempool_manager *mgr, int index, zcp_pool_stats *out)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (!out || index < 0 || (unsigned)index >= mgr->geo.pool_count)
		return ZCP_EINVAL;
	const struct zcp__pool_view *p = &mgr->pools[index];
	uint64_t used = 0;
	/* Held, or given back by a process that died before its push: in
	 * use until reclaim finishes it (only a RELEASING top of a PUSH head
	 * is on the list).  A snapshot while others work. */
	uint64_t h = atomic_load_explicit(&p->desc->head, memory_order_acquire);
	for (uint32_t i = 0; i < p->count; i++) {
		/* Relaxed: a snapshot (see above). */
		uint64_t w = atomic_load_explicit(&p->records[i].word, memory_order_relaxed);
		int listed_top = i == zcp__h_top(h) && zcp__h_op(h) == ZCP__H_OP_PUSH;
		used += zcp__w_is_held(w) || (zcp__w_is_releasing(w) && !listed_top);
	}
	uint64_t max = atomic_load_explicit(&p->desc->used_max, memory_order_relaxed);
	memset(out, 0, sizeof *out);
	out->chunk_size = p->chunk_size;
	out->total = p->count;
	out->used = used;
	out->free = p->count - used;
	out->used_max = max < used ? used : (max > p->count ? p->count : max);
	return 0;
}

int zcp_mempool_manager_print_stats(const zcp_mempool_manager *mgr, FILE *fp)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (!fp)
		fp = stdout;
	for (unsigned i = 0; i < mgr->geo.pool_count; i++) {
		zcp_pool_stats s;
		zcp_mempool_manager_pool_stats(mgr, (int)i, &s);
		if (fprintf(fp, "  Pool %u: chunk_size=%llu, total=%llu, used=%llu, free=%llu\n", i,
			    (unsigned long long)s.chunk_size, (unsigned long long)s.total,
			    (unsigned long long)s.used, (unsigned long long)s.free) < 0)
			return ZCP_EIO;
	}
	return 0;
}

uint64_t zcp_mempool_manager_process_id(const zcp_mempool_manager *mgr)
{
	return zcp__mgr_check(mgr) || mgr->read_only ? 0 : mgr->process_id;
}

int zcp_mempool_manager_remove(const zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	/* Each segment only if its name still refers to it (memfd: no name,
	 * nothing to do). */
	int a = zcp_segment_unlink_same(mgr->mgmt_seg);
	int b = zcp_segment_unlink_same(mgr->data_seg);
	/* Its event-loop FIFOs: those still recorded in free slots, and
	 * those nobody uses any more (waitset.c).  A live listener's stays
	 * until it destroys its waitset or leaves. */
	zcp__fd_retry(mgr, 1);
	zcp__fd_sweep(mgr->name, ZCP_MAX_PROCESSES);
	return a ? a : b;
}
