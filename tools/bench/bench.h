/* SPDX-License-Identifier: MIT */
/* tools/bench/bench.h - internals shared by the files of "zerocp bench"
 * (tools/bench*.c).  Not part of the zerocp API.
 *
 * The benchmark is a client of the public API only.  Each figure is
 * measured in trials; zerocp and its baselines take turns trial by trial
 * (A B A B ...), so that the noise of a shared machine hits both, and the
 * figure is the median of the trials with their min and max.  See
 * docs/bench-json.md for the figures and the --json schema.
 *
 * Every tools/bench*.c defines _GNU_SOURCE (sched_setaffinity(), CPU_SET)
 * and then includes tool.h, before any other header.
 */
#ifndef ZEROCP_TOOLS_BENCH_H
#define ZEROCP_TOOLS_BENCH_H

#include "tool.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#if defined(__GNUC__) || defined(__clang__)
#define ZCP_BENCH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ZCP_BENCH_NORETURN     __attribute__((noreturn))
#else
#define ZCP_BENCH_PRINTF(f, a)
#define ZCP_BENCH_NORETURN
#endif

/* Trials per figure: the issue asks for at least 7. */
#define ZCP_BENCH_TRIALS     7
#define ZCP_BENCH_MAX_TRIALS 16

/* The seed's configuration: 256x100, 1Kx50, 4Kx20, 16Kx10. */
#define ZCP_BENCH_SEED_POOLS 4
extern const uint64_t zcp_bench_seed_size[ZCP_BENCH_SEED_POOLS];
extern const uint32_t zcp_bench_seed_count[ZCP_BENCH_SEED_POOLS];

/* Figure groups, for --only. */
enum {
	ZCP_BENCH_GET_RELEASE = 1u << 0,
	ZCP_BENCH_CONTENDED = 1u << 1,
	ZCP_BENCH_BATCH = 1u << 2,
	ZCP_BENCH_HANDOFF = 1u << 3,
	ZCP_BENCH_CREATE_ATTACH = 1u << 4,
	ZCP_BENCH_RECLAIM = 1u << 5,
	ZCP_BENCH_PUBSUB_RTT = 1u << 6,
	ZCP_BENCH_PUBSUB_LOCAL = 1u << 7,
	ZCP_BENCH_PUBSUB_FANOUT = 1u << 8,
	ZCP_BENCH_PUBSUB_SIZE = 1u << 9,
	ZCP_BENCH_PUBSUB_THROUGHPUT = 1u << 10,
	ZCP_BENCH_WAKE_RTT = 1u << 11,
	ZCP_BENCH_SYSCALLS = 1u << 12,
	ZCP_BENCH_WAKE_PUB_COST = 1u << 13,
	ZCP_BENCH_WAKE_FD_RTT = 1u << 14,
	ZCP_BENCH_PUBLISH_NOSLEEPER = 1u << 15,
	ZCP_BENCH_ALL = (1u << 16) - 1,
};

/* Median, min and max of a figure's trials. */
struct zcp_bench_stat {
	double median, min, max;
};

/* A baseline measured in the same run as the zerocp figure. */
struct zcp_bench_base {
	const char *name; /* "freelist", "malloc", "pingpong", "shm", ... */
	struct zcp_bench_stat st;
};

/* One line of the report.  base[0] is the baseline the ratio is taken
 * against; base[1..] are shown beside it. */
struct zcp_bench_figure {
	const char *name;  /* group: "get_release", ... */
	char variant[48];  /* "256", "2proc/1K", "median", "attach/1GiB", ... */
	const char *unit;  /* "ns", "Mpairs/s", "us", "bytes", "x" */
	int higher_better; /* throughput: a higher ratio is better */
	unsigned trials;
	uint64_t samples; /* operations (or round trips) timed per trial */
	struct zcp_bench_stat zcp;
	unsigned nbase;
	struct zcp_bench_base base[3];
	double ratio; /* zcp.median / base[0].median; < 0 when undefined */
	/* The bar of the issue, if this figure has one. */
	int has_bar;
	const char *bar_on; /* "ratio" or "median" */
	const char *bar_op; /* "<=" or ">=" */
	double bar_value;
	int bar_pass;
	uint64_t retries; /* ZCP_EAGAIN answers retried (contended runs) */
	char note[160];
};

/* Run parameters, derived from the options. */
struct zcp_bench_ctx {
	int json;
	int quick;
	unsigned only;
	unsigned trials;	 /* trials per figure */
	double trial_ns;	 /* target length of a single-thread trial */
	double contended_ns;	 /* length of a contended trial */
	unsigned handoff_rounds; /* timed round trips per trial and kind */
	unsigned create_trials;	 /* trials of create_attach */
	int ncpu;		 /* CPUs this process may run on */
	int cpu[2];		 /* the first two of them (handoff pinning) */
	char name[32];		 /* manager name prefix: "bench<pid>" */
};

/* Time. */
static inline uint64_t zcp_bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Keep the compiler from dropping a malloc()/free() pair or a store. */
static inline void zcp_bench_escape(void *p)
{
#if defined(__GNUC__) || defined(__clang__)
	__asm__ volatile("" : : "g"(p) : "memory");
#else
	(void)p;
#endif
}

/* Politely wait in a spin loop. */
static inline void zcp_bench_relax(void)
{
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
	__builtin_ia32_pause();
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/* --- Reporting (bench.c) --- */

/* Append a figure to the report (printing its line unless --json). */
void zcp_bench_report(struct zcp_bench_ctx *ctx, const struct zcp_bench_figure *f);
/* Record a figure that could not be measured here, with the reason; bar
 * describes the bar it would have been held to, or is NULL. */
void zcp_bench_skip(struct zcp_bench_ctx *ctx, const char *name, const char *variant,
		    const char *bar, const char *reason);
/* A progress or context line: to stdout in the human report, to nowhere
 * with --json. */
void zcp_bench_info(struct zcp_bench_ctx *ctx, const char *fmt, ...) ZCP_BENCH_PRINTF(2, 3);

/* Fill f->zcp, f->base[i].st and f->ratio from trial values. */
void zcp_bench_stat_of(const double *v, unsigned n, struct zcp_bench_stat *out);
void zcp_bench_ratio(struct zcp_bench_figure *f);
/* Start figure f of group name from `trials` trial values of zerocp (z)
 * and of one baseline (b, named base), `samples` operations a trial: the
 * statistics and the ratio; the caller adds variant, note and bar. */
void zcp_bench_figure_of(struct zcp_bench_figure *f, const char *name, const char *unit,
			 unsigned trials, uint64_t samples, const double *z, const char *base,
			 const double *b);
/* Set the bar of f and evaluate it. */
void zcp_bench_bar(struct zcp_bench_figure *f, const char *on, const char *op, double value);

/* Abort the benchmark: print "zerocp: bench: ..." and exit 1, removing
 * the benchmark's shared-memory objects (in a child process: only exit). */
void zcp_bench_fatal(const char *fmt, ...) ZCP_BENCH_PRINTF(1, 2) ZCP_BENCH_NORETURN;

/* For the driver (report.c): signal handlers that remove what the run
 * created, and their removal; the CPU's model name; the end of a run, as
 * JSON or as a summary of the bars; and forgetting the run's figures. */
void zcp_bench_install_cleanup(void);
void zcp_bench_restore_signals(void);
void zcp_bench_cpu_model(char *buf, size_t n);
void zcp_bench_print_json(const struct zcp_bench_ctx *ctx);
void zcp_bench_print_summary(void);
void zcp_bench_reset(void);

/* Shared-memory objects to remove on every exit path (normal, error,
 * SIGINT, SIGTERM).  Names are managers' names; paths are shm_open()
 * names ("/zerocp_..."). */
void zcp_bench_track_mgr(const char *name);
void zcp_bench_untrack_mgr(const char *name);
void zcp_bench_track_shm(const char *path);
void zcp_bench_untrack_shm(const char *path);

/* --- Helpers (util.c) --- */

/* A MAP_SHARED anonymous mapping, shared with children forked later;
 * zero-filled.  Aborts on failure. */
void *zcp_bench_shared_alloc(size_t size);
void zcp_bench_shared_free(void *p, size_t size);

/* fork() for a benchmark peer: flushes stdio first; the child dies with
 * its parent (PR_SET_PDEATHSIG) and never runs the parent's cleanup.
 * Aborts on failure. */
pid_t zcp_bench_fork(void);
/* Wait for a peer; aborts unless it exited with status 0. */
void zcp_bench_wait(pid_t pid, const char *what);
/* Whether this is the process that started the benchmark. */
int zcp_bench_is_primary(void);
void zcp_bench_set_primary(void);

/* Spin until *w == want (acquire), giving up after timeout_s seconds
 * (returns -1) or when *err becomes non-zero (returns -1). */
int zcp_bench_spin_until(_Atomic uint32_t *w, uint32_t want, _Atomic int *err, double timeout_s);

/* The CPUs this process may run on: count, and the first two in cpu[]. */
int zcp_bench_cpus(int cpu[2]);
/* Pin the calling thread to one CPU; 0 or -1. */
int zcp_bench_pin(int cpu);

/* A chunk size as "256", "1K", "16K", "64M". */
void zcp_bench_size_label(uint64_t size, char *buf, size_t n);

/* The configuration of the seed scaled by k (every count times k). */
zcp_mempool_config *zcp_bench_seed_config(uint32_t k, uint32_t min_count);

/* Create manager `name` from cfg, tracked for cleanup; a leftover of the
 * same name (a dead benchmark with our pid) is removed first.  Aborts on
 * failure. */
zcp_mempool_manager *zcp_bench_create(const char *name, const zcp_mempool_config *cfg);
/* Destroy it and stop tracking it.  Aborts on failure. */
void zcp_bench_destroy(zcp_mempool_manager *m);

/* --- The bare free list (freelist.c) --- */

/* The floor zerocp is measured against: an index-based Treiber stack in a
 * MAP_SHARED mapping, the same shape as zerocp's free lists: a 64-bit head
 * packing a 24-bit index and a 40-bit ABA tag, an array of uint32 links,
 * and the chunks (a 64-byte header, then the payload) in the same mapping,
 * with zerocp's stride.  Pop and push are out-of-line functions, as a
 * library's would be. */
struct zcp_bench_fl {
	_Atomic uint64_t *head;
	_Atomic uint32_t *next;
	unsigned char *data;
	uint64_t stride;
	uint32_t count;
	void *map;
	size_t map_len;
};

#define ZCP_BENCH_FL_NIL UINT32_C(0xFFFFFF)

/* Build a list of count chunks of size bytes, all free.  Aborts on
 * failure.  Pair with zcp_bench_fl_fini(). */
void zcp_bench_fl_init(struct zcp_bench_fl *fl, uint64_t size, uint32_t count);
void zcp_bench_fl_fini(struct zcp_bench_fl *fl);
/* Pop: an index, or ZCP_BENCH_FL_NIL when empty.  Lock-free, any number
 * of threads and processes. */
uint32_t zcp_bench_fl_pop(struct zcp_bench_fl *fl);
/* Push an index taken by pop. */
void zcp_bench_fl_push(struct zcp_bench_fl *fl, uint32_t idx);

static inline unsigned char *zcp_bench_fl_data(const struct zcp_bench_fl *fl, uint32_t idx)
{
	return fl->data + (uint64_t)idx * fl->stride + 64;
}

/* --- Figures --- */

/* ops.c: get_release and batch (single thread). */
void zcp_bench_get_release(struct zcp_bench_ctx *ctx);
void zcp_bench_batch(struct zcp_bench_ctx *ctx);
/* contended.c */
void zcp_bench_contended(struct zcp_bench_ctx *ctx);
/* handoff.c */
void zcp_bench_handoff(struct zcp_bench_ctx *ctx);
/* create.c */
void zcp_bench_create_attach(struct zcp_bench_ctx *ctx);
void zcp_bench_reclaim(struct zcp_bench_ctx *ctx);
/* pubsub.c */
void zcp_bench_pubsub_rtt(struct zcp_bench_ctx *ctx);
void zcp_bench_pubsub_local(struct zcp_bench_ctx *ctx);
void zcp_bench_publish_nosleeper(struct zcp_bench_ctx *ctx);
void zcp_bench_pubsub_fanout(struct zcp_bench_ctx *ctx);
void zcp_bench_pubsub_size(struct zcp_bench_ctx *ctx);
void zcp_bench_pubsub_throughput(struct zcp_bench_ctx *ctx);
/* wake.c */
void zcp_bench_wake_rtt(struct zcp_bench_ctx *ctx);
void zcp_bench_wake_fd_rtt(struct zcp_bench_ctx *ctx);
void zcp_bench_syscalls_per_publish(struct zcp_bench_ctx *ctx);
void zcp_bench_wake_pub_cost(struct zcp_bench_ctx *ctx);

#endif /* ZEROCP_TOOLS_BENCH_H */
