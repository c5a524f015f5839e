/* SPDX-License-Identifier: MIT */
/* tools/cmd_topics.c - "zerocp topics": the topics of a manager.
 *
 * Attaches read-only (no process slot taken, nothing changed: it can
 * look at a manager whose process table is full, and it never appears
 * among the endpoints it lists) and prints each topic with its type, its
 * queue options, its publishers and its subscribers.  --json prints the
 * same as one object (schema in docs/topics-json.md).  Every figure is a
 * snapshot: counts move while we read them.
 */
#include "topic_tool.h"

#include <stdio.h>
#include <string.h>

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s topics [--name N | --socket PATH] [--owner UID] [--json]\n"
		"\n"
		"Attach to manager N read-only and list its topics: type, capacity,\n"
		"history, samples published, lost and kept, and each publisher (id, pid,\n"
		"alive or dead, open or closed, published) and subscriber (pid, alive,\n"
		"waiting, taken, lost).\n"
		"  --json  one JSON object (see docs/topics-json.md)\n"
		"Exit 0, 1 if there is no such manager, 2 on a usage error.\n",
		zcp_tool_progname);
}

/* Topic entries that failed validation: skipped (the others are still
 * worth seeing), named on stderr, and the exit status is 1. */
static int bad_entries;

static int bad_entry(int index, int err)
{
	if (err != ZCP_ECORRUPT)
		return 0;
	zcp_tool_err("topics", "topic entry %d fails validation (%s): skipped", index,
		     zcp_err_name(err));
	bad_entries++;
	return 1;
}

static const char *yes(int b)
{
	return b ? "true" : "false";
}

/* A pid, or null when unknown (-1). */
static void json_pid(long pid)
{
	if (pid < 0)
		printf("null");
	else
		printf("%ld", pid);
}

/* The endpoints of topic `index` of one kind, as a JSON array. */
static int json_endpoints(const zcp_mempool_manager *m, int index, int slots, int kind)
{
	const char *sep = "";

	putchar('[');
	for (int k = 0; k < slots; k++) {
		zcp_endpoint_info e;
		int err = zcp_topic_get_endpoint(m, index, k, &e);
		if (err == ZCP_ENOENT)
			continue;
		if (err != 0)
			return err;
		if (e.kind != kind)
			continue;
		printf("%s{\"pid\":", sep);
		json_pid(e.pid);
		printf(",\"alive\":%s,\"process\":%llu", yes(e.alive), (unsigned long long)e.process);
		if (kind == ZCP_ENDPOINT_PUBLISHER)
			printf(",\"id\":%llu,\"closed\":%s,\"published\":%llu,\"rejected\":%llu}",
			       (unsigned long long)e.id, yes(e.closed),
			       (unsigned long long)e.published, (unsigned long long)e.rejected);
		else
			printf(",\"waiting\":%llu,\"taken\":%llu,\"lost\":%llu}",
			       (unsigned long long)e.waiting, (unsigned long long)e.taken,
			       (unsigned long long)e.lost);
		sep = ",";
	}
	putchar(']');
	return 0;
}

/* zcp_topic_json_topics - the manager's topics as a JSON array (the
 * "topics" of "zerocp topics --json", also in "zerocp stat --json"). */
int zcp_topic_json_topics(const zcp_mempool_manager *m)
{
	int n = zcp_topic_slots(m), eps = zcp_topic_endpoint_slots(m);
	const char *sep = "";

	if (n < 0)
		return n;
	putchar('[');
	for (int i = 0; i < n; i++) {
		zcp_topic_info ti;
		int err = zcp_topic_get_info(m, i, &ti);
		if (err == ZCP_ENOENT || bad_entry(i, err))
			continue;
		if (err != 0)
			return err;
		if (eps < 0)
			return eps;
		printf("%s{\"index\":%d,\"name\":", sep, i);
		zcp_tool_json_string(ti.name);
		printf(",\"type\":{\"name\":");
		zcp_tool_json_string(ti.type_name);
		printf(",\"size\":%llu,\"align\":%llu},\"capacity\":%u,\"history\":%u,"
		       "\"published\":%llu,\"lost\":%llu,\"kept\":%llu,\"publishers\":",
		       (unsigned long long)ti.type_size, (unsigned long long)ti.type_align,
		       ti.capacity, ti.history, (unsigned long long)ti.published,
		       (unsigned long long)ti.lost, (unsigned long long)ti.kept);
		if ((err = json_endpoints(m, i, eps, ZCP_ENDPOINT_PUBLISHER)) != 0)
			return err;
		printf(",\"subscribers\":");
		if ((err = json_endpoints(m, i, eps, ZCP_ENDPOINT_SUBSCRIBER)) != 0)
			return err;
		putchar('}');
		sep = ",";
	}
	putchar(']');
	return 0;
}

/* The --json form: one object on one line. */
static int print_json(const zcp_mempool_manager *m, int read_only)
{
	int n = zcp_topic_slots(m), err;

	if (n < 0)
		return n;
	printf("{\"version\":1,\"manager\":");
	zcp_tool_json_string(zcp_mempool_manager_name(m));
	printf(",\"read_only\":%s,\"topic_slots\":%d,\"topics\":", yes(read_only), n);
	if ((err = zcp_topic_json_topics(m)) != 0)
		return err;
	printf("}\n");
	return 0;
}

/* Whether `process` is a live zerocp-gateway: gateways register with a
 * publisher on topic "zerocp.gateways" (see tools/gateway.c), so their
 * endpoints are marked "gateway" in the text form. */
static int is_gateway(const zcp_mempool_manager *m, uint64_t process)
{
	zcp_topic_info info;
	int idx = zcp_topic_find(m, "zerocp.gateways", &info), eps = zcp_topic_endpoint_slots(m);

	for (int k = 0; idx >= 0 && k < eps; k++) {
		zcp_endpoint_info e;
		if (zcp_topic_get_endpoint(m, idx, k, &e) == 0 && e.kind == ZCP_ENDPOINT_PUBLISHER &&
		    e.alive && !e.closed && e.process == process)
			return 1;
	}
	return 0;
}

/* zcp_topic_print_endpoints - the endpoint lines of topic `index`, each
 * after `indent`; a gateway's (zerocp-gateway(1)) end with ", gateway". */
int zcp_topic_print_endpoints(const zcp_mempool_manager *m, int index, const char *indent)
{
	int eps = zcp_topic_endpoint_slots(m);

	if (eps < 0)
		return eps;
	for (int k = 0; k < eps; k++) {
		zcp_endpoint_info e;
		int err = zcp_topic_get_endpoint(m, index, k, &e);
		if (err == ZCP_ENOENT)
			continue;
		if (err != 0)
			return err;
		if (e.kind == ZCP_ENDPOINT_PUBLISHER)
			/* The library reports a closed publisher as not
			 * alive, whatever its process: say closed only. */
			printf("%spublisher  0x%llx: pid %ld, %s, published %llu, "
			       "rejected %llu%s\n",
			       indent, (unsigned long long)e.id, e.pid,
			       e.closed ? "closed" : e.alive ? "alive" : "dead",
			       (unsigned long long)e.published, (unsigned long long)e.rejected,
			       e.alive && is_gateway(m, e.process) ? ", gateway" : "");
		else
			printf("%ssubscriber: pid %ld, %s, waiting %llu, taken %llu, "
			       "lost %llu%s\n",
			       indent, e.pid, e.alive ? "alive" : "dead",
			       (unsigned long long)e.waiting, (unsigned long long)e.taken,
			       (unsigned long long)e.lost,
			       e.alive && is_gateway(m, e.process) ? ", gateway" : "");
	}
	return 0;
}

static const char *plural(unsigned long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* The human-readable form. */
static int print_text(const zcp_mempool_manager *m)
{
	int n = zcp_topic_slots(m), eps = zcp_topic_endpoint_slots(m), found = 0;

	if (n < 0)
		return n;
	printf("Manager %s: ", zcp_tool_q(zcp_mempool_manager_name(m)));
	if (n == 0) {
		printf("topics are turned off\n");
		return 0;
	}
	printf("%d topic slot%s\n", n, plural((unsigned long)n, "", "s"));
	for (int i = 0; i < n; i++) {
		zcp_topic_info ti;
		int err = zcp_topic_get_info(m, i, &ti);
		if (err == ZCP_ENOENT || bad_entry(i, err))
			continue;
		if (err != 0)
			return err;
		if (eps < 0)
			return eps;
		found++;
		printf("topic %s: ", zcp_tool_q(ti.name));
		if (ti.type_name[0] != '\0' || ti.type_size != 0)
			printf("type %s (%llu bytes, align %llu)", zcp_tool_q(ti.type_name),
			       (unsigned long long)ti.type_size, (unsigned long long)ti.type_align);
		else
			printf("untyped");
		printf(", capacity %u, history %u; published %llu, lost %llu, kept %llu\n",
		       ti.capacity, ti.history, (unsigned long long)ti.published,
		       (unsigned long long)ti.lost, (unsigned long long)ti.kept);
		if ((err = zcp_topic_print_endpoints(m, i, "  ")) != 0)
			return err;
	}
	if (found == 0)
		printf("no topics\n");
	return 0;
}

/* Entry point of "zerocp topics". */
int zcp_tool_topics(int argc, char **argv)
{
	struct zcp_tool_target t = {NULL, NULL, ZCP_OWNER_SELF, 1, 0};
	int json = 0, err, read_only = 0;
	zcp_mempool_manager *m;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	for (int i = 1; i < argc; i++) {
		int r = zcp_topic_target_opt("topics", argc, argv, &i, &t);
		if (r < 0)
			return ZCP_TOOL_USAGE;
		if (r > 0)
			continue;
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else {
			zcp_tool_err("topics", "unknown %s %s",
				     argv[i][0] == '-' ? "option" : "argument", zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		}
	}
	if (zcp_topic_target_check("topics", &t) != 0)
		return ZCP_TOOL_USAGE;
	err = zcp_tool_attach("topics", &t, &m, &read_only);
	if (err != 0) {
		zcp_tool_attach_error("topics", &t, err);
		return ZCP_TOOL_FAIL;
	}
	err = json ? print_json(m, read_only) : print_text(m);
	if (err != 0) {
		/* A half-printed JSON object must not look complete. */
		if (json)
			printf("\n");
		zcp_tool_err("topics", "reading the topics of manager %s: %s (%s)",
			     zcp_tool_q(zcp_mempool_manager_name(m)), zcp_strerror(err),
			     zcp_err_name(err));
	}
	zcp_mempool_manager_detach(m);
	if (fflush(stdout) != 0 || err != 0 || bad_entries != 0)
		return ZCP_TOOL_FAIL;
	return ZCP_TOOL_OK;
}
