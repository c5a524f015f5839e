/* SPDX-License-Identifier: MIT */
/* libFuzzer target: resolving handles and calling the chunk API while
 * shared words hold whatever a hostile peer wrote.
 *
 * At init a small shm-backed manager is created (unique name, destroyed at
 * exit) and its management segment saved.  Each input is a program of
 * operations, one byte of opcode then its operands:
 *   from_handle(u64) [+ ref + release], get(size) [kept], release, ref,
 *   handle + from_handle(handle ^ delta), write u64 into a chosen shared
 *   word (pool head, record word / next / seq / size, process slot state
 *   word raw or well formed (slot.h), an outbox entry),
 *   pool_stats / check / reclaim / process / print_stats.
 * Nothing may crash, hang or touch memory outside the segments.  After
 * each input the segment and the process-local views are restored, so
 * inputs are independent.
 *
 * (With the code before commit c2edd45 this target found, in seconds, the
 * zcp_chunk_get() hang on a chunk a peer had put back on the free list
 * while this process held it.)
 */
#include "handle.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HELD_MAX 8

static zcp_mempool_manager *m;
static unsigned char *saved;
static char name[64];
static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void at_exit(void)
{
	if (m) {
		memcpy(m->mgmt, saved, m->geo.mgmt_size);
		memset(m->chunks, 0, m->chunks_bytes);
		zcp_mempool_manager_destroy(m);
		m = NULL;
	}
	zcp_mempool_manager_unlink(name);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();

	(void)argc;
	(void)argv;
	snprintf(name, sizeof name, "fuzzhandle%ld", (long)getpid());
	if (!cfg || zcp_mempool_config_add_entry(cfg, 64, 8) ||
	    zcp_mempool_config_add_entry(cfg, 256, 4) || zcp_mempool_config_add_entry(cfg, 1024, 2) ||
	    zcp_mempool_config_set_max_processes(cfg, 4) ||
	    zcp_mempool_manager_create(name, cfg, &m))
		abort();
	zcp_mempool_config_free(cfg);
	saved = malloc(m->geo.mgmt_size);
	if (!saved)
		abort();
	memcpy(saved, m->mgmt, m->geo.mgmt_size);
	devnull = fopen("/dev/null", "w");
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

static int is_held(zcp_chunk *const held[], uint64_t gidx)
{
	for (int i = 0; i < HELD_MAX; i++)
		if (held[i] && (uint64_t)(held[i] - m->chunks) == gidx)
			return 1;
	return 0;
}

static void poke(struct input *in)
{
	unsigned kind = (unsigned)take(in, 1) % 9;
	uint64_t which = take(in, 1);
	uint64_t v = take(in, 8);
	unsigned pool = (unsigned)(which % m->geo.pool_count);
	uint64_t g = which % m->geo.total_chunks;
	struct zcp__record *r = &m->records[g];

	switch (kind) {
	case 0:
		atomic_store(&m->pools[pool].desc->head, v);
		break;
	case 1: /* a head with an in-range top: the interesting ones */
		atomic_store(&m->pools[pool].desc->head,
			     zcp__h_make((uint32_t)(v % m->pools[pool].count),
					 (unsigned)(v >> 32) % 64, v >> 40));
		break;
	case 2:
		atomic_store(&r->word, v);
		break;
	case 3:
		atomic_store(&r->next, (uint32_t)v);
		break;
	case 4:
		atomic_store(&r->seq, v);
		break;
	case 5:
		atomic_store(&r->size, v);
		break;
	case 6:
		atomic_store(&zcp__proc_at(m, (unsigned)(which % m->geo.max_processes))->id, v);
		break;
	case 7: { /* a well-formed slot state word (slot.h), near our incarnation */
		unsigned st = (unsigned)v & 3;
		uint64_t inc = zcp__sid_inc(m->sid) + ((v >> 2) % 3) - 1;
		uint64_t w = st == ZCP__SLOT_RECLAIMING
				     ? zcp__sid_reclaiming(inc, (unsigned)(v >> 4) % 5,
							   zcp__sid_inc(m->sid) + ((v >> 8) % 2))
				     : zcp__sid_make(st, inc);
		atomic_store(&zcp__proc_at(m, (unsigned)(which % m->geo.max_processes))->id, w);
		break;
	}
	default: { /* an outbox entry: state, chunk, generation, receiver */
		struct zcp__outbox_entry *o =
			&zcp__proc_at(m, (unsigned)(which % m->geo.max_processes))->outbox[(which >> 2) % ZCP__OUTBOX_SLOTS];
		atomic_store(&o->word, zcp__out_word((unsigned)v & 3, v >> 8));
		atomic_store(&o->chunk, (v >> 2) % (m->geo.total_chunks + 1));
		atomic_store(&o->seq, (v >> 4) % 4);
		atomic_store(&o->receiver, v & 0x40 ? m->process_id : 0);
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	zcp_chunk *held[HELD_MAX] = {0};
	zcp_chunk *c;
	int steps = 0;

	while (in.n && steps++ < 64) {
		unsigned op = (unsigned)take(&in, 1);
		int i = (int)((op >> 4) % HELD_MAX);
		switch (op % 10) {
		case 0:
			c = zcp_chunk_from_handle(m, take(&in, 8));
			if (c && !is_held(held, (uint64_t)(c - m->chunks)) && zcp_chunk_ref(m, c) == 0)
				zcp_chunk_release(m, c);
			break;
		case 1:
			if (held[i])
				break;
			c = zcp_chunk_get(m, take(&in, 2));
			if (c && !is_held(held, (uint64_t)(c - m->chunks)))
				held[i] = c;
			break;
		case 2:
			if (held[i]) {
				zcp_chunk_release(m, held[i]);
				held[i] = NULL;
			}
			break;
		case 3:
			if (held[i]) {
				uint64_t h = zcp_chunk_handle(m, held[i]);
				c = zcp_chunk_from_handle(m, h ^ take(&in, 1));
				if (c && zcp_chunk_ref(m, c) == 0)
					zcp_chunk_release(m, c);
			}
			break;
		case 4:
		case 5:
			poke(&in);
			break;
		case 6: {
			zcp_pool_stats st;
			zcp_mempool_manager_pool_stats(m, (int)take(&in, 1) % 4, &st);
			break;
		}
		case 7:
			zcp_mempool_manager_check(m);
			zcp_mempool_manager_reclaim(m, NULL);
			break;
		case 8: {
			zcp_process_info pi;
			zcp_mempool_manager_process(m, (int)take(&in, 1) % 5, &pi);
			zcp_mempool_manager_print_stats(m, devnull);
			break;
		}
		default:
			if (held[i]) {
				if (zcp_chunk_ref(m, held[i]) == 0)
					zcp_chunk_release(m, held[i]);
				memset(zcp_chunk_data(held[i]), 0xA5, zcp_chunk_capacity(held[i]));
				(void)zcp_chunk_size(held[i]);
				(void)zcp_chunk_refcount(held[i]);
			}
			break;
		}
	}
	for (int i = 0; i < HELD_MAX; i++)
		if (held[i])
			zcp_chunk_release(m, held[i]);
	/* Back to the initial state for the next input. */
	memcpy(m->mgmt, saved, m->geo.mgmt_size);
	memset(m->chunks, 0, m->chunks_bytes);
	return 0;
}
