/* SPDX-License-Identifier: MIT */
/* Test hook: die at a named point of a shared-memory write sequence.
 *
 * The crash-safety tests arm a point in a forked child; the child then
 * SIGKILLs itself when it reaches that point, leaving shared memory exactly
 * as a kill at that instruction would.  Points exist only in the build
 * the tests link (lib/libzerocp_impl.la, compiled with ZCP_CRASH_POINTS);
 * there a disarmed point costs one relaxed load of a process-global flag.
 * The installed library has none.
 */
#ifndef ZCP_CRASHPOINT_H
#define ZCP_CRASHPOINT_H

#include "internal.h" /* first: config.h before any system header */

#include <stdatomic.h>

extern _Atomic int zcp__crash_armed;

void zcp__crash_point_hit(const char *name);

/* Arm `name`: its (skip+1)-th hit in this process raises SIGKILL. */
void zcp__crash_arm(const char *name, unsigned skip);

/* Call fn(name) at every point any thread of this process reaches, before
 * an armed kill (NULL: no more calls).  A test parks a thread there to
 * force an interleaving of two threads or processes. */
void zcp__crash_hook(void (*fn)(const char *name));

/* Names of every point, NULL-terminated (for tests that cover them all). */
extern const char *const zcp__crash_points[];

#ifdef ZCP_CRASH_POINTS
#define ZCP__CRASH_POINT(name)                                                    \
	do {                                                                      \
		if (__builtin_expect(atomic_load_explicit(&zcp__crash_armed,      \
							  memory_order_relaxed), \
				     0))                                          \
			zcp__crash_point_hit(name);                               \
	} while (0)
#else
#define ZCP__CRASH_POINT(name) ((void)0)
#endif

#endif /* ZCP_CRASHPOINT_H */
