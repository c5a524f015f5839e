/* SPDX-License-Identifier: MIT */
/*
 * tests/tap.h - a small TAP producer in the style of c-tap-harness.
 *
 * plan(n) or plan_lazy() first; then ok(), is_int(), is_string(), skip();
 * diag() for comments.  At exit the lazy plan is printed and the exit
 * status is non-zero if a test failed or the count did not match the plan.
 * Only the process that called plan() prints anything at exit: forked
 * children that leave with exit() stay silent.
 */
#ifndef ZEROCP_TESTS_TAP_H
#define ZEROCP_TESTS_TAP_H

#include <stdarg.h>

#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TAP_NORETURN __attribute__((noreturn))

void plan(unsigned long n);
void plan_lazy(void);
/* Prints the lazy plan now; returns the exit status the program should have. */
int done_testing(void);

int ok(int cond, const char *fmt, ...) TAP_PRINTF(2, 3);
int is_int(long long got, long long want, const char *fmt, ...) TAP_PRINTF(3, 4);
int is_string(const char *got, const char *want, const char *fmt, ...) TAP_PRINTF(3, 4);
void skip(const char *fmt, ...) TAP_PRINTF(1, 2);
void diag(const char *fmt, ...) TAP_PRINTF(1, 2);
void skip_all(const char *fmt, ...) TAP_PRINTF(1, 2) TAP_NORETURN;
void bail(const char *fmt, ...) TAP_PRINTF(1, 2) TAP_NORETURN;

/* Number of failed tests so far. */
unsigned long tap_failed(void);

/* A function run before the process leaves through bail() or a failing
 * exit, to remove test litter (set by zt.c). */
void tap_set_cleanup(void (*fn)(void));

#endif /* ZEROCP_TESTS_TAP_H */
