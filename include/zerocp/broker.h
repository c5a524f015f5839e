/* SPDX-License-Identifier: MIT */
/*
 * zerocp/broker.h - hand a sealed memfd manager to authorised processes
 * over a Unix domain socket.
 *
 * A manager created with the memfd backend (zcp_mempool_config_set_backend(
 * cfg, ZCP_BACKEND_MEMFD)) has no name in /dev/shm: only processes that are
 * given its two descriptors can attach.  The broker is how a server gives
 * them out.  It listens on "<dir>/zerocp-<name>.sock", checks each
 * connecting process's credentials as the kernel reports them
 * (SO_PEERCRED: they cannot be forged), and sends an authorised peer the
 * descriptors of both segments with SCM_RIGHTS.  The segments carry the
 * seals F_SEAL_SHRINK, F_SEAL_GROW and F_SEAL_SEAL, so no peer, however
 * hostile, can resize them and make others fault (SIGBUS) on access.
 *
 * Server:
 *
 *	zcp_broker_options o;
 *	zcp_broker *b;
 *	zcp_broker_options_init(&o);
 *	o.allow_gid = service_gid;              (optional)
 *	if (zcp_broker_listen(mgr, &o, &b) == 0)
 *		while (running)
 *			zcp_broker_serve(b, 1000);      (or poll zcp_broker_fd())
 *	zcp_broker_close(b);
 *
 * Client:
 *
 *	zcp_mempool_manager *m;
 *	int err = zcp_mempool_manager_attach_socket(path, &m);
 *
 * Protocol (AF_UNIX, SOCK_SEQPACKET, one message per connection): the
 * server sends "ZCP1" followed by the manager name (no NUL) with exactly
 * two descriptors, management then data; or "DENY" with none.  Then it
 * closes the connection.
 *
 * Where the memfd backend is not built (non-Linux, musl without memfd,
 * --disable-memfd) every function here but zcp_broker_options_init()
 * returns ZCP_ENOSYS (NULL for zcp_broker_path()).
 *
 * Synchronisation: a zcp_broker belongs to one thread at a time;
 * zcp_mempool_manager_attach_socket() is thread-safe.
 */
#ifndef ZEROCP_BROKER_H
#define ZEROCP_BROKER_H

#include <zerocp/common.h>
#include <zerocp/pool.h>

ZCP_BEGIN_DECLS

/* A listening broker (process-local, opaque). */
typedef struct zcp_broker zcp_broker;

/* Options of zcp_broker_listen(); fill with zcp_broker_options_init()
 * first, so that fields added later get their defaults. */
typedef struct zcp_broker_options {
	/* Directory of the socket.  NULL: $XDG_RUNTIME_DIR if set, else
	 * /tmp/zerocp-<uid>.  Created 0700 if missing; it must be a real
	 * directory (not a symbolic link) owned by the caller's effective
	 * uid and writable by nobody else, or zcp_broker_listen() fails
	 * with ZCP_EACCES.  For peers of other uids to reach the socket the
	 * directory must also be searchable by them (e.g. chmod 0710 and a
	 * group they belong to); reaching it grants nothing by itself. */
	const char *dir;
	/* A uid allowed besides the caller's effective uid; -1: none. */
	long allow_uid;
	/* A group whose members are allowed (by the peer's primary gid);
	 * -1: none. */
	long allow_gid;
	/* Must stay NULL. */
	void *reserved[4];
} zcp_broker_options;

/* zcp_broker_options_init - dir NULL, allow_uid -1, allow_gid -1,
 * reserved NULL.  NULL is a no-op. */
ZCP_API void zcp_broker_options_init(zcp_broker_options *opts);

/* zcp_broker_listen - start handing out the descriptors of mgr.
 *
 * mgr must be a memfd-backed manager whose segments are sealed against
 * shrinking and growing, and must outlive the broker.  opts may be NULL
 * (defaults).  Creates the directory if missing, binds
 * "<dir>/zerocp-<name>.sock" (a stale socket there, one nothing listens on
 * any more, is replaced; a live one is not), listens without blocking.
 * The socket is close-on-exec.
 *
 * Returns 0 and *out, or: ZCP_EINVAL (NULL mgr or out, a manager that is
 * not a sealed memfd one, allow_uid or allow_gid < -1 or out of range,
 * reserved not NULL, a relative dir), ZCP_ECHILD (mgr used after fork),
 * ZCP_EACCES (directory not ours, a symlink, or writable by others),
 * ZCP_ENAMETOOLONG (socket path too long for sockaddr_un), ZCP_EBUSY
 * (another broker listens on that path), ZCP_EEXIST (something that is
 * not a socket is in the way), ZCP_ENOMEM, ZCP_ENOSYS, or another
 * negative errno.  Pair with zcp_broker_close().
 */
ZCP_API int zcp_broker_listen(zcp_mempool_manager *mgr, const zcp_broker_options *opts,
			      zcp_broker **out);

/* zcp_broker_fd - the listening socket, for the caller's poll loop
 * (readable when clients wait: then call zcp_broker_serve(b, 0)).
 * Owned by the broker: do not close.  Returns it, or ZCP_EINVAL. */
ZCP_API int zcp_broker_fd(const zcp_broker *b);

/* zcp_broker_serve - answer the clients that connect within timeout_ms
 * milliseconds (0: only those already waiting; negative: wait without a
 * time limit for the first one).
 *
 * For each, reads its credentials (SO_PEERCRED).  A peer is allowed if its
 * uid is the broker's effective uid, allow_uid or 0 (root), or its primary
 * gid is allow_gid; it is sent the descriptors, anyone else "DENY".  Each
 * connection is then closed.  Sending never blocks (a client that never
 * reads cannot hang the server), nor raises SIGPIPE.
 *
 * Every call drains the whole backlog (up to 16384 connections), so that
 * a flood of refused peers cannot keep allowed ones queued; a refused peer
 * costs no more than its "DENY", and once one uid has been refused 32
 * times in a call, its further connections in that call are closed
 * without an answer.
 *
 * Returns the number of clients answered (allowed or denied; 0 on
 * timeout), or ZCP_EINVAL (NULL), ZCP_ECHILD (the manager was inherited
 * through fork), or another negative errno from poll() or accept() (such
 * as ZCP_EMFILE: no descriptor left to accept with), even after some
 * clients were answered in the call.  EINTR is not an error: it returns
 * what was answered so far.
 */
ZCP_API int zcp_broker_serve(zcp_broker *b, int timeout_ms);

/* zcp_broker_path - the socket's path (owned by the broker), or NULL for
 * a NULL broker. */
ZCP_API const char *zcp_broker_path(const zcp_broker *b);

/* zcp_broker_close - stop listening and remove the socket file (if it is
 * still the one this broker bound); the directory stays.  Processes
 * already attached are not affected.  NULL is a no-op. */
ZCP_API void zcp_broker_close(zcp_broker *b);

/* zcp_mempool_manager_attach_socket - attach to the manager a broker
 * serves at path (a connection, one message of at most 2 s wait, then
 * zcp_mempool_manager_attach_fds()).  The same as
 * zcp_mempool_manager_attach_opts(NULL, opts, out) with opts->socket_path
 * = path and the default owner_uid, ZCP_OWNER_SELF.
 *
 * Whom it talks to.  Before connecting it checks that the socket's
 * directory is a real directory (not a symbolic link) owned by the
 * expected uid (owner_uid: the caller's effective uid by default) and
 * writable by nobody else, and that the socket file belongs to that uid;
 * once connected, that the broker itself runs as that uid (SO_PEERCRED,
 * which cannot be forged).  Otherwise it returns ZCP_EOWNER: another user
 * may have created the directory first (/tmp/zerocp-<uid> is guessable)
 * and serve a manager of its own there.  ZCP_OWNER_ANY skips the checks.
 *
 * A full backlog.  While the broker's backlog is full (a flood), connect
 * is retried with exponential backoff, 1 ms doubling up to 64 ms, for at
 * most 2 s in all; so an attach takes at most about 4 s.
 *
 * The received descriptors must be memfds sealed against shrinking and
 * growing; they are closed before returning (the manager keeps its own
 * duplicates), as is any extra descriptor a hostile server might send.
 * Received descriptors are close-on-exec from the start.
 *
 * Returns 0 and *out, or: ZCP_EINVAL (NULL arguments), ZCP_ENAMETOOLONG,
 * ZCP_ENOENT (no socket at path), ZCP_ECONNREFUSED (nothing listens
 * there), ZCP_EACCES (the broker denied us, the socket is not reachable
 * for us, or the descriptors are not sealed memfds), ZCP_EOWNER (the
 * directory, the socket or the broker belongs to another uid), ZCP_EAGAIN
 * (no answer within 2 s, or the broker's backlog stayed full for 2 s),
 * ZCP_EMFILE (no room in our descriptor table for the two descriptors),
 * ZCP_EPROTO (a malformed answer), ZCP_ENOSYS (also for a read-only
 * attach through a broker, which is not supported yet), or any error of
 * zcp_mempool_manager_attach_fds().  Pair with zcp_mempool_manager_detach().
 */
ZCP_API int zcp_mempool_manager_attach_socket(const char *path, zcp_mempool_manager **out);

ZCP_END_DECLS

#endif /* ZEROCP_BROKER_H */
