/* SPDX-License-Identifier: MIT */
/* tests/broker-flood.c - allowed clients get through a broker flooded by
 * a refused user.
 *
 * A broker that admits a group (allow_gid) has a socket anyone can
 * connect to.  Here processes of uid 65534, outside the group, connect
 * and hang up as fast as they can for up to FLOOD_MS, while a process of
 * ours attaches ATTACHES times through the same socket.  Every one of
 * those attaches must succeed: the broker drains its backlog and refuses
 * cheaply, and the client retries a connect that finds the backlog full
 * (see lib/broker.c).  The parent serves the way "zerocp serve" does: a
 * poll on the broker's descriptor, then zcp_broker_serve(b, 0).  Root
 * only (it needs another uid); skipped without memfd.
 */
#include "config.h"

#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#ifdef HAVE_MEMFD

#define NOBODY 65534
#define TEST_GID 54321
#define FLOOD_MS 3000
#define FLOOD_MAX 2000000L
#define ATTACHES 20
/* Flooding processes: two, to outrun the server on any machine. */
#define FLOODERS 2

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* A flooder: as uid NOBODY, connect and close for FLOOD_MS (or
 * FLOOD_MAX connections), telling `started` after the first ones. */
static void flood(const char *path, int started)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	gid_t g[1] = {NOBODY};
	long n = 0, t0;

	ZT_CHECK(setgroups(1, g) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	t0 = now_ms();
	while (n < FLOOD_MAX && now_ms() - t0 < FLOOD_MS) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		ZT_CHECK(fd >= 0);
		connect(fd, (struct sockaddr *)&sa, sizeof sa);
		close(fd);
		if (++n == 100)
			ZT_CHECK(write(started, "s", 1) == 1);
	}
	_exit(0);
}

/* The allowed client: ATTACHES attaches through path; the exit status is
 * the number that failed (the last error's name on stderr as a comment). */
static void allowed(const char *path)
{
	int failed = 0, last = 0;
	long slowest = 0;

	for (int i = 0; i < ATTACHES; i++) {
		zcp_mempool_manager *m = NULL;
		long t0 = now_ms();
		int err = zcp_mempool_manager_attach_socket(path, &m);
		if (now_ms() - t0 > slowest)
			slowest = now_ms() - t0;
		if (err) {
			failed++;
			last = err;
			continue;
		}
		zcp_mempool_manager_detach(m);
	}
	printf("# the slowest attach took %ld ms\n", slowest);
	if (failed)
		printf("# %d of %d attaches failed, the last with %s\n", failed, ATTACHES,
		       zcp_err_name(last));
	fflush(stdout);
	_exit(failed);
}

int main(void)
{
	char tmpdir[64], sockdir[128];
	zcp_mempool_config *cfg;
	zcp_mempool_manager *m = NULL;
	zcp_broker_options o;
	zcp_broker *b = NULL;
	int started[2];
	char c;

	if (geteuid() != 0)
		skip_all("not root: the flood must come from another uid");
	cfg = zcp_mempool_config_new();
	if (!cfg || zcp_mempool_config_add_entry(cfg, 256, 16) ||
	    zcp_mempool_config_set_backend(cfg, ZCP_BACKEND_MEMFD) ||
	    zcp_mempool_manager_create(zt_name(), cfg, &m))
		skip_all("cannot create a memfd manager here");
	zcp_mempool_config_free(cfg);
	plan_lazy();

	strcpy(tmpdir, "/tmp/zcp-broker-flood-XXXXXX");
	if (!mkdtemp(tmpdir))
		bail("mkdtemp: %s", strerror(errno));
	snprintf(sockdir, sizeof sockdir, "%s/sock", tmpdir);
	zcp_broker_options_init(&o);
	o.dir = sockdir;
	o.allow_gid = TEST_GID;
	is_int(zcp_broker_listen(m, &o, &b), 0, "a broker admitting gid %d listens", TEST_GID);
	if (!b)
		bail("no broker");
	/* Reachable by anyone, as with --allow-gid for a real group. */
	chmod(tmpdir, 0711);
	chmod(sockdir, 0711);

	if (pipe(started))
		bail("pipe");
	pid_t flooder[FLOODERS];
	for (int i = 0; i < FLOODERS; i++) {
		flooder[i] = zt_fork();
		if (flooder[i] == 0) {
			close(started[0]);
			flood(zcp_broker_path(b), started[1]);
		}
	}
	close(started[1]);
	/* Serve while waiting for the flood to start. */
	struct pollfd pf[2] = {{.fd = zcp_broker_fd(b), .events = POLLIN},
			       {.fd = started[0], .events = POLLIN}};
	int flooding = 0;
	long t0 = now_ms();
	while (!flooding && now_ms() - t0 < 5000) {
		if (poll(pf, 2, 100) <= 0)
			continue;
		if (pf[0].revents & POLLIN)
			zcp_broker_serve(b, 0);
		if (pf[1].revents & POLLIN)
			flooding = read(started[0], &c, 1) == 1;
	}
	ok(flooding, "uid %d floods the socket with connections", NOBODY);

	pid_t client = zt_fork();
	if (client == 0)
		allowed(zcp_broker_path(b));
	/* Serve until the client is done, as "zerocp serve" does. */
	int st = -1, answered = 0;
	for (;;) {
		pid_t w = waitpid(client, &st, WNOHANG);
		if (w == client)
			break;
		if (now_ms() - t0 > 60000) {
			kill(client, SIGKILL);
			waitpid(client, &st, 0);
			break;
		}
		struct pollfd p = {.fd = zcp_broker_fd(b), .events = POLLIN};
		if (poll(&p, 1, 20) > 0) {
			int n = zcp_broker_serve(b, 0);
			if (n > 0)
				answered += n;
		}
	}
	diag("%d connections answered while the client attached", answered);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "all %d attaches of an allowed client succeed during the flood (%d failed)", ATTACHES,
	   WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	for (int i = 0; i < FLOODERS; i++) {
		kill(flooder[i], SIGKILL);
		zt_wait(flooder[i], &st);
	}
	close(started[0]);
	zcp_broker_close(b);
	is_int(zcp_mempool_manager_destroy(m), 0, "destroy");
	ok(rmdir(sockdir) == 0 && rmdir(tmpdir) == 0, "nothing left in the socket directories");
	zt_done();
	return done_testing();
}

#else /* !HAVE_MEMFD */

int main(void)
{
	skip_all("memfd backend not built (--disable-memfd or no memfd_create)");
}

#endif
