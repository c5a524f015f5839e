/* SPDX-License-Identifier: MIT */
/* examples/seed-scenario.c - the seed's scenario in one program: a server
 * creates a manager with four pools and takes three chunks; a client
 * (a forked child, attaching by name as any other program would) takes
 * three more, writes and reads them back, takes and drops a reference,
 * and releases them; the server prints the pools and destroys the
 * manager.
 *
 *   cc seed-scenario.c $(pkg-config --cflags --libs zerocp)
 *   ./a.out [NAME]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

static int client(const char *name)
{
	static const uint64_t sizes[] = {100, 512, 2048};
	zcp_mempool_manager *m;
	zcp_chunk *c[3];
	int err = zcp_mempool_manager_attach(name, &m);

	if (err != 0) {
		fprintf(stderr, "client: attach: %s\n", zcp_strerror(err));
		return 1;
	}
	for (int k = 0; k < 3; k++) {
		c[k] = zcp_chunk_get(m, sizes[k]);
		if (c[k] == NULL) {
			perror("client: zcp_chunk_get");
			return 1;
		}
		printf("client: %llu bytes from pool %d\n", (unsigned long long)sizes[k],
		       zcp_chunk_pool_index(c[k]));
	}
	strcpy(zcp_chunk_data(c[0]), "Hello from client!");
	int *v = zcp_chunk_data(c[1]);
	for (int i = 0; i < 10; i++)
		v[i] = i * 100;
	printf("client: chunk 1 data: %s\n", (char *)zcp_chunk_data(c[0]));
	uint64_t r1 = zcp_chunk_refcount(c[0]);
	zcp_chunk_ref(m, c[0]);
	uint64_t r2 = zcp_chunk_refcount(c[0]);
	zcp_chunk_release(m, c[0]);
	printf("client: reference count %llu -> %llu -> %llu\n", (unsigned long long)r1,
	       (unsigned long long)r2, (unsigned long long)zcp_chunk_refcount(c[0]));
	zcp_mempool_manager_print_stats(m, stdout);
	/* Read the data while we hold it: the payload is ours only until the
	 * release, and unmapped after the detach. */
	int ok = r1 == 1 && r2 == 2 && v[9] == 900;
	for (int k = 0; k < 3; k++)
		zcp_chunk_release(m, c[k]);
	zcp_mempool_manager_detach(m);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	char name[64];
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	zcp_chunk *held[3];
	int status, err;

	snprintf(name, sizeof name, "%s", argc > 1 ? argv[1] : "example-seed");
	if (cfg == NULL)
		return 1;
	zcp_mempool_config_add_entry(cfg, 256, 100);
	zcp_mempool_config_add_entry(cfg, 1024, 50);
	zcp_mempool_config_add_entry(cfg, 4096, 20);
	zcp_mempool_config_add_entry(cfg, 16384, 10);
	err = zcp_mempool_manager_create(name, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (err != 0) {
		fprintf(stderr, "server: create %s: %s\n", name, zcp_strerror(err));
		return 1;
	}
	held[0] = zcp_chunk_get(m, 200);
	held[1] = zcp_chunk_get(m, 800);
	held[2] = zcp_chunk_get(m, 3000);
	printf("server: pools after its own allocations:\n");
	zcp_mempool_manager_print_stats(m, stdout);
	fflush(stdout);

	pid_t pid = fork();
	if (pid == 0) {
		int rc = client(name);
		fflush(stdout);
		_exit(rc);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		status = 1 << 8;
	printf("server: pools after the client:\n");
	zcp_mempool_manager_print_stats(m, stdout);
	for (int k = 0; k < 3; k++)
		if (held[k] != NULL)
			zcp_chunk_release(m, held[k]);
	zcp_mempool_manager_destroy(m);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "server: the client failed\n");
		return 1;
	}
	printf("seed-scenario: OK\n");
	return held[0] && held[1] && held[2] ? 0 : 1;
}
