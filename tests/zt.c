/* SPDX-License-Identifier: MIT */
/* tests/zt.c - fork, timeout and litter helpers; see zt.h. */
#include "config.h"

#include "zt.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SHM_DIR "/dev/shm"

static pid_t primary;
static char litter_prefix[64]; /* "zerocp_zt<pid>x" */

static long env_long(const char *var, long dflt)
{
	const char *s = getenv(var);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return dflt;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return dflt;
	return v;
}

int zt_cleanup(int report)
{
	DIR *d;
	struct dirent *e;
	char path[512];
	int n = 0;

	if (primary == 0 || getpid() != primary)
		return 0;
	d = opendir(SHM_DIR);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, litter_prefix, strlen(litter_prefix)) != 0)
			continue;
		if (report)
			diag("left behind: " SHM_DIR "/%s", e->d_name);
		snprintf(path, sizeof(path), SHM_DIR "/%s", e->d_name);
		unlink(path);
		n++;
	}
	closedir(d);
	return n;
}

static void cleanup_quiet(void)
{
	zt_cleanup(0);
}

static void on_term(int sig)
{
	/* Not strictly async-signal-safe (opendir), acceptable for tests:
	 * the process is going away either way. */
	zt_cleanup(0);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_alarm(int sig)
{
	static const char msg[] = "Bail out! test program timed out (ZT_TIMEOUT_TOTAL)\n";
	ssize_t r;

	(void)sig;
	r = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)r;
	zt_cleanup(0);
	_exit(255);
}

__attribute__((constructor)) static void zt_init(void)
{
	long total = env_long("ZT_TIMEOUT_TOTAL", 120 * zt_slowdown());

	primary = getpid();
	snprintf(litter_prefix, sizeof(litter_prefix), "zerocp_zt%ldx", (long)primary);
	atexit(cleanup_quiet);
	tap_set_cleanup(cleanup_quiet);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGALRM, on_alarm);
	if (total > 0)
		alarm((unsigned int)total);
}

static long child_timeout(void)
{
	return env_long("ZT_TIMEOUT", ZT_CHILD_TIMEOUT * zt_slowdown());
}

pid_t zt_fork(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		long t = child_timeout();

		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		alarm(t > 0 ? (unsigned int)t : 0);
	}
	return pid;
}

int zt_wait(pid_t pid, int *status)
{
	long t = child_timeout();
	struct timespec start, now, nap = { 0, 100000 };
	int st, killed = 0;

	if (status == NULL)
		status = &st;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t r = waitpid(pid, status, killed ? 0 : WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r < 0 || killed)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &now);
		/* The child's own alarm should fire first; this is the net
		 * for a child that blocked or ignored SIGALRM. */
		if (t > 0 && now.tv_sec - start.tv_sec > t + 5) {
			diag("child %ld outlived its timeout; sending SIGKILL", (long)pid);
			kill(pid, SIGKILL);
			killed = 1;
			continue;
		}
		nanosleep(&nap, NULL);
		if (nap.tv_nsec < 10000000)
			nap.tv_nsec *= 2;
	}
}

int zt_ok_child(pid_t pid, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int status = 0, r, pass;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r = zt_wait(pid, &status);
	pass = r == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
	ok(pass, "%s", msg);
	if (r < 0)
		diag("  waitpid(%ld): %s", (long)pid, strerror(-r));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		diag("  child exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		diag("  child killed by signal %d (%s)%s", WTERMSIG(status),
		     strsignal(WTERMSIG(status)),
		     WTERMSIG(status) == SIGALRM ? ": timed out" : "");
	return pass;
}

const char *zt_name(void)
{
	static char names[64][32];
	static unsigned long n;
	char *s = names[n % 64];

	snprintf(s, sizeof(names[0]), "zt%ldx%lu", (long)primary, n);
	n++;
	return s;
}

long zt_iters(long dflt)
{
	long v = env_long("ZCP_TEST_ITERS", 0);

	return v > 0 ? v : dflt;
}

void zt_done(void)
{
	DIR *d;
	int n;

	if (getpid() != primary)
		return;
	d = opendir(SHM_DIR);
	if (d == NULL) {
		skip("no " SHM_DIR " to check for shared-memory litter");
		return;
	}
	closedir(d);
	n = zt_cleanup(1);
	ok(n == 0, "no shared-memory litter");
}

/* The file's name from "tests/" on (VPATH builds pass "../tests/x.c"). */
static const char *short_file(const char *file)
{
	const char *s = strstr(file, "tests/");

	return s != NULL ? s : file;
}

/* Formats "# child <pid>: FILE:LINE: " + head + message + "\n" into a stack
 * buffer and write(2)s it to stderr in one call. */
static void child_line(const char *file, int line, const char *head, const char *fmt,
		       va_list ap)
{
	char buf[1024];
	size_t n;
	int r;
	ssize_t w;

	r = snprintf(buf, sizeof(buf), "# child %ld: %s:%d: %s", (long)getpid(),
		     short_file(file), line, head);
	n = r < 0 ? 0 : (size_t)r < sizeof(buf) ? (size_t)r : sizeof(buf) - 1;
	if (fmt != NULL && n < sizeof(buf) - 1) {
		r = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		if (r > 0)
			n += (size_t)r < sizeof(buf) - n ? (size_t)r : sizeof(buf) - n - 1;
	}
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	/* Keep it one comment line. */
	for (size_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	buf[n++] = '\n';
	do
		w = write(STDERR_FILENO, buf, n);
	while (w < 0 && errno == EINTR);
}

void zt_child_fail(const char *file, int line, int code, const char *expr, const char *fmt, ...)
{
	char head[512];
	va_list ap;

	snprintf(head, sizeof(head), "check failed: %s%s", expr, fmt != NULL ? ": " : "");
	va_start(ap, fmt);
	child_line(file, line, head, fmt, ap);
	va_end(ap);
	_exit(code);
}

void zt_child_note(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	child_line(file, line, "", fmt, ap);
	va_end(ap);
}

long zt_slowdown(void)
{
	long f = env_long("ZT_SLOWDOWN", 1);

	return f >= 1 && f <= 1000 ? f : 1;
}

const char *zt_emulator(void)
{
	const char *e = getenv("ZT_EMULATOR");

	return e != NULL && *e != '\0' ? e : NULL;
}
