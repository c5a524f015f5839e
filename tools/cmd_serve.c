/* tools/cmd_serve.c - "zerocp serve": the seed's server.
 *
 * Creates the manager (replacing the leftovers of a crashed server when
 * that is safe), takes the seed's three chunks, prints "ready" for scripts,
 * then reprints the pools' status and reclaims the chunks of dead processes
 * every --interval seconds until SIGINT or SIGTERM, and finally gives
 * everything back so that nothing stays in /dev/shm.
 *
 * With --socket the segments are anonymous memfds instead (nothing in
 * /dev/shm), handed to clients by the broker of <zerocp/broker.h> on a
 * Unix socket, whose path is printed ("socket: PATH") before "ready".
 *
 * Signals: SIGINT and SIGTERM stay blocked except inside pselect(), which
 * unblocks them atomically with the wait; so a signal that arrives at any
 * point ends the next (or the current) wait at once, never lost between a
 * check of the flag and the sleep.  The same pselect() watches the
 * broker's socket, so clients are answered while we wait.
 */
#include "tool.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

/* The signal that asked us to stop, 0 while running.  Written only by the
 * handler, read by the main loop. */
static volatile sig_atomic_t stop_signal;

/* Options of one "serve" run. */
struct serve_opts {
	const char *name; /* NULL: the library default */
	double interval;  /* seconds between status reports */
	int takeover;     /* replace segments even with live processes attached */
	int socket;       /* memfd segments, served by a broker */
	const char *socket_dir; /* the broker's directory; NULL: its default */
	long allow_gid;   /* a group the broker admits too; -1: none */
};

/* The seed's pools, used when no --pool is given. */
static const struct {
	uint64_t size;
	uint32_t count;
} default_pools[] = {{256, 100}, {1024, 50}, {4096, 20}, {16384, 10}};

/* The seed's server allocations, kept until shutdown. */
static const uint64_t seed_sizes[] = {200, 800, 3000};
#define NSEED (sizeof seed_sizes / sizeof seed_sizes[0])

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s serve [--name N] [--pool SIZExCOUNT]... [--interval SECONDS]\n"
		"                    [--max-processes N] [--mode 0660] [--gid G] [--takeover]\n"
		"                    [--socket [--socket-dir D] [--allow-gid G]]\n"
		"\n"
		"Create the memory-pool manager N and keep it until SIGINT or SIGTERM.\n"
		"  --pool SIZExCOUNT   a pool of COUNT chunks of SIZE bytes (256, 1K, 4K,\n"
		"                      16K, 1M...); repeatable.  Default: the seed's pools\n"
		"                      256x100 1Kx50 4Kx20 16Kx10\n"
		"  --interval SECONDS  status and reclaim period (default 5; fractions ok)\n"
		"  --max-processes N   process table size (1..%d, default %d)\n"
		"  --mode MODE         segment permissions, octal, subset of 0660\n"
		"  --gid G             group of the segments (number or name)\n"
		"  --takeover          replace a dead server's segments even while other\n"
		"                      processes are still attached to them\n"
		"  --socket            anonymous memfd segments (nothing in /dev/shm), given\n"
		"                      to clients over a Unix socket: attach with\n"
		"                      \"stat --socket PATH\", \"demo --socket PATH\" (Linux)\n"
		"  --socket-dir D      directory of the socket (default $XDG_RUNTIME_DIR,\n"
		"                      else /tmp/zerocp-UID); the socket is D/zerocp-N.sock\n"
		"  --allow-gid G       also admit processes whose primary group is G\n"
		"                      (number or name); by default only our own uid\n"
		"Prints \"socket: PATH\" with --socket, then \"ready\" on a line of its own\n"
		"once the manager serves.\n",
		zcp_tool_progname, ZCP_MAX_PROCESSES, ZCP_DEFAULT_PROCESSES);
}

/* Why a handler at all: to leave the wait and clean up instead of dying
 * with the segments still in /dev/shm. */
static void on_signal(int sig)
{
	stop_signal = sig;
}

/* Install the handlers and block both signals outside the waits; *waitmask
 * receives the mask to wait with (the original one, both unblocked).
 * Installed unconditionally: a background job of a non-interactive shell
 * inherits SIGINT ignored, and the scenario script stops us with SIGINT. */
static int setup_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the wait must return EINTR */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &block, waitmask) != 0)
		return -1;
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGTERM);
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		return -1;
	return 0;
}

/* Wait `seconds` or until a stop signal, whichever comes first, answering
 * the broker's clients (br may be NULL) as they come.  Returns 1 when
 * asked to stop. */
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
	while (!stop_signal) {
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
			if (n < 0 && n != ZCP_EAGAIN) {
				printf("broker: %s\n", zcp_strerror(n));
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

/* Remove the segments of manager o->name (named `name` in messages) so
 * that create can be tried again: 0, or an exit code after saying why. */
static int remove_segments(const struct serve_opts *o, const char *name)
{
	int err = zcp_mempool_manager_unlink(o->name);
	if (err != 0 && err != ZCP_ENOENT) {
		zcp_tool_err("serve", "cannot remove the segments of '%s': %s", name,
			     zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}
	return 0;
}

/* Decide what to do about an existing manager of our name (create said
 * EEXIST).  Returns 0 when its segments were removed and create should be
 * tried again, or an exit code after printing why we refuse. */
static int handle_existing(const struct serve_opts *o, const char *name)
{
	zcp_mempool_manager *old;
	int err = zcp_mempool_manager_attach(o->name, &old);

	if (err == ZCP_EAGAIN || err == ZCP_ECORRUPT || err == ZCP_EFOREIGN ||
	    err == ZCP_EVERSION || err == ZCP_ETRUNCATED || err == ZCP_ENOENT) {
		/* Leftover garbage (or a lone segment, or a manager being
		 * destroyed right now): no server can be using it as a
		 * manager, and its creator cannot be asked.  Replace it. */
		printf("replacing leftover segments of '%s' (%s: %s)\n", name, zcp_err_name(err),
		       zcp_strerror(err));
		return remove_segments(o, name);
	}
	if (err != 0) {
		zcp_tool_err("serve", "a manager named '%s' exists but cannot be attached: %s", name,
			     zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}

	long creator = creator_pid(old);
	int alive = zcp_mempool_manager_creator_alive(old);
	if (alive != 0) {
		/* 1, or an error: never remove what may be a live server's. */
		if (alive < 0)
			zcp_tool_err("serve", "cannot tell whether the server of '%s' runs: %s", name,
				     zcp_strerror(alive));
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
	zcp_mempool_manager_detach(old);

	if (others > 0 && !o->takeover) {
		zcp_tool_err("serve",
			     "the server of '%s' (pid %ld) died, but %d process(es) are still "
			     "attached:%s; stop them, or use --takeover",
			     name, creator, others, pids);
		return ZCP_TOOL_FAIL;
	}
	/* Slot 0 is free when a client reclaimed the dead server's slot. */
	char who[32] = "(pid unknown)";
	if (creator != 0)
		snprintf(who, sizeof who, "%ld", creator);
	if (others > 0)
		printf("taking over: replacing segments of dead server %s; still attached "
		       "(they keep their old mappings):%s\n",
		       who, pids);
	else
		printf("replacing segments of dead server %s\n", who);
	return remove_segments(o, name);
}

/* Print the sizes of the two segments, the seed's first verification
 * point; memfd segments have no path, only a name for /proc. */
static void print_layout(const zcp_mempool_manager *m, const char *name, int memfd)
{
	const char *where = memfd ? "memfd:" : "/dev/shm/";
	zcp_mempool_layout lay;

	if (zcp_mempool_manager_get_layout(m, &lay) != 0)
		return;
	printf("Management segment: %szerocp_%s_mgmt, %llu bytes\n", where, name,
	       (unsigned long long)lay.mgmt_size);
	printf("Data segment: %szerocp_%s_data, %llu bytes\n", where, name,
	       (unsigned long long)lay.data_size);
	printf("  (%llu chunks, %llu management bytes per chunk)\n",
	       (unsigned long long)lay.total_chunks, (unsigned long long)lay.record_size);
}

/* Start the broker of a --socket server.  Returns 0 and *out, or an exit
 * code after printing why. */
static int start_broker(const struct serve_opts *o, zcp_mempool_manager *m, const char *name,
			zcp_broker **out)
{
	zcp_broker_options bo;
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
		zcp_tool_err("serve", "cannot listen on a socket for '%s'%s%s: %s", name,
			     o->socket_dir != NULL ? " in " : "",
			     o->socket_dir != NULL ? o->socket_dir : "", zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}
	/* pselect() can only watch descriptors below FD_SETSIZE. */
	fd = zcp_broker_fd(*out);
	if (fd < 0 || fd >= FD_SETSIZE) {
		zcp_tool_err("serve", "broker descriptor %d cannot be waited on with pselect", fd);
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
	gr = getgrnam(v);
	if (gr == NULL) {
		zcp_tool_err("serve", "bad %s '%s': no such group", opt, v);
		return -1;
	}
	*gid = (long)gr->gr_gid;
	return 0;
}

/* Parse the command line into o and cfg.  Returns -1 to go on, else the
 * exit code. */
static int parse(int argc, char **argv, struct serve_opts *o, zcp_mempool_config *cfg)
{
	unsigned int mode = 0;
	long gid = -1;
	int pools = 0, access = 0;

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
					     "bad --pool '%s': expected SIZExCOUNT, such as 4Kx20", v);
				return ZCP_TOOL_USAGE;
			}
			int err = zcp_mempool_config_add_entry(cfg, size, count);
			if (err != 0) {
				zcp_tool_err("serve",
					     "bad --pool '%s': %s (size 1..2^40, count 1..%u, "
					     "sizes distinct, at most %d pools)",
					     v, zcp_strerror(err), ZCP_MAX_CHUNKS_PER_POOL,
					     ZCP_MAX_POOLS);
				return ZCP_TOOL_USAGE;
			}
			pools++;
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--interval", &v)) != 0) {
			char *end;
			if (r < 0)
				return ZCP_TOOL_USAGE;
			errno = 0;
			o->interval = strtod(v, &end);
			if (errno != 0 || end == v || *end != '\0' || !(o->interval >= 0.01) ||
			    o->interval > 86400.0) {
				zcp_tool_err("serve", "bad --interval '%s': seconds, 0.01 to 86400",
					     v);
				return ZCP_TOOL_USAGE;
			}
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--max-processes", &v)) !=
			   0) {
			unsigned long n;
			if (r < 0)
				return ZCP_TOOL_USAGE;
			if (zcp_tool_parse_uint(v, 1, ZCP_MAX_PROCESSES, &n) != 0 ||
			    zcp_mempool_config_set_max_processes(cfg, (unsigned)n) != 0) {
				zcp_tool_err("serve", "bad --max-processes '%s': 1 to %d", v,
					     ZCP_MAX_PROCESSES);
				return ZCP_TOOL_USAGE;
			}
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--mode", &v)) != 0) {
			char *end;
			unsigned long mv;
			if (r < 0)
				return ZCP_TOOL_USAGE;
			errno = 0;
			mv = strtoul(v, &end, 8);
			if (errno != 0 || end == v || *end != '\0' || *v < '0' || *v > '7' ||
			    (mv & ~0660ul) != 0) {
				zcp_tool_err("serve", "bad --mode '%s': octal, a subset of 0660", v);
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
				zcp_tool_err("serve", "bad --socket-dir '%s': an absolute path", v);
				return ZCP_TOOL_USAGE;
			}
			o->socket_dir = v;
		} else if ((r = zcp_tool_opt("serve", argc, argv, &i, "--allow-gid", &v)) != 0) {
			if (r < 0 || parse_gid("--allow-gid", v, &o->allow_gid) != 0)
				return ZCP_TOOL_USAGE;
		} else if (strcmp(argv[i], "--socket") == 0) {
			o->socket = 1;
		} else if (strcmp(argv[i], "--takeover") == 0) {
			o->takeover = 1;
		} else {
			zcp_tool_err("serve", "unknown option '%s'", argv[i]);
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
	if (access) {
		int err = zcp_mempool_config_set_access(cfg, mode, gid);
		if (err != 0) {
			zcp_tool_err("serve", "bad --mode/--gid: %s", zcp_strerror(err));
			return ZCP_TOOL_USAGE;
		}
	}
	if (pools == 0)
		for (size_t k = 0; k < sizeof default_pools / sizeof default_pools[0]; k++)
			zcp_mempool_config_add_entry(cfg, default_pools[k].size,
						     default_pools[k].count);
	return -1;
}

/* Print the configuration as the seed's server does before creating. */
static void print_config(const zcp_mempool_config *cfg)
{
	zcp_mempool_layout lay;

	printf("Creating pool configuration...\n");
	printf("  %d pool(s)", zcp_mempool_config_pool_count(cfg));
	if (zcp_mempool_config_layout(cfg, &lay) == 0)
		printf(", %llu chunks in all", (unsigned long long)lay.total_chunks);
	printf("\n");
}

/* Entry point of "zerocp serve". */
int zcp_tool_serve(int argc, char **argv)
{
	struct serve_opts o = {NULL, 5.0, 0, 0, NULL, -1};
	zcp_mempool_config *cfg;
	zcp_mempool_manager *m = NULL;
	zcp_chunk *held[NSEED] = {NULL};
	zcp_broker *br = NULL;
	sigset_t waitmask;
	const char *name;
	int rc, err;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	cfg = zcp_mempool_config_new();
	if (cfg == NULL) {
		zcp_tool_err("serve", "%s", zcp_strerror(ZCP_ENOMEM));
		return ZCP_TOOL_FAIL;
	}
	rc = parse(argc, argv, &o, cfg);
	if (rc >= 0) {
		zcp_mempool_config_free(cfg);
		return rc;
	}
	name = zcp_tool_name(o.name);
	/* Line-buffered even into a file or pipe: scripts wait for "ready". */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (setup_signals(&waitmask) != 0) {
		zcp_tool_err("serve", "cannot install signal handlers: %s", strerror(errno));
		zcp_mempool_config_free(cfg);
		return ZCP_TOOL_FAIL;
	}

	printf("Server pid: %ld\n", (long)getpid());
	print_config(cfg);
	printf("Creating shared instance '%s'...\n", name);
	err = zcp_mempool_manager_create(o.name, cfg, &m);
	if (err == ZCP_EEXIST) {
		rc = handle_existing(&o, name);
		if (rc != 0) {
			zcp_mempool_config_free(cfg);
			return rc;
		}
		err = zcp_mempool_manager_create(o.name, cfg, &m);
	}
	zcp_mempool_config_free(cfg);
	if (err != 0) {
		zcp_tool_err("serve", "cannot create manager '%s': %s", name, zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}
	print_layout(m, name, o.socket);
	if (o.socket) {
		rc = start_broker(&o, m, name, &br);
		if (rc != 0) {
			zcp_mempool_manager_destroy(m);
			return rc;
		}
	}
	printf("Initial pool status:\n");
	zcp_mempool_manager_print_stats(m, stdout);

	printf("Allocating %llu, %llu and %llu bytes...\n", (unsigned long long)seed_sizes[0],
	       (unsigned long long)seed_sizes[1], (unsigned long long)seed_sizes[2]);
	for (size_t k = 0; k < NSEED; k++) {
		held[k] = zcp_chunk_get(m, seed_sizes[k]);
		if (held[k] == NULL) {
			/* Possible with a custom --pool set; serve anyway. */
			int e = -errno;
			printf("  %llu bytes: failed: %s\n", (unsigned long long)seed_sizes[k],
			       zcp_strerror(e));
			continue;
		}
		printf("  %llu bytes: pool %d (chunk_size=%llu)\n",
		       (unsigned long long)seed_sizes[k], zcp_chunk_pool_index(held[k]),
		       (unsigned long long)zcp_chunk_capacity(held[k]));
	}
	printf("Pool status after allocation:\n");
	zcp_mempool_manager_print_stats(m, stdout);
	if (br != NULL)
		printf("socket: %s\n", zcp_broker_path(br));
	printf("ready\n");
	fflush(stdout);

	while (!wait_interval(o.interval, &waitmask, br)) {
		zcp_reclaim_report rep;

		memset(&rep, 0, sizeof rep); /* not filled on every error */
		err = zcp_mempool_manager_reclaim(m, &rep);
		if (err != 0)
			printf("reclaim: %s\n", zcp_strerror(err));
		if (rep.processes != 0 || rep.references != 0 || rep.chunks != 0)
			printf("Reclaimed %llu dead process(es): %llu reference(s) dropped, "
			       "%llu chunk(s) back in their pools\n",
			       (unsigned long long)rep.processes,
			       (unsigned long long)rep.references, (unsigned long long)rep.chunks);
		printf("Pool status:\n");
		zcp_mempool_manager_print_stats(m, stdout);
	}

	printf("Received %s, shutting down...\n", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
	/* First: no client may be handed a manager about to go, and the
	 * socket file goes with it. */
	zcp_broker_close(br);
	rc = ZCP_TOOL_OK;
	for (size_t k = 0; k < NSEED; k++) {
		if (held[k] == NULL)
			continue;
		err = zcp_chunk_release(m, held[k]);
		if (err != 0) {
			zcp_tool_err("serve", "releasing chunk %zu: %s", k, zcp_strerror(err));
			rc = ZCP_TOOL_FAIL;
		}
	}
	err = zcp_mempool_manager_destroy(m);
	if (err != 0) {
		zcp_tool_err("serve", "destroying manager '%s': %s", name, zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}
	printf("Server stopped.\n");
	return rc;
}
