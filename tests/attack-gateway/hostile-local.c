// SPDX-License-Identifier: MIT
// tests/attack-gateway/hostile-local.c - local hostile zerocp clients.
//   hostile-local stuck NAME TOPIC SECONDS   a subscriber (capacity 1)
//       that never takes; prints "stuck" once subscribed.
//   hostile-local reg NAME SIZE COUNT [BYTE]   publish COUNT samples of SIZE
//       bytes (all BYTE, default 0xff) on zerocp.gateways, then stay 
//       (prints "reg"), until killed.
//   hostile-local regid NAME ID     publish the 8-byte id (little endian)
//       on zerocp.gateways, then stay until killed.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zerocp/zerocp.h>

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4)
		return 2;
	zcp_mempool_manager *mgr;
	int r = zcp_mempool_manager_attach(argv[2], &mgr);
	if (r) {
		fprintf(stderr, "attach: %s\n", zcp_strerror(r));
		return 1;
	}
	if (strcmp(argv[1], "stuck") == 0) {
		zcp_topic_options o;
		zcp_topic_options_init(&o);
		o.capacity = 1;
		zcp_subscriber *s;
		r = zcp_subscriber_create(mgr, argv[3], &o, &s);
		if (r) {
			fprintf(stderr, "subscribe: %s\n", zcp_strerror(r));
			return 1;
		}
		printf("stuck\n");
		sleep(argc > 4 ? atoi(argv[4]) : 3600);
		return 0;
	}
	zcp_publisher *p;
	r = zcp_publisher_create(mgr, "zerocp.gateways", NULL, &p);
	if (r) {
		fprintf(stderr, "publisher: %s\n", zcp_strerror(r));
		return 1;
	}
	if (strcmp(argv[1], "reg") == 0 && argc >= 5) {
		unsigned long size = strtoul(argv[3], NULL, 0);
		long count = atol(argv[4]);
		int byte = argc > 5 ? (int)strtol(argv[5], NULL, 0) : 0xff;
		for (long i = 0; i < count; i++) {
			zcp_chunk *c = zcp_publisher_loan(p, size ? size : 1);
			if (!c) {
				perror("loan");
				break;
			}
			memset(zcp_sample_data(c), byte, size ? size : 1);
			r = zcp_publisher_publish(p, c);
			if (r) {
				fprintf(stderr, "publish: %s\n", zcp_strerror(r));
				zcp_chunk_release(mgr, c);
			}
		}
	} else if (strcmp(argv[1], "regid") == 0) {
		unsigned long long id = strtoull(argv[3], NULL, 0);
		zcp_chunk *c = zcp_publisher_loan(p, 8);
		if (!c)
			return 1;
		memcpy(zcp_sample_data(c), &id, 8);
		r = zcp_publisher_publish(p, c);
		if (r)
			fprintf(stderr, "publish: %s\n", zcp_strerror(r));
	}
	printf("reg\n");
	pause();
	return 0;
}
