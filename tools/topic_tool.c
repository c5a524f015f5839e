/* SPDX-License-Identifier: MIT */
/* tools/topic_tool.c - helpers of the publish/subscribe subcommands
 * (declared in tools/topic_tool.h): signals, options, time, waiting. */
#include "topic_tool.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t zcp_topic_stop;

static void on_stop(int sig)
{
	(void)sig;
	zcp_topic_stop = 1;
}

int zcp_topic_signals(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: clock_nanosleep() returns EINTR at once. */
	for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
		if (sigaction(sigs[k], &sa, NULL) != 0)
			return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

int zcp_topic_target_opt(const char *cmd, int argc, char **argv, int *i,
			 struct zcp_tool_target *t)
{
	const char *v;
	int r;

	if ((r = zcp_tool_opt(cmd, argc, argv, i, "--name", &v)) != 0) {
		if (r < 0 || zcp_tool_check_name(cmd, v) != 0)
			return -1;
		t->name = v;
	} else if ((r = zcp_tool_opt(cmd, argc, argv, i, "--socket", &v)) != 0) {
		if (r < 0)
			return -1;
		t->socket = v;
	} else if ((r = zcp_tool_opt(cmd, argc, argv, i, "--owner", &v)) != 0) {
		if (r < 0 || zcp_tool_parse_owner(cmd, v, &t->owner) != 0)
			return -1;
	} else {
		return 0;
	}
	return 1;
}

int zcp_topic_target_check(const char *cmd, const struct zcp_tool_target *t)
{
	if (t->socket != NULL && t->name != NULL) {
		/* The socket decides the manager: a --name beside it would
		 * be silently ignored. */
		zcp_tool_err(cmd, "--name and --socket exclude each other");
		return -1;
	}
	if (t->socket == NULL && zcp_tool_check_env_name(cmd, t->name) != 0)
		return -1;
	return 0;
}

int zcp_topic_queue_opt(const char *cmd, int argc, char **argv, int *i, zcp_topic_options *o)
{
	static const char *const names[] = {"--capacity", "--history"};
	for (int k = 0; k < 2; k++) {
		const char *v;
		unsigned long n;
		int r = zcp_tool_opt(cmd, argc, argv, i, names[k], &v);
		if (r == 0)
			continue;
		/* The manager's max_queue is the real bound; the library
		 * says so with ZCP_EINVAL at create. */
		if (r < 0 || zcp_tool_parse_uint(v, k == 0 ? 1 : 0, 65536, &n) != 0) {
			if (r > 0)
				zcp_tool_err(cmd, "bad %s %s: a count from %d to 65536", names[k],
					     zcp_tool_q(v), k == 0 ? 1 : 0);
			return -1;
		}
		if (k == 0)
			o->capacity = (unsigned int)n;
		else
			o->history = (unsigned int)n;
		return 1;
	}
	return 0;
}

int zcp_topic_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (s == NULL || !((*s >= '0' && *s <= '9') || *s == '.'))
		return -1; /* no sign, blank, "inf" or "nan" */
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int zcp_topic_find(const zcp_mempool_manager *m, const char *name, zcp_topic_info *info)
{
	int n = zcp_topic_slots(m);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		int err = zcp_topic_get_info(m, i, info);
		if (err == 0 && strcmp(info->name, name) == 0)
			return i;
	}
	return ZCP_ENOENT;
}

int zcp_topic_subscribe(const char *cmd, zcp_mempool_manager *m, const char *name,
			zcp_topic_options *o, zcp_subscriber **out, uint64_t *type_size)
{
	zcp_topic_info info;
	int err;

	/* A subscriber must name the topic's exact type (an untyped one
	 * gets ZCP_ETYPE on a typed topic): a generic reader adopts it. */
	*type_size = 0;
	if (zcp_topic_find(m, name, &info) >= 0) {
		o->type_name = info.type_name;
		o->type_size = info.type_size;
		o->type_align = info.type_align;
		*type_size = info.type_size;
	}
	err = zcp_subscriber_create(m, name, o, out);
	o->type_name = NULL; /* points into info, which ends here */
	if (err == 0)
		return 0;
	zcp_tool_err(cmd, "cannot subscribe to topic %s: %s (%s)", zcp_tool_q(name),
		     zcp_strerror(err), zcp_err_name(err));
	if (err == ZCP_EINVAL)
		zcp_tool_err(cmd, "a topic name is 1 to %d characters of [A-Za-z0-9._-], not starting "
				  "with '.'; "
				  "--capacity and --history at most the manager's queue size",
			     ZCP_TOPIC_NAME_MAX);
	return err;
}

uint64_t zcp_topic_largest_chunk(const zcp_mempool_manager *m)
{
	int n = zcp_mempool_manager_pool_count(m);
	uint64_t best = 0;

	for (int i = 0; i < n; i++) {
		zcp_pool_stats s;
		if (zcp_mempool_manager_pool_stats(m, i, &s) == 0 && s.chunk_size > best)
			best = s.chunk_size;
	}
	return best;
}

uint64_t zcp_topic_sample_size(const zcp_chunk *c, uint64_t type_size)
{
	uint64_t size = zcp_chunk_size(c);
	uint64_t off = (uint64_t)((const unsigned char *)zcp_sample_data(c) -
				  (const unsigned char *)zcp_chunk_data(c));

	/* The loan asked for size + (align - 64) bytes when the alignment is
	 * above 64; only a typed topic says how many of them are the
	 * sample's. */
	size = size > off ? size - off : 0;
	if (type_size != 0 && type_size < size)
		size = type_size;
	return size;
}

void zcp_topic_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

void zcp_topic_ts_add(struct timespec *ts, uint64_t ns)
{
	ns += (uint64_t)ts->tv_nsec;
	ts->tv_sec += (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}

int64_t zcp_topic_ts_diff(const struct timespec *a, const struct timespec *b)
{
	return ((int64_t)a->tv_sec - (int64_t)b->tv_sec) * 1000000000 +
	       ((int64_t)a->tv_nsec - (int64_t)b->tv_nsec);
}

int zcp_topic_sleep_until(const struct timespec *when)
{
	for (;;) {
		struct timespec now, slice;
		if (zcp_topic_stop)
			return 1;
		zcp_topic_now(&now);
		if (zcp_topic_ts_diff(when, &now) <= 0)
			return 0;
		slice = now;
		zcp_topic_ts_add(&slice, 100000000u);
		if (zcp_topic_ts_diff(when, &slice) < 0)
			slice = *when;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &slice, NULL);
	}
}

int wait_for_sample(zcp_subscriber *sub, const struct timespec *deadline, zcp_chunk **out)
{
	for (;;) {
		struct timespec now;
		zcp_chunk *c = zcp_subscriber_take(sub);
		if (c != NULL) {
			*out = c;
			return 0;
		}
		if (errno != EAGAIN)
			return -errno;
		if (zcp_topic_stop)
			return ZCP_TOPIC_WAIT_STOPPED;
		/* Sleep in the library (a futex: no CPU while the topic is
		 * idle) until a sample, the deadline, or a signal (EINTR:
		 * our handlers are installed without SA_RESTART). */
		/* At most 100 ms a sleep: a signal that lands between the
		 * stop check and the sleep is seen that late, not never. */
		int64_t ns = 100000000;
		if (deadline != NULL) {
			zcp_topic_now(&now);
			int64_t left = zcp_topic_ts_diff(deadline, &now);
			if (left <= 0)
				return ZCP_TOPIC_WAIT_TIMEOUT;
			if (left < ns)
				ns = left;
		}
		int err = zcp_subscriber_wait(sub, ns);
		if (err && err != ZCP_ETIMEDOUT && err != ZCP_EINTR)
			return err;
	}
}
