/* SPDX-License-Identifier: MIT */
/* tools/cmd_echo.c - "zerocp echo": print the samples of a topic.
 *
 * Opens a subscriber (with the topic's own type when it exists, so any
 * topic can be read) and prints each sample as it comes: a summary line,
 * the text, a hex dump or a JSON object.  Payload bytes never reach the
 * terminal raw: control characters are escaped (a sample could hold
 * terminal escape sequences).  Lost samples are reported on stderr at the
 * end.
 */
#include "topic_tool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s echo TOPIC [--name N | --socket PATH] [--owner UID]\n"
		"                   [--text | --hex] [--json] [--count N] [--timeout SECONDS]\n"
		"                   [--capacity N] [--history N]\n"
		"\n"
		"Subscribe to TOPIC and print each sample.  By default one line a sample:\n"
		"  #SEQUENCE from ORIGIN at SECONDS.NANOSECONDS: SIZE bytes: FIRST BYTES\n"
		"  --text     the payload as text, up to its first NUL, one line a sample\n"
		"             (control characters other than tab and newline, C1 ones\n"
		"             included, and bytes that are not UTF-8 as \\xNN; \\ as \\\\)\n"
		"  --hex      the summary line, then a hex dump of the whole payload\n"
		"  --json     one JSON object a line: topic, origin, sequence, timestamp_ns,\n"
		"             size, encoding and data (hex; with --text the text, non-ASCII\n"
		"             bytes as \\u00NN)\n"
		"  --count N  exit after N samples (default 0: until SIGINT/SIGTERM)\n"
		"  --timeout SECONDS\n"
		"             exit after that long; exit 1 if --count samples did not come\n"
		"  --capacity N, --history N\n"
		"             the topic's options when this command makes the topic\n"
		"A subscriber sees the samples published after it, plus each publisher's\n"
		"last --history ones (the topic's).  Samples received and lost go to\n"
		"stderr at the end.  Exit 0 (also when stopped by a signal), 1 on a\n"
		"failure, 2 on a usage error.\n",
		zcp_tool_progname);
}

enum format { SUMMARY, TEXT, HEX };

/* Print payload bytes as text: up to the first NUL, ending with one
 * newline (the text's own, if it has one: a file's lines stay as they
 * were).  Printable ASCII, tab, newline and UTF-8 characters as they
 * are; as \xNN every other byte: control characters (C0, DEL, C1 in
 * either form: the publisher must not drive the reader's terminal) and
 * bytes that are not UTF-8.  A backslash is \\, so that \xNN always
 * means an escaped byte. */
static void put_text(const unsigned char *d, uint64_t n)
{
	unsigned char last = 0;
	uint64_t end = 0;
	while (end < n && d[end] != 0)
		end++;
	for (uint64_t k = 0; k < end;) {
		unsigned long cp;
		unsigned len = zcp_tool_utf8(d + k, (size_t)(end - k), &cp);
		if (len == 0 || (cp < 0x20 && cp != '\n' && cp != '\t') ||
		    (cp >= 0x7f && cp < 0xa0)) {
			len = len ? len : 1;
			for (unsigned b = 0; b < len; b++)
				printf("\\x%02x", d[k + b]);
		} else if (cp == '\\') {
			fputs("\\\\", stdout);
		} else {
			fwrite(d + k, 1, len, stdout);
		}
		k += len;
		last = d[k - 1];
	}
	if (last != '\n')
		putchar('\n');
}

/* The first bytes, in hex and as printable ASCII. */
static void put_first_bytes(const unsigned char *d, uint64_t n)
{
	uint64_t k, lim = n < 16 ? n : 16;

	for (k = 0; k < lim; k++)
		printf("%s%02x", k ? " " : "", d[k]);
	printf("%s |", n > lim ? " ..." : "");
	for (k = 0; k < lim; k++)
		putchar(d[k] >= 0x20 && d[k] < 0x7f ? d[k] : '.');
	putchar('|');
}

static void put_hex_dump(const unsigned char *d, uint64_t n)
{
	for (uint64_t at = 0; at < n; at += 16) {
		uint64_t k;
		printf("  %08llx ", (unsigned long long)at);
		for (k = at; k < at + 16; k++)
			if (k < n)
				printf(" %02x", d[k]);
			else
				printf("   ");
		printf("  |");
		for (k = at; k < at + 16 && k < n; k++)
			putchar(d[k] >= 0x20 && d[k] < 0x7f ? d[k] : '.');
		printf("|\n");
	}
}

/* A JSON string of the text up to the first NUL; any byte that is not
 * printable ASCII as \u00NN, so that the line is valid JSON (UTF-8 or
 * not). */
static void put_json_text(const unsigned char *d, uint64_t n)
{
	putchar('"');
	for (uint64_t k = 0; k < n && d[k] != 0; k++) {
		unsigned char c = d[k];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			printf("\\n");
		else if (c == '\t')
			printf("\\t");
		else if (c >= 0x20 && c < 0x7f)
			putchar(c);
		else
			printf("\\u%04x", c);
	}
	putchar('"');
}

static void print_sample(const char *topic, const zcp_chunk *c, uint64_t type_size,
			 enum format fmt, int json)
{
	const unsigned char *d = zcp_sample_data(c);
	uint64_t n = zcp_topic_sample_size(c, type_size);
	zcp_sample_info si;
	int known = zcp_chunk_sample_info(c, &si) == 0;

	if (json) {
		printf("{\"topic\":");
		zcp_tool_json_string(topic);
		if (known)
			printf(",\"origin\":%llu,\"sequence\":%llu,\"timestamp_ns\":%llu",
			       (unsigned long long)si.origin, (unsigned long long)si.sequence,
			       (unsigned long long)si.timestamp_ns);
		else /* its description was overwritten: say so, not 0 */
			printf(",\"origin\":null,\"sequence\":null,\"timestamp_ns\":null");
		printf(",\"size\":%llu,\"encoding\":\"%s\",\"data\":", (unsigned long long)n,
		       fmt == TEXT ? "text" : "hex");
		if (fmt == TEXT) {
			put_json_text(d, n);
		} else {
			putchar('"');
			for (uint64_t k = 0; k < n; k++)
				printf("%02x", d[k]);
			putchar('"');
		}
		printf("}\n");
		return;
	}
	if (fmt == TEXT) {
		put_text(d, n);
		return;
	}
	if (known)
		printf("#%llu from 0x%llx at %llu.%09llu: ", (unsigned long long)si.sequence,
		       (unsigned long long)si.origin,
		       (unsigned long long)(si.timestamp_ns / 1000000000u),
		       (unsigned long long)(si.timestamp_ns % 1000000000u));
	else
		printf("#? from ? at ?: ");
	printf("%llu bytes: ", (unsigned long long)n);
	put_first_bytes(d, n);
	putchar('\n');
	if (fmt == HEX)
		put_hex_dump(d, n);
}

/* Entry point of "zerocp echo". */
int zcp_tool_echo(int argc, char **argv)
{
	struct zcp_tool_target t = {NULL, NULL, ZCP_OWNER_SELF, 0, 0};
	const char *topic = NULL;
	unsigned long count = 0;
	double timeout = 0;
	int json = 0, err, status = ZCP_TOOL_OK, timed_out = 0;
	enum format fmt = SUMMARY;
	uint64_t got = 0, type_size, lost;
	zcp_topic_options o;
	zcp_mempool_manager *m;
	zcp_subscriber *sub;
	struct timespec deadline;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	zcp_topic_options_init(&o);
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if ((r = zcp_topic_target_opt("echo", argc, argv, &i, &t)) != 0 ||
		    (r = zcp_topic_queue_opt("echo", argc, argv, &i, &o)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt("echo", argc, argv, &i, "--count", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_uint(v, 0, (unsigned long)-1, &count) != 0) {
				if (r > 0)
					zcp_tool_err("echo", "bad --count %s: a count, 0 for no end",
						     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
		} else if ((r = zcp_tool_opt("echo", argc, argv, &i, "--timeout", &v)) != 0) {
			if (r < 0 || zcp_topic_parse_double(v, 0.001, 1e7, &timeout) != 0) {
				if (r > 0)
					zcp_tool_err("echo", "bad --timeout %s: seconds, 0.001 to 1e7",
						     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
		} else if (strcmp(argv[i], "--text") == 0 || strcmp(argv[i], "--hex") == 0) {
			enum format f = argv[i][2] == 't' ? TEXT : HEX;
			if (fmt != SUMMARY && fmt != f) {
				zcp_tool_err("echo", "--text and --hex exclude each other");
				return ZCP_TOOL_USAGE;
			}
			fmt = f;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (argv[i][0] == '-' || topic != NULL) {
			zcp_tool_err("echo", "unknown %s %s",
				     argv[i][0] == '-' ? "option" : "argument", zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		} else {
			topic = argv[i];
		}
	}
	if (topic == NULL) {
		zcp_tool_err("echo", "which topic? (TOPIC is missing)");
		usage(stderr);
		return ZCP_TOOL_USAGE;
	}
	if (zcp_topic_target_check("echo", &t) != 0)
		return ZCP_TOOL_USAGE;
	if (zcp_topic_signals() != 0) {
		zcp_tool_err("echo", "cannot install signal handlers: %s", strerror(errno));
		return ZCP_TOOL_FAIL;
	}
	err = zcp_tool_attach("echo", &t, &m, NULL);
	if (err != 0) {
		zcp_tool_attach_error("echo", &t, err);
		return ZCP_TOOL_FAIL;
	}
	if (zcp_topic_subscribe("echo", m, topic, &o, &sub, &type_size) != 0) {
		zcp_mempool_manager_detach(m);
		return ZCP_TOOL_FAIL;
	}
	if (timeout > 0) {
		zcp_topic_now(&deadline);
		zcp_topic_ts_add(&deadline, (uint64_t)(timeout * 1e9));
	}

	while (count == 0 || got < count) {
		zcp_chunk *c;
		err = wait_for_sample(sub, timeout > 0 ? &deadline : NULL, &c);
		if (err == ZCP_TOPIC_WAIT_STOPPED)
			break;
		if (err == ZCP_TOPIC_WAIT_TIMEOUT) {
			timed_out = 1;
			break;
		}
		if (err != 0) {
			zcp_tool_err("echo", "taking a sample: %s (%s)", zcp_strerror(err),
				     zcp_err_name(err));
			status = ZCP_TOOL_FAIL;
			break;
		}
		print_sample(topic, c, type_size, fmt, json);
		zcp_chunk_release(m, c);
		got++;
		/* Per sample, so that a pipe reader sees each at once, and a
		 * closed pipe (EPIPE: SIGPIPE is ignored) ends us. */
		if (fflush(stdout) != 0) {
			if (errno != EPIPE) {
				zcp_tool_err("echo", "writing: %s", strerror(errno));
				status = ZCP_TOOL_FAIL;
			}
			break;
		}
	}

	lost = zcp_subscriber_lost(sub);
	err = zcp_subscriber_close(sub);
	if (err != 0)
		zcp_tool_err("echo", "closing the subscriber: %s", zcp_strerror(err));
	zcp_mempool_manager_detach(m);
	fprintf(stderr, "%s: echo: %llu sample%s received, %llu lost\n", zcp_tool_progname,
		(unsigned long long)got, got == 1 ? "" : "s", (unsigned long long)lost);
	if (timed_out && count != 0) {
		zcp_tool_err("echo", "timed out after %g s with %llu of %lu samples", timeout,
			     (unsigned long long)got, count);
		status = ZCP_TOOL_FAIL;
	}
	return status;
}
