/* SPDX-License-Identifier: MIT */
/* examples/pubsub.c - one publisher and two subscribers on a topic.
 *
 * Two forked subscribers attach by name, subscribe to "greetings" and say
 * so through a pipe; a forked publisher then loans chunks, writes a
 * greeting in place and publishes them.  Each subscriber sleeps in
 * zcp_subscriber_wait() (no polling) and takes every sample, in order,
 * referencing the publisher's chunk (no copy), and releases it.  When all
 * are done every chunk is back in its pool.
 *
 *   cc pubsub.c $(pkg-config --cflags --libs zerocp)
 *   ./a.out [NAME]
 */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define SAMPLES 5
#define TIMEOUT_NS 5000000000LL /* 5 s: give up rather than hang */

static int subscriber(const char *name, int id, int ready)
{
	zcp_mempool_manager *mgr;
	zcp_subscriber *sub;
	int got = 0, ok = 1;

	if (zcp_mempool_manager_attach(name, &mgr) != 0)
		return 1;
	if (zcp_subscriber_create(mgr, "greetings", NULL, &sub) != 0 ||
	    write(ready, "r", 1) != 1) /* subscribed: the publisher may start */
		return 1;
	while (got < SAMPLES) {
		int err = zcp_subscriber_wait(sub, TIMEOUT_NS);
		if (err == ZCP_EINTR)
			continue;
		if (err != 0) {
			fprintf(stderr, "subscriber %d: wait: %s\n", id, zcp_strerror(err));
			ok = 0;
			break;
		}
		zcp_chunk *c;
		while ((c = zcp_subscriber_take(sub)) != NULL) {
			zcp_sample_info info;
			char want[64];
			snprintf(want, sizeof want, "hello %d", got);
			if (zcp_chunk_sample_info(c, &info) != 0 || info.sequence != (uint64_t)got ||
			    strcmp(zcp_sample_data(c), want) != 0)
				ok = 0;
			printf("subscriber %d: #%llu \"%s\"\n", id,
			       (unsigned long long)info.sequence, (char *)zcp_sample_data(c));
			zcp_chunk_release(mgr, c);
			got++;
		}
	}
	if (zcp_subscriber_lost(sub) != 0)
		ok = 0;
	zcp_subscriber_close(sub);
	zcp_mempool_manager_detach(mgr);
	return fflush(stdout) == 0 && ok ? 0 : 1; /* the child leaves with _exit() */
}

static int publisher(const char *name)
{
	zcp_mempool_manager *mgr;
	zcp_publisher *pub;

	if (zcp_mempool_manager_attach(name, &mgr) != 0)
		return 1;
	if (zcp_publisher_create(mgr, "greetings", NULL, &pub) != 0)
		return 1;
	for (int i = 0; i < SAMPLES; i++) {
		zcp_chunk *c = zcp_publisher_loan(pub, 64);
		if (c == NULL)
			return 1;
		snprintf(zcp_sample_data(c), 64, "hello %d", i);
		if (zcp_publisher_publish(pub, c) != 0) /* the ring takes our reference */
			return 1;
	}
	zcp_publisher_close(pub); /* its samples stay readable */
	zcp_mempool_manager_detach(mgr);
	return 0;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "example-pubsub";
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *mgr;
	int ready[2], status, failed = 0, err;
	zcp_pool_stats s;
	char c;

	if (cfg == NULL)
		return 1;
	zcp_mempool_config_add_entry(cfg, 256, 64);
	err = zcp_mempool_manager_create(name, cfg, &mgr);
	zcp_mempool_config_free(cfg);
	if (err != 0) {
		fprintf(stderr, "create: %s\n", zcp_strerror(err));
		return 1;
	}
	if (pipe(ready) != 0) {
		zcp_mempool_manager_destroy(mgr);
		return 1;
	}
	fflush(stdout);
	for (int id = 1; id <= 2; id++)
		if (fork() == 0)
			_exit(subscriber(name, id, ready[1]));
	for (int id = 1; id <= 2; id++)
		if (read(ready[0], &c, 1) != 1)
			failed = 1;
	if (fork() == 0)
		_exit(publisher(name));
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	zcp_mempool_manager_pool_stats(mgr, 0, &s);
	printf("%s; chunks in use: %llu\n", failed ? "FAILED" : "all delivered",
	       (unsigned long long)s.used);
	zcp_mempool_manager_destroy(mgr);
	return failed || s.used != 0;
}
