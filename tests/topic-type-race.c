/* SPDX-License-Identifier: MIT */
/* zcp_topic_get_info() while a topic gets its type: never a torn type.
 *
 * A topic made by a subscriber that names no type has none; the first
 * publisher (or subscriber) that names one writes it into the topic, in
 * place, under the topics lock.  Discovery reads it without that lock:
 * it must see the type whole (name, size and alignment of the new type)
 * or not at all (an empty name, size 0), never a part of a name or a
 * name without its size.  A child process makes untyped topics and types
 * them, over and over, and so recycles their entries (a table of 4, eight
 * names); the parent reads every topic meanwhile.  Without the
 * descriptor's seqlock the parent saw a type's size without its name
 * thousands of times a run.
 */
#include "tap.h"
#include "zt.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#define TYPE_SIZE 24
#define ROUNDS 20000

static char type_name[ZCP_TYPE_NAME_MAX + 1];

static void writer(const char *name)
{
	zcp_mempool_manager *m;
	ZT_CHECK(zcp_mempool_manager_attach(name, &m) == 0);
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.type_name = type_name;
	o.type_size = TYPE_SIZE;
	for (int i = 0; i < ROUNDS; i++) {
		char topic[32];
		zcp_subscriber *s;
		zcp_publisher *pub;
		snprintf(topic, sizeof topic, "rc.%d", i % 8);
		ZT_CHECK(zcp_subscriber_create(m, topic, NULL, &s) == 0);
		ZT_CHECK(zcp_publisher_create(m, topic, &o, &pub) == 0);
		zcp_publisher_close(pub);
		zcp_subscriber_close(s);
	}
	zcp_mempool_manager_detach(m);
}

int main(void)
{
	plan_lazy();
	/* The longest name: a torn copy shows as a shorter prefix. */
	memset(type_name, 'T', ZCP_TYPE_NAME_MAX);
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 64, 4);
	zcp_mempool_config_set_topics(cfg, 4, 2, 2, 16);
	zcp_mempool_manager *m;
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);

	pid_t w = zt_fork();
	if (w == 0) {
		writer(name);
		_exit(0);
	}
	ZT_REQUIRE(w > 0);
	unsigned long reads = 0, typed = 0, untyped = 0, torn = 0, busy = 0;
	int slots = zcp_topic_slots(m), status = -1;
	while (waitpid(w, &status, WNOHANG) == 0) {
		for (int k = 0; k < slots; k++) {
			zcp_topic_info info;
			int err = zcp_topic_get_info(m, k, &info);
			busy += err == ZCP_EAGAIN; /* being written for ~20 ms: a preempted writer */
			if (err != 0 || strncmp(info.name, "rc.", 3) != 0)
				continue;
			reads++;
			if (info.type_name[0] == '\0' && info.type_size == 0) {
				untyped++;
			} else if (strcmp(info.type_name, type_name) == 0 &&
				   info.type_size == TYPE_SIZE && info.type_align == 64) {
				typed++;
			} else {
				if (torn++ < 5)
					diag("torn: type name of %zu bytes, size %llu, align %llu",
					     strlen(info.type_name), (unsigned long long)info.type_size,
					     (unsigned long long)info.type_align);
			}
		}
	}
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer made and typed %d topics",
	   ROUNDS);
	diag("%lu reads of a topic being made and typed: %lu typed, %lu untyped, %lu torn; "
	     "%lu ZCP_EAGAIN",
	     reads, typed, untyped, torn, busy);
	ok(reads > 0, "the reader saw the topics (%lu reads)", reads);
	is_int((long long)torn, 0, "no read saw a part of the type");
	is_int(zcp_mempool_manager_check(m), 0, "check()");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
