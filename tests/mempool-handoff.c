/* SPDX-License-Identifier: MIT */
/* Handoff between processes: child A allocates and writes, sends the
 * handle through a pipe to child B, which takes a reference, checks the
 * data and releases; the chunk goes back only after both released. */
#include "tap.h"
#include "zt.h"

#include <string.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

static uint64_t used0(zcp_mempool_manager *m)
{
	zcp_pool_stats s;
	return zcp_mempool_manager_pool_stats(m, 0, &s) == 0 ? s.used : UINT64_MAX;
}

static int read_full(int fd, void *buf, size_t n)
{
	return read(fd, buf, n) == (ssize_t)n ? 0 : -1;
}

int main(void)
{
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	int to_b[2], to_a[2], a_released[2];
	char go;

	plan_lazy();
	zcp_mempool_config_add_entry(cfg, 1024, 8);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0 || pipe(to_b) || pipe(to_a) ||
	    pipe(a_released))
		bail("setup failed");
	zcp_mempool_config_free(cfg);

	pid_t a = zt_fork();
	if (a == 0) {
		zcp_mempool_manager *ma;
		ZT_CHECK(zcp_mempool_manager_attach(name, &ma) == 0);
		zcp_chunk *c = zcp_chunk_get(ma, 1000);
		ZT_CHECK(c);
		strcpy(zcp_chunk_data(c), "handed over");
		uint64_t h = zcp_chunk_handle(ma, c);
		ZT_CHECK(write(to_b[1], &h, sizeof h) == sizeof h);
		/* Keep our reference until B says it took its own. */
		ZT_CHECK(read_full(to_a[0], &go, 1) == 0);
		ZT_CHECK(zcp_chunk_release(ma, c) == 0);
		ZT_CHECK(write(a_released[1], "r", 1) == 1);
		zcp_mempool_manager_detach(ma);
		_exit(0);
	}
	pid_t b = zt_fork();
	if (b == 0) {
		zcp_mempool_manager *mb;
		uint64_t h;
		ZT_CHECK(zcp_mempool_manager_attach(name, &mb) == 0 &&
			 read_full(to_b[0], &h, sizeof h) == 0);
		zcp_chunk *c = zcp_chunk_from_handle(mb, h);
		ZT_CHECK(c && zcp_chunk_ref(mb, c) == 0);
		ZT_CHECK(strcmp(zcp_chunk_data(c), "handed over") == 0);
		ZT_CHECK(zcp_chunk_refcount(c) == 2); /* ours + A's */
		ZT_CHECK(write(to_a[1], "t", 1) == 1 && read_full(a_released[0], &go, 1) == 0);
		/* A released: we are the only holder; the chunk stays ours. */
		ZT_CHECK(zcp_chunk_refcount(c) == 1 &&
			 strcmp(zcp_chunk_data(c), "handed over") == 0);
		ZT_CHECK(write(to_a[1], "u", 1) == 1); /* tell the parent to look */
		ZT_CHECK(read_full(to_b[0], &go, 1) == 0);
		ZT_CHECK(zcp_chunk_release(mb, c) == 0 && zcp_chunk_release(mb, c) == ZCP_EALREADY);
		zcp_mempool_manager_detach(mb);
		_exit(0);
	}
	zt_ok_child(a, "A allocates, writes, sends the handle, releases after B took it");
	/* B now waits; A is gone: the chunk must still be in use. */
	ok(read_full(to_a[0], &go, 1) == 0 && go == 'u', "B reports holding the chunk alone");
	is_int((long long)used0(m), 1, "the chunk stays in use while B holds it, after A released");
	char c = 'x';
	ok(write(to_b[1], &c, 1) == 1, "let B release");
	zt_ok_child(b, "B resolves the handle, takes a reference, checks the data, releases");
	is_int((long long)used0(m), 0, "back in the pool after both released");
	is_int(zcp_mempool_manager_check(m), 0, "free list holds every chunk once");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
