/* SPDX-License-Identifier: MIT */
/* The ABI of the shared segments, frozen: the size of every structure of
 * layout.h and the offset of every field, as _Static_asserts.
 *
 * A 32-bit and a 64-bit process (i386 and x86-64, or armhf and arm64)
 * share one manager, so each structure must have the same size and
 * offsets under every ABI zerocp is built for: no pointer, size_t, long
 * or enum in a shared structure, every 64-bit field at a multiple of 8
 * (i386 aligns a plain uint64_t member to 4 only, and GCC before 11.1
 * aligned an _Atomic one to 4 as well: explicit padding fields keep the
 * offsets right whatever the compiler would do).  A change that moves a
 * field fails to compile here on every target; after a deliberate change,
 * bump ZCP__LAYOUT_VERSION and update the numbers (tests/interop-3264.sh
 * checks a 32-bit and a 64-bit build against each other at run time).
 *
 * New shared structures get their lines here too, in the same style.
 * Included by geometry.c, so every build of the library checks it.
 */
#ifndef ZCP_LAYOUT_ABI_H
#define ZCP_LAYOUT_ABI_H

#include "layout.h"
#include "topic.h"

#include <stddef.h>

#define ZCP__ABI_SIZE(s, n) \
	_Static_assert(sizeof(struct s) == (n), "shared ABI: sizeof(struct " #s ") changed")
#define ZCP__ABI_OFF(s, f, n)                      \
	_Static_assert(offsetof(struct s, f) == (n), \
		       "shared ABI: offset of " #s "." #f " changed")

/* What the sizes below depend on. */
_Static_assert(ZCP__HEADER_SIZE == 512 && ZCP__POOL_DESC_SIZE == 256 && ZCP__RECORD_SIZE == 64 &&
		       ZCP__CHUNK_HEADER_SIZE == 64,
	       "shared ABI: segment geometry constants changed");
_Static_assert(ZCP__OUTBOX_SLOTS == 16, "shared ABI: outbox slots per process changed");
_Static_assert(ZCP__FD_SLOTS == 16, "shared ABI: event-loop descriptors per process changed");
_Static_assert(ZCP__LAYOUT_VERSION == 6, "shared ABI: layout version changed: update this file");

ZCP__ABI_SIZE(zcp__header, 512);
ZCP__ABI_OFF(zcp__header, magic, 0);
ZCP__ABI_OFF(zcp__header, layout_version, 8);
ZCP__ABI_OFF(zcp__header, header_size, 12);
ZCP__ABI_OFF(zcp__header, state, 16);
ZCP__ABI_OFF(zcp__header, pool_count, 20);
ZCP__ABI_OFF(zcp__header, max_processes, 24);
ZCP__ABI_OFF(zcp__header, outbox_slots, 28);
ZCP__ABI_OFF(zcp__header, mgmt_size, 32);
ZCP__ABI_OFF(zcp__header, data_size, 40);
ZCP__ABI_OFF(zcp__header, pools_off, 48);
ZCP__ABI_OFF(zcp__header, procs_off, 56);
ZCP__ABI_OFF(zcp__header, proc_size, 64);
ZCP__ABI_OFF(zcp__header, records_off, 72);
ZCP__ABI_OFF(zcp__header, total_chunks, 80);
ZCP__ABI_OFF(zcp__header, creator_pid, 88);
ZCP__ABI_OFF(zcp__header, creator_id, 96);
ZCP__ABI_OFF(zcp__header, nonce, 104);
ZCP__ABI_OFF(zcp__header, mode, 112);
ZCP__ABI_OFF(zcp__header, flags, 116);
ZCP__ABI_OFF(zcp__header, topics_off, 120);
ZCP__ABI_OFF(zcp__header, topic_size, 128);
ZCP__ABI_OFF(zcp__header, max_topics, 136);
ZCP__ABI_OFF(zcp__header, max_publishers, 140);
ZCP__ABI_OFF(zcp__header, max_subscribers, 144);
ZCP__ABI_OFF(zcp__header, ring_size, 148);
ZCP__ABI_OFF(zcp__header, topics_lock, 152);
ZCP__ABI_OFF(zcp__header, triggers_off, 160);
ZCP__ABI_OFF(zcp__header, max_triggers, 168);
ZCP__ABI_OFF(zcp__header, reserved0, 172);
ZCP__ABI_OFF(zcp__header, reserved, 176);

ZCP__ABI_SIZE(zcp__pool_desc, 256);
ZCP__ABI_OFF(zcp__pool_desc, chunk_size, 0);
ZCP__ABI_OFF(zcp__pool_desc, stride, 8);
ZCP__ABI_OFF(zcp__pool_desc, data_off, 16);
ZCP__ABI_OFF(zcp__pool_desc, chunk_count, 24);
ZCP__ABI_OFF(zcp__pool_desc, first_record, 28);
ZCP__ABI_OFF(zcp__pool_desc, reserved0, 32);
ZCP__ABI_OFF(zcp__pool_desc, head, 64);
ZCP__ABI_OFF(zcp__pool_desc, used_max, 128);
ZCP__ABI_OFF(zcp__pool_desc, reserved1, 192);

ZCP__ABI_SIZE(zcp__record, 64);
ZCP__ABI_OFF(zcp__record, word, 0);
ZCP__ABI_OFF(zcp__record, next, 8);
ZCP__ABI_OFF(zcp__record, reserved0, 12);
ZCP__ABI_OFF(zcp__record, seq, 16);
ZCP__ABI_OFF(zcp__record, size, 24);
ZCP__ABI_OFF(zcp__record, taken, 32);
ZCP__ABI_OFF(zcp__record, reserved, 40);

ZCP__ABI_SIZE(zcp__chunk_header, 64);
ZCP__ABI_OFF(zcp__chunk_header, origin, 0);
ZCP__ABI_OFF(zcp__chunk_header, sequence, 8);
ZCP__ABI_OFF(zcp__chunk_header, stamp, 16);
ZCP__ABI_OFF(zcp__chunk_header, payload_off, 24);
ZCP__ABI_OFF(zcp__chunk_header, gen, 32);
ZCP__ABI_OFF(zcp__chunk_header, check, 40);
ZCP__ABI_OFF(zcp__chunk_header, reserved, 48);

ZCP__ABI_SIZE(zcp__outbox_entry, 40);
ZCP__ABI_OFF(zcp__outbox_entry, word, 0);
ZCP__ABI_OFF(zcp__outbox_entry, chunk, 8);
ZCP__ABI_OFF(zcp__outbox_entry, seq, 16);
ZCP__ABI_OFF(zcp__outbox_entry, receiver, 24);
ZCP__ABI_OFF(zcp__outbox_entry, reserved, 32);

ZCP__ABI_SIZE(zcp__proc, 832);
ZCP__ABI_OFF(zcp__proc, id, 0);
ZCP__ABI_OFF(zcp__proc, pid, 8);
ZCP__ABI_OFF(zcp__proc, outbox_taken, 16);
ZCP__ABI_OFF(zcp__proc, pidns, 24);
ZCP__ABI_OFF(zcp__proc, doorbell, 32);
ZCP__ABI_OFF(zcp__proc, doorbell_sleepers, 36);
ZCP__ABI_OFF(zcp__proc, fd_armed, 40);
ZCP__ABI_OFF(zcp__proc, reserved, 48);
ZCP__ABI_OFF(zcp__proc, outbox, 64);
ZCP__ABI_OFF(zcp__proc, fd_nonce, 704);

/* The topic table (topic.h). */
ZCP__ABI_SIZE(zcp__topic, 256);
ZCP__ABI_OFF(zcp__topic, state, 0);
ZCP__ABI_OFF(zcp__topic, name, 8);
ZCP__ABI_OFF(zcp__topic, type_name, 72);
ZCP__ABI_OFF(zcp__topic, type_size, 136);
ZCP__ABI_OFF(zcp__topic, type_align, 144);
ZCP__ABI_OFF(zcp__topic, capacity, 152);
ZCP__ABI_OFF(zcp__topic, history, 156);
ZCP__ABI_OFF(zcp__topic, pub_hwm, 160);
ZCP__ABI_OFF(zcp__topic, bell, 164);
ZCP__ABI_OFF(zcp__topic, typed, 168);
ZCP__ABI_OFF(zcp__topic, space_bell, 172);
ZCP__ABI_OFF(zcp__topic, space_waiters, 176);
ZCP__ABI_OFF(zcp__topic, blocking, 180);
ZCP__ABI_OFF(zcp__topic, published_retired, 184);
ZCP__ABI_OFF(zcp__topic, desc_seq, 192);
ZCP__ABI_OFF(zcp__topic, reserved, 200);

ZCP__ABI_SIZE(zcp__ring_slot, 32);
ZCP__ABI_OFF(zcp__ring_slot, pos, 0);
ZCP__ABI_OFF(zcp__ring_slot, handle, 8);
ZCP__ABI_OFF(zcp__ring_slot, stamp, 16);
ZCP__ABI_OFF(zcp__ring_slot, offset, 24);

ZCP__ABI_SIZE(zcp__publisher_ep, 192);
ZCP__ABI_OFF(zcp__publisher_ep, state, 0);
ZCP__ABI_OFF(zcp__publisher_ep, owner, 8);
ZCP__ABI_OFF(zcp__publisher_ep, pid, 16);
ZCP__ABI_OFF(zcp__publisher_ep, base, 24);
ZCP__ABI_OFF(zcp__publisher_ep, released, 32);
ZCP__ABI_OFF(zcp__publisher_ep, overflow, 40);
ZCP__ABI_OFF(zcp__publisher_ep, blocked, 44);
ZCP__ABI_OFF(zcp__publisher_ep, reserved1, 48);
ZCP__ABI_OFF(zcp__publisher_ep, tail, 64);
ZCP__ABI_OFF(zcp__publisher_ep, last, 72);
ZCP__ABI_OFF(zcp__publisher_ep, reserved2, 104);
ZCP__ABI_OFF(zcp__publisher_ep, pending, 128);
ZCP__ABI_OFF(zcp__publisher_ep, rejected, 136);
ZCP__ABI_OFF(zcp__publisher_ep, reserved3, 144);

ZCP__ABI_SIZE(zcp__cursor, 16);
ZCP__ABI_OFF(zcp__cursor, pos, 0);
ZCP__ABI_OFF(zcp__cursor, follows, 8);

ZCP__ABI_SIZE(zcp__subscriber_ep, 128);
ZCP__ABI_OFF(zcp__subscriber_ep, state, 0);
ZCP__ABI_OFF(zcp__subscriber_ep, owner, 8);
ZCP__ABI_OFF(zcp__subscriber_ep, pid, 16);
ZCP__ABI_OFF(zcp__subscriber_ep, lost, 24);
ZCP__ABI_OFF(zcp__subscriber_ep, taken, 32);
ZCP__ABI_OFF(zcp__subscriber_ep, armed, 40);
ZCP__ABI_OFF(zcp__subscriber_ep, reserved, 48);

/* The trigger table (waitset.c). */
ZCP__ABI_SIZE(zcp__trigger, 128);
ZCP__ABI_OFF(zcp__trigger, state, 0);
ZCP__ABI_OFF(zcp__trigger, name, 8);
ZCP__ABI_OFF(zcp__trigger, fired, 72);
ZCP__ABI_OFF(zcp__trigger, listeners, 80);
ZCP__ABI_OFF(zcp__trigger, openers, 88);
ZCP__ABI_OFF(zcp__trigger, reserved, 96);

#endif /* ZCP_LAYOUT_ABI_H */
