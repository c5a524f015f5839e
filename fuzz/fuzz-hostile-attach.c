/* SPDX-License-Identifier: MIT */
/* libFuzzer target: attaching, for real, to a management segment a hostile
 * peer has written, then calling every public function on it.
 *
 * At init a small shm manager is created (unique name, destroyed at exit)
 * and its management segment saved; its handle is H0, the creator.  Each
 * input is:
 *
 *   byte 0      how many pokes (0..7) to make before attaching
 *   pokes       each writes input bytes into one shared word: header
 *               fields past the ones validation decides on (creator pid
 *               and id, nonce, mode, reserved), pool heads and used_max,
 *               record words (raw, or well-formed HELD / FREE / RELEASING
 *               / ONTOP values), next links, generations, sizes, process
 *               slot state words (raw, or well-formed FREE / LIVE /
 *               RECLAIMING / TAKEOVER values naming real slots and
 *               incarnations), pids, outbox counters and outbox entries,
 *               or (rarely) any bytes anywhere in the segment
 *   then        H1 = zcp_mempool_manager_attach() and H2 = a read-only
 *               zcp_mempool_manager_attach_opts(), on whatever the pokes
 *               left; either may fail
 *   program     up to 96 operations, one opcode byte then operands, on H0,
 *               H1 and H2: get, release, ref, refcount and the chunk
 *               accessors, handle on one handle -> from_handle (+ ref) on
 *               another, from_handle of an arbitrary value, send (to any
 *               receiver, the other handle's process id, or garbage),
 *               receive (a real ticket, one with bits flipped, a forged
 *               one made from the shared outbox word, garbage), unsend,
 *               settle, reclaim, pool_stats, print_stats (to /dev/null),
 *               process, creator_alive / creator_pid / process_id /
 *               layout, check, detach and re-attach of H1 or H2, a
 *               foreign chunk passed to the wrong handle, and more pokes
 *
 * Nothing may crash, hang (-timeout=5), leak memory or leak a descriptor
 * (the descriptor count is compared before and after each input).  An
 * input that makes no poke is an honest run: then every call must
 * succeed as documented and, once everything is released, unsent, settled
 * and H1/H2 detached, every pool must be back to used == 0 and
 * zcp_mempool_manager_check() must pass.
 *
 * Inputs are independent: at the end H1 and H2 are detached, the
 * segment is restored from the saved copy and H0's process-local state
 * (chunk views, escrow bookkeeping) is reset.
 */
#include "handle.h"

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NH 3         /* H0 creator, H1 attached, H2 read-only */
#define HELD_MAX 16  /* references tracked per handle */
#define TICKETS_MAX 16
#define STEPS_MAX 96

static zcp_mempool_manager *h[NH];
static unsigned char *saved;
static char name[64];
static FILE *devnull;

/* What the program holds: one entry per reference. */
static zcp_chunk *held[NH][HELD_MAX];
static unsigned nheld[NH];
struct ticket {
	uint64_t t;
	int from; /* the handle that sent it */
	int open; /* not yet received or unsent by us */
};
static struct ticket tickets[TICKETS_MAX];
static unsigned ntickets;
static int poked; /* this input wrote into shared memory */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                         \
	do {                                                                             \
		if (!(c)) {                                                              \
			fprintf(stderr, "fuzz-hostile-attach: %s:%d: check failed: %s\n", \
				__FILE__, __LINE__, #c);                                 \
			__builtin_trap();                                                \
		}                                                                        \
	} while (0)
/* A check that only holds when nobody scribbled on shared memory. */
#define HONEST(c) CHECK(poked || (c))

static void restore(void)
{
	zcp_mempool_manager *m = h[0];
	memcpy(m->mgmt, saved, m->geo.mgmt_size);
	memset(m->chunks, 0, m->chunks_bytes);
	for (unsigned e = 0; e < ZCP__OUTBOX_SLOTS; e++)
		atomic_store(&m->lent_gidx[e], 0);
	atomic_store(&m->lent, 0);
	atomic_store(&m->taken_seen, 0);
}

static void at_exit(void)
{
	for (int i = 1; i < NH; i++)
		if (h[i]) {
			zcp_mempool_manager_detach(h[i]);
			h[i] = NULL;
		}
	if (h[0]) {
		restore();
		zcp_mempool_manager_destroy(h[0]);
		h[0] = NULL;
	}
	zcp_mempool_manager_unlink(name);
	if (devnull)
		fclose(devnull);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();

	(void)argc;
	(void)argv;
	snprintf(name, sizeof name, "fuzzhostile%ld", (long)getpid());
	if (!cfg || zcp_mempool_config_add_entry(cfg, 64, 6) ||
	    zcp_mempool_config_add_entry(cfg, 256, 4) || zcp_mempool_config_add_entry(cfg, 1024, 2) ||
	    zcp_mempool_config_set_max_processes(cfg, 3) ||
	    zcp_mempool_manager_create(name, cfg, &h[0]))
		abort();
	zcp_mempool_config_free(cfg);
	saved = malloc(h[0]->geo.mgmt_size);
	if (!saved)
		abort();
	memcpy(saved, h[0]->mgmt, h[0]->geo.mgmt_size);
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
	atexit(at_exit);
	return 0;
}

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* --- pokes ---------------------------------------------------------------- */

/* The incarnation a structured slot word names: one near a real one. */
static uint64_t some_inc(uint64_t v)
{
	zcp_mempool_manager *m = h[v % NH];
	uint64_t base = m && !m->read_only ? zcp__sid_inc(m->sid) : 0;
	return base + ((v >> 2) % 3) - 1;
}

static uint64_t some_process_id(uint64_t v)
{
	switch (v % 4) {
	case 0:
		return 0;
	case 1:
		return zcp_mempool_manager_process_id(h[0]);
	case 2:
		return zcp_mempool_manager_process_id(h[1]);
	default:
		return zcp__process_id((unsigned)(v >> 2) % 8, (v >> 5) % 4);
	}
}

/* A well-formed slot word (slot.h), mostly of an occupied or reclaimed
 * slot: state, incarnation and reclaimer taken from v. */
static uint64_t some_sid(uint64_t v)
{
	unsigned st = (unsigned)v & 3;
	uint64_t inc = some_inc(v >> 2);
	return st == ZCP__SLOT_RECLAIMING
		       ? zcp__sid_reclaiming(inc, (unsigned)(v >> 8) % 6, some_inc(v >> 16))
		       : zcp__sid_make(st, inc);
}

static void poke(struct input *in)
{
	zcp_mempool_manager *m = h[0];
	const struct zcp__geometry *g = &m->geo;
	unsigned kind = (unsigned)take(in, 1) % 20;
	uint64_t which = take(in, 1);
	uint64_t v = take(in, 8);
	unsigned pool = (unsigned)(which % g->pool_count);
	struct zcp__pool_desc *d = m->pools[pool].desc;
	uint64_t gi = which % g->total_chunks;
	struct zcp__record *r = &m->records[gi];
	unsigned slot = (unsigned)(which % g->max_processes);
	struct zcp__proc *p = zcp__proc_at(m, slot);
	struct zcp__outbox_entry *o = &p->outbox[(which >> 3) % ZCP__OUTBOX_SLOTS];

	poked = 1;
	switch (kind) {
	case 0: { /* a header word past what validation decides on */
		size_t first = offsetof(struct zcp__header, creator_pid);
		size_t off = first + 8 * (which % ((ZCP__HEADER_SIZE - first) / 8));
		memcpy(m->mgmt + off, &v, 8);
		break;
	}
	case 1:
		atomic_store(&d->head, v);
		break;
	case 2: /* a head with an in-range top */
		atomic_store(&d->head, zcp__h_make((uint32_t)(v % m->pools[pool].count),
						   (unsigned)(v >> 32) % 64, v >> 40));
		break;
	case 3:
		atomic_store(&d->used_max, v);
		break;
	case 4:
		atomic_store(&r->word, v);
		break;
	case 5: { /* a well-formed record word */
		uint64_t gen = (v >> 8) % 5;
		unsigned s = (unsigned)(v >> 4) % 5;
		switch (v % 4) {
		case 0:
			atomic_store(&r->word, zcp__w_held((v >> 16) & 0xf ? (v >> 16) & 0xf : 1, gen));
			break;
		case 1:
			atomic_store(&r->word, zcp__w_free(gen));
			break;
		case 2:
			atomic_store(&r->word, zcp__w_releasing(s, gen));
			break;
		default:
			atomic_store(&r->word, zcp__w_claimed(zcp__w_claim_bits(s), gen));
			break;
		}
		break;
	}
	case 6:
		atomic_store(&r->next, (uint32_t)v);
		break;
	case 7:
		atomic_store(&r->seq, v);
		break;
	case 8:
		atomic_store(&r->size, v);
		break;
	case 9:
		atomic_store(&p->id, v);
		break;
	case 10: /* a well-formed slot word naming real slots and incarnations */
		atomic_store(&p->id, some_sid(v));
		break;
	case 11: /* all of them but the creator's: a full table, takeovers */
		for (unsigned k = 1; k < g->max_processes; k++)
			atomic_store(&zcp__proc_at(m, k)->id, some_sid(v | (which & 3) << (8 * k)));
		break;
	case 12:
		atomic_store(&p->pid, (int64_t)v);
		break;
	case 13:
		atomic_store(&p->outbox_taken, v);
		break;
	case 14:
		atomic_store(&o->word, v);
		break;
	case 15: /* a well-formed outbox word */
		atomic_store(&o->word, zcp__out_word((unsigned)v & 3, v >> 2));
		break;
	case 16:
		atomic_store(&o->chunk, v % 4 ? v % (g->total_chunks + 2) : v);
		break;
	case 17:
		atomic_store(&o->seq, v % 4 ? v % 6 : v);
		break;
	case 18:
		atomic_store(&o->receiver, some_process_id(v));
		break;
	default: { /* any bytes anywhere (rarely gets past validation) */
		size_t off = (size_t)(v % g->mgmt_size);
		size_t len = (size_t)(which % 16) + 1;
		for (size_t i = 0; i < len && in->n && off + i < g->mgmt_size; i++)
			m->mgmt[off + i] = (unsigned char)take(in, 1);
		/* A manager still initialising makes attach wait a second
		 * for its creator: not what this target is about. */
		if (atomic_load(&m->hdr->state) == ZCP__STATE_INIT)
			atomic_store(&m->hdr->state, ZCP__STATE_READY);
		break;
	}
	}
}

/* --- handles ---------------------------------------------------------------- */

static void do_attach(int i)
{
	if (h[i])
		return;
	if (i == 1) {
		int err = zcp_mempool_manager_attach(name, &h[1]);
		HONEST(err == 0);
		if (err)
			h[1] = NULL;
	} else {
		zcp_attach_options o;
		zcp_attach_options_init(&o);
		o.read_only = 1;
		int err = zcp_mempool_manager_attach_opts(name, &o, &h[2]);
		HONEST(err == 0);
		if (err)
			h[2] = NULL;
	}
}

static void forget_handle(int i)
{
	nheld[i] = 0;
	for (unsigned k = 0; k < ntickets; k++)
		if (tickets[k].from == i)
			tickets[k].open = 0;
}

static void do_detach(int i)
{
	if (!h[i])
		return;
	zcp_mempool_manager_detach(h[i]);
	h[i] = NULL;
	forget_handle(i);
}

static void push_held(int i, zcp_chunk *c)
{
	if (nheld[i] < HELD_MAX) {
		held[i][nheld[i]++] = c;
	} else {
		/* No room to track it: give it back at once. */
		int err = zcp_chunk_release(h[i], c);
		HONEST(err == 0);
	}
}

static zcp_chunk *pick_held(int i, unsigned k, unsigned *at)
{
	if (!nheld[i])
		return NULL;
	*at = k % nheld[i];
	return held[i][*at];
}

static void drop_entry(int i, unsigned at)
{
	held[i][at] = held[i][--nheld[i]];
}

static void release_one(int i, unsigned at)
{
	int err = zcp_chunk_release(h[i], held[i][at]);
	HONEST(err == 0);
	drop_entry(i, at);
}

static void touch(zcp_chunk *c, uint8_t pattern)
{
	void *data = zcp_chunk_data(c);
	uint64_t cap = zcp_chunk_capacity(c);
	CHECK(data && cap);
	CHECK(zcp_chunk_size(c) <= cap);
	CHECK(zcp_chunk_pool_index(c) >= 0);
	memset(data, pattern, cap);
}

/* The receiver of a send. */
static uint64_t receiver_of(struct input *in, int from)
{
	uint64_t v = take(in, 1);
	switch (v % 4) {
	case 0:
		return 0;
	case 1:
		return zcp_mempool_manager_process_id(h[from == 1 ? 0 : 1]);
	case 2:
		return zcp_mempool_manager_process_id(h[from]);
	default:
		return take(in, 8);
	}
}

/* A ticket to receive or unsend: one we got, with some bits flipped, one
 * forged from a shared outbox word, or garbage. */
static uint64_t ticket_of(struct input *in, int *known)
{
	uint64_t v = take(in, 1);
	*known = -1;
	switch (v % 5) {
	case 0:
	case 1:
		if (!ntickets)
			return 0;
		*known = (int)((v >> 3) % ntickets);
		return tickets[*known].t;
	case 2:
		if (!ntickets)
			return 0;
		return tickets[(v >> 3) % ntickets].t ^ take(in, 8);
	case 3: {
		unsigned s = (unsigned)(v >> 3) % h[0]->geo.max_processes;
		unsigned e = (unsigned)take(in, 1) % ZCP__OUTBOX_SLOTS;
		uint64_t w = atomic_load(&zcp__proc_at(h[0], s)->outbox[e].word);
		return ((uint64_t)s << 58) | ((uint64_t)e << 54) | (w & ((UINT64_C(1) << 54) - 1));
	}
	default:
		return take(in, 8);
	}
}

static void add_ticket(uint64_t t, int from)
{
	if (ntickets < TICKETS_MAX) {
		tickets[ntickets].t = t;
		tickets[ntickets].from = from;
		tickets[ntickets].open = 1;
		ntickets++;
	}
}

static void describe(zcp_mempool_manager *m, struct input *in)
{
	zcp_process_info pi;
	zcp_mempool_layout lay;
	int slots = zcp_mempool_manager_process_slots(m);
	int k = (int)take(in, 1) % 6 - 1;
	int err = zcp_mempool_manager_process(m, k, &pi);
	if (m && k >= 0 && k < slots)
		HONEST(err == 0);
	(void)zcp_mempool_manager_creator_pid(m);
	int alive = zcp_mempool_manager_creator_alive(m);
	if (m)
		HONEST(alive == 1);
	(void)zcp_mempool_manager_process_id(m);
	(void)zcp_mempool_manager_get_layout(m, &lay);
	(void)zcp_mempool_manager_pool_count(m);
	(void)zcp_mempool_manager_name(m);
}

static void step(struct input *in)
{
	unsigned op = (unsigned)take(in, 1);
	int i = (int)((op >> 5) % NH);
	int j = (int)((op >> 7) ^ (op >> 5)) % NH; /* a second handle */
	zcp_mempool_manager *m = h[i];
	unsigned at = 0;
	zcp_chunk *c;

	switch (op % 20) {
	case 0:
	case 1: {
		uint64_t size = take(in, 2);
		c = zcp_chunk_get(m, size);
		if (c) {
			CHECK(m && !m->read_only);
			touch(c, (uint8_t)op);
			push_held(i, c);
		} else if (m && !m->read_only && size > 0 && size <= 1024) {
			/* Up to 12 chunks exist; ENOBUFS is honest. */
			HONEST(errno == ENOBUFS);
		}
		break;
	}
	case 2:
		if ((c = pick_held(i, (unsigned)take(in, 1), &at)))
			release_one(i, at);
		break;
	case 3:
		if ((c = pick_held(i, (unsigned)take(in, 1), &at))) {
			int err = zcp_chunk_ref(m, c);
			HONEST(err == 0);
			if (err == 0)
				push_held(i, c);
		}
		break;
	case 4:
		if ((c = pick_held(i, (unsigned)take(in, 1), &at))) {
			uint64_t n = zcp_chunk_refcount(c);
			HONEST(n >= 1);
			touch(c, (uint8_t)n);
		}
		break;
	case 5: /* handle on i -> from_handle (+ ref) on j */
		if ((c = pick_held(i, (unsigned)take(in, 1), &at))) {
			uint64_t hd = zcp_chunk_handle(m, c);
			HONEST(hd != 0);
			uint64_t delta = op & 0x80 ? take(in, 1) : 0;
			zcp_chunk *d = zcp_chunk_from_handle(h[j], hd ^ delta);
			if (!delta && h[j] && !h[j]->read_only)
				HONEST(d != NULL);
			if (d && zcp_chunk_ref(h[j], d) == 0)
				push_held(j, d);
			else if (!delta)
				HONEST(!d);
		}
		break;
	case 6: { /* from_handle of any value */
		c = zcp_chunk_from_handle(m, take(in, 8));
		if (c && zcp_chunk_ref(m, c) == 0)
			push_held(i, c);
		break;
	}
	case 7:
	case 8: /* send */
		if ((c = pick_held(i, (unsigned)take(in, 1), &at))) {
			uint64_t t = 0, to = receiver_of(in, i);
			int err = zcp_chunk_send(m, c, to, &t);
			if (err == 0)
				add_ticket(t, i);
			else if (!m->read_only)
				HONEST(err == ZCP_ENOSPC);
		}
		break;
	case 9:
	case 10: { /* receive */
		int known;
		uint64_t t = ticket_of(in, &known);
		c = zcp_chunk_receive(m, t);
		if (c) {
			push_held(i, c);
			if (known >= 0)
				tickets[known].open = 0;
		}
		break;
	}
	case 11: { /* unsend */
		int known;
		uint64_t t = ticket_of(in, &known);
		int err = zcp_chunk_unsend(m, t);
		if (err == 0 && known >= 0)
			tickets[known].open = 0;
		break;
	}
	case 12: {
		long n = zcp_mempool_manager_settle(m);
		if (m && !m->read_only)
			HONEST(n >= 0);
		break;
	}
	case 13: {
		zcp_reclaim_report rep;
		int err = zcp_mempool_manager_reclaim(m, op & 0x80 ? &rep : NULL);
		if (m && !m->read_only)
			HONEST(err == 0);
		break;
	}
	case 14: {
		zcp_pool_stats st;
		(void)zcp_mempool_manager_pool_stats(m, (int)take(in, 1) % 4 - (op >> 7), &st);
		(void)zcp_mempool_manager_print_stats(m, devnull);
		break;
	}
	case 15:
		describe(m, in);
		break;
	case 16: {
		int err = zcp_mempool_manager_check(m);
		if (m)
			HONEST(err == 0);
		break;
	}
	case 17: /* detach, or attach again, H1 or H2 */
		if (i == 0)
			i = 1 + (op >> 7);
		if (h[i])
			do_detach(i);
		else
			do_attach(i);
		break;
	case 18: /* a chunk of one handle passed to another */
		if (i != j && h[j] && (c = pick_held(i, (unsigned)take(in, 1), &at))) {
			CHECK(zcp_chunk_release(h[j], c) == (h[j]->read_only ? ZCP_EPERM : ZCP_EINVAL));
			CHECK(zcp_chunk_ref(h[j], c) == (h[j]->read_only ? ZCP_EPERM : ZCP_EINVAL));
			CHECK(zcp_chunk_handle(h[j], c) == 0);
		}
		break;
	default:
		poke(in);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	int fds = count_fds();

	poked = 0;
	ntickets = 0;
	for (int i = 0; i < NH; i++)
		nheld[i] = 0;
	unsigned pre = (unsigned)take(&in, 1) % 8;
	for (unsigned k = 0; k < pre; k++)
		poke(&in);
	do_attach(1);
	do_attach(2);
	for (int steps = 0; in.n && steps < STEPS_MAX; steps++)
		step(&in);

	/* Give everything back: references, tickets not taken, lent
	 * references; then the other handles go. */
	for (int i = 0; i < NH; i++)
		while (nheld[i])
			release_one(i, nheld[i] - 1);
	for (unsigned k = 0; k < ntickets; k++)
		if (tickets[k].open && h[tickets[k].from])
			(void)zcp_chunk_unsend(h[tickets[k].from], tickets[k].t);
	for (int i = 0; i < 2; i++)
		if (h[i])
			(void)zcp_mempool_manager_settle(h[i]);
	do_detach(1);
	do_detach(2);
	(void)zcp_mempool_manager_settle(h[0]);
	if (!poked) {
		/* An honest run leaves nothing behind. */
		for (unsigned p = 0; p < h[0]->geo.pool_count; p++) {
			zcp_pool_stats st;
			CHECK(zcp_mempool_manager_pool_stats(h[0], (int)p, &st) == 0);
			CHECK(st.used == 0);
		}
		CHECK(zcp_mempool_manager_check(h[0]) == 0);
		CHECK(atomic_load(&h[0]->lent) == 0);
	}
	restore();
	CHECK(count_fds() == fds);
	return 0;
}
