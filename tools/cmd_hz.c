/* SPDX-License-Identifier: MIT */
/* tools/cmd_hz.c - "zerocp hz": the rate of a topic (like ros2 topic hz).
 *
 * Opens a subscriber and, once a second, prints the rate over the last
 * --window gaps between samples, the mean and largest gap, and the samples
 * the subscriber lost.  Gaps are measured between publish times
 * (zcp_sample_info.timestamp_ns), not between the times we take the
 * samples: the polling wait would add its own jitter (up to 10 ms) to
 * every gap, and samples read in a burst would look simultaneous.
 */
#include "topic_tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s hz TOPIC [--name N | --socket PATH] [--owner UID]\n"
		"                 [--window N] [--count N]\n"
		"\n"
		"Subscribe to TOPIC and print once a second:\n"
		"  rate R Hz, mean gap G ms, max gap M ms, window W, lost L\n"
		"R and the gaps are over the last W gaps between publish times (W grows\n"
		"to --window, default 1000); lost counts the samples the subscriber\n"
		"lost since it started.  \"no new samples\" when none came in that second.\n"
		"  --count N  exit after N reports (default 0: until SIGINT/SIGTERM)\n"
		"Exit 0 (also when stopped by a signal), 1 on a failure, 2 on a usage\n"
		"error.\n",
		zcp_tool_progname);
}

/* The last `cap` gaps between samples, in ns. */
struct window {
	uint64_t *gap;
	unsigned long cap, n, next;
	uint64_t sum;
};

static void window_add(struct window *w, uint64_t gap)
{
	if (w->n == w->cap)
		w->sum -= w->gap[w->next];
	else
		w->n++;
	w->gap[w->next] = gap;
	w->sum += gap;
	w->next = (w->next + 1) % w->cap;
}

static uint64_t window_max(const struct window *w)
{
	uint64_t mx = 0;
	for (unsigned long k = 0; k < w->n; k++)
		if (w->gap[k] > mx)
			mx = w->gap[k];
	return mx;
}

static void report(const struct window *w, uint64_t fresh, uint64_t lost)
{
	if (fresh == 0 || w->n == 0 || w->sum == 0) {
		printf("%s, lost %llu\n", fresh == 0 ? "no new samples" : "not enough samples yet",
		       (unsigned long long)lost);
		return;
	}
	double mean = (double)w->sum / (double)w->n;
	printf("rate %.2f Hz, mean gap %.3f ms, max gap %.3f ms, window %lu, lost %llu\n",
	       1e9 / mean, mean / 1e6, (double)window_max(w) / 1e6, w->n,
	       (unsigned long long)lost);
}

/* Entry point of "zerocp hz". */
int zcp_tool_hz(int argc, char **argv)
{
	struct zcp_tool_target t = {NULL, NULL, ZCP_OWNER_SELF, 0, 0};
	const char *topic = NULL;
	unsigned long count = 0, reports = 0, window = 1000;
	int err, status = ZCP_TOOL_OK;
	uint64_t type_size, fresh = 0, last_ns = 0;
	struct window w = {NULL, 0, 0, 0, 0};
	zcp_topic_options o;
	zcp_mempool_manager *m;
	zcp_subscriber *sub;
	struct timespec tick;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	zcp_topic_options_init(&o);
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if ((r = zcp_topic_target_opt("hz", argc, argv, &i, &t)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt("hz", argc, argv, &i, "--count", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_uint(v, 0, (unsigned long)-1, &count) != 0) {
				if (r > 0)
					zcp_tool_err("hz", "bad --count %s: a count of reports, 0 for no end",
						     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
		} else if ((r = zcp_tool_opt("hz", argc, argv, &i, "--window", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_uint(v, 1, 10000000, &window) != 0) {
				if (r > 0)
					zcp_tool_err("hz", "bad --window %s: gaps, 1 to 10000000",
						     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
		} else if (argv[i][0] == '-' || topic != NULL) {
			zcp_tool_err("hz", "unknown %s %s", argv[i][0] == '-' ? "option" : "argument",
				     zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		} else {
			topic = argv[i];
		}
	}
	if (topic == NULL) {
		zcp_tool_err("hz", "which topic? (TOPIC is missing)");
		usage(stderr);
		return ZCP_TOOL_USAGE;
	}
	if (zcp_topic_target_check("hz", &t) != 0)
		return ZCP_TOOL_USAGE;
	w.cap = window;
	w.gap = malloc(window * sizeof *w.gap);
	if (w.gap == NULL) {
		zcp_tool_err("hz", "out of memory for a window of %lu", window);
		return ZCP_TOOL_FAIL;
	}
	if (zcp_topic_signals() != 0) {
		zcp_tool_err("hz", "cannot install signal handlers: %s", strerror(errno));
		free(w.gap);
		return ZCP_TOOL_FAIL;
	}
	err = zcp_tool_attach("hz", &t, &m, NULL);
	if (err != 0) {
		zcp_tool_attach_error("hz", &t, err);
		free(w.gap);
		return ZCP_TOOL_FAIL;
	}
	if (zcp_topic_subscribe("hz", m, topic, &o, &sub, &type_size) != 0) {
		zcp_mempool_manager_detach(m);
		free(w.gap);
		return ZCP_TOOL_FAIL;
	}

	zcp_topic_now(&tick);
	zcp_topic_ts_add(&tick, 1000000000u);
	while (count == 0 || reports < count) {
		zcp_chunk *c;
		zcp_sample_info si;
		err = wait_for_sample(sub, &tick, &c);
		if (err == ZCP_TOPIC_WAIT_STOPPED)
			break;
		if (err == ZCP_TOPIC_WAIT_TIMEOUT) {
			report(&w, fresh, zcp_subscriber_lost(sub));
			if (fflush(stdout) != 0) {
				if (errno != EPIPE)
					status = ZCP_TOOL_FAIL;
				break;
			}
			fresh = 0;
			reports++;
			zcp_topic_ts_add(&tick, 1000000000u);
			continue;
		}
		if (err != 0) {
			zcp_tool_err("hz", "taking a sample: %s (%s)", zcp_strerror(err),
				     zcp_err_name(err));
			status = ZCP_TOOL_FAIL;
			break;
		}
		if (zcp_chunk_sample_info(c, &si) == 0) {
			/* A clock stepped back, or publishers' samples
			 * interleaving out of order: not a gap. */
			if (last_ns != 0 && si.timestamp_ns >= last_ns)
				window_add(&w, si.timestamp_ns - last_ns);
			last_ns = si.timestamp_ns;
		}
		zcp_chunk_release(m, c);
		fresh++;
	}

	err = zcp_subscriber_close(sub);
	if (err != 0)
		zcp_tool_err("hz", "closing the subscriber: %s", zcp_strerror(err));
	zcp_mempool_manager_detach(m);
	free(w.gap);
	return status;
}
