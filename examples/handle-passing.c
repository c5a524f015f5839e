/* SPDX-License-Identifier: MIT */
/* examples/handle-passing.c - pass a chunk to another process by handle.
 *
 * The parent writes a message into a chunk and sends the chunk's 64-bit
 * handle through a pipe; the child (attached by name as any other
 * program) resolves the handle, takes its own reference, reads the
 * message, and tells the parent, which only then drops its reference:
 * a plain handle holds nothing, so the sender keeps the chunk until the
 * receiver holds it.
 *
 *   cc handle-passing.c $(pkg-config --cflags --libs zerocp)
 *   ./a.out [NAME]
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

static int receiver(const char *name, int in, int ack)
{
	zcp_mempool_manager *m;
	uint64_t handle;
	int ok = 0;

	if (zcp_mempool_manager_attach(name, &m) != 0)
		return 1;
	if (read(in, &handle, sizeof handle) == (ssize_t)sizeof handle) {
		zcp_chunk *c = zcp_chunk_from_handle(m, handle);
		if (c != NULL && zcp_chunk_ref(m, c) == 0) {
			/* Now we hold it: the sender may let go. */
			char one = 1;
			ok = write(ack, &one, 1) == 1;
			printf("receiver: %s (refcount %llu)\n", (char *)zcp_chunk_data(c),
			       (unsigned long long)zcp_chunk_refcount(c));
			ok = ok && strcmp(zcp_chunk_data(c), "a message by reference") == 0;
			zcp_chunk_release(m, c);
		}
	}
	zcp_mempool_manager_detach(m);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "example-handle";
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	int to[2], back[2], status;
	char one;

	zcp_mempool_config_add_entry(cfg, 256, 8);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0 || pipe(to) != 0 || pipe(back) != 0)
		return 1;
	zcp_mempool_config_free(cfg);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int rc = receiver(name, to[0], back[1]);
		fflush(stdout);
		_exit(rc);
	}

	zcp_chunk *c = zcp_chunk_get(m, 64);
	strcpy(zcp_chunk_data(c), "a message by reference");
	uint64_t handle = zcp_chunk_handle(m, c); /* a release fence */
	if (write(to[1], &handle, sizeof handle) != (ssize_t)sizeof handle)
		return 1;
	/* Keep our reference until the receiver holds its own. */
	if (read(back[0], &one, 1) != 1)
		fprintf(stderr, "sender: the receiver did not take the chunk\n");
	zcp_chunk_release(m, c);
	waitpid(pid, &status, 0);
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	printf("sender: pool 0 used=%llu after both released\n", (unsigned long long)st.used);
	zcp_mempool_manager_destroy(m);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && st.used == 0 ? 0 : 1;
}
