/* SPDX-License-Identifier: MIT */
/* Attacks chunk.h's escrow accounting: "the lent reference is dropped by
 * the sender's next zcp_chunk_get(), zcp_chunk_send() or
 * zcp_mempool_manager_settle() (an idle sender should call the latter;
 * zcp_process_info.lent_unsettled shows what waits for it)", and pool.h's
 * "used: chunks held by some process now".
 *
 * An idle sender S lends X to R; R takes and releases it.  Until S settles,
 * S's slot must show lent_unsettled > 0; S's settle must return the count,
 * lent_unsettled must then be 0, and X must be back (used 0).  Variants:
 * receiver 0; S settles while R still holds; R dies before taking (reclaim
 * cancels); S unsends; S dies or detaches with lent references unsettled;
 * all ZCP_ESCROW_SLOTS records taken while S idles, then S sends again. */
#include "attack-agent.h"

static zcp_mempool_manager *m;
static const char *name;

static void mk(void)
{
	name = zt_name();
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 256, 32);
	zcp_mempool_config_set_max_processes(cfg, 8);
	int err = zcp_mempool_manager_create(name, cfg, &m);
	zcp_mempool_config_free(cfg);
	if (err)
		bail("create: %s", zcp_strerror(err));
}

static void finish(const char *what)
{
	zcp_mempool_manager_reclaim(m, NULL);
	ok(pool_used(m, 0) == 0, "%s: all chunks back at the end (used %llu)", what,
	   (unsigned long long)pool_used(m, 0));
	is_int(zcp_mempool_manager_check(m), 0, "%s: check", what);
	zcp_mempool_manager_destroy(m);
}

/* lent_unsettled of agent a's slot (found by its process id, else by pid);
 * -1 if the slot is not found. */
static long long lent(struct agent *a)
{
	zcp_process_info pi;
	if (find_process(m, atomic_load(&a->id), &pi) >= 0)
		return (long long)pi.lent_unsettled;
	int n = zcp_mempool_manager_process_slots(m);
	for (int s = 0; s < n; s++)
		if (zcp_mempool_manager_process(m, s, &pi) == 0 && pi.pid == a->pid) {
			static int once;
			if (!once++)
				diag("process table: no slot's id is the agent's process id %llx "
				     "(found by pid instead; its id reads %llx)",
				     (unsigned long long)atomic_load(&a->id),
				     (unsigned long long)pi.id);
			return (long long)pi.lent_unsettled;
		}
	return -1;
}

static uint64_t lend(struct agent *s, uint64_t to, int slot)
{
	if (agent_do(s, OP_GET, 100, (uint64_t)slot) != 0)
		return 0;
	agent_do_text(s, OP_WRITE, (uint64_t)slot, 0, "lent");
	if (agent_do(s, OP_SEND, (uint64_t)slot, to) != 0)
		return 0;
	uint64_t t = s->out;
	return agent_do(s, OP_RELEASE, (uint64_t)slot, 0) == 0 ? t : 0;
}

static void basic(int anyone, int settle_early)
{
	char what[80];
	snprintf(what, sizeof what, "idle sender%s%s", anyone ? ", receiver 0" : "",
		 settle_early ? ", settles while R holds" : "");
	mk();
	struct agent *s = agent_alloc(), *r = agent_alloc();
	if (agent_start(s, name) || agent_start(r, name))
		bail("agents");
	zcp_process_info pi;
	ok(find_process(m, atomic_load(&s->id), &pi) >= 0,
	   "%s: zcp_mempool_manager_process() lists S under its process id", what);
	uint64_t t = lend(s, anyone ? 0 : atomic_load(&r->id), 0);
	ok(t != 0, "%s: S lends X and drops its own reference", what);
	is_int(lent(s), 0, "%s: lent_unsettled 0 while the ticket is in flight", what);
	is_int((long long)pool_used(m, 0), 1, "%s: X is used while in flight", what);
	is_int(agent_do(r, OP_RECEIVE, t, 0), 0, "%s: R takes the ticket", what);
	ok(strcmp(r->text, "lent") == 0, "%s: R reads S's data", what);
	if (settle_early) {
		ok(lent(s) > 0, "%s: lent_unsettled > 0 once taken (%lld)", what, lent(s));
		is_int(agent_do(s, OP_SETTLE, 0, 0), 1, "%s: S settles one lent reference", what);
		is_int(lent(s), 0, "%s: then lent_unsettled is 0", what);
		is_int((long long)pool_used(m, 0), 1, "%s: R still holds X", what);
		is_int(agent_do(r, OP_RELEASE, 0, 0), 0, "%s: R releases", what);
		is_int((long long)pool_used(m, 0), 0, "%s: X back without S doing anything",
		       what);
	} else {
		is_int(agent_do(r, OP_RELEASE, 0, 0), 0, "%s: R releases", what);
		long long l = lent(s);
		ok(l > 0, "%s: S idle: lent_unsettled > 0 (%lld)", what, l);
		int64_t n = agent_do(s, OP_SETTLE, 0, 0);
		is_int(n, 1, "%s: S's settle drops one lent reference", what);
		is_int(lent(s), 0, "%s: lent_unsettled 0 after settle", what);
		is_int((long long)pool_used(m, 0), 0, "%s: X back in its pool after settle", what);
		is_int(agent_do(s, OP_SETTLE, 0, 0), 0, "%s: a second settle finds nothing", what);
	}
	ok(agent_stop(s) & agent_stop(r), "%s: agents detach", what);
	finish(what);
	munmap(s, sizeof *s);
	munmap(r, sizeof *r);
}

static void receiver_dies(void)
{
	const char *what = "receiver dies before taking";
	mk();
	struct agent *s = agent_alloc(), *r = agent_alloc();
	if (agent_start(s, name) || agent_start(r, name))
		bail("agents");
	uint64_t t = lend(s, atomic_load(&r->id), 0);
	ok(t != 0, "%s: S lends X to R", what);
	agent_kill(r);
	zcp_reclaim_report rep;
	memset(&rep, 0, sizeof rep);
	is_int(zcp_mempool_manager_reclaim(m, &rep), 0, "%s: reclaim", what);
	is_int((long long)rep.cancelled, 1, "%s: reclaim cancels the ticket", what);
	ok(lent(s) > 0, "%s: S's lent_unsettled > 0 (%lld)", what, lent(s));
	is_int(agent_do(s, OP_SETTLE, 0, 0), 1, "%s: S settles it", what);
	is_int((long long)pool_used(m, 0), 0, "%s: X back", what);
	is_int(agent_do(s, OP_UNSEND, t, 0), ZCP_ESTALE, "%s: unsend after cancel: ESTALE", what);
	ok(agent_stop(s), "%s: S detaches", what);
	finish(what);
	munmap(s, sizeof *s);
	munmap(r, sizeof *r);
}

static void unsend(void)
{
	const char *what = "sender unsends";
	mk();
	struct agent *s = agent_alloc(), *r = agent_alloc();
	if (agent_start(s, name) || agent_start(r, name))
		bail("agents");
	uint64_t t = lend(s, atomic_load(&r->id), 0);
	is_int(agent_do(s, OP_UNSEND, t, 0), 0, "%s: unsend", what);
	is_int((long long)pool_used(m, 0), 0, "%s: X back at once", what);
	is_int(lent(s), 0, "%s: nothing waits for settle", what);
	is_int(agent_do(r, OP_RECEIVE, t, 0), -ESTALE, "%s: R's receive: ESTALE", what);
	ok(agent_stop(s) & agent_stop(r), "%s: agents detach", what);
	finish(what);
	munmap(s, sizeof *s);
	munmap(r, sizeof *r);
}

/* S's ticket taken, S never settles and then dies (or detaches): its lent
 * reference must go with it, R's reference must stay. */
static void sender_leaves(int dies)
{
	const char *what = dies ? "idle sender dies unsettled" : "idle sender detaches unsettled";
	mk();
	struct agent *s = agent_alloc(), *r = agent_alloc();
	if (agent_start(s, name) || agent_start(r, name))
		bail("agents");
	uint64_t t = lend(s, atomic_load(&r->id), 0);
	is_int(agent_do(r, OP_RECEIVE, t, 0), 0, "%s: R takes X", what);
	if (dies) {
		agent_kill(s);
		is_int(zcp_mempool_manager_reclaim(m, NULL), 0, "%s: reclaim", what);
	} else {
		ok(agent_stop(s), "%s: S detaches", what);
	}
	errno = 0;
	zcp_chunk *x = zcp_chunk_get(m, 100);
	/* 32 chunks: a get succeeds, but must not be X while R holds it */
	agent_do(r, OP_READ, 0, 0);
	ok(strcmp(r->text, "lent") == 0, "%s: R still reads X", what);
	agent_do(r, OP_REFCOUNT, 0, 0);
	is_int((long long)r->out, 1, "%s: R's refcount 1 (only R holds X)", what);
	is_int((long long)pool_used(m, 0), 1 + (x != NULL), "%s: X still used (R holds it)", what);
	if (x)
		zcp_chunk_release(m, x);
	is_int(agent_do(r, OP_RELEASE, 0, 0), 0, "%s: R releases", what);
	is_int((long long)pool_used(m, 0), 0, "%s: X back", what);
	ok(agent_stop(r), "%s: R detaches", what);
	finish(what);
	munmap(s, sizeof *s);
	munmap(r, sizeof *r);
}

/* All records lent and taken while S idles; S's next send must work. */
static void all_records(void)
{
	const char *what = "every record taken while S idles";
	mk();
	struct agent *s = agent_alloc(), *r = agent_alloc();
	if (agent_start(s, name) || agent_start(r, name))
		bail("agents");
	/* take all chunks first: S's gets would settle taken tickets on the way */
	uint64_t tk[ZCP_ESCROW_SLOTS];
	for (int i = 0; i < ZCP_ESCROW_SLOTS; i++) {
		agent_do(s, OP_GET, 100, (uint64_t)i);
		agent_do_text(s, OP_WRITE, (uint64_t)i, 0, "lent");
	}
	for (int i = 0; i < ZCP_ESCROW_SLOTS; i++) {
		tk[i] = agent_do(s, OP_SEND, (uint64_t)i, (i & 1) ? 0 : atomic_load(&r->id)) == 0
				? s->out
				: 0;
		agent_do(s, OP_RELEASE, (uint64_t)i, 0);
	}
	int taken = 0;
	for (int i = 0; i < ZCP_ESCROW_SLOTS; i++)
		if (tk[i] && agent_do(r, OP_RECEIVE, tk[i], (uint64_t)i) == 0 &&
		    agent_do(r, OP_RELEASE, (uint64_t)i, 0) == 0)
			taken++;
	is_int(taken, ZCP_ESCROW_SLOTS, "%s: R took and released all %d", what, ZCP_ESCROW_SLOTS);
	is_int(lent(s), ZCP_ESCROW_SLOTS, "%s: lent_unsettled counts them all", what);
	diag("%s: used %llu while S idles", what, (unsigned long long)pool_used(m, 0));
	uint64_t t = lend(s, atomic_load(&r->id), 20);
	ok(t != 0, "%s: S's next send works (it settles on the way)", what);
	is_int((long long)pool_used(m, 0), 1, "%s: only the new one is used", what);
	is_int(agent_do(s, OP_UNSEND, t, 0), 0, "%s: unsend it", what);
	is_int((long long)pool_used(m, 0), 0, "%s: all back", what);
	ok(agent_stop(s) & agent_stop(r), "%s: agents detach", what);
	finish(what);
	munmap(s, sizeof *s);
	munmap(r, sizeof *r);
}

int main(void)
{
	plan_lazy();
	basic(0, 0);
	basic(1, 0);
	basic(0, 1);
	receiver_dies();
	unsend();
	sender_leaves(1);
	sender_leaves(0);
	all_records();
	zt_done();
	return done_testing();
}
