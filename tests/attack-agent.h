/* SPDX-License-Identifier: MIT */
/* tests/attack-agent.h - scripted peer processes for the attack-* tests
 * (public API only).  An agent is a forked child attached to a manager that
 * executes one command at a time from a shared-memory mailbox, so a test
 * can script several processes step by step and kill any of them between
 * two steps.  Header-only: each test includes it once. */
#ifndef ZEROCP_TESTS_ATTACK_AGENT_H
#define ZEROCP_TESTS_ATTACK_AGENT_H

#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

enum {
	OP_NONE,
	OP_GET,         /* arg size, arg2 slot: returns 0 / -errno; out = handle */
	OP_WRITE,       /* arg slot: copy text into the payload */
	OP_READ,        /* arg slot: text = payload (first 63 bytes) */
	OP_SEND,        /* arg slot, arg2 receiver: ret, out = ticket */
	OP_RELEASE,     /* arg slot: ret; the slot is forgotten on success */
	OP_RECEIVE,     /* arg ticket, arg2 slot: 0 / -errno, text = payload, out = handle */
	OP_RESOLVE_REF, /* arg handle, arg2 slot: from_handle (+ ref): 0 / -errno, text */
	OP_HANDLE,      /* arg slot: out = handle */
	OP_REFCOUNT,    /* arg slot: out = refcount */
	OP_UNSEND,      /* arg ticket: ret */
	OP_SETTLE,      /* ret = settle() */
	OP_RECLAIM,     /* ret, out = report.processes, out2 = report.chunks */
	OP_REF,         /* arg slot: ret = zcp_chunk_ref */
	OP_DETACH,      /* detach; the agent stays, unattached */
	OP_ATTACH,      /* attach again */
	OP_RO_CYCLE,    /* read-only attach + detach of the same manager */
	OP_SEG_CYCLE,   /* zcp_segment_open + close of <name>_mgmt */
	OP_ATT2_CYCLE,  /* a second attach of the same manager, then its detach */
	OP_STOP_MAIN,   /* a thread keeps the process alive; the main thread exits */
	OP_EXIT,
};

#define AGENT_SLOTS 64

struct agent {
	_Atomic unsigned cmd_seq, done_seq;
	int op;
	uint64_t arg, arg2;
	char text[64];
	int64_t ret;
	uint64_t out, out2;
	_Atomic uint64_t id;
	pid_t pid;
	char name[80];
};

static double agent_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct agent *agent_alloc(void)
{
	struct agent *a =
		mmap(NULL, sizeof *a, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		bail("mmap");
	memset(a, 0, sizeof *a);
	return a;
}

static void *agent_sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void agent_body(struct agent *a)
{
	zcp_mempool_manager *m = NULL;
	zcp_chunk *slot[AGENT_SLOTS] = {0};
	unsigned seen = 0;
	if (zcp_mempool_manager_attach(a->name, &m) != 0)
		_exit(90);
	atomic_store(&a->id, zcp_mempool_manager_process_id(m));
	for (;;) {
		unsigned s;
		while ((s = atomic_load(&a->cmd_seq)) == seen)
			usleep(20);
		seen = s;
		int op = a->op;
		uint64_t arg = a->arg, arg2 = a->arg2;
		int64_t ret = 0;
		uint64_t out = 0, out2 = 0;
		zcp_chunk *c;
		switch (op) {
		case OP_GET:
			errno = 0;
			c = zcp_chunk_get(m, arg);
			if (!c)
				ret = -errno;
			else {
				slot[arg2 % AGENT_SLOTS] = c;
				out = zcp_chunk_handle(m, c);
			}
			break;
		case OP_WRITE:
			c = slot[arg % AGENT_SLOTS];
			if (c)
				memcpy(zcp_chunk_data(c), a->text, sizeof a->text);
			else
				ret = -EINVAL;
			break;
		case OP_READ:
			c = slot[arg % AGENT_SLOTS];
			if (c)
				memcpy(a->text, zcp_chunk_data(c), sizeof a->text - 1);
			else
				ret = -EINVAL;
			break;
		case OP_SEND:
			ret = zcp_chunk_send(m, slot[arg % AGENT_SLOTS], arg2, &out);
			break;
		case OP_RELEASE:
			ret = zcp_chunk_release(m, slot[arg % AGENT_SLOTS]);
			break;
		case OP_RECEIVE:
			errno = 0;
			c = zcp_chunk_receive(m, arg);
			if (!c)
				ret = -errno;
			else {
				slot[arg2 % AGENT_SLOTS] = c;
				memcpy(a->text, zcp_chunk_data(c), sizeof a->text - 1);
				out = zcp_chunk_handle(m, c);
			}
			break;
		case OP_RESOLVE_REF:
			errno = 0;
			c = zcp_chunk_from_handle(m, arg);
			if (!c)
				ret = -errno;
			else if ((ret = zcp_chunk_ref(m, c)) == 0) {
				slot[arg2 % AGENT_SLOTS] = c;
				memcpy(a->text, zcp_chunk_data(c), sizeof a->text - 1);
			}
			break;
		case OP_HANDLE:
			out = zcp_chunk_handle(m, slot[arg % AGENT_SLOTS]);
			break;
		case OP_REFCOUNT:
			out = zcp_chunk_refcount(slot[arg % AGENT_SLOTS]);
			break;
		case OP_UNSEND:
			ret = zcp_chunk_unsend(m, arg);
			break;
		case OP_SETTLE:
			ret = zcp_mempool_manager_settle(m);
			break;
		case OP_RECLAIM: {
			zcp_reclaim_report r;
			memset(&r, 0, sizeof r);
			ret = zcp_mempool_manager_reclaim(m, &r);
			out = r.processes;
			out2 = r.chunks;
			break;
		}
		case OP_REF:
			ret = zcp_chunk_ref(m, slot[arg % AGENT_SLOTS]);
			break;
		case OP_DETACH:
			zcp_mempool_manager_detach(m);
			m = NULL;
			memset(slot, 0, sizeof slot);
			break;
		case OP_ATTACH:
			ret = zcp_mempool_manager_attach(a->name, &m);
			atomic_store(&a->id, ret == 0 ? zcp_mempool_manager_process_id(m) : 0);
			break;
		case OP_RO_CYCLE: {
			zcp_attach_options o;
			zcp_mempool_manager *ro;
			zcp_attach_options_init(&o);
			o.read_only = 1;
			ret = zcp_mempool_manager_attach_opts(a->name, &o, &ro);
			if (ret == 0)
				zcp_mempool_manager_detach(ro);
			break;
		}
		case OP_SEG_CYCLE: {
			char n[100];
			zcp_segment *sg;
			snprintf(n, sizeof n, "%s_mgmt", a->name);
			ret = zcp_segment_open(n, 0, &sg);
			if (ret == 0)
				zcp_segment_close(sg);
			break;
		}
		case OP_ATT2_CYCLE: {
			zcp_mempool_manager *m2;
			ret = zcp_mempool_manager_attach(a->name, &m2);
			if (ret == 0)
				zcp_mempool_manager_detach(m2);
			break;
		}
		case OP_STOP_MAIN: {
			pthread_t th;
			a->ret = 0;
			atomic_store(&a->done_seq, s);
			if (pthread_create(&th, NULL, agent_sleeper, NULL) == 0)
				pthread_exit(NULL);
			_exit(0);
		}
		case OP_EXIT:
			if (m)
				zcp_mempool_manager_detach(m);
			a->ret = 0;
			atomic_store(&a->done_seq, s);
			_exit(0);
		}
		a->ret = ret;
		a->out = out;
		a->out2 = out2;
		atomic_store(&a->done_seq, s);
	}
}

/* Fork an agent attached to `name`; waits for its attach.  0 or -1. */
static int agent_start(struct agent *a, const char *name)
{
	memset(a, 0, sizeof *a);
	snprintf(a->name, sizeof a->name, "%s", name);
	pid_t p = zt_fork();
	if (p < 0)
		return -1;
	if (p == 0)
		agent_body(a);
	a->pid = p;
	double end = agent_now() + 10;
	while (!atomic_load(&a->id) && agent_now() < end) {
		int st;
		if (waitpid(p, &st, WNOHANG) == p) {
			a->pid = 0;
			diag("agent exited at attach: status %d", st);
			return -1;
		}
		usleep(100);
	}
	return atomic_load(&a->id) ? 0 : -1;
}

/* Run one command; returns a->ret, or -ETIMEDOUT (-110) if no answer in 10 s. */
static int64_t agent_do(struct agent *a, int op, uint64_t arg, uint64_t arg2)
{
	if (!a->pid)
		return -ESRCH;
	a->op = op;
	a->arg = arg;
	a->arg2 = arg2;
	a->ret = -12345;
	unsigned s = atomic_load(&a->cmd_seq) + 1;
	atomic_store(&a->cmd_seq, s);
	double end = agent_now() + 10;
	while (atomic_load(&a->done_seq) != s) {
		if (agent_now() > end) {
			diag("agent %d: no answer to op %d", (int)a->pid, op);
			return -ETIMEDOUT;
		}
		usleep(20);
	}
	return a->ret;
}

static __attribute__((unused)) int64_t agent_do_text(struct agent *a, int op, uint64_t arg, uint64_t arg2, const char *text)
{
	memset(a->text, 0, sizeof a->text);
	snprintf(a->text, sizeof a->text, "%s", text);
	return agent_do(a, op, arg, arg2);
}

/* SIGKILL and reap. */
static __attribute__((unused)) void agent_kill(struct agent *a)
{
	if (!a->pid)
		return;
	kill(a->pid, SIGKILL);
	int st;
	while (waitpid(a->pid, &st, 0) < 0 && errno == EINTR)
		;
	a->pid = 0;
}

/* Orderly exit (detach): 1 if it exited with 0. */
static __attribute__((unused)) int agent_stop(struct agent *a)
{
	if (!a->pid)
		return 1;
	a->op = OP_EXIT;
	unsigned s = atomic_load(&a->cmd_seq) + 1;
	atomic_store(&a->cmd_seq, s);
	int st = -1;
	zt_wait(a->pid, &st);
	a->pid = 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static __attribute__((unused)) uint64_t pool_used(zcp_mempool_manager *m, int pool)
{
	zcp_pool_stats s;
	return zcp_mempool_manager_pool_stats(m, pool, &s) == 0 ? s.used : UINT64_MAX;
}

/* The slot of the process with id `id`, filled into *pi; -1 if none. */
static __attribute__((unused)) int find_process(zcp_mempool_manager *m, uint64_t id, zcp_process_info *pi)
{
	int n = zcp_mempool_manager_process_slots(m);
	for (int s = 0; s < n; s++)
		if (zcp_mempool_manager_process(m, s, pi) == 0 && pi->pid && pi->id == id)
			return s;
	return -1;
}

#endif /* ZEROCP_TESTS_ATTACK_AGENT_H */
