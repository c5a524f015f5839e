/* SPDX-License-Identifier: MIT */
/* examples/escrow.c - hand a chunk over with escrow.
 *
 * The receiver (a forked child, attached by name) sends its process id to
 * the sender; the sender writes into a chunk, lends a reference to that
 * receiver with zcp_chunk_send(), releases its own at once, and passes the
 * ticket through a pipe.  The receiver takes the reference with
 * zcp_chunk_receive(), exactly once (a second receive is ZCP_ESTALE), and
 * releases it; the sender's zcp_mempool_manager_settle() then drops the
 * lent reference and the chunk is back in its pool.
 *
 *   cc escrow.c $(pkg-config --cflags --libs zerocp)
 *   ./a.out [NAME]
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

static int receiver(const char *name, int in, int out)
{
	zcp_mempool_manager *m;
	uint64_t id, ticket;
	int ok = 0;

	if (zcp_mempool_manager_attach(name, &m) != 0)
		return 1;
	id = zcp_mempool_manager_process_id(m);
	if (write(out, &id, sizeof id) == (ssize_t)sizeof id &&
	    read(in, &ticket, sizeof ticket) == (ssize_t)sizeof ticket) {
		zcp_chunk *c = zcp_chunk_receive(m, ticket);
		if (c != NULL) {
			printf("receiver: %s\n", (char *)zcp_chunk_data(c));
			ok = strcmp(zcp_chunk_data(c), "lent, not copied") == 0;
			ok = ok && zcp_chunk_receive(m, ticket) == NULL && errno == ESTALE;
			zcp_chunk_release(m, c);
		}
	}
	zcp_mempool_manager_detach(m);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "example-escrow";
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	int to[2], from[2], status;
	uint64_t id, ticket;

	zcp_mempool_config_add_entry(cfg, 1024, 4);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0 || pipe(to) != 0 || pipe(from) != 0)
		return 1;
	zcp_mempool_config_free(cfg);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int rc = receiver(name, to[0], from[1]);
		fflush(stdout);
		_exit(rc);
	}

	if (read(from[0], &id, sizeof id) != (ssize_t)sizeof id)
		return 1;
	zcp_chunk *c = zcp_chunk_get(m, 100);
	strcpy(zcp_chunk_data(c), "lent, not copied");
	int err = zcp_chunk_send(m, c, id, &ticket);
	zcp_chunk_release(m, c); /* the lent reference keeps the chunk */
	if (err != 0 || write(to[1], &ticket, sizeof ticket) != (ssize_t)sizeof ticket)
		return 1;
	waitpid(pid, &status, 0);
	long settled = zcp_mempool_manager_settle(m);
	zcp_pool_stats st;
	zcp_mempool_manager_pool_stats(m, 0, &st);
	printf("sender: settled %ld lent reference(s); pool 0 used=%llu\n", settled,
	       (unsigned long long)st.used);
	zcp_mempool_manager_destroy(m);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 && settled == 1 && st.used == 0 ? 0
												: 1;
}
