/* SPDX-License-Identifier: MIT */
/* tests/relptr.c - relative pointers across mappings and processes. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "zt.h"

#define SIZE 16384

struct msg {
	zcp_relptr next; /* written by the parent, followed by the child */
	char text[64];
};

int main(void)
{
	const char *name, *other;
	zcp_segment *w = NULL, *a = NULL, *b = NULL, *o = NULL;
	char *pa, *pb;
	zcp_relptr rp;
	struct msg *m;
	pid_t pid;
	long i, iters;
	int err;

	plan_lazy();
	name = zt_name();
	other = zt_name();
	err = zcp_segment_create(name, SIZE, NULL, &w);
	if (err != 0)
		bail("cannot create segment: %s", zcp_strerror(err));
	if (zcp_segment_open(name, 1, &a) != 0 || zcp_segment_open(name, 1, &b) != 0)
		bail("cannot open segment twice");
	pa = zcp_segment_base(a);
	pb = zcp_segment_base(b);
	ok(pa != pb, "two opens map at different addresses");
	ok(zcp_segment_id(a) != 0, "segment id is never 0");
	is_int(zcp_segment_id(a), zcp_segment_id(b), "same name, same id");
	is_int(zcp_segment_id(NULL), 0, "id(NULL) is 0");

	rp = zcp_relptr_from(a, pa + 1234);
	ok(rp != ZCP_RELPTR_NULL, "relptr from an address inside");
	is_int((long long)zcp_relptr_offset(rp), 1234, "offset");
	is_int(zcp_relptr_segment(rp), zcp_segment_id(a), "segment id in the relptr");
	ok(zcp_relptr_resolve(b, rp, 1) == pb + 1234, "resolves to the same byte in the other mapping");
	ok(zcp_relptr_resolve(a, rp, 1) == pa + 1234, "and in its own");
	rp = zcp_relptr_from(a, pa);
	ok(rp != ZCP_RELPTR_NULL && zcp_relptr_offset(rp) == 0, "offset 0 is not the null relptr");
	ok(zcp_relptr_resolve(b, rp, SIZE) == pb, "whole segment resolves");

	/* Out of range. */
	ok(zcp_relptr_from(a, pa + SIZE) == ZCP_RELPTR_NULL, "one past the end: null");
	ok(zcp_relptr_from(a, (const void *)((uintptr_t)pa - 1)) == ZCP_RELPTR_NULL, "before the start: null");
	ok(zcp_relptr_from(a, &rp) == ZCP_RELPTR_NULL, "a stack address: null");
	ok(zcp_relptr_from(a, NULL) == ZCP_RELPTR_NULL, "NULL address: null");
	ok(zcp_relptr_from(NULL, pa) == ZCP_RELPTR_NULL, "NULL segment: null");
	rp = zcp_relptr_from(a, pa + SIZE - 8);
	ok(zcp_relptr_resolve(b, rp, 8) == pb + SIZE - 8, "last 8 bytes resolve");
	errno = 0;
	ok(zcp_relptr_resolve(b, rp, 9) == NULL && errno == EINVAL, "9 bytes overrun: NULL, EINVAL");
	ok(zcp_relptr_resolve(b, rp, SIZE_MAX) == NULL, "len SIZE_MAX (offset + len overflows): NULL");
	ok(zcp_relptr_resolve(b, rp, SIZE_MAX - SIZE + 9) == NULL, "wrapping len: NULL");
	rp = ((zcp_relptr)zcp_segment_id(a) << 48) | SIZE;
	ok(zcp_relptr_resolve(b, rp, 0) == NULL, "offset == size: NULL");
	rp = ((zcp_relptr)zcp_segment_id(a) << 48) | ZCP_RELPTR_OFFSET_MASK;
	ok(zcp_relptr_resolve(b, rp, 1) == NULL, "offset 2^48-1: NULL");
	errno = 0;
	ok(zcp_relptr_resolve(b, ZCP_RELPTR_NULL, 0) == NULL && errno == EINVAL, "null relptr: NULL");
	ok(zcp_relptr_resolve(NULL, zcp_relptr_from(a, pa), 0) == NULL, "NULL segment: NULL");
	is_int(zcp_relptr_segment(ZCP_RELPTR_NULL), 0, "null relptr has segment 0");

	/* Wrong segment: another segment's id. */
	err = zcp_segment_create(other, SIZE, NULL, &o);
	is_int(err, 0, "second segment");
	if (err == 0) {
		rp = zcp_relptr_from(a, pa + 16);
		if (zcp_segment_id(o) != zcp_segment_id(a)) {
			ok(zcp_relptr_resolve(o, rp, 1) == NULL, "relptr of another segment: NULL");
		} else {
			skip("the two test names collide in 16 bits");
		}
		rp = ((zcp_relptr)(uint16_t)(zcp_segment_id(a) + 1) << 48) | 16;
		ok(zcp_relptr_resolve(a, rp, 1) == NULL, "wrong id: NULL");
		zcp_segment_close(o);
		zcp_segment_unlink(other);
	}

	/* Across fork: the parent links messages through relptrs stored in
	 * the segment; a child maps it afresh and follows them. */
	iters = zt_iters(1);
	for (i = 0; i < iters; i++) {
		struct msg *m2;

		m = (struct msg *)(void *)zcp_segment_base(w);
		m2 = (struct msg *)(void *)((char *)zcp_segment_base(w) + 4096);
		memset(m, 0, 2 * sizeof(*m));
		snprintf(m2->text, sizeof(m2->text), "message %ld", i);
		m2->next = ZCP_RELPTR_NULL;
		m->next = zcp_relptr_from(w, m2);
		pid = zt_fork();
		if (pid == 0) {
			zcp_segment *c = NULL;
			struct msg *head, *n;
			char want[64];

			ZT_CHECK(zcp_segment_open(name, 0, &c) == 0);
			head = zcp_segment_base(c);
			n = zcp_relptr_resolve(c, head->next, sizeof(*n));
			ZT_CHECK(n != NULL);
			ZT_CHECK((char *)n == (char *)head + 4096);
			snprintf(want, sizeof(want), "message %ld", i);
			ZT_CHECK(strcmp(n->text, want) == 0);
			ZT_CHECK(zcp_relptr_resolve(c, n->next, 1) == NULL);
			zcp_segment_close(c);
			_exit(0);
		}
		if (!zt_ok_child(pid, "child follows the parent's relptr (%ld)", i))
			break;
	}

	zcp_segment_close(a);
	zcp_segment_close(b);
	zcp_segment_close(w);
	is_int(zcp_segment_unlink(name), 0, "unlink");
	zt_done();
	return done_testing();
}
