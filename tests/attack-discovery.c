/* SPDX-License-Identifier: MIT */
/*
 * tests/attack-discovery.c - outside attack on zcp_topic_get_info() / zcp_topic_get_endpoint():
 * torn descriptors while topics are created, typed, closed, recycled and while
 * churning processes are SIGKILLed.  Written from the public headers and man
 * pages only.
 *
 * Every topic name encodes the descriptor it must have:
 *   t_<cap>_<hist>_<tsize>_<align>_<tag>_<ck>     (ck: 8-bit hash of the rest)
 * and its type name is  Y<tag>_<cap>_<hist>_<tsize>_<align>.
 * A successful read must be either untyped ("", 0, 64) or exactly that type,
 * with exactly that capacity/history.  Nobody publishes, so published, lost,
 * kept, closed_publishers and every endpoint counter must be 0.
 *
 * Usage: attack-discovery [seconds-per-scenario-scale]  (TAP on stdout;
 * default scale 0.3, about 8 s in all; 1 under "make stress", which sets
 * ZCP_TEST_ITERS).  Not root: the scenarios run without their reader as
 * uid nobody and their processes in PID namespaces (said in a comment).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zerocp/zerocp.h>

#define MAXQ 64
#define NSHARED 16
#define MAXCHURN 8
#define MAXREAD 8

/* ---------------------------------------------------------------- shared stats */
struct rstats { /* one per reader (thread or process) */
	_Atomic unsigned long reads, ok, enoent, eagain, ecorrupt, other, bad, typed, untyped;
	_Atomic unsigned long ep_reads, ep_ok, ep_bad, ep_err;
	_Atomic unsigned long max_lat_ns, closed_nopub, ep_closed;
	char first_closed[256];
	_Atomic int started, finished, attach_err;
	char first_bad[512];
	char first_other[128];
};
struct cstats { /* shared by all churners */
	_Atomic unsigned long iters, creates_ok, etopics, eendpoints, etype, eagain, other, close_err;
	_Atomic unsigned long find_ok, find_miss, find_dup, find_untyped_after_typed, find_inconcl, find_bad;
	_Atomic unsigned long reclaims, respawns, attach_err;
	char first_other[256];
	char first_find[512];
};
struct shared {
	_Atomic int stop;
	struct rstats r[MAXREAD];
	struct cstats c;
	_Atomic long nsgrand[MAXCHURN + MAXREAD]; /* readers at MAXCHURN + idx */ /* outer pid of a pid-namespace churner */
};
static struct shared *SH;

/* ---------------------------------------------------------------- config */
struct scen {
	const char *id;
	unsigned topics, maxpub, maxsub;
	int churn_procs, churn_threads;   /* processes x threads */
	int inproc_churn_threads;         /* churner threads in the parent process */
	int inproc_readers;               /* reader threads in the parent process */
	int reader_procs;                 /* plain reader processes (root) */
	int reader_nobody;                /* reader process running as uid nobody */
	int reader_pidns;                 /* reader process in a new PID namespace */
	int churn_pidns;                  /* one churner process in a new PID namespace */
	int kill;                         /* SIGKILL churner processes at random */
	int typing_only;                  /* churn: untyped sub then typed pub on fresh names */
	double secs;
};

static char MGR[96];
static unsigned MAXPUB, MAXSUB, TOPICS;
static int TYPING_ONLY;

/* ---------------------------------------------------------------- helpers */
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static uint64_t xs(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}
static unsigned ck8(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return (h ^ (h >> 8) ^ (h >> 16) ^ (h >> 24)) & 0xff;
}

struct tdesc {
	unsigned cap, hist, tsize, align, tag;
	char name[64], type[64];
};
static void make_desc(struct tdesc *d, unsigned cap, unsigned hist, unsigned tsize, unsigned align,
		      unsigned tag)
{
	char pre[48]; /* with "_xx", fits name[64] */
	d->cap = cap, d->hist = hist, d->tsize = tsize, d->align = align, d->tag = tag;
	snprintf(pre, sizeof pre, "t_%u_%u_%u_%u_%x", cap, hist, tsize, align, tag);
	snprintf(d->name, sizeof d->name, "%s_%02x", pre, ck8(pre));
	snprintf(d->type, sizeof d->type, "Y%x_%u_%u_%u_%u", tag, cap, hist, tsize, align);
}
static void rand_desc(struct tdesc *d, uint64_t *rs, unsigned tag)
{
	uint64_t r = xs(rs);
	unsigned cap = 1 + (unsigned)(r % MAXQ);
	unsigned hist = (unsigned)((r >> 8) % (MAXQ + 1));
	unsigned tsize = 1 + (unsigned)((r >> 16) % 4096);
	unsigned align = 64u << ((r >> 32) % 7); /* 64..4096 */
	make_desc(d, cap, hist, tsize, align, tag);
}
static void shared_desc(struct tdesc *d, int i)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
	rand_desc(d, &s, 0x5000u + (unsigned)i);
}

static int strterm(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

/* 1 if consistent; else 0 and why */
static int check_info(const zcp_topic_info *ti, char *why, size_t wn, int *typed)
{
	unsigned cap, hist, tsize, align, tag, ck;
	int n = -1;
	struct tdesc d;
	if (!strterm(ti->name, sizeof ti->name) || !strterm(ti->type_name, sizeof ti->type_name)) {
		snprintf(why, wn, "unterminated name/type");
		return 0;
	}
	if (sscanf(ti->name, "t_%u_%u_%u_%u_%x_%2x%n", &cap, &hist, &tsize, &align, &tag, &ck, &n) != 6 ||
	    n != (int)strlen(ti->name)) {
		/* the quiesce probe topics are "q_..." : accept them only if untyped-ish */
		if (strncmp(ti->name, "q_", 2) == 0)
			return *typed = 0, 1;
		snprintf(why, wn, "unparsable name '%.63s'", ti->name);
		return 0;
	}
	make_desc(&d, cap, hist, tsize, align, tag);
	if (strcmp(d.name, ti->name) != 0) {
		snprintf(why, wn, "name '%s' fails its checksum (want '%s')", ti->name, d.name);
		return 0;
	}
	if (ti->capacity != cap || ti->history != hist) {
		snprintf(why, wn, "'%s': capacity/history %u/%u, want %u/%u", ti->name, ti->capacity,
			 ti->history, cap, hist);
		return 0;
	}
	if (ti->type_name[0] == 0 && ti->type_size == 0 && ti->type_align == 64) {
		*typed = 0;
	} else if (strcmp(ti->type_name, d.type) == 0 && ti->type_size == tsize &&
		   ti->type_align == align) {
		*typed = 1;
	} else {
		snprintf(why, wn, "'%s': type ('%s',%llu,%llu), want ('',0,64) or ('%s',%u,%u)", ti->name,
			 ti->type_name, (unsigned long long)ti->type_size,
			 (unsigned long long)ti->type_align, d.type, tsize, align);
		return 0;
	}
	if (ti->closed_publishers != 0 && ti->published == 0 && ti->kept == 0 &&
	    ti->closed_publishers <= MAXPUB && ti->publishers + ti->closed_publishers <= MAXPUB &&
	    ti->subscribers <= MAXSUB && ti->lost == 0) {
		/* a count anomaly, not a torn descriptor: see CLOSED_NOPUB */
		snprintf(why, wn, "'%s': pubs %u subs %u closed_publishers %u although nothing was ever "
			 "published (published 0, kept 0)", ti->name, ti->publishers, ti->subscribers,
			 ti->closed_publishers);
		return 2;
	}
	if (ti->publishers > MAXPUB || ti->subscribers > MAXSUB || ti->closed_publishers != 0 ||
	    ti->published != 0 || ti->lost != 0 || ti->kept != 0) {
		snprintf(why, wn,
			 "'%s': counts pubs %u subs %u closed %u published %llu lost %llu kept %llu "
			 "(limits %u/%u, nothing is ever published)",
			 ti->name, ti->publishers, ti->subscribers, ti->closed_publishers,
			 (unsigned long long)ti->published, (unsigned long long)ti->lost,
			 (unsigned long long)ti->kept, MAXPUB, MAXSUB);
		return 0;
	}
	return 1;
}

static int check_ep(const zcp_endpoint_info *e, char *why, size_t wn)
{
	if ((e->kind != ZCP_ENDPOINT_PUBLISHER && e->kind != ZCP_ENDPOINT_SUBSCRIBER) ||
	    (e->closed != 0 && e->closed != 1) || (e->alive != 0 && e->alive != 1) ||
	    (e->pid < 1 && e->pid != -1) || e->process == 0 ||
	    (e->kind == ZCP_ENDPOINT_PUBLISHER && e->id == 0) ||
	    (e->closed && e->kind != ZCP_ENDPOINT_PUBLISHER) || e->published || e->taken ||
	    e->waiting || e->lost || e->rejected) {
		snprintf(why, wn,
			 "endpoint kind %d closed %d alive %d pid %ld id %llu process %llu pub %llu "
			 "taken %llu waiting %llu lost %llu rej %llu",
			 e->kind, e->closed, e->alive, e->pid, (unsigned long long)e->id,
			 (unsigned long long)e->process, (unsigned long long)e->published,
			 (unsigned long long)e->taken, (unsigned long long)e->waiting,
			 (unsigned long long)e->lost, (unsigned long long)e->rejected);
		return 0;
	}
	return 1;
}

static void amax(_Atomic unsigned long *a, unsigned long v)
{
	unsigned long o = atomic_load(a);
	while (v > o && !atomic_compare_exchange_weak(a, &o, v))
		;
}

/* ---------------------------------------------------------------- reader */
static void reader_loop(zcp_mempool_manager *m, struct rstats *st)
{
	int slots = zcp_topic_slots(m), eslots = zcp_topic_endpoint_slots(m);
	uint64_t rs = now_ns() | 1;
	char why[512];
	atomic_store(&st->started, 1);
	if (slots <= 0 || eslots <= 0) {
		snprintf(st->first_other, sizeof st->first_other, "slots %d eslots %d", slots, eslots);
		atomic_fetch_add(&st->other, 1);
		atomic_store(&st->finished, 1);
		return;
	}
	while (!atomic_load_explicit(&SH->stop, memory_order_relaxed)) {
		for (int i = 0; i < slots; i++) {
			zcp_topic_info ti;
			int typed = -1;
			memset(&ti, 0xa5, sizeof ti);
			uint64_t t0 = now_ns();
			int r = zcp_topic_get_info(m, i, &ti);
			amax(&st->max_lat_ns, (unsigned long)(now_ns() - t0));
			atomic_fetch_add_explicit(&st->reads, 1, memory_order_relaxed);
			if (r == 0) {
				atomic_fetch_add_explicit(&st->ok, 1, memory_order_relaxed);
				int ci = check_info(&ti, why, sizeof why, &typed);
				if (ci == 2) {
					if (atomic_fetch_add(&st->closed_nopub, 1) == 0)
						snprintf(st->first_closed, sizeof st->first_closed, "slot %d: %.200s", i, why);
				} else if (ci == 0) {
					if (atomic_fetch_add(&st->bad, 1) == 0)
						snprintf(st->first_bad, sizeof st->first_bad, "slot %d: %.400s", i, why);
				} else if (typed)
					atomic_fetch_add_explicit(&st->typed, 1, memory_order_relaxed);
				else
					atomic_fetch_add_explicit(&st->untyped, 1, memory_order_relaxed);
				if ((xs(&rs) & 7) == 0) {
					for (int k = 0; k < eslots; k++) {
						zcp_endpoint_info e;
						memset(&e, 0xa5, sizeof e);
						int q = zcp_topic_get_endpoint(m, i, k, &e);
						atomic_fetch_add_explicit(&st->ep_reads, 1, memory_order_relaxed);
						if (q == 0) {
							atomic_fetch_add_explicit(&st->ep_ok, 1, memory_order_relaxed);
							if (e.closed == 1)
								atomic_fetch_add_explicit(&st->ep_closed, 1, memory_order_relaxed);
							if (!check_ep(&e, why, sizeof why) &&
							    atomic_fetch_add(&st->ep_bad, 1) == 0 && !st->bad)
								snprintf(st->first_bad, sizeof st->first_bad,
									 "slot %d ep %d: %.400s", i, k, why);
						} else if (q != ZCP_ENOENT) {
							if (atomic_fetch_add(&st->ep_err, 1) == 0)
								snprintf(st->first_other, sizeof st->first_other,
									 "get_endpoint -> %s", zcp_err_name(q));
						}
					}
				}
			} else if (r == ZCP_ENOENT)
				atomic_fetch_add_explicit(&st->enoent, 1, memory_order_relaxed);
			else if (r == ZCP_EAGAIN)
				atomic_fetch_add_explicit(&st->eagain, 1, memory_order_relaxed);
			else if (r == ZCP_ECORRUPT)
				atomic_fetch_add_explicit(&st->ecorrupt, 1, memory_order_relaxed);
			else if (atomic_fetch_add(&st->other, 1) == 0)
				snprintf(st->first_other, sizeof st->first_other, "get_info -> %d %s", r,
					 zcp_err_name(r));
		}
	}
	atomic_store(&st->finished, 1);
}

struct rarg {
	zcp_mempool_manager *m;
	struct rstats *st;
};
static void *reader_thread(void *p)
{
	struct rarg *a = p;
	reader_loop(a->m, a->st);
	return NULL;
}

/* ---------------------------------------------------------------- churner */
static void note_other(const char *what, int r)
{
	if (atomic_fetch_add(&SH->c.other, 1) == 0)
		snprintf(SH->c.first_other, sizeof SH->c.first_other, "%s -> %d %s", what, r, zcp_err_name(r));
}
static int count_create(const char *what, int r)
{
	if (r == 0) {
		atomic_fetch_add_explicit(&SH->c.creates_ok, 1, memory_order_relaxed);
		return 0;
	}
	if (r == ZCP_ETOPICS)
		atomic_fetch_add_explicit(&SH->c.etopics, 1, memory_order_relaxed);
	else if (r == ZCP_EENDPOINTS)
		atomic_fetch_add_explicit(&SH->c.eendpoints, 1, memory_order_relaxed);
	else if (r == ZCP_EAGAIN)
		atomic_fetch_add_explicit(&SH->c.eagain, 1, memory_order_relaxed);
	else if (r == ZCP_ETYPE) {
		atomic_fetch_add(&SH->c.etype, 1);
		note_other(what, r);
		atomic_fetch_sub(&SH->c.other, 1);
	} else
		note_other(what, r);
	return r;
}

/* "find by name": the topic has an open endpoint of ours, so it must be in
 * exactly one slot, whole, and typed if want_typed. */
static void verify_find(zcp_mempool_manager *m, const struct tdesc *d, int want_typed)
{
	int slots = zcp_topic_slots(m), found = 0, eagain = 0, typed = -1, ftyped = -1;
	char why[512];
	for (int i = 0; i < slots; i++) {
		zcp_topic_info ti;
		int r = zcp_topic_get_info(m, i, &ti);
		if (r == ZCP_EAGAIN) {
			eagain++;
			continue;
		}
		if (r || strcmp(ti.name, d->name) != 0)
			continue;
		found++;
		if (check_info(&ti, why, sizeof why, &typed) == 0) {
			if (atomic_fetch_add(&SH->c.find_bad, 1) == 0)
				snprintf(SH->c.first_find, sizeof SH->c.first_find, "find %s: %.400s", d->name, why);
		}
		ftyped = typed;
	}
	if (found == 1) {
		atomic_fetch_add_explicit(&SH->c.find_ok, 1, memory_order_relaxed);
		if (want_typed && ftyped == 0 && atomic_fetch_add(&SH->c.find_untyped_after_typed, 1) == 0)
			snprintf(SH->c.first_find, sizeof SH->c.first_find,
				 "typed create of %s returned 0 but get_info shows it untyped", d->name);
	} else if (found > 1) {
		if (atomic_fetch_add(&SH->c.find_dup, 1) == 0)
			snprintf(SH->c.first_find, sizeof SH->c.first_find, "%s is in %d slots at once",
				 d->name, found);
	} else if (eagain)
		atomic_fetch_add(&SH->c.find_inconcl, 1);
	else if (atomic_fetch_add(&SH->c.find_miss, 1) == 0)
		snprintf(SH->c.first_find, sizeof SH->c.first_find,
			 "%s has an open endpoint but is in no slot", d->name);
}

static void spin(uint64_t *rs)
{
	unsigned n = (unsigned)(xs(rs) % 2000);
	for (volatile unsigned i = 0; i < n; i++)
		;
	if ((xs(rs) & 15) == 0)
		sched_yield();
}

static void churn_loop(zcp_mempool_manager *m, uint64_t seed)
{
	uint64_t rs = seed | 1;
	unsigned ctr = 0;
	while (!atomic_load_explicit(&SH->stop, memory_order_relaxed)) {
		struct tdesc d;
		zcp_topic_options to, uo;
		zcp_publisher *p = NULL;
		zcp_subscriber *s = NULL;
		uint64_t r = xs(&rs);
		int mode = TYPING_ONLY ? 0 : (int)(r % 4);
		atomic_fetch_add_explicit(&SH->c.iters, 1, memory_order_relaxed);
		if (!TYPING_ONLY && (r >> 8) % 2 == 0)
			shared_desc(&d, (int)((r >> 16) % NSHARED));
		else
			rand_desc(&d, &rs, (unsigned)((seed * 2654435761u) ^ (++ctr << 8)) & 0x7fffffffu);
		zcp_topic_options_init(&to);
		to.capacity = d.cap, to.history = d.hist;
		uo = to;
		to.type_name = d.type, to.type_size = d.tsize, to.type_align = d.align;
		switch (mode) {
		case 0: /* untyped subscriber, then a typed publisher types it */
			if (count_create("untyped sub", zcp_subscriber_create(m, d.name, &uo, &s)) == 0) {
				verify_find(m, &d, 0);
				spin(&rs);
				if (count_create("typed pub", zcp_publisher_create(m, d.name, &to, &p)) == 0)
					verify_find(m, &d, 1);
			}
			break;
		case 1:
			if (count_create("typed pub", zcp_publisher_create(m, d.name, &to, &p)) == 0)
				verify_find(m, &d, 1);
			break;
		case 2:
			if (count_create("typed sub", zcp_subscriber_create(m, d.name, &to, &s)) == 0)
				verify_find(m, &d, 1);
			break;
		case 3:
			if (count_create("untyped sub", zcp_subscriber_create(m, d.name, &uo, &s)) == 0)
				verify_find(m, &d, 0);
			break;
		}
		spin(&rs);
		int c1, c2;
		if (xs(&rs) & 1)
			c1 = zcp_publisher_close(p), c2 = zcp_subscriber_close(s);
		else
			c2 = zcp_subscriber_close(s), c1 = zcp_publisher_close(p);
		if (c1 || c2)
			atomic_fetch_add(&SH->c.close_err, 1);
		if ((xs(&rs) & 63) == 0) {
			zcp_mempool_manager_reclaim(m, NULL);
			atomic_fetch_add_explicit(&SH->c.reclaims, 1, memory_order_relaxed);
		}
	}
}

struct carg {
	zcp_mempool_manager *m;
	uint64_t seed;
};
static void *churn_thread(void *p)
{
	struct carg *a = p;
	churn_loop(a->m, a->seed);
	return NULL;
}

static int attach_rw(zcp_mempool_manager **m)
{
	int r, tries = 0;
	while ((r = zcp_mempool_manager_attach(MGR, m)) == ZCP_EAGAIN || r == ZCP_EUSERS) {
		if (++tries > 200)
			break;
		usleep(1000);
	}
	return r;
}

static void alarm_exit(int s)
{
	(void)s;
	_exit(9); /* a handler, because pid 1 of a PID namespace ignores a default-action SIGALRM */
}

static void churn_proc(int idx, int nthreads)
{
	zcp_mempool_manager *m;
	signal(SIGALRM, alarm_exit);
	alarm(60);
	int r = attach_rw(&m);
	if (r) {
		atomic_fetch_add(&SH->c.attach_err, 1);
		note_other("churner attach", r);
		_exit(3);
	}
	pthread_t th[8];
	struct carg a[8];
	for (int t = 0; t < nthreads; t++) {
		a[t].m = m, a[t].seed = now_ns() ^ ((uint64_t)getpid() << 20) ^ ((uint64_t)t << 40) ^ (uint64_t)idx;
		pthread_create(&th[t], NULL, churn_thread, &a[t]);
	}
	for (int t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

/* fork; child optionally enters a new PID namespace (then forks again: the
 * grandchild is pid 1 there).  Returns the outer pid of the worker, and in
 * *waitpid_of the pid to wait for. */
static pid_t spawn(int pidns, int idx, void (*fn)(int, int), int arg)
{
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		signal(SIGINT, SIG_DFL), signal(SIGTERM, SIG_DFL), signal(SIGSEGV, SIG_DFL), signal(SIGABRT, SIG_DFL);
		if (pidns) {
			if (unshare(CLONE_NEWPID) != 0) {
				perror("unshare");
				_exit(4);
			}
			pid_t g = fork();
			if (g == 0)
				fn(idx, arg);
			if (g < 0)
				_exit(5);
			int st;
			atomic_store(&SH->nsgrand[fn == churn_proc ? idx : MAXCHURN + idx], (long)g); /* g is in our (outer) namespace */
			/* forward a SIGKILL aimed at us: we just die; the grandchild is pid 1 of the
			 * new namespace and is killed by the killer directly. */
			while (waitpid(g, &st, 0) < 0 && errno == EINTR)
				;
			_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
		}
		fn(idx, arg);
	}
	return c;
}

static struct scen *CUR;

static void reader_proc(int idx, int mode) /* mode 0 rw root, 1 ro root, 2 ro nobody */
{
	zcp_mempool_manager *m;
	zcp_attach_options ao;
	int r;
	signal(SIGALRM, alarm_exit);
	alarm(60);
	zcp_attach_options_init(&ao);
	if (mode == 2) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) {
			snprintf(SH->r[idx].first_other, sizeof SH->r[idx].first_other, "setuid: %s",
				 strerror(errno));
			atomic_store(&SH->r[idx].attach_err, -1);
			_exit(3);
		}
		ao.owner_uid = 0;
	}
	ao.read_only = mode >= 1;
	r = zcp_mempool_manager_attach_opts(MGR, &ao, &m);
	if (r) {
		snprintf(SH->r[idx].first_other, sizeof SH->r[idx].first_other, "attach(uid %d) -> %s",
			 (int)getuid(), zcp_err_name(r));
		atomic_store(&SH->r[idx].attach_err, r);
		_exit(3);
	}
	reader_loop(m, &SH->r[idx]);
	zcp_mempool_manager_detach(m);
	_exit(0);
}

/* ---------------------------------------------------------------- TAP */
static int T, FAILS;
static int tap(int ok, const char *fmt, ...)
{
	va_list ap;
	FAILS += !ok;
	printf("%s %d - ", ok ? "ok" : "not ok", ++T);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return ok;
}
static void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void cleanup_name(void)
{
	if (MGR[0])
		zcp_mempool_manager_unlink(MGR);
}
static void on_sig(int s)
{
	cleanup_name();
	signal(s, SIG_DFL);
	raise(s);
}

/* ---------------------------------------------------------------- self-test */
static void selftest(void)
{
	zcp_topic_info a, b, x;
	struct tdesc da, db;
	char why[512];
	int typed, rej = 0, acc = 0;
	MAXPUB = 4, MAXSUB = 4;
	make_desc(&da, 5, 3, 24, 128, 0x11);
	make_desc(&db, 5, 4, 24, 128, 0x11); /* differs only in history */
	memset(&a, 0, sizeof a);
	strcpy(a.name, da.name), strcpy(a.type_name, da.type);
	a.type_size = 24, a.type_align = 128, a.capacity = 5, a.history = 3;
	b = a;
	strcpy(b.name, db.name), strcpy(b.type_name, db.type), b.history = 4;
	acc += check_info(&a, why, sizeof why, &typed) == 1 && typed;
	acc += check_info(&b, why, sizeof why, &typed) == 1 && typed;
	x = a, x.history = 4; rej += !check_info(&x, why, sizeof why, &typed);          /* a's name, b's history */
	x = a, strcpy(x.type_name, db.type); rej += !check_info(&x, why, sizeof why, &typed); /* b's type */
	x = a, x.type_size = 0; rej += !check_info(&x, why, sizeof why, &typed);        /* type name w/o size */
	x = a, x.type_name[0] = 0; rej += !check_info(&x, why, sizeof why, &typed);     /* size w/o name */
	x = a, memcpy(x.name, db.name, 6); rej += !check_info(&x, why, sizeof why, &typed); /* half names */
	x = a, x.published = 1; rej += !check_info(&x, why, sizeof why, &typed);
	x = a, x.closed_publishers = 1; acc += check_info(&x, why, sizeof why, &typed) == 2;
	x = a, x.name[63] = 'z', memset(x.name, 'z', 64); rej += !check_info(&x, why, sizeof why, &typed);
	x = a, x.type_name[0] = 0, x.type_size = 0, x.type_align = 64;
	acc += check_info(&x, why, sizeof why, &typed) == 1 && !typed;
	tap(acc == 4 && rej == 7, "self-test: checker accepts 3 whole descriptors + flags 1 count anomaly (%d/4) and rejects 7 torn ones (%d/7)",
	    acc, rej);
}

/* ---------------------------------------------------------------- scenario */
static void run(struct scen *sc)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	pid_t kids[64];
	int kid_role[64], kid_idx[64], nk = 0, nr = 0;
	int r;
	CUR = sc;
	TOPICS = sc->topics, MAXPUB = sc->maxpub, MAXSUB = sc->maxsub, TYPING_ONLY = sc->typing_only;
	memset(SH, 0, sizeof *SH);
	snprintf(MGR, sizeof MGR, "adisc_%d_%s", (int)getpid(), sc->id);
	zcp_mempool_config_add_entry(cfg, 256, 64);
	zcp_mempool_config_set_max_processes(cfg, 55);
	zcp_mempool_config_set_topics(cfg, sc->topics, sc->maxpub, sc->maxsub, MAXQ);
	if (sc->reader_nobody)
		zcp_mempool_config_set_access(cfg, 0660, 65534);
	r = zcp_mempool_manager_create(MGR, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (r) {
		tap(0, "%s: create manager %s: %s", sc->id, MGR, zcp_err_name(r));
		return;
	}
	diag("scenario %s: manager %s, %u topics x %u pub/%u sub, %d churn procs x %d thr (+%d in-proc, pidns %d), "
	     "readers: %d thr, %d procs, nobody %d, pidns %d, kill %d, typing-only %d, %.1fs",
	     sc->id, MGR, sc->topics, sc->maxpub, sc->maxsub, sc->churn_procs, sc->churn_threads,
	     sc->inproc_churn_threads, sc->churn_pidns, sc->inproc_readers, sc->reader_procs,
	     sc->reader_nobody, sc->reader_pidns, sc->kill, sc->typing_only, sc->secs);

	/* readers */
	pthread_t rth[MAXREAD], cth[MAXCHURN];
	struct rarg ra[MAXREAD];
	struct carg ca[MAXCHURN];
	for (int i = 0; i < sc->reader_procs; i++, nr++)
		kids[nk] = spawn(0, nr, reader_proc, i & 1), kid_role[nk] = 0, kid_idx[nk++] = nr;
	if (sc->reader_nobody)
		kids[nk] = spawn(0, nr, reader_proc, 2), kid_role[nk] = 0, kid_idx[nk++] = nr++;
	if (sc->reader_pidns)
		kids[nk] = spawn(1, nr, reader_proc, 1), kid_role[nk] = 0, kid_idx[nk++] = nr++;
	int thr_first = nr;
	for (int i = 0; i < sc->inproc_readers; i++, nr++) {
		ra[i].m = m, ra[i].st = &SH->r[nr];
		pthread_create(&rth[i], NULL, reader_thread, &ra[i]);
	}
	/* churners */
	int cidx = 0;
	for (int i = 0; i < sc->churn_procs; i++, cidx++)
		kids[nk] = spawn(0, cidx, churn_proc, sc->churn_threads), kid_role[nk] = 1, kid_idx[nk++] = cidx;
	if (sc->churn_pidns)
		kids[nk] = spawn(1, cidx, churn_proc, sc->churn_threads), kid_role[nk] = 2, kid_idx[nk++] = cidx++;
	for (int i = 0; i < sc->inproc_churn_threads; i++) {
		ca[i].m = m, ca[i].seed = now_ns() ^ (uint64_t)i * 0x1234567;
		pthread_create(&cth[i], NULL, churn_thread, &ca[i]);
	}

	/* run, killing */
	uint64_t end = now_ns() + (uint64_t)(sc->secs * 1e9), rs = now_ns() | 1;
	unsigned long kills = 0, kills_ns = 0;
	int hung_k = 0;
	while (now_ns() < end) {
		if (!sc->kill) {
			usleep(20000);
			continue;
		}
		usleep(sc->kill == 2 ? 500 + (useconds_t)(xs(&rs) % 2500) : 2000 + (useconds_t)(xs(&rs) % 30000));
		/* pick a churner process */
		int cand[64], nc = 0;
		for (int k = 0; k < nk; k++)
			if (kid_role[k] && kids[k] > 0)
				cand[nc++] = k;
		if (!nc)
			continue;
		int k = cand[xs(&rs) % (uint64_t)nc];
		pid_t victim = kids[k];
		if (kid_role[k] == 2) {
			long g = atomic_load(&SH->nsgrand[kid_idx[k]]);
			if (g <= 0)
				continue;
			victim = (pid_t)g;
			kills_ns++;
		}
		if (sc->kill == 2) {
			kill(victim, SIGSTOP);
			usleep(22000 + (useconds_t)(xs(&rs) % 18000)); /* > the ~20 ms reader retry budget */
			kill(victim, SIGCONT);
			kills++;
			continue;
		}
		kill(victim, SIGKILL);
		{
			uint64_t kd = now_ns() + 5000000000ull;
			while (waitpid(kids[k], NULL, WNOHANG) == 0) {
				if (now_ns() > kd) {
					diag("%s: killed %d but %d did not exit in 5 s", sc->id, (int)victim, (int)kids[k]);
					kill(kids[k], SIGKILL);
					waitpid(kids[k], NULL, 0);
					hung_k++;
					break;
				}
				usleep(1000);
			}
		}
		atomic_store(&SH->nsgrand[kid_idx[k]], 0);
		kills++;
		kids[k] = spawn(kid_role[k] == 2, kid_idx[k], churn_proc, sc->churn_threads);
		atomic_fetch_add(&SH->c.respawns, 1);
	}
	atomic_store(&SH->stop, 1);

	/* stop and reap, with a hang watchdog */
	int hung = hung_k, badexit = 0;
	uint64_t dl = now_ns() + 10ull * 1000000000u;
	for (int k = 0; k < nk; k++) {
		int st;
		for (;;) {
			pid_t w = waitpid(kids[k], &st, WNOHANG);
			if (w == kids[k])
				break;
			if (now_ns() > dl) {
				hung++;
				diag("%s: child %d (role %d) did not stop within 10 s: killing", sc->id, (int)kids[k],
				     kid_role[k]);
				kill(kids[k], SIGKILL);
				for (int q = 0; q < MAXCHURN + MAXREAD; q++)
					if (SH->nsgrand[q] > 0)
						kill((pid_t)SH->nsgrand[q], SIGKILL);
				waitpid(kids[k], &st, 0);
				break;
			}
			usleep(2000);
		}
		if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
			badexit++;
			diag("%s: child role %d idx %d exit status 0x%x", sc->id, kid_role[k], kid_idx[k], st);
		}
	}
	for (int i = 0; i < sc->inproc_readers; i++)
		pthread_join(rth[i], NULL);
	for (int i = 0; i < sc->inproc_churn_threads; i++)
		pthread_join(cth[i], NULL);
	(void)thr_first;

	/* totals */
	unsigned long reads = 0, ok = 0, en = 0, ea = 0, ec = 0, oth = 0, bad = 0, ty = 0, unty = 0;
	unsigned long epr = 0, epok = 0, epbad = 0, eperr = 0, lat = 0, cnp = 0, epc = 0;
	const char *cnp_ex = "";
	for (int i = 0; i < nr; i++) {
		struct rstats *s = &SH->r[i];
		diag("%s reader %d: reads %lu ok %lu (typed %lu untyped %lu) ENOENT %lu EAGAIN %lu ECORRUPT %lu "
		     "other %lu INCONSISTENT %lu | endpoints %lu ok %lu bad %lu err %lu | max latency %.3f ms%s%s%s%s",
		     sc->id, i, s->reads, s->ok, s->typed, s->untyped, s->enoent, s->eagain, s->ecorrupt,
		     s->other, s->bad, s->ep_reads, s->ep_ok, s->ep_bad, s->ep_err, s->max_lat_ns / 1e6,
		     s->first_bad[0] ? " | first bad: " : "", s->first_bad,
		     s->first_other[0] ? " | first other: " : "", s->first_other);
		reads += s->reads, ok += s->ok, en += s->enoent, ea += s->eagain, ec += s->ecorrupt;
		oth += s->other + (s->attach_err ? 1 : 0), bad += s->bad, ty += s->typed, unty += s->untyped;
		epr += s->ep_reads, epok += s->ep_ok, epbad += s->ep_bad, eperr += s->ep_err;
		cnp += s->closed_nopub, epc += s->ep_closed;
		if (s->first_closed[0])
			cnp_ex = s->first_closed;
		if (s->max_lat_ns > lat)
			lat = s->max_lat_ns;
	}
	struct cstats *c = &SH->c;
	diag("%s churn: iters %lu creates ok %lu ETOPICS %lu EENDPOINTS %lu EAGAIN %lu ETYPE %lu other %lu "
	     "close errs %lu reclaims %lu kills %lu (pidns %lu) respawns %lu attach errs %lu%s%s",
	     sc->id, c->iters, c->creates_ok, c->etopics, c->eendpoints, c->eagain, c->etype, c->other,
	     c->close_err, c->reclaims, kills, kills_ns, c->respawns, c->attach_err,
	     c->first_other[0] ? " | first: " : "", c->first_other);
	diag("%s find-by-scan: ok %lu missing %lu duplicate %lu untyped-after-typed-create %lu "
	     "inconclusive(EAGAIN) %lu torn %lu%s%s",
	     sc->id, c->find_ok, c->find_miss, c->find_dup, c->find_untyped_after_typed, c->find_inconcl,
	     c->find_bad, c->first_find[0] ? " | first: " : "", c->first_find);

	tap(ok > 1000 && ty > 0 && unty > 0 && c->creates_ok > 100,
	    "%s: test is live: %lu reads, %lu whole (%lu typed, %lu untyped), %lu creates", sc->id, reads, ok,
	    ty, unty, c->creates_ok);
	tap(bad == 0, "%s: no torn/inconsistent descriptor from zcp_topic_get_info (%lu of %lu)", sc->id, bad,
	    ok);
	tap(cnp == 0, "%s: closed_publishers is 0 on topics where nothing was ever published (%lu of %lu whole reads "
	    "say otherwise; endpoints with closed=1: %lu)%s%s", sc->id, cnp, ok, epc, cnp ? " e.g. " : "", cnp_ex);
	tap(oth == 0 && ec == 0, "%s: get_info errors only ENOENT/EAGAIN (ENOENT %lu EAGAIN %lu ECORRUPT %lu other %lu)",
	    sc->id, en, ea, ec, oth);
	tap(epbad == 0 && eperr == 0 && epok > 0,
	    "%s: zcp_topic_get_endpoint records sane (%lu reads: %lu ok, %lu bad, %lu errors)", sc->id, epr,
	    epok, epbad, eperr);
	tap(c->find_miss == 0 && c->find_dup == 0 && c->find_untyped_after_typed == 0 && c->find_bad == 0 &&
		c->find_ok > 0,
	    "%s: find-by-name after create: topic in exactly one slot, whole, typed after a typed create "
	    "(ok %lu miss %lu dup %lu untyped %lu torn %lu)",
	    sc->id, c->find_ok, c->find_miss, c->find_dup, c->find_untyped_after_typed, c->find_bad);
	tap(c->etype == 0 && c->other == 0 && c->attach_err == 0,
	    "%s: creates fail only with ETOPICS/EENDPOINTS/EAGAIN (ETYPE %lu other %lu)", sc->id, c->etype,
	    c->other);
	tap(hung == 0 && badexit == 0 && lat < 1000000000ul,
	    "%s: no hang/crash (stuck %d, bad exits %d, max get_info latency %.3f ms)", sc->id, hung, badexit,
	    lat / 1e6);

	/* quiesce: everyone is gone (killed or exited).  reclaim, take the topics
	 * lock over with a create/close, then every slot must read whole or
	 * ENOENT, and every entry must be recyclable for fresh names. */
	zcp_reclaim_report rep;
	memset(&rep, 0, sizeof rep);
	int rr = zcp_mempool_manager_reclaim(m, &rep);
	zcp_subscriber *qs = NULL;
	int qr = zcp_subscriber_create(m, "q_probe", NULL, &qs);
	zcp_subscriber_close(qs);
	int slots = zcp_topic_slots(m), bad_after = 0, eagain_after = 0, present = 0;
	char why[512], first[600] = "";
	for (int i = 0; i < slots; i++) {
		zcp_topic_info ti;
		int typed, g = zcp_topic_get_info(m, i, &ti);
		if (g == 0) {
			present++;
			if (check_info(&ti, why, sizeof why, &typed) != 1 && !bad_after++)
				snprintf(first, sizeof first, "slot %d: %s", i, why);
			else if (ti.publishers || ti.subscribers) {
				if (!bad_after++)
					snprintf(first, sizeof first, "slot %d '%s' still has %u pubs %u subs after all died + reclaim",
						 i, ti.name, ti.publishers, ti.subscribers);
			}
		} else if (g == ZCP_EAGAIN)
			eagain_after++;
		else if (g != ZCP_ENOENT && !bad_after++)
			snprintf(first, sizeof first, "slot %d: %s", i, zcp_err_name(g));
	}
	diag("%s quiesce: reclaim %s (processes %llu), probe create %s, %d/%d slots hold a topic%s%s", sc->id,
	     zcp_err_name(rr), (unsigned long long)rep.processes, zcp_err_name(qr), present, slots,
	     first[0] ? " | " : "", first);
	tap(bad_after == 0 && eagain_after == 0,
	    "%s: after quiesce every slot reads whole (no endpoint of a dead process) or ENOENT (bad %d, EAGAIN %d)",
	    sc->id, bad_after, eagain_after);
	zcp_subscriber *fresh[64];
	int nfresh = 0, ferr = 0;
	for (unsigned i = 0; i < sc->topics && i < 64; i++) {
		char nm[32];
		snprintf(nm, sizeof nm, "q_fresh_%u", i);
		int fr = zcp_subscriber_create(m, nm, NULL, &fresh[nfresh]);
		if (fr == 0)
			nfresh++;
		else if (!ferr++)
			diag("%s: fresh topic %s: %s", sc->id, nm, zcp_err_name(fr));
	}
	for (int i = 0; i < nfresh; i++)
		zcp_subscriber_close(fresh[i]);
	tap(ferr == 0, "%s: all %u entries recyclable for fresh names after quiesce (%d created)", sc->id,
	    sc->topics, nfresh);

	r = zcp_mempool_manager_destroy(m);
	if (r)
		diag("%s: destroy: %s", sc->id, zcp_err_name(r));
	cleanup_name();
	MGR[0] = 0;
}

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

int main(int argc, char **argv)
{
	double scale = argc > 1 ? atof(argv[1]) : getenv("ZCP_TEST_ITERS") ? 1.0 : 0.3;
	int root = geteuid() == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	SH = mmap(NULL, sizeof *SH, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (SH == MAP_FAILED)
		return perror("mmap"), 1;
	signal(SIGINT, on_sig), signal(SIGTERM, on_sig), signal(SIGSEGV, on_sig), signal(SIGABRT, on_sig);
	signal(SIGPIPE, SIG_IGN);
	struct scen S[] = {
		/* id      topics pub sub  cp ct ict irt rp nob pns cpns kill typ secs */
		{"threads", 2, 2, 2, 0, 0, 4, 2, 0, 0, 0, 0, 0, 0, 4},
		{"procs", 3, 2, 2, 3, 2, 0, 0, 2, 0, 0, 0, 0, 0, 5},
		{"kill", 3, 2, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 0, 8},
		{"typing", 1, 1, 1, 2, 1, 0, 1, 1, 1, 1, 1, 1, 1, 6},
		{"stopcont", 2, 2, 2, 3, 1, 0, 1, 1, 1, 1, 1, 2, 0, 5},
	};
	int ns = (int)(sizeof S / sizeof S[0]);
	printf("1..%d\n", 1 + ns * 10);
	selftest();
	if (!root)
		printf("# not root: no reader as uid nobody, no process in a PID namespace\n");
	for (int i = 0; i < ns; i++) {
		S[i].secs *= scale;
		if (!root)
			S[i].reader_nobody = S[i].reader_pidns = S[i].churn_pidns = 0;
		/* ThreadSanitizer kills a child that starts threads after a
		 * fork from a threaded parent: these forks happen while the
		 * parent's reader and churn threads run. */
		if (UNDER_TSAN && i > 1) {
			for (int k = 0; k < 10; k++)
				printf("ok %d # SKIP %s: under ThreadSanitizer (children that start "
				       "threads after a threaded parent's fork are not supported)\n",
				       ++T, S[i].id);
			continue;
		}
		run(&S[i]);
	}
	printf("# %d failed\n", FAILS);
	return FAILS ? 1 : 0;
}
