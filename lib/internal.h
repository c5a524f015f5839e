/* SPDX-License-Identifier: MIT */
/*
 * lib/internal.h - private helpers shared by the files of lib/.
 *
 * Never installed.  Functions declared here are named zcp__* and have
 * hidden visibility in the shared library; tests reach them by linking the
 * convenience library lib/libzerocp_impl.la.
 */
#ifndef ZEROCP_LIB_INTERNAL_H
#define ZEROCP_LIB_INTERNAL_H

/* First: it defines _GNU_SOURCE and friends for the system headers. */
#include "config.h"

#include <errno.h>
#include <time.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <zerocp/zerocp.h>

#if defined(__GNUC__) || defined(__clang__)
#define ZCP_LIKELY(x) __builtin_expect(!!(x), 1)
#define ZCP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define ZCP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define ZCP_NORETURN __attribute__((noreturn))
#define ZCP_COLD __attribute__((noinline, cold))
#define ZCP_HOT_INLINE inline __attribute__((always_inline))
#else
#define ZCP_LIKELY(x) (x)
#define ZCP_UNLIKELY(x) (x)
#define ZCP_PRINTF(fmt, args)
#define ZCP_NORETURN
#define ZCP_COLD
#define ZCP_HOT_INLINE inline
#endif

#define ZCP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The current errno as a zerocp code; never 0, so a failure stays one. */
static inline int zcp__neg_errno(void)
{
	return errno > 0 ? -errno : ZCP_EIO;
}

/* The failure of a call that returns a pointer: errno from a negative
 * zerocp code, and NULL. */
/* Nanoseconds of a cheap clock (CLOCK_MONOTONIC_COARSE where there is
 * one: a few milliseconds of resolution, a few nanoseconds to read), for
 * informative ages. */
static inline uint64_t zcp__coarse_ns(void)
{
	struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
	clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void *zcp__fail_null(int err)
{
	errno = -err;
	return NULL;
}

/*
 * zcp__name_valid - check a user-supplied object name.
 *
 * Returns 0 if name has 1 to max characters, all from [A-Za-z0-9._-], and
 * does not start with '.'; ZCP_EINVAL otherwise (including NULL).  Reads at
 * most max + 1 bytes of name.
 */
int zcp__name_valid(const char *name, size_t max);

/*
 * zcp__shm_path - build the shm_open() path "/zerocp_<name><suffix>" in
 * buf.  suffix may be NULL (no suffix).  The name is not validated here.
 * Returns 0, ZCP_EINVAL (NULL buf or name, bufsz 0) or ZCP_ENAMETOOLONG
 * if the path and its NUL do not fit bufsz (buf then holds "").
 */
int zcp__shm_path(char *buf, size_t bufsz, const char *name, const char *suffix);

/* zcp__segment_create_hooked - zcp_segment_create(), calling hook->fn(fd,
 * hook->arg) on the new object's descriptor before it is sized (a nonzero
 * return fails the create, which then leaves nothing).  The manager takes
 * its creator's liveness lock there, so a segment is never visible under
 * its name without it for longer than that call. */
struct zcp__segment_hook {
	int (*fn)(int fd, void *arg);
	void *arg;
};
int zcp__segment_create_hooked(const char *name, size_t size, const zcp_segment_options *opts,
			       const struct zcp__segment_hook *hook, zcp_segment **out);

/* The prefix of every zerocp shared-memory object name. */
#define ZCP__SHM_PREFIX "zerocp_"

#endif /* ZEROCP_LIB_INTERNAL_H */
