/* SPDX-License-Identifier: MIT */
/* Every public function given NULL, zero, huge or out-of-range arguments
 * returns an error (or NULL with errno, or 0 for accessors) and changes
 * nothing: the management segment is compared byte for byte before and
 * after each batch of bad calls. */
#include "config.h"

#include "tap.h"
#include "zt.h"

#include "handle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

static zcp_mempool_config *seed_config(void)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	if (!cfg || zcp_mempool_config_add_entry(cfg, 256, 100) ||
	    zcp_mempool_config_add_entry(cfg, 1024, 50) ||
	    zcp_mempool_config_add_entry(cfg, 4096, 20) ||
	    zcp_mempool_config_add_entry(cfg, 16384, 10))
		bail("cannot build the seed configuration");
	return cfg;
}

/* A copy of the whole management segment, to show nothing changed. */
static unsigned char *snap(const zcp_mempool_manager *m)
{
	unsigned char *s = malloc(m->geo.mgmt_size);
	if (!s)
		bail("out of memory");
	memcpy(s, m->mgmt, m->geo.mgmt_size);
	return s;
}

static int unchanged(const zcp_mempool_manager *m, unsigned char *s)
{
	int same = memcmp(s, m->mgmt, m->geo.mgmt_size) == 0;
	free(s);
	return same;
}

/* NULL with errno e. */
static int null_errno(const void *p, int e)
{
	return p == NULL && errno == e;
}

static void config_args(void)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_layout lay;

	ok(cfg != NULL, "config_new");
	is_int(zcp_mempool_config_add_entry(NULL, 64, 1), ZCP_EINVAL, "add_entry(NULL cfg)");
	is_int(zcp_mempool_config_add_entry(cfg, 0, 1), ZCP_EINVAL, "add_entry(size 0)");
	is_int(zcp_mempool_config_add_entry(cfg, 64, 0), ZCP_EINVAL, "add_entry(count 0)");
	is_int(zcp_mempool_config_add_entry(cfg, ZCP_MAX_CHUNK_SIZE + 1, 1), ZCP_EINVAL,
	       "add_entry(size > ZCP_MAX_CHUNK_SIZE)");
	is_int(zcp_mempool_config_add_entry(cfg, UINT64_MAX, 1), ZCP_EINVAL,
	       "add_entry(size UINT64_MAX)");
	is_int(zcp_mempool_config_add_entry(cfg, 64, ZCP_MAX_CHUNKS_PER_POOL + 1), ZCP_EINVAL,
	       "add_entry(count > ZCP_MAX_CHUNKS_PER_POOL)");
	is_int(zcp_mempool_config_add_entry(cfg, 64, UINT32_MAX), ZCP_EINVAL,
	       "add_entry(count UINT32_MAX)");
	is_int(zcp_mempool_config_pool_count(cfg), 0, "no bad entry was added");
	is_int(zcp_mempool_config_layout(cfg, &lay), ZCP_EINVAL, "layout of an empty config");
	is_int(zcp_mempool_config_add_entry(cfg, 64, 1), 0, "add_entry(64, 1)");
	is_int(zcp_mempool_config_add_entry(cfg, 64, 2), ZCP_EINVAL, "duplicate size refused");
	int ok32 = 1;
	for (uint64_t s = 2; s <= ZCP_MAX_POOLS; s++)
		ok32 &= zcp_mempool_config_add_entry(cfg, 64 * s, 1) == 0;
	ok(ok32 && zcp_mempool_config_pool_count(cfg) == ZCP_MAX_POOLS, "32 pools accepted");
	is_int(zcp_mempool_config_add_entry(cfg, 1 << 20, 1), ZCP_EINVAL, "33rd pool refused");
	is_int(zcp_mempool_config_pool_count(cfg), ZCP_MAX_POOLS, "still 32 pools");
	is_int(zcp_mempool_config_pool_count(NULL), ZCP_EINVAL, "pool_count(NULL)");
	is_int(zcp_mempool_config_set_max_processes(NULL, 4), ZCP_EINVAL, "set_max_processes(NULL)");
	is_int(zcp_mempool_config_set_max_processes(cfg, 0), ZCP_EINVAL, "set_max_processes(0)");
	is_int(zcp_mempool_config_set_max_processes(cfg, ZCP_MAX_PROCESSES + 1), ZCP_EINVAL,
	       "set_max_processes(57)");
	is_int(zcp_mempool_config_set_max_processes(cfg, UINT_MAX), ZCP_EINVAL,
	       "set_max_processes(UINT_MAX)");
	is_int(zcp_mempool_config_set_access(NULL, 0600, -1), ZCP_EINVAL, "set_access(NULL)");
	is_int(zcp_mempool_config_set_access(cfg, 0666, -1), ZCP_EINVAL,
	       "set_access: other bits refused");
	is_int(zcp_mempool_config_set_access(cfg, 04600, -1), ZCP_EINVAL,
	       "set_access: setuid bit refused");
	is_int(zcp_mempool_config_set_access(cfg, 0600, -2), ZCP_EINVAL, "set_access(gid -2)");
	is_int(zcp_mempool_config_set_access(cfg, 0600, LONG_MIN), ZCP_EINVAL,
	       "set_access(gid LONG_MIN)");
	is_int(zcp_mempool_config_set_backend(NULL, ZCP_BACKEND_SHM), ZCP_EINVAL,
	       "set_backend(NULL)");
	is_int(zcp_mempool_config_set_backend(cfg, 2), ZCP_EINVAL, "set_backend(2)");
	is_int(zcp_mempool_config_set_backend(cfg, -1), ZCP_EINVAL, "set_backend(-1)");
	is_int(zcp_mempool_config_layout(NULL, &lay), ZCP_EINVAL, "config_layout(NULL cfg)");
	is_int(zcp_mempool_config_layout(cfg, NULL), ZCP_EINVAL, "config_layout(NULL out)");
	zcp_mempool_config_free(NULL);
	ok(1, "config_free(NULL) is a no-op");
	zcp_mempool_config_free(cfg);
}

static void name_args(void)
{
	zcp_mempool_config *cfg = seed_config();
	zcp_mempool_manager *m = (zcp_mempool_manager *)&m; /* must stay untouched */
	zcp_mempool_manager *const sentinel = m;
	char long_name[ZCP_MANAGER_NAME_MAX + 2];
	char max_name[ZCP_MANAGER_NAME_MAX + 1];
	static const char *const bad[] = {"", "a/b", "/abs", "..", ".hidden", "sp ace", "nl\n"};

	memset(long_name, 'a', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		is_int(zcp_mempool_manager_create(bad[i], cfg, &m), ZCP_EINVAL,
		       "create refuses name \"%s\"", bad[i]);
		is_int(zcp_mempool_manager_attach(bad[i], &m), ZCP_EINVAL,
		       "attach refuses name \"%s\"", bad[i]);
		is_int(zcp_mempool_manager_unlink(bad[i]), ZCP_EINVAL,
		       "unlink refuses name \"%s\"", bad[i]);
	}
	is_int(zcp_mempool_manager_create(long_name, cfg, &m), ZCP_EINVAL,
	       "create refuses a %d-character name", ZCP_MANAGER_NAME_MAX + 1);
	is_int(zcp_mempool_manager_attach(long_name, &m), ZCP_EINVAL,
	       "attach refuses a %d-character name", ZCP_MANAGER_NAME_MAX + 1);
	ok(m == sentinel, "*out untouched by failed calls");
	is_int(zcp_mempool_manager_create("x", NULL, &m), ZCP_EINVAL, "create(NULL cfg)");
	is_int(zcp_mempool_manager_create(zt_name(), cfg, NULL), ZCP_EINVAL, "create(NULL out)");
	is_int(zcp_mempool_manager_attach(zt_name(), NULL), ZCP_EINVAL, "attach(NULL out)");
	is_int(zcp_mempool_manager_attach(zt_name(), &m), ZCP_ENOENT, "attach of no manager");
	zcp_mempool_config *empty = zcp_mempool_config_new();
	is_int(zcp_mempool_manager_create(zt_name(), empty, &m), ZCP_EINVAL,
	       "create with no pool");
	zcp_mempool_config_free(empty);

	/* The longest name works: "zt<pid>x<n>" padded to 64 characters. */
	snprintf(max_name, sizeof max_name, "%s", zt_name());
	memset(max_name + strlen(max_name), 'y', sizeof max_name - 1 - strlen(max_name));
	max_name[ZCP_MANAGER_NAME_MAX] = '\0';
	int err = zcp_mempool_manager_create(max_name, cfg, &m);
	is_int(err, 0, "create with a %d-character name", ZCP_MANAGER_NAME_MAX);
	if (!err)
		is_int(zcp_mempool_manager_destroy(m), 0, "and destroy it");
	else
		skip("no manager");

	/* NULL name: $ZEROCP_NAME (set here to a test name), else "default". */
	const char *envname = zt_name();
	setenv("ZEROCP_NAME", envname, 1);
	m = NULL;
	err = zcp_mempool_manager_create(NULL, cfg, &m);
	is_int(err, 0, "create(NULL name) uses $ZEROCP_NAME");
	is_string(m ? zcp_mempool_manager_name(m) : "", envname, "its name is $ZEROCP_NAME");
	if (m)
		zcp_mempool_manager_destroy(m);
	unsetenv("ZEROCP_NAME");
	zcp_mempool_config_free(cfg);
}

static void manager_args(zcp_mempool_manager *m, zcp_mempool_manager *other)
{
	zcp_pool_stats st;
	zcp_mempool_layout lay;
	zcp_process_info pi;
	zcp_reclaim_report rep;
	int a, b;
	unsigned char *s = snap(m);

	is_int(zcp_mempool_manager_destroy(NULL), ZCP_EINVAL, "destroy(NULL)");
	zcp_mempool_manager_detach(NULL);
	ok(1, "detach(NULL) is a no-op");
	ok(zcp_mempool_manager_name(NULL) == NULL, "name(NULL) is NULL");
	is_int(zcp_mempool_manager_pool_count(NULL), ZCP_EINVAL, "pool_count(NULL)");
	is_int(zcp_mempool_manager_pool_stats(NULL, 0, &st), ZCP_EINVAL, "pool_stats(NULL mgr)");
	is_int(zcp_mempool_manager_pool_stats(m, -1, &st), ZCP_EINVAL, "pool_stats(index -1)");
	is_int(zcp_mempool_manager_pool_stats(m, 4, &st), ZCP_EINVAL, "pool_stats(index 4)");
	is_int(zcp_mempool_manager_pool_stats(m, INT_MAX, &st), ZCP_EINVAL,
	       "pool_stats(index INT_MAX)");
	is_int(zcp_mempool_manager_pool_stats(m, INT_MIN, &st), ZCP_EINVAL,
	       "pool_stats(index INT_MIN)");
	is_int(zcp_mempool_manager_pool_stats(m, 0, NULL), ZCP_EINVAL, "pool_stats(NULL out)");
	is_int(zcp_mempool_manager_print_stats(NULL, NULL), ZCP_EINVAL, "print_stats(NULL)");
	is_int(zcp_mempool_manager_get_layout(NULL, &lay), ZCP_EINVAL, "get_layout(NULL mgr)");
	is_int(zcp_mempool_manager_get_layout(m, NULL), ZCP_EINVAL, "get_layout(NULL out)");
	is_int(zcp_mempool_manager_fds(NULL, &a, &b), ZCP_EINVAL, "fds(NULL mgr)");
	is_int(zcp_mempool_manager_fds(m, NULL, &b), ZCP_EINVAL, "fds(NULL mgmt_fd)");
	is_int(zcp_mempool_manager_fds(m, &a, NULL), ZCP_EINVAL, "fds(NULL data_fd)");
	is_int(zcp_mempool_manager_reclaim(NULL, &rep), ZCP_EINVAL, "reclaim(NULL)");
	is_int(zcp_mempool_manager_process_slots(NULL), ZCP_EINVAL, "process_slots(NULL)");
	is_int(zcp_mempool_manager_process(NULL, 0, &pi), ZCP_EINVAL, "process(NULL mgr)");
	is_int(zcp_mempool_manager_process(m, -1, &pi), ZCP_EINVAL, "process(slot -1)");
	is_int(zcp_mempool_manager_process(m, zcp_mempool_manager_process_slots(m), &pi),
	       ZCP_EINVAL, "process(slot = slots)");
	is_int(zcp_mempool_manager_process(m, INT_MAX, &pi), ZCP_EINVAL, "process(slot INT_MAX)");
	is_int(zcp_mempool_manager_process(m, 0, NULL), ZCP_EINVAL, "process(NULL out)");
	is_int(zcp_mempool_manager_creator_alive(NULL), ZCP_EINVAL, "creator_alive(NULL)");
	is_int(zcp_mempool_manager_check(NULL), ZCP_EINVAL, "check(NULL)");
	is_int(zcp_mempool_manager_destroy(other), 0, "(destroy another manager meanwhile)");
	ok(unchanged(m, s), "none of these bad calls wrote to the management segment");

	/* attach_fds with bad descriptors. */
	zcp_mempool_manager *x = NULL;
	int p[2];
	ok(pipe(p) == 0, "(a pipe)");
	is_int(zcp_mempool_manager_attach_fds(NULL, -1, 0, &x), ZCP_EINVAL, "attach_fds(mgmt -1)");
	is_int(zcp_mempool_manager_attach_fds(NULL, 0, -1, &x), ZCP_EINVAL, "attach_fds(data -1)");
	is_int(zcp_mempool_manager_attach_fds(NULL, INT_MIN, INT_MIN, &x), ZCP_EINVAL,
	       "attach_fds(INT_MIN)");
	zcp_mempool_manager_fds(m, &a, &b);
	is_int(zcp_mempool_manager_attach_fds(NULL, a, b, NULL), ZCP_EINVAL,
	       "attach_fds(NULL out)");
	is_int(zcp_mempool_manager_attach_fds("a/b", a, b, &x), ZCP_EINVAL,
	       "attach_fds(bad name)");
	ok(zcp_mempool_manager_attach_fds(NULL, p[0], p[1], &x) < 0 && x == NULL,
	   "attach_fds of a pipe fails");
	int dn = open("/dev/null", O_RDWR | O_CLOEXEC);
	ok(zcp_mempool_manager_attach_fds(NULL, dn, dn, &x) < 0 && x == NULL,
	   "attach_fds of /dev/null fails");
	ok(zcp_mempool_manager_attach_fds(NULL, b, a, &x) < 0 && x == NULL,
	   "attach_fds with the segments swapped fails");
	is_int(zcp_mempool_manager_attach_fds(NULL, 1000000, 1000001, &x), -EBADF,
	       "attach_fds of closed descriptors: EBADF");
	close(dn);
	close(p[0]);
	close(p[1]);
}

static void chunk_args(zcp_mempool_manager *m, zcp_mempool_manager *other)
{
	zcp_chunk *c, *oc;
	long stackvar = 0;
	unsigned char *s;

	s = snap(m);
	ok(null_errno(zcp_chunk_get(NULL, 1), EINVAL), "get(NULL mgr): NULL, EINVAL");
	ok(null_errno(zcp_chunk_get(m, 0), EINVAL), "get(size 0): NULL, EINVAL");
	ok(null_errno(zcp_chunk_get(m, 16385), E2BIG), "get(16385): NULL, E2BIG");
	ok(null_errno(zcp_chunk_get(m, UINT64_MAX), E2BIG), "get(UINT64_MAX): NULL, E2BIG");
	ok(unchanged(m, s), "failed gets wrote nothing");

	c = zcp_chunk_get(m, 100);
	oc = zcp_chunk_get(other, 100);
	ok(c && oc, "a chunk from each of two managers");
	if (!c || !oc)
		bail("cannot go on without chunks");
	uint64_t h = zcp_chunk_handle(m, c);
	ok(h != 0, "handle of a held chunk");

	s = snap(m);
	is_int(zcp_chunk_release(NULL, c), ZCP_EINVAL, "release(NULL mgr)");
	is_int(zcp_chunk_release(m, NULL), ZCP_EINVAL, "release(NULL chunk)");
	is_int(zcp_chunk_release(m, (zcp_chunk *)&stackvar), ZCP_EINVAL,
	       "release(&stack variable)");
	is_int(zcp_chunk_release(m, (zcp_chunk *)((char *)c + 1)), ZCP_EINVAL,
	       "release(misaligned pointer)");
	is_int(zcp_chunk_release(m, (zcp_chunk *)((char *)c - 8)), ZCP_EINVAL,
	       "release(pointer inside the previous view)");
	is_int(zcp_chunk_release(m, oc), ZCP_EINVAL, "release(another manager's chunk)");
	is_int(zcp_chunk_release(m, (zcp_chunk *)zcp_chunk_data(c)), ZCP_EINVAL,
	       "release(the payload pointer)");
	is_int(zcp_chunk_release(m, (zcp_chunk *)(uintptr_t)UINTPTR_MAX), ZCP_EINVAL,
	       "release(UINTPTR_MAX)");
	is_int(zcp_chunk_ref(NULL, c), ZCP_EINVAL, "ref(NULL mgr)");
	is_int(zcp_chunk_ref(m, NULL), ZCP_EINVAL, "ref(NULL chunk)");
	is_int(zcp_chunk_ref(m, (zcp_chunk *)&stackvar), ZCP_EINVAL, "ref(&stack variable)");
	is_int(zcp_chunk_ref(m, oc), ZCP_EINVAL, "ref(another manager's chunk)");
	ok(zcp_chunk_handle(NULL, c) == 0, "handle(NULL mgr) = 0");
	ok(zcp_chunk_handle(m, NULL) == 0, "handle(NULL chunk) = 0");
	ok(zcp_chunk_handle(m, oc) == 0, "handle(another manager's chunk) = 0");
	ok(zcp_chunk_handle(m, (zcp_chunk *)&stackvar) == 0, "handle(&stack variable) = 0");
	ok(null_errno(zcp_chunk_from_handle(NULL, h), EINVAL), "from_handle(NULL mgr)");
	ok(null_errno(zcp_chunk_from_handle(m, 0), EINVAL), "from_handle(0)");
	ok(null_errno(zcp_chunk_from_handle(m, UINT64_MAX), EINVAL), "from_handle(UINT64_MAX)");
	ok(null_errno(zcp_chunk_from_handle(m, h ^ 1), EINVAL), "from_handle(wrong generation)");
	ok(null_errno(zcp_chunk_from_handle(m, h + (UINT64_C(1) << 38)), EINVAL),
	   "from_handle(the next, free, chunk)");
	ok(null_errno(zcp_chunk_from_handle(m, (UINT64_C(181) << 38)), EINVAL),
	   "from_handle(index one past the last chunk)");
	ok(zcp_chunk_refcount(NULL) == 0 && zcp_chunk_data(NULL) == NULL &&
		   zcp_chunk_capacity(NULL) == 0 && zcp_chunk_size(NULL) == 0 &&
		   zcp_chunk_pool_index(NULL) == ZCP_EINVAL,
	   "accessors of NULL: 0, NULL, 0, 0, EINVAL");
	ok(unchanged(m, s), "none of these bad calls wrote to the management segment");

	/* The handle names this use of the chunk only. */
	ok(zcp_chunk_from_handle(m, h) == c, "from_handle(h) is the chunk while held");
	is_int(zcp_chunk_release(m, c), 0, "release");
	s = snap(m);
	is_int(zcp_chunk_release(m, c), ZCP_EALREADY, "double release: ZCP_EALREADY");
	ok(zcp_chunk_handle(m, c) == 0, "handle of a released chunk = 0");
	ok(null_errno(zcp_chunk_from_handle(m, h), EINVAL), "from_handle(released): NULL, EINVAL");
	is_int(zcp_chunk_ref(m, c), ZCP_ESTALE, "ref of a released chunk: ZCP_ESTALE");
	ok(zcp_chunk_refcount(c) == 0, "refcount of a released chunk = 0");
	ok(unchanged(m, s), "double release and stale refs wrote nothing");
	zcp_chunk *again = zcp_chunk_get(m, 100);
	ok(again == c, "the same chunk comes back (LIFO)");
	ok(null_errno(zcp_chunk_from_handle(m, h), EINVAL),
	   "the old handle does not resolve to the reused chunk");
	ok(zcp_chunk_handle(m, again) != h, "the new use has a new handle");
	is_int(zcp_chunk_release(m, again), 0, "release it");
	is_int(zcp_chunk_release(other, oc), 0, "release the other manager's chunk");
	is_int(zcp_mempool_manager_check(m), 0, "free lists intact");
}

static void segment_args(void)
{
	zcp_segment *seg = (zcp_segment *)&seg;
	zcp_segment *const sentinel = seg;
	zcp_segment_options o;
	size_t sz;

	zcp_segment_options_init(NULL);
	ok(1, "segment_options_init(NULL) is a no-op");
	zcp_segment_options_init(&o);
	is_int(zcp_segment_create(zt_name(), 0, NULL, &seg), ZCP_EINVAL, "segment_create(size 0)");
	is_int(zcp_segment_create(zt_name(), SIZE_MAX, NULL, &seg), ZCP_EINVAL,
	       "segment_create(SIZE_MAX)");
	is_int(zcp_segment_create(NULL, 4096, NULL, &seg), ZCP_EINVAL, "segment_create(NULL name)");
	is_int(zcp_segment_create("a/b", 4096, NULL, &seg), ZCP_EINVAL, "segment_create(\"a/b\")");
	is_int(zcp_segment_create(zt_name(), 4096, NULL, NULL), ZCP_EINVAL,
	       "segment_create(NULL out)");
	o.backend = (zcp_backend)7;
	is_int(zcp_segment_create(zt_name(), 4096, &o, &seg), ZCP_EINVAL,
	       "segment_create(backend 7)");
	zcp_segment_options_init(&o);
	o.mode = 01777;
	is_int(zcp_segment_create(zt_name(), 4096, &o, &seg), ZCP_EINVAL,
	       "segment_create(mode 01777)");
	zcp_segment_options_init(&o);
	o.gid = -5;
	is_int(zcp_segment_create(zt_name(), 4096, &o, &seg), ZCP_EINVAL, "segment_create(gid -5)");
	zcp_segment_options_init(&o);
	o.seal = 1;
	is_int(zcp_segment_create(zt_name(), 4096, &o, &seg), ZCP_EINVAL,
	       "segment_create(seal with shm)");
	zcp_segment_options_init(&o);
	o.reserved[0] = &o;
	is_int(zcp_segment_create(zt_name(), 4096, &o, &seg), ZCP_EINVAL,
	       "segment_create(reserved set)");
	is_int(zcp_segment_open(NULL, 1, &seg), ZCP_EINVAL, "segment_open(NULL name)");
	is_int(zcp_segment_open(zt_name(), 1, NULL), ZCP_EINVAL, "segment_open(NULL out)");
	is_int(zcp_segment_open(zt_name(), 1, &seg), ZCP_ENOENT, "segment_open(no such)");
	is_int(zcp_segment_open_fd(-1, 1, &seg), ZCP_EINVAL, "segment_open_fd(-1)");
	is_int(zcp_segment_open_fd(0, 1, NULL), ZCP_EINVAL, "segment_open_fd(NULL out)");
	ok(seg == sentinel, "*out untouched by failed calls");
	ok(zcp_segment_base(NULL) == NULL && zcp_segment_size(NULL) == 0 &&
		   zcp_segment_fd(NULL) == ZCP_EINVAL && zcp_segment_name(NULL) == NULL &&
		   zcp_segment_backend(NULL) == ZCP_BACKEND_SHM,
	   "segment accessors of NULL");
	is_int(zcp_segment_real_size(NULL, &sz), ZCP_EINVAL, "segment_real_size(NULL)");
	is_int(zcp_segment_unlink(NULL), ZCP_EINVAL, "segment_unlink(NULL)");
	is_int(zcp_segment_unlink(""), ZCP_EINVAL, "segment_unlink(\"\")");
	zcp_segment_close(NULL);
	ok(1, "segment_close(NULL) is a no-op");
	ok(zcp_relptr_resolve(NULL, 0, 1) == NULL, "relptr_resolve(NULL seg)");
	ok(zcp_relptr_from(NULL, &o) == 0, "relptr_from(NULL seg) = 0");
	ok(zcp_strerror(INT_MIN) != NULL && zcp_strerror(INT_MAX) != NULL,
	   "strerror never NULL");
	is_string(zcp_err_name(12345), "ZCP_E?", "err_name(unknown)");
}

static void broker_args(zcp_mempool_manager *shm_mgr)
{
	zcp_broker_options o;
	zcp_broker *b = (zcp_broker *)&b;
	zcp_mempool_manager *x = NULL;
	char longpath[200];
#ifdef HAVE_MEMFD
	const int nosys = 0;
#else
	const int nosys = 1;
#endif
	zcp_broker_options_init(NULL);
	ok(1, "broker_options_init(NULL) is a no-op");
	zcp_broker_options_init(&o);
	ok(o.dir == NULL && o.allow_uid == -1 && o.allow_gid == -1, "broker option defaults");
	is_int(zcp_broker_fd(NULL), nosys ? ZCP_ENOSYS : ZCP_EINVAL, "broker_fd(NULL)");
	is_int(zcp_broker_serve(NULL, 0), nosys ? ZCP_ENOSYS : ZCP_EINVAL, "broker_serve(NULL)");
	ok(zcp_broker_path(NULL) == NULL, "broker_path(NULL) is NULL");
	zcp_broker_close(NULL);
	ok(1, "broker_close(NULL) is a no-op");
	is_int(zcp_broker_listen(NULL, &o, &b), nosys ? ZCP_ENOSYS : ZCP_EINVAL,
	       "broker_listen(NULL mgr)");
	is_int(zcp_broker_listen(shm_mgr, &o, NULL), nosys ? ZCP_ENOSYS : ZCP_EINVAL,
	       "broker_listen(NULL out)");
	is_int(zcp_broker_listen(shm_mgr, &o, &b), nosys ? ZCP_ENOSYS : ZCP_EINVAL,
	       "broker_listen refuses an unsealed shm manager");
	o.allow_uid = -2;
	is_int(zcp_broker_listen(shm_mgr, &o, &b), nosys ? ZCP_ENOSYS : ZCP_EINVAL,
	       "broker_listen(allow_uid -2)");
	zcp_broker_options_init(&o);
	o.allow_gid = LONG_MAX;
	is_int(zcp_broker_listen(shm_mgr, &o, &b), nosys ? ZCP_ENOSYS : ZCP_EINVAL,
	       "broker_listen(allow_gid LONG_MAX)");
	zcp_broker_options_init(&o);
	o.reserved[2] = &o;
	is_int(zcp_broker_listen(shm_mgr, &o, &b), nosys ? ZCP_ENOSYS : ZCP_EINVAL,
	       "broker_listen(reserved set)");
	ok(b == (zcp_broker *)&b, "*out untouched by failed listens");
	is_int(zcp_mempool_manager_attach_socket(NULL, &x), nosys ? ZCP_ENOSYS : ZCP_EINVAL,
	       "attach_socket(NULL path)");
	is_int(zcp_mempool_manager_attach_socket("/nonexistent/zerocp.sock", NULL),
	       nosys ? ZCP_ENOSYS : ZCP_EINVAL, "attach_socket(NULL out)");
	is_int(zcp_mempool_manager_attach_socket("", &x), nosys ? ZCP_ENOSYS : ZCP_EINVAL,
	       "attach_socket(\"\")");
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	is_int(zcp_mempool_manager_attach_socket(longpath, &x),
	       nosys ? ZCP_ENOSYS : ZCP_ENAMETOOLONG, "attach_socket(199-character path)");
	is_int(zcp_mempool_manager_attach_socket("/nonexistent/zerocp.sock", &x),
	       nosys ? ZCP_ENOSYS : ZCP_ENOENT, "attach_socket(no such socket)");
	ok(x == NULL, "no manager came out of it");
}

int main(void)
{
	zcp_mempool_manager *m = NULL, *other = NULL;
	zcp_mempool_config *cfg;

	plan_lazy();
	config_args();
	name_args();
	cfg = seed_config();
	if (zcp_mempool_manager_create(zt_name(), cfg, &m) ||
	    zcp_mempool_manager_create(zt_name(), cfg, &other))
		bail("cannot create the managers");
	chunk_args(m, other);
	manager_args(m, other); /* destroys other */
	segment_args();
	broker_args(m);
	zcp_pool_stats st;
	int all_free = 1;
	for (int i = 0; i < 4; i++)
		all_free &= zcp_mempool_manager_pool_stats(m, i, &st) == 0 && st.used == 0;
	ok(all_free, "every pool is free at the end");
	is_int(zcp_mempool_manager_check(m), 0, "check passes at the end");
	is_int(zcp_mempool_manager_destroy(m), 0, "destroy");
	zcp_mempool_config_free(cfg);
	zt_done();
	return done_testing();
}
