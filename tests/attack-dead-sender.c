/* SPDX-License-Identifier: MIT */
/* Attacks chunk.h's escrow promise "If the sender dies first, its
 * references go with it (reclaim) and the ticket becomes invalid: a
 * receiver gets ZCP_ESTALE, even if the chunk has been taken again since",
 * and the README's "A forged or replayed ticket claims nothing".
 *
 * Chunk X is the only chunk of its pool, so "a new get of that size"
 * returns X again at a new generation.  Scenarios:
 *  A  S sends X to R, releases, is SIGKILLed; reclaim; P takes X and
 *     writes; R redeems the old ticket: ESTALE, and P's data untouched.
 *  B  the same with receiver 0 (C0, E0: C and E with receiver 0).
 *  C  R itself holds X at the new generation when it redeems the old
 *     ticket: ESTALE, and R's view of X stays valid (a peer resolves R's
 *     handle and refs it).
 *  D  S's process slot is reused by S2, which fills every escrow record
 *     with its own tickets: S's old ticket is still ESTALE.
 *  E  R redeems before anyone reclaimed: either ESTALE, or R really holds
 *     X afterwards (reclaim must not take it from R).
 *  F  rounds of S killed while R keeps redeeming and P reclaims at once:
 *     every outcome conserves X.
 */
#include "attack-agent.h"

#include <stdlib.h>

#define XSIZE 100     /* pool 0: 128 B x 1 chunk (X) */
#define YSIZE 1000    /* pool 1: 1 KiB x 32 chunks */

static const char *mk(zcp_mempool_manager **m, unsigned procs)
{
	const char *name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 128, 1);
	zcp_mempool_config_add_entry(cfg, 1024, 32);
	zcp_mempool_config_set_max_processes(cfg, procs);
	int err = zcp_mempool_manager_create(name, cfg, m);
	zcp_mempool_config_free(cfg);
	if (err)
		bail("create: %s", zcp_strerror(err));
	return name;
}

static void finish(zcp_mempool_manager *m, const char *what)
{
	zcp_mempool_manager_reclaim(m, NULL);
	ok(pool_used(m, 0) == 0 && pool_used(m, 1) == 0, "%s: all chunks back at the end (%llu, %llu)",
	   what, (unsigned long long)pool_used(m, 0), (unsigned long long)pool_used(m, 1));
	is_int(zcp_mempool_manager_check(m), 0, "%s: check", what);
	zcp_mempool_manager_destroy(m);
}

/* S gets X, writes `text`, sends it to `to`, releases its own reference:
 * returns the ticket (0 on failure). */
static uint64_t s_sends_x(struct agent *s, uint64_t to, const char *text)
{
	if (agent_do(s, OP_GET, XSIZE, 0) != 0)
		return 0;
	agent_do_text(s, OP_WRITE, 0, 0, text);
	if (agent_do(s, OP_SEND, 0, to) != 0)
		return 0;
	uint64_t t = s->out;
	if (agent_do(s, OP_RELEASE, 0, 0) != 0)
		return 0;
	return t;
}

static void scenario_a(int anyone)
{
	const char *what = anyone ? "B (receiver 0)" : "A (named receiver)";
	zcp_mempool_manager *m;
	const char *name = mk(&m, 8);
	struct agent *s = agent_alloc(), *r = agent_alloc();
	if (agent_start(r, name) || agent_start(s, name))
		bail("agents");
	uint64_t t = s_sends_x(s, anyone ? 0 : atomic_load(&r->id), "from S");
	ok(t != 0, "%s: S sent X and released its own reference", what);
	agent_kill(s);
	zcp_reclaim_report rep;
	memset(&rep, 0, sizeof rep);
	is_int(zcp_mempool_manager_reclaim(m, &rep), 0, "%s: reclaim", what);
	ok(rep.processes == 1 && pool_used(m, 0) == 0,
	   "%s: reclaim freed S's slot and X (processes %llu, used %llu)", what,
	   (unsigned long long)rep.processes, (unsigned long long)pool_used(m, 0));
	zcp_chunk *x = zcp_chunk_get(m, XSIZE);
	ok(x != NULL, "%s: P takes X again (new generation)", what);
	if (x)
		strcpy(zcp_chunk_data(x), "P owns X now");
	int64_t ret = agent_do(r, OP_RECEIVE, t, 0);
	if (ret == 0)
		diag("%s: the dead sender's ticket returned a chunk reading \"%s\"", what, r->text);
	is_int(ret, -ESTALE, "%s: redeeming the dead sender's ticket gives ESTALE", what);
	if (ret == 0)
		agent_do(r, OP_RELEASE, 0, 0);
	if (x) {
		ok(strcmp(zcp_chunk_data(x), "P owns X now") == 0, "%s: P's data untouched", what);
		ok(zcp_chunk_refcount(x) == 1, "%s: P is X's only holder (refcount %llu)", what,
		   (unsigned long long)zcp_chunk_refcount(x));
		is_int(zcp_chunk_release(m, x), 0, "%s: P releases X", what);
	}
	ok(agent_stop(r), "%s: R detaches cleanly", what);
	finish(m, what);
	munmap(s, sizeof *s);
	munmap(r, sizeof *r);
}

static void scenario_c(int anyone)
{
	const char *what = anyone ? "C0 (R holds X anew, receiver 0)" : "C (R holds X anew)";
	zcp_mempool_manager *m;
	const char *name = mk(&m, 8);
	struct agent *s = agent_alloc(), *r = agent_alloc(), *q = agent_alloc();
	if (agent_start(r, name) || agent_start(s, name) || agent_start(q, name))
		bail("agents");
	uint64_t t = s_sends_x(s, anyone ? 0 : atomic_load(&r->id), "from S");
	ok(t != 0, "%s: S sent X", what);
	agent_kill(s);
	is_int(zcp_mempool_manager_reclaim(m, NULL), 0, "%s: reclaim", what);
	is_int(agent_do(r, OP_GET, XSIZE, 1), 0, "%s: R takes X at a new generation", what);
	agent_do_text(r, OP_WRITE, 1, 0, "R's own X");
	agent_do(r, OP_HANDLE, 1, 0);
	uint64_t hr = r->out;
	ok(hr != 0, "%s: R's handle for X", what);
	int64_t ret = agent_do(r, OP_RECEIVE, t, 2);
	if (ret == 0)
		diag("%s: the old ticket returned a chunk reading \"%s\"", what, r->text);
	is_int(ret, -ESTALE, "%s: R redeeming the dead sender's ticket gets ESTALE", what);
	agent_do(r, OP_REFCOUNT, 1, 0);
	is_int((long long)r->out, 1, "%s: R's refcount on X is still 1", what);
	agent_do(r, OP_HANDLE, 1, 0);
	ok(r->out == hr, "%s: R's handle for X unchanged (%llx vs %llx)", what,
	   (unsigned long long)r->out, (unsigned long long)hr);
	ret = agent_do(q, OP_RESOLVE_REF, hr, 0);
	is_int(ret, 0, "%s: a peer resolves R's handle and takes a reference", what);
	if (ret == 0) {
		ok(strcmp(q->text, "R's own X") == 0, "%s: the peer reads R's data (\"%s\")", what,
		   q->text);
		is_int(agent_do(q, OP_RELEASE, 0, 0), 0, "%s: the peer releases", what);
	}
	agent_do(r, OP_READ, 1, 0);
	ok(strcmp(r->text, "R's own X") == 0, "%s: R's data intact", what);
	is_int(agent_do(r, OP_RELEASE, 1, 0), 0, "%s: R releases X once", what);
	ret = agent_do(r, OP_RELEASE, 1, 0);
	is_int(ret, ZCP_EALREADY, "%s: and a second release is EALREADY", what);
	ok(pool_used(m, 0) == 0, "%s: X is free (used %llu)", what,
	   (unsigned long long)pool_used(m, 0));
	ok(agent_stop(r) & agent_stop(q), "%s: R and Q detach cleanly", what);
	finish(m, what);
	munmap(s, sizeof *s);
	munmap(r, sizeof *r);
	munmap(q, sizeof *q);
}

static void scenario_d(void)
{
	const char *what = "D (slot reused)";
	zcp_mempool_manager *m;
	/* 3 slots: P, R, and one for S then S2 */
	const char *name = mk(&m, 3);
	struct agent *s = agent_alloc(), *r = agent_alloc(), *s2 = agent_alloc();
	if (agent_start(r, name) || agent_start(s, name))
		bail("agents");
	uint64_t sid = atomic_load(&s->id);
	uint64_t t = s_sends_x(s, 0, "from S");
	ok(t != 0, "%s: S sent X to anyone", what);
	agent_kill(s);
	/* S2's attach must reclaim S (table full) */
	ok(agent_start(s2, name) == 0, "%s: S2 attaches into S's slot", what);
	ok(atomic_load(&s2->id) != sid, "%s: S2's process id differs from S's (%llx vs %llx)", what,
	   (unsigned long long)atomic_load(&s2->id), (unsigned long long)sid);
	uint64_t tk[ZCP_ESCROW_SLOTS];
	int n = 0;
	for (int i = 0; i < ZCP_ESCROW_SLOTS; i++) {
		if (agent_do(s2, OP_GET, YSIZE, (uint64_t)i) != 0)
			break;
		char txt[32];
		snprintf(txt, sizeof txt, "S2 #%d", i);
		agent_do_text(s2, OP_WRITE, (uint64_t)i, 0, txt);
		if (agent_do(s2, OP_SEND, (uint64_t)i, 0) != 0)
			break;
		tk[n++] = s2->out;
	}
	is_int(n, ZCP_ESCROW_SLOTS, "%s: S2 has every escrow record in flight", what);
	/* X again, held by S2 */
	int64_t gx = agent_do(s2, OP_GET, XSIZE, 40);
	if (gx == 0)
		agent_do_text(s2, OP_WRITE, 40, 0, "S2 owns X");
	int64_t ret = agent_do(r, OP_RECEIVE, t, 0);
	if (ret == 0)
		diag("%s: the replayed ticket returned a chunk reading \"%s\"", what, r->text);
	is_int(ret, -ESTALE, "%s: S's ticket replayed after its slot was reused: ESTALE", what);
	if (ret == 0)
		agent_do(r, OP_RELEASE, 0, 0);
	int good = 0;
	for (int i = 0; i < n; i++) {
		char want[32];
		snprintf(want, sizeof want, "S2 #%d", i);
		if (agent_do(r, OP_RECEIVE, tk[i], 1) == 0 && strcmp(r->text, want) == 0) {
			good++;
			agent_do(r, OP_RELEASE, 1, 0);
		}
	}
	is_int(good, n, "%s: S2's own tickets all redeem to S2's data", what);
	for (int i = 0; i < n; i++)
		agent_do(s2, OP_RELEASE, (uint64_t)i, 0);
	if (gx == 0) {
		agent_do(s2, OP_READ, 40, 0);
		ok(strcmp(s2->text, "S2 owns X") == 0, "%s: S2's X untouched", what);
		agent_do(s2, OP_RELEASE, 40, 0);
	}
	agent_do(s2, OP_SETTLE, 0, 0);
	ok(agent_stop(r) & agent_stop(s2), "%s: R and S2 detach cleanly", what);
	finish(m, what);
	munmap(s, sizeof *s);
	munmap(r, sizeof *r);
	munmap(s2, sizeof *s2);
}

static void scenario_e(int anyone)
{
	const char *what = anyone ? "E0 (redeemed before reclaim, receiver 0)"
				  : "E (redeemed before reclaim)";
	zcp_mempool_manager *m;
	const char *name = mk(&m, 8);
	struct agent *s = agent_alloc(), *r = agent_alloc();
	if (agent_start(r, name) || agent_start(s, name))
		bail("agents");
	uint64_t t = s_sends_x(s, anyone ? 0 : atomic_load(&r->id), "from S");
	agent_kill(s);
	int64_t ret = agent_do(r, OP_RECEIVE, t, 0);
	ok(ret == 0 || ret == -ESTALE, "%s: receive gives the chunk or ESTALE (%lld)", what,
	   (long long)ret);
	is_int(zcp_mempool_manager_reclaim(m, NULL), 0, "%s: reclaim", what);
	if (ret == 0) {
		errno = 0;
		zcp_chunk *x = zcp_chunk_get(m, XSIZE);
		ok(!x && errno == ENOBUFS, "%s: R holds X after reclaim: nobody else gets it", what);
		if (x)
			zcp_chunk_release(m, x);
		agent_do(r, OP_READ, 0, 0);
		ok(strcmp(r->text, "from S") == 0, "%s: R reads S's data", what);
		is_int(agent_do(r, OP_RELEASE, 0, 0), 0, "%s: R releases", what);
	} else {
		ok(pool_used(m, 0) == 0, "%s: X freed by reclaim", what);
	}
	ok(agent_stop(r), "%s: R detaches", what);
	finish(m, what);
	munmap(s, sizeof *s);
	munmap(r, sizeof *r);
}

/* F: S dies with X lent; R redeems in a loop while P reclaims and then
 * takes X.  R and P must never both hold X. */
static void scenario_f(long rounds)
{
	const char *what = "F (kill/reclaim/redeem race)";
	zcp_mempool_manager *m;
	const char *name = mk(&m, 4);
	struct agent *r = agent_alloc(), *s = agent_alloc();
	if (agent_start(r, name))
		bail("agents");
	long got = 0, stale = 0, both = 0, other = 0, bad = 0, failed_start = 0;
	for (long i = 0; i < rounds; i++) {
		if (agent_start(s, name)) {
			failed_start++;
			continue;
		}
		uint64_t t = s_sends_x(s, (i & 1) ? 0 : atomic_load(&r->id), "from S");
		if (!t) {
			other++;
			agent_kill(s);
			zcp_mempool_manager_reclaim(m, NULL);
			continue;
		}
		/* R redeems asynchronously while we kill and reclaim */
		r->op = OP_RECEIVE;
		r->arg = t;
		r->arg2 = 0;
		unsigned sq = atomic_load(&r->cmd_seq) + 1;
		if (i % 3 == 0)
			atomic_store(&r->cmd_seq, sq);
		kill(s->pid, SIGKILL);
		if (i % 3 == 1)
			atomic_store(&r->cmd_seq, sq);
		int st;
		while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
			;
		s->pid = 0;
		zcp_mempool_manager_reclaim(m, NULL);
		if (i % 3 == 2)
			atomic_store(&r->cmd_seq, sq);
		zcp_chunk *x = zcp_chunk_get(m, XSIZE);
		if (x)
			strcpy(zcp_chunk_data(x), "P");
		double end = agent_now() + 10;
		while (atomic_load(&r->done_seq) != sq && agent_now() < end)
			usleep(20);
		int64_t ret = r->ret;
		if (ret == 0) {
			got++;
			if (x)
				both++;
			if (strcmp(r->text, "from S") != 0)
				bad++;
			agent_do(r, OP_RELEASE, 0, 0);
		} else if (ret == -ESTALE)
			stale++;
		else
			other++;
		if (x) {
			if (strcmp(zcp_chunk_data(x), "P") != 0)
				bad++;
			zcp_chunk_release(m, x);
		}
		zcp_mempool_manager_settle(m);
		if (pool_used(m, 0) != 0)
			bad++;
	}
	diag("%s: %ld rounds: received %ld, ESTALE %ld, other %ld, P and R both held X %ld, "
	     "bad data/leak %ld, agent start failures %ld",
	     what, rounds, got, stale, other, both, bad, failed_start);
	is_int(both, 0, "%s: R and P never hold X at once", what);
	is_int(bad, 0, "%s: no wrong data, X back after every round", what);
	is_int(other + failed_start, 0, "%s: no other errors", what);
	ok(agent_stop(r), "%s: R detaches", what);
	finish(m, what);
	munmap(s, sizeof *s);
	munmap(r, sizeof *r);
}

int main(void)
{
	plan_lazy();
	scenario_a(0);
	scenario_a(1);
	scenario_c(0);
	scenario_c(1);
	scenario_d();
	scenario_e(0);
	scenario_e(1);
	long f = zt_iters(150);
	scenario_f(f < 20000 ? f : 20000);
	zt_done();
	return done_testing();
}
