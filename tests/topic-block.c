/* SPDX-License-Identifier: MIT */
/* ZCP_OVERFLOW_BLOCK: a publisher whose subscriber's queue is full waits
 * (asleep, with a timeout) until the subscriber takes, closes or dies.
 * The timeout and its 0 form, the caller keeping its chunk, a wake-up by
 * a take in another process, a flow-controlled stream with nothing lost,
 * a subscriber that closes, one SIGKILLed (its reclaim frees the queue),
 * a signal, and a blocked publisher SIGKILLed (its waiter count goes). */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "topic.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static zcp_mempool_manager *make(const char **name)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 64, 256);
	*name = zt_name();
	if (zcp_mempool_manager_create(*name, cfg, &m) != 0)
		bail("create");
	zcp_mempool_config_free(cfg);
	return m;
}

static zcp_topic_options blocking(unsigned capacity, int64_t timeout_ns)
{
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	o.capacity = capacity;
	o.overflow = ZCP_OVERFLOW_BLOCK;
	o.block_timeout_ns = timeout_ns;
	return o;
}

/* Publish v; on failure the chunk is still ours: give it back.  Returns
 * publish's result, or -errno of a failed loan. */
static int publish_u64(zcp_mempool_manager *m, zcp_publisher *p, uint64_t v)
{
	zcp_chunk *c = zcp_publisher_loan(p, 8);
	if (!c)
		return -errno;
	memcpy(zcp_sample_data(c), &v, sizeof v);
	int err = zcp_publisher_publish(p, c);
	if (err && zcp_chunk_release(m, c) != 0)
		return -1000; /* the caller did not keep its chunk */
	return err;
}

static void options(zcp_mempool_manager *m)
{
	zcp_topic_options o;
	zcp_topic_options_init(&o);
	is_int((long long)o.block_timeout_ns, -1, "options: block_timeout_ns defaults to -1 (no limit)");
	o.overflow = 3;
	zcp_publisher *p = NULL;
	is_int(zcp_publisher_create(m, "opts", &o, &p), ZCP_EINVAL, "an unknown overflow policy: ZCP_EINVAL");
	o.overflow = ZCP_OVERFLOW_BLOCK;
	is_int(zcp_publisher_create(m, "opts", &o, &p), 0, "ZCP_OVERFLOW_BLOCK is taken");
	is_int(publish_u64(m, p, 1), 0, "BLOCK without subscribers: publish goes on");
	zcp_publisher_close(p);
}

static void timeouts(zcp_mempool_manager *m)
{
	zcp_topic_options o = blocking(2, 50 * MS);
	zcp_subscriber *s;
	zcp_publisher *p;
	is_int(zcp_subscriber_create(m, "full", &o, &s), 0, "timeout: a subscriber that does not take");
	is_int(zcp_publisher_create(m, "full", &o, &p), 0, "timeout: a BLOCK publisher, 50 ms");
	ok(publish_u64(m, p, 0) == 0 && publish_u64(m, p, 1) == 0, "timeout: the queue takes capacity samples");
	zcp_pool_stats before, after;
	zcp_mempool_manager_pool_stats(m, 0, &before);
	int64_t t0 = mono_ns();
	int err = publish_u64(m, p, 2);
	int64_t dt = mono_ns() - t0;
	ok(err == ZCP_ETIMEDOUT && dt >= 50 * MS,
	   "timeout: a full queue ends in ZCP_ETIMEDOUT, not early (%s after %lld ns)", zcp_err_name(err),
	   (long long)dt);
	zcp_mempool_manager_pool_stats(m, 0, &after);
	is_int((long long)after.used, (long long)before.used,
	       "timeout: the caller kept its chunk (and gave it back)");
	zcp_endpoint_info e;
	int found = 0;
	for (int t = 0; t < zcp_topic_slots(m) && !found; t++)
		for (int k = 0; k < zcp_topic_endpoint_slots(m) && !found; k++)
			if (zcp_topic_get_endpoint(m, t, k, &e) == 0 &&
			    e.kind == ZCP_ENDPOINT_PUBLISHER && e.id == zcp_publisher_id(p))
				found = 1;
	ok(found && e.rejected == 1, "timeout: counted as refused (rejected %llu)",
	   found ? (unsigned long long)e.rejected : 0ULL);
	zcp_publisher_close(p);

	o.block_timeout_ns = 0;
	is_int(zcp_publisher_create(m, "full", &o, &p), 0, "timeout 0: a second publisher");
	ok(publish_u64(m, p, 0) == 0 && publish_u64(m, p, 1) == 0, "timeout 0: fills its own queue");
	t0 = mono_ns();
	err = publish_u64(m, p, 2);
	dt = mono_ns() - t0;
	ok(err == ZCP_ETIMEDOUT && dt < 20 * MS * zt_slowdown(),
	   "timeout 0: ZCP_ETIMEDOUT at once (%s after %lld ns)", zcp_err_name(err), (long long)dt);
	/* The subscriber takes what waits (the first publisher's two, then
	 * this one's): room again. */
	zcp_chunk *c;
	long took = 0;
	while ((c = zcp_subscriber_take(s)) != NULL) {
		zcp_chunk_release(m, c);
		took++;
	}
	is_int(took, 4, "timeout 0: the subscriber takes the 4 samples waiting");
	is_int(publish_u64(m, p, 2), 0, "timeout 0: after a take, publish goes on");
	zcp_publisher_close(p);
	zcp_subscriber_close(s);
}

/* A child subscriber takes its samples slowly; the parent publishes a
 * stream through a queue of `capacity`: every sample arrives, in order,
 * none lost, and the publisher never fails. */
static void stream(const char *name, zcp_mempool_manager *m, unsigned capacity, long n, int slow)
{
	zcp_topic_options o = blocking(capacity, 20 * SEC * zt_slowdown());
	char topic[32];
	snprintf(topic, sizeof topic, "stream%u", capacity);
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_subscriber *s;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_subscriber_create(cm, topic, &o, &s) == 0);
		ZT_CHECK(write(ready[1], "r", 1) == 1);
		for (long i = 0; i < n;) {
			zcp_chunk *c = zcp_subscriber_take(s);
			if (!c) {
				ZT_CHECK_MSG(errno == EAGAIN, "take: %s", zcp_err_name(-errno));
				ZT_CHECK(zcp_subscriber_wait(s, 20 * SEC) == 0);
				continue;
			}
			uint64_t v;
			memcpy(&v, zcp_sample_data(c), sizeof v);
			ZT_CHECK_MSG(v == (uint64_t)i, "sample %ld was %llu", i, (unsigned long long)v);
			zcp_chunk_release(cm, c);
			if (slow && i % 64 == 0)
				usleep(2000);
			i++;
		}
		ZT_CHECK_MSG(zcp_subscriber_lost(s) == 0, "lost %llu",
			     (unsigned long long)zcp_subscriber_lost(s));
		zcp_subscriber_close(s);
		zcp_mempool_manager_detach(cm);
		_exit(0);
	}
	char r;
	zcp_publisher *p;
	ok(read(ready[0], &r, 1) == 1, "stream/%u: the subscriber is ready", capacity);
	is_int(zcp_publisher_create(m, topic, &o, &p), 0, "stream/%u: a BLOCK publisher", capacity);
	long good = 0;
	int err = 0;
	for (long i = 0; i < n && !err; i++)
		if ((err = publish_u64(m, p, (uint64_t)i)) == 0)
			good++;
	is_int(good, n, "stream/%u: %ld publishes through a queue of %u, none refused (%s)", capacity, n,
	       capacity, zcp_err_name(err));
	zt_ok_child(pid, "stream/%u: the subscriber got every sample in order, none lost", capacity);
	zcp_publisher_close(p);
	close(ready[0]);
	close(ready[1]);
}

/* The parent blocks on a full queue; a child subscriber then does `how`
 * (take one, close, or get SIGKILLed by a third process): the publish
 * returns 0 once there is room. */
enum { BY_TAKE, BY_CLOSE, BY_DEATH };
static void unblocked(const char *name, zcp_mempool_manager *m, int how)
{
	static const char *what[] = {"a take", "the subscriber's close", "the subscriber's death"};
	zcp_topic_options o = blocking(2, -1);
	int ready[2], go[2];
	if (pipe(ready) || pipe(go))
		bail("pipe");
	zcp_publisher *p;
	is_int(zcp_publisher_create(m, "unblock", &o, &p), 0, "unblocked by %s: a publisher", what[how]);
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_subscriber *s;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_subscriber_create(cm, "unblock", &o, &s) == 0);
		ZT_CHECK(write(ready[1], "r", 1) == 1);
		char g;
		ZT_CHECK(read(go[0], &g, 1) == 1);
		usleep(200000); /* let the parent fall asleep */
		if (how == BY_TAKE) {
			zcp_chunk *c = zcp_subscriber_take(s);
			ZT_CHECK(c);
			zcp_chunk_release(cm, c);
			pause(); /* the parent kills us */
		} else if (how == BY_CLOSE) {
			zcp_subscriber_close(s);
			pause();
		} else {
			raise(SIGKILL);
		}
		_exit(0);
	}
	char r;
	ok(read(ready[0], &r, 1) == 1, "unblocked by %s: subscriber ready", what[how]);
	ok(publish_u64(m, p, 0) == 0 && publish_u64(m, p, 1) == 0, "unblocked by %s: queue full", what[how]);
	ok(write(go[1], "g", 1) == 1, "unblocked by %s: go", what[how]);
	int64_t t0 = mono_ns();
	int err = publish_u64(m, p, 2);
	int64_t dt = mono_ns() - t0;
	ok(err == 0 && dt >= 100 * MS, "unblocked by %s: the blocked publish went on (%s after %lld ms)",
	   what[how], zcp_err_name(err), (long long)(dt / MS));
	kill(pid, SIGKILL);
	int st;
	zt_wait(pid, &st);
	zcp_mempool_manager_reclaim(m, NULL);
	zcp_publisher_close(p);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void interrupted(zcp_mempool_manager *m)
{
	zcp_topic_options o = blocking(1, 30 * SEC);
	zcp_subscriber *s;
	zcp_publisher *p;
	zcp_subscriber_create(m, "intr", &o, &s);
	zcp_publisher_create(m, "intr", &o, &p);
	ok(publish_u64(m, p, 0) == 0, "signal: queue full");
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, &old);
	alarm(1);
	int err = publish_u64(m, p, 1);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	is_int(err, ZCP_EINTR, "signal: a blocked publish ends with ZCP_EINTR, the chunk kept");
	zcp_publisher_close(p);
	zcp_subscriber_close(s);
}

/* A publisher SIGKILLed while blocked: after reclaim the topic counts no
 * waiter (else every take would make a system call), and the subscriber
 * still reads what it had published. */
static void killed_publisher(const char *name, zcp_mempool_manager *m)
{
	zcp_topic_options o = blocking(2, -1);
	zcp_subscriber *s;
	is_int(zcp_subscriber_create(m, "kpub", &o, &s), 0, "killed publisher: a subscriber");
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_publisher *p;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		ZT_CHECK(zcp_publisher_create(cm, "kpub", &o, &p) == 0);
		ZT_CHECK(publish_u64(cm, p, 0) == 0 && publish_u64(cm, p, 1) == 0);
		ZT_CHECK(write(ready[1], "r", 1) == 1);
		publish_u64(cm, p, 2); /* blocks until killed */
		_exit(1);
	}
	char r;
	ok(read(ready[0], &r, 1) == 1, "killed publisher: it filled the queue");
	struct zcp__topic *tp = s->topic;
	int64_t t0 = mono_ns();
	while (atomic_load(&tp->space_waiters) == 0 && mono_ns() - t0 < 5 * SEC * zt_slowdown())
		usleep(1000);
	ok(atomic_load(&tp->space_waiters) == 1, "killed publisher: counted as waiting while blocked");
	kill(pid, SIGKILL);
	int st;
	zt_wait(pid, &st);
	zcp_reclaim_report rep;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1, "killed publisher: reclaimed");
	is_int(atomic_load(&tp->space_waiters), 0, "killed publisher: its waiter count is gone");
	long got = 0;
	zcp_chunk *c;
	while ((c = zcp_subscriber_take(s)) != NULL) {
		got++;
		zcp_chunk_release(m, c);
	}
	is_int(got, 2, "killed publisher: its two published samples are still read");
	zcp_subscriber_close(s);
	close(ready[0]);
	close(ready[1]);
}

int main(void)
{
	const char *name;
	plan_lazy();
	zcp_mempool_manager *m = make(&name);
	options(m);
	timeouts(m);
	stream(name, m, 1, zt_iters(2000), 0);
	stream(name, m, 4, zt_iters(10000), 1);
	unblocked(name, m, BY_TAKE);
	unblocked(name, m, BY_CLOSE);
	unblocked(name, m, BY_DEATH);
	interrupted(m);
	killed_publisher(name, m);
	zcp_pool_stats ps;
	zcp_mempool_manager_pool_stats(m, 0, &ps);
	is_int((long long)ps.used, 0, "every chunk back");
	is_int(zcp_mempool_manager_check(m), 0, "manager check");
	zcp_mempool_manager_destroy(m);
	zt_done();
	return done_testing();
}
