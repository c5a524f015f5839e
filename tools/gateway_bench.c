/* SPDX-License-Identifier: MIT */
/* tools/gateway_bench.c - the measuring modes of zerocp-gateway, for
 * tools/bench-gateway.sh:
 *
 *   ping OUT IN [--count N] [--size B]   publish on OUT, wait for the echo
 *                                        on IN; print the round trips
 *   pong IN OUT [--count N]              send every sample of IN back on OUT
 *   sink TOPIC [--count N]               count samples; print the rate from
 *                                        the first to the last
 *
 * Each takes --name/--socket/--owner like the zerocp commands, and
 * --timeout SECONDS (default 60).  They sleep in zcp_subscriber_wait().
 */
#include "gateway.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s ping OUT IN [--count N] [--size B] [--warmup N]\n"
		"       %s pong IN OUT [--count N]   (default 0: until stopped)\n"
		"       %s sink TOPIC [--count N]    (default 0: until stopped)\n"
		"       (each: [--name N | --socket PATH] [--owner UID] [--timeout S])\n"
		"ping publishes N samples of B bytes on OUT, each after the echo of the\n"
		"last came back on IN, and prints the median and 99th percentile round\n"
		"trip in microseconds; pong sends what comes on IN back on OUT; sink\n"
		"counts the samples of TOPIC and prints samples and bytes per second\n"
		"between the first and the last.\n",
		zcp_tool_progname, zcp_tool_progname, zcp_tool_progname);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int zcp_gw_bench_main(int argc, char **argv)
{
	struct zcp_tool_target t = {NULL, NULL, ZCP_OWNER_SELF, 0, 0};
	const char *mode = argv[0], *a = NULL, *b = NULL;
	unsigned long count = 1000, warmup = 100;
	uint64_t size = 64, type_size = 0, got = 0, bytes = 0;
	double timeout = 60;
	zcp_mempool_manager *m;
	zcp_publisher *pub = NULL;
	zcp_subscriber *sub = NULL;
	zcp_topic_options o;
	struct timespec deadline, first = {0, 0}, last = {0, 0};
	int64_t *rtt = NULL;
	int status = ZCP_TOOL_OK, err;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	if (strcmp(mode, "ping") != 0)
		count = 0; /* pong and sink: until stopped, unless --count */
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if ((r = zcp_topic_target_opt(mode, argc, argv, &i, &t)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt(mode, argc, argv, &i, "--count", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_uint(v, 0, (unsigned long)-1, &count) != 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt(mode, argc, argv, &i, "--warmup", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_uint(v, 0, (unsigned long)-1, &warmup) != 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt(mode, argc, argv, &i, "--size", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_size(v, &size) != 0 || size == 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt(mode, argc, argv, &i, "--timeout", &v)) != 0) {
			if (r < 0 || zcp_topic_parse_double(v, 0.001, 1e7, &timeout) != 0)
				return ZCP_TOOL_USAGE;
		} else if (argv[i][0] != '-' && a == NULL) {
			a = argv[i];
		} else if (argv[i][0] != '-' && b == NULL && strcmp(mode, "sink") != 0) {
			b = argv[i];
		} else {
			zcp_tool_err(mode, "unknown argument %s", zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		}
	}
	if (a == NULL || (b == NULL && strcmp(mode, "sink") != 0)) {
		usage(stderr);
		return ZCP_TOOL_USAGE;
	}
	if (zcp_topic_target_check(mode, &t) != 0 || zcp_topic_signals() != 0)
		return ZCP_TOOL_USAGE;
	if ((err = zcp_tool_attach(mode, &t, &m, NULL)) != 0) {
		zcp_tool_attach_error(mode, &t, err);
		return ZCP_TOOL_FAIL;
	}
	zcp_topic_options_init(&o);
	o.capacity = 64;
	/* ping subscribes to IN (b), pong and sink to their first topic */
	if (zcp_topic_subscribe(mode, m, strcmp(mode, "ping") == 0 ? b : a, &o, &sub,
				&type_size) != 0) {
		zcp_mempool_manager_detach(m);
		return ZCP_TOOL_FAIL;
	}
	if (strcmp(mode, "sink") != 0) {
		zcp_topic_options_init(&o);
		o.capacity = 64;
		o.overflow = ZCP_OVERFLOW_BLOCK;
		o.block_timeout_ns = 100000000;
		if ((err = zcp_publisher_create(m, strcmp(mode, "ping") == 0 ? a : b, &o, &pub)) !=
		    0) {
			zcp_tool_err(mode, "cannot publish: %s", zcp_strerror(err));
			zcp_subscriber_close(sub);
			zcp_mempool_manager_detach(m);
			return ZCP_TOOL_FAIL;
		}
	}
	if (strcmp(mode, "ping") == 0 && (rtt = calloc(count ? count : 1, sizeof(*rtt))) == NULL)
		status = ZCP_TOOL_FAIL;
	zcp_topic_now(&deadline);
	zcp_topic_ts_add(&deadline, (uint64_t)(timeout * 1e9));

	if (strcmp(mode, "ping") == 0) {
		/* Warm-up rounds first (discovery, caches), then the count;
		 * a sample lost on the way is sent again after 1 s. */
		for (unsigned long i = 0; status == 0 && i < warmup + count; i++) {
			struct timespec t0, t1;
			zcp_chunk *c = NULL;
			int w;
			do {
				zcp_chunk *l = zcp_publisher_loan(pub, size);
				if (l == NULL) {
					status = ZCP_TOOL_FAIL;
					break;
				}
				memset(zcp_sample_data(l), (int)i, (size_t)size);
				zcp_topic_now(&t0);
				while ((err = zcp_publisher_publish(pub, l)) == ZCP_ETIMEDOUT)
					if (zcp_topic_stop)
						break;
				if (err != 0) {
					zcp_chunk_release(m, l);
					status = ZCP_TOOL_FAIL;
					break;
				}
				struct timespec d = t0;
				zcp_topic_ts_add(&d, 1000000000);
				if (zcp_topic_ts_diff(&deadline, &d) < 0)
					d = deadline;
				w = wait_for_sample(sub, &d, &c);
			} while (w == ZCP_TOPIC_WAIT_TIMEOUT && zcp_topic_ts_diff(&deadline, &t0) > 0);
			if (status != 0)
				break;
			if (w != 0) {
				zcp_tool_err(mode, "no echo (%d of %lu)", (int)i, warmup + count);
				status = ZCP_TOOL_FAIL;
				break;
			}
			zcp_topic_now(&t1);
			zcp_chunk_release(m, c);
			if (i >= warmup)
				rtt[i - warmup] = zcp_topic_ts_diff(&t1, &t0);
		}
		if (status == 0 && count > 0) {
			qsort(rtt, count, sizeof(*rtt), cmp_i64);
			printf("ping: %lu round trips of %llu bytes: median %.1f us, p99 %.1f us\n",
			       count, (unsigned long long)size, rtt[count / 2] / 1e3,
			       rtt[(count * 99) / 100] / 1e3);
		}
	} else {
		while (count == 0 || got < count) {
			zcp_chunk *c;
			int w = wait_for_sample(sub, &deadline, &c);
			if (w != 0) {
				if (w != ZCP_TOPIC_WAIT_STOPPED && count != 0)
					status = ZCP_TOOL_FAIL;
				break;
			}
			if (got == 0)
				zcp_topic_now(&first);
			got++;
			bytes += zcp_topic_sample_size(c, type_size);
			if (pub != NULL) {
				uint64_t n = zcp_topic_sample_size(c, type_size);
				zcp_chunk *l = zcp_publisher_loan(pub, n);
				if (l != NULL) {
					memcpy(zcp_sample_data(l), zcp_sample_data(c), (size_t)n);
					while ((err = zcp_publisher_publish(pub, l)) == ZCP_ETIMEDOUT)
						if (zcp_topic_stop)
							break;
					if (err != 0)
						zcp_chunk_release(m, l);
				}
			}
			zcp_chunk_release(m, c);
			zcp_topic_now(&last);
		}
		if (strcmp(mode, "sink") == 0) {
			double s = zcp_topic_ts_diff(&last, &first) / 1e9;
			printf("sink: %llu samples, %llu bytes in %.3f s: %.0f samples/s, %.2f MB/s, "
			       "%llu lost\n",
			       (unsigned long long)got, (unsigned long long)bytes, s,
			       s > 0 ? (got - 1) / s : 0.0, s > 0 ? bytes / s / 1e6 : 0.0,
			       (unsigned long long)zcp_subscriber_lost(sub));
		}
	}
	free(rtt);
	zcp_publisher_close(pub);
	zcp_subscriber_close(sub);
	zcp_mempool_manager_detach(m);
	fflush(stdout);
	return status;
}
