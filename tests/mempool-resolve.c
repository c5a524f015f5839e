/* SPDX-License-Identifier: MIT */
/* zcp_chunk_from_handle() then zcp_chunk_ref(): the reference is to the
 * generation the handle named, whatever else the process's threads do
 * with the same chunk.  A peer Q plays the sender of a one-chunk pool, on
 * command; this process resolves and refs, from one thread or two.
 * (attack-view-race hammers the same promises at random; these are the
 * cases step by step.) */
#include "tap.h"
#include "zt.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

static zcp_mempool_manager *m;
static int cmd[2], reply[2];

/* Ask Q to get the chunk and send its handle ('g'), or release it ('r'). */
static uint64_t q_get(void)
{
	uint64_t h = 0;
	if (write(cmd[1], "g", 1) != 1 || read(reply[0], &h, sizeof h) != (ssize_t)sizeof h)
		return 0;
	return h;
}

static int q_release(void)
{
	uint64_t r = 1;
	if (write(cmd[1], "r", 1) != 1 || read(reply[0], &r, sizeof r) != (ssize_t)sizeof r)
		return -1;
	return (int)r;
}

static void q_main(const char *name)
{
	zcp_mempool_manager *mq;
	zcp_chunk *c = NULL;
	char op;
	ZT_CHECK(zcp_mempool_manager_attach(name, &mq) == 0);
	while (read(cmd[0], &op, 1) == 1 && op != 'q') {
		uint64_t out = 0;
		if (op == 'g' && (c = zcp_chunk_get(mq, 64)) != NULL) {
			out = zcp_chunk_handle(mq, c);
			memcpy(zcp_chunk_data(c), &out, sizeof out); /* the stamp: its handle */
		} else if (op == 'r') {
			out = (uint64_t)zcp_chunk_release(mq, c);
		}
		ZT_CHECK(write(reply[1], &out, sizeof out) == (ssize_t)sizeof out);
	}
	zcp_mempool_manager_detach(mq);
	_exit(0);
}

static uint64_t used(void)
{
	zcp_pool_stats s;
	return zcp_mempool_manager_pool_stats(m, 0, &s) == 0 ? s.used : UINT64_MAX;
}

struct job {
	uint64_t handle;
	zcp_chunk *chunk;
	int ref;      /* 1: zcp_chunk_ref() after resolving */
	int result;   /* ref's result */
	uint64_t seen; /* the stamp read while held */
};

static void *resolve_thread(void *arg)
{
	struct job *j = arg;
	if (j->handle)
		j->chunk = zcp_chunk_from_handle(m, j->handle);
	if (j->ref && j->chunk) {
		j->result = zcp_chunk_ref(m, j->chunk);
		if (j->result == 0)
			memcpy(&j->seen, zcp_chunk_data(j->chunk), sizeof j->seen);
	}
	return NULL;
}

static void in_thread(struct job *j)
{
	pthread_t t;
	if (pthread_create(&t, NULL, resolve_thread, j) == 0)
		pthread_join(t, NULL);
}

int main(void)
{
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();

	plan_lazy();
	zcp_mempool_config_add_entry(cfg, 256, 1);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0 || pipe(cmd) || pipe(reply))
		bail("setup failed");
	zcp_mempool_config_free(cfg);
	pid_t q = zt_fork();
	if (q == 0)
		q_main(name);

	/* 1. Resolved, never ref'd; the chunk comes back to us by a get:
	 * ref() of what this thread holds means the held generation. */
	uint64_t h = q_get();
	zcp_chunk *c = zcp_chunk_from_handle(m, h);
	ok(h && c, "a handle of Q's resolves");
	ok(q_release() == 0, "Q releases");
	zcp_chunk *g = zcp_chunk_get(m, 64);
	ok(g == c, "our get takes the same (only) chunk");
	is_int(g ? zcp_chunk_ref(m, g) : -1, 0, "ref of the chunk we got: 0, though we resolved an older use of it");
	is_int(zcp_chunk_refcount(g), 2, "two references of ours");
	ok(g && zcp_chunk_release(m, g) == 0 && zcp_chunk_release(m, g) == 0, "both released");
	is_int((long long)used(), 0, "the pool is whole");

	/* 2. Resolved in one thread, ref'd in another while Q holds it. */
	struct job r1 = {.handle = q_get()}, r2 = {.ref = 1, .result = -1};
	in_thread(&r1);
	r2.chunk = r1.chunk;
	in_thread(&r2);
	ok(r1.chunk != NULL, "thread 1 resolves Q's handle");
	is_int(r2.result, 0, "thread 2 refs what thread 1 resolved, Q still holding it");
	ok(r2.seen == r1.handle, "... and reads Q's stamp");
	ok(r1.chunk && zcp_chunk_release(m, r1.chunk) == 0 && q_release() == 0, "both release");
	is_int((long long)used(), 0, "the pool is whole");

	/* 3. Resolved; Q releases and takes the chunk again; another thread
	 * of ours resolves and holds the new use.  Our ref() names the old
	 * use: refused, not counted onto the other thread's hold. */
	h = q_get();
	c = zcp_chunk_from_handle(m, h);
	ok(c && q_release() == 0, "resolved, then Q releases");
	struct job r3 = {.handle = q_get(), .ref = 1, .result = -1};
	in_thread(&r3);
	ok(r3.handle != h && r3.chunk == c && r3.result == 0, "Q's next use of the chunk: another thread resolves and holds it");
	is_int(c ? zcp_chunk_ref(m, c) : -1, ZCP_ESTALE, "our ref of the released use: ZCP_ESTALE");
	is_int(zcp_chunk_refcount(c), 2, "the other thread's reference and Q's, no more");
	ok(zcp_chunk_release(m, c) == 0 && zcp_chunk_release(m, c) == ZCP_EALREADY, "one release (the other thread's); a second: EALREADY");
	ok(q_release() == 0, "Q releases");
	is_int((long long)used(), 0, "the pool is whole");

	/* 4. Resolved, released by Q, nobody holds it: ESTALE. */
	h = q_get();
	c = zcp_chunk_from_handle(m, h);
	ok(c && q_release() == 0, "resolved, then Q releases");
	is_int(c ? zcp_chunk_ref(m, c) : -1, ZCP_ESTALE, "ref: ZCP_ESTALE");
	is_int((long long)used(), 0, "nothing held");

	/* 5. Resolved once, two refs. */
	h = q_get();
	c = zcp_chunk_from_handle(m, h);
	ok(c && zcp_chunk_ref(m, c) == 0 && zcp_chunk_ref(m, c) == 0, "one resolve, two refs");
	is_int(zcp_chunk_refcount(c), 3, "ours (2) and Q's");
	ok(zcp_chunk_release(m, c) == 0 && zcp_chunk_release(m, c) == 0 && q_release() == 0, "all released");
	is_int((long long)used(), 0, "the pool is whole");

	ok(write(cmd[1], "q", 1) == 1, "Q told to quit");
	zt_ok_child(q, "Q: every get and release of its own succeeded");
	is_int(zcp_mempool_manager_check(m), 0, "free list holds every chunk once");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
