/* SPDX-License-Identifier: MIT */
/* tools/cmd_serve.c - "zerocp serve": the manager daemon.
 *
 * Creates the manager (replacing the leftovers of a crashed server when
 * that is safe) from the command line or a config file (-c FILE, INI read
 * with libinih: see config_load()), prints "ready" for scripts (and tells
 * a service manager: --ready-fd, sd_notify), then every --interval seconds
 * reclaims the chunks of dead processes, naming each, and logs the status
 * when it changed (or on SIGUSR1), until SIGINT, SIGTERM or another
 * stopping signal; finally it destroys the manager so that nothing stays
 * in /dev/shm.  It takes no chunk itself: the seed's server allocations
 * are part of "zerocp demo".
 *
 * Log lines go to standard output, line-buffered, as
 * "2026-11-30T14:30:00.123+0000 info: message": a timestamp, a level
 * (error, warning, info, debug) and the message.  --quiet keeps errors and
 * warnings, --verbose adds debug lines.  The "ready" line (and "socket:
 * PATH" before it) has no prefix: scripts wait for it.  Errors before the
 * manager exists (usage, create) are "zerocp: serve: ..." on stderr.
 *
 * With --socket the segments are anonymous memfds instead (nothing in
 * /dev/shm), handed to clients by the broker of <zerocp/broker.h> on a
 * Unix socket, whose path is printed ("socket: PATH") before "ready".
 *
 * Signals: SIGUSR1 logs the status now.  Every other signal whose default
 * action would end the process (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM, the real-time
 * signals..., and SIGSEGV, SIGABRT and the other fault signals when another
 * process sends them) stops the server cleanly instead, as SIGINT does, so that no
 * way of ending it short of SIGKILL leaves its segments behind; SIGPIPE is
 * ignored (a closed stdout must not kill a server).  They stay blocked
 * except inside pselect(), which unblocks them atomically with the wait;
 * so a signal that arrives at any point ends the next (or the current)
 * wait at once, never lost between a check of the flag and the sleep.  The
 * same pselect() watches the broker's socket, so clients are answered
 * while we wait.
 *
 * An existing manager of our name (create says ZCP_EEXIST) is examined
 * through a read-only attach, which takes no process slot and changes
 * nothing, and replaced only when that is safe: see handle_existing().
 */
#include "tool.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#ifdef ZCP_HAVE_INIH
#include <ini.h>
#endif

/* The signal that asked us to stop, 0 while running.  Written only by the
 * handler, read by the main loop. */
static volatile sig_atomic_t stop_signal;

/* Set by SIGUSR1: log the status at once, changed or not. */
static volatile sig_atomic_t status_request;

/* Log levels, and the lowest one printed (--quiet: LOG_WARN, --verbose:
 * LOG_DEBUG). */
enum { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
static int log_level = LOG_INFO;

/* slog - one log line on stdout: local time with milliseconds and UTC
 * offset, the level, the message.  Lines above log_level are dropped. */
static void slog(int level, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
static void slog(int level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	struct timespec ts;
	struct tm tm;
	char stamp[64], zone[16];
	va_list ap;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof zone, "%z", &tm);
	printf("%s.%03ld%s %s: ", stamp, ts.tv_nsec / 1000000L, zone, names[level]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* The signals that stop the server, with their names for the last
 * message.  Those a process cannot catch (SIGKILL, SIGSTOP) are not here.
 * The ones that mean a crash (fault_signals below) stop it only when
 * another process sends them: after a fault of our own nothing is safe
 * to touch. */
static const struct {
	int sig;
	const char *name;
} stop_signals[] = {
	{SIGINT, "SIGINT"},   {SIGTERM, "SIGTERM"}, {SIGHUP, "SIGHUP"},
	{SIGQUIT, "SIGQUIT"}, {SIGUSR2, "SIGUSR2"},
	{SIGALRM, "SIGALRM"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
	{SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"},
#ifdef SIGPOLL
	{SIGPOLL, "SIGPOLL"},
#endif
#ifdef SIGPWR
	{SIGPWR, "SIGPWR"},
#endif
#ifdef SIGSTKFLT
	{SIGSTKFLT, "SIGSTKFLT"},
#endif
};
#define NSTOP (sizeof stop_signals / sizeof stop_signals[0])

static const struct {
	int sig;
	const char *name;
} fault_signals[] = {
	{SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"}, {SIGILL, "SIGILL"}, {SIGFPE, "SIGFPE"},
	{SIGABRT, "SIGABRT"}, {SIGTRAP, "SIGTRAP"},
#ifdef SIGSYS
	{SIGSYS, "SIGSYS"},
#endif
};
#define NFAULT (sizeof fault_signals / sizeof fault_signals[0])

/* Options of one "serve" run. */
struct serve_opts {
	const char *name; /* NULL: the library default */
	double interval;  /* seconds between status reports */
	int takeover;     /* replace segments even with live processes attached */
	int socket;       /* memfd segments, served by a broker */
	const char *socket_dir; /* the broker's directory; NULL: its default */
	long allow_gid;   /* a group the broker admits too; -1: none */
	int ready_fd;     /* --ready-fd: write "READY=1\n" there when ready; -1 */
	/* The topic table (zcp_mempool_config_set_topics()): topics,
	 * publishers and subscribers a topic, queue slots; 0 in [1..3]: the
	 * default; topics_set: one of them was given. */
	unsigned long topics[4];
	int topics_set;
	int chunk_ages;   /* --chunk-ages: note when each chunk was taken */
};

/* The seed's pools, used when neither --pool nor a [pool NAME] section
 * is given. */
static const struct {
	uint64_t size;
	uint32_t count;
} default_pools[] = {{256, 100}, {1024, 50}, {4096, 20}, {16384, 10}};

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s serve [-c|--config FILE] [--name N] [--pool SIZExCOUNT]... [--interval S]\n"
		"                    [--max-processes N] [--mode 0660] [--gid G] [--takeover]\n"
		"                    [--topics N] [--topic-publishers N] [--topic-subscribers N]\n"
		"                    [--topic-queue N] [--chunk-ages]\n"
		"                    [--socket [--socket-dir D] [--allow-gid G]]\n"
		"                    [--quiet | --verbose] [--ready-fd FD]\n"
		"\n"
		"Create the memory-pool manager N and keep it until SIGINT, SIGTERM or any\n"
		"other terminating signal (SIGHUP, SIGQUIT...; all but SIGKILL clean up).\n"
		"Reclaims the chunks of dead processes every interval, naming them, and\n"
		"logs the status when it changed; SIGUSR1 logs it at once.\n"
		"An existing manager N is replaced only when its server is dead and no live\n"
		"process is attached (see --takeover); a live or starting server's never.\n"
		"  -c, --config FILE   read options from an INI file (see zerocp(1)); the\n"
		"                      command line overrides it, --pool replaces its pools\n"
		"  --pool SIZExCOUNT   a pool of COUNT chunks of SIZE bytes (256, 1K, 4K,\n"
		"                      16K, 1M...); repeatable.  Default: the seed's pools\n"
		"                      256x100 1Kx50 4Kx20 16Kx10\n"
		"  --interval SECONDS  reclaim and status period (default 5; fractions ok)\n"
		"  --max-processes N   process table size (1..%d, default %d)\n"
		"  --topics N          topic table size (0..4096, default %d; 0: no topics)\n"
		"  --topic-publishers N   publishers a topic may have (1..1024, default %d)\n"
		"  --topic-subscribers N  subscribers a topic may have (1..1024, default %d)\n"
		"  --topic-queue N     the largest capacity or history of a topic\n"
		"                      (1..65536, default %d)\n"
		"  --chunk-ages        note when each chunk is taken, for \"stat --chunks\"\n"
		"                      (a clock read on every chunk get)\n"
		"  --mode MODE         segment permissions, octal, subset of 0660\n"
		"  --gid G             group of the segments (number or name)\n"
		"  --takeover          replace a dead server's segments even while other\n"
		"                      processes are still attached to them, or segments\n"
		"                      that are not a usable manager (foreign, corrupt,\n"
		"                      another version)\n"
		"  --socket            anonymous memfd segments (nothing in /dev/shm), given\n"
		"                      to clients over a Unix socket: attach with\n"
		"                      \"stat --socket PATH\", \"demo --socket PATH\" (Linux)\n"
		"  --socket-dir D      directory of the socket (default $XDG_RUNTIME_DIR,\n"
		"                      else /tmp/zerocp-UID); the socket is D/zerocp-N.sock\n"
		"  --allow-gid G       also admit processes whose primary group is G\n"
		"                      (number or name); by default only our own uid\n"
		"  -q, --quiet         log only errors and warnings\n"
		"  -v, --verbose       log debug lines too\n"
		"  --ready-fd FD       when ready, write \"READY=1\" to descriptor FD and\n"
		"                      close it (with $NOTIFY_SOCKET set, sd_notify too)\n"
		"Prints \"socket: PATH\" with --socket, then \"ready\" on a line of its own\n"
		"once the manager serves.\n",
		zcp_tool_progname, ZCP_MAX_PROCESSES, ZCP_DEFAULT_PROCESSES, ZCP_DEFAULT_TOPICS,
		ZCP_DEFAULT_TOPIC_PUBLISHERS, ZCP_DEFAULT_TOPIC_SUBSCRIBERS, ZCP_DEFAULT_TOPIC_QUEUE);
}

/* Why a handler at all: to leave the wait and clean up instead of dying
 * with the segments still in /dev/shm. */
static void on_signal(int sig)
{
	stop_signal = sig;
}

/* A fault signal.  They are blocked but inside the wait, where no
 * instruction of ours faults, so this one was sent: by another process
 * (kill -SEGV), a stop like SIGTERM; by ourselves (abort() raises
 * SIGABRT), back to the default action, which abort() then takes.  A
 * fault while blocked kills at once, as the kernel does for any
 * synchronous fault. */
static void on_fault_signal(int sig, siginfo_t *si, void *ctx)
{
	(void)ctx;
	if (si != NULL && si->si_code <= 0 && si->si_pid != getpid()) {
		stop_signal = sig;
		return;
	}
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
}

/* SIGUSR1: ask the main loop for the status. */
static void on_status(int sig)
{
	(void)sig;
	status_request = 1;
}

/* Install the handlers of every stopping signal and block them outside
 * the waits; *waitmask receives the mask to wait with (the original one,
 * all of them unblocked).  Installed unconditionally: a background job of
 * a non-interactive shell inherits SIGINT ignored, and the scenario script
 * stops us with SIGINT.  SIGPIPE is ignored: writes to a closed stdout or
 * socket fail with EPIPE instead. */
static int setup_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the wait must return EINTR */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	for (size_t k = 0; k < NSTOP; k++)
		sigaddset(&block, stop_signals[k].sig);
	for (size_t k = 0; k < NFAULT; k++)
		sigaddset(&block, fault_signals[k].sig);
#if defined(SIGRTMIN) && defined(SIGRTMAX)
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		sigaddset(&block, sig);
#endif
	if (sigprocmask(SIG_BLOCK, &block, waitmask) != 0)
		return -1;
	for (size_t k = 0; k < NSTOP; k++) {
		sigdelset(waitmask, stop_signals[k].sig);
		if (sigaction(stop_signals[k].sig, &sa, NULL) != 0)
			return -1;
	}
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_fault_signal;
	sa.sa_flags = SA_SIGINFO;
	for (size_t k = 0; k < NFAULT; k++) {
		sigdelset(waitmask, fault_signals[k].sig);
		if (sigaction(fault_signals[k].sig, &sa, NULL) != 0)
			return -1;
	}
	sa.sa_sigaction = NULL;
	sa.sa_handler = on_signal;
	sa.sa_flags = 0;
#if defined(SIGRTMIN) && defined(SIGRTMAX)
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++) {
		sigdelset(waitmask, sig);
		/* Some are taken by the C library (threads): skip those. */
		sigaction(sig, &sa, NULL);
	}
#endif
	sa.sa_handler = on_status;
	sigdelset(waitmask, SIGUSR1);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -1;
	return 0;
}

/* The name of a stopping signal, for the last message. */
static const char *signal_name(int sig, char *buf, size_t len)
{
	for (size_t k = 0; k < NSTOP; k++)
		if (stop_signals[k].sig == sig)
			return stop_signals[k].name;
	for (size_t k = 0; k < NFAULT; k++)
		if (fault_signals[k].sig == sig)
			return fault_signals[k].name;
#if defined(SIGRTMIN)
	if (sig >= SIGRTMIN) {
		snprintf(buf, len, "SIGRTMIN+%d", sig - SIGRTMIN);
		return buf;
	}
#endif
	snprintf(buf, len, "signal %d", sig);
	return buf;
}

/* Wait `seconds` or until a stop signal or SIGUSR1, whichever comes
 * first, answering the broker's clients (br may be NULL) as they come.
 * Returns 1 when asked to stop. */
static int wait_interval(double seconds, const sigset_t *waitmask, zcp_broker *br)
{
	int bfd = br != NULL ? zcp_broker_fd(br) : -1;
	struct timespec now, end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)seconds;
	end.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	while (!stop_signal && !status_request) {
		struct timespec left;
		fd_set rd;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = end.tv_sec - now.tv_sec;
		left.tv_nsec = end.tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			break;
		FD_ZERO(&rd);
		if (bfd >= 0)
			FD_SET(bfd, &rd);
		/* Atomically unblock SIGINT/SIGTERM and sleep: EINTR on a
		 * signal, even one that was pending already. */
		if (pselect(bfd + 1, &rd, NULL, NULL, &left, waitmask) > 0 && bfd >= 0 &&
		    FD_ISSET(bfd, &rd)) {
			/* Only those already waiting: never block here.  EAGAIN
			 * (a client gone before accept) is harmless; others are
			 * reported. */
			int n = zcp_broker_serve(br, 0);
			if (n > 0)
				slog(LOG_DEBUG, "broker: handed the manager to %d client(s)", n);
			if (n < 0 && n != ZCP_EAGAIN) {
				slog(LOG_ERROR, "the broker cannot accept clients: %s (%s)",
				     zcp_strerror(n), zcp_err_name(n));
				/* A lasting error (EMFILE) would keep the socket
				 * readable: leave it until the next interval
				 * rather than spin. */
				bfd = -1;
			}
		}
	}
	return stop_signal != 0;
}

/* The creator's pid as recorded in the manager, 0 if unreadable. */
static long creator_pid(const zcp_mempool_manager *m)
{
	long pid = zcp_mempool_manager_creator_pid(m);
	return pid > 0 ? pid : 0;
}

/* Remove the segments of manager o->name by name, for leftovers no
 * handle could be had on, so that create can be tried again: 0, or an
 * exit code after saying why. */
static int unlink_segments(const struct serve_opts *o, const char *name)
{
	int err = zcp_mempool_manager_unlink(o->name);
	if (err != 0 && err != ZCP_ENOENT) {
		zcp_tool_err("serve", "cannot remove the segments of %s: %s", zcp_tool_q(name),
			     zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}
	return 0;
}

/* Remove exactly the segments `old` mapped (not a manager a racing server
 * may have created since under the same name), then let go of old.
 * Returns 0 so that create is tried again, or an exit code. */
static int remove_mapped(zcp_mempool_manager *old, const char *name)
{
	int err = zcp_mempool_manager_remove(old);

	zcp_mempool_manager_detach(old);
	if (err != 0) {
		zcp_tool_err("serve", "cannot remove the segments of %s: %s", zcp_tool_q(name),
			     zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}
	return 0;
}

/* Decide what to do about an existing manager of our name (create said
 * EEXIST).  It is examined through a read-only attach: no process slot
 * taken, nothing written.  Returns 0 when its segments were removed (or
 * vanished) and create should be tried again, or an exit code after
 * printing why we refuse:
 *
 *   ZCP_EAGAIN  its creator, alive, is still initialising it: another
 *               server is starting; refuse and touch nothing.
 *   ZCP_ESRCH   its creator died initialising it: leftovers, removed.
 *   attached, creator alive: a server runs; refuse.
 *   attached, creator dead: replaced if no live process is attached
 *               (or --takeover), removing only the segments mapped.
 *   ZCP_EOWNER  another user's segments: refuse, naming file and owner.
 *   ZCP_EFOREIGN, ZCP_ECORRUPT, ZCP_EVERSION, ZCP_ETRUNCATED: not a
 *               manager we can judge; refuse unless --takeover.
 */
static int handle_existing(const struct serve_opts *o, const char *name)
{
	struct zcp_tool_target t = {o->name, NULL, ZCP_OWNER_SELF, 1, 1};
	zcp_mempool_manager *old;
	int err = zcp_tool_attach("serve", &t, &old, NULL);

	switch (err) {
	case 0:
		break;
	case ZCP_ENOENT:
		/* Gone since create looked (its server stopped, or it
		 * failed): just try again. */
		return 0;
	case ZCP_EAGAIN:
		zcp_tool_err("serve",
			     "another server is starting manager %s right now (its segments are "
			     "still being initialised); not touching them",
			     zcp_tool_q(name));
		return ZCP_TOOL_FAIL;
	case ZCP_ESRCH:
		slog(LOG_INFO, "replacing leftover segments of %s: their creator died while "
			       "initialising them",
		     zcp_tool_q(name));
		return unlink_segments(o, name);
	case ZCP_EOWNER:
		zcp_tool_attach_error("serve", &t, err);
		zcp_tool_err("serve", "not replacing the segments of %s: they are not ours",
			     zcp_tool_q(name));
		return ZCP_TOOL_FAIL;
	case ZCP_EFOREIGN:
	case ZCP_ECORRUPT:
	case ZCP_EVERSION:
	case ZCP_ETRUNCATED:
		if (!o->takeover) {
			zcp_tool_err("serve",
				     "segments named %s exist but are not a usable manager (%s: %s); "
				     "remove them with 'zerocp clean --name %s', or use --takeover",
				     zcp_tool_q(name), zcp_err_name(err), zcp_strerror(err),
				     zcp_tool_q(name));
			return ZCP_TOOL_FAIL;
		}
		slog(LOG_WARN, "taking over: replacing segments of %s that are not a usable manager "
			       "(%s: %s)",
		     zcp_tool_q(name), zcp_err_name(err), zcp_strerror(err));
		return unlink_segments(o, name);
	default:
		zcp_tool_err("serve", "a manager named %s exists but cannot be attached: %s",
			     zcp_tool_q(name), zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}

	long creator = creator_pid(old);
	int alive = zcp_mempool_manager_creator_alive(old);
	if (alive != 0) {
		/* 1, or an error: never remove what may be a live server's. */
		if (alive < 0)
			zcp_tool_err("serve", "cannot tell whether the server of %s runs: %s",
				     zcp_tool_q(name), zcp_strerror(alive));
		else
			zcp_tool_err("serve", "a server is already running for %s (pid %ld)", name,
				     creator);
		zcp_mempool_manager_detach(old);
		return ZCP_TOOL_FAIL;
	}

	/* The creator is dead: who else still uses the segments? */
	char pids[ZCP_MAX_PROCESSES * 24] = "";
	size_t len = 0;
	int others = 0, slots = zcp_mempool_manager_process_slots(old);
	for (int s = 0; s < slots; s++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(old, s, &pi) != 0 || pi.pid == 0)
			continue;
		if (!pi.alive || pi.self)
			continue;
		others++;
		if (len < sizeof pids)
			len += (size_t)snprintf(pids + len, sizeof pids - len, " %lld",
						(long long)pi.pid);
	}

	if (others > 0 && !o->takeover) {
		zcp_tool_err("serve",
			     "the server of %s (pid %ld) died, but %d process(es) are still "
			     "attached:%s; stop them, or use --takeover",
			     zcp_tool_q(name), creator, others, pids);
		zcp_mempool_manager_detach(old);
		return ZCP_TOOL_FAIL;
	}
	/* Slot 0 is free when a client reclaimed the dead server's slot. */
	char who[32] = "(pid unknown)";
	if (creator != 0)
		snprintf(who, sizeof who, "%ld", creator);
	if (others > 0)
		slog(LOG_WARN, "taking over: replacing segments of dead server %s; still attached "
			       "(they keep their old mappings):%s",
		     who, pids);
	else
		slog(LOG_INFO, "replacing segments of dead server %s", who);
	return remove_mapped(old, name);
}

/* Print the sizes of the two segments, the seed's first verification
 * point; memfd segments have no path, only a name for /proc. */
static void print_layout(const zcp_mempool_manager *m, const char *name, int memfd)
{
	const char *where = memfd ? "memfd:" : "/dev/shm/";
	zcp_mempool_layout lay;

	if (zcp_mempool_manager_get_layout(m, &lay) != 0)
		return;
	slog(LOG_INFO, "Management segment: %szerocp_%s_mgmt, %llu bytes", where, name,
	     (unsigned long long)lay.mgmt_size);
	slog(LOG_INFO, "Data segment: %szerocp_%s_data, %llu bytes (%llu chunks, %llu management "
		       "bytes per chunk)",
	     where, name, (unsigned long long)lay.data_size, (unsigned long long)lay.total_chunks,
	     (unsigned long long)lay.record_size);
}

/* The directory the broker uses when --socket-dir is not given (the rule
 * of <zerocp/broker.h>), for messages. */
static const char *default_socket_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (xdg != NULL && xdg[0] == '/')
		return xdg;
	snprintf(buf, len, "/tmp/zerocp-%lu", (unsigned long)geteuid());
	return buf;
}

/* Say why the broker could not listen in `dir`: its owner when it is not
 * ours, a missing parent, or the library's error. */
static void listen_error(const char *dir, const char *name, int err)
{
	char parent[4096];
	struct stat st;

	if (err == ZCP_EACCES &&
	    zcp_tool_explain_owner("serve", "the socket directory", dir, (long)geteuid(), 1))
		return;
	if (err == ZCP_ENOENT) {
		const char *slash = strrchr(dir, '/');
		snprintf(parent, sizeof parent, "%.*s", slash != NULL && slash != dir ?
								(int)(slash - dir) : 1, dir);
		if (stat(parent, &st) != 0) {
			zcp_tool_err("serve",
				     "cannot create the socket directory %s: its parent %s does not "
				     "exist",
				     zcp_tool_q(dir), zcp_tool_q(parent));
			return;
		}
	}
	zcp_tool_err("serve", "cannot listen on a socket for %s in directory %s: %s",
		     zcp_tool_q(name), zcp_tool_q(dir),
		     err > -4096 ? strerror(-err) : zcp_strerror(err));
}

/* Check that the broker can really hand out the manager before we say
 * "ready": connect to our own socket and have it answered.  A server that
 * cannot accept (no descriptor left, say) must fail now, not look ready
 * and turn every client away.  Returns 0 or the error. */
static int broker_self_check(zcp_broker *br)
{
	const char *path = zcp_broker_path(br);
	struct sockaddr_un sa;
	int fd, n, err = 0;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (path == NULL || strlen(path) >= sizeof sa.sun_path)
		return ZCP_ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		err = -errno;
	} else {
		n = zcp_broker_serve(br, 1000);
		if (n < 0)
			err = n;
		else if (n == 0)
			err = ZCP_EAGAIN;
	}
	/* Whatever it sent goes with the connection. */
	close(fd);
	return err;
}

/* Start the broker of a --socket server.  Returns 0 and *out, or an exit
 * code after printing why. */
static int start_broker(const struct serve_opts *o, zcp_mempool_manager *m, const char *name,
			zcp_broker **out)
{
	zcp_broker_options bo;
	char dbuf[64];
	const char *dir = o->socket_dir != NULL ? o->socket_dir : default_socket_dir(dbuf, sizeof dbuf);
	int err, fd;

	zcp_broker_options_init(&bo);
	bo.dir = o->socket_dir;
	bo.allow_gid = o->allow_gid;
	err = zcp_broker_listen(m, &bo, out);
	if (err == ZCP_EBUSY) {
		/* The memfd counterpart of an existing manager's name. */
		zcp_tool_err("serve", "a server is already running for %s (its socket is busy)",
			     name);
		return ZCP_TOOL_FAIL;
	}
	if (err != 0) {
		listen_error(dir, name, err);
		return ZCP_TOOL_FAIL;
	}
	/* pselect() can only watch descriptors below FD_SETSIZE. */
	fd = zcp_broker_fd(*out);
	if (fd < 0 || fd >= FD_SETSIZE) {
		zcp_tool_err("serve", "broker descriptor %d cannot be waited on with pselect", fd);
		err = ZCP_EMFILE;
	} else {
		err = broker_self_check(*out);
		if (err != 0)
			zcp_tool_err("serve", "the broker at %s cannot serve clients: %s",
				     zcp_tool_q(zcp_broker_path(*out)), zcp_strerror(err));
	}
	if (err != 0) {
		zcp_broker_close(*out);
		*out = NULL;
		return ZCP_TOOL_FAIL;
	}
	return 0;
}

/* Parse a group given as a number or a name into *gid.  Returns 0, or -1
 * after printing a diagnostic naming the option. */
static int parse_gid(const char *opt, const char *v, long *gid)
{
	unsigned long g;
	struct group *gr;

	if (zcp_tool_parse_uint(v, 0, 0x7fffffffUL, &g) == 0) {
		*gid = (long)g;
		return 0;
	}
	if (*v == '-' || *v == '+' || (*v >= '0' && *v <= '9')) {
		/* A number, but not a valid group id: say so rather than look
		 * it up as a name. */
		zcp_tool_err("serve", "bad %s %s: a group id must be from 0 to 2147483647 "
				      "(or a group name)",
			     opt, zcp_tool_q(v));
		return -1;
	}
	gr = getgrnam(v);
	if (gr == NULL) {
		zcp_tool_err("serve", "bad %s %s: no such group", opt, zcp_tool_q(v));
		return -1;
	}
	*gid = (long)gr->gr_gid;
	return 0;
}

/* Say which limit a --pool entry (v: SIZExCOUNT, parsed) breaks, given
 * the sizes of the n pools before it: per chunk (ZCP_MAX_CHUNK_SIZE),
 * chunks per pool (ZCP_MAX_CHUNKS_PER_POOL), pools per manager
 * (ZCP_MAX_POOLS), or a size given twice.  Returns 0 when it breaks none,
 * else -1 after the diagnostic. */
static int pool_error(const char *v, uint64_t size, uint32_t count, int n,
		      const uint64_t *sizes)
{
	if (size > ZCP_MAX_CHUNK_SIZE) {
		zcp_tool_err("serve",
			     "bad --pool %s: a chunk of %llu bytes is over the per-chunk limit "
			     "of %llu bytes (1 TiB, ZCP_MAX_CHUNK_SIZE)",
			     zcp_tool_q(v), (unsigned long long)size,
			     (unsigned long long)ZCP_MAX_CHUNK_SIZE);
		return -1;
	}
	if (count > ZCP_MAX_CHUNKS_PER_POOL) {
		zcp_tool_err("serve",
			     "bad --pool %s: %lu chunks are over the limit of %u chunks per pool "
			     "(ZCP_MAX_CHUNKS_PER_POOL)",
			     zcp_tool_q(v), (unsigned long)count, ZCP_MAX_CHUNKS_PER_POOL);
		return -1;
	}
	if (n >= ZCP_MAX_POOLS) {
		zcp_tool_err("serve", "bad --pool %s: at most %d pools (ZCP_MAX_POOLS)",
			     zcp_tool_q(v), ZCP_MAX_POOLS);
		return -1;
	}
	for (int k = 0; k < n; k++) {
		if (sizes[k] == size) {
			zcp_tool_err("serve",
				     "bad --pool %s: a pool of %llu-byte chunks was already given "
				     "(one pool per size)",
				     zcp_tool_q(v), (unsigned long long)size);
			return -1;
		}
	}
	return 0;
}

/* The pools are each valid; check that together they fit the limits of
 * a manager: either segment at most ZCP_MAX_SEGMENT_SIZE bytes, all the
 * chunks addressable.  The data segment's size is computed here as the
 * library does (a 64-byte header plus the payload rounded up to 64 bytes
 * per chunk, each pool on a 4096-byte boundary), in 128 bits where the
 * compiler has them so nothing overflows, to say by how much.  Returns 0, or -1 after a diagnostic. */
#ifdef __SIZEOF_INT128__
typedef unsigned __int128 wide_t;
#define WIDE_ADD(a, b) ((a) + (b))
#define WIDE_MUL(a, b) ((a) * (b))
#else
/* No 128-bit integers (i386, armhf): 64 bits that saturate, which still
 * tell "over the limit" and give an "about" that is a lower bound. */
typedef uint64_t wide_t;
static wide_t wide_add(wide_t a, wide_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}
static wide_t wide_mul(wide_t a, wide_t b)
{
	return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}
#define WIDE_ADD(a, b) wide_add((a), (b))
#define WIDE_MUL(a, b) wide_mul((a), (b))
#endif

static int segments_error(const zcp_mempool_config *cfg, int n, const uint64_t *sizes,
			  const uint32_t *counts)
{
	zcp_mempool_layout lay;
	wide_t data = 0, chunks = 0;

	if (zcp_mempool_config_layout(cfg, &lay) == 0 && lay.data_size <= ZCP_MAX_SEGMENT_SIZE &&
	    lay.mgmt_size <= ZCP_MAX_SEGMENT_SIZE)
		return 0;
	for (int k = 0; k < n; k++) {
		wide_t stride = WIDE_ADD((wide_t)sizes[k], 64 + 63) / 64 * 64;
		data = WIDE_ADD(WIDE_ADD(data, 4095) / 4096 * 4096, WIDE_MUL(stride, counts[k]));
		chunks = WIDE_ADD(chunks, counts[k]);
	}
	if (data > ZCP_MAX_SEGMENT_SIZE) {
		zcp_tool_err("serve",
			     "the pools need a data segment of about %.3g bytes, over the "
			     "per-segment limit of %llu bytes (64 TiB, ZCP_MAX_SEGMENT_SIZE)",
			     (double)data, (unsigned long long)ZCP_MAX_SEGMENT_SIZE);
		return -1;
	}
	zcp_tool_err("serve",
		     "the pools (%llu chunks in all) do not fit one manager: at most %llu chunks "
		     "in all, and a management segment of at most %llu bytes "
		     "(ZCP_MAX_SEGMENT_SIZE)",
		     (unsigned long long)chunks, (unsigned long long)((UINT64_C(1) << 26) - 1),
		     (unsigned long long)ZCP_MAX_SEGMENT_SIZE);
	return -1;
}

/* ---------------------------------------------------------------------
 * Config file (-c FILE)
 * ---------------------------------------------------------------------
 * An INI file read with libinih: every key is the long option of the same
 * name, so the file and the command line share one parser and one set of
 * checks (parse() below).  The file's options come first in the argument
 * vector and the command line's after, so the command line wins; pools
 * given with --pool replace the file's.  Format (zerocp(1), FILES):
 *
 *   [server]            name, interval, max-processes, mode, gid,
 *                       takeover, socket, socket-dir, allow-gid,
 *                       topics, topic-publishers, topic-subscribers,
 *                       topic-queue, chunk-ages,
 *                       log-level (quiet, info or verbose)
 *   [pool NAME]         size, count: one pool (NAME is only a label)
 *
 * Publish/subscribe topics will get [topic NAME] sections of their own
 * here, translated the same way into their command-line options.
 */

/* The options read from a file, as "--key=value" strings. */
struct cfg_args {
	char **v;
	int n, cap;
	int pools;            /* --pool entries among them */
	char err[256];        /* why the handler refused a line */
	char pool_sec[ZCP_MAX_POOLS + 1][64]; /* [pool NAME] sections seen */
	char pool_size[ZCP_MAX_POOLS + 1][64];
	char pool_count[ZCP_MAX_POOLS + 1][32];
	int npool_sec;
};

#ifdef ZCP_HAVE_INIH
/* Append one option; 0 or -1 (no memory). */
static int cfg_push(struct cfg_args *c, const char *opt, const char *val)
{
	size_t len = strlen(opt) + (val != NULL ? strlen(val) + 1 : 0) + 1;
	char *a;

	if (c->n + 1 >= c->cap) {
		int cap = c->cap ? c->cap * 2 : 16;
		char **v = realloc(c->v, (size_t)cap * sizeof *v);
		if (v == NULL)
			return -1;
		c->v = v;
		c->cap = cap;
	}
	a = malloc(len);
	if (a == NULL)
		return -1;
	if (val != NULL)
		snprintf(a, len, "%s=%s", opt, val);
	else
		snprintf(a, len, "%s", opt);
	c->v[c->n++] = a;
	return 0;
}

static void goto_nomem(struct cfg_args *c);
#endif

static void cfg_free(struct cfg_args *c)
{
	for (int k = 0; k < c->n; k++)
		free(c->v[k]);
	free(c->v);
}

#ifdef ZCP_HAVE_INIH
/* A boolean value: 1, 0, or -1 when it is none of the usual words. */
static int cfg_bool(const char *v)
{
	static const char *const yes[] = {"1", "yes", "true", "on"};
	static const char *const no[] = {"0", "no", "false", "off"};
	for (size_t k = 0; k < 4; k++) {
		if (strcasecmp(v, yes[k]) == 0)
			return 1;
		if (strcasecmp(v, no[k]) == 0)
			return 0;
	}
	return -1;
}

/* The libinih handler: one "key = value" of a section.  Returns 1, or 0
 * after writing the reason into c->err (ini_parse() then gives the line). */
static int cfg_handler(void *user, const char *section, const char *key, const char *val)
{
	static const char *const valued[] = {"name",	       "interval",
					     "max-processes",  "mode",
					     "gid",	       "socket-dir",
					     "allow-gid",      "topics",
					     "topic-publishers", "topic-subscribers",
					     "topic-queue"};
	static const char *const flags[] = {"takeover", "socket", "chunk-ages"};
	struct cfg_args *c = user;
	char opt[80];

	if (c->err[0] != '\0')
		return 0;
	if (strcmp(section, "server") == 0) {
		for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
			if (strcmp(key, valued[k]) == 0) {
				snprintf(opt, sizeof opt, "--%s", key);
				if (cfg_push(c, opt, val) != 0)
					goto nomem;
				return 1;
			}
		}
		for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
			if (strcmp(key, flags[k]) == 0) {
				int b = cfg_bool(val);
				if (b < 0) {
					snprintf(c->err, sizeof c->err,
						 "%s = %s: expected true or false", key,
						 zcp_tool_q(val));
					return 0;
				}
				snprintf(opt, sizeof opt, "--%s", key);
				if (b && cfg_push(c, opt, NULL) != 0)
					goto nomem;
				return 1;
			}
		}
		if (strcmp(key, "log-level") == 0) {
			if (strcmp(val, "quiet") == 0)
				return cfg_push(c, "--quiet", NULL) == 0 ? 1 : (goto_nomem(c), 0);
			if (strcmp(val, "verbose") == 0)
				return cfg_push(c, "--verbose", NULL) == 0 ? 1 : (goto_nomem(c), 0);
			if (strcmp(val, "info") == 0)
				return 1;
			snprintf(c->err, sizeof c->err,
				 "log-level = %s: expected quiet, info or verbose", zcp_tool_q(val));
			return 0;
		}
		snprintf(c->err, sizeof c->err, "unknown key %s in [server]", zcp_tool_q(key));
		return 0;
	}
	if (strncmp(section, "pool ", 5) == 0 && section[5] != '\0') {
		int k;
		for (k = 0; k < c->npool_sec; k++)
			if (strcmp(c->pool_sec[k], section + 5) == 0)
				break;
		if (k == c->npool_sec) {
			if (k > ZCP_MAX_POOLS) {
				snprintf(c->err, sizeof c->err, "more than %d [pool] sections",
					 ZCP_MAX_POOLS);
				return 0;
			}
			snprintf(c->pool_sec[k], sizeof c->pool_sec[k], "%s", section + 5);
			c->pool_size[k][0] = c->pool_count[k][0] = '\0';
			c->npool_sec++;
		}
		if (strcmp(key, "size") == 0 && strlen(val) < sizeof c->pool_size[k]) {
			snprintf(c->pool_size[k], sizeof c->pool_size[k], "%s", val);
			return 1;
		}
		if (strcmp(key, "count") == 0 && strlen(val) < sizeof c->pool_count[k]) {
			snprintf(c->pool_count[k], sizeof c->pool_count[k], "%s", val);
			return 1;
		}
		snprintf(c->err, sizeof c->err, "%s = %s in [%s]: expected size or count",
			 zcp_tool_q(key), zcp_tool_q(val), section);
		return 0;
	}
	snprintf(c->err, sizeof c->err,
		 "unknown section [%s] (expected [server] or [pool NAME])", section);
	return 0;
nomem:
	goto_nomem(c);
	return 0;
}

/* Record an out-of-memory failure in the handler's error. */
static void goto_nomem(struct cfg_args *c)
{
	snprintf(c->err, sizeof c->err, "%s", zcp_strerror(ZCP_ENOMEM));
}
#endif

#ifdef ZCP_HAVE_INIH
#define CONFIG_MAX_BYTES (1 << 20)

/* Read a config file whole (a regular file, or a pipe such as
 * -c <(...); a directory would read as empty and /dev/zero forever), at
 * most CONFIG_MAX_BYTES and without NUL bytes.  Returns the text (free()
 * it), or NULL after printing why. */
static char *config_read(const char *file)
{
	struct stat st;
	size_t len = 0;
	char *buf;
	FILE *fp;

	if (stat(file, &st) != 0 || (fp = fopen(file, "r")) == NULL) {
		zcp_tool_err("serve", "cannot read config file %s: %s", zcp_tool_q(file),
			     strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		zcp_tool_err("serve", "config file %s is not a file%s", zcp_tool_q(file),
			     S_ISDIR(st.st_mode) ? " (a directory)" : "");
		fclose(fp);
		return NULL;
	}
	if ((buf = malloc(CONFIG_MAX_BYTES + 1)) == NULL) {
		zcp_tool_err("serve", "%s", zcp_strerror(ZCP_ENOMEM));
		fclose(fp);
		return NULL;
	}
	len = fread(buf, 1, CONFIG_MAX_BYTES + 1, fp);
	if (ferror(fp) || len > CONFIG_MAX_BYTES || memchr(buf, '\0', len) != NULL) {
		zcp_tool_err("serve", "config file %s: %s", zcp_tool_q(file),
			     ferror(fp) ? strerror(errno)
			     : len > CONFIG_MAX_BYTES ? "larger than 1 MiB"
						      : "not text (a NUL byte)");
		free(buf);
		fclose(fp);
		return NULL;
	}
	fclose(fp);
	buf[len] = '\0';
	return buf;
}

/* What libinih does not check: every [section] line names [server] or
 * [pool NAME], keys or not (libinih sees a section only through its
 * keys), and no [pool NAME] comes twice (libinih would merge the two).
 * Returns 0, or ZCP_TOOL_USAGE after printing "FILE:LINE: why". */
static int config_check(const char *file, const char *text)
{
	char names[ZCP_MAX_POOLS + 2][256];
	int nnames = 0, lineno = 0;

	for (const char *ln = text; *ln != '\0'; lineno++) {
		const char *nl = strchr(ln, '\n');
		const char *s = ln, *stop = nl ? nl : ln + strlen(ln), *end;
		char sec[256];

		ln = nl ? nl + 1 : stop;
		while (s < stop && (*s == ' ' || *s == '\t'))
			s++;
		if (s == stop || *s != '[' || (end = memchr(s, ']', (size_t)(stop - s))) == NULL)
			continue;
		snprintf(sec, sizeof sec, "%.*s", (int)(end - s - 1), s + 1);
		if (strcmp(sec, "server") == 0)
			continue;
		if (strncmp(sec, "pool ", 5) != 0 || sec[5] == '\0') {
			zcp_tool_err("serve",
				     "%s:%d: unknown section [%s] (expected [server] or [pool NAME])",
				     zcp_tool_q(file), lineno + 1, zcp_tool_esc(sec));
			return ZCP_TOOL_USAGE;
		}
		for (int k = 0; k < nnames; k++)
			if (strcmp(names[k], sec + 5) == 0) {
				zcp_tool_err("serve", "%s:%d: [pool %s] again (one section a pool)",
					     zcp_tool_q(file), lineno + 1, zcp_tool_esc(sec + 5));
				return ZCP_TOOL_USAGE;
			}
		if (nnames < (int)(sizeof names / sizeof names[0]))
			snprintf(names[nnames++], sizeof names[0], "%s", sec + 5);
	}
	return 0;
}
#endif

/* config_load - read FILE into c as options.  Returns 0, or an exit code
 * after printing "FILE:LINE: why" (2: the file is wrong or unreadable, or
 * this build cannot read config files). */
static int config_load(const char *file, struct cfg_args *c)
{
#ifdef ZCP_HAVE_INIH
	char *text = config_read(file);
	int line;

	if (text == NULL)
		return ZCP_TOOL_USAGE;
	if ((line = config_check(file, text)) != 0) {
		free(text);
		return line;
	}
	line = ini_parse_string(text, cfg_handler, c);
	free(text);

	if (line == -1) {
		zcp_tool_err("serve", "cannot read config file %s: %s", zcp_tool_q(file),
			     strerror(errno));
		return ZCP_TOOL_USAGE;
	}
	if (line != 0) {
		zcp_tool_err("serve", "%s:%d: %s", zcp_tool_q(file), line,
			     c->err[0] ? c->err : "syntax error (expected [section] or key = value)");
		return ZCP_TOOL_USAGE;
	}
	for (int k = 0; k < c->npool_sec; k++) {
		char pool[128];
		uint64_t size, other;
		if (c->pool_size[k][0] == '\0' || c->pool_count[k][0] == '\0') {
			zcp_tool_err("serve", "%s: [pool %s] needs both size and count",
				     zcp_tool_q(file), zcp_tool_esc(c->pool_sec[k]));
			return ZCP_TOOL_USAGE;
		}
		/* Two sections of one size: said here, with their names,
		 * rather than as a bad --pool later. */
		for (int j = 0; j < k && zcp_tool_parse_size(c->pool_size[k], &size) == 0; j++)
			if (zcp_tool_parse_size(c->pool_size[j], &other) == 0 && other == size) {
				zcp_tool_err("serve", "%s: [pool %s] and [pool %s] have the same size",
					     zcp_tool_q(file), zcp_tool_esc(c->pool_sec[j]),
					     zcp_tool_esc(c->pool_sec[k]));
				return ZCP_TOOL_USAGE;
			}
		snprintf(pool, sizeof pool, "%sx%s", c->pool_size[k], c->pool_count[k]);
		if (cfg_push(c, "--pool", pool) != 0) {
			goto_nomem(c);
			zcp_tool_err("serve", "%s", c->err);
			return ZCP_TOOL_FAIL;
		}
		c->pools++;
	}
	return 0;
#else
	(void)c;
	zcp_tool_err("serve",
		     "cannot read config file %s: this zerocp was built without libinih "
		     "(install libinih-dev and run configure again), use options instead",
		     zcp_tool_q(file));
	return ZCP_TOOL_USAGE;
#endif
}

/* Build the argument vector parse() sees: argv[0], the file's options
 * (without its pools when the command line has --pool), then the command
 * line without -c FILE.  Returns 0, *out and *outc (free only *out: the
 * strings belong to argv and c), or an exit code. */
static int merge_args(int argc, char **argv, struct cfg_args *c, char ***out, int *outc)
{
	const char *file = NULL;
	int cli_pools = 0, n = 0;
	char **v;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				zcp_tool_err("serve", "%s needs a value", argv[i]);
				return ZCP_TOOL_USAGE;
			}
			file = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			file = argv[i] + 9;
		} else if (strcmp(argv[i], "--pool") == 0 || strncmp(argv[i], "--pool=", 7) == 0) {
			cli_pools = 1;
		}
	}
	if (file != NULL) {
		int rc = config_load(file, c);
		if (rc != 0)
			return rc;
	}
	v = calloc((size_t)argc + (size_t)c->n + 1, sizeof *v);
	if (v == NULL) {
		zcp_tool_err("serve", "%s", zcp_strerror(ZCP_ENOMEM));
		return ZCP_TOOL_FAIL;
	}
	v[n++] = argv[0];
	for (int k = 0; k < c->n; k++)
		if (!(cli_pools && strncmp(c->v[k], "--pool=", 7) == 0))
			v[n++] = c->v[k];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(argv[i], "--config=", 9) == 0)
			continue;
		v[n++] = argv[i];
	}
	v[n] = NULL;
	*out = v;
	*outc = n;
	return 0;
}

/* The topic table options: --topics, --topic-publishers,
 * --topic-subscribers, --topic-queue.  Returns 1 on a match (stored in
 * o->topics), 0 for another argument, -1 after a diagnostic. */
static int topic_opt(int argc, char **argv, int *i, struct serve_opts *o)
{
	static const struct {
		const char *opt;
		unsigned long min, max;
	} t[4] = {{"--topics", 0, 4096},
		  {"--topic-publishers", 1, 1024},
		  {"--topic-subscribers", 1, 1024},
		  {"--topic-queue", 1, 65536}};

	for (int k = 0; k < 4; k++) {
		const char *v;
		int r = zcp_tool_opt("serve", argc, argv, i, t[k].opt, &v);
		if (r == 0)
			continue;
		if (r < 0)
			return -1;
		if (zcp_tool_parse_uint(v, t[k].min, t[k].max, &o->topics[k]) != 0) {
			zcp_tool_err("serve", "bad %s %s: %lu to %lu", t[k].opt, zcp_tool_q(v),
				     t[k].min, t[k].max);
			return -1;
		}
		o->topics_set = 1;
		return 1;
	}
	return 0;
}

/* Parse the command line into o and cfg.  Returns -1 to go on, else the
 * exit code. */
static int parse(int argc, char **argv, struct serve_opts *o, zcp_mempool_config *cfg)
{
	unsigned int mode = 0;
	long gid = -1;
	int pools = 0, access = 0;
	uint64_t pool_sizes[ZCP_MAX_POOLS];
	uint32_t pool_counts[ZCP_MAX_POOLS];

	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;

		if ((r = zcp_tool_opt("serve", argc, argv, &i, "--name", &v)) != 0) {
			if (r < 0 || zcp_tool_check_name("serve", v) != 0)
				return ZCP_TOOL_USAGE;
			o->name = v;
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--pool", &v)) != 0) {
			uint64_t size;
			uint32_t count;
			if (r < 0)
				return ZCP_TOOL_USAGE;
			if (zcp_tool_parse_pool(v, &size, &count) != 0) {
				zcp_tool_err("serve",
					     "bad --pool %s: expected SIZExCOUNT, such as 4Kx20 "
					     "(SIZE below 2^64 bytes, COUNT 1 to 4294967295)",
					     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
			if (pool_error(v, size, count, pools, pool_sizes) != 0)
				return ZCP_TOOL_USAGE;
			int err = zcp_mempool_config_add_entry(cfg, size, count);
			if (err != 0) {
				zcp_tool_err("serve", "bad --pool %s: %s", zcp_tool_q(v),
					     zcp_strerror(err));
				return ZCP_TOOL_USAGE;
			}
			pool_sizes[pools] = size;
			pool_counts[pools] = count;
			pools++;
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--interval", &v)) != 0) {
			char *end;
			if (r < 0)
				return ZCP_TOOL_USAGE;
			errno = 0;
			o->interval = strtod(v, &end);
			if (errno != 0 || end == v || *end != '\0' || !(o->interval >= 0.01) ||
			    o->interval > 86400.0) {
				zcp_tool_err("serve", "bad --interval %s: seconds, 0.01 to 86400",
					     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--max-processes", &v)) !=
			   0) {
			unsigned long n;
			if (r < 0)
				return ZCP_TOOL_USAGE;
			if (zcp_tool_parse_uint(v, 1, ZCP_MAX_PROCESSES, &n) != 0 ||
			    zcp_mempool_config_set_max_processes(cfg, (unsigned)n) != 0) {
				zcp_tool_err("serve", "bad --max-processes %s: 1 to %d", zcp_tool_q(v),
					     ZCP_MAX_PROCESSES);
				return ZCP_TOOL_USAGE;
			}
		} else if ((r = topic_opt(argc, argv, &i, o)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--mode", &v)) != 0) {
			char *end;
			unsigned long mv;
			if (r < 0)
				return ZCP_TOOL_USAGE;
			errno = 0;
			mv = strtoul(v, &end, 8);
			if (errno != 0 || end == v || *end != '\0' || *v < '0' || *v > '7' ||
			    (mv & ~0660ul) != 0) {
				zcp_tool_err("serve", "bad --mode %s: octal, a subset of 0660", zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
			mode = (unsigned)mv;
			access = 1;
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--gid", &v)) != 0) {
			if (r < 0 || parse_gid("--gid", v, &gid) != 0)
				return ZCP_TOOL_USAGE;
			access = 1;
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--socket-dir", &v)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
			/* The broker insists on an absolute path; say so here,
			 * as a usage error, rather than as EINVAL later. */
			if (v[0] != '/') {
				zcp_tool_err("serve", "bad --socket-dir %s: an absolute path", zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
			o->socket_dir = v;
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--allow-gid", &v)) != 0) {
			if (r < 0 || parse_gid("--allow-gid", v, &o->allow_gid) != 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--ready-fd", &v)) != 0) {
			unsigned long fd;
			if (r < 0)
				return ZCP_TOOL_USAGE;
			if (zcp_tool_parse_uint(v, 0, 65535, &fd) != 0 || fcntl((int)fd, F_GETFD) < 0) {
				zcp_tool_err("serve", "bad --ready-fd %s: not an open descriptor",
					     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
			o->ready_fd = (int)fd;
		} else if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
			log_level = LOG_WARN;
		} else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
			log_level = LOG_DEBUG;
		} else if (strcmp(argv[i], "--socket") == 0) {
			o->socket = 1;
		} else if (strcmp(argv[i], "--takeover") == 0) {
			o->takeover = 1;
		} else if (strcmp(argv[i], "--chunk-ages") == 0) {
			o->chunk_ages = 1;
		} else {
			zcp_tool_err("serve", "unknown option %s", zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		}
	}
	if (!o->socket && (o->socket_dir != NULL || o->allow_gid >= 0)) {
		zcp_tool_err("serve", "--socket-dir and --allow-gid need --socket");
		return ZCP_TOOL_USAGE;
	}
	if (o->socket) {
		int err = zcp_mempool_config_set_backend(cfg, ZCP_BACKEND_MEMFD);
		if (err == ZCP_ENOSYS) {
			/* A property of this build, not of the command line,
			 * but a request we cannot honour: exit 2. */
			zcp_tool_err("serve", "--socket needs memfd segments, which this "
					      "platform or build does not support");
			return ZCP_TOOL_USAGE;
		}
		if (err != 0) {
			zcp_tool_err("serve", "--socket: %s", zcp_strerror(err));
			return ZCP_TOOL_FAIL;
		}
	}
	if (o->topics_set) {
		int err = zcp_mempool_config_set_topics(cfg, (unsigned)o->topics[0],
							(unsigned)o->topics[1],
							(unsigned)o->topics[2],
							(unsigned)o->topics[3]);
		if (err != 0) {
			zcp_tool_err("serve", "bad topic table: %s", zcp_strerror(err));
			return ZCP_TOOL_USAGE;
		}
	}
	if (o->chunk_ages) {
		int err = zcp_mempool_config_set_chunk_ages(cfg, 1);
		if (err != 0) {
			zcp_tool_err("serve", "--chunk-ages: %s", zcp_strerror(err));
			return ZCP_TOOL_FAIL;
		}
	}
	if (access) {
		int err = zcp_mempool_config_set_access(cfg, mode, gid);
		if (err != 0) {
			zcp_tool_err("serve", "bad --mode/--gid: %s", zcp_strerror(err));
			return ZCP_TOOL_USAGE;
		}
	}
	if (pools > 0 && segments_error(cfg, pools, pool_sizes, pool_counts) != 0)
		return ZCP_TOOL_USAGE;
	if (pools == 0)
		for (size_t k = 0; k < sizeof default_pools / sizeof default_pools[0]; k++)
			zcp_mempool_config_add_entry(cfg, default_pools[k].size,
						     default_pools[k].count);
	return -1;
}

/* Print the configuration as the seed's server does before creating. */
static void print_config(const zcp_mempool_config *cfg, const struct serve_opts *o)
{
	zcp_mempool_layout lay;

	if (zcp_mempool_config_layout(cfg, &lay) == 0)
		slog(LOG_INFO, "configuration: %d pool(s), %llu chunks in all",
		     zcp_mempool_config_pool_count(cfg), (unsigned long long)lay.total_chunks);
	if (o->topics[0] == 0)
		slog(LOG_INFO, "topics: off (--topics 0)");
	else
		slog(LOG_INFO,
		     "topics: up to %lu, each with up to %lu publishers and %lu subscribers, "
		     "queues of up to %lu samples",
		     o->topics[0], o->topics[1], o->topics[2], o->topics[3]);
}

/* Whether both named segments of m are still the objects m mapped (same
 * device and inode as its descriptors): 0 if one was removed or replaced
 * since create, 1 if they are ours or this cannot be told. */
static int segments_still_ours(const zcp_mempool_manager *m, const char *name)
{
	static const char *const sfx[] = {"mgmt", "data"};
	char path[128];
	int fds[2];
	struct stat mine, named;

	if (zcp_mempool_manager_fds(m, &fds[0], &fds[1]) != 0)
		return 1;
	for (int k = 0; k < 2; k++) {
		if (fds[k] < 0 || fstat(fds[k], &mine) != 0)
			continue;
		snprintf(path, sizeof path, "/dev/shm/zerocp_%s_%s", name, sfx[k]);
		if (stat(path, &named) != 0) {
			if (errno == ENOENT)
				return 0;
			continue;
		}
		if (named.st_dev != mine.st_dev || named.st_ino != mine.st_ino)
			return 0;
	}
	return 1;
}

/* One dead process seen before a reclaim. */
struct dead_proc {
	int slot;
	int64_t pid;
	uint64_t id;
	uint64_t chunks;
};

/* Reclaim the chunks of dead processes, and say whom they were taken
 * from: one line per dead process whose slot the reclaim freed (pid,
 * process id, slot, the chunks it held), then what came back in all, with
 * the pools whose use fell meanwhile (read before and after the reclaim:
 * live traffic may blur that part). */
static void reclaim_dead(zcp_mempool_manager *m)
{
	struct dead_proc dead[ZCP_MAX_PROCESSES];
	int ndead = 0, slots = zcp_mempool_manager_process_slots(m);
	int npools = zcp_mempool_manager_pool_count(m);
	uint64_t before[ZCP_MAX_POOLS] = {0};
	zcp_reclaim_report rep;
	int err;

	for (int s = 0; s < slots && ndead < ZCP_MAX_PROCESSES; s++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, s, &pi) != 0 || pi.pid == 0 || pi.alive)
			continue;
		dead[ndead].slot = s;
		dead[ndead].pid = pi.pid;
		dead[ndead].id = pi.id;
		dead[ndead].chunks = pi.chunks;
		ndead++;
	}
	if (ndead == 0) {
		slog(LOG_DEBUG, "reclaim: no dead process");
		return;
	}
	for (int p = 0; p < npools && p < ZCP_MAX_POOLS; p++) {
		zcp_pool_stats st;
		before[p] = zcp_mempool_manager_pool_stats(m, p, &st) == 0 ? st.used : 0;
	}
	memset(&rep, 0, sizeof rep); /* not filled on every error */
	err = zcp_mempool_manager_reclaim(m, &rep);
	if (err != 0)
		slog(LOG_ERROR, "reclaiming the chunks of dead processes: %s (%s)",
		     zcp_strerror(err), zcp_err_name(err));
	if (rep.processes == 0 && rep.references == 0 && rep.chunks == 0 && rep.cancelled == 0)
		return;
	for (int k = 0; k < ndead; k++) {
		zcp_process_info pi;
		/* Freed (or reused by a newcomer): this reclaim, or a
		 * client's, took it. */
		if (zcp_mempool_manager_process(m, dead[k].slot, &pi) == 0 && pi.pid != 0 &&
		    pi.id == dead[k].id)
			continue;
		slog(LOG_INFO,
		     "reclaimed dead process pid %lld (process id 0x%016llx, slot %d): it held "
		     "%llu chunk(s)",
		     (long long)dead[k].pid, (unsigned long long)dead[k].id, dead[k].slot,
		     (unsigned long long)dead[k].chunks);
	}
	char pools[ZCP_MAX_POOLS * 48] = "";
	size_t len = 0;
	for (int p = 0; p < npools && p < ZCP_MAX_POOLS; p++) {
		zcp_pool_stats st;
		if (zcp_mempool_manager_pool_stats(m, p, &st) != 0 || st.used >= before[p])
			continue;
		if (len < sizeof pools)
			len += (size_t)snprintf(pools + len, sizeof pools - len,
						"%s pool %d (%llu B) %llu", len ? "," : ":", p,
						(unsigned long long)st.chunk_size,
						(unsigned long long)(before[p] - st.used));
	}
	slog(LOG_INFO,
	     "Reclaimed %llu dead process(es): %llu reference(s) dropped, %llu chunk(s) back in "
	     "their pools%s",
	     (unsigned long long)rep.processes, (unsigned long long)rep.references,
	     (unsigned long long)rep.chunks, pools);
	if (rep.cancelled != 0)
		slog(LOG_INFO, "reclaim cancelled %llu escrowed reference(s) to dead receivers",
		     (unsigned long long)rep.cancelled);
}

/* What the status shows, to log it only when it changed: each pool's used
 * count, each slot's occupant (process id) and chunk count. */
struct status_snap {
	int valid;
	uint64_t used[ZCP_MAX_POOLS];
	uint64_t id[ZCP_MAX_PROCESSES];
	uint64_t chunks[ZCP_MAX_PROCESSES];
	int alive[ZCP_MAX_PROCESSES];
};

/* Take a snapshot of m into *sn. */
static void status_take(const zcp_mempool_manager *m, struct status_snap *sn)
{
	int npools = zcp_mempool_manager_pool_count(m);
	int slots = zcp_mempool_manager_process_slots(m);

	memset(sn, 0, sizeof *sn);
	sn->valid = 1;
	for (int p = 0; p < npools && p < ZCP_MAX_POOLS; p++) {
		zcp_pool_stats st;
		if (zcp_mempool_manager_pool_stats(m, p, &st) == 0)
			sn->used[p] = st.used;
	}
	for (int k = 0; k < slots && k < ZCP_MAX_PROCESSES; k++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, k, &pi) != 0 || pi.pid == 0)
			continue;
		sn->id[k] = pi.id;
		sn->chunks[k] = pi.chunks;
		sn->alive[k] = pi.alive;
	}
}

/* Log the status: one line a pool as the seed prints it, then the
 * attached processes with the chunks each holds. */
static void status_log(const zcp_mempool_manager *m, const char *why)
{
	int npools = zcp_mempool_manager_pool_count(m);
	int slots = zcp_mempool_manager_process_slots(m);
	char procs[ZCP_MAX_PROCESSES * 48] = "";
	size_t len = 0;
	int nproc = 0;

	slog(LOG_INFO, "Pool status (%s):", why);
	for (int p = 0; p < npools; p++) {
		zcp_pool_stats st;
		if (zcp_mempool_manager_pool_stats(m, p, &st) != 0)
			continue;
		slog(LOG_INFO, "  Pool %d: chunk_size=%llu, total=%llu, used=%llu, free=%llu", p,
		     (unsigned long long)st.chunk_size, (unsigned long long)st.total,
		     (unsigned long long)st.used, (unsigned long long)st.free);
	}
	for (int k = 0; k < slots; k++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, k, &pi) != 0 || pi.pid == 0)
			continue;
		nproc++;
		if (len < sizeof procs)
			len += (size_t)snprintf(procs + len, sizeof procs - len,
						"%s pid %lld%s (%llu chunk(s))", len ? "," : ":",
						(long long)pi.pid, pi.alive ? "" : " dead",
						(unsigned long long)pi.chunks);
	}
	slog(LOG_INFO, "  Processes: %d attached%s", nproc, procs);
}

/* Tell a service manager we are ready (or stopping): the sd_notify
 * protocol, a datagram to $NOTIFY_SOCKET (a path, or '@' for the abstract
 * namespace), written by hand so that no libsystemd is needed. */
static void notify_systemd(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof sa.sun_path)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		slog(LOG_WARN, "sd_notify to %s: %s", zcp_tool_q(path), strerror(errno));
	close(fd);
}

/* Entry point of "zerocp serve". */
int zcp_tool_serve(int argc, char **argv)
{
	struct serve_opts o = {NULL,
			       5.0,
			       0,
			       0,
			       NULL,
			       -1,
			       -1,
			       {ZCP_DEFAULT_TOPICS, ZCP_DEFAULT_TOPIC_PUBLISHERS,
				ZCP_DEFAULT_TOPIC_SUBSCRIBERS, ZCP_DEFAULT_TOPIC_QUEUE},
			       0,
			       0};
	struct cfg_args ca;
	struct status_snap last, now;
	zcp_mempool_config *cfg;
	zcp_mempool_manager *m = NULL;
	zcp_broker *br = NULL;
	sigset_t waitmask;
	const char *name;
	char **av = NULL;
	int ac = 0, rc, err;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	memset(&ca, 0, sizeof ca);
	rc = merge_args(argc, argv, &ca, &av, &ac);
	if (rc != 0) {
		cfg_free(&ca);
		return rc;
	}
	cfg = zcp_mempool_config_new();
	if (cfg == NULL) {
		zcp_tool_err("serve", "%s", zcp_strerror(ZCP_ENOMEM));
		free(av);
		cfg_free(&ca);
		return ZCP_TOOL_FAIL;
	}
	rc = parse(ac, av, &o, cfg);
	if (rc < 0 && zcp_tool_check_env_name("serve", o.name) != 0)
		rc = ZCP_TOOL_USAGE;
	if (rc >= 0) {
		zcp_mempool_config_free(cfg);
		free(av);
		cfg_free(&ca);
		return rc;
	}
	/* o.name may point into the file's strings: keep them until the end. */
	name = zcp_tool_name(o.name);
	/* Line-buffered even into a file or pipe: scripts wait for "ready". */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup_signals(&waitmask) != 0) {
		zcp_tool_err("serve", "cannot install signal handlers: %s", strerror(errno));
		zcp_mempool_config_free(cfg);
		rc = ZCP_TOOL_FAIL;
		goto out;
	}

	slog(LOG_INFO, "zerocp %s serve, pid %ld, manager %s", zcp_version_string(), (long)getpid(),
	     zcp_tool_q(name));
	print_config(cfg, &o);
	/* Each EEXIST is examined; after a removal, create again.  A few
	 * rounds at most: another server racing us for the name makes us
	 * refuse (EAGAIN or a live creator) rather than loop. */
	for (int attempt = 0;; attempt++) {
		err = zcp_mempool_manager_create(o.name, cfg, &m);
		if (err != ZCP_EEXIST || attempt == 3)
			break;
		rc = handle_existing(&o, name);
		if (rc != 0) {
			zcp_mempool_config_free(cfg);
			goto out;
		}
	}
	zcp_mempool_config_free(cfg);
	if (err != 0) {
		zcp_tool_err("serve", "cannot create manager %s: %s%s", zcp_tool_q(name),
			     zcp_strerror(err),
			     err == ZCP_EEXIST ? " (segments of that name keep appearing: is "
						 "another server starting?)"
					       : "");
		rc = ZCP_TOOL_FAIL;
		goto out;
	}
	if (!o.socket && !segments_still_ours(m, name)) {
		/* Someone removed or replaced our segments while we built
		 * them: we would serve a manager nobody can attach. */
		zcp_tool_err("serve",
			     "the segments of %s were removed or replaced while this server "
			     "created them (another server or a clean?); giving up",
			     zcp_tool_q(name));
		zcp_mempool_manager_remove(m);
		zcp_mempool_manager_detach(m);
		rc = ZCP_TOOL_FAIL;
		goto out;
	}
	print_layout(m, name, o.socket);
	if (o.socket) {
		rc = start_broker(&o, m, name, &br);
		if (rc != 0) {
			zcp_mempool_manager_destroy(m);
			goto out;
		}
	}
	status_take(m, &last);
	status_log(m, "start");
	if (br != NULL)
		printf("socket: %s\n", zcp_broker_path(br));
	printf("ready\n");
	fflush(stdout);
	if (o.ready_fd >= 0) {
		static const char msg[] = "READY=1\n";
		if (write(o.ready_fd, msg, sizeof msg - 1) != (ssize_t)(sizeof msg - 1))
			slog(LOG_WARN, "--ready-fd %d: %s", o.ready_fd, strerror(errno));
		close(o.ready_fd);
	}
	{
		char st[64];
		snprintf(st, sizeof st, "READY=1\nMAINPID=%ld", (long)getpid());
		notify_systemd(st);
	}

	for (;;) {
		int stop = wait_interval(o.interval, &waitmask, br);
		if (stop)
			break;
		reclaim_dead(m);
		status_take(m, &now);
		if (status_request) {
			status_request = 0;
			status_log(m, "SIGUSR1");
		} else if (memcmp(&now, &last, sizeof now) != 0) {
			status_log(m, "changed");
		} else {
			slog(LOG_DEBUG, "status unchanged");
		}
		last = now;
	}

	char sigbuf[32];
	slog(LOG_INFO, "Received %s, shutting down...", signal_name(stop_signal, sigbuf, sizeof sigbuf));
	notify_systemd("STOPPING=1");
	/* First: no client may be handed a manager about to go, and the
	 * socket file goes with it. */
	zcp_broker_close(br);
	rc = ZCP_TOOL_OK;
	err = zcp_mempool_manager_destroy(m);
	if (err != 0) {
		zcp_tool_err("serve", "destroying manager %s: %s", zcp_tool_q(name), zcp_strerror(err));
		rc = ZCP_TOOL_FAIL;
		goto out;
	}
	slog(LOG_INFO, "Server stopped.");
out:
	free(av);
	cfg_free(&ca);
	return rc;
}
