/* SPDX-License-Identifier: MIT */
/* tools/bench/report.c - what every figure file of "zerocp bench" uses:
 * building a figure beside its baseline, the report (table and --json),
 * and the cleanup that leaves nothing in /dev/shm on any path.
 *
 * The options and the order of the figures are in driver.c; the figures
 * in ops.c (get_release, batch), contended.c, handoff.c, create.c and
 * reclaim.c; the baseline free list in freelist.c.  docs/bench-json.md
 * documents the --json output, which is stable: fields are only ever
 * added, and "version" changes if one is removed or changes meaning.
 */
#define _GNU_SOURCE 1
#include "tool.h"
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#define CMD	     "bench"
#define JSON_VERSION 1

/* The process that runs the benchmark (its forked peers are not): only
 * it reports and cleans up. */
static pid_t primary_pid;

void zcp_bench_set_primary(void)
{
	primary_pid = getpid();
}

int zcp_bench_is_primary(void)
{
	return getpid() == primary_pid;
}

/* ------------------------------------------------------------------ */
/* Cleanup: the shm objects the benchmark may have created.            */
/* ------------------------------------------------------------------ */

/* Written only by the main thread, read by the signal handler: each path
 * is complete before its flag is set. */
#define MAX_TRACKED 16
static char tracked[MAX_TRACKED][96];
static volatile sig_atomic_t tracked_used[MAX_TRACKED];

static void unlink_tracked(void)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (tracked_used[i]) {
			shm_unlink(tracked[i]); /* async-signal-safe in practice */
			tracked_used[i] = 0;
		}
}

void zcp_bench_track_shm(const char *path)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (!tracked_used[i]) {
			snprintf(tracked[i], sizeof tracked[i], "%s", path);
			tracked_used[i] = 1;
			return;
		}
	zcp_bench_fatal("too many shared-memory objects to track");
}

void zcp_bench_untrack_shm(const char *path)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (tracked_used[i] && strcmp(tracked[i], path) == 0)
			tracked_used[i] = 0;
}

/* Segment names of a manager, as documented in <zerocp/pool.h>. */
static void mgr_paths(const char *name, char m[96], char d[96])
{
	snprintf(m, 96, "/zerocp_%s_mgmt", name);
	snprintf(d, 96, "/zerocp_%s_data", name);
}

void zcp_bench_track_mgr(const char *name)
{
	char m[96], d[96];
	mgr_paths(name, m, d);
	zcp_bench_track_shm(m);
	zcp_bench_track_shm(d);
}

void zcp_bench_untrack_mgr(const char *name)
{
	char m[96], d[96];
	mgr_paths(name, m, d);
	zcp_bench_untrack_shm(m);
	zcp_bench_untrack_shm(d);
}

static void cleanup_at_exit(void)
{
	if (zcp_bench_is_primary())
		unlink_tracked();
}

static void on_signal(int sig)
{
	int saved = errno;
	if (zcp_bench_is_primary())
		unlink_tracked();
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

static const int handled_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define NSIG_HANDLED (sizeof handled_signals / sizeof handled_signals[0])
static struct sigaction saved_actions[NSIG_HANDLED];

void zcp_bench_install_cleanup(void)
{
	static int registered;
	struct sigaction sa;

	if (!registered && atexit(cleanup_at_exit) == 0)
		registered = 1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NSIG_HANDLED; i++)
		sigaction(handled_signals[i], &sa, &saved_actions[i]);
}

void zcp_bench_restore_signals(void)
{
	for (size_t i = 0; i < NSIG_HANDLED; i++)
		sigaction(handled_signals[i], &saved_actions[i], NULL);
}

void zcp_bench_fatal(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!zcp_bench_is_primary()) {
		/* A peer: say why, and leave the cleanup to the parent. */
		fprintf(stderr, "%s: %s: peer %ld: %s\n", zcp_tool_progname, CMD, (long)getpid(),
			msg);
		_exit(ZCP_TOOL_FAIL);
	}
	zcp_tool_err(CMD, "%s (benchmark aborted)", msg);
	unlink_tracked();
	exit(ZCP_TOOL_FAIL);
}

/* ------------------------------------------------------------------ */
/* Statistics and figures.                                             */
/* ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

void zcp_bench_stat_of(const double *v, unsigned n, struct zcp_bench_stat *out)
{
	double s[ZCP_BENCH_MAX_TRIALS];

	if (n == 0 || n > ZCP_BENCH_MAX_TRIALS)
		zcp_bench_fatal("internal: %u trials", n);
	memcpy(s, v, n * sizeof *v);
	qsort(s, n, sizeof *s, cmp_double);
	out->min = s[0];
	out->max = s[n - 1];
	out->median = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

void zcp_bench_ratio(struct zcp_bench_figure *f)
{
	f->ratio = -1;
	if (f->nbase > 0 && f->base[0].st.median > 0)
		f->ratio = f->zcp.median / f->base[0].st.median;
}

void zcp_bench_figure_of(struct zcp_bench_figure *f, const char *name, const char *unit,
			 unsigned trials, uint64_t samples, const double *z, const char *base,
			 const double *b)
{
	memset(f, 0, sizeof *f);
	f->name = name;
	f->unit = unit;
	f->trials = trials;
	f->samples = samples;
	zcp_bench_stat_of(z, trials, &f->zcp);
	f->nbase = 1;
	f->base[0].name = base;
	zcp_bench_stat_of(b, trials, &f->base[0].st);
	zcp_bench_ratio(f);
}

void zcp_bench_bar(struct zcp_bench_figure *f, const char *on, const char *op, double value)
{
	double x = strcmp(on, "ratio") == 0 ? f->ratio : f->zcp.median;
	f->has_bar = 1;
	f->bar_on = on;
	f->bar_op = op;
	f->bar_value = value;
	if (x < 0 || !isfinite(x))
		f->bar_pass = 0;
	else
		f->bar_pass = strcmp(op, "<=") == 0 ? x <= value : x >= value;
}

struct skipped {
	const char *name;
	char variant[48];
	char bar[96];
	char reason[160];
};

static struct zcp_bench_figure *figures;
static size_t nfigures;
static struct skipped *skips;
static size_t nskips;

/* A number with three significant digits or so, for the table. */
static void fmt_num(double v, char *buf, size_t n)
{
	double a = v < 0 ? -v : v;
	if (a >= 100 || a == 0)
		snprintf(buf, n, "%.0f", v);
	else if (a >= 10)
		snprintf(buf, n, "%.1f", v);
	else if (a >= 1)
		snprintf(buf, n, "%.2f", v);
	else
		snprintf(buf, n, "%.3f", v);
}

static void fmt_bar(const struct zcp_bench_figure *f, char *buf, size_t n)
{
	if (strcmp(f->bar_on, "ratio") == 0 || strcmp(f->unit, "x") == 0)
		snprintf(buf, n, "%s%.1fx", f->bar_op, f->bar_value);
	else
		snprintf(buf, n, "%s%g %s", f->bar_op, f->bar_value, f->unit);
}

static void print_line(const struct zcp_bench_figure *f)
{
	char label[80], a[32], lo[32], hi[32], b[32];

	snprintf(label, sizeof label, "%s/%s", f->name, f->variant);
	fmt_num(f->zcp.median, a, sizeof a);
	fmt_num(f->zcp.min, lo, sizeof lo);
	fmt_num(f->zcp.max, hi, sizeof hi);
	printf("%-36s zcp %7s %-8s (min %s, max %s)", label, a, f->unit, lo, hi);
	for (unsigned i = 0; i < f->nbase; i++) {
		fmt_num(f->base[i].st.median, b, sizeof b);
		printf("   %s %s %s", f->base[i].name, b, f->unit);
		if (i == 0 && f->ratio >= 0)
			printf("   ratio %.2fx", f->ratio);
	}
	if (f->has_bar) {
		char bar[48];
		fmt_bar(f, bar, sizeof bar);
		printf("   bar %s  %s", bar, f->bar_pass ? "PASS" : "MISS");
	}
	if (f->retries)
		printf("   (%llu retries on EAGAIN)", (unsigned long long)f->retries);
	if (f->note[0])
		printf("   [%s]", f->note);
	putchar('\n');
	fflush(stdout);
}

void zcp_bench_report(struct zcp_bench_ctx *ctx, const struct zcp_bench_figure *f)
{
	struct zcp_bench_figure *n = realloc(figures, (nfigures + 1) * sizeof *figures);
	if (!n)
		zcp_bench_fatal("out of memory");
	figures = n;
	figures[nfigures++] = *f;
	if (!ctx->json)
		print_line(f);
}

void zcp_bench_skip(struct zcp_bench_ctx *ctx, const char *name, const char *variant,
		    const char *bar, const char *reason)
{
	struct skipped *n = realloc(skips, (nskips + 1) * sizeof *skips);
	if (!n)
		zcp_bench_fatal("out of memory");
	skips = n;
	struct skipped *s = &skips[nskips++];
	s->name = name;
	snprintf(s->variant, sizeof s->variant, "%s", variant);
	snprintf(s->bar, sizeof s->bar, "%s", bar ? bar : "");
	snprintf(s->reason, sizeof s->reason, "%s", reason);
	if (!ctx->json) {
		char label[80];
		snprintf(label, sizeof label, "%s/%s", name, variant);
		printf("%-36s skipped: %s\n", label, reason);
		fflush(stdout);
	}
}

void zcp_bench_info(struct zcp_bench_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	if (ctx->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* ------------------------------------------------------------------ */
/* Output.                                                             */
/* ------------------------------------------------------------------ */

void zcp_bench_cpu_model(char *buf, size_t n)
{
	char line[512];
	FILE *fp = fopen("/proc/cpuinfo", "r");

	snprintf(buf, n, "unknown");
	if (!fp)
		return;
	while (fgets(line, sizeof line, fp)) {
		/* x86 "model name", arm64 "CPU part" is less useful; take the
		 * first descriptive key found. */
		if (strncmp(line, "model name", 10) == 0 || strncmp(line, "Model", 5) == 0 ||
		    strncmp(line, "cpu model", 9) == 0) {
			char *v = strchr(line, ':');
			if (!v)
				continue;
			v++;
			while (*v == ' ' || *v == '\t')
				v++;
			v[strcspn(v, "\n")] = '\0';
			snprintf(buf, n, "%s", v);
			break;
		}
	}
	fclose(fp);
}

static void json_num(double v)
{
	if (!isfinite(v))
		fputs("null", stdout);
	else
		printf("%.6g", v);
}

static void json_stat(const struct zcp_bench_stat *st)
{
	fputs("\"median\":", stdout);
	json_num(st->median);
	fputs(",\"min\":", stdout);
	json_num(st->min);
	fputs(",\"max\":", stdout);
	json_num(st->max);
}

static void json_base(const struct zcp_bench_base *b)
{
	fputs("{\"name\":", stdout);
	zcp_tool_json_string(b->name);
	putchar(',');
	json_stat(&b->st);
	putchar('}');
}

static void json_figure(const struct zcp_bench_figure *f)
{
	fputs("{\"name\":", stdout);
	zcp_tool_json_string(f->name);
	fputs(",\"variant\":", stdout);
	zcp_tool_json_string(f->variant);
	fputs(",\"unit\":", stdout);
	zcp_tool_json_string(f->unit);
	printf(",\"better\":\"%s\",\"trials\":%u,\"samples\":%llu,",
	       f->higher_better ? "higher" : "lower", f->trials, (unsigned long long)f->samples);
	json_stat(&f->zcp);
	fputs(",\"baseline\":", stdout);
	if (f->nbase > 0)
		json_base(&f->base[0]);
	else
		fputs("null", stdout);
	fputs(",\"also\":[", stdout);
	for (unsigned i = 1; i < f->nbase; i++) {
		if (i > 1)
			putchar(',');
		json_base(&f->base[i]);
	}
	fputs("],\"ratio\":", stdout);
	if (f->ratio >= 0)
		json_num(f->ratio);
	else
		fputs("null", stdout);
	fputs(",\"bar\":", stdout);
	if (f->has_bar) {
		fputs("{\"on\":", stdout);
		zcp_tool_json_string(f->bar_on);
		fputs(",\"op\":", stdout);
		zcp_tool_json_string(f->bar_op);
		fputs(",\"value\":", stdout);
		json_num(f->bar_value);
		fputs(",\"measured\":", stdout);
		double x = strcmp(f->bar_on, "ratio") == 0 ? f->ratio : f->zcp.median;
		if (x >= 0)
			json_num(x);
		else
			fputs("null", stdout);
		printf(",\"pass\":%s}", f->bar_pass ? "true" : "false");
	} else {
		fputs("null", stdout);
	}
	printf(",\"retries\":%llu,\"note\":", (unsigned long long)f->retries);
	zcp_tool_json_string(f->note);
	putchar('}');
}

static void count_bars(unsigned *pass, unsigned *miss, unsigned *skip)
{
	*pass = *miss = *skip = 0;
	for (size_t i = 0; i < nfigures; i++)
		if (figures[i].has_bar)
			(*(figures[i].bar_pass ? pass : miss))++;
	for (size_t i = 0; i < nskips; i++)
		if (skips[i].bar[0])
			(*skip)++;
}

void zcp_bench_print_json(const struct zcp_bench_ctx *ctx)
{
	char model[256];
	struct utsname u;
	unsigned pass, miss, skip;

	zcp_bench_cpu_model(model, sizeof model);
	printf("{\"version\":%d,\"zerocp_version\":", JSON_VERSION);
	zcp_tool_json_string(zcp_version_string());
	printf(",\"machine\":{\"cpus\":%d,\"model\":", ctx->ncpu);
	zcp_tool_json_string(model);
	fputs(",\"kernel\":", stdout);
	zcp_tool_json_string(uname(&u) == 0 ? u.release : "unknown");
	printf("},\"quick\":%s,\"trials\":%u,\"figures\":[", ctx->quick ? "true" : "false",
	       ctx->trials);
	for (size_t i = 0; i < nfigures; i++) {
		if (i)
			putchar(',');
		fputs("\n", stdout);
		json_figure(&figures[i]);
	}
	fputs("\n],\"skipped\":[", stdout);
	for (size_t i = 0; i < nskips; i++) {
		if (i)
			putchar(',');
		fputs("\n{\"name\":", stdout);
		zcp_tool_json_string(skips[i].name);
		fputs(",\"variant\":", stdout);
		zcp_tool_json_string(skips[i].variant);
		fputs(",\"bar\":", stdout);
		if (skips[i].bar[0])
			zcp_tool_json_string(skips[i].bar);
		else
			fputs("null", stdout);
		fputs(",\"reason\":", stdout);
		zcp_tool_json_string(skips[i].reason);
		putchar('}');
	}
	count_bars(&pass, &miss, &skip);
	printf("],\"bars\":{\"passed\":%u,\"missed\":%u,\"skipped\":%u}}\n", pass, miss, skip);
}

void zcp_bench_print_summary(void)
{
	unsigned pass, miss, skip;

	printf("\nBars (ratios from this run; absolute times are context):\n");
	for (size_t i = 0; i < nfigures; i++) {
		const struct zcp_bench_figure *f = &figures[i];
		char label[80], bar[48], x[32];
		if (!f->has_bar)
			continue;
		snprintf(label, sizeof label, "%s/%s", f->name, f->variant);
		fmt_bar(f, bar, sizeof bar);
		fmt_num(strcmp(f->bar_on, "ratio") == 0 ? f->ratio : f->zcp.median, x, sizeof x);
		int in_x = strcmp(f->bar_on, "ratio") == 0 || strcmp(f->unit, "x") == 0;
		printf("  %-4s %-36s %s %s%s%s (bar %s)\n", f->bar_pass ? "PASS" : "MISS", label,
		       f->bar_on, x, in_x ? "" : " ", in_x ? "x" : f->unit, bar);
	}
	for (size_t i = 0; i < nskips; i++)
		if (skips[i].bar[0])
			printf("  SKIP %s/%s (%s): %s\n", skips[i].name, skips[i].variant,
			       skips[i].bar, skips[i].reason);
	count_bars(&pass, &miss, &skip);
	printf("%u passed, %u missed, %u skipped\n", pass, miss, skip);
}



void zcp_bench_reset(void)
{
	free(figures);
	free(skips);
	figures = NULL;
	skips = NULL;
	nfigures = nskips = 0;
}
