/* SPDX-License-Identifier: MIT */
/* tools/cmd_pub.c - "zerocp pub": publish samples on a topic.
 *
 * For trying a topic from the shell and for tests: attaches to the
 * manager as a process, opens a publisher (default policy, drop oldest:
 * a slow subscriber never stalls it; --block: it waits for room, so
 * nothing is lost), publishes --count samples at --rate
 * on an absolute schedule (clock_nanosleep TIMER_ABSTIME, so the rate
 * does not drift with the time a publish takes), then closes and
 * detaches, also on SIGINT, SIGTERM and SIGHUP.
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
		"Usage: %s pub TOPIC [--name N | --socket PATH] [--owner UID]\n"
		"                  [--text STR | --file F | --size N] [--count N] [--rate HZ]\n"
		"                  [--capacity N] [--history N] [--block] [--quiet]\n"
		"\n"
		"Publish samples on TOPIC (made if it does not exist, untyped).\n"
		"  --text STR     each sample is STR with its terminating NUL\n"
		"  --file F       each sample is the contents of file F (must fit the\n"
		"                 largest pool's chunks)\n"
		"  --size N       each sample is N bytes (K, M, G suffixes) of a counter\n"
		"                 pattern: byte k of sample s is (s + k) mod 256\n"
		"                 (the default, with N = 64)\n"
		"  --count N      samples to publish (default 1); 0: until SIGINT/SIGTERM\n"
		"  --rate HZ      samples per second (1e-6 to 1e9); 0: as fast as possible.\n"
		"                 Default: 1 with --count 0, else as fast as possible\n"
		"  --capacity N, --history N\n"
		"                 the topic's queue and kept samples per publisher, when\n"
		"                 this command makes the topic (default 16 and 0)\n"
		"  --block        wait for a full subscriber queue to have room instead\n"
		"                 of dropping its oldest sample (ZCP_OVERFLOW_BLOCK): no\n"
		"                 subscriber loses a sample; SIGINT/SIGTERM still stop it\n"
		"  --quiet        print nothing on success\n"
		"Prints the publisher id, then how many samples were published.  Exit 0\n"
		"(also when stopped by a signal), 1 on a failure, 2 on a usage error.\n",
		zcp_tool_progname);
}

/* What each sample holds. */
struct payload {
	const unsigned char *bytes; /* NULL: the counter pattern */
	uint64_t size;
};

/* Read a whole file, refusing one larger than `max` bytes with a message
 * saying both sizes.  Returns the bytes (malloc'd) or NULL after a
 * diagnostic. */
static unsigned char *read_file(const char *path, uint64_t max, uint64_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	size_t cap = 4096, n = 0;

	if (f == NULL) {
		zcp_tool_err("pub", "cannot open %s: %s", zcp_tool_q(path), strerror(errno));
		return NULL;
	}
	buf = malloc(cap);
	while (buf != NULL) {
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap || (uint64_t)n > max)
			break;
		unsigned char *b = realloc(buf, cap * 2);
		if (b == NULL)
			free(buf);
		buf = b;
		cap *= 2;
	}
	if (buf == NULL) {
		zcp_tool_err("pub", "reading %s: out of memory", zcp_tool_q(path));
	} else if (ferror(f)) {
		/* A stop signal while reading (a pipe, a FIFO): not a failure;
		 * the caller exits 0, as when stopped later. */
		if (!zcp_topic_stop)
			zcp_tool_err("pub", "reading %s: %s", zcp_tool_q(path), strerror(errno));
		free(buf);
		buf = NULL;
	} else if ((uint64_t)n > max) {
		zcp_tool_err("pub", "file %s is larger than the largest pool's chunks (%llu bytes)",
			     zcp_tool_q(path), (unsigned long long)max);
		free(buf);
		buf = NULL;
	} else if (n == 0) {
		zcp_tool_err("pub", "file %s is empty: a sample has at least one byte",
			     zcp_tool_q(path));
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*size = n;
	return buf;
}

/* Loan, fill and publish sample number seq.  Returns 0 or a library code
 * after a diagnostic. */
static int publish_one(zcp_mempool_manager *m, zcp_publisher *pub, const struct payload *p,
		       uint64_t seq)
{
	zcp_chunk *c = zcp_publisher_loan(pub, p->size);
	unsigned char *d;
	int err;

	if (c == NULL) {
		err = -errno;
		zcp_tool_err("pub", "cannot loan a chunk of %llu bytes: %s (%s)",
			     (unsigned long long)p->size, zcp_strerror(err), zcp_err_name(err));
		return err;
	}
	d = zcp_sample_data(c);
	if (p->bytes != NULL)
		memcpy(d, p->bytes, (size_t)p->size);
	else
		for (uint64_t k = 0; k < p->size; k++)
			d[k] = (unsigned char)(seq + k);
	/* --block: publish waits in 100 ms slices, so a stop signal that
	 * lands between two of them ends it in time. */
	while ((err = zcp_publisher_publish(pub, c)) == ZCP_ETIMEDOUT || err == ZCP_EINTR)
		if (zcp_topic_stop)
			break;
	if (err != 0 && zcp_topic_stop) {
		zcp_chunk_release(m, c); /* stopped while it waited: not an error */
		return ZCP_EINTR;
	}
	if (err != 0) {
		zcp_chunk_release(m, c); /* on error the chunk stays ours */
		zcp_tool_err("pub", "cannot publish: %s (%s)", zcp_strerror(err),
			     zcp_err_name(err));
	}
	return err;
}

/* Entry point of "zerocp pub". */
int zcp_tool_pub(int argc, char **argv)
{
	struct zcp_tool_target t = {NULL, NULL, ZCP_OWNER_SELF, 0, 0};
	const char *topic = NULL, *text = NULL, *file = NULL;
	uint64_t size = 0, sent = 0, largest;
	unsigned long count = 1;
	double rate = -1;
	int quiet = 0, err, status = ZCP_TOOL_OK;
	zcp_topic_options o;
	struct payload p = {NULL, 64};
	unsigned char *filebuf = NULL;
	zcp_mempool_manager *m;
	zcp_publisher *pub;
	struct timespec next;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	zcp_topic_options_init(&o);
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if ((r = zcp_topic_target_opt("pub", argc, argv, &i, &t)) != 0 ||
		    (r = zcp_topic_queue_opt("pub", argc, argv, &i, &o)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt("pub", argc, argv, &i, "--text", &v)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
			text = v;
		} else if ((r = zcp_tool_opt("pub", argc, argv, &i, "--file", &v)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
			file = v;
		} else if ((r = zcp_tool_opt("pub", argc, argv, &i, "--size", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_size(v, &size) != 0) {
				if (r > 0)
					zcp_tool_err("pub", "bad --size %s: a byte count (K, M, G)",
						     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
		} else if ((r = zcp_tool_opt("pub", argc, argv, &i, "--count", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_uint(v, 0, (unsigned long)-1, &count) != 0) {
				if (r > 0)
					zcp_tool_err("pub", "bad --count %s: a count, 0 for no end",
						     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
		} else if ((r = zcp_tool_opt("pub", argc, argv, &i, "--rate", &v)) != 0) {
			/* Below 1e-6 (one sample in 11.6 days) the period in
			 * ns would not fit the schedule's arithmetic. */
			if (r < 0 || zcp_topic_parse_double(v, 0, 1e9, &rate) != 0 ||
			    (rate > 0 && rate < 1e-6)) {
				if (r > 0)
					zcp_tool_err("pub",
						     "bad --rate %s: samples per second, 0 (as fast as "
						     "possible) or 1e-6 to 1e9",
						     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
		} else if (strcmp(argv[i], "--quiet") == 0) {
			quiet = 1;
		} else if (strcmp(argv[i], "--block") == 0) {
			o.overflow = ZCP_OVERFLOW_BLOCK;
			o.block_timeout_ns = 100000000;
		} else if (argv[i][0] == '-' || topic != NULL) {
			zcp_tool_err("pub", "unknown %s %s", argv[i][0] == '-' ? "option" : "argument",
				     zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		} else {
			topic = argv[i];
		}
	}
	if (topic == NULL) {
		zcp_tool_err("pub", "which topic? (TOPIC is missing)");
		usage(stderr);
		return ZCP_TOOL_USAGE;
	}
	if ((text != NULL) + (file != NULL) + (size != 0) > 1) {
		zcp_tool_err("pub", "--text, --file and --size exclude each other");
		return ZCP_TOOL_USAGE;
	}
	if (zcp_topic_target_check("pub", &t) != 0)
		return ZCP_TOOL_USAGE;
	if (rate < 0)
		rate = count == 0 ? 1.0 : 0.0;
	if (zcp_topic_signals() != 0) {
		zcp_tool_err("pub", "cannot install signal handlers: %s", strerror(errno));
		return ZCP_TOOL_FAIL;
	}

	err = zcp_tool_attach("pub", &t, &m, NULL);
	if (err != 0) {
		zcp_tool_attach_error("pub", &t, err);
		return ZCP_TOOL_FAIL;
	}
	largest = zcp_topic_largest_chunk(m);
	if (text != NULL) {
		p.bytes = (const unsigned char *)text;
		p.size = strlen(text) + 1;
	} else if (file != NULL) {
		filebuf = read_file(file, largest, &p.size);
		if (filebuf == NULL) {
			zcp_mempool_manager_detach(m);
			return zcp_topic_stop ? ZCP_TOOL_OK : ZCP_TOOL_FAIL;
		}
		p.bytes = filebuf;
	} else if (size != 0) {
		p.size = size;
	}
	if (p.size > largest) {
		/* Said here, not as E2BIG from the first loan: with the
		 * limit in the message. */
		zcp_tool_err("pub", "a sample of %llu bytes does not fit: the largest pool's "
				    "chunks hold %llu bytes",
			     (unsigned long long)p.size, (unsigned long long)largest);
		zcp_mempool_manager_detach(m);
		return ZCP_TOOL_FAIL;
	}

	err = zcp_publisher_create(m, topic, &o, &pub);
	if (err != 0) {
		zcp_topic_info info;
		zcp_tool_err("pub", "cannot open a publisher on topic %s: %s (%s)",
			     zcp_tool_q(topic), zcp_strerror(err), zcp_err_name(err));
		if (err == ZCP_EINVAL)
			zcp_tool_err("pub", "a topic name is 1 to %d characters of [A-Za-z0-9._-], not starting "
				  "with '.'; "
					    "--capacity and --history at most the manager's queue size",
				     ZCP_TOPIC_NAME_MAX);
		else if (err == ZCP_ETYPE && zcp_topic_find(m, topic, &info) >= 0)
			zcp_tool_err("pub", "the topic's type is %s (%llu bytes); pub publishes "
					    "untyped samples only",
				     zcp_tool_q(info.type_name), (unsigned long long)info.type_size);
		free(filebuf);
		zcp_mempool_manager_detach(m);
		return ZCP_TOOL_FAIL;
	}
	if (!quiet) {
		printf("publisher 0x%llx on topic %s: %llu-byte samples\n",
		       (unsigned long long)zcp_publisher_id(pub), zcp_tool_q(topic),
		       (unsigned long long)p.size);
		fflush(stdout);
	}

	zcp_topic_now(&next);
	while ((count == 0 || sent < count) && !zcp_topic_stop) {
		if ((err = publish_one(m, pub, &p, sent)) != 0) {
			if (err != ZCP_EINTR)
				status = ZCP_TOOL_FAIL;
			break;
		}
		sent++;
		if (rate > 0 && (count == 0 || sent < count)) {
			struct timespec now;
			zcp_topic_ts_add(&next, (uint64_t)(1e9 / rate));
			zcp_topic_now(&now);
			/* Far behind (stopped, overloaded): start the schedule
			 * afresh rather than publish a burst to catch up. */
			if (zcp_topic_ts_diff(&now, &next) > (int64_t)(1e9 / rate))
				next = now;
			zcp_topic_sleep_until(&next);
		}
	}

	err = zcp_publisher_close(pub);
	if (err != 0)
		zcp_tool_err("pub", "closing the publisher: %s", zcp_strerror(err));
	zcp_mempool_manager_detach(m);
	free(filebuf);
	if (!quiet)
		printf("published %llu sample%s\n", (unsigned long long)sent, sent == 1 ? "" : "s");
	if (fflush(stdout) != 0 && status == ZCP_TOOL_OK)
		status = ZCP_TOOL_FAIL;
	return status;
}
