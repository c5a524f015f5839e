/* SPDX-License-Identifier: MIT */
/* tools/cmd_top.c - "zerocp top": a live view of one manager.
 *
 * Attaches read-only (no process slot taken) and redraws, every
 * --interval seconds, the pools (used and free, with a bar and the high
 * water mark) and the attached processes (pid, liveness, chunks held, lent
 * references waiting to be settled).  On a terminal the screen is
 * redrawn in place and the terminal is put in non-canonical mode so that
 * 'q' quits at once; the terminal is restored on every way out (q, SIGINT,
 * SIGTERM, SIGHUP).  When stdout is not a terminal, each frame is printed
 * as plain text after a blank line, -n N frames (default: until a signal).
 *
 * Publish/subscribe topics get a section of their own below the processes
 * once the library has them (their rates computed from two frames, as the
 * pools' churn would be).
 */
#include "tool.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Set by the stopping signals. */
static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s top [--name N | --socket PATH] [--owner UID] [--interval SECONDS]\n"
		"                  [-n FRAMES]\n"
		"\n"
		"Show manager N live: its pools (used, free, a bar, the most ever used)\n"
		"its attached processes (pid, alive, chunks held, lent unsettled) and\n"
		"its topics (publishers, subscribers, samples/s, lost, kept).\n"
		"Read-only: takes no process slot.  On a terminal the view is redrawn in\n"
		"place and 'q' quits; otherwise each frame is printed as plain text.\n"
		"  --interval SECONDS  time between frames (default 1; fractions ok)\n"
		"  -n FRAMES           stop after this many frames (default: until 'q'\n"
		"                      or a signal)\n"
		"  --socket PATH       attach through the socket of a \"serve --socket\"\n"
		"  --owner UID         the user (uid or name) that must own the manager\n"
		"                      (default: ours; 'any': no check)\n",
		zcp_tool_progname);
}

/* A bar of `width` cells for used/total: '#' used, '.' free. */
static void bar(char *out, int width, uint64_t used, uint64_t total)
{
	int n = total ? (int)((used * (uint64_t)width + total - 1) / total) : 0;
	if (n > width)
		n = width;
	for (int k = 0; k < width; k++)
		out[k] = k < n ? '#' : '.';
	out[width] = '\0';
}

/* What the previous frame saw of each topic, for the rate column. */
#define TOP_MAX_TOPICS 4096 /* the most a manager may have */
static struct {
	char name[ZCP_TOPIC_NAME_MAX + 1];
	uint64_t published;
	struct timespec when;
	int valid;
} prev_topic[TOP_MAX_TOPICS];

/* The TOPICS section: per topic publishers, subscribers, rate (samples/s
 * of published between this frame and the last), lost and kept. */
static int topics_section(const zcp_mempool_manager *m, const char *eol)
{
	int n = zcp_topic_slots(m), shown = 0;
	struct timespec now;

	if (n < 0)
		return n;
	if (n == 0) {
		printf("topics are turned off%s", eol);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	printf("TOPIC                             PUBS  SUBS     RATE/s        LOST        KEPT%s",
	       eol);
	for (int i = 0; i < n && i < TOP_MAX_TOPICS; i++) {
		zcp_topic_info ti;
		char rate[32] = "-";
		int err = zcp_topic_get_info(m, i, &ti);
		if (err == ZCP_ENOENT || err == ZCP_ECORRUPT) {
			prev_topic[i].valid = 0;
			continue;
		}
		if (err != 0)
			return err;
		if (prev_topic[i].valid && strcmp(prev_topic[i].name, ti.name) == 0 &&
		    ti.published >= prev_topic[i].published) {
			double dt = (double)(now.tv_sec - prev_topic[i].when.tv_sec) +
				    (double)(now.tv_nsec - prev_topic[i].when.tv_nsec) / 1e9;
			if (dt > 0)
				snprintf(rate, sizeof rate, "%.1f",
					 (double)(ti.published - prev_topic[i].published) / dt);
		}
		memcpy(prev_topic[i].name, ti.name, sizeof prev_topic[i].name);
		prev_topic[i].published = ti.published;
		prev_topic[i].when = now;
		prev_topic[i].valid = 1;
		shown++;
		printf("%-32s  %4u  %4u  %9s  %10llu  %10llu%s", zcp_tool_q(ti.name), ti.publishers,
		       ti.subscribers, rate, (unsigned long long)ti.lost,
		       (unsigned long long)ti.kept, eol);
	}
	printf("%d of %d topic slots in use%s", shown, n, eol);
	return 0;
}

/* Draw one frame to stdout; tty: clear the screen first and end lines
 * with "\033[K" (erase the rest of the line).  Returns 0 or an error. */
static int frame(const zcp_mempool_manager *m, int tty, double interval)
{
	const char *eol = tty ? "\033[K\n" : "\n";
	int npools = zcp_mempool_manager_pool_count(m);
	int slots = zcp_mempool_manager_process_slots(m);
	int alive = zcp_mempool_manager_creator_alive(m);
	char stamp[32], b[41];
	time_t now = time(NULL);
	struct tm tm;
	int nproc = 0;

	if (npools < 0 || slots < 0)
		return npools < 0 ? npools : slots;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
	if (tty)
		fputs("\033[H", stdout);
	printf("zerocp top - %s - manager %s, creator pid %ld %s - every %gs%s%s", stamp,
	       zcp_tool_q(zcp_mempool_manager_name(m)), zcp_mempool_manager_creator_pid(m),
	       alive > 0 ? "alive" : alive == 0 ? "DEAD" : "?", interval, tty ? ", q quits" : "",
	       eol);
	printf("%s", eol);
	printf("POOL  CHUNK SIZE      USED      FREE     TOTAL  MAX USED  USE%s", eol);
	for (int p = 0; p < npools; p++) {
		zcp_pool_stats st;
		int err = zcp_mempool_manager_pool_stats(m, p, &st);
		if (err != 0)
			return err;
		bar(b, 30, st.used, st.total);
		printf("%4d  %10llu  %8llu  %8llu  %8llu  %8llu  [%s] %3d%%%s", p,
		       (unsigned long long)st.chunk_size, (unsigned long long)st.used,
		       (unsigned long long)st.free, (unsigned long long)st.total,
		       (unsigned long long)st.used_max, b,
		       st.total ? (int)(st.used * 100 / st.total) : 0, eol);
	}
	printf("%s", eol);
	printf("SLOT       PID  STATE       CHUNKS  LENT UNSETTLED  PROCESS ID%s", eol);
	for (int s = 0; s < slots; s++) {
		zcp_process_info pi;
		int err = zcp_mempool_manager_process(m, s, &pi);
		if (err != 0)
			return err;
		if (pi.pid == 0)
			continue;
		nproc++;
		printf("%4d  %8lld  %-10s  %6llu  %14llu  0x%016llx%s%s", s, (long long)pi.pid,
		       pi.reclaiming ? "reclaiming" : pi.alive ? "alive" : "dead",
		       (unsigned long long)pi.chunks, (unsigned long long)pi.lent_unsettled,
		       (unsigned long long)pi.id, pi.self ? " (this top)" : "", eol);
	}
	printf("%d of %d process slots in use%s", nproc, slots, eol);
	printf("%s", eol);
	{
		int err = topics_section(m, eol);
		if (err != 0)
			return err;
	}
	if (tty)
		fputs("\033[J", stdout); /* erase what an older, longer frame left */
	return fflush(stdout) == 0 ? 0 : -errno;
}

/* Wait up to `seconds` for a key on a terminal's stdin.  Returns 1 when
 * 'q' (or Q) was typed, 0 otherwise (time out, signal, other key). */
static int wait_key(double seconds, int tty_in)
{
	struct timeval tv;
	fd_set rd;
	char c;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	FD_ZERO(&rd);
	if (tty_in)
		FD_SET(0, &rd);
	if (select(tty_in ? 1 : 0, &rd, NULL, NULL, &tv) <= 0)
		return 0;
	if (read(0, &c, 1) == 1 && (c == 'q' || c == 'Q'))
		return 1;
	return 0;
}

/* Entry point of "zerocp top". */
int zcp_tool_top(int argc, char **argv)
{
	struct zcp_tool_target t = {NULL, NULL, ZCP_OWNER_SELF, 1, 0};
	zcp_mempool_manager *m;
	double interval = 1.0;
	unsigned long frames = 0;
	int tty, tty_in, err = 0, rc = ZCP_TOOL_OK;
	struct termios saved, raw;
	struct sigaction sa;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if ((r = zcp_tool_opt("top", argc, argv, &i, "--name", &v)) != 0) {
			if (r < 0 || zcp_tool_check_name("top", v) != 0)
				return ZCP_TOOL_USAGE;
			t.name = v;
		} else if ((r = zcp_tool_opt("top", argc, argv, &i, "--socket", &v)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
			t.socket = v;
		} else if ((r = zcp_tool_opt("top", argc, argv, &i, "--owner", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_owner("top", v, &t.owner) != 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt("top", argc, argv, &i, "--interval", &v)) != 0) {
			char *end;
			if (r < 0)
				return ZCP_TOOL_USAGE;
			errno = 0;
			interval = strtod(v, &end);
			if (errno != 0 || end == v || *end != '\0' || !(interval >= 0.05) ||
			    interval > 86400.0) {
				zcp_tool_err("top", "bad --interval %s: seconds, 0.05 to 86400",
					     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
		} else if ((r = zcp_tool_opt("top", argc, argv, &i, "-n", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_uint(v, 1, 1000000000UL, &frames) != 0) {
				zcp_tool_err("top", "bad -n %s: a number of frames, 1 or more",
					     r < 0 ? "" : zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
		} else {
			zcp_tool_err("top", "unknown option %s", zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		}
	}
	if (t.socket != NULL && t.name != NULL) {
		zcp_tool_err("top", "--name and --socket exclude each other");
		return ZCP_TOOL_USAGE;
	}
	if (t.socket == NULL && zcp_tool_check_env_name("top", t.name) != 0)
		return ZCP_TOOL_USAGE;
	err = zcp_tool_attach("top", &t, &m, NULL);
	if (err != 0) {
		zcp_tool_attach_error("top", &t, err);
		return ZCP_TOOL_FAIL;
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	tty = isatty(1);
	tty_in = tty && isatty(0) && tcgetattr(0, &saved) == 0;
	if (tty_in) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		tcsetattr(0, TCSANOW, &raw);
	}
	if (tty)
		fputs("\033[?25l\033[2J", stdout); /* hide the cursor, clear */

	for (unsigned long n = 0; !stop; n++) {
		if (!tty && n > 0)
			printf("\n");
		err = frame(m, tty, interval);
		if (err != 0)
			break;
		if (frames != 0 && n + 1 >= frames)
			break;
		if (wait_key(interval, tty_in))
			break;
	}

	if (tty)
		fputs("\033[?25h", stdout); /* the cursor back */
	if (tty_in)
		tcsetattr(0, TCSANOW, &saved);
	fflush(stdout);
	zcp_mempool_manager_detach(m);
	if (err != 0 && err != -EPIPE) {
		zcp_tool_err("top", "reading the manager: %s", zcp_strerror(err));
		rc = ZCP_TOOL_FAIL;
	}
	return rc;
}
