/* SPDX-License-Identifier: MIT */
/*
 * tests/zt.h - helpers for zerocp's test programs: fork with timeouts,
 * unique segment names, and a check that nothing is left in /dev/shm.
 *
 * Linking zt.o installs, before main(), an exit handler and SIGTERM/SIGINT
 * handlers that remove this test's segments (/dev/shm/zerocp_zt<pid>x*),
 * and an overall alarm (ZT_TIMEOUT_TOTAL seconds, default 120, 0 = none)
 * that bails out instead of hanging.  All of it acts in the primary
 * process only, never in forked children.
 */
#ifndef ZEROCP_TESTS_ZT_H
#define ZEROCP_TESTS_ZT_H

#include <sys/types.h>

#include "tap.h"

/* Default seconds a forked child may live (env ZT_TIMEOUT; 0 = no limit). */
#define ZT_CHILD_TIMEOUT 20

/*
 * zt_fork - fflush(NULL), then fork().  In the child: default signal
 * handlers, an alarm of ZT_TIMEOUT seconds, and no cleanup at exit.
 * Children print no TAP and should leave with _exit().  Returns as fork().
 */
pid_t zt_fork(void);

/*
 * zt_wait - waitpid() for pid, retrying EINTR; a child that outlives its
 * timeout (plus a grace period) is killed with SIGKILL and reaped.
 * Returns 0 and the status, or -errno.
 */
int zt_wait(pid_t pid, int *status);

/*
 * zt_ok_child - wait for pid and report one test: passes iff the child
 * exited with status 0; otherwise diag()s the exit code or signal.
 * Returns the test result (1 pass, 0 fail).
 */
int zt_ok_child(pid_t pid, const char *fmt, ...) TAP_PRINTF(2, 3);

/*
 * zt_name - a fresh segment name "zt<pid>x<n>", unique per call (pid of
 * the primary test process, n counting up).  Static storage, valid for the
 * next 63 calls.
 */
const char *zt_name(void);

/* zt_iters - ZCP_TEST_ITERS from the environment if set and positive,
 * else dflt ("make stress" sets it). */
long zt_iters(long dflt);

/* zt_slowdown - ZT_SLOWDOWN from the environment (a factor, default 1):
 * how much slower than native the tests run, e.g. under qemu-user.  It
 * multiplies the default timeouts (ZT_TIMEOUT_TOTAL, ZT_TIMEOUT) and the
 * durations of the tests that run for a time and count what they did. */
long zt_slowdown(void);

/* zt_emulator - ZT_EMULATOR from the environment ("qemu-user" in .ci/run's
 * emulated passes), or NULL when the tests run natively.  Only for
 * skipping what an emulator cannot do, with the reason. */
const char *zt_emulator(void);

/*
 * zt_done - at the end of every test program, in the primary process:
 * reports "no shared-memory litter" as one test (failing, with a list, if
 * /dev/shm holds segments of this test; skipped without /dev/shm) and
 * removes them.
 */
void zt_done(void);

/* Removes this test's segments from /dev/shm; returns how many. */
int zt_cleanup(int report);

/*
 * Checks for forked children, which print no TAP: on failure, one line
 *   # child <pid>: FILE:LINE: check failed: EXPR[: message]
 * goes to stderr with write(2) (no stdio buffers; the harness merges it
 * into the TAP log as a comment), then the child leaves with _exit(1).
 * ZT_CHECK_MSG adds a printf-style message (formatted into a stack buffer);
 * ZT_CHECK_EXIT leaves with the given code instead of 1, for parents that
 * decode it.  ZT_NOTE writes such a line ("# child <pid>: FILE:LINE: msg")
 * without leaving, e.g. just before a deliberate _exit(code).
 */
#define ZT_CHECK(expr)                                                          \
	do {                                                                    \
		if (!(expr))                                                    \
			zt_child_fail(__FILE__, __LINE__, 1, #expr, NULL);      \
	} while (0)
#define ZT_CHECK_MSG(expr, ...)                                                 \
	do {                                                                    \
		if (!(expr))                                                    \
			zt_child_fail(__FILE__, __LINE__, 1, #expr, __VA_ARGS__); \
	} while (0)
/* ZT_REQUIRE - a setup step of the primary process that must work: bail
 * out (which cleans up) if it does not. */
#define ZT_REQUIRE(expr)                                                        \
	do {                                                                    \
		if (!(expr))                                                    \
			bail("%s:%d: %s", __FILE__, __LINE__, #expr);           \
	} while (0)
#define ZT_CHECK_EXIT(expr, code)                                               \
	do {                                                                    \
		if (!(expr))                                                    \
			zt_child_fail(__FILE__, __LINE__, (code), #expr, NULL); \
	} while (0)
#define ZT_NOTE(...) zt_child_note(__FILE__, __LINE__, __VA_ARGS__)

/* The functions behind ZT_CHECK*: fmt may be NULL (no message). */
__attribute__((noreturn)) void zt_child_fail(const char *file, int line, int code,
					     const char *expr, const char *fmt, ...)
	TAP_PRINTF(5, 6);
void zt_child_note(const char *file, int line, const char *fmt, ...) TAP_PRINTF(3, 4);

/* ZT_SANITIZED: a sanitizer build (gcc says so by macros, clang by
 * __has_feature).  Their runtimes make system calls of their own, so the
 * no-system-call checks skip there. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define ZT_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ZT_SANITIZED 1
#endif

#endif /* ZEROCP_TESTS_ZT_H */
