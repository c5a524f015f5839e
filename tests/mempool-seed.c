/* SPDX-License-Identifier: MIT */
/* The seed's scenario end to end: the parent plays the server, a forked
 * child the client; pool status after each step matches the seed's numbers
 * in both processes. */
#include "tap.h"
#include "zt.h"

#include <string.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

static const uint64_t sizes[4] = {256, 1024, 4096, 16384};
static const uint32_t counts[4] = {100, 50, 20, 10};

/* 1 if every pool's used count equals used[i] (and free = total - used). */
static int stats_are(zcp_mempool_manager *m, const uint64_t used[4])
{
	if (zcp_mempool_manager_pool_count(m) != 4)
		return 0;
	for (int i = 0; i < 4; i++) {
		zcp_pool_stats s;
		if (zcp_mempool_manager_pool_stats(m, i, &s) != 0)
			return 0;
		if (s.chunk_size != sizes[i] || s.total != counts[i] || s.used != used[i] ||
		    s.free != counts[i] - used[i])
			return 0;
	}
	return 1;
}

static int client(const char *name)
{
	zcp_mempool_manager *m;
	static const uint64_t after_server[4] = {1, 1, 1, 0};
	static const uint64_t with_client[4] = {2, 2, 2, 0};

	ZT_CHECK(zcp_mempool_manager_attach(name, &m) == 0);
	ZT_CHECK(stats_are(m, after_server));
	zcp_chunk *a = zcp_chunk_get(m, 100);
	zcp_chunk *b = zcp_chunk_get(m, 512);
	zcp_chunk *c = zcp_chunk_get(m, 2048);
	ZT_CHECK(a && b && c);
	ZT_CHECK(zcp_chunk_pool_index(a) == 0 && zcp_chunk_pool_index(b) == 1 &&
		 zcp_chunk_pool_index(c) == 2);
	ZT_CHECK(stats_are(m, with_client));
	strcpy(zcp_chunk_data(a), "Hello from client!");
	int *ints = zcp_chunk_data(b);
	for (int i = 0; i < 10; i++)
		ints[i] = i * 100;
	ZT_CHECK(strcmp(zcp_chunk_data(a), "Hello from client!") == 0);
	for (int i = 0; i < 10; i++)
		ZT_CHECK(ints[i] == i * 100);
	ZT_CHECK(zcp_chunk_refcount(a) == 1 && zcp_chunk_ref(m, a) == 0 &&
		 zcp_chunk_refcount(a) == 2 && zcp_chunk_release(m, a) == 0 &&
		 zcp_chunk_refcount(a) == 1);
	ZT_CHECK(zcp_chunk_release(m, a) == 0 && zcp_chunk_release(m, b) == 0 &&
		 zcp_chunk_release(m, c) == 0);
	ZT_CHECK(stats_are(m, after_server));
	zcp_mempool_manager_detach(m);
	return 0;
}

int main(void)
{
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	static const uint64_t none[4] = {0, 0, 0, 0};
	static const uint64_t after_server[4] = {1, 1, 1, 0};

	plan_lazy();
	/* The seed adds entries smallest first; shuffle to test sorting. */
	ok(cfg && zcp_mempool_config_add_entry(cfg, 4096, 20) == 0 &&
		   zcp_mempool_config_add_entry(cfg, 256, 100) == 0 &&
		   zcp_mempool_config_add_entry(cfg, 16384, 10) == 0 &&
		   zcp_mempool_config_add_entry(cfg, 1024, 50) == 0,
	   "seed configuration built");
	zcp_mempool_layout lay;
	ok(zcp_mempool_config_layout(cfg, &lay) == 0 && lay.total_chunks == 180 &&
		   lay.record_size == 64,
	   "layout: 180 chunks, 64-byte records");
	/* Data: each pool page-aligned, chunk = 64 B header + payload. */
	uint64_t data = 0;
	for (int i = 0; i < 4; i++) {
		data = (data + 4095) & ~UINT64_C(4095);
		data += counts[i] * (64 + sizes[i]);
	}
	is_int((long long)lay.data_size, (long long)data, "data segment size is exact");
	is_int((long long)lay.mgmt_size,
	       (long long)(lay.fixed_mgmt_size + 180 * 64 + lay.topic_table_size),
	       "management segment: fixed part + 64 bytes a chunk + the topic table");
	ok(lay.topic_table_size > 0, "the default configuration has a topic table");

	is_int(zcp_mempool_manager_create(name, cfg, &m), 0, "server creates the manager");
	zcp_mempool_config_free(cfg);
	if (!m)
		bail("cannot go on without a manager");
	ok(stats_are(m, none), "initial status: every pool free");
	zcp_chunk *c1 = zcp_chunk_get(m, 200), *c2 = zcp_chunk_get(m, 800),
		  *c3 = zcp_chunk_get(m, 3000);
	ok(c1 && c2 && c3, "server allocates 200, 800 and 3000 bytes");
	ok(stats_are(m, after_server), "status after the server's allocations: 1, 1, 1, 0 used");
	ok(zcp_chunk_capacity(c1) == 256 && zcp_chunk_size(c1) == 200 &&
		   zcp_chunk_capacity(c3) == 4096 && zcp_chunk_size(c3) == 3000,
	   "capacity is the pool's chunk size, size the one asked for");
	ok(((uintptr_t)zcp_chunk_data(c1) & 63) == 0 && ((uintptr_t)zcp_chunk_data(c3) & 63) == 0,
	   "payloads are 64-byte aligned");

	pid_t pid = zt_fork();
	if (pid == 0)
		_exit(client(name));
	zt_ok_child(pid, "client attaches, checks status, allocates, writes, reads, refcounts, releases");
	ok(stats_are(m, after_server), "server sees the client's chunks back in their pools");
	zcp_pool_stats s;
	ok(zcp_mempool_manager_pool_stats(m, 0, &s) == 0 && s.used_max == 2,
	   "used_max of pool 0 records the peak of 2");

	FILE *mem = tmpfile();
	ok(mem && zcp_mempool_manager_print_stats(m, mem) == 0, "print_stats succeeds");
	if (mem) {
		char line[128] = "";
		rewind(mem);
		ok(fgets(line, sizeof line, mem) &&
			   strcmp(line, "  Pool 0: chunk_size=256, total=100, used=1, free=99\n") == 0,
		   "print_stats prints the seed's line format");
		fclose(mem);
	}
	ok(zcp_chunk_release(m, c1) == 0 && zcp_chunk_release(m, c2) == 0 &&
		   zcp_chunk_release(m, c3) == 0 && stats_are(m, none),
	   "server releases its chunks");
	is_int(zcp_mempool_manager_check(m), 0, "free lists hold every chunk exactly once");
	is_int(zcp_mempool_manager_destroy(m), 0, "server destroys the manager");
	zcp_mempool_manager *again;
	is_int(zcp_mempool_manager_attach(name, &again), ZCP_ENOENT, "nothing left to attach to");
	zt_done();
	return done_testing();
}
