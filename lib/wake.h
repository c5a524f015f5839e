/* SPDX-License-Identifier: MIT */
/* Sleeping on a word of shared memory and waking its sleepers: futexes in
 * the Linux platform layer (process-shared: never FUTEX_PRIVATE_FLAG, the
 * word is in a segment other processes map), a bounded sleep-and-look in
 * the POSIX one (see platform.h). */
#ifndef ZCP_WAKE_H
#define ZCP_WAKE_H

#include "internal.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Sleep while *word == expect, until woken or until the CLOCK_MONOTONIC
 * time *deadline (NULL: no deadline).  Returns 0 (woken, or the word
 * differed: look again), ZCP_ETIMEDOUT, or ZCP_EINTR (a signal). */
int zcp__wait_on(_Atomic uint32_t *word, uint32_t expect, const struct timespec *deadline);

/* Wake every sleeper on word. */
void zcp__wake_all(_Atomic uint32_t *word);

/* Signals held back for the whole of a wait, so that none is lost between
 * looking and sleeping.  A futex wait cannot unblock signals atomically
 * for the sleep, as pselect does: a signal that lands just before the
 * sleep runs its handler and the sleep never learns of it (and qemu-user
 * may restart an interrupted futex wait itself).  Held, a signal stays
 * pending until zcp__signals_arrived() looks.  Faults (SIGBUS, SIGSEGV,
 * SIGFPE, SIGILL) are never held: held, they would kill the process
 * instead of reaching their handlers. */
typedef struct zcp__held_signals {
	sigset_t old; /* the mask to go back to */
	int held;     /* 0: pthread_sigmask refused, nothing is held */
} zcp__held_signals;

/* Hold back every signal but the faults. */
void zcp__signals_hold(zcp__held_signals *h);

/* Let in the signals pending since zcp__signals_hold() that the caller's
 * own mask does not block (their handlers run, or their default actions
 * happen), then hold again.  Returns 1 if one of them had a handler: the
 * wait should end with ZCP_EINTR; 0 otherwise. */
int zcp__signals_arrived(zcp__held_signals *h);

/* Back to the caller's mask (delivering what is pending). */
void zcp__signals_release(zcp__held_signals *h);

/* CLOCK_MONOTONIC now, in ns. */
uint64_t zcp__mono_ns(void);

/* *ts = CLOCK_MONOTONIC now + ns (ns >= 0), saturating. */
void zcp__deadline_in(struct timespec *ts, int64_t ns);

#endif /* ZCP_WAKE_H */
