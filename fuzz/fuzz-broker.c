/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the broker's messages, both directions (lib/broker.c,
 * <zerocp/broker.h>).
 *
 * At init: a memfd-backed manager (no /dev/shm name), a private directory
 * under /tmp (0711), and in it
 *   - a real broker for the manager (zcp_broker_listen(), peers of our uid
 *     or root allowed),
 *   - a second real broker in a subdirectory, open to a group we are not
 *     in (socket 0666), to which clients connect as uid 65534 and are
 *     denied (only when run as root: seteuid() around the connect()),
 *   - a listening SOCK_SEQPACKET socket of our own, the fake server.
 * All of it is removed at exit.
 *
 * The first input byte picks the direction:
 *
 *  even: fake clients -> real broker.  1..4 clients connect (as a
 *        SOCK_SEQPACKET, SOCK_STREAM or SOCK_DGRAM socket; allowed, or as
 *        uid 65534 to the denying broker), each may send input bytes with
 *        ancillary data (0..3 descriptors: memfds, a pipe, /dev/null; or
 *        SCM_CREDENTIALS), shut down either side, shrink its receive
 *        buffer, or close before the broker gets to it.  Then
 *        zcp_broker_serve(b, 0) on both brokers, and each client still
 *        there reads the answer and closes what it was sent.  A plain
 *        client (SOCK_SEQPACKET, nothing shut or shrunk) must get exactly
 *        "ZCP1"+name with two sealed memfds when allowed, and exactly
 *        "DENY" with none when denied.
 *
 *  odd:  fake server -> real zcp_mempool_manager_attach_socket().  A thread
 *        accepts the client's connection and answers with input bytes
 *        ("ZCP1" + the real name, "ZCP1" + input bytes, "DENY", or raw
 *        bytes, possibly too long) and 0..3 descriptors (sometimes up to
 *        10), each one of: the real management or data memfd, a sealed
 *        memfd holding a copy of the real management segment with input
 *        bytes written over it, an unsealed memfd, an empty sealed memfd,
 *        a pipe, /dev/null; possibly split over two SCM_RIGHTS headers,
 *        possibly followed by a second message; or it closes without a
 *        word.  A handle the client gets is used and detached.  The
 *        honest answer ("ZCP1"+name, real mgmt, real data) must attach;
 *        "DENY" alone must give ZCP_EACCES.
 *
 * Nothing may crash, hang (-timeout=5) or leak memory or a descriptor: the
 * descriptor count is compared before and after each input.
 */
#define _GNU_SOURCE
#include "handle.h"

#include <zerocp/broker.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define NOBODY 65534
#define DENY_GID 4242

static zcp_mempool_manager *mgr;
static zcp_broker *broker, *brk_deny;
static char dir[64], deny_dir[80], srv_path[96], mname[64];
static int srv_fd = -1;
static int mgmt_fd = -1, data_fd = -1;
static size_t mgmt_size;
static int can_deny; /* root: clients may connect as NOBODY */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                        \
	do {                                                                            \
		if (!(c)) {                                                             \
			fprintf(stderr, "fuzz-broker: %s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #c);                                          \
			__builtin_trap();                                               \
		}                                                                       \
	} while (0)

static void at_exit(void)
{
	zcp_broker_close(broker);
	zcp_broker_close(brk_deny);
	broker = brk_deny = NULL;
	if (srv_fd >= 0) {
		close(srv_fd);
		unlink(srv_path);
	}
	if (mgr)
		zcp_mempool_manager_destroy(mgr);
	mgr = NULL;
	rmdir(deny_dir);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_broker_options o;
	struct sockaddr_un sa;

	(void)argc;
	(void)argv;
#ifndef HAVE_MEMFD
	return 0; /* no broker in this build: every input is a no-op */
#endif
	can_deny = geteuid() == 0;
	snprintf(mname, sizeof mname, "fuzzbroker%ld", (long)getpid());
	if (!cfg || zcp_mempool_config_add_entry(cfg, 64, 4) ||
	    zcp_mempool_config_add_entry(cfg, 512, 2) ||
	    zcp_mempool_config_set_max_processes(cfg, 8) ||
	    zcp_mempool_config_set_backend(cfg, ZCP_BACKEND_MEMFD) ||
	    zcp_mempool_manager_create(mname, cfg, &mgr))
		abort();
	zcp_mempool_config_free(cfg);
	if (zcp_mempool_manager_fds(mgr, &mgmt_fd, &data_fd))
		abort();
	mgmt_size = mgr->geo.mgmt_size;
	atexit(at_exit);

	snprintf(dir, sizeof dir, "/tmp/zcpfuzzbrokerXXXXXX");
	if (!mkdtemp(dir) || chmod(dir, 0711))
		abort();
	snprintf(deny_dir, sizeof deny_dir, "%s/deny", dir);
	if (mkdir(deny_dir, 0711) || chmod(deny_dir, 0711))
		abort();
	zcp_broker_options_init(&o);
	o.dir = dir;
	if (zcp_broker_listen(mgr, &o, &broker))
		abort();
	o.dir = deny_dir;
	o.allow_gid = DENY_GID;
	if (zcp_broker_listen(mgr, &o, &brk_deny))
		abort();

	snprintf(srv_path, sizeof srv_path, "%s/fake.sock", dir);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", srv_path);
	srv_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&sa, sizeof sa) || listen(srv_fd, 8))
		abort();
	return 0;
}

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

static size_t take_bytes(struct input *in, void *buf, size_t want)
{
	size_t n = want < in->n ? want : in->n;
	memcpy(buf, in->p, n);
	in->p += n;
	in->n -= n;
	return n;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int sealed_memfd(const void *content, size_t len, int seal)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if ((len && (ftruncate(fd, (off_t)len) || pwrite(fd, content, len, 0) != (ssize_t)len)) ||
	    (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A descriptor of kind k, opened for this message (the caller closes
 * it).  Kinds 0 and 1 are duplicates of the real segments. */
static int make_fd(unsigned k, struct input *in, int pipe_end[2])
{
	switch (k % 8) {
	case 0:
		return dup(mgmt_fd);
	case 1:
		return dup(data_fd);
	case 2: { /* the real image, with input bytes over it */
		unsigned char *img = malloc(mgmt_size);
		if (!img)
			return -1;
		memcpy(img, mgr->mgmt, mgmt_size);
		unsigned n = (unsigned)take(in, 1) % 4;
		for (unsigned i = 0; i < n; i++) {
			size_t off = (size_t)take(in, 2);
			off = off & 0x8000 ? off % mgmt_size : off % 1024;
			unsigned char b[8];
			size_t got = take_bytes(in, b, 8);
			for (size_t j = 0; j < got && off + j < mgmt_size; j++)
				img[off + j] = b[j];
		}
		int fd = sealed_memfd(img, mgmt_size, 1);
		free(img);
		return fd;
	}
	case 3:
		return sealed_memfd(mgr->mgmt, mgmt_size, 0);
	case 4:
		return sealed_memfd(NULL, 0, 1);
	case 5:
		if (pipe_end[0] < 0 && pipe2(pipe_end, O_CLOEXEC))
			return -1;
		return dup(pipe_end[0]);
	case 6:
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	default: { /* a sealed memfd of the data segment's size, all zero */
		int fd = memfd_create("fuzzd", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		if (fd >= 0 && (ftruncate(fd, (off_t)mgr->geo.data_size) ||
				fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW))) {
			close(fd);
			fd = -1;
		}
		return fd;
	}
	}
}

/* --- fake clients against the real brokers ------------------------------- */

struct client {
	int fd;
	int plain;  /* nothing unusual: the answer is checked */
	int denied; /* connected as NOBODY to the denying broker */
};

static int client_connect(struct client *c, unsigned flags)
{
	static const int types[4] = {SOCK_SEQPACKET, SOCK_SEQPACKET, SOCK_STREAM, SOCK_DGRAM};
	struct sockaddr_un sa;
	int type = types[flags & 3];

	c->denied = can_deny && (flags & 4);
	c->plain = type == SOCK_SEQPACKET;
	c->fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s",
		 zcp_broker_path(c->denied ? brk_deny : broker));
	if (c->denied && seteuid(NOBODY))
		abort();
	int r = connect(c->fd, (struct sockaddr *)&sa, sizeof sa);
	if (c->denied && seteuid(0))
		abort();
	if (r < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

/* Send input bytes with ancillary data the broker never asked for. */
static void client_send(struct client *c, struct input *in, unsigned flags)
{
	char buf[256];
	size_t len = take_bytes(in, buf, (size_t)take(in, 1) % sizeof buf);
	int fds[3], nfds = (int)((flags >> 3) & 3), pipe_end[2] = {-1, -1};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(3 * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg;

	if (nfds == 3 && (flags & 0x80))
		nfds = 0; /* credentials instead */
	for (int i = 0; i < nfds; i++)
		fds[i] = make_fd((unsigned)take(in, 1), in, pipe_end);
	memset(&msg, 0, sizeof msg);
	memset(&ctl, 0, sizeof ctl);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof ctl.buf;
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	size_t clen = 0;
	int ok = 1;
	for (int i = 0; i < nfds; i++)
		ok &= fds[i] >= 0;
	if (nfds && ok) {
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
		clen = CMSG_SPACE((size_t)nfds * sizeof(int));
	} else if ((flags & 0x98) == 0x98) {
		struct ucred cr = {getpid(), geteuid(), getegid()};
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_CREDENTIALS;
		cm->cmsg_len = CMSG_LEN(sizeof cr);
		memcpy(CMSG_DATA(cm), &cr, sizeof cr);
		clen = CMSG_SPACE(sizeof cr);
	}
	msg.msg_controllen = clen;
	if (!clen)
		msg.msg_control = NULL;
	(void)sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	for (int i = 0; i < nfds; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (pipe_end[0] >= 0) {
		close(pipe_end[0]);
		close(pipe_end[1]);
	}
}

/* Read what the broker answered; check it for a plain client. */
static void client_read(struct client *c)
{
	char buf[256];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(16 * sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
	struct msghdr msg;
	int got[16], ngot = 0;

	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof ctl.buf;
	ssize_t r = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (r >= 0) {
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < n && ngot < 16; i++)
				memcpy(&got[ngot++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
		}
	}
	if (getenv("FUZZ_BROKER_DEBUG"))
		fprintf(stderr, "client denied=%d plain=%d: r=%zd (%s) %.*s ngot=%d\n", c->denied,
			c->plain, r, r < 0 ? strerror(errno) : "", r > 0 ? (int)r : 0, buf, ngot);
	if (c->plain) {
		size_t nlen = strlen(mname);
		if (c->denied) {
			CHECK(r == 4 && memcmp(buf, "DENY", 4) == 0 && ngot == 0);
		} else {
			CHECK(r == (ssize_t)(4 + nlen) && memcmp(buf, "ZCP1", 4) == 0 &&
			      memcmp(buf + 4, mname, nlen) == 0 && ngot == 2);
			for (int i = 0; i < 2; i++) {
				int seals = fcntl(got[i], F_GET_SEALS);
				CHECK(seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) ==
							    (F_SEAL_SHRINK | F_SEAL_GROW));
			}
		}
	}
	for (int i = 0; i < ngot; i++)
		close(got[i]);
}

static void run_clients(struct input *in)
{
	struct client cl[4];
	unsigned n = (unsigned)take(in, 1) % 4 + 1;
	int any = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned flags = (unsigned)take(in, 1);
		unsigned more = (unsigned)take(in, 1);
		if (client_connect(&cl[i], flags)) {
			continue;
		}
		any = 1;
		if (flags & 0x20) {
			client_send(&cl[i], in, flags);
			/* The broker never reads: closing with our message
			 * unread resets the connection, and the answer may be
			 * lost to ECONNRESET (see the README). */
			cl[i].plain = 0;
		}
		if (more & 3) {
			/* 1: no more sending, 2: no more reading, 3: neither */
			shutdown(cl[i].fd, (int)(more & 3) - 1);
			if (more & 1) /* SHUT_RD or SHUT_RDWR */
				cl[i].plain = 0;
		}
		if (more & 4) {
			int one = 1;
			setsockopt(cl[i].fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof one);
			cl[i].plain = 0;
		}
		if (more & 8) {
			close(cl[i].fd);
			cl[i].fd = -1;
		}
	}
	if (any) {
		int a = zcp_broker_serve(broker, 0);
		int b = zcp_broker_serve(brk_deny, 0);
		CHECK(a >= 0 && b >= 0);
	}
	for (unsigned i = 0; i < n; i++) {
		if (cl[i].fd < 0)
			continue;
		client_read(&cl[i]);
		close(cl[i].fd);
	}
	/* Nobody left waiting for the next input. */
	CHECK(zcp_broker_serve(broker, 0) == 0 && zcp_broker_serve(brk_deny, 0) == 0);
}

/* --- a fake server against the real client ------------------------------- */

struct answer {
	char msg[160];
	size_t len;
	int fds[10];
	int nfds;
	int split;    /* two SCM_RIGHTS headers */
	int second;   /* a second message after the first */
	int silent;   /* close without a word */
	int honest;   /* "ZCP1"+name, real mgmt, real data */
	int deny;     /* "DENY" alone */
	int fd_fail;  /* a descriptor could not be made */
};

static void *serve_fake(void *arg)
{
	struct answer *a = arg;
	struct pollfd pfd = {.fd = srv_fd, .events = POLLIN};
	if (poll(&pfd, 1, 3000) != 1)
		return NULL;
	int cfd = accept4(srv_fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return NULL;
	if (!a->silent) {
		union {
			struct cmsghdr align;
			char buf[2 * CMSG_SPACE(10 * sizeof(int))];
		} ctl;
		struct iovec iov = {.iov_base = a->msg, .iov_len = a->len};
		struct msghdr msg;
		memset(&msg, 0, sizeof msg);
		memset(&ctl, 0, sizeof ctl);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (a->nfds) {
			int first = a->split ? a->nfds / 2 : a->nfds;
			msg.msg_control = ctl.buf;
			msg.msg_controllen = sizeof ctl.buf;
			struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN((size_t)first * sizeof(int));
			memcpy(CMSG_DATA(cm), a->fds, (size_t)first * sizeof(int));
			msg.msg_controllen = CMSG_SPACE((size_t)first * sizeof(int));
			if (first < a->nfds) {
				cm = (struct cmsghdr *)(ctl.buf + msg.msg_controllen);
				int rest = a->nfds - first;
				cm->cmsg_level = SOL_SOCKET;
				cm->cmsg_type = SCM_RIGHTS;
				cm->cmsg_len = CMSG_LEN((size_t)rest * sizeof(int));
				memcpy(CMSG_DATA(cm), a->fds + first, (size_t)rest * sizeof(int));
				msg.msg_controllen += CMSG_SPACE((size_t)rest * sizeof(int));
			}
		}
		(void)sendmsg(cfd, &msg, MSG_NOSIGNAL);
		if (a->second) {
			msg.msg_controllen = 0;
			msg.msg_control = NULL;
			(void)sendmsg(cfd, &msg, MSG_NOSIGNAL);
		}
	}
	close(cfd);
	return NULL;
}

static void run_server(struct input *in)
{
	struct answer a;
	int pipe_end[2] = {-1, -1};
	unsigned kind = (unsigned)take(in, 1);
	unsigned fl = (unsigned)take(in, 1);
	size_t nlen = strlen(mname);

	memset(&a, 0, sizeof a);
	switch (kind % 6) {
	case 0: /* the honest answer, unless the descriptors say otherwise */
	case 1:
		memcpy(a.msg, "ZCP1", 4);
		memcpy(a.msg + 4, mname, nlen);
		a.len = 4 + nlen;
		break;
	case 2:
		memcpy(a.msg, "ZCP1", 4);
		a.len = 4 + take_bytes(in, a.msg + 4, (size_t)take(in, 1) % 80);
		break;
	case 3:
		memcpy(a.msg, "DENY", 4);
		a.len = 4;
		break;
	default:
		a.len = take_bytes(in, a.msg, (size_t)take(in, 1) % sizeof a.msg);
		break;
	}
	a.nfds = (int)(fl & 3);
	if ((fl & 0xc0) == 0xc0)
		a.nfds = 4 + (int)((fl >> 2) & 7) % 7; /* 4..10 */
	a.split = !!(fl & 0x10);
	a.second = !!(fl & 0x20);
	a.silent = (fl & 0xcc) == 0x0c; /* rarely */
	if ((kind % 6) < 2 && a.nfds == 2 && !(fl & 0xc0) && (kind & 0x40)) {
		/* The honest answer itself. */
		a.fds[0] = dup(mgmt_fd);
		a.fds[1] = dup(data_fd);
		a.honest = !a.silent;
	} else {
		for (int i = 0; i < a.nfds; i++) {
			a.fds[i] = make_fd((unsigned)take(in, 1), in, pipe_end);
			a.fd_fail |= a.fds[i] < 0;
		}
	}
	if (a.fd_fail) {
		for (int i = 0; i < a.nfds; i++)
			if (a.fds[i] >= 0)
				close(a.fds[i]);
		if (pipe_end[0] >= 0) {
			close(pipe_end[0]);
			close(pipe_end[1]);
		}
		return;
	}
	a.deny = (kind % 6) == 3 && a.nfds == 0 && !a.silent;

	pthread_t t;
	if (pthread_create(&t, NULL, serve_fake, &a))
		abort();
	zcp_mempool_manager *m = NULL;
	int err = zcp_mempool_manager_attach_socket(srv_path, &m);
	pthread_join(t, NULL);
	for (int i = 0; i < a.nfds; i++)
		close(a.fds[i]);
	if (pipe_end[0] >= 0) {
		close(pipe_end[0]);
		close(pipe_end[1]);
	}
	if (a.honest)
		CHECK(err == 0);
	if (a.deny)
		CHECK(err == ZCP_EACCES);
	if (err == 0) {
		CHECK(m != NULL);
		zcp_chunk *c = zcp_chunk_get(m, 32);
		if (c) {
			memset(zcp_chunk_data(c), 0x5a, 32);
			zcp_chunk_release(m, c);
		}
		zcp_pool_stats st;
		(void)zcp_mempool_manager_pool_stats(m, 0, &st);
		(void)zcp_mempool_manager_check(m);
		zcp_mempool_manager_detach(m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	int fds = count_fds();

	if (!mgr)
		return 0; /* built without memfd */
	if (take(&in, 1) & 1)
		run_server(&in);
	else
		run_clients(&in);
	CHECK(count_fds() == fds);
	return 0;
}
