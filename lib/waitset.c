/* SPDX-License-Identifier: MIT */
/* Waitsets and triggers.
 *
 * Each process slot has a doorbell (struct zcp__proc: a futex word and a
 * count of the process's threads asleep on it).  Every waitset of a
 * process sleeps on its process's doorbell; news for one waitset wakes
 * them all, and the others look, find nothing, and sleep again.
 *
 * Who rings a process's doorbell:
 *  - a publisher, after a publish, for every sleeper bit of its topic
 *    (topic.h) whose subscriber is "armed" (a waitset sleeps on it): the
 *    doorbell of the subscriber's owner (zcp__topic_ring_bell());
 *  - whoever opens, closes or reclaims a publisher rings the topic's bell
 *    the same way, so publisher counts are looked at again;
 *  - zcp_trigger_fire(), for every process whose bit is set in the
 *    trigger's listeners mask.
 *
 * The protocol (a Dekker pair twice over, every access seq_cst):
 *   waiter:  arm each subscriber (armed = 1, then its sleeper bit);
 *            sleepers++; loop { seen = doorbell; look at every
 *            attachment; nothing: futex-wait while doorbell == seen };
 *            sleepers--; clear the bits, armed = 0
 *   ringer:  make the news visible (store tail / fired++ / state);
 *            [publisher: load the sleepers mask, then armed];
 *            doorbell++; if sleepers > 0: wake
 * A ringer that sees no sleeper bit ran its news before the waiter set
 * it, so the waiter's look finds the news.  A ringer that sees the bit
 * bumps the doorbell: either the waiter read the doorbell after the bump
 * (and its look, after that, finds the news), or before it (and its
 * futex-wait returns at once).  A ringer that reads sleepers == 0 did so
 * before the waiter's sleepers++, so the waiter's read of the doorbell
 * comes after the bump.  So no wake-up is lost, and while nobody sleeps a
 * publish costs no system call (zcp__topic_wake() sees an empty mask) and
 * a fire costs none (sleepers == 0).
 *
 * A trigger's listener bit is set at attach, before the attach reads
 * `fired`: a fire after that read sees the bit.
 *
 * Everything read from shared memory is range-checked: an owner naming no
 * valid slot is skipped, masks are walked over at most 64 bits, and a
 * scribbled doorbell costs spurious wake-ups, bounded by the deadline.
 * A waiter killed asleep leaves doorbell_sleepers > 0 (rings of its slot
 * then make a system call) until reclaim resets it; its subscribers' bits
 * go with its subscribers, its listener bits with its slot.
 */
#include "waitset.h"

#include "platform.h"
#include "slot.h"
#include "topic.h"
#include "wake.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What a waitset watches. */
enum { ATT_SUB = 1, ATT_TRIG = 2 };

struct att {
	int kind;
	void *object;
	void *user_data;
	uint64_t seen;      /* trigger: `fired` last reported */
	unsigned pubs;      /* subscriber: live publishers last reported */
};

struct zcp_waitset {
	struct zcp_mempool_manager *m;
	unsigned forks;
	struct att *att;
	size_t n, cap;
	size_t next; /* where the next look starts (fairness) */
	/* zcp_waitset_fd(): the FIFO's descriptor (-1: none yet), our entry
	 * in the slot's fd_nonce[] and its nonce, and whether we armed it
	 * (our subscribers' sleeper bits and our fd_armed bit set, and a
	 * look after that found nothing). */
	int fd;
	unsigned fd_index;
	uint64_t fd_nonce;
	int fd_armed;
};


/* --- doorbells ------------------------------------------------------------ */

static void fd_ring(struct zcp_mempool_manager *m, unsigned s, struct zcp__proc *p);

void zcp__doorbell_ring_slot(struct zcp_mempool_manager *m, uint64_t s)
{
	if (s >= m->geo.max_processes)
		return;
	struct zcp__proc *p = zcp__proc_at(m, (unsigned)s);
	atomic_fetch_add_explicit(&p->doorbell, 1, memory_order_seq_cst);
	if (atomic_load_explicit(&p->doorbell_sleepers, memory_order_seq_cst) != 0)
		zcp__wake_all(&p->doorbell);
	/* seq_cst, after the news: the fd protocol below. */
	if (ZCP_UNLIKELY(atomic_load_explicit(&p->fd_armed, memory_order_seq_cst) != 0))
		fd_ring(m, (unsigned)s, p);
}

void zcp__doorbell_ring_owner(struct zcp_mempool_manager *m, uint64_t owner)
{
	unsigned slot;
	uint64_t inc;
	if (zcp__process_id_split(owner, m->geo.max_processes, &slot, &inc) == 0)
		zcp__doorbell_ring_slot(m, slot);
}

/* --- event-loop descriptors ------------------------------------------------
 *
 * zcp_waitset_fd() gives a waitset a named FIFO in the directory of the
 * manager's segments (zcp__plat_fifo_dir(): /dev/shm on Linux), named
 * "zerocp_<manager>.fd.<slot>.<nonce>" with a random nonce, mode and
 * group those of the segments, so every process allowed to use the
 * manager may open it, whatever its user or PID namespace.  Its owner
 * holds it open read-write and non-blocking (never EOF, never blocks) and
 * hands that descriptor to the event loop; the nonce goes to fd_nonce[i]
 * of the owner's process slot, i a free entry of the process's 16.
 *
 * The protocol (with the doorbell's, atop this file; every access to
 * fd_armed seq_cst):
 *   listener (zcp_waitset_wait(), timeout 0, nothing found):
 *            read the FIFO empty; arm each subscriber (as a sleeping
 *            waiter does); fd_armed |= bit i; look at every attachment
 *            again: something: take the bit back (fd_armed &= ~bit i,
 *            and if it was still set write a byte ourselves) and report it
 *   ringer (zcp__doorbell_ring_slot(), after its news and its doorbell++):
 *            if fd_armed != 0: a = exchange(fd_armed, 0); for each bit i
 *            of a: write one byte to the FIFO fd_nonce[i] names
 * A ringer that reads fd_armed == 0 did so before the listener's
 * fd_armed |= bit, so the listener's second look finds the news; one that
 * takes the bit writes a byte, after the listener's read: the descriptor
 * is readable.  A byte written between the read and the arm comes from a
 * ringer that took the bit of an earlier arming: a spurious wake-up.  So
 * while armed no news is missed, and while not armed the FIFO holds a
 * byte (written at creation, and whenever the listener disarms with its
 * bit untaken): the descriptor is readable until a zcp_waitset_wait()
 * finds nothing and arms again.  Publishers pay only when a subscriber is
 * armed (the sleepers' mask, topic.h): nothing while no listener is.
 * One exchange takes every bit of the process: its other armed waitsets
 * wake spuriously, as they do on the doorbell.
 *
 * The ringer opens the FIFO O_RDWR (no SIGPIPE, no ENXIO when its
 * listener closed it: a byte in a pipe nobody reads is harmless),
 * O_NONBLOCK, O_NOFOLLOW, writes only if fstat() says FIFO, and keeps the
 * descriptor in a small per-handle cache (nonces are never reused).
 * Everything it reads is a peer's word: a scribbled mask or nonce costs
 * spurious or missed wake-ups of that slot's listeners, a failed open, or
 * a byte in some FIFO of this manager's name in that directory; never a
 * write to anything but a FIFO, nor outside the directory (the name has
 * no '/': the manager's name is validated, the rest is numbers).
 */

/* The FIFO of slot s with nonce n. */
static int fifo_path(char *buf, size_t size, const struct zcp_mempool_manager *m, unsigned s,
		     uint64_t n)
{
	const char *dir = zcp__plat_fifo_dir();
	if (!dir)
		return ZCP_ENOSYS;
	int len = snprintf(buf, size, "%s/%s%s.fd.%u.%016" PRIx64, dir, ZCP__SHM_PREFIX, m->name, s,
			   n);
	return len < 0 || (size_t)len >= size ? ZCP_ENAMETOOLONG : 0;
}

#define FIFO_PATH_MAX (ZCP_MANAGER_NAME_MAX + 128)

/* Under fd_mutex: one byte to the FIFO of slot s and nonce n. */
static void fifo_poke(struct zcp_mempool_manager *m, unsigned s, uint64_t n)
{
	const unsigned ncache = sizeof m->fd_cache / sizeof m->fd_cache[0];
	int fd = -1;
	for (unsigned k = 0; k < ncache && fd < 0; k++)
		if (m->fd_cache[k].nonce == n && m->fd_cache[k].slot == s)
			fd = m->fd_cache[k].fd;
	if (fd < 0) {
		char path[FIFO_PATH_MAX];
		if (fifo_path(path, sizeof path, m, s, n))
			return;
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		if (fd < 0)
			return; /* its listener is gone, or a peer's scribble */
		struct stat st;
		if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
			close(fd);
			return;
		}
		unsigned k = m->fd_next++ % ncache;
		if (m->fd_cache[k].nonce)
			close(m->fd_cache[k].fd);
		m->fd_cache[k].nonce = n;
		m->fd_cache[k].slot = s;
		m->fd_cache[k].fd = fd;
	}
	const char b = 1;
	/* EAGAIN: full, so readable already. */
	while (write(fd, &b, 1) < 0 && errno == EINTR)
		;
}

static void fd_ring(struct zcp_mempool_manager *m, unsigned s, struct zcp__proc *p)
{
	uint64_t a = atomic_exchange_explicit(&p->fd_armed, 0, memory_order_seq_cst);
	if (!a)
		return;
	int saved = errno;
	pthread_mutex_lock(&m->fd_mutex);
	for (unsigned i = 0; i < ZCP__FD_SLOTS; i++) {
		if (!(a & (UINT64_C(1) << i)))
			continue;
		/* Acquire: pairs with the release store in zcp_waitset_fd(),
		 * after the FIFO was made. */
		uint64_t n = atomic_load_explicit(&p->fd_nonce[i], memory_order_acquire);
		if (n)
			fifo_poke(m, s, n);
	}
	pthread_mutex_unlock(&m->fd_mutex);
	errno = saved;
}

/* --- removing FIFOs: who, when ------------------------------------------------
 *
 * /dev/shm is sticky: only a FIFO's owner (or a privileged process) may
 * unlink it.  A process reclaiming a dead listener of another user (uid
 * 65534 in the manager's group reclaiming root's listener, say) gets
 * EPERM.  The rule:
 *  - The records are authoritative.  A FIFO named by an fd_nonce[] entry
 *    of a slot whose process is gone is litter.  Its entry is cleared only
 *    once the FIFO is gone (unlinked by us, or not there, or not a FIFO);
 *    on any other failure (EPERM) it stays recorded in the slot, and every
 *    later attach (its own new slot, and every free slot), detach, reclaim
 *    and zcp_mempool_manager_remove()/_destroy() (those also the slots
 *    of dead processes not reclaimed yet) tries again, so the first
 *    process that may unlink it (the owner's uid, or root: the server,
 *    `zerocp clean`) does.  A new occupant of the slot never reuses an
 *    entry that still holds a nonce.
 *  - A free (or dead) slot's entries are read between two reads of its
 *    id word that must agree: a nonce stored by a process that claimed
 *    it meanwhile is never taken for litter (its claim comes before its
 *    release store).
 *  - FIFOs of the name pattern that no entry names (their process killed
 *    between mkfifo() and the record, a scribbled record, a manager whose
 *    segments are gone): zcp_mempool_manager_remove(), _destroy() and
 *    _unlink() (so `zerocp clean`) sweep the directory and remove those
 *    that nobody holds open for reading (every live listener holds its
 *    FIFO open; open(O_WRONLY | O_NONBLOCK) fails with ENXIO when none
 *    does) and whose ctime is FD_SWEEP_AGE seconds old or more (a FIFO
 *    being made has no reader for a moment).
 * Nothing but a FIFO is ever unlinked (lstat(), S_ISFIFO), and only names
 * of exactly "zerocp_<manager>.fd.<slot>.<16 hex digits>" in the FIFO
 * directory: a hostile peer's scribble or planted file can make us remove
 * at most a FIFO of this manager's own name pattern (one that it could
 * have removed itself, or one of ours that is litter anyway); never
 * anything it links, nothing outside the directory.  Whether we may
 * unlink is the kernel's sticky-directory rule: no other check. */

#define FD_SWEEP_AGE 2

/* Unlink the FIFO of slot s with nonce n if it is one.  Returns 1 if it is
 * gone (unlinked, absent, or the name is not a FIFO: nothing to keep a
 * record for), 0 if it stays (EPERM: another user's). */
static int fifo_unlink(const struct zcp_mempool_manager *m, unsigned s, uint64_t n)
{
	char path[FIFO_PATH_MAX];
	struct stat st;
	if (fifo_path(path, sizeof path, m, s, n) != 0)
		return 1;
	if (lstat(path, &st) != 0)
		return errno == ENOENT || errno == ENOTDIR;
	if (!S_ISFIFO(st.st_mode))
		return 1;
	return unlink(path) == 0 || errno == ENOENT;
}

void zcp__fd_reclaim(struct zcp_mempool_manager *m, unsigned s)
{
	if (m->read_only || s >= m->geo.max_processes)
		return;
	struct zcp__proc *p = zcp__proc_at(m, s);
	atomic_store_explicit(&p->fd_armed, 0, memory_order_seq_cst);
	for (unsigned i = 0; i < ZCP__FD_SLOTS; i++) {
		uint64_t n = atomic_load_explicit(&p->fd_nonce[i], memory_order_acquire);
		/* Another user's, in a sticky directory (EPERM): it stays
		 * recorded for one who may (the rule above). */
		if (n && fifo_unlink(m, s, n))
			atomic_compare_exchange_strong_explicit(
				&p->fd_nonce[i], &n, 0, memory_order_acq_rel, memory_order_relaxed);
	}
	pthread_mutex_lock(&m->fd_mutex);
	for (unsigned k = 0; k < sizeof m->fd_cache / sizeof m->fd_cache[0]; k++)
		if (m->fd_cache[k].nonce && m->fd_cache[k].slot == s) {
			close(m->fd_cache[k].fd);
			m->fd_cache[k].nonce = 0;
		}
	pthread_mutex_unlock(&m->fd_mutex);
}

void zcp__fd_retry(const struct zcp_mempool_manager *m, int dead_too)
{
	if (!zcp__plat_fifo_dir())
		return;
	for (unsigned s = 0; s < m->geo.max_processes; s++) {
		if (!m->read_only && s == m->slot)
			continue;
		struct zcp__proc *p = zcp__proc_at(m, s);
		/* Acquire: pairs with the release CAS that freed it. */
		uint64_t w = atomic_load_explicit(&p->id, memory_order_acquire);
		if (zcp__sid_state(w) != ZCP__SLOT_FREE && (!dead_too || zcp__slot_alive(m, s, w)))
			continue;
		for (unsigned i = 0; i < ZCP__FD_SLOTS; i++) {
			/* Acquire: a nonce stored by a process that claimed
			 * the slot since comes with its claim, which the
			 * second read of the id word then sees. */
			uint64_t n = atomic_load_explicit(&p->fd_nonce[i], memory_order_acquire);
			if (!n || atomic_load_explicit(&p->id, memory_order_acquire) != w)
				continue;
			if (fifo_unlink(m, s, n) && !m->read_only)
				atomic_compare_exchange_strong_explicit(&p->fd_nonce[i], &n, 0,
									memory_order_acq_rel,
									memory_order_relaxed);
		}
	}
}

/* Whether `file` is "<prefix><slot>.<16 lowercase hex digits>", the slot
 * below max and the nonce not 0, as fifo_path() writes it. */
static int fifo_name_ok(const char *file, const char *prefix, size_t plen, unsigned max)
{
	if (strncmp(file, prefix, plen) != 0)
		return 0;
	const char *c = file + plen;
	unsigned s = 0;
	size_t digits = 0;
	for (; *c >= '0' && *c <= '9'; c++, digits++) {
		s = s * 10 + (unsigned)(*c - '0');
		if (digits >= 3)
			return 0;
	}
	if (digits == 0 || (digits > 1 && c[-(long)digits] == '0') || s >= max || *c++ != '.')
		return 0;
	int nonzero = 0;
	for (int k = 0; k < 16; k++, c++) {
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
			return 0;
		nonzero |= *c != '0';
	}
	return *c == 0 && nonzero;
}

int zcp__fd_sweep(const char *name, unsigned max)
{
	const char *dir = zcp__plat_fifo_dir();
	if (!dir)
		return 0;
	char prefix[ZCP_MANAGER_NAME_MAX + 32];
	int plen = snprintf(prefix, sizeof prefix, "%s%s.fd.", ZCP__SHM_PREFIX, name);
	if (plen < 0 || (size_t)plen >= sizeof prefix)
		return 0;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return 0;
	}
	int saved = errno, removed = 0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (!fifo_name_ok(e->d_name, prefix, (size_t)plen, max) ||
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISFIFO(st.st_mode) ||
		    (long long)st.st_ctime + FD_SWEEP_AGE > (long long)now.tv_sec)
			continue;
		/* A reader: a live listener (or a ringer's cached
		 * descriptor): not litter, or not yet. */
		int fd = openat(dfd, e->d_name,
				O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		if (errno != ENXIO)
			continue;
		if (unlinkat(dfd, e->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	errno = saved;
	return removed;
}

void zcp__fd_cache_close(struct zcp_mempool_manager *m)
{
	for (unsigned k = 0; k < sizeof m->fd_cache / sizeof m->fd_cache[0]; k++)
		if (m->fd_cache[k].nonce) {
			close(m->fd_cache[k].fd);
			m->fd_cache[k].nonce = 0;
		}
}

/* A nonce nobody can guess, never 0. */
static uint64_t fd_nonce(void)
{
	uint64_t n = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &n, sizeof n) != (ssize_t)sizeof n)
			n = 0;
		close(fd);
	}
	if (!n) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		n = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 17) ^
		    (uint64_t)(uintptr_t)&ts;
		n *= UINT64_C(0x9E3779B97F4A7C15);
		n ^= n >> 31;
	}
	return n ? n : 1;
}

/* --- triggers ------------------------------------------------------------- */

/* Under topics_mutex: the local count arrays, made at the first use. */
static int local_counts(struct zcp_mempool_manager *m)
{
	if (m->trig_opens)
		return 0;
	size_t n = m->geo.max_triggers ? m->geo.max_triggers : 1;
	m->trig_opens = calloc(n, sizeof *m->trig_opens);
	m->trig_listens = calloc(n, sizeof *m->trig_listens);
	if (!m->trig_opens || !m->trig_listens) {
		free(m->trig_opens);
		free(m->trig_listens);
		m->trig_opens = m->trig_listens = NULL;
		return ZCP_ENOMEM;
	}
	return 0;
}

static int terminated(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

/* Under the lock, the table full: free an entry no live process has open
 * (its openers died and were not reclaimed yet, or a peer scribbled it),
 * as topics make room.  Errs towards alive: a slot whose occupant may be
 * alive keeps its entries.  Returns the entry freed, or -1. */
static int reap_unused(struct zcp_mempool_manager *m)
{
	for (unsigned k = 0; k < m->geo.max_triggers; k++) {
		struct zcp__trigger *e = zcp__trigger_at(m, k);
		uint64_t st = atomic_load_explicit(&e->state, memory_order_acquire);
		if (zcp__ep_state(st) != ZCP__EP_LIVE)
			return (int)k;
		uint64_t o = atomic_load_explicit(&e->openers, memory_order_acquire);
		int alive = 0;
		for (unsigned b = 0; b < 64 && !alive; b++) {
			if (!(o & (UINT64_C(1) << b)))
				continue;
			if (b == m->slot)
				alive = 1;
			else if (b < m->geo.max_processes)
				alive = zcp__slot_alive(
					m, b,
					atomic_load_explicit(&zcp__proc_at(m, b)->id, memory_order_acquire));
		}
		if (alive)
			continue;
		atomic_store_explicit(&e->listeners, 0, memory_order_relaxed);
		atomic_store_explicit(&e->openers, 0, memory_order_relaxed);
		atomic_store_explicit(&e->state, zcp__ep_word(ZCP__EP_FREE, zcp__ep_inc(st)),
				      memory_order_release);
		return (int)k;
	}
	return -1;
}

int zcp_trigger_open(zcp_mempool_manager *mgr, const char *name, zcp_trigger **out)
{
	int err = zcp__mgr_check_rw(mgr);
	if (err)
		return err;
	if (!out || zcp__name_valid(name, ZCP_TRIGGER_NAME_MAX))
		return ZCP_EINVAL;
	if (mgr->geo.max_triggers == 0)
		return ZCP_ENOSPC;
	struct zcp_trigger *tr = calloc(1, sizeof *tr);
	if (!tr)
		return ZCP_ENOMEM;
	if ((err = zcp__topics_lock(mgr))) {
		free(tr);
		return err;
	}
	if ((err = local_counts(mgr)))
		goto out;
	int found = -1, free_k = -1;
	for (unsigned k = 0; k < mgr->geo.max_triggers && found < 0; k++) {
		struct zcp__trigger *e = zcp__trigger_at(mgr, k);
		uint64_t st = atomic_load_explicit(&e->state, memory_order_acquire);
		if (zcp__ep_state(st) != ZCP__EP_LIVE) {
			if (free_k < 0)
				free_k = (int)k;
			continue;
		}
		if (terminated(e->name, sizeof e->name) && strcmp(e->name, name) == 0)
			found = (int)k;
	}
	if (found < 0) {
		err = ZCP_ENOSPC;
		if (free_k < 0)
			free_k = reap_unused(mgr);
		if (free_k < 0)
			goto out;
		struct zcp__trigger *e = zcp__trigger_at(mgr, (unsigned)free_k);
		uint64_t st = atomic_load_explicit(&e->state, memory_order_relaxed);
		memset(e->name, 0, sizeof e->name);
		strcpy(e->name, name);
		atomic_store_explicit(&e->fired, 0, memory_order_relaxed);
		atomic_store_explicit(&e->listeners, 0, memory_order_relaxed);
		atomic_store_explicit(&e->openers, 0, memory_order_relaxed);
		/* Release: the fields above before anyone reads LIVE. */
		atomic_store_explicit(&e->state, zcp__ep_word(ZCP__EP_LIVE, zcp__ep_inc(st) + 1),
				      memory_order_release);
		mgr->trig_opens[free_k] = 0;
		mgr->trig_listens[free_k] = 0;
		found = free_k;
	}
	struct zcp__trigger *e = zcp__trigger_at(mgr, (unsigned)found);
	tr->m = mgr;
	tr->index = (unsigned)found;
	tr->state = atomic_load_explicit(&e->state, memory_order_relaxed);
	if (mgr->trig_opens[found]++ == 0)
		atomic_fetch_or_explicit(&e->openers, UINT64_C(1) << mgr->slot,
					 memory_order_seq_cst);
	err = 0;
out:
	zcp__topics_unlock(mgr);
	if (err) {
		free(tr);
		return err;
	}
	*out = tr;
	return 0;
}

int zcp_trigger_fire(zcp_trigger *tr)
{
	if (!tr)
		return ZCP_EINVAL;
	struct zcp_mempool_manager *m = tr->m;
	int err = zcp__mgr_check_rw(m);
	if (err)
		return err;
	struct zcp__trigger *e = zcp__trigger_at(m, tr->index);
	if (atomic_load_explicit(&e->state, memory_order_acquire) != tr->state)
		return ZCP_ESTALE;
	/* seq_cst: the fire before the look at the listeners (waitset.c's
	 * protocol, atop this file). */
	atomic_fetch_add_explicit(&e->fired, 1, memory_order_seq_cst);
	uint64_t l = atomic_load_explicit(&e->listeners, memory_order_seq_cst);
	for (unsigned s = 0; s < 64 && l; s++, l >>= 1)
		if (l & 1)
			zcp__doorbell_ring_slot(m, s);
	return 0;
}

/* Under topics_mutex: one listener of ours fewer on entry k. */
static void unlisten(struct zcp_mempool_manager *m, unsigned k)
{
	if (m->trig_listens && m->trig_listens[k] && --m->trig_listens[k] == 0)
		atomic_fetch_and_explicit(&zcp__trigger_at(m, k)->listeners,
					  ~(UINT64_C(1) << m->slot), memory_order_seq_cst);
}

int zcp_trigger_close(zcp_trigger *tr)
{
	if (!tr)
		return 0;
	/* Its waitset forgets it (after fork too: no shared word then). */
	if (tr->ws)
		zcp_waitset_detach(tr->ws, tr);
	struct zcp_mempool_manager *m = tr->m;
	int err = zcp__mgr_check(m);
	if (err == ZCP_ECHILD) {
		free(tr);
		return 0;
	}
	if (!err)
		err = zcp__topics_lock(m);
	if (!err) {
		struct zcp__trigger *e = zcp__trigger_at(m, tr->index);
		if (atomic_load_explicit(&e->state, memory_order_acquire) == tr->state &&
		    m->trig_opens && m->trig_opens[tr->index] &&
		    --m->trig_opens[tr->index] == 0) {
			uint64_t bit = UINT64_C(1) << m->slot;
			uint64_t left = atomic_fetch_and_explicit(&e->openers, ~bit,
								  memory_order_seq_cst) & ~bit;
			if (left == 0) {
				atomic_store_explicit(&e->listeners, 0, memory_order_relaxed);
				atomic_store_explicit(
					&e->state, zcp__ep_word(ZCP__EP_FREE, zcp__ep_inc(tr->state)),
					memory_order_release);
			}
		}
		zcp__topics_unlock(m);
	}
	free(tr);
	return err;
}

int zcp__triggers_reclaim(struct zcp_mempool_manager *m, unsigned s)
{
	if (m->geo.max_triggers == 0 || m->read_only || s >= 64)
		return 0;
	uint64_t bit = UINT64_C(1) << s;
	int any = 0;
	for (unsigned k = 0; k < m->geo.max_triggers && !any; k++) {
		struct zcp__trigger *e = zcp__trigger_at(m, k);
		any = ((atomic_load_explicit(&e->listeners, memory_order_acquire) |
			atomic_load_explicit(&e->openers, memory_order_acquire)) &
		       bit) != 0;
	}
	if (!any)
		return 0;
	int err = zcp__topics_lock(m);
	if (err)
		return err;
	for (unsigned k = 0; k < m->geo.max_triggers; k++) {
		struct zcp__trigger *e = zcp__trigger_at(m, k);
		atomic_fetch_and_explicit(&e->listeners, ~bit, memory_order_seq_cst);
		uint64_t was = atomic_fetch_and_explicit(&e->openers, ~bit, memory_order_seq_cst);
		uint64_t st = atomic_load_explicit(&e->state, memory_order_acquire);
		if ((was & bit) && (was & ~bit) == 0 && zcp__ep_state(st) == ZCP__EP_LIVE) {
			atomic_store_explicit(&e->listeners, 0, memory_order_relaxed);
			atomic_store_explicit(&e->state, zcp__ep_word(ZCP__EP_FREE, zcp__ep_inc(st)),
					      memory_order_release);
		}
		if (s == m->slot && m->trig_opens) {
			m->trig_opens[k] = 0;
			m->trig_listens[k] = 0;
		}
	}
	zcp__topics_unlock(m);
	return 0;
}

/* --- waitsets ------------------------------------------------------------- */

static int ws_check(const struct zcp_waitset *ws)
{
	if (!ws)
		return ZCP_EINVAL;
	if (ws->forks != zcp__fork_count())
		return ZCP_ECHILD;
	return zcp__mgr_check_rw(ws->m);
}

int zcp_waitset_create(zcp_mempool_manager *mgr, zcp_waitset **out)
{
	int err = zcp__mgr_check_rw(mgr);
	if (err)
		return err;
	if (!out)
		return ZCP_EINVAL;
	struct zcp_waitset *ws = calloc(1, sizeof *ws);
	if (!ws)
		return ZCP_ENOMEM;
	ws->m = mgr;
	ws->forks = zcp__fork_count();
	ws->fd = -1;
	*out = ws;
	return 0;
}

static int fd_disarm(struct zcp_waitset *ws);
static void fd_poke_own(struct zcp_waitset *ws);

/* The attachments change: an armed descriptor is disarmed, and made
 * readable so the owner looks (and arms again, the new ones too). */
static void fd_changed(struct zcp_waitset *ws)
{
	if (ws->fd >= 0 && fd_disarm(ws))
		fd_poke_own(ws);
}

static struct att *find(struct zcp_waitset *ws, const void *object)
{
	for (size_t i = 0; i < ws->n; i++)
		if (ws->att[i].object == object)
			return &ws->att[i];
	return NULL;
}

static struct att *add(struct zcp_waitset *ws)
{
	if (ws->n == ws->cap) {
		size_t cap = ws->cap ? ws->cap * 2 : 8;
		struct att *a = realloc(ws->att, cap * sizeof *a);
		if (!a)
			return NULL;
		ws->att = a;
		ws->cap = cap;
	}
	struct att *a = &ws->att[ws->n++];
	memset(a, 0, sizeof *a);
	return a;
}

/* Live publishers of topic t (bounded by the local geometry). */
static unsigned live_publishers(const struct zcp_mempool_manager *m, unsigned t)
{
	unsigned n = 0;
	for (unsigned j = 0; j < m->geo.max_publishers; j++)
		n += zcp__ep_state(atomic_load_explicit(&zcp__publisher_at(m, t, j)->state,
							memory_order_seq_cst)) == ZCP__EP_LIVE;
	return n;
}

int zcp_waitset_attach_subscriber(zcp_waitset *ws, zcp_subscriber *sub, void *user_data)
{
	int err = ws_check(ws);
	if (err)
		return err;
	if (!sub || sub->m != ws->m)
		return ZCP_EINVAL;
	if (sub->ws)
		return ZCP_EBUSY;
	fd_changed(ws);
	struct att *a = add(ws);
	if (!a)
		return ZCP_ENOMEM;
	a->kind = ATT_SUB;
	a->object = sub;
	a->user_data = user_data;
	a->pubs = live_publishers(ws->m, sub->topic_index);
	sub->ws = ws;
	return 0;
}

int zcp_waitset_attach_trigger(zcp_waitset *ws, zcp_trigger *tr, void *user_data)
{
	int err = ws_check(ws);
	if (err)
		return err;
	if (!tr || tr->m != ws->m)
		return ZCP_EINVAL;
	if (tr->ws)
		return ZCP_EBUSY;
	struct zcp_mempool_manager *m = ws->m;
	pthread_mutex_lock(&m->topics_mutex);
	if (!m->trig_listens) {
		pthread_mutex_unlock(&m->topics_mutex);
		return ZCP_EINVAL; /* not opened through this manager */
	}
	struct att *a = add(ws);
	if (!a) {
		pthread_mutex_unlock(&m->topics_mutex);
		return ZCP_ENOMEM;
	}
	struct zcp__trigger *e = zcp__trigger_at(m, tr->index);
	if (m->trig_listens[tr->index]++ == 0)
		atomic_fetch_or_explicit(&e->listeners, UINT64_C(1) << m->slot,
					 memory_order_seq_cst);
	pthread_mutex_unlock(&m->topics_mutex);
	a->kind = ATT_TRIG;
	a->object = tr;
	a->user_data = user_data;
	/* seq_cst, after our bit: a fire after this read sees the bit. */
	a->seen = atomic_load_explicit(&e->fired, memory_order_seq_cst);
	tr->ws = ws;
	return 0;
}

/* Forget attachment i (no shared-memory work but a trigger's bit). */
static void drop(struct zcp_waitset *ws, size_t i)
{
	struct att *a = &ws->att[i];
	if (a->kind == ATT_SUB) {
		fd_changed(ws);
		((struct zcp_subscriber *)a->object)->ws = NULL;
	} else {
		struct zcp_trigger *tr = a->object;
		struct zcp_mempool_manager *m = ws->m;
		if (zcp__mgr_check(m) == 0) {
			pthread_mutex_lock(&m->topics_mutex);
			unlisten(m, tr->index);
			pthread_mutex_unlock(&m->topics_mutex);
		}
		tr->ws = NULL;
	}
	ws->att[i] = ws->att[--ws->n];
	if (ws->next >= ws->n)
		ws->next = 0;
}

int zcp_waitset_detach(zcp_waitset *ws, void *object)
{
	if (!ws || !object)
		return ZCP_EINVAL;
	struct att *a = find(ws, object);
	if (!a)
		return ZCP_ENOENT;
	drop(ws, (size_t)(a - ws->att));
	return 0;
}

void zcp__waitset_forget(struct zcp_waitset *ws, void *object)
{
	zcp_waitset_detach(ws, object);
}

static void fd_destroy(struct zcp_waitset *ws);

int zcp_waitset_destroy(zcp_waitset *ws)
{
	if (!ws)
		return 0;
	fd_destroy(ws);
	while (ws->n)
		drop(ws, ws->n - 1);
	free(ws->att);
	free(ws);
	return 0;
}

static void put(zcp_waitset_event *ev, int kind, struct att *a, unsigned pubs)
{
	ev->kind = kind;
	ev->publishers = pubs;
	ev->object = a->object;
	ev->user_data = a->user_data;
}

/* Look at every attachment, from ws->next on; write up to max events.
 * An attachment whose events did not all fit is looked at first next
 * time; otherwise the next look starts one further on. */
static size_t collect(struct zcp_waitset *ws, zcp_waitset_event *ev, size_t max)
{
	size_t got = 0, n = ws->n;
	if (n == 0)
		return 0;
	size_t start = ws->next < n ? ws->next : 0;
	for (size_t k = 0; k < n; k++) {
		size_t i = (start + k) % n;
		struct att *a = &ws->att[i];
		if (a->kind == ATT_TRIG) {
			struct zcp_trigger *tr = a->object;
			uint64_t f = atomic_load_explicit(&zcp__trigger_at(ws->m, tr->index)->fired,
							  memory_order_seq_cst);
			if (f == a->seen)
				continue;
			if (got == max) {
				ws->next = i;
				return got;
			}
			a->seen = f;
			put(&ev[got++], ZCP_EVENT_TRIGGER, a, 0);
			continue;
		}
		struct zcp_subscriber *sub = a->object;
		unsigned pubs = live_publishers(ws->m, sub->topic_index);
		int data = zcp_subscriber_waiting(sub) > 0;
		if (pubs != a->pubs) {
			if (got == max) {
				ws->next = i;
				return got;
			}
			put(&ev[got++],
			    pubs > a->pubs ? ZCP_EVENT_PUBLISHER_APPEARED : ZCP_EVENT_PUBLISHER_GONE, a,
			    pubs);
			a->pubs = pubs;
		}
		if (data) {
			if (got == max) {
				ws->next = i;
				return got;
			}
			put(&ev[got++], ZCP_EVENT_DATA, a, 0);
		}
	}
	ws->next = (start + 1) % n;
	return got;
}

/* Set or clear the sleeper bits (and the armed flags) of our subscribers. */
static void arm(struct zcp_waitset *ws, int on)
{
	struct zcp_mempool_manager *m = ws->m;
	for (size_t i = 0; i < ws->n; i++) {
		if (ws->att[i].kind != ATT_SUB)
			continue;
		struct zcp_subscriber *sub = ws->att[i].object;
		_Atomic uint64_t *word = &zcp__sleepers(m, sub->topic_index)[sub->index / 64];
		uint64_t bit = UINT64_C(1) << (sub->index % 64);
		if (on) {
			/* armed before the bit: a publisher that sees the bit
			 * (seq_cst) sees armed. */
			atomic_store_explicit(&sub->ep->armed, 1, memory_order_seq_cst);
			atomic_fetch_or_explicit(word, bit, memory_order_seq_cst);
		} else {
			atomic_fetch_and_explicit(word, ~bit, memory_order_seq_cst);
			atomic_store_explicit(&sub->ep->armed, 0, memory_order_relaxed);
		}
	}
}

/* --- the waitset's descriptor (the protocol atop the fd section) ------------ */

static int fd_usable(const struct zcp_waitset *ws)
{
	return ws->forks == zcp__fork_count() && zcp__mgr_check(ws->m) == 0;
}

/* Arm: our subscribers' sleeper bits, then our fd_armed bit. */
static void fd_arm(struct zcp_waitset *ws)
{
	struct zcp__proc *me = zcp__proc_at(ws->m, ws->m->slot);
	arm(ws, 1);
	atomic_fetch_or_explicit(&me->fd_armed, UINT64_C(1) << ws->fd_index, memory_order_seq_cst);
	ws->fd_armed = 1;
}

/* Disarm.  Returns 1 if our fd_armed bit was still set (no ringer took
 * it, so none writes a byte for this arming), else 0. */
static int fd_disarm(struct zcp_waitset *ws)
{
	if (!ws->fd_armed || !fd_usable(ws))
		return 0;
	struct zcp__proc *me = zcp__proc_at(ws->m, ws->m->slot);
	uint64_t bit = UINT64_C(1) << ws->fd_index;
	uint64_t was = atomic_fetch_and_explicit(&me->fd_armed, ~bit, memory_order_seq_cst);
	arm(ws, 0);
	ws->fd_armed = 0;
	return (was & bit) != 0;
}

/* Make our descriptor readable (EAGAIN: it is). */
static void fd_poke_own(struct zcp_waitset *ws)
{
	const char b = 1;
	while (write(ws->fd, &b, 1) < 0 && errno == EINTR)
		;
}

/* Empty our FIFO: what our ringers wrote is a few bytes.  Bounded: a
 * peer that floods it (any process allowed to open it can) must not keep
 * a wait here past its timeout; what is left makes the descriptor
 * readable with no news, a spurious wake-up the caller's wait answers. */
#define ZCP__FD_DRAIN_READS 16
static void fd_drain(struct zcp_waitset *ws)
{
	char buf[4096];
	for (int i = 0; i < ZCP__FD_DRAIN_READS; i++) {
		ssize_t r = read(ws->fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof buf)
			return;
	}
}

static void fd_destroy(struct zcp_waitset *ws)
{
	if (ws->fd < 0)
		return;
	if (fd_usable(ws)) {
		struct zcp_mempool_manager *m = ws->m;
		fd_disarm(ws);
		/* The FIFO goes before its name in our slot: killed between
		 * the two, the reclaim of us unlinks nothing that exists. */
		char path[FIFO_PATH_MAX];
		if (fifo_path(path, sizeof path, m, m->slot, ws->fd_nonce) == 0)
			unlink(path);
		uint64_t n = ws->fd_nonce;
		atomic_compare_exchange_strong_explicit(&zcp__proc_at(m, m->slot)->fd_nonce[ws->fd_index],
							&n, 0, memory_order_acq_rel,
							memory_order_relaxed);
		pthread_mutex_lock(&m->fd_mutex);
		m->fd_used &= ~(UINT32_C(1) << ws->fd_index);
		pthread_mutex_unlock(&m->fd_mutex);
	}
	close(ws->fd);
	ws->fd = -1;
}

static int fifo_err(int e)
{
	switch (e) {
	case EACCES:
	case EPERM:
	case EROFS:
		return ZCP_EACCES;
	case ENOENT:
	case ENOTDIR:
		return ZCP_ENOSYS;
	default:
		return -e;
	}
}

int zcp_waitset_fd(zcp_waitset *ws, int *fd_out)
{
	int err = ws_check(ws);
	if (err)
		return err;
	if (!fd_out)
		return ZCP_EINVAL;
	if (ws->fd >= 0) {
		*fd_out = ws->fd;
		return 0;
	}
	struct zcp_mempool_manager *m = ws->m;
	if (!zcp__plat_fifo_dir())
		return ZCP_ENOSYS;
	pthread_mutex_lock(&m->fd_mutex);
	unsigned i = 0;
	/* An entry still naming a FIFO is a leftover of an earlier occupant
	 * of the slot that could not be removed yet: kept (the rule atop
	 * zcp__fd_reclaim()). */
	struct zcp__proc *me = zcp__proc_at(m, m->slot);
	while (i < ZCP__FD_SLOTS &&
	       ((m->fd_used & (UINT32_C(1) << i)) ||
		atomic_load_explicit(&me->fd_nonce[i], memory_order_relaxed) != 0))
		i++;
	if (i < ZCP__FD_SLOTS)
		m->fd_used |= UINT32_C(1) << i;
	pthread_mutex_unlock(&m->fd_mutex);
	if (i == ZCP__FD_SLOTS)
		return ZCP_ENOSPC;
	char path[FIFO_PATH_MAX];
	uint64_t n = 0;
	int fd = -1, made = 0;
	_Atomic uint64_t *named = &zcp__proc_at(m, m->slot)->fd_nonce[i];
	for (int tries = 0; tries < 8 && !made; tries++) {
		n = fd_nonce();
		if ((err = fifo_path(path, sizeof path, m, m->slot, n)))
			goto fail;
		/* Its name in our slot before the FIFO exists, so a kill from
		 * here on leaves nothing the reclaim of us does not unlink.
		 * Nobody rings it: its armed bit is clear until a wait of
		 * ours arms it. */
		atomic_store_explicit(named, n, memory_order_release);
		if (mkfifo(path, 0600) == 0)
			made = 1;
		else if (errno != EEXIST) {
			err = fifo_err(errno);
			goto fail;
		}
	}
	if (!made) {
		err = ZCP_EEXIST;
		goto fail;
	}
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		err = fifo_err(errno);
		goto fail_unlink;
	}
	if (!S_ISFIFO(st.st_mode) || st.st_uid != geteuid()) {
		err = ZCP_EEXIST; /* not what we made */
		goto fail_unlink;
	}
	/* The segments' access rules: their declared mode (attach checks
	 * it), their group. */
	struct stat seg;
	if (m->data_seg && fstat(zcp_segment_fd(m->data_seg), &seg) == 0 && seg.st_gid != st.st_gid)
		(void)!fchown(fd, (uid_t)-1, seg.st_gid);
	if (fchmod(fd, (m->hdr->mode & 0660u) | 0600u) != 0) {
		err = fifo_err(errno);
		goto fail_unlink;
	}
	ws->fd = fd;
	ws->fd_index = i;
	ws->fd_nonce = n;
	ws->fd_armed = 0;
	fd_poke_own(ws); /* readable until a wait finds nothing and arms */
	*fd_out = fd;
	return 0;

fail_unlink:
	if (fd >= 0)
		close(fd);
	unlink(path);
fail:
	atomic_store_explicit(named, 0, memory_order_relaxed);
	pthread_mutex_lock(&m->fd_mutex);
	m->fd_used &= ~(UINT32_C(1) << i);
	pthread_mutex_unlock(&m->fd_mutex);
	return err;
}

static int past(const struct timespec *d)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > d->tv_sec || (now.tv_sec == d->tv_sec && now.tv_nsec >= d->tv_nsec);
}

int zcp_waitset_wait(zcp_waitset *ws, zcp_waitset_event *events, size_t max, int64_t timeout_ns)
{
	int err = ws_check(ws);
	if (err)
		return err;
	if (!events || max == 0)
		return ZCP_EINVAL;
	if (max > 65536)
		max = 65536; /* the count must fit the int returned */
	size_t got = collect(ws, events, max);
	if (got) {
		/* Not armed now: the descriptor readable (the protocol atop
		 * the fd section). */
		if (ws->fd >= 0 && fd_disarm(ws))
			fd_poke_own(ws);
		return (int)got;
	}
	if (timeout_ns == 0) {
		if (ws->fd < 0)
			return ZCP_ETIMEDOUT;
		fd_drain(ws);
		fd_arm(ws);
		got = collect(ws, events, max);
		if (got && fd_disarm(ws))
			fd_poke_own(ws);
		return got ? (int)got : ZCP_ETIMEDOUT;
	}
	/* A blocking wait on a waitset with a descriptor: not armed for the
	 * sleep (it arms and disarms the subscribers itself), readable
	 * after it, so the event loop looks again. */
	int fdw = ws->fd >= 0;
	if (fdw)
		fd_disarm(ws);
	struct timespec deadline;
	if (timeout_ns > 0)
		zcp__deadline_in(&deadline, timeout_ns);
	struct zcp__proc *me = zcp__proc_at(ws->m, ws->m->slot);
	/* The protocol atop this file. */
	arm(ws, 1);
	atomic_fetch_add_explicit(&me->doorbell_sleepers, 1, memory_order_seq_cst);
	for (;;) {
		uint32_t seen = atomic_load_explicit(&me->doorbell, memory_order_seq_cst);
		got = collect(ws, events, max);
		if (got)
			break;
		err = zcp__wait_on(&me->doorbell, seen, timeout_ns > 0 ? &deadline : NULL);
		if (err)
			break;
		/* Woken, spuriously or not: look again.  A doorbell a peer
		 * keeps changing makes every futex-wait return at once: the
		 * deadline is checked here too. */
		if (timeout_ns > 0 && past(&deadline)) {
			err = ZCP_ETIMEDOUT;
			break;
		}
	}
	/* Never below 0, whatever a peer wrote there. */
	uint32_t c = atomic_load_explicit(&me->doorbell_sleepers, memory_order_relaxed);
	while (c && !atomic_compare_exchange_weak_explicit(&me->doorbell_sleepers, &c, c - 1,
							   memory_order_seq_cst, memory_order_relaxed))
		;
	arm(ws, 0);
	if (!got && err == ZCP_ETIMEDOUT)
		got = collect(ws, events, max);
	if (fdw)
		fd_poke_own(ws);
	return got ? (int)got : err;
}
