/* SPDX-License-Identifier: MIT */
/* tests/tap.c - TAP producer; see tap.h. */
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static unsigned long planned, current, failed;
static int lazy, plan_printed, finished;
static pid_t primary;
static void (*cleanup_fn)(void);

void tap_set_cleanup(void (*fn)(void))
{
	cleanup_fn = fn;
}

unsigned long tap_failed(void)
{
	return failed;
}

static void run_cleanup(void)
{
	if (cleanup_fn != NULL)
		cleanup_fn();
}

static int exit_status(void)
{
	if (failed > 0)
		return 1;
	if (!lazy && planned != current)
		return 255;
	return 0;
}

static void finish(void)
{
	int status;

	if (getpid() != primary || finished)
		return;
	finished = 1;
	if (lazy && !plan_printed) {
		printf("1..%lu\n", current);
		plan_printed = 1;
	}
	if (!lazy && planned != current)
		printf("# planned %lu tests but ran %lu\n", planned, current);
	if (failed > 0)
		printf("# %lu of %lu tests failed\n", failed, current);
	fflush(stdout);
	status = exit_status();
	if (status != 0) {
		/* Calling exit() from an atexit handler is undefined; _exit()
		 * is fine, but skips later handlers, hence the hook. */
		run_cleanup();
		_exit(status);
	}
}

static void start(void)
{
	primary = getpid();
	/* Unbuffered-ish output: line buffering keeps TAP lines whole and in
	 * order with the children's stderr. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(finish);
}

void plan(unsigned long n)
{
	start();
	planned = n;
	printf("1..%lu\n", n);
	plan_printed = 1;
}

void plan_lazy(void)
{
	start();
	lazy = 1;
}

int done_testing(void)
{
	if (lazy && !plan_printed) {
		printf("1..%lu\n", current);
		plan_printed = 1;
	}
	fflush(stdout);
	return exit_status();
}

static int vresult(int cond, const char *fmt, va_list ap)
{
	char desc[1024] = "";

	if (fmt != NULL)
		vsnprintf(desc, sizeof(desc), fmt, ap);
	current++;
	/* A "# TODO" directive marks a known failure (TAP): reported, not
	 * counted against the exit status. */
	if (!cond && strstr(desc, "# TODO") == NULL)
		failed++;
	printf("%sok %lu", cond ? "" : "not ", current);
	if (desc[0] != '\0')
		printf(" - %s", desc);
	putchar('\n');
	fflush(stdout);
	return cond;
}

int ok(int cond, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vresult(cond, fmt, ap);
	va_end(ap);
	return r;
}

int is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vresult(got == want, fmt, ap);
	va_end(ap);
	if (!r)
		diag("  got %lld, wanted %lld", got, want);
	return r;
}

int is_string(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int same = (got == NULL || want == NULL) ? got == want : strcmp(got, want) == 0;
	int r;

	va_start(ap, fmt);
	r = vresult(same, fmt, ap);
	va_end(ap);
	if (!r)
		diag("  got \"%s\", wanted \"%s\"", got ? got : "(null)", want ? want : "(null)");
	return r;
}

void skip(const char *fmt, ...)
{
	va_list ap;

	current++;
	printf("ok %lu # SKIP ", current);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void diag(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void skip_all(const char *fmt, ...)
{
	va_list ap;

	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	finished = 1;
	run_cleanup();
	exit(0);
}

void bail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	finished = 1;
	run_cleanup();
	_exit(255);
}
