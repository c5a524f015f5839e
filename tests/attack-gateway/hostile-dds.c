// SPDX-License-Identifier: MIT
// tests/attack-gateway/hostile-dds.c - a hostile DDS participant for the
// zerocp-gateway attacks, written from gateway.idl and Cyclone's API only.
//
//   hostile-dds write DDSTOPIC [--size N] [--count N] [--origin ID]
//               [--publisher ID] [--seq S] [--seq-step D] [--stamp T]
//               [--best-effort] [--match SEC] [--linger SEC] [--rate HZ]
//               [--sizes a,b,c]  (cycles through sizes)
//       write samples; the payload is the counter pattern of zerocp pub
//       (byte k of sample s is (s + k) mod 256).  Exit 0 when all written.
//   hostile-dds many PREFIX N [--linger SEC]
//       N topics PREFIX0..PREFIX{N-1} with one writer each, one sample each.
//   hostile-dds sniff DDSTOPIC [--seconds S]
//       print "origin=0x... publisher=... seq=... size=..." of each sample.
//   hostile-dds names [--linger SEC]
//       writers on a set of malformed/odd topic names under zerocp/.
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dds/dds.h"
#include "gateway.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *opt(int argc, char **argv, const char *name, const char *def)
{
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return def;
}
static int flag(int argc, char **argv, const char *name)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

static dds_entity_t make_writer(dds_entity_t pp, const char *topic, int best_effort)
{
	dds_entity_t tp = dds_create_topic(pp, &zerocp_gw_Sample_desc, topic, NULL, NULL);
	if (tp < 0) {
		fprintf(stderr, "hostile-dds: topic %s: %s\n", topic, dds_strretcode(tp));
		return tp;
	}
	dds_qos_t *q = dds_create_qos();
	if (best_effort)
		dds_qset_reliability(q, DDS_RELIABILITY_BEST_EFFORT, 0);
	else
		dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_SECS(30));
	dds_qset_history(q, DDS_HISTORY_KEEP_ALL, 0);
	dds_qset_resource_limits(q, 100000, DDS_LENGTH_UNLIMITED, DDS_LENGTH_UNLIMITED);
	dds_entity_t wr = dds_create_writer(pp, tp, q, NULL);
	dds_delete_qos(q);
	if (wr < 0)
		fprintf(stderr, "hostile-dds: writer %s: %s\n", topic, dds_strretcode(wr));
	return wr;
}

static int wait_match(dds_entity_t wr, double secs)
{
	double end = now() + secs;
	while (now() < end) {
		dds_publication_matched_status_t st;
		if (dds_get_publication_matched_status(wr, &st) == 0 && st.current_count > 0)
			return 1;
		dds_sleepfor(DDS_MSECS(20));
	}
	return 0;
}

static int do_write(int argc, char **argv)
{
	const char *topic = argv[2];
	unsigned long long size = strtoull(opt(argc, argv, "--size", "64"), NULL, 0);
	const char *sizes = opt(argc, argv, "--sizes", NULL);
	long count = strtol(opt(argc, argv, "--count", "1"), NULL, 0);
	uint64_t origin = strtoull(opt(argc, argv, "--origin", "0x4841434b4841434b"), NULL, 0);
	uint64_t publisher = strtoull(opt(argc, argv, "--publisher", "0x1234"), NULL, 0);
	uint64_t seq = strtoull(opt(argc, argv, "--seq", "0"), NULL, 0);
	uint64_t seq_step = strtoull(opt(argc, argv, "--seq-step", "1"), NULL, 0);
	uint64_t stamp = strtoull(opt(argc, argv, "--stamp", "0"), NULL, 0);
	double match = atof(opt(argc, argv, "--match", "20"));
	double linger = atof(opt(argc, argv, "--linger", "1"));
	double rate = atof(opt(argc, argv, "--rate", "0"));
	int be = flag(argc, argv, "--best-effort");
	unsigned long long sz[64];
	int nsz = 0;
	if (sizes) {
		char *s = strdup(sizes), *save = NULL;
		for (char *t = strtok_r(s, ",", &save); t && nsz < 64; t = strtok_r(NULL, ",", &save))
			sz[nsz++] = strtoull(t, NULL, 0);
		free(s);
	} else {
		sz[nsz++] = size;
	}
	unsigned long long maxsz = 0;
	for (int i = 0; i < nsz; i++)
		if (sz[i] > maxsz)
			maxsz = sz[i];

	dds_entity_t pp = dds_create_participant(DDS_DOMAIN_DEFAULT, NULL, NULL);
	if (pp < 0) {
		fprintf(stderr, "hostile-dds: participant: %s\n", dds_strretcode(pp));
		return 1;
	}
	dds_entity_t wr = make_writer(pp, topic, be);
	if (wr < 0)
		return 1;
	if (!wait_match(wr, match)) {
		fprintf(stderr, "hostile-dds: no reader matched %s in %.0f s\n", topic, match);
		dds_delete(pp);
		return 3;
	}
	dds_sleepfor(DDS_MSECS(300));
	uint8_t *buf = malloc(maxsz ? maxsz : 1);
	long written = 0, failed = 0;
	double t0 = now();
	for (long s = 0; count == 0 || s < count; s++) {
		unsigned long long n = sz[s % nsz];
		for (unsigned long long k = 0; k < n; k++)
			buf[k] = (uint8_t)((s + k) & 0xff);
		zerocp_gw_Sample m;
		memset(&m, 0, sizeof m);
		m.origin_gateway = origin;
		m.publisher = publisher;
		m.seq = seq + (uint64_t)s * seq_step;
		m.stamp_ns = stamp ? stamp : (uint64_t)time(NULL) * 1000000000ull;
		m.payload._length = m.payload._maximum = (uint32_t)n;
		m.payload._buffer = n ? buf : NULL;
		m.payload._release = false;
		dds_return_t r = dds_write(wr, &m);
		if (r < 0) {
			failed++;
			if (failed < 5)
				fprintf(stderr, "hostile-dds: write %ld (%llu bytes): %s\n", s, n,
					dds_strretcode(r));
		} else {
			written++;
		}
		if (rate > 0) {
			double due = t0 + (s + 1) / rate;
			double d = due - now();
			if (d > 0)
				dds_sleepfor((dds_duration_t)(d * 1e9));
		}
	}
	double el = now() - t0;
	/* wait for acks of a reliable writer */
	dds_wait_for_acks(wr, DDS_SECS(10));
	printf("written %ld failed %ld in %.3f s\n", written, failed, el);
	fflush(stdout);
	dds_sleepfor((dds_duration_t)(linger * 1e9));
	free(buf);
	dds_delete(pp);
	return failed ? 2 : 0;
}

static int do_many(int argc, char **argv)
{
	const char *prefix = argv[2];
	int n = atoi(argv[3]);
	double linger = atof(opt(argc, argv, "--linger", "5"));
	dds_entity_t pp = dds_create_participant(DDS_DOMAIN_DEFAULT, NULL, NULL);
	if (pp < 0)
		return 1;
	int made = 0;
	for (int i = 0; i < n; i++) {
		char name[256];
		snprintf(name, sizeof name, "%s%d", prefix, i);
		dds_entity_t wr = make_writer(pp, name, 0);
		if (wr < 0)
			continue;
		made++;
		zerocp_gw_Sample m;
		uint8_t b[8] = "many!!!";
		memset(&m, 0, sizeof m);
		m.origin_gateway = 0x6d616e79;
		m.payload._length = m.payload._maximum = 8;
		m.payload._buffer = b;
		dds_write(wr, &m);
	}
	printf("made %d writers\n", made);
	fflush(stdout);
	dds_sleepfor((dds_duration_t)(linger * 1e9));
	dds_delete(pp);
	return 0;
}

static int do_sniff(int argc, char **argv)
{
	double secs = atof(opt(argc, argv, "--seconds", "5"));
	dds_entity_t pp = dds_create_participant(DDS_DOMAIN_DEFAULT, NULL, NULL);
	if (pp < 0)
		return 1;
	dds_entity_t tp = dds_create_topic(pp, &zerocp_gw_Sample_desc, argv[2], NULL, NULL);
	dds_qos_t *q = dds_create_qos();
	dds_qset_reliability(q, DDS_RELIABILITY_BEST_EFFORT, 0);
	dds_entity_t rd = dds_create_reader(pp, tp, q, NULL);
	dds_delete_qos(q);
	double end = now() + secs;
	while (now() < end) {
		void *ptrs[16] = {0};
		dds_sample_info_t info[16];
		int n = dds_take(rd, ptrs, info, 16, 16);
		for (int i = 0; i < n; i++) {
			if (!info[i].valid_data)
				continue;
			zerocp_gw_Sample *m = ptrs[i];
			printf("origin=0x%016" PRIx64 " publisher=0x%" PRIx64 " seq=%" PRIu64 " size=%u\n",
			       m->origin_gateway, m->publisher, m->seq, m->payload._length);
			fflush(stdout);
		}
		if (n > 0)
			dds_return_loan(rd, ptrs, n);
		dds_sleepfor(DDS_MSECS(10));
	}
	dds_delete(pp);
	return 0;
}

static int do_names(int argc, char **argv)
{
	double linger = atof(opt(argc, argv, "--linger", "5"));
	static const char *names[] = {
		"zerocp/",              /* empty zerocp name */
		"zerocp/_",             /* truncated escape */
		"zerocp/_4",            /* truncated escape */
		"zerocp/_ZZ",           /* not hex */
		"zerocp/_00nul",        /* NUL byte */
		"zerocp/a_2Fb",         /* '/' in the name */
		"zerocp/_2F_2F",        /* only '/' */
		"zerocp/_FF_FE_0A_0D",  /* high bytes, newline */
		"zerocp/_25s_25s_25n",  /* printf format */
		"zerocp/x_2e_2elower",  /* lower-case hex */
		"zerocp/zerocp_2Egateways", /* the never-bridged registration topic */
		"zerocp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 190 chars */
		"zerocp/_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41_41", /* 64 'A's encoded */
		"zerocp/_2E",           /* "." leading dot */
		"zerocp/_2D_2D",        /* "--" */
		"zerocp//",
		"zerocp/nam_",          /* escape at end */
	};
	dds_entity_t pp = dds_create_participant(DDS_DOMAIN_DEFAULT, NULL, NULL);
	if (pp < 0)
		return 1;
	int made = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		dds_entity_t wr = make_writer(pp, names[i], 0);
		if (wr < 0)
			continue;
		made++;
		zerocp_gw_Sample m;
		uint8_t b[8] = "names!!";
		memset(&m, 0, sizeof m);
		m.origin_gateway = 0x6e616d6573;
		m.payload._length = m.payload._maximum = 8;
		m.payload._buffer = b;
		dds_write(wr, &m);
	}
	printf("made %d writers\n", made);
	fflush(stdout);
	dds_sleepfor((dds_duration_t)(linger * 1e9));
	dds_delete(pp);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "write") == 0)
		return do_write(argc, argv);
	if (argc >= 4 && strcmp(argv[1], "many") == 0)
		return do_many(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "sniff") == 0)
		return do_sniff(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "names") == 0)
		return do_names(argc, argv);
	fprintf(stderr, "usage: hostile-dds write|many|sniff|names ...\n");
	return 2;
}
