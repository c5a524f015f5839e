/* SPDX-License-Identifier: MIT */
/* tools/gateway.c - zerocp-gateway: bridge a manager's topics to DDS
 * (Eclipse Cyclone DDS) and back.
 *
 * Two threads.  The main thread is the local side: a zcp_waitset over a
 * subscriber of every exported topic (plus the gateway registry, below);
 * woken, it takes everything each subscriber has and writes it to the
 * topic's DDS writer straight from its chunk (the DDS sample's payload
 * points into the chunk), the chunk released; the writes are batched
 * (dds_write_set_batch) and flushed once per topic per wake, so a burst
 * leaves in few packets and a lone sample at once.  Every 200 ms it
 * looks for local topics matching --export that have a publisher other
 * than a gateway (or keep history); a topic without one for --idle
 * seconds is no longer exported.
 *
 * DDS -> local: each DDS reader has a data-available listener, run by
 * Cyclone's receive thread: each DDS sample is copied into a chunk
 * loaned from the topic's local publisher and published there and then
 * (no hand-over to another thread: one wake-up fewer on the way).  The
 * import thread does the rest: a DDS waitset over the built-in
 * publication topic (discovery of remote writers whose topic matches
 * --import) and two guard conditions (stop; a topic stalled); it retries
 * stalled topics, and closes an import whose DDS topic has had no writer
 * for --idle seconds.  Nothing spins.
 *
 * No loops.  Every DDS sample carries the id of the gateway that wrote
 * it.  Gateways of one manager register: each publishes its id on the
 * local topic "zerocp.gateways" (history 8), so every gateway knows the
 * ids and processes of the others.
 *  - Import drops a sample written by any gateway of its own manager
 *    (itself included).
 *  - Export drops a sample whose origin publisher belongs to a gateway's
 *    process (what some gateway imported).
 *  - With several gateways on one manager bridging one topic, only the
 *    one with the smallest process id (zcp_mempool_manager_process_id)
 *    among the live ones forwards it in each direction; the others stand
 *    by and take over when it dies.  So a sample crosses once.
 *
 * A killed gateway is an ordinary client: the manager reclaims its
 * chunks and endpoints; restarted, it bridges again (what was in flight
 * is lost).
 */
#include "gateway.h"
#include "gateway_type.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define GW_REGISTRY "zerocp.gateways"
#define GW_MAX_TOPICS 256
#define GW_MAX_PATTERNS 64
#define GW_MAX_IDS 64
#define GW_DDS_NAME_MAX (7 + 3 * ZCP_TOPIC_NAME_MAX + 1)
#define GW_CACHE 32
#define GW_TAKE 64 /* DDS samples per take */
#define GW_BLOCK_NS 10000000 /* a reliable import's publish waits at most 10 ms */
#define GW_WRITE_BLOCK_MS 10 /* a reliable export's DDS write waits at most 10 ms */
#define GW_STALL_RETRY_MS 20 /* then the topic stalls; tried again this often */
#define GW_BACKLOG_MIB 16 /* default --backlog: what a stalled topic keeps */
#define GW_LOSS_NOTE_S 5 /* a stalled topic's losses are told at most this often */
#define GW_IDLE_S 10 /* default --idle */
#define GW_EXPORT 1 /* gw_topic.users: which sides use the record */
#define GW_IMPORT 2

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s [--name N | --socket PATH] [--owner UID] [--export PATTERN]...\n"
		"                      [--import PATTERN]... [--domain ID] [--best-effort]\n"
		"                      [--idle S] [--backlog MIB] [--quiet | --verbose]\n"
		"       %s ping|pong|sink ...  (measuring modes; %s ping --help)\n"
		"\n"
		"Bridge topics of a zerocp manager to DDS (Cyclone DDS) and back.\n"
		"  --export PATTERN  forward the local topics whose name matches PATTERN\n"
		"                    (fnmatch(3): * ? [...]) to DDS; repeatable\n"
		"  --import PATTERN  publish locally the DDS topics zerocp/NAME whose NAME\n"
		"                    matches PATTERN; repeatable\n"
		"  --domain ID       the DDS domain (default: CYCLONEDDS_URI's, else 0)\n"
		"  --best-effort     exported topics are best effort (default reliable,\n"
		"                    with transient-local durability when the topic keeps\n"
		"                    history)\n"
		"  --idle S          stop exporting a topic without a local publisher, and\n"
		"                    importing one without a DDS writer, after S seconds\n"
		"                    (1 to 86400, default 10)\n"
		"  --backlog MIB     what an imported topic whose local subscribers do not\n"
		"                    take may keep waiting (1 to 65536, default 16); beyond\n"
		"                    it its oldest samples are dropped, counted and noted\n"
		"  --quiet           no notes on stderr; --verbose: a line per topic event\n"
		"zerocp topic NAME is DDS topic \"zerocp/\" NAME, each byte outside\n"
		"[A-Za-z0-9] written _HH (hex).  Stops on SIGINT, SIGTERM, SIGHUP.\n"
		"Exit 0 when stopped, 1 on a failure, 2 on a usage error.\n",
		zcp_tool_progname, zcp_tool_progname, zcp_tool_progname);
}

/* ------------------------------------------------------------------ */
/* Name mapping                                                        */
/* ------------------------------------------------------------------ */

int zcp_gw_dds_name(const char *name, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (size < 8)
		return -1;
	memcpy(out, "zerocp/", 7);
	o = 7;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9');
		if (o + (plain ? 1 : 3) >= size)
			return -1;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '_';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int zcp_gw_zcp_name(const char *dds_name, char *out, size_t size)
{
	size_t o = 0;
	const char *p;

	if (strncmp(dds_name, "zerocp/", 7) != 0 || dds_name[7] == '\0')
		return -1;
	for (p = dds_name + 7; *p; p++) {
		int c = (unsigned char)*p;
		if (c == '_') {
			int h = hexval(p[1]), l = h < 0 ? -1 : hexval(p[2]);
			if (l < 0 || (h == 0 && l == 0))
				return -1;
			c = h * 16 + l;
			p += 2;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9'))) {
			return -1;
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* State                                                               */
/* ------------------------------------------------------------------ */

struct gw_topic {
	char name[ZCP_TOPIC_NAME_MAX + 1];
	char dds_name[GW_DDS_NAME_MAX];
	dds_entity_t topic; /* 0 until made */
	int users; /* GW_EXPORT | GW_IMPORT (gw.lock): a record no side uses is reused */
	/* export (main thread) */
	int exported;
	struct timespec export_idle; /* since when without a local publisher (0: has one) */
	zcp_subscriber *sub;
	uint64_t sub_type_size;
	dds_entity_t writer;
	int export_leader;
	/* A DDS write that waited GW_WRITE_BLOCK_MS (remote readers behind:
	 * the writer keeps every unacknowledged sample) stalls this topic
	 * alone: its chunk waits here, its subscriber is off the waitset,
	 * and the main thread tries again after 1 ms. */
	zcp_chunk *held;
	int export_stalled;
	struct {
		uint64_t id;
		int gateway;
	} cache[GW_CACHE];
	unsigned int cache_next;
	uint64_t n_out, n_skipped;
	/* import: the listener (a Cyclone receive thread) and the import
	 * thread, one at a time (mu) */
	pthread_mutex_t mu;
	_Atomic int imported;
	zcp_publisher *pub;
	_Atomic uint64_t pub_id;
	uint64_t pub_type_size;
	dds_entity_t reader;
	_Atomic int import_leader;
	struct timespec import_idle; /* since when without a DDS writer (0: has one) */
	uint64_t n_in, n_dropped;
	/* A full local queue stalls this topic alone: the chunks of the
	 * last take wait in pend, in order, and what comes after waits in
	 * the backlog (copies, oldest first, at most --backlog bytes: beyond
	 * it the oldest are dropped and counted in n_lost), so the DDS
	 * reader is always drained and Cyclone never holds up the other
	 * topics.  The import thread tries again every GW_STALL_RETRY_MS. */
	int warned_size; /* the reasons for dropping a sample said so far (bits; 8: no chunk) */
	_Atomic int stalled;
	_Atomic int stall_signalled; /* the import thread was told of this stall */
	_Atomic int again; /* samples came while another thread held mu */
	zcp_chunk *pend[GW_TAKE];
	unsigned int pend_n, pend_i;
	struct gw_backlog *backlog, **backlog_tail;
	uint64_t backlog_bytes;
	_Atomic uint64_t n_lost; /* dropped from a full backlog */
	uint64_t n_lost_told;
	struct timespec lost_told_at;
};

/* A DDS sample that came while its topic was stalled. */
struct gw_backlog {
	struct gw_backlog *next;
	uint64_t size, room; /* bytes in data, and allocated */
	unsigned char data[];
};

static struct {
	zcp_mempool_manager *m;
	uint64_t id;      /* this gateway's id: random */
	uint64_t process; /* zcp_mempool_manager_process_id() */
	const char *exports[GW_MAX_PATTERNS];
	const char *imports[GW_MAX_PATTERNS];
	int n_exports, n_imports;
	dds_domainid_t domain;
	int best_effort;
	long idle_s; /* --idle: an export without a local publisher, an import without a DDS writer */
	uint64_t backlog; /* --backlog, in bytes: what each stalled topic may keep */
	int verbose; /* -1 quiet, 0 notes, 1 verbose */
	dds_entity_t pp, guard, stall_guard;
	pthread_mutex_t lock; /* topics[] growth, DDS topic creation, ids[] */
	struct gw_topic *topics[GW_MAX_TOPICS];
	_Atomic int n_topics;
	uint64_t ids[GW_MAX_IDS]; /* gateway ids of this manager (own first) */
	uint64_t id_pub[GW_MAX_IDS]; /* the registry publisher of each (own: 0) */
	int n_ids;
	zcp_publisher *reg_pub;
	zcp_subscriber *reg_sub;
	uint64_t largest;
	int failed;
} gw = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	if (gw.verbose < 0)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", zcp_tool_progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int matches(const char *const *pats, int n, const char *name)
{
	if (strcmp(name, GW_REGISTRY) == 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (fnmatch(pats[i], name, 0) == 0)
			return 1;
	return 0;
}

/* Name record t `name`, as new (gw.lock held; no side uses it). */
static void topic_reset(struct gw_topic *t, const char *name)
{
	if (t->topic > 0)
		dds_delete(t->topic); /* no reader or writer left on it */
	t->topic = 0;
	snprintf(t->name, sizeof(t->name), "%s", name);
	zcp_gw_dds_name(name, t->dds_name, sizeof(t->dds_name));
	/* The other thread may read the flags of any record (atomics, 0
	 * while no side uses it); the rest only the side that claims it. */
	memset(t->cache, 0, sizeof(t->cache));
	t->cache_next = 0;
	t->n_out = t->n_skipped = t->n_in = t->n_dropped = 0;
	t->export_leader = 1;
	t->held = NULL;
	t->export_stalled = 0;
	atomic_store(&t->import_leader, 1);
	t->warned_size = 0;
	t->pend_n = t->pend_i = 0;
	t->backlog = NULL;
	t->backlog_tail = &t->backlog;
	t->backlog_bytes = 0;
	atomic_store(&t->n_lost, 0);
	t->n_lost_told = 0;
}

/* The topic record of `name` for side `role` (GW_EXPORT, GW_IMPORT):
 * found, made, or else a record that no side uses renamed (so a stream
 * of topics that come and go never fills the table).  NULL if that side
 * has it already, or if every record is in use. */
static struct gw_topic *topic_claim(const char *name, int role)
{
	struct gw_topic *t = NULL, *idle = NULL;
	int n;

	pthread_mutex_lock(&gw.lock);
	n = atomic_load(&gw.n_topics);
	for (int i = 0; i < n && t == NULL; i++) {
		if (strcmp(gw.topics[i]->name, name) == 0)
			t = gw.topics[i];
		else if (idle == NULL && gw.topics[i]->users == 0)
			idle = gw.topics[i];
	}
	if (t == NULL && n < GW_MAX_TOPICS && (t = calloc(1, sizeof(*t))) != NULL) {
		pthread_mutex_init(&t->mu, NULL);
		topic_reset(t, name);
		gw.topics[n] = t;
		atomic_store(&gw.n_topics, n + 1);
	} else if (t == NULL && idle != NULL) {
		t = idle;
		topic_reset(t, name);
	}
	if (t != NULL && (t->users & role))
		t = NULL;
	else if (t != NULL)
		t->users |= role;
	pthread_mutex_unlock(&gw.lock);
	return t;
}

/* Side `role` no longer uses t. */
static void topic_unclaim(struct gw_topic *t, int role)
{
	pthread_mutex_lock(&gw.lock);
	t->users &= ~role;
	pthread_mutex_unlock(&gw.lock);
}

/* The DDS topic of t, made on first use.  0 or -1 after a note. */
static int dds_topic_of(struct gw_topic *t)
{
	int r = 0;

	pthread_mutex_lock(&gw.lock);
	if (t->topic <= 0) {
		t->topic = dds_create_topic(gw.pp, &zerocp_gw_Sample_desc, t->dds_name, NULL, NULL);
		if (t->topic < 0) {
			note("cannot make DDS topic %s: %s", t->dds_name,
			     dds_strretcode(t->topic));
			t->topic = 0;
			r = -1;
		}
	}
	pthread_mutex_unlock(&gw.lock);
	return r;
}

/* ------------------------------------------------------------------ */
/* Registry of the manager's gateways                                  */
/* ------------------------------------------------------------------ */

static void id_add(uint64_t id, uint64_t pub)
{
	pthread_mutex_lock(&gw.lock);
	int known = 0;
	for (int i = 0; i < gw.n_ids; i++)
		if (gw.ids[i] == id) {
			known = 1;
			if (i > 0)
				gw.id_pub[i] = pub; /* re-registered by a live publisher */
		}
	if (!known) {
		if (gw.n_ids < GW_MAX_IDS) {
			gw.ids[gw.n_ids] = id;
			gw.id_pub[gw.n_ids++] = pub;
		} else { /* keep the newest: drop the oldest other than our own */
			memmove(gw.ids + 1, gw.ids + 2, (GW_MAX_IDS - 2) * sizeof(gw.ids[0]));
			memmove(gw.id_pub + 1, gw.id_pub + 2, (GW_MAX_IDS - 2) * sizeof(gw.id_pub[0]));
			gw.ids[GW_MAX_IDS - 1] = id;
			gw.id_pub[GW_MAX_IDS - 1] = pub;
		}
	}
	pthread_mutex_unlock(&gw.lock);
}

/* Whether `pub` is a live, open publisher of the registry now. */
static int registry_publisher_live(uint64_t pub)
{
	zcp_topic_info info;
	int idx = zcp_topic_find(gw.m, GW_REGISTRY, &info), slots;

	if (idx < 0 || pub == 0)
		return 0;
	slots = zcp_topic_endpoint_slots(gw.m);
	for (int k = 0; k < slots; k++) {
		zcp_endpoint_info e;
		if (zcp_topic_get_endpoint(gw.m, idx, k, &e) == 0 &&
		    e.kind == ZCP_ENDPOINT_PUBLISHER && e.id == pub)
			return e.alive && !e.closed;
	}
	return 0;
}

/* Forget the ids whose registering publisher is gone (a gateway that
 * died or stopped, or a process that only pretended to be one): the
 * registry's history would otherwise keep them, and what they name, out
 * of the imports for good. */
static void ids_prune(void)
{
	uint64_t pubs[GW_MAX_IDS];
	int n, live[GW_MAX_IDS];

	pthread_mutex_lock(&gw.lock);
	n = gw.n_ids;
	memcpy(pubs, gw.id_pub, sizeof(pubs));
	pthread_mutex_unlock(&gw.lock);
	for (int i = 1; i < n; i++) /* not our own, ids[0] */
		live[i] = registry_publisher_live(pubs[i]);
	pthread_mutex_lock(&gw.lock);
	int k = 1;
	for (int i = 1; i < gw.n_ids; i++) {
		/* the array may have changed meanwhile: keep what we did not judge */
		if (i < n && gw.id_pub[i] == pubs[i] && !live[i])
			continue;
		gw.ids[k] = gw.ids[i];
		gw.id_pub[k++] = gw.id_pub[i];
	}
	gw.n_ids = k;
	pthread_mutex_unlock(&gw.lock);
}

static int id_local(uint64_t id)
{
	int r = 0;

	pthread_mutex_lock(&gw.lock);
	for (int i = 0; i < gw.n_ids && !r; i++)
		r = gw.ids[i] == id;
	pthread_mutex_unlock(&gw.lock);
	return r;
}

/* Take what the registry subscriber has: the ids of the gateways. */
static void registry_drain(void)
{
	zcp_chunk *c;

	while ((c = zcp_subscriber_take(gw.reg_sub)) != NULL) {
		uint64_t id;
		zcp_sample_info si;
		/* Only a registration whose publisher is still there: the
		 * history also holds those of gateways gone since. */
		if (zcp_topic_sample_size(c, 0) >= sizeof(id) && zcp_chunk_sample_info(c, &si) == 0 &&
		    registry_publisher_live(si.origin)) {
			memcpy(&id, zcp_sample_data(c), sizeof(id));
			id_add(id, si.origin);
		}
		zcp_chunk_release(gw.m, c);
	}
}

/* The processes of the live gateways of the manager: up to max. */
static int gateway_processes(uint64_t *out, int max)
{
	zcp_topic_info info;
	int idx = zcp_topic_find(gw.m, GW_REGISTRY, &info), slots, n = 0;

	if (idx < 0)
		return 0;
	slots = zcp_topic_endpoint_slots(gw.m);
	for (int k = 0; k < slots && n < max; k++) {
		zcp_endpoint_info e;
		if (zcp_topic_get_endpoint(gw.m, idx, k, &e) == 0 &&
		    e.kind == ZCP_ENDPOINT_PUBLISHER && e.alive && !e.closed)
			out[n++] = e.process;
	}
	return n;
}

static int in_set(const uint64_t *set, int n, uint64_t v)
{
	for (int i = 0; i < n; i++)
		if (set[i] == v)
			return 1;
	return 0;
}

/* Whether this gateway leads topic `name` for endpoints of `kind`: no
 * live gateway process with a smaller process id has such an endpoint
 * on it. */
static int is_leader(const char *name, int kind)
{
	uint64_t procs[GW_MAX_IDS];
	int np = gateway_processes(procs, GW_MAX_IDS), idx, slots;
	zcp_topic_info info;

	if ((idx = zcp_topic_find(gw.m, name, &info)) < 0)
		return 1;
	slots = zcp_topic_endpoint_slots(gw.m);
	for (int k = 0; k < slots; k++) {
		zcp_endpoint_info e;
		if (zcp_topic_get_endpoint(gw.m, idx, k, &e) == 0 && e.kind == kind && e.alive &&
		    !e.closed && e.process < gw.process && in_set(procs, np, e.process))
			return 0;
	}
	return 1;
}

/* Whether publisher `origin` of topic t belongs to a gateway (one of
 * ours, or a process of the registry): its samples were imported. */
static int origin_is_gateway(struct gw_topic *t, uint64_t origin)
{
	uint64_t procs[GW_MAX_IDS];
	int n = atomic_load(&gw.n_topics), np, idx, slots, verdict = 0;
	zcp_topic_info info;

	for (int i = 0; i < GW_CACHE; i++)
		if (t->cache[i].id == origin && origin != 0)
			return t->cache[i].gateway;
	for (int i = 0; i < n; i++)
		if (atomic_load(&gw.topics[i]->pub_id) == origin)
			return 1;
	np = gateway_processes(procs, GW_MAX_IDS);
	if ((idx = zcp_topic_find(gw.m, t->name, &info)) >= 0) {
		slots = zcp_topic_endpoint_slots(gw.m);
		for (int k = 0; k < slots; k++) {
			zcp_endpoint_info e;
			if (zcp_topic_get_endpoint(gw.m, idx, k, &e) == 0 &&
			    e.kind == ZCP_ENDPOINT_PUBLISHER && e.id == origin) {
				verdict = e.process == gw.process || in_set(procs, np, e.process);
				break;
			}
		}
	}
	t->cache[t->cache_next % GW_CACHE].id = origin;
	t->cache[t->cache_next % GW_CACHE].gateway = verdict;
	t->cache_next++;
	return verdict;
}

/* ------------------------------------------------------------------ */
/* QoS                                                                 */
/* ------------------------------------------------------------------ */

/* Reliable: KEEP_ALL readers and writers (a keep-last writer of Cyclone
 * drops an unacknowledged sample once `depth` newer ones came: a slow
 * reader lost samples and nobody counted them; keep-all, a write waits
 * while the readers are behind, GW_WRITE_BLOCK_MS at most, then the
 * topic stalls); transient-local keeping `history` when the topic keeps
 * history.  Best effort: KEEP_LAST capacity. */
static dds_qos_t *make_qos(int reliable, unsigned int capacity, unsigned int history, int writer)
{
	dds_qos_t *q = dds_create_qos();
	unsigned int depth = capacity > history ? capacity : history;

	if (depth == 0)
		depth = 1;
	dds_qset_reliability(q, reliable ? DDS_RELIABILITY_RELIABLE : DDS_RELIABILITY_BEST_EFFORT,
			     writer ? DDS_MSECS(GW_WRITE_BLOCK_MS) : DDS_SECS(1));
	if (history > 0) {
		dds_qset_durability(q, DDS_DURABILITY_TRANSIENT_LOCAL);
		dds_qset_durability_service(q, 0, DDS_HISTORY_KEEP_LAST, (int32_t)history,
					    DDS_LENGTH_UNLIMITED, DDS_LENGTH_UNLIMITED,
					    DDS_LENGTH_UNLIMITED);
	}
	if (reliable)
		dds_qset_history(q, DDS_HISTORY_KEEP_ALL, 0);
	else
		dds_qset_history(q, DDS_HISTORY_KEEP_LAST,
				 (int32_t)(writer && history > 0 ? history : depth));
	/* 1 MiB samples and more: no resource limit below the pools'. */
	dds_qset_resource_limits(q, DDS_LENGTH_UNLIMITED, DDS_LENGTH_UNLIMITED,
				 DDS_LENGTH_UNLIMITED);
	return q;
}

/* ------------------------------------------------------------------ */
/* Export: local -> DDS (main thread)                                  */
/* ------------------------------------------------------------------ */

static void export_start(zcp_waitset *ws, const zcp_topic_info *info)
{
	struct gw_topic *t = topic_claim(info->name, GW_EXPORT);
	zcp_topic_options o;
	dds_qos_t *q;

	if (t == NULL)
		return; /* exported already, or no record free */
	zcp_topic_options_init(&o);
	if (dds_topic_of(t) != 0 ||
	    zcp_topic_subscribe("gateway", gw.m, t->name, &o, &t->sub, &t->sub_type_size) != 0) {
		topic_unclaim(t, GW_EXPORT);
		return;
	}
	q = make_qos(!gw.best_effort, info->capacity, info->history, 1);
	t->writer = dds_create_writer(gw.pp, t->topic, q, NULL);
	dds_delete_qos(q);
	if (t->writer < 0) {
		note("cannot make a DDS writer on %s: %s", t->dds_name, dds_strretcode(t->writer));
		zcp_subscriber_close(t->sub);
		t->sub = NULL;
		topic_unclaim(t, GW_EXPORT);
		return;
	}
	zcp_waitset_attach_subscriber(ws, t->sub, t);
	t->exported = 1;
	t->export_idle = (struct timespec){0, 0};
	if (gw.verbose >= 0)
		note("exporting topic %s as DDS topic %s (%s%s)", zcp_tool_q(t->name), t->dds_name,
		     gw.best_effort ? "best effort" : "reliable",
		     info->history ? ", transient-local" : "");
}

/* Stop exporting t: what its subscriber still holds is not sent. */
static void export_stop(zcp_waitset *ws, struct gw_topic *t)
{
	if (t->held != NULL) {
		zcp_chunk_release(gw.m, t->held);
		t->held = NULL;
	}
	if (!t->export_stalled) /* (a stalled topic's is off the waitset) */
		zcp_waitset_detach(ws, t->sub);
	t->export_stalled = 0;
	zcp_subscriber_close(t->sub);
	t->sub = NULL;
	dds_delete(t->writer);
	t->writer = 0;
	t->exported = 0;
	if (gw.verbose >= 0)
		note("no longer exporting topic %s: no local publisher for %ld s",
		     zcp_tool_q(t->name), gw.idle_s);
	topic_unclaim(t, GW_EXPORT);
}

/* Whether topic `idx` is worth exporting: it keeps history, or a live
 * publisher of it is not a gateway's (what gateways publish, they
 * imported, and export skips it). */
static int export_wanted(int idx, const zcp_topic_info *info)
{
	uint64_t procs[GW_MAX_IDS];
	int np, slots;

	if (info->history > 0)
		return 1;
	np = gateway_processes(procs, GW_MAX_IDS);
	slots = zcp_topic_endpoint_slots(gw.m);
	for (int k = 0; k < slots; k++) {
		zcp_endpoint_info e;
		if (zcp_topic_get_endpoint(gw.m, idx, k, &e) == 0 &&
		    e.kind == ZCP_ENDPOINT_PUBLISHER && e.alive && !e.closed &&
		    e.process != gw.process && !in_set(procs, np, e.process))
			return 1;
	}
	return 0;
}

/* Whether a side kept idle since *since (0: it was not) has been so for
 * --idle seconds by now: a side in use starts over. */
static int idle_for_long(struct timespec *since, int in_use, const struct timespec *now)
{
	if (in_use) {
		*since = (struct timespec){0, 0};
		return 0;
	}
	if (since->tv_sec == 0 && since->tv_nsec == 0) {
		*since = *now;
		return 0;
	}
	return zcp_topic_ts_diff(now, since) >= gw.idle_s * 1000000000LL;
}

/* Look for local topics to export; stop exporting those without a local
 * publisher for --idle seconds. */
static void export_scan(zcp_waitset *ws)
{
	int n = zcp_topic_slots(gw.m);
	struct timespec now;

	for (int i = 0; i < n; i++) {
		zcp_topic_info info;
		if (zcp_topic_get_info(gw.m, i, &info) == 0 &&
		    matches(gw.exports, gw.n_exports, info.name) && export_wanted(i, &info))
			export_start(ws, &info);
	}
	zcp_topic_now(&now);
	for (int i = 0; i < atomic_load(&gw.n_topics); i++) {
		struct gw_topic *t = gw.topics[i];
		zcp_topic_info info;
		int idx;
		if (!t->exported)
			continue;
		idx = zcp_topic_find(gw.m, t->name, &info);
		if (idle_for_long(&t->export_idle, idx >= 0 && export_wanted(idx, &info), &now)) {
			export_stop(ws, t);
			continue;
		}
		int l = is_leader(t->name, ZCP_ENDPOINT_SUBSCRIBER);
		if (l != t->export_leader)
			note("%s exporting topic %s", l ? "now" : "no longer", zcp_tool_q(t->name));
		t->export_leader = l;
	}
}

/* Write chunk c of t to DDS: 1 if the write waited GW_WRITE_BLOCK_MS in
 * vain (the caller keeps c and tries again), else 0 (written, skipped,
 * or refused: said). */
static int export_one(struct gw_topic *t, zcp_chunk *c)
{
	zcp_sample_info si;
	zerocp_gw_Sample s;
	dds_return_t r;

	if (zcp_chunk_sample_info(c, &si) != 0)
		memset(&si, 0, sizeof(si));
	if (!t->export_leader || origin_is_gateway(t, si.origin)) {
		t->n_skipped++;
		return 0;
	}
	s.origin_gateway = gw.id;
	s.publisher = si.origin;
	s.seq = si.sequence;
	s.stamp_ns = si.timestamp_ns;
	s.payload._length = s.payload._maximum = (uint32_t)zcp_topic_sample_size(c, t->sub_type_size);
	s.payload._buffer = zcp_sample_data(c); /* written from the chunk */
	s.payload._release = false;
	r = dds_write(t->writer, &s);
	if (r == DDS_RETCODE_TIMEOUT)
		return 1;
	if (r == 0)
		t->n_out++;
	else if (!zcp_topic_stop)
		note("writing to %s: %s", t->dds_name, dds_strretcode(r));
	return 0;
}

/* Write what t's subscriber holds to DDS, the held chunk first, until it
 * is empty or a write waits in vain: then t stalls (its chunk held, its
 * subscriber off the waitset, so that a full queue does not wake us
 * again and again); once it drains, back on the waitset. */
static void export_drain(zcp_waitset *ws, struct gw_topic *t)
{
	uint64_t before = t->n_out;
	int stalled = 0;
	zcp_chunk *c;

	while (!zcp_topic_stop && (c = t->held != NULL ? t->held : zcp_subscriber_take(t->sub))) {
		t->held = NULL;
		if (export_one(t, c)) {
			t->held = c;
			stalled = 1;
			break;
		}
		zcp_chunk_release(gw.m, c);
	}
	if (t->n_out != before)
		dds_write_flush(t->writer); /* what the batch holds leaves now */
	if (stalled == t->export_stalled)
		return;
	if (stalled)
		zcp_waitset_detach(ws, t->sub);
	else
		zcp_waitset_attach_subscriber(ws, t->sub, t); /* level-triggered: nothing missed */
	t->export_stalled = stalled;
}

static void export_loop(void)
{
	zcp_waitset *ws;
	zcp_waitset_event ev[16];
	struct timespec next, now;
	int err;

	if ((err = zcp_waitset_create(gw.m, &ws)) != 0) {
		zcp_tool_err("gateway", "cannot make a waitset: %s", zcp_strerror(err));
		gw.failed = 1;
		return;
	}
	zcp_waitset_attach_subscriber(ws, gw.reg_sub, NULL);
	export_scan(ws);
	zcp_topic_now(&next);
	zcp_topic_ts_add(&next, 200000000);
	while (!zcp_topic_stop) {
		int stalled = 0;
		for (int i = 0; i < atomic_load(&gw.n_topics); i++)
			stalled |= gw.topics[i]->exported && gw.topics[i]->export_stalled;
		/* A stalled export is tried again after 1 ms: its next write
		 * waits (GW_WRITE_BLOCK_MS) only while the readers are still
		 * behind, and goes on the moment they acknowledge. */
		int k = zcp_waitset_wait(ws, ev, 16, stalled ? 1000000 : 200000000);
		for (int i = 0; i < k; i++) {
			struct gw_topic *t = ev[i].user_data;
			if (ev[i].kind != ZCP_EVENT_DATA)
				continue;
			if (t == NULL)
				registry_drain();
			else
				export_drain(ws, t);
		}
		for (int i = 0; stalled && i < atomic_load(&gw.n_topics) && !zcp_topic_stop; i++) {
			struct gw_topic *t = gw.topics[i];
			if (t->exported && t->export_stalled)
				export_drain(ws, t);
		}
		zcp_topic_now(&now);
		if (zcp_topic_ts_diff(&now, &next) >= 0) {
			export_scan(ws);
			next = now;
			zcp_topic_ts_add(&next, 200000000);
		}
	}
	zcp_waitset_destroy(ws);
}

/* ------------------------------------------------------------------ */
/* Import: DDS -> local (import thread)                                */
/* ------------------------------------------------------------------ */

static void on_data_available(dds_entity_t reader, void *arg);
static void backlog_drop(struct gw_topic *t);

/* Import DDS topic t (claimed for GW_IMPORT) for a writer of QoS wq. */
static void import_start(struct gw_topic *t, const dds_qos_t *wq)
{
	dds_reliability_kind_t rel = DDS_RELIABILITY_BEST_EFFORT;
	dds_durability_kind_t dur = DDS_DURABILITY_VOLATILE;
	dds_history_kind_t hk;
	int32_t depth = 1, hdepth = 0;
	zcp_topic_options o;
	zcp_topic_info info;
	dds_listener_t *l;
	dds_entity_t reader;
	dds_qos_t *q;
	int err;

	dds_qget_reliability(wq, &rel, NULL);
	dds_qget_durability(wq, &dur);
	if (dds_qget_history(wq, &hk, &depth) && hk == DDS_HISTORY_KEEP_ALL)
		depth = ZCP_DEFAULT_TOPIC_QUEUE;
	if (dur != DDS_DURABILITY_VOLATILE &&
	    !dds_qget_durability_service(wq, NULL, &hk, &hdepth, NULL, NULL, NULL))
		hdepth = depth;
	if (dds_topic_of(t) != 0) {
		topic_unclaim(t, GW_IMPORT);
		return;
	}
	zcp_topic_options_init(&o);
	if (hdepth > 0 && dur != DDS_DURABILITY_VOLATILE)
		o.history = (unsigned int)(hdepth > ZCP_DEFAULT_TOPIC_QUEUE ? ZCP_DEFAULT_TOPIC_QUEUE
									     : hdepth);
	if (zcp_topic_find(gw.m, t->name, &info) >= 0) {
		o.type_name = info.type_name;
		o.type_size = info.type_size;
		o.type_align = info.type_align;
	}
	t->pub_type_size = o.type_size;
	if (rel == DDS_RELIABILITY_RELIABLE) {
		o.overflow = ZCP_OVERFLOW_BLOCK;
		o.block_timeout_ns = GW_BLOCK_NS;
	}
	err = zcp_publisher_create(gw.m, t->name, &o, &t->pub);
	if (err == ZCP_EINVAL && o.history > 0) { /* more history than the manager's queue */
		o.history = 0;
		err = zcp_publisher_create(gw.m, t->name, &o, &t->pub);
	}
	if (err != 0) {
		note("cannot publish topic %s: %s (%s)", zcp_tool_q(t->name), zcp_strerror(err),
		     zcp_err_name(err));
		topic_unclaim(t, GW_IMPORT);
		return;
	}
	atomic_store(&t->pub_id, zcp_publisher_id(t->pub));
	atomic_store(&t->import_leader, is_leader(t->name, ZCP_ENDPOINT_PUBLISHER));
	t->import_idle = (struct timespec){0, 0};
	/* Ready before the reader exists: its listener may run at once, in
	 * a receive thread. */
	atomic_store(&t->imported, 1);
	q = make_qos(rel == DDS_RELIABILITY_RELIABLE, (unsigned int)depth,
		     dur != DDS_DURABILITY_VOLATILE ? (unsigned int)(hdepth > 0 ? hdepth : 1) : 0,
		     0);
	l = dds_create_listener(t);
	dds_lset_data_available(l, on_data_available);
	reader = dds_create_reader(gw.pp, t->topic, q, l);
	dds_delete_listener(l);
	dds_delete_qos(q);
	if (reader < 0) {
		note("cannot make a DDS reader on %s: %s", t->dds_name, dds_strretcode(reader));
		atomic_store(&t->imported, 0);
		zcp_publisher_close(t->pub);
		t->pub = NULL;
		atomic_store(&t->pub_id, 0);
		topic_unclaim(t, GW_IMPORT);
		return;
	}
	t->reader = reader; /* for this thread; the listener is given it */
	note("importing DDS topic %s as topic %s (%s%s)", t->dds_name, zcp_tool_q(t->name),
	     rel == DDS_RELIABILITY_RELIABLE ? "reliable" : "best effort",
	     dur != DDS_DURABILITY_VOLATILE ? ", transient-local" : "");
}

/* Stop importing t: its DDS reader goes first, and with it the listener
 * (Cyclone waits for a call in progress), then its local publisher. */
static void import_stop(struct gw_topic *t, const char *why)
{
	dds_entity_t reader = t->reader;

	atomic_store(&t->imported, 0);
	dds_set_listener(reader, NULL);
	dds_delete(reader);
	pthread_mutex_lock(&t->mu);
	t->reader = 0;
	for (; t->pend_i < t->pend_n; t->pend_i++, t->n_dropped++)
		zcp_chunk_release(gw.m, t->pend[t->pend_i]);
	t->pend_i = t->pend_n = 0;
	while (t->backlog != NULL) {
		backlog_drop(t);
		t->n_dropped++;
	}
	atomic_store(&t->stalled, 0);
	atomic_store(&t->stall_signalled, 0);
	zcp_publisher_close(t->pub);
	t->pub = NULL;
	atomic_store(&t->pub_id, 0);
	pthread_mutex_unlock(&t->mu);
	if (why != NULL && gw.verbose >= 0)
		note("no longer importing topic %s: %s", zcp_tool_q(t->name), why);
	topic_unclaim(t, GW_IMPORT);
}

/* New DDS writers: import the topics that match. */
static void import_discover(dds_entity_t builtin)
{
	void *buf[16];
	dds_sample_info_t si[16];
	int n;

	while ((n = dds_take(builtin, (buf[0] = NULL, buf), si, 16, 16)) > 0) {
		for (int i = 0; i < n; i++) {
			dds_builtintopic_endpoint_t *e = buf[i];
			char name[ZCP_TOPIC_NAME_MAX + 1];
			struct gw_topic *t;
			if (!si[i].valid_data || e->type_name == NULL ||
			    strcmp(e->type_name, ZCP_GW_TYPE_NAME) != 0 ||
			    zcp_gw_zcp_name(e->topic_name, name, sizeof(name)) != 0 ||
			    !matches(gw.imports, gw.n_imports, name))
				continue;
			if ((t = topic_claim(name, GW_IMPORT)) != NULL)
				import_start(t, e->qos);
		}
		dds_return_loan(builtin, buf, n);
	}
}

/* Take the oldest sample off t's backlog (t->mu held). */
static struct gw_backlog *backlog_pop(struct gw_topic *t)
{
	struct gw_backlog *b = t->backlog;

	t->backlog = b->next;
	if (t->backlog == NULL)
		t->backlog_tail = &t->backlog;
	t->backlog_bytes -= sizeof(*b) + b->room;
	return b;
}

static void backlog_drop(struct gw_topic *t)
{
	free(backlog_pop(t));
}

/* Keep a copy of n bytes at data behind t's backlog; while it would hold
 * more than --backlog bytes, the oldest go (one of them reused: a flood
 * into a stalled topic allocates nothing).  (t->mu held.) */
static void backlog_push(struct gw_topic *t, const void *data, uint64_t n)
{
	struct gw_backlog *b = NULL;

	while (t->backlog != NULL && t->backlog_bytes + sizeof(*b) + n > gw.backlog) {
		struct gw_backlog *old = backlog_pop(t);
		atomic_fetch_add(&t->n_lost, 1);
		if (b == NULL && old->room >= n)
			b = old;
		else
			free(old);
	}
	if (b == NULL && (b = malloc(sizeof(*b) + n)) != NULL)
		b->room = n;
	if (b == NULL) {
		atomic_fetch_add(&t->n_lost, 1);
		return;
	}
	b->next = NULL;
	b->size = n;
	memcpy(b->data, data, (size_t)n);
	*t->backlog_tail = b;
	t->backlog_tail = &b->next;
	t->backlog_bytes += sizeof(*b) + b->room;
}

/* A chunk of t's publisher holding the n bytes at data; NULL (counted,
 * said) if the pools have none.  (t->mu held.) */
static zcp_chunk *import_copy(struct gw_topic *t, const void *data, uint64_t n)
{
	zcp_chunk *c = zcp_publisher_loan(t->pub, n);

	if (c == NULL) {
		t->n_dropped++;
		if (!(t->warned_size & 8)) /* once until a loan works again */
			note("topic %s: cannot loan %llu bytes: %s (dropped, counted)",
			     zcp_tool_q(t->name), (unsigned long long)n, zcp_strerror(-errno));
		t->warned_size |= 8;
		return NULL;
	}
	t->warned_size &= ~8;
	memcpy(zcp_sample_data(c), data, (size_t)n);
	return c;
}

/* Publish what waits on stalled topic t, in order: pend, then the
 * backlog; 0 once nothing waits, 1 if its subscribers' queues are still
 * full.  (t->mu held.) */
static int publish_pending(struct gw_topic *t)
{
	for (;;) {
		while (t->pend_i < t->pend_n) {
			zcp_chunk *c = t->pend[t->pend_i];
			int err;
			while ((err = zcp_publisher_publish(t->pub, c)) == ZCP_EINTR &&
			       !zcp_topic_stop)
				;
			if (err == ZCP_ETIMEDOUT || (err == ZCP_EINTR && zcp_topic_stop))
				return 1; /* kept: import_stop releases what waits */
			if (err != 0) {
				zcp_chunk_release(gw.m, c);
				t->n_dropped++;
			} else {
				t->n_in++;
			}
			t->pend_i++;
		}
		t->pend_i = t->pend_n = 0;
		if (t->backlog == NULL || zcp_topic_stop)
			return 0;
		zcp_chunk *c = import_copy(t, t->backlog->data, t->backlog->size);
		if (c != NULL)
			t->pend[t->pend_n++] = c;
		backlog_drop(t);
	}
}

/* Whether DDS sample s belongs on t's local topic: not written by a
 * gateway of this manager, this gateway leads the import, and its size
 * fits (each reason to drop one said once, all counted).  (t->mu held.) */
static int import_wanted(struct gw_topic *t, const zerocp_gw_Sample *s)
{
	uint64_t n = s->payload._length;

	if (id_local(s->origin_gateway)) {
		/* ours, or a sibling's: maybe one registered just now */
		return 0;
	}
	if (!atomic_load(&t->import_leader)) {
		t->n_dropped++;
		return 0;
	}
	if ((t->pub_type_size != 0 && n != t->pub_type_size) || n == 0 || n > gw.largest) {
		int why = t->pub_type_size != 0 && n != t->pub_type_size ? 1 : n == 0 ? 2 : 4;
		if (!(t->warned_size & why)) { /* each reason said once; all counted */
			t->warned_size |= why;
			note("topic %s: dropping a DDS sample of %llu bytes (%s); said once",
			     zcp_tool_q(t->name), (unsigned long long)n,
			     why == 1 ? "not the topic's type size"
			     : why == 2 ? "empty" : "larger than the largest chunk");
		}
		t->n_dropped++;
		return 0;
	}
	return 1;
}

/* (t->mu held.) */
static void import_one(struct gw_topic *t, const zerocp_gw_Sample *s)
{
	zcp_chunk *c;

	if (!import_wanted(t, s))
		return;
	if (atomic_load(&t->stalled)) { /* behind what waits: in order */
		backlog_push(t, s->payload._buffer, s->payload._length);
		return;
	}
	if ((c = import_copy(t, s->payload._buffer, s->payload._length)) == NULL)
		return;
	t->pend[t->pend_n++] = c;
	atomic_store(&t->stalled, publish_pending(t));
}

/* Take everything DDS reader `reader` of t holds and publish it; once a
 * local queue is full (a publish waited GW_BLOCK_NS: all a stalled topic
 * costs the others), the rest goes to the backlog.  (t->mu held.) */
static void import_drain(struct gw_topic *t, dds_entity_t reader)
{
	void *buf[GW_TAKE];
	dds_sample_info_t si[GW_TAKE];
	int n;

	while (!zcp_topic_stop && atomic_load(&t->imported) &&
	       (n = dds_take(reader, (buf[0] = NULL, buf), si, GW_TAKE, GW_TAKE)) > 0) {
		for (int i = 0; i < n; i++)
			if (si[i].valid_data)
				import_one(t, buf[i]);
		dds_return_loan(reader, buf, n);
	}
}

/* Drain t's reader while samples came (t->mu held). */
static void import_pump(struct gw_topic *t, dds_entity_t reader)
{
	while (atomic_exchange(&t->again, 0))
		import_drain(t, reader);
}

/* The listener of every import's DDS reader, in a receive thread of
 * Cyclone: the samples go out locally at once.  It never waits for
 * t->mu (that would hold up every topic): whoever holds it drains
 * again. */
static void on_data_available(dds_entity_t reader, void *arg)
{
	struct gw_topic *t = arg;

	atomic_store(&t->again, 1);
	while (pthread_mutex_trylock(&t->mu) == 0) {
		import_pump(t, reader);
		pthread_mutex_unlock(&t->mu);
		if (atomic_load(&t->stalled) && !atomic_exchange(&t->stall_signalled, 1))
			dds_set_guardcondition(gw.stall_guard, true); /* the import thread retries */
		if (!atomic_load(&t->again))
			break;
	}
}

/* Stalled topics whose queues have room again take up their readers. */
static void import_retry(void)
{
	for (int i = 0; i < atomic_load(&gw.n_topics) && !zcp_topic_stop; i++) {
		struct gw_topic *t = gw.topics[i];
		if (!atomic_load(&t->imported) || !atomic_load(&t->stalled))
			continue;
		pthread_mutex_lock(&t->mu);
		if (atomic_load(&t->stalled)) {
			if (!publish_pending(t)) {
				atomic_store(&t->stalled, 0);
				atomic_store(&t->stall_signalled, 0);
			}
			/* what waits in the reader: published, or backlogged */
			atomic_store(&t->again, 1);
			import_pump(t, t->reader);
		}
		pthread_mutex_unlock(&t->mu);
		/* a listener that found mu taken left its samples to us */
		if (atomic_load(&t->again))
			on_data_available(t->reader, t);
	}
}

/* Every 200 ms: the leaders, and imports whose DDS topic has had no
 * writer for --idle seconds (a DDS peer that made topics and left must not
 * keep the manager's topic table full). */
static void import_tick(const struct timespec *now)
{
	for (int i = 0; i < atomic_load(&gw.n_topics); i++) {
		struct gw_topic *t = gw.topics[i];
		dds_subscription_matched_status_t st;
		if (!atomic_load(&t->imported) || t->reader <= 0)
			continue;
		int l = is_leader(t->name, ZCP_ENDPOINT_PUBLISHER);
		if (l != atomic_load(&t->import_leader))
			note("%s importing topic %s", l ? "now" : "no longer", zcp_tool_q(t->name));
		atomic_store(&t->import_leader, l);
		int matched = dds_get_subscription_matched_status(t->reader, &st) == 0 &&
			      st.current_count > 0;
		if (idle_for_long(&t->import_idle, matched, now) && !atomic_load(&t->stalled)) {
			import_stop(t, "no DDS writer");
			continue;
		}
		uint64_t lost = atomic_load(&t->n_lost);
		if (lost != t->n_lost_told && gw.verbose >= 0 &&
		    (t->n_lost_told == 0 ||
		     zcp_topic_ts_diff(now, &t->lost_told_at) >= GW_LOSS_NOTE_S * 1000000000LL)) {
			note("topic %s: its subscribers do not take; %llu oldest samples dropped so "
			     "far (more than --backlog %llu MiB waited)",
			     zcp_tool_q(t->name), (unsigned long long)lost,
			     (unsigned long long)(gw.backlog >> 20));
			t->n_lost_told = lost;
			t->lost_told_at = *now;
		}
	}
}

static void *import_thread(void *arg)
{
	dds_entity_t ws = dds_create_waitset(gw.pp), builtin, rd;
	dds_attach_t xs[8];
	struct timespec next, now, next_reclaim = {0, 0};

	(void)arg;
	builtin = dds_create_reader(gw.pp, DDS_BUILTIN_TOPIC_DCPSPUBLICATION, NULL, NULL);
	rd = dds_create_readcondition(builtin, DDS_ANY_STATE);
	dds_waitset_attach(ws, rd, 1);
	dds_waitset_attach(ws, gw.guard, 0);
	dds_waitset_attach(ws, gw.stall_guard, 2);
	zcp_topic_now(&next);
	while (!zcp_topic_stop) {
		int stalled = 0;
		for (int i = 0; i < atomic_load(&gw.n_topics); i++)
			stalled |= atomic_load(&gw.topics[i]->stalled);
		int k = dds_waitset_wait(ws, xs, 8, DDS_MSECS(stalled ? GW_STALL_RETRY_MS : 200));
		for (int i = 0; i < k && !zcp_topic_stop; i++) {
			bool b;
			if (xs[i] == 1)
				import_discover(builtin);
			else if (xs[i] == 2)
				dds_take_guardcondition(gw.stall_guard, &b);
		}
		zcp_topic_now(&now);
		/* A dead subscriber's full queue drains only by its reclaim,
		 * which our short publishes never wait long enough to do. */
		if (stalled && zcp_topic_ts_diff(&now, &next_reclaim) >= 0) {
			zcp_mempool_manager_reclaim(gw.m, NULL);
			next_reclaim = now;
			zcp_topic_ts_add(&next_reclaim, 1000000000);
		}
		if (stalled)
			import_retry();
		if (zcp_topic_ts_diff(&now, &next) >= 0) {
			import_tick(&now);
			ids_prune();
			next = now;
			zcp_topic_ts_add(&next, 200000000);
		}
	}
	dds_delete(ws);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static int register_self(void)
{
	zcp_topic_options o;
	zcp_chunk *c;
	int err;

	zcp_topic_options_init(&o);
	o.history = 8;
	if ((err = zcp_subscriber_create(gw.m, GW_REGISTRY, &o, &gw.reg_sub)) != 0 ||
	    (err = zcp_publisher_create(gw.m, GW_REGISTRY, &o, &gw.reg_pub)) != 0) {
		zcp_tool_err("gateway", "cannot open the gateway registry (topic %s): %s (%s)",
			     GW_REGISTRY, zcp_strerror(err), zcp_err_name(err));
		return -1;
	}
	id_add(gw.id, 0);
	registry_drain();
	if ((c = zcp_publisher_loan(gw.reg_pub, sizeof(gw.id))) == NULL) {
		err = -errno;
	} else {
		memcpy(zcp_sample_data(c), &gw.id, sizeof(gw.id));
		if ((err = zcp_publisher_publish(gw.reg_pub, c)) != 0)
			zcp_chunk_release(gw.m, c);
	}
	if (err != 0) {
		zcp_tool_err("gateway", "cannot register in topic %s: %s", GW_REGISTRY,
			     zcp_strerror(err));
		return -1;
	}
	return 0;
}

static int pattern_opt(int argc, char **argv, int *i, const char *opt, const char **pats, int *n)
{
	const char *v;
	int r = zcp_tool_opt("gateway", argc, argv, i, opt, &v);

	if (r <= 0)
		return r;
	if (*n >= GW_MAX_PATTERNS) {
		zcp_tool_err("gateway", "more than %d %s patterns", GW_MAX_PATTERNS, opt);
		return -1;
	}
	pats[(*n)++] = v;
	return 1;
}

int main(int argc, char **argv)
{
	struct zcp_tool_target tg = {NULL, NULL, ZCP_OWNER_SELF, 0, 0};
	pthread_t th;
	int err;

	zcp_tool_progname = "zerocp-gateway";
	if (argc > 1 && (strcmp(argv[1], "ping") == 0 || strcmp(argv[1], "pong") == 0 ||
			 strcmp(argv[1], "sink") == 0))
		return zcp_gw_bench_main(argc - 1, argv + 1);
	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	gw.domain = DDS_DOMAIN_DEFAULT;
	gw.idle_s = GW_IDLE_S;
	gw.backlog = (uint64_t)GW_BACKLOG_MIB << 20;
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if ((r = zcp_topic_target_opt("gateway", argc, argv, &i, &tg)) != 0 ||
		    (r = pattern_opt(argc, argv, &i, "--export", gw.exports, &gw.n_exports)) != 0 ||
		    (r = pattern_opt(argc, argv, &i, "--import", gw.imports, &gw.n_imports)) != 0) {
			if (r < 0)
				return ZCP_TOOL_USAGE;
		} else if ((r = zcp_tool_opt("gateway", argc, argv, &i, "--domain", &v)) != 0) {
			unsigned long d;
			if (r < 0 || zcp_tool_parse_uint(v, 0, 232, &d) != 0) {
				if (r > 0)
					zcp_tool_err("gateway", "bad --domain %s: 0 to 232",
						     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
			gw.domain = (dds_domainid_t)d;
		} else if ((r = zcp_tool_opt("gateway", argc, argv, &i, "--idle", &v)) != 0) {
			unsigned long s;
			if (r < 0 || zcp_tool_parse_uint(v, 1, 86400, &s) != 0) {
				if (r > 0)
					zcp_tool_err("gateway", "bad --idle %s: 1 to 86400 seconds",
						     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
			gw.idle_s = (long)s;
		} else if ((r = zcp_tool_opt("gateway", argc, argv, &i, "--backlog", &v)) != 0) {
			unsigned long mib;
			if (r < 0 || zcp_tool_parse_uint(v, 1, 65536, &mib) != 0) {
				if (r > 0)
					zcp_tool_err("gateway", "bad --backlog %s: 1 to 65536 MiB",
						     zcp_tool_q(v));
				return ZCP_TOOL_USAGE;
			}
			gw.backlog = (uint64_t)mib << 20;
		} else if (strcmp(argv[i], "--best-effort") == 0) {
			gw.best_effort = 1;
		} else if (strcmp(argv[i], "--quiet") == 0) {
			gw.verbose = -1;
		} else if (strcmp(argv[i], "--verbose") == 0) {
			gw.verbose = 1;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("%s %s\n", zcp_tool_progname, zcp_version_string());
			return ZCP_TOOL_OK;
		} else {
			zcp_tool_err("gateway", "unknown %s %s",
				     argv[i][0] == '-' ? "option" : "argument", zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		}
	}
	if (gw.n_exports + gw.n_imports == 0) {
		zcp_tool_err("gateway", "nothing to bridge: give --export or --import");
		usage(stderr);
		return ZCP_TOOL_USAGE;
	}
	if (zcp_topic_target_check("gateway", &tg) != 0)
		return ZCP_TOOL_USAGE;
	if (zcp_topic_signals() != 0) {
		zcp_tool_err("gateway", "cannot install signal handlers: %s", strerror(errno));
		return ZCP_TOOL_FAIL;
	}
	while (gw.id == 0)
		if (getrandom(&gw.id, sizeof(gw.id), 0) != sizeof(gw.id)) {
			zcp_tool_err("gateway", "getrandom: %s", strerror(errno));
			return ZCP_TOOL_FAIL;
		}
	if ((err = zcp_tool_attach("gateway", &tg, &gw.m, NULL)) != 0) {
		zcp_tool_attach_error("gateway", &tg, err);
		return ZCP_TOOL_FAIL;
	}
	gw.process = zcp_mempool_manager_process_id(gw.m);
	gw.largest = zcp_topic_largest_chunk(gw.m);
	if (register_self() != 0) {
		zcp_subscriber_close(gw.reg_sub);
		zcp_publisher_close(gw.reg_pub);
		zcp_mempool_manager_detach(gw.m);
		return ZCP_TOOL_FAIL;
	}
	gw.pp = dds_create_participant(gw.domain, NULL, NULL);
	if (gw.pp < 0) {
		zcp_tool_err("gateway", "cannot join DDS domain: %s (CYCLONEDDS_URI?)",
			     dds_strretcode(gw.pp));
		zcp_subscriber_close(gw.reg_sub);
		zcp_publisher_close(gw.reg_pub);
		zcp_mempool_manager_detach(gw.m);
		return ZCP_TOOL_FAIL;
	}
	gw.guard = dds_create_guardcondition(gw.pp);
	gw.stall_guard = dds_create_guardcondition(gw.pp);
	/* Writes wait in a batch until dds_write_flush (export_loop, once per
	 * topic per wake) or a full packet. */
	dds_write_set_batch(true);
	note("gateway 0x%016llx on manager %s (process 0x%llx): ready", (unsigned long long)gw.id,
	     zcp_mempool_manager_name(gw.m), (unsigned long long)gw.process);
	if (gw.n_imports > 0 && pthread_create(&th, NULL, import_thread, NULL) != 0) {
		zcp_tool_err("gateway", "cannot start the import thread");
		gw.failed = 1;
		gw.n_imports = 0;
	}
	if (!gw.failed)
		export_loop();
	zcp_topic_stop = 1;
	/* Stopping must not hang: Cyclone joins its receive threads, which
	 * wait for a packet that a vanished interface never brings.  What
	 * is left undone the manager reclaims. */
	alarm(10);
	if (gw.n_imports > 0) {
		dds_set_guardcondition(gw.guard, true);
		pthread_join(th, NULL);
	}
	/* The readers first: no listener runs once they are gone. */
	char bridged[GW_MAX_TOPICS];
	for (int i = 0; i < atomic_load(&gw.n_topics); i++) {
		struct gw_topic *t = gw.topics[i];
		bridged[i] = t->exported || atomic_load(&t->imported);
		if (atomic_load(&t->imported))
			import_stop(t, NULL);
	}
	for (int i = 0; i < atomic_load(&gw.n_topics); i++) {
		struct gw_topic *t = gw.topics[i];
		if (bridged[i])
			note("topic %s: %llu sent to DDS, %llu skipped; %llu received, %llu dropped, "
			     "%llu lost to a full backlog",
			     zcp_tool_q(t->name), (unsigned long long)t->n_out,
			     (unsigned long long)t->n_skipped, (unsigned long long)t->n_in,
			     (unsigned long long)t->n_dropped,
			     (unsigned long long)atomic_load(&t->n_lost));
		if (t->held != NULL)
			zcp_chunk_release(gw.m, t->held);
		zcp_subscriber_close(t->sub);
		pthread_mutex_destroy(&t->mu);
		free(t);
	}
	dds_delete(gw.pp);
	zcp_subscriber_close(gw.reg_sub);
	zcp_publisher_close(gw.reg_pub);
	zcp_mempool_manager_detach(gw.m);
	return gw.failed ? ZCP_TOOL_FAIL : ZCP_TOOL_OK;
}
