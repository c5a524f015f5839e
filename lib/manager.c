/* Creating, attaching, describing and leaving a manager. */
#include "manager.h"

#include <errno.h>
#include <fcntl.h>
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

static struct zcp__proc *proc_at(void *ctx, unsigned i)
{
	return zcp__proc_at(ctx, i);
}

/* Claim a process slot; the words of the hot paths follow from it. */
static int claim_slot(struct zcp_mempool_manager *m)
{
	int err = zcp__proc_claim(proc_at, m, m->geo.max_processes, &m->slot, &m->id);
	m->claim_bits = zcp__w_claim_bits(m->slot);
	m->give_bits = zcp__w_releasing(m->slot, 0);
	return err;
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
	}
	m->chunks_bytes = (size_t)g->total_chunks * sizeof(struct zcp_chunk);
	/* Views are zero until used: no per-chunk work at attach. */
	void *v = mmap(NULL, m->chunks_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (v == MAP_FAILED)
		return ZCP_ENOMEM;
	m->chunks = v;
	m->mgmt_id = zcp_segment_id(m->mgmt_seg);
	m->data_id = zcp_segment_id(m->data_seg);
	m->forks = zcp__fork_count();
	return 0;
}

static void free_manager(struct zcp_mempool_manager *m)
{
	if (m->chunks)
		munmap(m->chunks, m->chunks_bytes);
	zcp_segment_close(m->data_seg);
	zcp_segment_close(m->mgmt_seg);
	free(m);
}

static struct zcp_mempool_manager *new_manager(const char *name)
{
	struct zcp_mempool_manager *m = calloc(1, sizeof *m);
	if (m)
		strcpy(m->name, name);
	return m;
}

/* Write a new manager's shared structures (nobody else can see them). */
static void init_shared(struct zcp_mempool_manager *m, uint64_t nonce)
{
	const struct zcp__geometry *g = &m->geo;
	struct zcp__header *h = m->hdr;
	h->magic = ZCP__MAGIC;
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
	h->creator_pid = (int64_t)getpid();
	h->creator_start = zcp__self_start_time(getpid());
	h->nonce = nonce;
	zcp_relptr recpool = zcp_relptr_from(m->mgmt_seg, m->records);
	for (unsigned i = 0; i < g->pool_count; i++) {
		struct zcp__pool_view *p = &m->pools[i];
		p->desc->chunk_size = p->chunk_size;
		p->desc->stride = p->stride;
		p->desc->data_off = g->data_off[i];
		p->desc->chunk_count = p->count;
		p->desc->first_record = p->first;
		zcp_relptr pool_ref = zcp_relptr_from(m->mgmt_seg, p->desc);
		for (uint32_t k = 0; k < p->count; k++) {
			struct zcp__record *r = &p->records[k];
			struct zcp__chunk_header *ch =
				(struct zcp__chunk_header *)(p->chunks + (uint64_t)k * p->stride);
			r->pool = i;
			r->chunk_ref = zcp_relptr_from(m->data_seg, ch);
			r->pool_ref = pool_ref;
			r->record_pool_ref = recpool;
			ch->magic = ZCP__CHUNK_MAGIC;
			ch->pool = i;
			ch->index = k;
			ch->record_ref = zcp_relptr_from(m->mgmt_seg, r);
		}
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
	err = zcp_segment_create(mname, m->geo.mgmt_size, &opts, &m->mgmt_seg);
	if (err)
		goto fail;
	err = zcp_segment_create(dname, m->geo.data_size, &opts, &m->data_seg);
	if (err) {
		if (cfg->backend == ZCP_BACKEND_SHM)
			zcp_segment_unlink(mname);
		goto fail;
	}
	m->mgmt = zcp_segment_base(m->mgmt_seg);
	m->data = zcp_segment_base(m->data_seg);
	err = build_views(m);
	if (err)
		goto fail_unlink;
	init_shared(m, make_nonce());
	err = claim_slot(m);
	if (err)
		goto fail_unlink;
	m->creator = 1;
	/* Publish: everything above happens-before an attach that reads
	 * READY with acquire. */
	atomic_store_explicit(&m->hdr->state, ZCP__STATE_READY, memory_order_release);
	*out = m;
	return 0;

fail_unlink:
	if (cfg->backend == ZCP_BACKEND_SHM) {
		zcp_segment_unlink(dname);
		zcp_segment_unlink(mname);
	}
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
	if (h.magic != ZCP__MAGIC)
		return ZCP_EFOREIGN;
	if (h.layout_version != ZCP__LAYOUT_VERSION)
		return ZCP_EVERSION;
	if (h.header_size != ZCP__HEADER_SIZE || h.pool_count == 0 ||
	    h.pool_count > ZCP_MAX_POOLS || h.max_processes == 0 ||
	    h.max_processes > ZCP_MAX_PROCESSES || h.outbox_slots != ZCP__OUTBOX_SLOTS ||
	    h.pools_off != ZCP__HEADER_SIZE)
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
	if (zcp__geometry_compute(g))
		return ZCP_ECORRUPT;
	for (unsigned i = 0; i < g->pool_count; i++)
		if (d[i].stride != g->stride[i] || d[i].data_off != g->data_off[i] ||
		    d[i].first_record != g->first_record[i])
			return ZCP_ECORRUPT;
	if (h.mgmt_size != g->mgmt_size || h.data_size != g->data_size ||
	    h.procs_off != g->procs_off || h.proc_size != g->proc_size ||
	    h.records_off != g->records_off || h.total_chunks != g->total_chunks)
		return ZCP_ECORRUPT;
	if (real < g->mgmt_size)
		return ZCP_ETRUNCATED;
	if (real > g->mgmt_size)
		return ZCP_ECORRUPT;
	return 0;
}

static int validate_mgmt(struct zcp_mempool_manager *m, size_t real)
{
	return zcp__mgmt_validate(m->mgmt, real, &m->geo);
}

/* Open the management segment once it is READY. */
static int open_ready_mgmt(struct zcp_mempool_manager *m, const char *mname)
{
	int err = 0;
	for (long waited = 0; waited <= ATTACH_WAIT_MS; waited++) {
		err = zcp_segment_open(mname, 1, &m->mgmt_seg);
		if (err == 0) {
			size_t size = zcp_segment_size(m->mgmt_seg);
			const struct zcp__header *h = zcp_segment_base(m->mgmt_seg);
			if (size >= ZCP__HEADER_SIZE) {
				uint32_t st = atomic_load_explicit(
					&((struct zcp__header *)h)->state, memory_order_acquire);
				/* A creator writes the magic before READY; anything
				 * else there is not ours, whatever the state says. */
				if (h->magic != 0 && h->magic != ZCP__MAGIC) {
					zcp_segment_close(m->mgmt_seg);
					m->mgmt_seg = NULL;
					return ZCP_EFOREIGN;
				}
				if (st == ZCP__STATE_READY) {
					m->mgmt = zcp_segment_base(m->mgmt_seg);
					return validate_mgmt(m, size);
				}
				if (st == ZCP__STATE_GONE) {
					err = ZCP_ENOENT;
				} else if (st != ZCP__STATE_INIT) {
					err = ZCP_ECORRUPT;
				} else {
					err = ZCP_EAGAIN;
					/* A dead creator never finishes. */
					if (h->creator_pid != 0 &&
					    !zcp__process_alive(h->creator_pid, h->creator_start))
						waited = ATTACH_WAIT_MS;
				}
				if (err != ZCP_EAGAIN) {
					zcp_segment_close(m->mgmt_seg);
					m->mgmt_seg = NULL;
					return err;
				}
			} else {
				err = ZCP_EAGAIN; /* not sized yet */
			}
			zcp_segment_close(m->mgmt_seg);
			m->mgmt_seg = NULL;
		} else if (err != ZCP_ETRUNCATED) {
			return err;
		} else {
			err = ZCP_EAGAIN;
		}
		if (waited < ATTACH_WAIT_MS)
			sleep_ms(1);
	}
	return err;
}

/* Finish an attach whose management segment is open and validated and
 * whose data segment is open: sizes, views, a process slot. */
static int attach_rest(struct zcp_mempool_manager *m)
{
	size_t real = zcp_segment_size(m->data_seg);
	if (real < m->geo.data_size)
		return ZCP_ETRUNCATED;
	if (real != m->geo.data_size)
		return ZCP_ECORRUPT;
	m->data = zcp_segment_base(m->data_seg);
	int err = build_views(m);
	if (err)
		return err;
	err = claim_slot(m);
	if (err == ZCP_EUSERS) {
		/* Make room from processes that died without detaching. */
		zcp_mempool_manager_reclaim(m, NULL);
		err = claim_slot(m);
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

int zcp_mempool_manager_attach(const char *name, zcp_mempool_manager **out)
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
	seg_name(mname, sizeof mname, name, "_mgmt");
	seg_name(dname, sizeof dname, name, "_data");
	err = open_ready_mgmt(m, mname);
	if (!err)
		err = zcp_segment_open(dname, 1, &m->data_seg);
	return finish_attach(m, err, out);
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
	struct zcp_mempool_manager *m;
	int err;

	name = resolve_name(name);
	if (!out || mgmt_fd < 0 || data_fd < 0 || zcp__name_valid(name, ZCP_MANAGER_NAME_MAX))
		return ZCP_EINVAL;
	zcp__fork_watch();
	if (!(m = new_manager(name)))
		return ZCP_ENOMEM;
	err = seals_ok(mgmt_fd);
	if (!err)
		err = seals_ok(data_fd);
	if (!err)
		err = zcp_segment_open_fd(mgmt_fd, 1, &m->mgmt_seg);
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
		err = zcp_segment_open_fd(data_fd, 1, &m->data_seg);
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

/* Leave: drop every reference of our slot, then free the slot. */
static void leave(struct zcp_mempool_manager *m)
{
	uint64_t refs;
	zcp__slot_drop_all(m, m->slot, m->slot, &refs);
	zcp__proc_free(zcp__proc_at(m, m->slot), m->id);
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
	char buf[ZCP_SEGMENT_NAME_MAX + 1];
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (!mgr->creator)
		return ZCP_EPERM;
	atomic_store_explicit(&mgr->hdr->state, ZCP__STATE_GONE, memory_order_release);
	if (zcp_segment_backend(mgr->mgmt_seg) == ZCP_BACKEND_SHM) {
		seg_name(buf, sizeof buf, mgr->name, "_mgmt");
		zcp_segment_unlink(buf);
		seg_name(buf, sizeof buf, mgr->name, "_data");
		zcp_segment_unlink(buf);
	}
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
	if (a == 0 || b == 0)
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
	for (uint32_t i = 0; i < p->count; i++) {
		uint64_t w = atomic_load_explicit(&p->records[i].word, memory_order_relaxed);
		used += zcp__w_is_held(w);
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

void zcp_attach_options_init(zcp_attach_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof *opts);
	opts->owner_uid = ZCP_OWNER_SELF;
}

int zcp_mempool_manager_attach_opts(const char *name, const zcp_attach_options *opts,
				    zcp_mempool_manager **out)
{
	/* Placeholder until the owner checks land. */
	if (opts && (opts->read_only || opts->socket_path))
		return ZCP_ENOSYS;
	return zcp_mempool_manager_attach(name, out);
}

uint64_t zcp_mempool_manager_process_id(const zcp_mempool_manager *mgr)
{
	return zcp__mgr_check(mgr) ? 0 : mgr->id;
}

long zcp_mempool_manager_settle(zcp_mempool_manager *mgr)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	zcp__escrow_collect(mgr);
	return 0;
}

int zcp_mempool_manager_remove(const zcp_mempool_manager *mgr)
{
	/* Placeholder until identity-checked unlink lands. */
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (zcp_segment_backend(mgr->mgmt_seg) != ZCP_BACKEND_SHM)
		return 0;
	err = zcp_mempool_manager_unlink(mgr->name);
	return err == ZCP_ENOENT ? 0 : err;
}
