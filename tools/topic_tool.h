/* SPDX-License-Identifier: MIT */
/* tools/topic_tool.h - what the publish/subscribe subcommands (pub, echo,
 * hz, topics) share: their entry points, the manager options, stopping on
 * a signal, sleeping to an absolute time, and waiting for a sample.
 *
 * Kept apart from tool.h so that the topic commands stay in files of
 * their own; include tool.h first (it selects the POSIX interfaces).
 */
#ifndef ZEROCP_TOOLS_TOPIC_TOOL_H
#define ZEROCP_TOOLS_TOPIC_TOOL_H

#include "tool.h"

#include <signal.h>
#include <stdint.h>
#include <time.h>

/* The subcommands (tools/cmd_pub.c, cmd_echo.c, cmd_hz.c, cmd_topics.c);
 * same conventions as those of tool.h. */
int zcp_tool_pub(int argc, char **argv);
int zcp_tool_echo(int argc, char **argv);
int zcp_tool_hz(int argc, char **argv);
int zcp_tool_topics(int argc, char **argv);

/* Shared with "zerocp stat" (tools/cmd_topics.c): the manager's topics
 * as the JSON array of "zerocp topics --json", and the endpoint lines of
 * one topic in the text form, each after `indent`.  0 or a code. */
int zcp_topic_json_topics(const zcp_mempool_manager *m);
int zcp_topic_print_endpoints(const zcp_mempool_manager *m, int index, const char *indent);

/* Set by the handler of SIGINT, SIGTERM and SIGHUP: the command closes
 * its endpoint, detaches and exits 0 instead of dying with an open
 * endpoint (which only the next reclaim would close). */
extern volatile sig_atomic_t zcp_topic_stop;

/* zcp_topic_signals - install that handler (without SA_RESTART, so that
 * a sleep ends at once) and ignore SIGPIPE (a closed output is then a
 * write error the command handles).  Returns 0 or -1 with errno. */
int zcp_topic_signals(void);

/* zcp_topic_target_opt - match argv[*i] against --name, --socket and
 * --owner (as in "zerocp stat") and store it in *t.  Returns 1 on a
 * match, 0 for another argument, -1 after a diagnostic (usage error). */
int zcp_topic_target_opt(const char *cmd, int argc, char **argv, int *i,
			 struct zcp_tool_target *t);

/* zcp_topic_target_check - the checks after the loop: --name and
 * --socket exclude each other, $ZEROCP_NAME must be valid.  0 or -1 after
 * a diagnostic (usage error). */
int zcp_topic_target_check(const char *cmd, const struct zcp_tool_target *t);

/* zcp_topic_queue_opt - match --capacity N and --history N, the topic's
 * options (set by whoever opens the topic first, ignored after).  Returns
 * as zcp_topic_target_opt(). */
int zcp_topic_queue_opt(const char *cmd, int argc, char **argv, int *i, zcp_topic_options *o);

/* zcp_topic_parse_double - a duration or rate: a finite decimal number
 * in [min, max].  0 and *out, or -1. */
int zcp_topic_parse_double(const char *s, double min, double max, double *out);

/* zcp_topic_find - the discovery entry of topic `name`: its index (>= 0)
 * and *info, ZCP_ENOENT when no such topic exists, or another code. */
int zcp_topic_find(const zcp_mempool_manager *m, const char *name, zcp_topic_info *info);

/* zcp_topic_subscribe - open a subscriber on `name` with the topic's own
 * type when the topic exists (so that echo and hz read typed topics too),
 * none otherwise.  *type_size gets the type size (0: untyped).  Prints a
 * diagnostic on failure; returns 0 or the library's code. */
int zcp_topic_subscribe(const char *cmd, zcp_mempool_manager *m, const char *name,
			zcp_topic_options *o, zcp_subscriber **out, uint64_t *type_size);

/* zcp_topic_largest_chunk - the payload bytes of the largest pool's
 * chunks (what the biggest sample can hold), 0 if unknown. */
uint64_t zcp_topic_largest_chunk(const zcp_mempool_manager *m);

/* zcp_topic_sample_size - the payload bytes of a sample: what was loaned
 * (zcp_chunk_size()) less the alignment offset of zcp_sample_data(),
 * bounded by the type size when the topic is typed. */
uint64_t zcp_topic_sample_size(const zcp_chunk *c, uint64_t type_size);

/* Monotonic time helpers (CLOCK_MONOTONIC). */
void zcp_topic_now(struct timespec *ts);
void zcp_topic_ts_add(struct timespec *ts, uint64_t ns);
int64_t zcp_topic_ts_diff(const struct timespec *a, const struct timespec *b); /* a - b, ns */

/* zcp_topic_sleep_until - sleep to the absolute monotonic time *when
 * (clock_nanosleep TIMER_ABSTIME, no busy loop), or until a stop signal.
 * Sleeps in slices of at most 100 ms, so that a signal landing between
 * the check of zcp_topic_stop and the sleep delays the exit by at most
 * that.  Returns 0 at the time, 1 when stopped. */
int zcp_topic_sleep_until(const struct timespec *when);

/* What zcp_topic_wait_for_sample() ends with besides a sample. */
#define ZCP_TOPIC_WAIT_TIMEOUT 1 /* the deadline passed */
#define ZCP_TOPIC_WAIT_STOPPED 2 /* a stop signal came */

/* wait_for_sample - the next sample of sub: 0 and *out (one reference,
 * the caller's), ZCP_TOPIC_WAIT_TIMEOUT when *deadline (monotonic; NULL:
 * none) passes first, ZCP_TOPIC_WAIT_STOPPED on a stop signal, or the
 * library's negative code.  Sleeps in zcp_subscriber_wait() (no CPU while
 * the topic is idle), at most 100 ms at a time so a stop signal that lands
 * just before the sleep is seen soon. */
int wait_for_sample(zcp_subscriber *sub, const struct timespec *deadline, zcp_chunk **out);

#endif /* ZEROCP_TOOLS_TOPIC_TOOL_H */
