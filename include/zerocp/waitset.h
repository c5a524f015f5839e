/* SPDX-License-Identifier: MIT */
/*
 * zerocp/waitset.h - waiting for many things at once: subscribers with
 * samples, publishers appearing and going, and user triggers.
 *
 * A waitset gathers subscribers and triggers of one manager and sleeps
 * until one of them has news:
 *
 *   ZCP_EVENT_DATA                a subscriber has samples waiting
 *                                 (level-triggered: reported by every wait
 *                                 while samples wait);
 *   ZCP_EVENT_PUBLISHER_APPEARED  the number of live publishers of a
 *   ZCP_EVENT_PUBLISHER_GONE      subscriber's topic went up, or down, since
 *                                 the last wait reported it (edge: once per
 *                                 change of the count; a publisher that
 *                                 dies counts as gone once a reclaim has
 *                                 closed it, zcp_mempool_manager_reclaim());
 *   ZCP_EVENT_TRIGGER             a trigger was fired since the last wait
 *                                 reported it (edge: one event for any
 *                                 number of fires).
 *
 * A trigger is a named event shared by every process of a manager: any
 * process that opened it may fire it; every waitset it is attached to
 * wakes.  The manager's trigger table is sized by
 * zcp_mempool_config_set_triggers().
 *
 * Wake-ups are never lost: a publish, a fire or a publisher change that
 * races with a waitset going to sleep always wakes it.  Publishing still
 * makes no system call while nobody sleeps on its topic.  Spurious
 * wake-ups (news for another waitset of the same process, or nothing
 * new) are absorbed inside zcp_waitset_wait(): it returns only with
 * events, at the deadline, or on a signal.
 *
 * Threads.  A waitset is used by one thread at a time (its calls do not
 * run beside each other); different waitsets run beside each other.  A
 * subscriber attached to a waitset is used by that waitset's thread
 * (zcp_subscriber_take() between waits is fine); a subscriber or trigger
 * is attached to at most one waitset.  Closing an attached subscriber or
 * trigger detaches it first (do not close it while its waitset waits in
 * another thread).  zcp_trigger_fire() may run in any thread, beside
 * anything.  Destroy waitsets and close triggers before detaching their
 * manager.
 */
#ifndef ZEROCP_WAITSET_H
#define ZEROCP_WAITSET_H

#include <stddef.h>
#include <stdint.h>

#include <zerocp/common.h>
#include <zerocp/pool.h>
#include <zerocp/topic.h>

ZCP_BEGIN_DECLS

#define ZCP_TRIGGER_NAME_MAX 63 /* characters of a trigger name */
#define ZCP_DEFAULT_TRIGGERS 64 /* the trigger table's default size */

/* What zcp_waitset_wait() reports: zcp_waitset_event.kind. */
enum zcp_event_kind {
	ZCP_EVENT_DATA = 1,
	ZCP_EVENT_TRIGGER = 2,
	ZCP_EVENT_PUBLISHER_APPEARED = 3,
	ZCP_EVENT_PUBLISHER_GONE = 4,
};

typedef struct zcp_waitset zcp_waitset;
typedef struct zcp_trigger zcp_trigger;

/* One event. */
typedef struct zcp_waitset_event {
	int kind;                /* zcp_event_kind */
	unsigned int publishers; /* PUBLISHER_*: live publishers now; else 0 */
	void *object;            /* the zcp_subscriber or zcp_trigger attached */
	void *user_data;         /* as given to the attach call */
} zcp_waitset_event;

/* zcp_mempool_config_set_triggers - size the manager's trigger table: up
 * to max_triggers triggers at a time (default ZCP_DEFAULT_TRIGGERS; 0
 * turns triggers off: zcp_trigger_open() then answers ZCP_ENOSPC).
 * Returns 0 or ZCP_EINVAL (NULL cfg, more than 4096). */
ZCP_API int zcp_mempool_config_set_triggers(zcp_mempool_config *cfg, unsigned int max_triggers);

/* zcp_waitset_create - a new, empty waitset over manager mgr (attached
 * read-write).  Returns 0 and *out, or ZCP_EINVAL (NULL argument),
 * ZCP_ECHILD (mgr is the parent's), ZCP_EPERM (read-only handle),
 * ZCP_ENOMEM.  Destroy with zcp_waitset_destroy(). */
ZCP_API int zcp_waitset_create(zcp_mempool_manager *mgr, zcp_waitset **out);

/* zcp_waitset_destroy - detach everything and free the waitset, closing
 * its zcp_waitset_fd() descriptor if any.  NULL is a no-op.  Must not run
 * beside a zcp_waitset_wait() on it.  Returns 0. */
ZCP_API int zcp_waitset_destroy(zcp_waitset *ws);

/* zcp_waitset_attach_subscriber - watch subscriber sub: ZCP_EVENT_DATA
 * while it has samples waiting, ZCP_EVENT_PUBLISHER_APPEARED/GONE when
 * the count of live publishers of its topic changes (counted from the
 * attach: publishers there already give no event).  user_data comes back
 * in its events.
 * Returns 0, ZCP_EINVAL (NULL, or sub belongs to another manager),
 * ZCP_EBUSY (sub is attached to a waitset already), ZCP_ECHILD,
 * ZCP_ENOMEM. */
ZCP_API int zcp_waitset_attach_subscriber(zcp_waitset *ws, zcp_subscriber *sub, void *user_data);

/* zcp_waitset_attach_trigger - watch trigger trig: ZCP_EVENT_TRIGGER once
 * per wait after any number of fires since the last report (fires before
 * the attach are not reported).  Returns 0, ZCP_EINVAL (NULL, or a
 * trigger of another manager), ZCP_EBUSY (attached to a waitset already),
 * ZCP_ECHILD, ZCP_ENOMEM. */
ZCP_API int zcp_waitset_attach_trigger(zcp_waitset *ws, zcp_trigger *trig, void *user_data);

/* zcp_waitset_detach - stop watching object (a zcp_subscriber or
 * zcp_trigger attached to ws).  Events of it not yet reported are
 * dropped.  Returns 0, ZCP_EINVAL (NULL), ZCP_ENOENT (not attached to
 * ws). */
ZCP_API int zcp_waitset_detach(zcp_waitset *ws, void *object);

/* zcp_waitset_wait - sleep until something attached has an event, for at
 * most timeout_ns nanoseconds (CLOCK_MONOTONIC; 0: only look; negative:
 * no timeout), and write up to max events to events[].  Events beyond
 * max stay for the next call; each call starts looking at another
 * attachment, so none is starved.
 * Returns the number of events written (1 to max), ZCP_ETIMEDOUT (none
 * came), ZCP_EINTR (a signal arrived: handle it and call again),
 * ZCP_EINVAL (NULL ws or events, max 0), ZCP_ECHILD, ZCP_EPERM.  Never
 * longer than the timeout, whatever a peer writes in shared memory.  A
 * waitset with nothing attached sleeps until the timeout or a signal. */
ZCP_API int zcp_waitset_wait(zcp_waitset *ws, zcp_waitset_event *events, size_t max,
			     int64_t timeout_ns);

/* zcp_waitset_fd - a descriptor for an event loop (poll, epoll, select,
 * libuv's uv_poll_t, GLib's g_unix_fd_add()) that is readable while ws
 * may have events: made at the first call, the same one after.
 *
 * Use: watch it for reading (POLLIN, EPOLLIN), level-triggered; when it
 * is readable, call zcp_waitset_wait(ws, events, max, 0) and handle what
 * it returns.  A call that finds no event (ZCP_ETIMEDOUT) empties the
 * descriptor and arms it: any news after that makes it readable again.
 * A call that returns events leaves it readable, so the loop comes back
 * while more may wait (ZCP_EVENT_DATA is reported while samples wait:
 * take them, or the descriptor stays readable).  Never read it yourself;
 * with EPOLLET, call zcp_waitset_wait() until it returns ZCP_ETIMEDOUT.
 * A new descriptor is readable at once.  Readiness may be spurious (news
 * for another waitset of the process, a byte in flight): the wait then
 * finds nothing and arms again.  A zcp_waitset_wait() with a timeout
 * works too; the descriptor is readable after it.
 *
 * Cost: nothing on a publish, a fire or a publisher change while the
 * descriptor is not armed (between a readiness and the next wait that
 * finds nothing); while armed, the first of them writes one byte to it
 * (the others find it taken, and cost what a publish to a topic with a
 * sleeping waitset costs).
 *
 * Where: a FIFO "zerocp_<manager>.fd.<slot>.<nonce>" in the directory of
 * the manager's segments (/dev/shm), with the segments' mode and group,
 * so any process allowed to use the manager rings it, under another user
 * or in another PID namespace.  The descriptor is ws's (O_RDWR,
 * O_NONBLOCK, O_CLOEXEC): do not close it; zcp_waitset_destroy() closes
 * it and removes the FIFO, as a reclaim of a dead process does (when
 * the reclaiming user may: in a sticky directory such as /dev/shm, only
 * the FIFO's owner or root).  Up to 16 waitsets of a process have one at
 * a time.
 *
 * Returns 0 and *fd_out, or ZCP_EINVAL (NULL argument), ZCP_ECHILD,
 * ZCP_EPERM (read-only handle), ZCP_ENOSPC (16 of this process's
 * waitsets have one), ZCP_ENOSYS (the platform has no directory for the
 * FIFO), ZCP_EACCES (the directory refuses it: read-only, permissions),
 * ZCP_EEXIST (the names tried were taken), ZCP_EMFILE, another negative
 * errno.  Same threading as zcp_waitset_wait(). */
ZCP_API int zcp_waitset_fd(zcp_waitset *ws, int *fd_out);

/* zcp_trigger_open - open trigger `name` of manager mgr (1 to
 * ZCP_TRIGGER_NAME_MAX characters from [A-Za-z0-9._-], not starting with
 * '.'), making it if no process has it open.  A trigger lives while some
 * process has it open; a dead process's opens are dropped by reclaim.
 * Returns 0 and *out, or ZCP_EINVAL (NULL argument, bad name),
 * ZCP_ENOSPC (every entry of the trigger table is open in a process
 * that may be alive, or the table has size 0), ZCP_EPERM
 * (read-only handle), ZCP_ECHILD, ZCP_EAGAIN (the manager's topics lock
 * stayed busy), ZCP_ENOMEM.  Thread-safe.  Close with
 * zcp_trigger_close(). */
ZCP_API int zcp_trigger_open(zcp_mempool_manager *mgr, const char *name, zcp_trigger **out);

/* zcp_trigger_fire - fire trig: every waitset it is attached to, in any
 * process, reports ZCP_EVENT_TRIGGER.  Lock-free; one system call per
 * process that has a waitset asleep (none otherwise).  Thread-safe.
 * Returns 0, ZCP_EINVAL (NULL), ZCP_ECHILD, ZCP_ESTALE (its table entry
 * was freed or overwritten by a peer). */
ZCP_API int zcp_trigger_fire(zcp_trigger *trig);

/* zcp_trigger_close - detach trig from its waitset if any, close it, and
 * free the handle.  NULL is a no-op (0).  Returns 0 or ZCP_EAGAIN (the
 * topics lock stayed busy: the handle is freed anyway, and the open is
 * dropped when this process detaches or dies). */
ZCP_API int zcp_trigger_close(zcp_trigger *trig);

ZCP_END_DECLS

#endif /* ZEROCP_WAITSET_H */
