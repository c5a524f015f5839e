/* SPDX-License-Identifier: MIT */
/* The sealed-memfd attach broker (see <zerocp/broker.h>).
 *
 * Why SOCK_SEQPACKET: the answer is one message whose boundaries the
 * kernel keeps, so the client reads it whole in one recvmsg() together
 * with its descriptors, and a short or oversized answer is a protocol
 * error rather than something to reassemble.
 *
 * Why SO_PEERCRED (through zcp__peer_cred(), platform.h): the kernel
 * records the credentials of the process that called connect(), at that moment; the peer cannot forge them (unlike
 * SCM_CREDENTIALS, which a root peer can choose).
 *
 * What we trust: the directory (ours, writable by nobody else, so nobody
 * else can put a socket of theirs at our path) and the kernel.  The client
 * does not trust the path it was given: another user may have created the
 * directory first (squatting /tmp/zerocp-<uid>) and run a broker of its
 * own there.  So it checks, against the uid expected to run the broker
 * (zcp_attach_options.owner_uid), the directory (owned by that uid, a real
 * directory, writable by nobody else), the socket file (owned by that
 * uid) and, authoritatively, the broker's uid as the kernel reports it for
 * the connected socket (SO_PEERCRED); any mismatch is ZCP_EOWNER.  Then it
 * checks what it receives: seals, descriptor count, message shape; the
 * segment contents are validated by zcp_mempool_manager_attach_fds() as
 * for any attach.
 *
 * Floods.  A broker that admits a group (allow_gid) has a socket anyone
 * may connect to, so a refused user can flood it with connections.  Then:
 * the backlog is as large as the system allows (SOMAXCONN); every
 * zcp_broker_serve() call drains the whole backlog (up to SERVE_MAX
 * connections) rather than a few; a refused peer costs an accept, a
 * getsockopt and a four-byte "DENY", and once a uid has been refused
 * DENY_PER_UID times in one call its further connections in that call are
 * closed unanswered; and a client whose connect finds the backlog full
 * (EAGAIN) retries with exponential backoff, 1 ms doubling to 64 ms, for
 * at most CONNECT_RETRY_MS (2 s) in all, before giving up with ZCP_EAGAIN.
 */
#include "handle.h"
#include "platform.h"

#include <errno.h>
#include <string.h>

#ifdef HAVE_MEMFD

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HELLO "ZCP1"
#define DENY "DENY"
#define TAG_LEN 4
/* Most descriptors a client accepts in one answer (more are closed). */
#define MAX_FDS 8
/* How long a client waits for the answer. */
#define ANSWER_TIMEOUT_MS 2000
/* Most connections one zcp_broker_serve() call accepts, so a flood of
 * clients cannot keep it from returning: a few full backlogs. */
#define SERVE_MAX 16384
/* Refused connections one uid gets a "DENY" for in one serve call; its
 * further ones in that call are closed without an answer (cheaper, and a
 * refusal all the same). */
#define DENY_PER_UID 32
/* Distinct refused uids counted per call; more share one count. */
#define DENY_UIDS 16
/* How long a client retries a connect that finds the backlog full, and
 * its backoff, from 1 ms doubling to CONNECT_BACKOFF_MAX_MS. */
#define CONNECT_RETRY_MS 2000
#define CONNECT_BACKOFF_MAX_MS 64

struct zcp_broker {
	zcp_mempool_manager *mgr;
	int fd;
	uid_t uid;
	long allow_uid, allow_gid;
	dev_t dev; /* the socket file we bound, to unlink only it */
	ino_t ino;
	char name[ZCP_MANAGER_NAME_MAX + 1];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};


/* Both resize seals: nobody can shrink (SIGBUS for others) or grow it. */
static int fd_sealed(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 &&
	       (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) == (F_SEAL_SHRINK | F_SEAL_GROW);
}

static int id_valid(long id)
{
	/* -1 is "none"; (uid_t)-1 is not an id either. */
	return id == -1 || (id >= 0 && (long)(uid_t)id == id && (uid_t)id != (uid_t)-1);
}

/* The socket directory: created 0700 if missing, then it must be a
 * directory (lstat: not a symlink) owned by us and writable by no one
 * else.  Group/other search or read bits are allowed: they let permitted
 * peers of other uids reach the socket, and reaching it grants nothing. */
static int prepare_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return zcp__neg_errno();
	if (lstat(dir, &st) < 0)
		return zcp__neg_errno();
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return ZCP_EACCES;
	return 0;
}

static int sun_fill(struct sockaddr_un *sa, const char *path)
{
	size_t len = strlen(path);
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (len == 0)
		return ZCP_EINVAL;
	if (len >= sizeof sa->sun_path)
		return ZCP_ENAMETOOLONG;
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

/* Whether something accepts connections at sa: 1 yes, 0 no (stale). */
static int someone_listens(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 1; /* cannot tell: do not remove anything */
	int r = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
	int e = errno;
	close(fd);
	if (r == 0)
		return 1;
	/* A full backlog (EAGAIN) is a live listener too; a socket of
	 * another type (EPROTOTYPE) belongs to someone else. */
	return !(e == ECONNREFUSED);
}

/* Bind fd at sa, replacing a stale socket (never a live one, never a
 * file of another kind). */
static int bind_path(int fd, const struct sockaddr_un *sa)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) == 0)
			return 0;
		if (errno != EADDRINUSE)
			return zcp__neg_errno();
		struct stat st;
		if (lstat(sa->sun_path, &st) < 0) {
			if (errno == ENOENT)
				continue;
			return zcp__neg_errno();
		}
		if (!S_ISSOCK(st.st_mode))
			return ZCP_EEXIST;
		if (someone_listens(sa))
			return ZCP_EBUSY;
		if (unlink(sa->sun_path) < 0 && errno != ENOENT)
			return zcp__neg_errno();
	}
	return ZCP_EBUSY;
}

void zcp_broker_options_init(zcp_broker_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof *opts);
	opts->dir = NULL;
	opts->allow_uid = -1;
	opts->allow_gid = -1;
}

int zcp_broker_listen(zcp_mempool_manager *mgr, const zcp_broker_options *opts, zcp_broker **out)
{
	zcp_broker_options defaults;
	char dirbuf[PATH_MAX];
	const char *dir;
	struct sockaddr_un sa;
	int mfd, dfd, err;

	if (!mgr || !out)
		return ZCP_EINVAL;
	if (!opts) {
		zcp_broker_options_init(&defaults);
		opts = &defaults;
	}
	if (!id_valid(opts->allow_uid) || !id_valid(opts->allow_gid))
		return ZCP_EINVAL;
	for (size_t i = 0; i < ZCP_ARRAY_SIZE(opts->reserved); i++)
		if (opts->reserved[i])
			return ZCP_EINVAL;
	if ((err = zcp_mempool_manager_fds(mgr, &mfd, &dfd)))
		return err;
	if (!fd_sealed(mfd) || !fd_sealed(dfd))
		return ZCP_EINVAL;

	dir = opts->dir;
	if (!dir) {
		const char *xdg = getenv("XDG_RUNTIME_DIR");
		if (xdg && xdg[0] == '/') {
			dir = xdg;
		} else {
			int n = snprintf(dirbuf, sizeof dirbuf, "/tmp/zerocp-%lu",
					 (unsigned long)geteuid());
			if (n < 0 || (size_t)n >= sizeof dirbuf)
				return ZCP_ENAMETOOLONG;
			dir = dirbuf;
		}
	}
	if (dir[0] != '/')
		return ZCP_EINVAL;

	zcp_broker *b = calloc(1, sizeof *b);
	if (!b)
		return ZCP_ENOMEM;
	b->mgr = mgr;
	b->fd = -1;
	b->uid = geteuid();
	b->allow_uid = opts->allow_uid;
	b->allow_gid = opts->allow_gid;
	/* The name was validated at create/attach: at most
	 * ZCP_MANAGER_NAME_MAX characters of [A-Za-z0-9._-]. */
	snprintf(b->name, sizeof b->name, "%s", zcp_mempool_manager_name(mgr));
	int n = snprintf(b->path, sizeof b->path, "%s/zerocp-%s.sock", dir, b->name);
	if (n < 0 || (size_t)n >= sizeof b->path) {
		err = ZCP_ENAMETOOLONG;
		goto fail;
	}
	if ((err = prepare_dir(dir)))
		goto fail;
	if ((err = sun_fill(&sa, b->path)))
		goto fail;
	b->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (b->fd < 0) {
		err = zcp__neg_errno();
		goto fail;
	}
	if ((err = bind_path(b->fd, &sa)))
		goto fail;
	struct stat st;
	if (lstat(b->path, &st) < 0) {
		err = zcp__neg_errno();
		goto fail_unlink;
	}
	b->dev = st.st_dev;
	b->ino = st.st_ino;
	/* Who may connect() is decided by the directory and, authoritatively,
	 * by the credential check; the socket itself is open to anyone who
	 * can reach it only if someone besides us is allowed. */
	int others = (b->allow_uid != -1 && (uid_t)b->allow_uid != b->uid) || b->allow_gid != -1;
	if (chmod(b->path, others ? 0666 : 0600) < 0) {
		err = zcp__neg_errno();
		goto fail_unlink;
	}
	/* As long a queue as the system allows (the kernel caps it at
	 * net.core.somaxconn): a flood of refused clients must not leave
	 * allowed ones with a full backlog. */
	if (listen(b->fd, SOMAXCONN > 4096 ? SOMAXCONN : 4096) < 0) {
		err = zcp__neg_errno();
		goto fail_unlink;
	}
	*out = b;
	return 0;

fail_unlink:
	unlink(b->path);
fail:
	if (b->fd >= 0)
		close(b->fd);
	free(b);
	return err;
}

int zcp_broker_fd(const zcp_broker *b)
{
	return b ? b->fd : ZCP_EINVAL;
}

const char *zcp_broker_path(const zcp_broker *b)
{
	return b ? b->path : NULL;
}

/* Whether the peer of cfd may have the descriptors; its uid in *uid
 * ((uid_t)-1 when the kernel would not say). */
static int peer_allowed(const zcp_broker *b, int cfd, uid_t *uid)
{
	uid_t cuid;
	gid_t cgid;

	*uid = (uid_t)-1;
	if (zcp__peer_cred(cfd, &cuid, &cgid) != 0)
		return 0;
	*uid = cuid;
	if (cuid == 0 || cuid == b->uid)
		return 1;
	if (b->allow_uid != -1 && cuid == (uid_t)b->allow_uid)
		return 1;
	if (b->allow_gid != -1 && cgid == (gid_t)b->allow_gid)
		return 1;
	return 0;
}

/* Send one answer; never blocks (a one-message answer fits in an empty
 * socket buffer; if it does not, the client loses), never raises
 * SIGPIPE. */
static void send_answer(int cfd, struct msghdr *msg)
{
	ssize_t r;
	do
		r = sendmsg(cfd, msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
}

/* Before closing: read and drop whatever a client sent (a bounded number
 * of messages, never blocking).  Closing a Unix socket with unread data
 * resets it, and the client would see ECONNRESET instead of our answer.
 * No control buffer: descriptors sent to us are discarded by the kernel. */
static void drain(int cfd)
{
	char sink[256];
	for (int i = 0; i < 16; i++)
		if (recv(cfd, sink, sizeof sink, MSG_DONTWAIT) <= 0)
			break;
}

/* Answer an allowed peer: "ZCP1" + name, with both descriptors. */
static void answer_allowed(zcp_broker *b, int cfd)
{
	char buf[TAG_LEN + ZCP_MANAGER_NAME_MAX];
	struct iovec iov;
	struct msghdr msg;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} ctl;
	int fds[2];

	if (zcp_mempool_manager_fds(b->mgr, &fds[0], &fds[1]) != 0)
		return;
	size_t nlen = strlen(b->name);
	memcpy(buf, HELLO, TAG_LEN);
	memcpy(buf + TAG_LEN, b->name, nlen);
	iov.iov_base = buf;
	iov.iov_len = TAG_LEN + nlen;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	memset(&ctl, 0, sizeof ctl);
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof ctl.buf;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), fds, sizeof fds);
	send_answer(cfd, &msg);
}

/* Refused peers counted in one serve call, per uid. */
struct deny_count {
	unsigned n;
	struct {
		uid_t uid;
		unsigned count;
	} u[DENY_UIDS];
	unsigned overflow;
};

/* Answer a refused peer with "DENY", unless its uid has had its share in
 * this call: then nothing (the connection is just closed).  No other
 * work is done for it. */
static void answer_denied(struct deny_count *dc, uid_t uid, int cfd)
{
	static const char deny[TAG_LEN] = DENY;
	unsigned *count = &dc->overflow;

	for (unsigned i = 0; i < dc->n; i++)
		if (dc->u[i].uid == uid)
			count = &dc->u[i].count;
	if (count == &dc->overflow && dc->n < DENY_UIDS) {
		dc->u[dc->n].uid = uid;
		dc->u[dc->n].count = 0;
		count = &dc->u[dc->n++].count;
	}
	if (++*count > DENY_PER_UID)
		return;
	struct iovec iov = {.iov_base = (void *)deny, .iov_len = TAG_LEN};
	struct msghdr msg;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	send_answer(cfd, &msg);
}

int zcp_broker_serve(zcp_broker *b, int timeout_ms)
{
	struct deny_count dc;
	int served = 0;

	if (!b)
		return ZCP_EINVAL;
	int mfd, dfd, err = zcp_mempool_manager_fds(b->mgr, &mfd, &dfd);
	if (err)
		return err;
	struct pollfd pfd = {.fd = b->fd, .events = POLLIN};
	int r = poll(&pfd, 1, timeout_ms < 0 ? -1 : timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : zcp__neg_errno();
	if (r == 0)
		return 0;
	dc.n = 0;
	dc.overflow = 0;
	/* Drain the whole backlog: under a flood, the allowed clients queue
	 * behind the refused ones, and every connection left waiting keeps
	 * the queue full for the next. */
	while (served < SERVE_MAX) {
		int cfd = accept4(b->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (cfd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				break;
			/* The client went away between connect and accept. */
			if (errno == ECONNABORTED || errno == EPROTO)
				continue;
			/* A real failure (EMFILE, ENFILE, ENOBUFS...): report
			 * it, even after some clients were answered, so that
			 * the caller knows the broker cannot accept. */
			return zcp__neg_errno();
		}
		uid_t uid;
		if (peer_allowed(b, cfd, &uid))
			answer_allowed(b, cfd);
		else
			answer_denied(&dc, uid, cfd);
		drain(cfd);
		close(cfd);
		served++;
	}
	return served;
}

void zcp_broker_close(zcp_broker *b)
{
	struct stat st;

	if (!b)
		return;
	/* Unlink only the socket we bound, not one that replaced it. */
	if (lstat(b->path, &st) == 0 && st.st_dev == b->dev && st.st_ino == b->ino)
		unlink(b->path);
	close(b->fd);
	free(b);
}

/* --- client --------------------------------------------------------------- */

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Receive the answer: bytes into buf (*len), descriptors into fds
 * (*nfds, all of them, even beyond what the caller wants, so none leak).
 * Returns 0, ZCP_EAGAIN (timeout), ZCP_EPROTO, or a negative errno. */
static int recv_answer(int fd, char *buf, size_t *len, int *fds, int *nfds)
{
	struct timespec t0;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = buf, .iov_len = *len};
	struct msghdr msg;
	ssize_t r;

	*nfds = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left = ANSWER_TIMEOUT_MS - ms_since(&t0);
		if (left <= 0)
			return ZCP_EAGAIN;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int p = poll(&pfd, 1, (int)left);
		if (p < 0 && errno != EINTR)
			return zcp__neg_errno();
		if (p <= 0)
			continue;
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof ctl.buf;
		r = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (r < 0)
			return zcp__neg_errno();
		break;
	}
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n && *nfds < MAX_FDS; i++)
			memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	*len = (size_t)r;
	if (msg.msg_flags & MSG_CTRUNC) {
		/* The kernel dropped descriptors: either they did not fit our
		 * buffer (more than MAX_FDS: a malformed answer) or it could
		 * not install them because our table is full.  Ask the table:
		 * it is as full now as then, as we still hold what came. */
		int probe = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (probe < 0 && (errno == EMFILE || errno == ENFILE))
			return errno == EMFILE ? ZCP_EMFILE : -ENFILE;
		if (probe >= 0)
			close(probe);
		return ZCP_EPROTO;
	}
	/* Truncated: the answer was longer than any valid one. */
	if (msg.msg_flags & MSG_TRUNC)
		return ZCP_EPROTO;
	return 0;
}

/* The uid to check against for owner_uid, or -1 for none (ZCP_OWNER_ANY);
 * -2 for an invalid value. */
static long expected_uid(long owner_uid)
{
	if (owner_uid == ZCP_OWNER_SELF)
		return (long)geteuid();
	if (owner_uid == ZCP_OWNER_ANY)
		return -1;
	if (owner_uid < 0 || (long)(uid_t)owner_uid != owner_uid || (uid_t)owner_uid == (uid_t)-1)
		return -2;
	return owner_uid;
}

/* Before connecting: the socket's directory must be a real directory
 * owned by `uid` and writable by nobody else (else whoever can write it
 * could have put their own socket there), and the socket file must be
 * owned by `uid`.  Returns 0, ZCP_EOWNER, or the lstat() error (ENOENT,
 * EACCES: not reachable for us). */
static int check_path_owner(const char *path, uid_t uid)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	if (lstat(dir, &st) < 0)
		return zcp__neg_errno();
	if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 022))
		return ZCP_EOWNER;
	if (lstat(path, &st) < 0)
		return zcp__neg_errno();
	if (S_ISSOCK(st.st_mode) && st.st_uid != uid)
		return ZCP_EOWNER;
	return 0;
}

/* Connect to the broker at sa, retrying while its backlog is full
 * (EAGAIN) with exponential backoff for at most CONNECT_RETRY_MS.
 * Returns the connected socket, or a negative error: ZCP_EAGAIN (still
 * full), ZCP_EPROTO (not a broker's kind of socket), or the errno. */
static int connect_broker(const struct sockaddr_un *sa)
{
	struct timespec t0;
	long backoff = 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return zcp__neg_errno();
		if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0)
			return fd;
		int e = errno;
		close(fd);
		/* EPROTOTYPE: not a broker's socket. */
		if (e == EPROTOTYPE)
			return ZCP_EPROTO;
		if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR)
			return -e;
		long left = CONNECT_RETRY_MS - ms_since(&t0);
		if (left <= 0)
			return ZCP_EAGAIN;
		long ms = backoff < left ? backoff : left;
		struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		if (backoff < CONNECT_BACKOFF_MAX_MS)
			backoff *= 2;
	}
}

int zcp__broker_attach(const char *path, const zcp_attach_options *opts,
		       zcp_mempool_manager **out)
{
	static const zcp_attach_options defaults = {.owner_uid = ZCP_OWNER_SELF};
	struct sockaddr_un sa;
	char buf[TAG_LEN + ZCP_MANAGER_NAME_MAX + 1];
	char name[ZCP_MANAGER_NAME_MAX + 1];
	int fds[MAX_FDS], nfds = 0, err;
	size_t len = sizeof buf;

	if (!path || !out)
		return ZCP_EINVAL;
	if (!opts)
		opts = &defaults;
	for (size_t i = 0; i < ZCP_ARRAY_SIZE(opts->reserved); i++)
		if (opts->reserved[i])
			return ZCP_EINVAL;
	if (opts->reserved0)
		return ZCP_EINVAL;
	long uid = expected_uid(opts->owner_uid);
	if (uid == -2)
		return ZCP_EINVAL;
	if (opts->read_only & ~1)
		return ZCP_EINVAL;
	if ((err = sun_fill(&sa, path)))
		return err;
	if (uid >= 0 && (err = check_path_owner(path, (uid_t)uid)))
		return err;
	int fd = connect_broker(&sa);
	if (fd < 0)
		return fd;
	if (uid >= 0) {
		/* The broker's uid, as the kernel recorded it when it called
		 * listen(): what no squatter can fake. */
		uid_t buid;
		gid_t bgid;
		if ((err = zcp__peer_cred(fd, &buid, &bgid)) != 0) {
			close(fd);
			return err;
		}
		if (buid != (uid_t)uid) {
			close(fd);
			return ZCP_EOWNER;
		}
	}
	err = recv_answer(fd, buf, &len, fds, &nfds);
	close(fd);
	if (err)
		goto out;
	if (len == TAG_LEN && memcmp(buf, DENY, TAG_LEN) == 0) {
		err = nfds == 0 ? ZCP_EACCES : ZCP_EPROTO;
		goto out;
	}
	/* "ZCP1" + 1..ZCP_MANAGER_NAME_MAX name bytes + exactly two fds.
	 * A longer answer was cut by the buffer: MSG_TRUNC above. */
	if (len <= TAG_LEN || len > TAG_LEN + ZCP_MANAGER_NAME_MAX ||
	    memcmp(buf, HELLO, TAG_LEN) != 0 || nfds != 2) {
		err = ZCP_EPROTO;
		goto out;
	}
	memcpy(name, buf + TAG_LEN, len - TAG_LEN);
	name[len - TAG_LEN] = '\0';
	if (zcp__name_valid(name, ZCP_MANAGER_NAME_MAX)) {
		err = ZCP_EPROTO;
		goto out;
	}
	if (!fd_sealed(fds[0]) || !fd_sealed(fds[1])) {
		err = ZCP_EACCES;
		goto out;
	}
	err = zcp__attach_fds(name, fds[0], fds[1], opts->read_only, out);
out:
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return err;
}

int zcp_mempool_manager_attach_socket(const char *path, zcp_mempool_manager **out)
{
	return zcp__broker_attach(path, NULL, out);
}

#else /* !HAVE_MEMFD */

void zcp_broker_options_init(zcp_broker_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof *opts);
	opts->allow_uid = -1;
	opts->allow_gid = -1;
}

int zcp_broker_listen(zcp_mempool_manager *mgr, const zcp_broker_options *opts, zcp_broker **out)
{
	(void)mgr;
	(void)opts;
	(void)out;
	return ZCP_ENOSYS;
}

int zcp_broker_fd(const zcp_broker *b)
{
	(void)b;
	return ZCP_ENOSYS;
}

int zcp_broker_serve(zcp_broker *b, int timeout_ms)
{
	(void)b;
	(void)timeout_ms;
	return ZCP_ENOSYS;
}

const char *zcp_broker_path(const zcp_broker *b)
{
	(void)b;
	return NULL;
}

void zcp_broker_close(zcp_broker *b)
{
	(void)b;
}

int zcp_mempool_manager_attach_socket(const char *path, zcp_mempool_manager **out)
{
	(void)path;
	(void)out;
	return ZCP_ENOSYS;
}

int zcp__broker_attach(const char *path, const zcp_attach_options *opts,
		       zcp_mempool_manager **out)
{
	(void)path;
	(void)opts;
	(void)out;
	return ZCP_ENOSYS;
}

#endif /* HAVE_MEMFD */
