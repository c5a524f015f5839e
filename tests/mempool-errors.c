/* SPDX-License-Identifier: MIT */
/* Every error path of the manager and chunk API, one test each, and that
 * an error changes nothing. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "layout.h"

static zcp_mempool_config *seed_config(void)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 256, 100);
	zcp_mempool_config_add_entry(cfg, 1024, 50);
	zcp_mempool_config_add_entry(cfg, 4096, 20);
	zcp_mempool_config_add_entry(cfg, 16384, 10);
	return cfg;
}

static uint64_t used_of(zcp_mempool_manager *m, int pool)
{
	zcp_pool_stats s;
	return zcp_mempool_manager_pool_stats(m, pool, &s) == 0 ? s.used : UINT64_MAX;
}

/* Map a manager's management segment raw, to damage it on purpose. */
static void *map_mgmt(const char *name, size_t *size)
{
	char path[256];
	snprintf(path, sizeof path, "/zerocp_%s_mgmt", name);
	int fd = shm_open(path, O_RDWR, 0);
	if (fd < 0)
		return NULL;
	struct stat st;
	fstat(fd, &st);
	*size = (size_t)st.st_size;
	void *p = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void config_errors(void)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_layout lay;

	is_int(zcp_mempool_config_add_entry(NULL, 256, 1), ZCP_EINVAL, "add_entry: NULL config");
	is_int(zcp_mempool_config_add_entry(cfg, 0, 1), ZCP_EINVAL, "add_entry: zero size");
	is_int(zcp_mempool_config_add_entry(cfg, 256, 0), ZCP_EINVAL, "add_entry: zero count");
	is_int(zcp_mempool_config_add_entry(cfg, ZCP_MAX_CHUNK_SIZE + 1, 1), ZCP_EINVAL,
	       "add_entry: size above the maximum");
	is_int(zcp_mempool_config_add_entry(cfg, 256, ZCP_MAX_CHUNKS_PER_POOL + 1), ZCP_EINVAL,
	       "add_entry: count above the maximum");
	is_int(zcp_mempool_config_add_entry(cfg, 256, 4), 0, "add_entry: a valid entry");
	is_int(zcp_mempool_config_add_entry(cfg, 256, 8), ZCP_EINVAL, "add_entry: duplicate size");
	is_int(zcp_mempool_config_pool_count(cfg), 1, "errors changed nothing");
	for (uint64_t s = 512; zcp_mempool_config_pool_count(cfg) < ZCP_MAX_POOLS; s *= 2)
		zcp_mempool_config_add_entry(cfg, s, 1);
	is_int(zcp_mempool_config_add_entry(cfg, 3, 1), ZCP_EINVAL, "add_entry: too many pools");
	zcp_mempool_config_free(cfg);

	/* Sizes whose total overflows the data segment. */
	cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, ZCP_MAX_CHUNK_SIZE, ZCP_MAX_CHUNKS_PER_POOL);
	is_int(zcp_mempool_config_layout(cfg, &lay), ZCP_EINVAL, "layout: total size overflows");
	zcp_mempool_manager *m = NULL;
	const char *name = zt_name();
	is_int(zcp_mempool_manager_create(name, cfg, &m), ZCP_EINVAL,
	       "create: overflowing config refused before anything is created");
	zcp_mempool_config_free(cfg);

	cfg = zcp_mempool_config_new();
	is_int(zcp_mempool_manager_create(zt_name(), cfg, &m), ZCP_EINVAL, "create: no pool");
	is_int(zcp_mempool_config_set_max_processes(cfg, 0), ZCP_EINVAL, "max_processes 0");
	is_int(zcp_mempool_config_set_max_processes(cfg, ZCP_MAX_PROCESSES + 1), ZCP_EINVAL,
	       "max_processes above the holder-mask width");
	is_int(zcp_mempool_config_set_access(cfg, 0777, -1), ZCP_EINVAL, "access: mode outside 0660");
	is_int(zcp_mempool_config_set_backend(cfg, 42), ZCP_EINVAL, "backend: unknown");
	zcp_mempool_config_add_entry(cfg, 64, 1);
	is_int(zcp_mempool_manager_create("bad/name", cfg, &m), ZCP_EINVAL, "create: bad name");
	is_int(zcp_mempool_manager_create(zt_name(), cfg, NULL), ZCP_EINVAL, "create: NULL out");
	is_int(zcp_mempool_manager_create(zt_name(), NULL, &m), ZCP_EINVAL, "create: NULL config");
	zcp_mempool_config_free(cfg);
	zcp_mempool_config_free(NULL);
}

static void attach_errors(void)
{
	zcp_mempool_manager *m = NULL, *a = NULL;
	zcp_mempool_config *cfg = seed_config();
	const char *name = zt_name();
	size_t size;

	is_int(zcp_mempool_manager_attach(zt_name(), &a), ZCP_ENOENT, "attach: no such manager");
	is_int(zcp_mempool_manager_attach("..", &a), ZCP_EINVAL, "attach: invalid name");
	is_int(zcp_mempool_manager_attach(name, NULL), ZCP_EINVAL, "attach: NULL out");
	is_int(zcp_mempool_manager_create(name, cfg, &m), 0, "create for the attach tests");
	is_int(zcp_mempool_manager_create(name, cfg, &a), ZCP_EEXIST, "create: name taken");

	struct zcp__header *h = map_mgmt(name, &size);
	ok(h != NULL, "management segment mapped raw");
	if (h) {
		h->layout_version++;
		is_int(zcp_mempool_manager_attach(name, &a), ZCP_EVERSION, "attach: layout version");
		h->layout_version--;
		h->magic ^= 1;
		is_int(zcp_mempool_manager_attach(name, &a), ZCP_EFOREIGN, "attach: bad magic");
		h->magic ^= 1;
		h->total_chunks++;
		is_int(zcp_mempool_manager_attach(name, &a), ZCP_ECORRUPT,
		       "attach: header disagrees with the pool descriptors");
		h->total_chunks--;
		struct zcp__pool_desc *d = (void *)((char *)h + h->pools_off);
		d[1].stride += 64;
		is_int(zcp_mempool_manager_attach(name, &a), ZCP_ECORRUPT,
		       "attach: pool descriptor geometry");
		d[1].stride -= 64;
		atomic_store(&h->state, ZCP__STATE_INIT);
		is_int(zcp_mempool_manager_attach(name, &a), ZCP_EAGAIN,
		       "attach: creator still initialising -> EAGAIN after a short wait");
		atomic_store(&h->state, ZCP__STATE_READY);
		is_int(zcp_mempool_manager_attach(name, &a), 0, "attach works again once repaired");
		zcp_mempool_manager_detach(a);
		is_int(zcp_mempool_manager_destroy(m), 0, "destroy");
		/* A mapping of an unlinked segment stays valid. */
		ok(atomic_load(&h->state) == ZCP__STATE_GONE, "destroy marks the manager gone");
		munmap(h, size);
	}
	zcp_mempool_config_free(cfg);
}

static void get_release_errors(void)
{
	zcp_mempool_manager *m = NULL, *other = NULL;
	zcp_mempool_config *cfg = seed_config();
	const char *name = zt_name(), *name2 = zt_name();
	int x;

	zcp_mempool_manager_create(name, cfg, &m);
	zcp_mempool_manager_create(name2, cfg, &other);
	if (!m || !other)
		bail("create failed");
	errno = 0;
	ok(!zcp_chunk_get(m, 16385) && errno == E2BIG, "get: larger than every pool -> E2BIG");
	errno = 0;
	ok(!zcp_chunk_get(m, 0) && errno == EINVAL, "get: size 0 -> EINVAL");
	errno = 0;
	ok(!zcp_chunk_get(NULL, 1) && errno == EINVAL, "get: NULL manager -> EINVAL");

	/* Exhaustion of the 16 KiB pool; no fallback elsewhere. */
	zcp_chunk *c[10];
	int got = 0;
	for (int i = 0; i < 10; i++)
		got += (c[i] = zcp_chunk_get(m, 16384)) != NULL;
	is_int(got, 10, "all 10 chunks of the 16 KiB pool taken");
	errno = 0;
	ok(!zcp_chunk_get(m, 10000) && errno == ENOBUFS, "get: exhausted pool -> ENOBUFS");
	ok(used_of(m, 0) == 0 && used_of(m, 2) == 0, "no fallback to another pool");
	is_int(zcp_chunk_release(m, c[3]), 0, "release one");
	zcp_chunk *again = zcp_chunk_get(m, 16000);
	ok(again != NULL, "the pool recovers after a release");
	zcp_pool_stats s;
	ok(zcp_mempool_manager_pool_stats(m, 3, &s) == 0 && s.used_max == 10 && s.used == 10,
	   "used_max records the peak of 10");
	c[3] = again;
	for (int i = 0; i < 10; i++)
		zcp_chunk_release(m, c[i]);
	ok(zcp_mempool_manager_pool_stats(m, 3, &s) == 0 && s.used == 0 && s.used_max == 10,
	   "after releasing all: used 0, used_max still 10");

	zcp_chunk *a = zcp_chunk_get(m, 10);
	is_int(zcp_chunk_release(m, a), 0, "release");
	is_int(zcp_chunk_release(m, a), ZCP_EALREADY, "double release -> EALREADY");
	ok(zcp_chunk_handle(m, a) == 0, "no handle for a chunk we do not hold");
	is_int(zcp_chunk_ref(m, a), ZCP_ESTALE, "ref of a released chunk -> ESTALE, not revived");
	is_int(used_of(m, 0), 0, "errors changed nothing");
	is_int(zcp_chunk_release(m, NULL), ZCP_EINVAL, "release NULL");
	is_int(zcp_chunk_release(m, (zcp_chunk *)&x), ZCP_EINVAL, "release a foreign pointer");
	zcp_chunk *b = zcp_chunk_get(other, 10);
	is_int(zcp_chunk_release(m, b), ZCP_EINVAL, "release a chunk of another manager");
	is_int(zcp_chunk_release(m, (zcp_chunk *)((char *)a + 1)), ZCP_EINVAL,
	       "release a misaligned pointer");
	is_int(zcp_chunk_ref(NULL, b), ZCP_EINVAL, "ref: NULL manager");
	ok(zcp_chunk_refcount(NULL) == 0 && zcp_chunk_data(NULL) == NULL &&
		   zcp_chunk_capacity(NULL) == 0 && zcp_chunk_size(NULL) == 0 &&
		   zcp_chunk_pool_index(NULL) == ZCP_EINVAL,
	   "accessors on NULL");
	is_int(zcp_chunk_release(other, b), 0, "the right manager releases it");

	/* Handles. */
	zcp_chunk *h = zcp_chunk_get(m, 100);
	uint64_t handle = zcp_chunk_handle(m, h);
	ok(handle != 0 && zcp_chunk_from_handle(m, handle) == h, "handle round-trips");
	errno = 0;
	ok(!zcp_chunk_from_handle(m, 0) && errno == EINVAL, "from_handle(0) -> EINVAL");
	ok(!zcp_chunk_from_handle(m, UINT64_MAX), "from_handle(UINT64_MAX) -> NULL");
	ok(!zcp_chunk_from_handle(m, handle + 1), "from_handle: wrong generation -> NULL");
	ok(!zcp_chunk_from_handle(other, handle), "from_handle: other manager (not held there)");
	zcp_chunk_release(m, h);
	ok(!zcp_chunk_from_handle(m, handle), "from_handle: released chunk -> NULL");
	zcp_chunk *h2 = zcp_chunk_get(m, 100);
	ok(h2 == h && !zcp_chunk_from_handle(m, handle) && zcp_chunk_handle(m, h2) != handle,
	   "same chunk reused: the old handle stays stale");
	zcp_chunk_release(m, h2);

	/* Stats argument checks. */
	ok(zcp_mempool_manager_pool_stats(m, 4, &s) == ZCP_EINVAL &&
		   zcp_mempool_manager_pool_stats(m, -1, &s) == ZCP_EINVAL &&
		   zcp_mempool_manager_pool_stats(m, 0, NULL) == ZCP_EINVAL &&
		   zcp_mempool_manager_pool_count(NULL) == ZCP_EINVAL,
	   "pool_stats: index out of range, NULLs");

	/* Destroy is for the creator; detach for the others. */
	zcp_mempool_manager *att;
	is_int(zcp_mempool_manager_attach(name, &att), 0, "attach");
	is_int(zcp_mempool_manager_destroy(att), ZCP_EPERM, "destroy by a non-creator -> EPERM");
	zcp_mempool_manager_detach(att);
	zcp_mempool_manager_detach(NULL);

	/* After fork the handle belongs to the parent. */
	pid_t pid = zt_fork();
	if (pid == 0) {
		errno = 0;
		ZT_CHECK(zcp_chunk_get(m, 10) == NULL && errno == ECHILD &&
			 zcp_mempool_manager_pool_count(m) == ZCP_ECHILD);
		zcp_mempool_manager *mine;
		ZT_CHECK(zcp_mempool_manager_attach(name, &mine) == 0);
		ZT_CHECK(zcp_chunk_get(mine, 10) != NULL);
		zcp_mempool_manager_detach(mine); /* releases what it holds */
		_exit(0);
	}
	zt_ok_child(pid, "in a forked child the parent's handle says ECHILD; attaching anew works");
	is_int(used_of(m, 0), 0, "the child's detach gave its chunk back");
	is_int(zcp_mempool_manager_check(m), 0, "free lists intact");
	zcp_mempool_manager_destroy(m);
	zcp_mempool_manager_destroy(other);
	zcp_mempool_config_free(cfg);
}

static void users_error(void)
{
	zcp_mempool_config *cfg = seed_config();
	zcp_mempool_manager *m, *a, *b;
	const char *name = zt_name();
	zcp_mempool_config_set_max_processes(cfg, 2);
	zcp_mempool_manager_create(name, cfg, &m);
	is_int(zcp_mempool_manager_attach(name, &a), 0, "second process slot");
	is_int(zcp_mempool_manager_attach(name, &b), ZCP_EUSERS, "process table full -> EUSERS");
	zcp_mempool_manager_detach(a);
	is_int(zcp_mempool_manager_attach(name, &b), 0, "a detach frees the slot");
	zcp_mempool_manager_detach(b);
	zcp_mempool_manager_destroy(m);
	zcp_mempool_config_free(cfg);
}

int main(void)
{
	plan_lazy();
	config_errors();
	attach_errors();
	get_release_errors();
	users_error();
	zt_done();
	return done_testing();
}
