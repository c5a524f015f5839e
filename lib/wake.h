/* SPDX-License-Identifier: MIT */
/* Sleeping on a word of shared memory and waking its sleepers: futexes in
 * the Linux platform layer (process-shared: never FUTEX_PRIVATE_FLAG, the
 * word is in a segment other processes map), a bounded sleep-and-look in
 * the POSIX one (see platform.h). */
#ifndef ZCP_WAKE_H
#define ZCP_WAKE_H

#include "internal.h"

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Sleep while *word == expect, until woken or until the CLOCK_MONOTONIC
 * time *deadline (NULL: no deadline).  Returns 0 (woken, or the word
 * differed: look again), ZCP_ETIMEDOUT, or ZCP_EINTR (a signal). */
int zcp__wait_on(_Atomic uint32_t *word, uint32_t expect, const struct timespec *deadline);

/* Wake every sleeper on word. */
void zcp__wake_all(_Atomic uint32_t *word);

/* CLOCK_MONOTONIC now, in ns. */
uint64_t zcp__mono_ns(void);

/* *ts = CLOCK_MONOTONIC now + ns (ns >= 0), saturating. */
void zcp__deadline_in(struct timespec *ts, int64_t ns);

#endif /* ZCP_WAKE_H */
