/* SPDX-License-Identifier: MIT */
/* tests/attack-discovery-closed.c - a publisher that never published must
 * not show up, while it closes, as closed_publishers=1 in zcp_topic_get_info() and as closed=1 in
 * zcp_topic_get_endpoint(), since both are documented as "gone, with
 * samples still kept" / "a publisher gone whose ring is still read".
 * (the library did, in 40% of the reads).  TAP; exits 1 when observed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zerocp/zerocp.h>
static zcp_mempool_manager *m;
static atomic_int stop;
static void *closer(void *a)
{
	(void)a;
	zcp_topic_options o;
	zcp_topic_options_init(&o), o.type_name = "T", o.type_size = 8;
	while (!atomic_load(&stop)) {
		zcp_publisher *p;
		if (zcp_publisher_create(m, "x", &o, &p) == 0)
			zcp_publisher_close(p); /* never publishes */
	}
	return NULL;
}
int main(void)
{
	char nm[64];
	zcp_mempool_config *c = zcp_mempool_config_new();
	zcp_subscriber *s;
	pthread_t t;
	unsigned long reads = 0, seen = 0, epseen = 0;
	snprintf(nm, sizeof nm, "adisc_%d_closed", (int)getpid());
	zcp_mempool_config_add_entry(c, 256, 8);
	zcp_mempool_config_set_topics(c, 1, 1, 1, 16);
	if (zcp_mempool_manager_create(nm, c, &m))
		return 2;
	zcp_mempool_config_free(c);
	zcp_subscriber_create(m, "x", NULL, &s);
	pthread_create(&t, NULL, closer, NULL);
	for (int i = 0; i < 2000000; i++) {
		zcp_topic_info ti;
		zcp_endpoint_info e;
		if (zcp_topic_get_info(m, 0, &ti) == 0) {
			reads++;
			if (ti.closed_publishers && !ti.published && !ti.kept)
				seen++;
		}
		if (zcp_topic_get_endpoint(m, 0, 0, &e) == 0 && e.closed)
			epseen++;
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	zcp_subscriber_close(s);
	zcp_mempool_manager_destroy(m);
	printf("1..1\n%s 1 - closed_publishers stays 0 for a publisher that never published "
	       "(%lu of %lu reads say 1; endpoint closed=1 seen %lu times)\n",
	       seen ? "not ok" : "ok", seen, reads, epseen);
	return seen ? 1 : 0;
}
