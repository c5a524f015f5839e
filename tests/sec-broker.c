/* SPDX-License-Identifier: MIT */
/* The sealed-memfd attach broker: a forked client attaches through the
 * socket and works with the server's chunks; it cannot resize the
 * segments; peers without the right uid or gid are refused; the socket
 * directory and path are handled safely; a hostile or absent server gives
 * an error, never a leaked descriptor or a hang.  The client checks whom
 * it talks to: a socket directory, socket file or broker of another uid
 * than the one expected (squatting) is refused with ZCP_EOWNER; a client
 * without room for the descriptors is told ZCP_EMFILE. */
#include "config.h"

#include "tap.h"
#include "zt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

/* Everything below needs the memfd backend; without it main() skips. */
#ifdef HAVE_MEMFD

#define NOBODY 65534
#define TEST_GID 54321

static char tmpdir[64], sockdir[128];

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* The broker's own attach (lib/broker.c), which
 * zcp_mempool_manager_attach_opts() calls for a socket_path. */
int zcp__broker_attach(const char *path, const zcp_attach_options *opts,
		       zcp_mempool_manager **out);

/* Attach through the broker at path, expecting it to be run (and its
 * socket and directory owned) by `owner` (a uid, ZCP_OWNER_SELF or
 * ZCP_OWNER_ANY): by zcp_mempool_manager_attach_opts(), or, where that
 * cannot go through a broker yet (ZCP_ENOSYS), by the broker's entry it
 * would call. */
static int attach_owned(const char *path, long owner, zcp_mempool_manager **out)
{
	zcp_attach_options o;
	zcp_attach_options_init(&o);
	o.owner_uid = owner;
	o.socket_path = path;
	int err = zcp_mempool_manager_attach_opts(NULL, &o, out);
	if (err == ZCP_ENOSYS)
		err = zcp__broker_attach(path, &o, out);
	return err;
}

/* In a child: optionally become uid/gid, attach through path (expecting
 * a broker of root's), expect want. */
static void child_expect(const char *path, int drop, uid_t uid, gid_t gid, int want)
{
	if (drop) {
		gid_t g[1] = {gid};
		ZT_CHECK(setgroups(1, g) == 0 && setgid(gid) == 0 && setuid(uid) == 0);
	}
	zcp_mempool_manager *m = NULL;
	int err = attach_owned(path, 0, &m);
	if (err == 0) {
		zcp_chunk *c = zcp_chunk_get(m, 8);
		ZT_CHECK(c && zcp_chunk_release(m, c) == 0);
		zcp_mempool_manager_detach(m);
	}
	if (err != want)
		ZT_NOTE("attach returned %d (%s), want %d (%s)", err, zcp_err_name(err), want,
			zcp_err_name(want));
	_exit(err == want ? 0 : 10 + (-err % 100));
}

static zcp_mempool_manager *memfd_manager(const char *name)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	if (!cfg || zcp_mempool_config_add_entry(cfg, 256, 16) ||
	    zcp_mempool_config_add_entry(cfg, 4096, 4) ||
	    zcp_mempool_config_set_backend(cfg, ZCP_BACKEND_MEMFD) ||
	    zcp_mempool_manager_create(name ? name : zt_name(), cfg, &m))
		m = NULL;
	zcp_mempool_config_free(cfg);
	return m;
}

/* The child side of the main scenario: attach, take a chunk, write it,
 * pass its handle to the parent, wait, try to resize the segments. */
static int client(const char *path, int tx, int rx)
{
	zcp_mempool_manager *m;
	int mfd, dfd;
	char go;

	if (zcp_mempool_manager_attach_socket(path, &m))
		return 1;
	zcp_chunk *c = zcp_chunk_get(m, 100);
	if (!c)
		return 2;
	strcpy(zcp_chunk_data(c), "written by the socket client");
	uint64_t h = zcp_chunk_handle(m, c);
	if (write(tx, &h, sizeof h) != sizeof h || read(rx, &go, 1) != 1)
		return 3;
	if (zcp_chunk_release(m, c))
		return 4;
	/* A hostile client with the descriptors in hand. */
	if (zcp_mempool_manager_fds(m, &mfd, &dfd))
		return 5;
	int fds[2] = {mfd, dfd};
	for (int i = 0; i < 2; i++) {
		struct stat st;
		if (fstat(fds[i], &st))
			return 6;
		if (ftruncate(fds[i], st.st_size - 4096) == 0 || errno != EPERM)
			return 7;
		if (ftruncate(fds[i], st.st_size + 4096) == 0 || errno != EPERM)
			return 8;
		if (fcntl(fds[i], F_GETFD) != FD_CLOEXEC)
			return 9;
	}
	zcp_mempool_manager_detach(m);
	return 0;
}

static void main_scenario(zcp_mempool_manager *m, zcp_broker *b)
{
	int up[2], down[2];
	if (pipe(up) || pipe(down))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		_exit(client(zcp_broker_path(b), up[1], down[0]));
	}
	close(up[1]);
	close(down[0]);
	is_int(zcp_broker_serve(b, 5000), 1, "the broker serves one client");
	uint64_t h = 0;
	ok(read(up[0], &h, sizeof h) == sizeof h, "the client took a chunk and sent its handle");
	zcp_chunk *c = zcp_chunk_from_handle(m, h);
	ok(c && zcp_chunk_ref(m, c) == 0, "the server resolves and references it");
	is_string(c ? (char *)zcp_chunk_data(c) : "", "written by the socket client",
		  "the server sees the client's bytes");
	zcp_pool_stats st;
	ok(zcp_mempool_manager_pool_stats(m, 0, &st) == 0 && st.used == 1,
	   "one chunk in use in the shared pool");
	if (c)
		zcp_chunk_release(m, c);
	ok(write(down[1], "g", 1) == 1, "(let the client go on)");
	zt_ok_child(pid, "client: release; ftruncate of both received segments, shrink and grow: "
			 "EPERM; descriptors close-on-exec");
	ok(zcp_mempool_manager_pool_stats(m, 0, &st) == 0 && st.used == 0,
	   "every chunk back in its pool");
	close(up[0]);
	close(down[1]);
}

/* A read-only attach through the broker: no process slot, pools visible,
 * every writing call EPERM. */
static void read_only_client(zcp_mempool_manager *m, zcp_broker *b)
{
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_attach_options o;
		zcp_mempool_manager *r = NULL;
		zcp_attach_options_init(&o);
		o.read_only = 1;
		o.socket_path = zcp_broker_path(b);
		ZT_CHECK(zcp_mempool_manager_attach_opts(NULL, &o, &r) == 0);
		zcp_pool_stats s;
		ZT_CHECK(zcp_mempool_manager_pool_stats(r, 0, &s) == 0);
		ZT_CHECK(zcp_mempool_manager_process_id(r) == 0 && zcp_chunk_get(r, 1) == NULL &&
			 errno == EPERM);
		zcp_mempool_manager_detach(r);
		_exit(0);
	}
	is_int(zcp_broker_serve(b, 5000), 1, "read-only: the broker serves the client");
	zt_ok_child(pid, "read-only through the broker: stats work, no slot, get is EPERM");
	int live = 0;
	for (int i = 0; i < zcp_mempool_manager_process_slots(m); i++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, i, &pi) == 0 && pi.pid != 0)
			live++;
	}
	is_int(live, 1, "read-only: the client never took a slot");
}

/* A client that says something before it reads still gets its answer
 * (closing with unread data would reset the connection). */
static void chatty_client(zcp_broker *b)
{
	int type = 0;
	socklen_t tl = sizeof type;
	getsockopt(zcp_broker_fd(b), SOL_SOCKET, SO_TYPE, &type, &tl);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", zcp_broker_path(b));
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	ok(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
		   send(fd, "hello", 5, MSG_NOSIGNAL) == 5,
	   "chatty client: connects and talks first");
	is_int(zcp_broker_serve(b, 5000), 1, "chatty client: served");
	char buf[128];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(4 * sizeof(int))];
	} ctl;
	struct iovec iov = {buf, sizeof buf};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl, .msg_controllen = sizeof ctl};
	ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	ok(n >= 4 && memcmp(buf, "ZCP1", 4) == 0, "chatty client: gets its answer, not a reset (%zd, %s)",
	   n, n < 0 ? strerror(errno) : "ok");
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t k = 0; k < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++)
				close(((int *)CMSG_DATA(c))[k]);
	if (fd >= 0)
		close(fd);
}

/* Credential checks (root only: needs other uids). */
static void credentials(zcp_mempool_manager *m)
{
	zcp_broker_options o;
	zcp_broker *b = NULL;
	pid_t pid;

	if (geteuid() != 0) {
		for (int i = 0; i < 5; i++)
			skip("not root: cannot connect as another uid");
		return;
	}
	/* Owner only: the directory (0700) and socket (0600) keep others
	 * from even connecting. */
	zcp_broker_options_init(&o);
	o.dir = sockdir;
	if (zcp_broker_listen(m, &o, &b))
		bail("listen");
	pid = zt_fork();
	if (pid == 0)
		child_expect(zcp_broker_path(b), 1, NOBODY, NOBODY, ZCP_EACCES);
	zcp_broker_serve(b, 300);
	zt_ok_child(pid, "owner-only broker: uid %d is refused (ZCP_EACCES)", NOBODY);
	zcp_broker_close(b);

	/* Let others reach the socket; then only the credential check
	 * stands between them and the segments. */
	chmod(tmpdir, 0711);
	chmod(sockdir, 0711);
	zcp_broker_options_init(&o);
	o.dir = sockdir;
	o.allow_gid = TEST_GID;
	if (zcp_broker_listen(m, &o, &b))
		bail("listen");
	pid = zt_fork();
	if (pid == 0)
		child_expect(zcp_broker_path(b), 1, NOBODY, NOBODY, ZCP_EACCES);
	is_int(zcp_broker_serve(b, 5000), 1, "the broker answers a peer outside the group");
	zt_ok_child(pid, "it is denied: \"DENY\", ZCP_EACCES");
	pid = zt_fork();
	if (pid == 0)
		child_expect(zcp_broker_path(b), 1, NOBODY, TEST_GID, 0);
	zcp_broker_serve(b, 5000);
	zt_ok_child(pid, "allow_gid %d: uid %d with primary gid %d attaches", TEST_GID, NOBODY,
		    TEST_GID);
	zcp_broker_close(b);

	zcp_broker_options_init(&o);
	o.dir = sockdir;
	o.allow_uid = NOBODY;
	if (zcp_broker_listen(m, &o, &b))
		bail("listen");
	pid = zt_fork();
	if (pid == 0)
		child_expect(zcp_broker_path(b), 1, NOBODY, NOBODY, 0);
	zcp_broker_serve(b, 5000);
	zt_ok_child(pid, "allow_uid %d: that uid attaches", NOBODY);
	zcp_broker_close(b);
	chmod(sockdir, 0700);
	chmod(tmpdir, 0700);
}

static void paths(zcp_mempool_manager *m)
{
	zcp_broker_options o;
	zcp_broker *b = NULL, *b2 = NULL;
	char dir[256], path[512];
	struct stat st;

	zcp_broker_options_init(&o);
	snprintf(dir, sizeof dir, "%s/open", tmpdir);
	mkdir(dir, 0777);
	chmod(dir, 0777);
	o.dir = dir;
	is_int(zcp_broker_listen(m, &o, &b), ZCP_EACCES, "a world-writable directory is refused");
	chmod(dir, 0770);
	is_int(zcp_broker_listen(m, &o, &b), ZCP_EACCES, "a group-writable directory is refused");
	rmdir(dir);
	snprintf(path, sizeof path, "%s/link", tmpdir);
	if (symlink(sockdir, path) == 0) {
		o.dir = path;
		is_int(zcp_broker_listen(m, &o, &b), ZCP_EACCES,
		       "a symbolic link to a directory is refused");
		unlink(path);
	} else {
		skip("symlink: %s", strerror(errno));
	}
	if (geteuid() == 0) {
		snprintf(dir, sizeof dir, "%s/theirs", tmpdir);
		mkdir(dir, 0700);
		if (chown(dir, NOBODY, NOBODY) == 0) {
			o.dir = dir;
			is_int(zcp_broker_listen(m, &o, &b), ZCP_EACCES,
			       "a directory owned by another uid is refused");
		} else {
			skip("chown: %s", strerror(errno));
		}
		rmdir(dir);
	} else {
		skip("not root: cannot make a directory of another uid");
	}
	o.dir = "relative/dir";
	is_int(zcp_broker_listen(m, &o, &b), ZCP_EINVAL, "a relative directory is refused");

	/* A fresh directory is created 0700. */
	snprintf(dir, sizeof dir, "%s/fresh", tmpdir);
	o.dir = dir;
	is_int(zcp_broker_listen(m, &o, &b), 0, "listen in a missing directory");
	ok(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700,
	   "the directory was created 0700");
	snprintf(path, sizeof path, "%s/zerocp-%s.sock", dir, zcp_mempool_manager_name(m));
	is_string(zcp_broker_path(b), path, "the socket is <dir>/zerocp-<name>.sock");
	ok(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0077) == 0,
	   "it is a socket, for the owner only");
	int fl = fcntl(zcp_broker_fd(b), F_GETFD);
	ok(fl >= 0 && (fl & FD_CLOEXEC) && (fcntl(zcp_broker_fd(b), F_GETFL) & O_NONBLOCK),
	   "the listening socket is close-on-exec and non-blocking");
	is_int(zcp_broker_listen(m, &o, &b2), ZCP_EBUSY, "a second broker on a live socket: ZCP_EBUSY");
	ok(lstat(path, &st) == 0, "and the live socket is still there");

	/* Clients that connect and never read. */
	int idle[100], n_idle = 0;
	for (int i = 0; i < 100; i++) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		strcpy(sa.sun_path, path);
		idle[n_idle] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (idle[n_idle] >= 0 &&
		    connect(idle[n_idle], (struct sockaddr *)&sa, sizeof sa) == 0)
			n_idle++;
		else if (idle[n_idle] >= 0)
			close(idle[n_idle]);
	}
	long t0 = now_ms();
	int served = 0, r;
	while ((r = zcp_broker_serve(b, 0)) > 0)
		served += r;
	/* Plus the probe connection of the refused second listen above. */
	ok(served >= n_idle && served <= n_idle + 1 && now_ms() - t0 < 2000,
	   "%d clients that never read are answered in %ld ms without blocking", served,
	   now_ms() - t0);
	for (int i = 0; i < n_idle; i++)
		close(idle[i]);
	t0 = now_ms();
	is_int(zcp_broker_serve(b, 100), 0, "serve with nobody waiting returns 0 on timeout");
	ok(now_ms() - t0 < 1000, "...in about the timeout");

	zcp_broker_close(b);
	ok(lstat(path, &st) < 0 && errno == ENOENT, "close removes the socket");
	ok(stat(dir, &st) == 0, "but not the directory");

	/* A stale socket (bound, nobody listening) is replaced; a file that
	 * is not a socket is not. */
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, path);
	ok(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof sa) == 0, "(a stale socket file)");
	close(s);
	zcp_mempool_manager *x = NULL;
	is_int(zcp_mempool_manager_attach_socket(path, &x), ZCP_ECONNREFUSED,
	       "attach_socket to a stale socket: ZCP_ECONNREFUSED");
	is_int(zcp_broker_listen(m, &o, &b), 0, "listen replaces the stale socket");
	zcp_broker_close(b);
	int f = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(f);
	is_int(zcp_broker_listen(m, &o, &b), ZCP_EEXIST, "a regular file in the way: ZCP_EEXIST");
	ok(lstat(path, &st) == 0 && S_ISREG(st.st_mode), "and it is left alone");
	unlink(path);
	rmdir(dir);
}

/* A fake server sends crafted answers; the client must fail cleanly and
 * close every descriptor it was sent. */
static void hostile_server(zcp_mempool_manager *m)
{
	char path[256];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int mfd, dfd;

	snprintf(path, sizeof path, "%s/fake.sock", sockdir);
	strcpy(sa.sun_path, path);
	int ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 8))
		bail("fake server: %s", strerror(errno));
	zcp_mempool_manager_fds(m, &mfd, &dfd);
	int unsealed = memfd_create("zerocp_fake", MFD_CLOEXEC);
	if (unsealed < 0 || ftruncate(unsealed, 65536))
		bail("memfd_create");
	char name[80];
	snprintf(name, sizeof name, "ZCP1%s", zcp_mempool_manager_name(m));

	static const struct {
		const char *what;
		int kind; /* 0 name+fds, 1 literal text */
		const char *text;
		int fds[4];
		int nfds;
		int want;
	} cases[] = {
		{"three descriptors instead of two", 0, NULL, {0, 1, 0}, 3, ZCP_EPROTO},
		{"one descriptor", 0, NULL, {0}, 1, ZCP_EPROTO},
		{"no descriptor", 0, NULL, {0}, 0, ZCP_EPROTO},
		{"unsealed memfds", 0, NULL, {2, 2}, 2, ZCP_EACCES},
		{"garbage", 1, "HELLO", {0}, 0, ZCP_EPROTO},
		{"DENY with descriptors", 1, "DENY", {0, 1}, 2, ZCP_EPROTO},
		{"a bad manager name", 1, "ZCP1../x", {0, 1}, 2, ZCP_EPROTO},
		{"an overlong answer", 1,
		 "ZCP1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 {0, 1}, 2, ZCP_EPROTO},
		{"an empty answer", 1, "", {0}, 0, ZCP_EPROTO},
		{"DENY", 1, "DENY", {0}, 0, ZCP_EACCES},
		{"the segments swapped", 0, NULL, {1, 0}, 2, -1 /* any error */},
		{"no answer at all (2 s)", 2, NULL, {0}, 0, ZCP_EAGAIN},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		pid_t pid = zt_fork();
		if (pid == 0) {
			close(ls);
			int before = count_fds();
			zcp_mempool_manager *x = NULL;
			int err = zcp_mempool_manager_attach_socket(path, &x);
			ZT_CHECK(!x);
			ZT_CHECK(count_fds() == before);
			_exit(cases[i].want == -1 ? (err < 0 ? 0 : 1) : err == cases[i].want ? 0 : 1);
		}
		struct pollfd pfd = {.fd = ls, .events = POLLIN};
		int cs = poll(&pfd, 1, 5000) == 1 ? accept4(ls, NULL, NULL, SOCK_CLOEXEC) : -1;
		if (cs >= 0 && cases[i].kind != 2) {
			const int pool[3] = {mfd, dfd, unsealed};
			int fds[4];
			for (int k = 0; k < cases[i].nfds; k++)
				fds[k] = pool[cases[i].fds[k]];
			const char *text = cases[i].kind == 0 ? name : cases[i].text;
			struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
			union {
				struct cmsghdr a;
				char b[CMSG_SPACE(4 * sizeof(int))];
			} ctl;
			struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
			if (cases[i].nfds) {
				memset(&ctl, 0, sizeof ctl);
				msg.msg_control = ctl.b;
				msg.msg_controllen = CMSG_SPACE(cases[i].nfds * sizeof(int));
				struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
				c->cmsg_level = SOL_SOCKET;
				c->cmsg_type = SCM_RIGHTS;
				c->cmsg_len = CMSG_LEN(cases[i].nfds * sizeof(int));
				memcpy(CMSG_DATA(c), fds, cases[i].nfds * sizeof(int));
			}
			sendmsg(cs, &msg, MSG_NOSIGNAL);
		}
		if (cases[i].kind == 2) {
			/* Hold the connection open, answer nothing. */
			int st;
			zt_wait(pid, &st);
			close(cs);
			ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			   "hostile server, %s: the client gives up with ZCP_EAGAIN", cases[i].what);
			continue;
		}
		zt_ok_child(pid, "hostile server, %s: clean error, no descriptor leaked",
			    cases[i].what);
		if (cs >= 0)
			close(cs);
	}
	close(unsealed);
	close(ls);
	unlink(path);
}

/* Become uid/gid NOBODY in a child; _exit(90) when that fails. */
static void drop_to_nobody(void)
{
	gid_t g[1] = {NOBODY};
	ZT_CHECK(setgroups(1, g) == 0 && setgid(NOBODY) == 0 && setuid(NOBODY) == 0);
}

/* Squatting (root only: needs another uid).  Another user creates the
 * socket directory first and runs a broker there; or owns the socket
 * file; or runs the listening process itself.  The owner's client must
 * refuse each with ZCP_EOWNER, and the owner's broker must refuse the
 * directory. */
static void squatting(zcp_mempool_manager *m)
{
	char dir[256], path[512];
	int ready[2], stop[2];
	zcp_mempool_manager *x = NULL;
	zcp_broker_options o;
	zcp_broker *b = NULL;
	pid_t pid;
	char c;

	if (geteuid() != 0) {
		for (int i = 0; i < 9; i++)
			skip("not root: cannot squat as another uid");
		return;
	}
	/* A directory anyone may create in, like /tmp. */
	char pub[128];
	snprintf(pub, sizeof pub, "%s/pub", tmpdir);
	chmod(tmpdir, 0711);
	if (mkdir(pub, 0700) || chmod(pub, 01777))
		bail("mkdir %s: %s", pub, strerror(errno));
	snprintf(dir, sizeof dir, "%s/squat", pub);
	snprintf(path, sizeof path, "%s/zerocp-%s.sock", dir, zcp_mempool_manager_name(m));

	/* 1. A squatter's directory, with a broker of the squatter's in it
	 * that admits anyone: what a victim would attach to. */
	if (pipe(ready) || pipe(stop))
		bail("pipe");
	pid = zt_fork();
	if (pid == 0) {
		close(ready[0]);
		close(stop[1]);
		drop_to_nobody();
		/* Memfd segments have no name in /dev/shm: the same
		 * manager name as the victim's, so the same socket path. */
		zcp_mempool_manager *sm = memfd_manager(zcp_mempool_manager_name(m));
		zcp_broker *sb = NULL;
		zcp_broker_options so;
		zcp_broker_options_init(&so);
		so.dir = dir;
		so.allow_uid = 0;
		ZT_CHECK(sm && zcp_broker_listen(sm, &so, &sb) == 0);
		chmod(dir, 0755);
		ZT_CHECK(write(ready[1], "r", 1) == 1);
		struct pollfd pf[2] = {{.fd = zcp_broker_fd(sb), .events = POLLIN},
				       {.fd = stop[0], .events = POLLIN}};
		while (poll(pf, 2, 10000) > 0 && !(pf[1].revents & (POLLIN | POLLHUP)))
			zcp_broker_serve(sb, 0);
		zcp_broker_close(sb);
		zcp_mempool_manager_destroy(sm);
		_exit(0);
	}
	close(ready[1]);
	close(stop[0]);
	ok(read(ready[0], &c, 1) == 1, "(a squatter of uid %d runs a broker in %s)", NOBODY, dir);
	is_int(zcp_mempool_manager_attach_socket(path, &x), ZCP_EOWNER,
	       "attach_socket into a directory of another uid: ZCP_EOWNER");
	is_int(attach_owned(path, ZCP_OWNER_SELF, &x), ZCP_EOWNER,
	       "attach with owner_uid ZCP_OWNER_SELF: ZCP_EOWNER");
	is_int(attach_owned(path, 0, &x), ZCP_EOWNER, "attach with owner_uid 0: ZCP_EOWNER");
	ok(x == NULL, "and no manager handed out");
	int err = attach_owned(path, NOBODY, &x);
	is_int(err, 0, "attach expecting uid %d (the squatter) gets through: the check is what "
		       "protects", NOBODY);
	if (err == 0) {
		zcp_mempool_manager_detach(x);
		x = NULL;
	}
	zcp_broker_options_init(&o);
	o.dir = dir;
	is_int(zcp_broker_listen(m, &o, &b), ZCP_EACCES,
	       "the owner's broker refuses the squatted directory: ZCP_EACCES");
	zcp_broker_close(b);
	b = NULL;
	close(stop[1]);
	zt_ok_child(pid, "the squatter's broker ran and stopped");
	close(ready[0]);
	rmdir(dir);

	/* 2. Our directory, but a socket file of another uid in it. */
	mkdir(dir, 0755);
	int s1 = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		bail("socket path too long: %s", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (s1 < 0 || bind(s1, (struct sockaddr *)&sa, sizeof sa) || listen(s1, 4) ||
	    chown(path, NOBODY, NOBODY))
		bail("socket of another uid: %s", strerror(errno));
	is_int(attach_owned(path, ZCP_OWNER_SELF, &x), ZCP_EOWNER,
	       "a socket file owned by uid %d: ZCP_EOWNER", NOBODY);
	close(s1);
	unlink(path);

	/* 3. Directory and socket file ours, but the listening process is
	 * another uid's (it called listen() after setuid()): SO_PEERCRED
	 * tells. */
	s1 = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s1 < 0 || bind(s1, (struct sockaddr *)&sa, sizeof sa) || pipe(ready) || pipe(stop))
		bail("bind: %s", strerror(errno));
	pid = zt_fork();
	if (pid == 0) {
		close(ready[0]);
		close(stop[1]);
		drop_to_nobody();
		ZT_CHECK(listen(s1, 4) == 0 && write(ready[1], "r", 1) == 1);
		ZT_CHECK(read(stop[0], &c, 1) >= 0);
		_exit(0);
	}
	close(ready[1]);
	close(stop[0]);
	ok(read(ready[0], &c, 1) == 1, "(uid %d listens on our socket)", NOBODY);
	is_int(attach_owned(path, ZCP_OWNER_SELF, &x), ZCP_EOWNER,
	       "a broker running as uid %d (SO_PEERCRED): ZCP_EOWNER", NOBODY);
	close(stop[1]);
	zt_ok_child(pid, "(the listener stops)");
	close(ready[0]);
	close(s1);
	unlink(path);
	rmdir(dir);
	rmdir(pub);
	chmod(tmpdir, 0700);

	zcp_attach_options ao;
	zcp_attach_options_init(&ao);
	ao.owner_uid = -3;
	is_int(zcp__broker_attach(path, &ao, &x), ZCP_EINVAL, "owner_uid below ZCP_OWNER_ANY: ZCP_EINVAL");
}

/* A client whose descriptor table has room for the socket and one more
 * descriptor only: the kernel drops the second segment's (MSG_CTRUNC);
 * that is "too many open files", not a protocol error. */
static void no_room(zcp_mempool_manager *m, zcp_broker *b)
{
	pid_t pid = zt_fork();
	if (pid == 0) {
		/* The smallest limit leaving exactly two free descriptors. */
		int lim, used = 0;
		for (lim = 1; lim < 1024; lim++) {
			if (fcntl(lim - 1, F_GETFD) != -1)
				used++;
			if (lim - used == 2)
				break;
		}
		struct rlimit rl = {.rlim_cur = (rlim_t)lim, .rlim_max = (rlim_t)lim};
		ZT_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
		zcp_mempool_manager *x = NULL;
		int err = zcp_mempool_manager_attach_socket(zcp_broker_path(b), &x);
		if (err != ZCP_EMFILE)
			ZT_NOTE("attach_socket returned %d (%s), want ZCP_EMFILE", err, zcp_err_name(err));
		_exit(err == ZCP_EMFILE ? 0 : 10 + (-err % 100));
	}
	zcp_broker_serve(b, 5000);
	zt_ok_child(pid, "no room for the descriptors: ZCP_EMFILE (not ZCP_EPROTO)");
	(void)m;
}

#endif /* HAVE_MEMFD */

int main(void)
{
#ifndef HAVE_MEMFD
	skip_all("memfd backend not built (--disable-memfd or no memfd_create)");
#else
	zcp_mempool_manager *m;
	zcp_broker_options o;
	zcp_broker *b = NULL;

	m = memfd_manager(NULL);
	if (!m)
		skip_all("cannot create a memfd manager here");
	plan_lazy();
	strcpy(tmpdir, "/tmp/zcp-sec-broker-XXXXXX");
	if (!mkdtemp(tmpdir))
		bail("mkdtemp: %s", strerror(errno));
	snprintf(sockdir, sizeof sockdir, "%s/sock", tmpdir);

	zcp_broker_options_init(&o);
	o.dir = sockdir;
	is_int(zcp_broker_listen(m, &o, &b), 0, "a broker listens for the memfd manager");
	if (!b)
		bail("no broker");
	main_scenario(m, b);
	read_only_client(m, b);
	chatty_client(b);
	no_room(m, b);
	zcp_broker_close(b);
	credentials(m);
	paths(m);
	hostile_server(m);
	squatting(m);
	is_int(zcp_mempool_manager_attach_socket("/nonexistent/zerocp.sock", &(zcp_mempool_manager *){NULL}),
	       ZCP_ENOENT, "no socket: ZCP_ENOENT");
	is_int(zcp_mempool_manager_destroy(m), 0, "destroy");
	ok(rmdir(sockdir) == 0 && rmdir(tmpdir) == 0, "nothing left in the socket directories");
	zt_done();
	return done_testing();
#endif
}
