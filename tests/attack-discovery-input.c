/* SPDX-License-Identifier: MIT */
/*
 * tests/attack-discovery-input.c - discovery calls (and topic create/close) on bad input:
 * NULL, out-of-range indexes, topics off, read-only handles, a forked child
 * using its parent's handle, a manager destroyed / its creator killed under
 * an attached reader, and a peer scribbling random bytes over the management
 * segment while get_info/get_endpoint run (no crash, no hang, terminated
 * strings, documented codes only).  TAP on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zerocp/zerocp.h>

static int T, FAILS;
static char NAMES[8][96];
static int NN;

static void tap(int ok, const char *fmt, ...)
{
	va_list ap;
	printf("%s %d - ", ok ? "ok" : "not ok", ++T);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	FAILS += !ok;
}
static void cleanup(void)
{
	for (int i = 0; i < NN; i++)
		zcp_mempool_manager_unlink(NAMES[i]);
}
static void on_sig(int s)
{
	cleanup();
	signal(s, SIG_DFL);
	raise(s);
}
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static zcp_mempool_manager *mk(const char *tag, unsigned topics, zcp_mempool_manager **out)
{
	zcp_mempool_config *c = zcp_mempool_config_new();
	char *nm = NAMES[NN++];
	snprintf(nm, 96, "adisc_%d_%s", (int)getpid(), tag);
	zcp_mempool_config_add_entry(c, 256, 64);
	zcp_mempool_config_set_topics(c, topics, 2, 2, 64);
	int r = zcp_mempool_manager_create(nm, c, out);
	zcp_mempool_config_free(c);
	if (r) {
		printf("# create %s: %s\n", nm, zcp_err_name(r));
		*out = NULL;
	}
	return *out;
}

#define IS(expr, want)                                                                              \
	do {                                                                                        \
		long _r = (long)(expr);                                                             \
		tap(_r == (long)(want), "%s == %s (got %ld %s)", #expr, #want, _r, zcp_err_name((int)_r)); \
	} while (0)

static int terminated(const zcp_topic_info *ti)
{
	return memchr(ti->name, 0, sizeof ti->name) && memchr(ti->type_name, 0, sizeof ti->type_name);
}

int main(void)
{
	zcp_mempool_manager *m, *m0;
	zcp_topic_info ti;
	zcp_endpoint_info ei;
	zcp_topic_options o;
	zcp_publisher *p = NULL, *p2 = NULL;
	zcp_subscriber *s = NULL;
	char n64[65], n63[64];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_sig), signal(SIGTERM, on_sig), signal(SIGSEGV, on_sig), signal(SIGABRT, on_sig);
	atexit(cleanup);
	printf("1..65\n");
	if (!mk("bad", 4, &m)) {
		tap(0, "create manager");
		return 1;
	}
	int slots = zcp_topic_slots(m), es = zcp_topic_endpoint_slots(m);
	tap(slots == 4 && es == 4, "zcp_topic_slots %d == 4, zcp_topic_endpoint_slots %d == 2+2", slots, es);
	tap(zcp_topic_slots(NULL) < 0, "zcp_topic_slots(NULL) negative (%d)", zcp_topic_slots(NULL));
	tap(zcp_topic_endpoint_slots(NULL) < 0, "zcp_topic_endpoint_slots(NULL) negative (%d)",
	    zcp_topic_endpoint_slots(NULL));
	IS(zcp_topic_get_info(NULL, 0, &ti), ZCP_EINVAL);
	IS(zcp_topic_get_info(m, 0, NULL), ZCP_EINVAL);
	IS(zcp_topic_get_info(m, -1, &ti), ZCP_EINVAL);
	IS(zcp_topic_get_info(m, 4, &ti), ZCP_EINVAL);
	IS(zcp_topic_get_info(m, INT_MAX, &ti), ZCP_EINVAL);
	IS(zcp_topic_get_info(m, INT_MIN, &ti), ZCP_EINVAL);
	IS(zcp_topic_get_info(m, 0, &ti), ZCP_ENOENT);
	IS(zcp_topic_get_endpoint(NULL, 0, 0, &ei), ZCP_EINVAL);
	IS(zcp_topic_get_endpoint(m, 0, 0, NULL), ZCP_EINVAL);
	IS(zcp_topic_get_endpoint(m, -1, 0, &ei), ZCP_EINVAL);
	IS(zcp_topic_get_endpoint(m, 4, 0, &ei), ZCP_EINVAL);
	IS(zcp_topic_get_endpoint(m, 0, -1, &ei), ZCP_EINVAL);
	IS(zcp_topic_get_endpoint(m, 0, 4, &ei), ZCP_EINVAL);
	IS(zcp_topic_get_endpoint(m, 0, INT_MIN, &ei), ZCP_EINVAL);
	IS(zcp_topic_get_endpoint(m, 0, 0, &ei), ZCP_ENOENT);

	/* create: bad arguments */
	zcp_topic_options_init(&o);
	memset(n64, 'a', 64), n64[64] = 0;
	memset(n63, 'b', 63), n63[63] = 0;
	IS(zcp_publisher_create(NULL, "x", &o, &p), ZCP_EINVAL);
	IS(zcp_publisher_create(m, NULL, &o, &p), ZCP_EINVAL);
	IS(zcp_publisher_create(m, "x", &o, NULL), ZCP_EINVAL);
	IS(zcp_publisher_create(m, "", &o, &p), ZCP_EINVAL);
	IS(zcp_publisher_create(m, "a/b", &o, &p), ZCP_EINVAL);
	IS(zcp_publisher_create(m, n64, &o, &p), ZCP_EINVAL);
	IS(zcp_subscriber_create(m, n64, &o, &s), ZCP_EINVAL);
	IS(zcp_subscriber_create(NULL, "x", &o, &s), ZCP_EINVAL);
	IS(zcp_subscriber_create(m, "x", &o, NULL), ZCP_EINVAL);
	o.capacity = 65;
	IS(zcp_publisher_create(m, "x", &o, &p), ZCP_EINVAL);
	zcp_topic_options_init(&o), o.history = 65;
	IS(zcp_subscriber_create(m, "x", &o, &s), ZCP_EINVAL);
	zcp_topic_options_init(&o), o.type_name = "T", o.type_size = 8, o.type_align = 3;
	IS(zcp_publisher_create(m, "x", &o, &p), ZCP_EINVAL);
	o.type_align = 8192;
	IS(zcp_publisher_create(m, "x", &o, &p), ZCP_EINVAL);
	zcp_topic_options_init(&o), o.overflow = 3;
	IS(zcp_publisher_create(m, "x", &o, &p), ZCP_EINVAL);
	o.overflow = -1;
	IS(zcp_publisher_create(m, "x", &o, &p), ZCP_EINVAL);
	/* none of those may have made a topic */
	int made = 0;
	for (int i = 0; i < slots; i++)
		made += zcp_topic_get_info(m, i, &ti) == 0;
	tap(made == 0, "rejected creates made no topic (%d present)", made);

	/* a 64-character type name: no documented error; must not crash and
	 * get_info must stay terminated */
	{
		char t64[65];
		memset(t64, 'T', 64), t64[64] = 0;
		zcp_topic_options_init(&o), o.type_name = t64, o.type_size = 8;
		int r = zcp_publisher_create(m, "longtype", &o, &p);
		int ok = 1;
		if (r == 0) {
			for (int i = 0; i < slots; i++)
				if (zcp_topic_get_info(m, i, &ti) == 0)
					ok &= terminated(&ti) && strlen(ti.type_name) <= ZCP_TYPE_NAME_MAX;
			printf("# 64-char type name accepted: get_info type_name='%.70s'\n", ti.type_name);
			zcp_publisher_close(p);
		}
		tap((r == 0 || r == ZCP_EINVAL) && ok, "64-char type name: create -> %s, descriptor terminated",
		    zcp_err_name(r));
	}

	/* valid: 63-char name, find it by scan, endpoints */
	zcp_topic_options_init(&o), o.capacity = 7, o.history = 9, o.type_name = "Pt", o.type_size = 40,
				o.type_align = 256;
	IS(zcp_publisher_create(m, n63, &o, &p), 0);
	int idx = -1;
	for (int i = 0; i < slots; i++)
		if (zcp_topic_get_info(m, i, &ti) == 0 && strcmp(ti.name, n63) == 0)
			idx = i;
	zcp_topic_get_info(m, idx < 0 ? 0 : idx, &ti);
	tap(idx >= 0 && ti.capacity == 7 && ti.history == 9 && !strcmp(ti.type_name, "Pt") && ti.type_size == 40 &&
		ti.type_align == 256 && ti.publishers == 1 && ti.subscribers == 0,
	    "63-char topic found by scan at %d with its descriptor", idx);
	{
		int np = 0, other = 0;
		for (int k = 0; k < es; k++) {
			int r = zcp_topic_get_endpoint(m, idx, k, &ei);
			if (r == 0 && ei.kind == ZCP_ENDPOINT_PUBLISHER && ei.alive == 1 && ei.pid == getpid() &&
			    ei.id == zcp_publisher_id(p) && ei.process == zcp_mempool_manager_process_id(m) && !ei.closed)
				np++;
			else if (r != ZCP_ENOENT)
				other++;
		}
		tap(np == 1 && other == 0, "get_endpoint: exactly our publisher (pid, id, process, alive) (%d, other %d)",
		    np, other);
	}
	/* wrong type */
	zcp_topic_options_init(&o), o.capacity = 7, o.history = 9, o.type_name = "Other", o.type_size = 40;
	IS(zcp_subscriber_create(m, n63, &o, &s), ZCP_ETYPE);
	zcp_topic_options_init(&o);
	IS(zcp_subscriber_create(m, n63, &o, &s), 0); /* untyped: takes any type */
	zcp_subscriber_close(s);
	IS(zcp_publisher_close(NULL), 0);
	IS(zcp_subscriber_close(NULL), 0);

	/* fork: the child uses the parent's handle */
	{
		int pfd[2];
		if (pipe(pfd))
			return 1;
		pid_t c = fork();
		if (c == 0) {
			int res[10];
			zcp_topic_info cti;
			zcp_endpoint_info cei;
			zcp_publisher *cp = NULL;
			zcp_subscriber *cs = NULL;
			res[0] = zcp_topic_get_info(m, idx, &cti);
			res[1] = zcp_topic_get_endpoint(m, idx, 0, &cei);
			res[2] = zcp_topic_slots(m);
			res[3] = zcp_topic_endpoint_slots(m);
			res[4] = zcp_publisher_create(m, "childpub", NULL, &cp);
			res[5] = zcp_subscriber_create(m, n63, NULL, &cs);
			res[6] = zcp_publisher_close(p); /* the parent's publisher */
			res[7] = zcp_mempool_manager_reclaim(m, NULL);
			if (write(pfd[1], res, sizeof res) < 0)
				_exit(2);
			_exit(0);
		}
		int res[10] = {0}, st = 0;
		close(pfd[1]);
		ssize_t got = read(pfd[0], res, sizeof res);
		close(pfd[0]);
		waitpid(c, &st, 0);
		tap(WIFEXITED(st) && WEXITSTATUS(st) == 0 && got == (ssize_t)sizeof res, "forked child using the parent's handle did not crash (status 0x%x)", st);
		tap(res[0] == ZCP_ECHILD && res[1] == ZCP_ECHILD,
		    "child: get_info -> %s, get_endpoint -> %s (want ECHILD)", zcp_err_name(res[0]),
		    zcp_err_name(res[1]));
		tap(res[2] < 0 && res[3] < 0, "child: topic_slots -> %d, endpoint_slots -> %d (want negative)", res[2],
		    res[3]);
		tap(res[4] == ZCP_ECHILD && res[5] == ZCP_ECHILD,
		    "child: publisher_create -> %s, subscriber_create -> %s (want ECHILD)", zcp_err_name(res[4]),
		    zcp_err_name(res[5]));
		printf("# child: zcp_publisher_close(parent's) -> %s, reclaim -> %s\n", zcp_err_name(res[6]),
		       zcp_err_name(res[7]));
		int r = zcp_topic_get_info(m, idx, &ti);
		tap(r == 0 && ti.publishers == 1 && !strcmp(ti.name, n63),
		    "parent's topic unchanged after the child's calls (%s, publishers %u)", zcp_err_name(r),
		    ti.publishers);
		int r2 = 0, n = 0;
		for (int i = 0; i < slots; i++)
			if (zcp_topic_get_info(m, i, &ti) == 0 && !strcmp(ti.name, "childpub"))
				n++;
		tap(n == 0, "child made no topic 'childpub' (%d)", n);
		zcp_chunk *ch = zcp_publisher_loan(p, 0);
		r2 = ch ? zcp_publisher_publish(p, ch) : -errno;
		tap(r2 == 0, "parent's publisher still publishes after the child closed its copy (%s)", zcp_err_name(r2));
	}

	/* topics off */
	if (mk("off", 0, &m0)) {
		IS(zcp_topic_slots(m0), 0);
		IS(zcp_topic_get_info(m0, 0, &ti), ZCP_EINVAL);
		IS(zcp_topic_get_endpoint(m0, 0, 0, &ei), ZCP_EINVAL);
		IS(zcp_subscriber_create(m0, "x", NULL, &s), ZCP_ETOPICS);
		IS(zcp_publisher_create(m0, "x", NULL, &p2), ZCP_ETOPICS);
		zcp_mempool_manager_destroy(m0);
	} else
		for (int i = 0; i < 5; i++)
			tap(0, "topics-off manager");

	/* read-only handle */
	{
		zcp_attach_options ao;
		zcp_mempool_manager *ro = NULL;
		zcp_attach_options_init(&ao), ao.read_only = 1;
		int r = zcp_mempool_manager_attach_opts(NAMES[0], &ao, &ro);
		IS(r, 0);
		if (!r) {
			int g = zcp_topic_get_info(ro, idx, &ti);
			tap(g == 0 && !strcmp(ti.name, n63) && ti.type_size == 40, "read-only get_info (%s)", zcp_err_name(g));
			IS(zcp_publisher_create(ro, "y", NULL, &p2), ZCP_EPERM);
			IS(zcp_subscriber_create(ro, "y", NULL, &s), ZCP_EPERM);
			zcp_mempool_manager_detach(ro);
		} else
			for (int i = 0; i < 3; i++)
				tap(0, "read-only");
	}

	/* manager destroyed, then its creator killed, under an attached reader */
	{
		int go[2], done[2];
		if (pipe(go) || pipe(done))
			return 1;
		pid_t creator = fork();
		if (creator == 0) {
			zcp_mempool_manager *cm;
			zcp_publisher *cp;
			zcp_mempool_config *c = zcp_mempool_config_new();
			char nm[96];
			snprintf(nm, sizeof nm, "adisc_%d_gone", (int)getppid());
			zcp_mempool_config_add_entry(c, 256, 8);
			zcp_mempool_config_set_topics(c, 2, 2, 2, 64);
			if (zcp_mempool_manager_create(nm, c, &cm))
				_exit(3);
			zcp_topic_options_init(&o), o.type_name = "G", o.type_size = 4;
			{ int pr = zcp_publisher_create(cm, "gone_topic", &o, &cp); if (pr) printf("# creator: publisher_create -> %s\n", zcp_err_name(pr)); }
			if (write(go[1], "x", 1) < 0)
				_exit(2);
			char b;
			if (read(done[0], &b, 1) < 0)
				_exit(2);
			zcp_mempool_manager_destroy(cm); /* unlinks; the reader keeps its mapping */
			if (write(go[1], "y", 1) < 0)
				_exit(2);
			pause();
			_exit(0);
		}
		snprintf(NAMES[NN++], 96, "adisc_%d_gone", (int)getpid());
		char b;
		zcp_mempool_manager *a = NULL;
		int ra = -1, g1 = -1, g2 = -1, g3 = -1;
		/* find the topic by name: slot placement is the library's business */
#define FINDG(h)                                                                                    \
	({                                                                                          \
		int _g = ZCP_ENOENT;                                                                \
		for (int _i = 0; _i < zcp_topic_slots(h) && _g; _i++)                               \
			if ((_g = zcp_topic_get_info(h, _i, &ti)) == 0 && strcmp(ti.name, "gone_topic")) \
				_g = ZCP_ENOENT;                                                    \
		_g;                                                                                 \
	})
		if (read(go[0], &b, 1) == 1)
			ra = zcp_mempool_manager_attach(NAMES[NN - 1], &a);
		if (!ra) {
			g1 = FINDG(a);
			if (write(done[1], "x", 1) < 0)
				return 1;
			if (read(go[0], &b, 1) == 1)
				g2 = FINDG(a); /* after destroy */
			kill(creator, SIGKILL);
			waitpid(creator, NULL, 0);
			zcp_mempool_manager_reclaim(a, NULL);
			g3 = FINDG(a);
			int e = 0;
			for (int k = 0; k < zcp_topic_endpoint_slots(a); k++)
				if (zcp_topic_get_endpoint(a, 0, k, &ei) == 0)
					printf("# after creator death: endpoint %d kind %d alive %d closed %d\n", k, ei.kind,
					       ei.alive, ei.closed), e++;
			printf("# destroyed manager: get_info before %s, after destroy %s, after creator SIGKILL+reclaim %s "
			       "(pubs %u closed %u)\n",
			       zcp_err_name(g1), zcp_err_name(g2), zcp_err_name(g3), ti.publishers, ti.closed_publishers);
			zcp_mempool_manager_detach(a);
		} else {
			if (write(done[1], "x", 1) < 0)
				return 1;
			kill(creator, SIGKILL);
			waitpid(creator, NULL, 0);
		}
		tap(ra == 0 && g1 == 0 && g2 == 0 && (g3 == 0 || g3 == ZCP_ENOENT),
		    "attached reader of a destroyed manager / dead creator: get_info sane (attach %s, %s, %s, %s)",
		    zcp_err_name(ra), zcp_err_name(g1), zcp_err_name(g2), zcp_err_name(g3));
		struct stat sb;
		char path[160];
		snprintf(path, sizeof path, "/dev/shm/zerocp_%s_mgmt", NAMES[NN - 1]);
		tap(stat(path, &sb) != 0, "destroyed manager's segment is gone from /dev/shm");
	}

	/* scribble: a peer writes random bytes over the management segment
	 * while we read.  Promise tested: no crash, no hang, documented codes,
	 * terminated strings.  (Whether garbage is detected cannot be judged.) */
	{
		zcp_mempool_manager *sm;
		if (!mk("scrib", 4, &sm)) {
			for (int i = 0; i < 4; i++)
				tap(0, "scribble manager");
		} else {
			zcp_subscriber *ss[4];
			for (int i = 0; i < 4; i++) {
				char nm[16];
				snprintf(nm, sizeof nm, "s%d", i);
				zcp_topic_options_init(&o), o.type_name = "S", o.type_size = 8;
				zcp_subscriber_create(sm, nm, &o, &ss[i]);
			}
			zcp_mempool_layout lay;
			zcp_mempool_manager_get_layout(sm, &lay);
			pid_t sc = fork();
			if (sc == 0) {
				char path[160];
				snprintf(path, sizeof path, "/dev/shm/zerocp_%s_mgmt", NAMES[NN - 1]);
				int fd = open(path, O_RDWR);
				struct stat sb;
				if (fd < 0 || fstat(fd, &sb))
					_exit(3);
				unsigned char *b = mmap(NULL, sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
				if (b == MAP_FAILED)
					_exit(3);
				uint64_t x = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull | 1;
				uint64_t end = now_ns() + 2000000000ull;
				/* the topic table is at the end of the management segment (fixed part,
				 * then per-chunk records, then topics: its size is topic_table_size) */
				uint64_t lo = sb.st_size > (off_t)lay.topic_table_size ? sb.st_size - lay.topic_table_size : 0;
				while (now_ns() < end) {
					x ^= x << 13, x ^= x >> 7, x ^= x << 17;
					uint64_t off = (x % 4 == 0) ? (x >> 8) % (uint64_t)sb.st_size
								    : lo + (x >> 8) % ((uint64_t)sb.st_size - lo);
					b[off] = (unsigned char)(x >> 56);
					if ((x & 0xff) == 0)
						usleep(50);
				}
				_exit(0);
			}
			uint64_t end = now_ns() + 2000000000ull, maxlat = 0;
			unsigned long reads = 0, ok = 0, unterminated = 0, undoc = 0, codes[8] = {0};
			while (now_ns() < end) {
				for (int i = 0; i < 4; i++) {
					memset(&ti, 0xa5, sizeof ti);
					uint64_t t0 = now_ns();
					int r = zcp_topic_get_info(sm, i, &ti);
					for (int k = 0; k < 4; k++)
						zcp_topic_get_endpoint(sm, i, k, &ei);
					uint64_t dt = now_ns() - t0;
					if (dt > maxlat)
						maxlat = dt;
					reads++;
					if (r == 0) {
						ok++;
						if (!terminated(&ti))
							unterminated++;
					} else if (r == ZCP_ENOENT)
						codes[0]++;
					else if (r == ZCP_EAGAIN)
						codes[1]++;
					else if (r == ZCP_ECORRUPT)
						codes[2]++;
					else if (r == ZCP_EINVAL)
						codes[3]++;
					else
						undoc++;
				}
			}
			int st;
			waitpid(sc, &st, 0);
			printf("# scribble: %lu reads, %lu ok, ENOENT %lu EAGAIN %lu ECORRUPT %lu EINVAL %lu undocumented %lu, "
			       "max latency %.3f ms\n",
			       reads, ok, codes[0], codes[1], codes[2], codes[3], undoc, maxlat / 1e6);
			tap(WIFEXITED(st) && WEXITSTATUS(st) == 0, "scribbler ran (status 0x%x)", st);
			tap(unterminated == 0, "scribbled: every successful get_info has terminated strings (%lu not)", unterminated);
			tap(undoc == 0, "scribbled: only documented get_info codes (%lu other)", undoc);
			tap(maxlat < 1000000000ull, "scribbled: get_info+get_endpoint never took 1 s (max %.3f ms)", maxlat / 1e6);
			/* Closing and destroying over the scribbled table: no crash,
			 * no hang, documented codes, and the segments are gone. */
			uint64_t t0 = now_ns();
			int cerr = 0;
			for (int i = 0; i < 4; i++) {
				int r = zcp_subscriber_close(ss[i]);
				if (r != 0 && r != ZCP_ECORRUPT && r != ZCP_EAGAIN && !cerr)
					cerr = r;
			}
			int dr = zcp_mempool_manager_destroy(sm);
			if (dr != 0)
				zcp_mempool_manager_remove(sm), zcp_mempool_manager_detach(sm);
			tap(cerr == 0 && (now_ns() - t0) < 5000000000ull,
			    "scribbled: subscribers close (%s) and the manager is destroyed (%s) within 5 s",
			    zcp_err_name(cerr), zcp_err_name(dr));
		}
	}

	zcp_publisher_close(p);
	zcp_mempool_manager_destroy(m);
	printf("# %d failed\n", FAILS);
	return FAILS ? 1 : 0;
}
