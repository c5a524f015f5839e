/* SPDX-License-Identifier: MIT */
/* tests/attack-cli-peer.c - the hostile peer of tests/attack-cli.sh (an
 * outside tester's).
 * Usage:
 *   peer topic MGR TOPIC TYPENAME HOLD_S     publisher (typed) publishes 1 sample, holds
 *   peer trytopic MGR TOPIC                   print the result of creating a publisher
 *   peer pubtext MGR TOPIC HEXPAYLOAD N HOLD  publish N samples of given bytes (hex), then hold
 *   peer sub MGR TOPIC HOLD_S                 subscriber that never takes, holds
 *   peer publoop MGR TOPIC HOLD_S             publish forever (1 kHz) for HOLD_S
 *   peer create MGR HOLD_S                    create a manager itself, hold, destroy
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zerocp/zerocp.h>

static void nap(double s) {
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
}

static size_t unhex(const char *h, unsigned char *out, size_t max) {
	size_t n = 0;
	while (h[0] && h[1] && n < max) { unsigned v; sscanf(h, "%2x", &v); out[n++] = (unsigned char)v; h += 2; }
	return n;
}

int main(int argc, char **argv) {
	if (argc < 3) return 2;
	const char *mode = argv[1], *name = argv[2];
	zcp_mempool_manager *mgr;
	int err;
	if (!strcmp(mode, "create")) {
		zcp_mempool_config *cfg = zcp_mempool_config_new();
		zcp_mempool_config_add_entry(cfg, 256, 64);
		err = zcp_mempool_manager_create(name, cfg, &mgr);
		zcp_mempool_config_free(cfg);
		if (err) { fprintf(stderr, "create: %s\n", zcp_strerror(err)); return 1; }
		printf("ready\n"); fflush(stdout);
		nap(atof(argv[3]));
		zcp_mempool_manager_destroy(mgr);
		return 0;
	}
	err = zcp_mempool_manager_attach(name, &mgr);
	if (err) { fprintf(stderr, "attach: %s\n", zcp_strerror(err)); return 1; }
	if (!strcmp(mode, "trytopic") || !strcmp(mode, "topic")) {
		char tname[256];
		size_t n = unhex(argv[3], (unsigned char *)tname, sizeof tname - 1);
		tname[n] = 0;
		zcp_topic_options o; zcp_topic_options_init(&o);
		char ty[256] = "";
		if (argc > 4) { size_t m = unhex(argv[4], (unsigned char *)ty, sizeof ty - 1); ty[m] = 0; o.type_name = ty; }
		zcp_publisher *p;
		err = zcp_publisher_create(mgr, tname, &o, &p);
		printf("%s\n", err ? zcp_err_name(err) : "OK"); fflush(stdout);
		if (err) return 1;
		if (!strcmp(mode, "topic")) {
			zcp_chunk *c = zcp_publisher_loan(p, 16);
			if (c) { memcpy(zcp_sample_data(c), "hello\033[31m\"\\\n", 13); zcp_publisher_publish(p, c); }
			nap(argc > 5 ? atof(argv[5]) : 5);
		}
		zcp_publisher_close(p);
		zcp_mempool_manager_detach(mgr);
		return 0;
	}
	if (!strcmp(mode, "pubtext")) {
		unsigned char buf[4096];
		size_t n = unhex(argv[4], buf, sizeof buf);
		int count = atoi(argv[5]);
		zcp_publisher *p;
		if ((err = zcp_publisher_create(mgr, argv[3], NULL, &p))) { fprintf(stderr, "pub: %s\n", zcp_strerror(err)); return 1; }
		printf("ready\n"); fflush(stdout);
		nap(0.3);
		for (int i = 0; i < count; i++) {
			zcp_chunk *c = zcp_publisher_loan(p, n ? n : 1);
			if (!c) return 1;
			memcpy(zcp_sample_data(c), buf, n);
			zcp_publisher_publish(p, c);
		}
		nap(atof(argv[6]));
		zcp_publisher_close(p);
		zcp_mempool_manager_detach(mgr);
		return 0;
	}
	if (!strcmp(mode, "sub")) {
		zcp_subscriber *s;
		if ((err = zcp_subscriber_create(mgr, argv[3], NULL, &s))) { fprintf(stderr, "sub: %s\n", zcp_strerror(err)); return 1; }
		printf("ready\n"); fflush(stdout);
		nap(atof(argv[4]));
		return 0;
	}
	if (!strcmp(mode, "publoop")) {
		zcp_publisher *p;
		if ((err = zcp_publisher_create(mgr, argv[3], NULL, &p))) { fprintf(stderr, "pub: %s\n", zcp_strerror(err)); return 1; }
		printf("ready\n"); fflush(stdout);
		double end = atof(argv[4]) * 1000;
		for (int i = 0; i < end; i++) {
			zcp_chunk *c = zcp_publisher_loan(p, 32);
			if (c) { snprintf(zcp_sample_data(c), 32, "n%d", i); zcp_publisher_publish(p, c); }
			nap(0.001);
		}
		return 0;
	}
	return 2;
}
