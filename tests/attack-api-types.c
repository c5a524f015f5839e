/* SPDX-License-Identifier: MIT */
/* attack-api-types.c - (an outside tester's, from the public docs only)
 * typed topics: who defines the type, ZCP_ETYPE, typeless openers,
 * and races on the definition from several processes x threads. */
#include "attack-api.h"

static zcp_mempool_manager *m;
static const char *nm;

static int pub(const char *t, const char *tn, uint64_t ts, uint64_t ta, zcp_publisher **out)
{
	zcp_topic_options o = topt(4, 0, 0, tn, ts, ta);
	zcp_publisher *p = NULL;
	int e = zcp_publisher_create(m, t, &o, &p);
	if (out)
		*out = p;
	else if (!e)
		zcp_publisher_close(p);
	return e;
}
static int sub(const char *t, const char *tn, uint64_t ts, uint64_t ta, zcp_subscriber **out)
{
	zcp_topic_options o = topt(4, 0, 0, tn, ts, ta);
	zcp_subscriber *s = NULL;
	int e = zcp_subscriber_create(m, t, &o, &s);
	if (out)
		*out = s;
	else if (!e)
		zcp_subscriber_close(s);
	return e;
}
static int find_topic(zcp_mempool_manager *mm, const char *t, zcp_topic_info *ti)
{
	for (int i = 0; i < zcp_topic_slots(mm); i++)
		if (zcp_topic_get_info(mm, i, ti) == 0 && strcmp(ti->name, t) == 0)
			return i;
	return -1;
}

/* ---- race ---- */
#define ROUNDS 60
#define PROCS 3
#define THREADS 3
#define ROLES 7
struct role { int is_pub; const char *tn; uint64_t ts, ta; const char *label; };
static const struct role roles[ROLES] = {
	{0, NULL, 0, 0, "sub any"},
	{1, "A", 16, 64, "pub A/16/64"},
	{0, "A", 16, 0, "sub A/16/0(=64)"},
	{1, "B", 32, 128, "pub B/32/128"},
	{0, "B", 32, 128, "sub B/32/128"},
	{1, NULL, 0, 0, "pub none"},
	{1, "A", 32, 64, "pub A/32/64"},
};
struct rshared {
	int go[ROUNDS];
	int arrived[ROUNDS];
	int done[ROUNDS];
	int role[ROUNDS][PROCS * THREADS];
	int err[ROUNDS][PROCS * THREADS];
};
static struct rshared *rs;
static zcp_mempool_manager *cm; /* the child's handle */

static void *race_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int r = 0; r < ROUNDS; r++) {
		char t[32];
		snprintf(t, sizeof t, "race%d", r);
		int role = (int)(((unsigned)(r * 7919 + id * 104729) >> 3) % ROLES);
		if (r % 5 == 0) role = id % ROLES;
		rs->role[r][id] = role;
		__atomic_add_fetch(&rs->arrived[r], 1, __ATOMIC_SEQ_CST);
		while (!__atomic_load_n(&rs->go[r], __ATOMIC_ACQUIRE))
			sched_yield();
		const struct role *ro = &roles[role];
		zcp_topic_options o = topt(4, 0, 0, ro->tn, ro->ts, ro->ta);
		zcp_publisher *p = NULL;
		zcp_subscriber *s = NULL;
		int e = ro->is_pub ? zcp_publisher_create(cm, t, &o, &p) : zcp_subscriber_create(cm, t, &o, &s);
		rs->err[r][id] = e;
		__atomic_add_fetch(&rs->done[r], 1, __ATOMIC_SEQ_CST);
		/* keep the endpoint open until everybody of this round is done */
		while (__atomic_load_n(&rs->done[r], __ATOMIC_ACQUIRE) < PROCS * THREADS)
			sched_yield();
		if (p) zcp_publisher_close(p);
		if (s) zcp_subscriber_close(s);
	}
	return NULL;
}

static int race_child(void *arg)
{
	int pidx = (int)(intptr_t)arg;
	if (zcp_mempool_manager_attach(nm, &cm))
		return 9;
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, race_thread, (void *)(intptr_t)(pidx * THREADS + i));
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	zcp_mempool_manager_detach(cm);
	return 0;
}

static int same_type(const struct role *a, const char *tn, uint64_t ts, uint64_t ta)
{
	const char *n = a->tn ? a->tn : "";
	uint64_t al = a->ta ? a->ta : 64, tal = ta ? ta : 64;
	return strcmp(n, tn) == 0 && a->ts == ts && al == tal;
}

int main(void)
{
	tap_init(58);
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_config_add_entry(cfg, 256, 64);
	zcp_mempool_config_add_entry(cfg, 8192, 16);
	zcp_mempool_config_set_topics(cfg, 256, 16, 16, 16);
	m = mk_mgr("types", cfg, &nm);
	zcp_mempool_config_free(cfg);
	if (!m) {
		tap_ok(0, "manager");
		return tap_done();
	}
	int e;
	zcp_topic_info ti;
	zcp_publisher *pa;
	/* 1. first publisher defines the type */
	e = pub("t1", "A", 16, 64, &pa);
	tap_ok(e == 0, "pub A/16/64 defines t1: %s", en(e));
	tap_ok(pub("t1", "B", 16, 64, NULL) == ZCP_ETYPE, "pub with another name -> ZCP_ETYPE");
	tap_ok(pub("t1", "A", 32, 64, NULL) == ZCP_ETYPE, "pub with another size -> ZCP_ETYPE");
	tap_ok(pub("t1", "A", 16, 128, NULL) == ZCP_ETYPE, "pub with another alignment -> ZCP_ETYPE");
	e = pub("t1", "A", 16, 0, NULL);
	tap_ok(e == 0, "pub A/16/0 matches A/16/64 (0 means 64): %s", en(e));
	e = pub("t1", NULL, 0, 0, NULL);
	tap_ok(e == ZCP_ETYPE, "typeless publisher on a typed topic -> ZCP_ETYPE: %s", en(e));
	e = sub("t1", NULL, 0, 0, NULL);
	tap_ok(e == 0, "typeless subscriber takes any type: %s", en(e));
	e = sub("t1", "A", 16, 64, NULL);
	tap_ok(e == 0, "matching typed subscriber: %s", en(e));
	e = sub("t1", "A", 8, 64, NULL);
	tap_ok(e == ZCP_ETYPE, "subscriber of another size -> ZCP_ETYPE: %s", en(e));
	e = sub("t1", "", 0, 0, NULL);
	tap_ok(e == ZCP_ETYPE || e == 0, "subscriber naming \"\" explicitly: %s (doc: only NULL is 'any type')", en(e));
	if (e == 0)
		diag("NOTE: a subscriber with type_name \"\" is taken as 'any type' on a typed topic");
	e = sub("t1", NULL, 16, 0, NULL);
	tap_ok(e == 0 || e == ZCP_ETYPE || e == ZCP_EINVAL, "subscriber with NULL name but size 16: %s", en(e));
	memset(&ti, 0, sizeof ti);
	int fi = find_topic(m, "t1", &ti);
	tap_ok(fi >= 0 && strcmp(ti.type_name, "A") == 0 && ti.type_size == 16 && ti.type_align == 64,
	       "topic info shows A/16/64 (got '%s'/%" PRIu64 "/%" PRIu64 ")", ti.type_name, ti.type_size, ti.type_align);

	/* loans and publishes against the type size */
	{
		errno = 0;
		zcp_chunk *c = zcp_publisher_loan(pa, 0);
		tap_ok(c && zcp_chunk_size(c) == 16, "loan(0) on a typed topic gives the type size (size %" PRIu64 ", errno %d)", c ? zcp_chunk_size(c) : 0, errno);
		if (c) zcp_chunk_release(m, c);
		errno = 0;
		c = zcp_publisher_loan(pa, 17);
		tap_ok(!c && errno == EINVAL, "loan(17) on a 16-byte type -> EINVAL (errno %d)", errno);
		if (c) zcp_chunk_release(m, c);
		errno = 0;
		c = zcp_publisher_loan(pa, 15);
		tap_ok(!c && errno == EINVAL, "loan(15) on a 16-byte type -> EINVAL (errno %d)", errno);
		if (c) zcp_chunk_release(m, c);
		c = zcp_chunk_get(m, 8);
		e = zcp_publisher_publish(pa, c);
		tap_ok(e == ZCP_EINVAL, "publish an 8-byte chunk on a 16-byte type -> ZCP_EINVAL: %s", en(e));
		if (e) {
			int r = zcp_chunk_release(m, c);
			tap_ok(r == 0, "after the refused publish the caller still holds the chunk: release %s", en(r));
		}
		c = zcp_chunk_get(m, 16);
		e = zcp_publisher_publish(pa, c);
		tap_ok(e == 0, "publish a 16-byte plain chunk: %s", en(e));
		if (e) zcp_chunk_release(m, c);
		/* a chunk whose whole capacity is below the type size */
		zcp_publisher *pbig;
		if (pub("tbig", "Big", 1000, 0, &pbig) == 0) {
			c = zcp_chunk_get(m, 200); /* 256-byte chunk */
			e = zcp_publisher_publish(pbig, c);
			tap_ok(e == ZCP_EINVAL, "publish a 256-byte-capacity chunk on a 1000-byte type -> ZCP_EINVAL: %s", en(e));
			if (e) zcp_chunk_release(m, c);
			zcp_publisher_close(pbig);
		}
	}

	/* 2. typeless subscriber first, then the first typed publisher defines the type */
	e = sub("t2", NULL, 0, 0, NULL);
	tap_ok(e == 0, "typeless subscriber creates t2: %s", en(e));
	zcp_subscriber *s2;
	sub("t2", NULL, 0, 0, &s2);
	find_topic(m, "t2", &ti);
	tap_ok(ti.type_name[0] == 0 && ti.type_size == 0, "t2 has no type yet ('%s'/%" PRIu64 ")", ti.type_name, ti.type_size);
	zcp_publisher *pb;
	e = pub("t2", "B", 32, 128, &pb);
	tap_ok(e == 0, "typed publisher B gives t2 its type: %s", en(e));
	tap_ok(pub("t2", "A", 16, 64, NULL) == ZCP_ETYPE, "then pub A -> ZCP_ETYPE");
	tap_ok(pub("t2", NULL, 0, 0, NULL) == ZCP_ETYPE, "then a typeless pub -> ZCP_ETYPE");
	find_topic(m, "t2", &ti);
	tap_ok(strcmp(ti.type_name, "B") == 0 && ti.type_size == 32 && ti.type_align == 128, "t2 info B/32/128 ('%s'/%" PRIu64 "/%" PRIu64 ")", ti.type_name, ti.type_size, ti.type_align);
	/* the early typeless subscriber receives B samples with B's alignment */
	{
		zcp_chunk *c = zcp_publisher_loan(pb, 0);
		if (c) {
			memset(zcp_sample_data(c), 0x3c, 32);
			e = zcp_publisher_publish(pb, c);
		}
		zcp_chunk *t = zcp_subscriber_take(s2);
		tap_ok(c && !e && t && (uintptr_t)zcp_sample_data(t) % 128 == 0 && ((unsigned char *)zcp_sample_data(t))[31] == 0x3c && zcp_chunk_size(t) == 32,
		       "typeless early subscriber gets a B sample, 128-aligned, 32 bytes");
		if (t) zcp_chunk_release(m, t);
	}
	/* 3. typeless publisher first */
	zcp_publisher *pn;
	e = pub("t3", NULL, 0, 0, &pn);
	tap_ok(e == 0, "typeless publisher creates t3");
	tap_ok(sub("t3", "A", 16, 64, NULL) == ZCP_ETYPE, "then a typed sub -> ZCP_ETYPE");
	tap_ok(pub("t3", "A", 16, 64, NULL) == ZCP_ETYPE, "then a typed pub -> ZCP_ETYPE");
	tap_ok(pub("t3", "", 0, 0, NULL) == 0, "then pub \"\" (same as NULL) -> ok");
	tap_ok(sub("t3", NULL, 0, 0, NULL) == 0, "then sub any -> ok");
	/* 4. typed subscriber first defines it */
	e = sub("t4", "C", 8, 256, NULL);
	tap_ok(e == 0, "typed subscriber creates t4: %s", en(e));
	e = pub("t4", NULL, 0, 0, NULL);
	tap_ok(e == ZCP_ETYPE, "then a typeless publisher -> ZCP_ETYPE: %s", en(e));
	e = pub("t4", "C", 8, 256, NULL);
	tap_ok(e == 0, "then the matching publisher -> ok: %s", en(e));
	/* 5. bad types */
	tap_ok(pub("t5", "X", 8, 3, NULL) == ZCP_EINVAL, "type_align 3 -> EINVAL");
	tap_ok(pub("t5", "X", 8, 8192, NULL) == ZCP_EINVAL, "type_align 8192 -> EINVAL");
	tap_ok(sub("t5", "X", 8, 8192, NULL) == ZCP_EINVAL, "subscriber type_align 8192 -> EINVAL");
	e = pub("t5", "X", 8, 4096, NULL);
	tap_ok(e == 0, "type_align 4096 ok: %s", en(e));
	{
		char n63[64], n64a[66], n64b[66];
		memset(n63, 'n', 63); n63[63] = 0;
		memset(n64a, 'n', 64); n64a[64] = 0;
		memcpy(n64b, n64a, 66); n64b[63] = 'm';
		tap_ok(pub("t6", n63, 4, 0, NULL) == 0, "63-character type name ok");
		e = pub("t7", n64a, 4, 0, NULL);
		if (e == 0) {
			int e2 = pub("t7", n64b, 4, 0, NULL);
			tap_ok(e2 == ZCP_ETYPE, "64-char type names differing in the 64th char are different types (second: %s)", en(e2));
		} else
			tap_ok(e == ZCP_EINVAL, "64-character type name -> EINVAL: %s", en(e));
	}
	/* 6. ETYPE failures leave no endpoint behind: 100 refused opens, then fill the topic */
	{
		for (int i = 0; i < 100; i++) {
			pub("t1", "Z", 1, 0, NULL);
			sub("t1", "Z", 1, 0, NULL);
		}
		find_topic(m, "t1", &ti);
		int before = ti.publishers;
		zcp_publisher *extra[16];
		int n = 0;
		for (; n < 16; n++)
			if (pub("t1", "A", 16, 64, &extra[n]))
				break;
		tap_ok(before + n == 16, "after 200 ZCP_ETYPE refusals the topic still has all its places (%d open + %d new of 16)", before, n);
		for (int i = 0; i < n; i++)
			zcp_publisher_close(extra[i]);
	}

	/* 7. the race */
	rs = mmap(NULL, sizeof *rs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t kp[PROCS];
	for (int i = 0; i < PROCS; i++)
		kp[i] = spawn(race_child, (void *)(intptr_t)i);
	int bad = 0, checked = 0, othererr = 0, defined_none = 0;
	char first[300] = "";
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = now_ns();
		while (__atomic_load_n(&rs->arrived[r], __ATOMIC_ACQUIRE) < PROCS * THREADS && now_ns() - t0 < 10000000000ull)
			sched_yield();
		__atomic_store_n(&rs->go[r], 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&rs->done[r], __ATOMIC_ACQUIRE) < PROCS * THREADS && now_ns() - t0 < 10000000000ull)
			sched_yield();
		char t[32];
		snprintf(t, sizeof t, "race%d", r);
		if (find_topic(m, t, &ti) < 0) {
			bad++;
			if (!*first) snprintf(first, sizeof first, "round %d: topic missing", r);
			continue;
		}
		int anytyped = 0;
		for (int i = 0; i < PROCS * THREADS; i++) {
			const struct role *ro = &roles[rs->role[r][i]];
			int er = rs->err[r][i];
			int typeless_sub = !ro->is_pub && ro->tn == NULL;
			int match = same_type(ro, ti.type_name, ti.type_size, ti.type_align);
			checked++;
			if (er != 0 && er != ZCP_ETYPE) othererr++;
			int ok;
			if (typeless_sub)
				ok = (er == 0);
			else
				ok = match ? er == 0 : er == ZCP_ETYPE;
			if (!typeless_sub)
				anytyped = 1;
			if (!ok) {
				bad++;
				if (!*first)
					snprintf(first, sizeof first, "round %d: '%s' got %s but topic type is '%s'/%" PRIu64 "/%" PRIu64, r, ro->label, en(er), ti.type_name, ti.type_size, ti.type_align);
			}
		}
		if (!anytyped) defined_none++;
	}
	for (int i = 0; i < PROCS; i++) {
		int rc = reap(kp[i]);
		if (rc) { bad++; diag("race child %d exit %d", i, rc); }
	}
	tap_ok(bad == 0, "race: %d openers over %d rounds, exactly those naming the winning type succeed, the rest ZCP_ETYPE (%d wrong) %s", checked, ROUNDS, bad, first);
	tap_ok(othererr == 0, "race: no error other than ZCP_ETYPE (%d)", othererr);

	zcp_publisher_close(pa);
	zcp_publisher_close(pb);
	zcp_publisher_close(pn);
	zcp_subscriber_close(s2);
	return tap_done();
}
