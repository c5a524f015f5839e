/* SPDX-License-Identifier: MIT */
/* Futex waits and wakes (see wake.h). */
#include "wake.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/select.h>
#if defined(ZCP_PLATFORM_LINUX)
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__has_include)
#if __has_include(<linux/futex.h>)
#include <linux/futex.h>
#endif
#endif
/* The kernel's ABI, for C libraries without the kernel headers (musl). */
#ifndef FUTEX_WAKE
#define FUTEX_WAKE 1
#endif
#ifndef FUTEX_WAIT_BITSET
#define FUTEX_WAIT_BITSET 9
#endif
#ifndef FUTEX_BITSET_MATCH_ANY
#define FUTEX_BITSET_MATCH_ANY 0xffffffff
#endif
#endif

uint64_t zcp__mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#if defined(NSIG)
#define ZCP__NSIG NSIG
#else
#define ZCP__NSIG 65
#endif

void zcp__signals_hold(zcp__held_signals *h)
{
	sigset_t all;
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	h->held = pthread_sigmask(SIG_BLOCK, &all, &h->old) == 0;
}

int zcp__signals_arrived(zcp__held_signals *h)
{
	sigset_t pending;
	if (!h->held || sigpending(&pending) != 0)
		return 0;
	int any = 0, handled = 0;
	for (int s = 1; s < ZCP__NSIG; s++) {
		if (sigismember(&pending, s) != 1 || sigismember(&h->old, s) == 1)
			continue; /* not pending, or the caller blocks it itself */
		any = 1;
		struct sigaction sa;
		if (sigaction(s, NULL, &sa) == 0 &&
		    ((sa.sa_flags & SA_SIGINFO) || (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN)))
			handled = 1;
	}
	if (any) {
		sigset_t held;
		pthread_sigmask(SIG_SETMASK, &h->old, &held); /* delivers them */
		pthread_sigmask(SIG_SETMASK, &held, NULL);
	}
	return handled;
}

void zcp__signals_release(zcp__held_signals *h)
{
	if (h->held)
		pthread_sigmask(SIG_SETMASK, &h->old, NULL);
	h->held = 0;
}

void zcp__deadline_in(struct timespec *ts, int64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	int64_t sec = ns / 1000000000;
	long nsec = (long)(ns % 1000000000) + ts->tv_nsec;
	if (nsec >= 1000000000) {
		nsec -= 1000000000;
		sec++;
	}
	ts->tv_nsec = nsec;
	ts->tv_sec = sec > (int64_t)(INT_MAX) - ts->tv_sec ? (time_t)INT_MAX : ts->tv_sec + (time_t)sec;
}

#if defined(ZCP_PLATFORM_LINUX) && defined(SYS_futex)
int zcp__wait_on(_Atomic uint32_t *word, uint32_t expect, const struct timespec *deadline)
{
	/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time. */
	long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, expect, deadline, NULL,
			 FUTEX_BITSET_MATCH_ANY);
	if (r == 0)
		return 0;
	switch (errno) {
	case EAGAIN:
		return 0; /* the word moved on: look again */
	case ETIMEDOUT:
		return ZCP_ETIMEDOUT;
	case EINTR:
		return ZCP_EINTR;
	default:
		return -errno;
	}
}

void zcp__wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}
#else
/* No futex: look every millisecond.  Correct (the caller re-checks), but
 * a wake-up costs up to a millisecond and the sleeper some CPU.
 *
 * A signal must end the wait even when it lands between two sleeps, where
 * nanosleep would never see it: hold the signals for the whole wait and
 * sleep in pselect, which lets them in atomically for the sleep only, so
 * a signal that came while we looked is delivered (and reported) by the
 * next sleep. */
int zcp__wait_on(_Atomic uint32_t *word, uint32_t expect, const struct timespec *deadline)
{
	zcp__held_signals h;
	zcp__signals_hold(&h);
	if (!h.held)
		return ZCP_EINVAL; /* h.old unknown: pselect needs it */
	int err = 0;
	for (;;) {
		if (atomic_load_explicit(word, memory_order_acquire) != expect)
			break;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (deadline && (now.tv_sec > deadline->tv_sec ||
				 (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec))) {
			err = ZCP_ETIMEDOUT;
			break;
		}
		struct timespec ms = {0, 1000000};
		if (pselect(0, NULL, NULL, NULL, &ms, &h.old) < 0 && errno == EINTR) {
			err = ZCP_EINTR;
			break;
		}
	}
	zcp__signals_release(&h);
	return err;
}

void zcp__wake_all(_Atomic uint32_t *word)
{
	(void)word;
}
#endif
