/* SPDX-License-Identifier: MIT */
/*
 * tests/interop-agent.c - one side of tests/interop-3264.sh: a process,
 * built for one ABI (i386, x86-64, ...), that sits on a manager shared
 * with a process built for another and does what its standard input says,
 * one command a line, one answer a line on standard output:
 *
 *   create NAME        create manager NAME (2 pools, 8 slots)   -> ok | err CODE
 *   attach NAME        attach to it                             -> ok | err CODE
 *   abi                                                         -> abi BITS
 *   id                 our process id                           -> id N
 *   get SIZE TAG       a chunk, filled from TAG; kept           -> handle H
 *   handle H TAG       chunk of handle H, checked against TAG,
 *                      refilled from TAG+1; kept                -> ok | bad ... | err CODE
 *   send H RECEIVER    escrow the kept chunk of handle H for
 *                      RECEIVER (0: anyone)                     -> ticket T | err CODE
 *   receive T TAG      the chunk of ticket T, checked; kept     -> handle H | bad ... | err CODE
 *   release            release every kept chunk                 -> ok N
 *   hold N SIZE        take N chunks of SIZE and keep them      -> ok
 *   used               chunks in use over all pools             -> used N
 *   reclaim            reclaim dead processes                   -> reclaimed P R C
 *   alive              whether the creator lives                -> alive 0|1
 *   quit               detach (destroy if we created it)        -> bye
 *
 * Fills are made of 64-bit words, so a 32/64-bit disagreement on anything
 * shows.  Public API only.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zerocp/zerocp.h>

#define KEEP_MAX 256

static zcp_mempool_manager *mgr;
static int created;
static zcp_chunk *kept[KEEP_MAX];
static unsigned nkept;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void fill(zcp_chunk *c, uint64_t tag)
{
	uint64_t *w = zcp_chunk_data(c);
	uint64_t n = zcp_chunk_size(c) / sizeof *w;
	for (uint64_t i = 0; i < n; i++)
		w[i] = tag * UINT64_C(0x9E3779B97F4A7C15) + i;
}

/* 0 if c holds the fill of tag, else the first bad word's index + 1. */
static uint64_t check(const zcp_chunk *c, uint64_t tag)
{
	const uint64_t *w = zcp_chunk_data(c);
	uint64_t n = zcp_chunk_size(c) / sizeof *w;
	for (uint64_t i = 0; i < n; i++)
		if (w[i] != tag * UINT64_C(0x9E3779B97F4A7C15) + i)
			return i + 1;
	return 0;
}

static int keep(zcp_chunk *c)
{
	if (nkept == KEEP_MAX)
		return -1;
	kept[nkept++] = c;
	return 0;
}

static zcp_chunk *kept_by_handle(uint64_t h)
{
	for (unsigned i = 0; i < nkept; i++)
		if (zcp_chunk_handle(mgr, kept[i]) == h)
			return kept[i];
	return NULL;
}

static int do_create(const char *name)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	int err = cfg ? 0 : ZCP_ENOMEM;
	if (!err)
		err = zcp_mempool_config_add_entry(cfg, 256, 64);
	if (!err)
		err = zcp_mempool_config_add_entry(cfg, 4096, 16);
	if (!err)
		err = zcp_mempool_config_set_max_processes(cfg, 8);
	if (!err)
		err = zcp_mempool_manager_create(name, cfg, &mgr);
	zcp_mempool_config_free(cfg);
	created = err == 0;
	return err;
}

int main(void)
{
	char line[512], cmd[32], arg[256];
	uint64_t a, b;

	while (fgets(line, sizeof line, stdin)) {
		if (sscanf(line, "%31s", cmd) != 1)
			continue;
		if (strcmp(cmd, "create") == 0 && sscanf(line, "%*s %255s", arg) == 1) {
			int err = do_create(arg);
			err ? say("err %s", zcp_err_name(err)) : say("ok");
		} else if (strcmp(cmd, "attach") == 0 && sscanf(line, "%*s %255s", arg) == 1) {
			int err = zcp_mempool_manager_attach(arg, &mgr);
			err ? say("err %s", zcp_err_name(err)) : say("ok");
		} else if (strcmp(cmd, "abi") == 0) {
			say("abi %u", (unsigned)(sizeof(void *) * 8));
		} else if (!mgr) {
			say("err no manager");
		} else if (strcmp(cmd, "id") == 0) {
			say("id %" PRIu64, zcp_mempool_manager_process_id(mgr));
		} else if (strcmp(cmd, "get") == 0 &&
			   sscanf(line, "%*s %" SCNu64 " %" SCNu64, &a, &b) == 2) {
			zcp_chunk *c = zcp_chunk_get(mgr, a);
			if (!c) {
				say("err errno %d", errno);
				continue;
			}
			fill(c, b);
			if (keep(c))
				say("err too many");
			else
				say("handle %" PRIu64, zcp_chunk_handle(mgr, c));
		} else if (strcmp(cmd, "handle") == 0 &&
			   sscanf(line, "%*s %" SCNu64 " %" SCNu64, &a, &b) == 2) {
			zcp_chunk *c = zcp_chunk_from_handle(mgr, a);
			uint64_t bad;
			if (!c)
				say("err errno %d", errno);
			else if ((bad = check(c, b)) != 0)
				say("bad word %" PRIu64, bad - 1);
			else if (keep(c))
				say("err too many");
			else {
				fill(c, b + 1);
				say("ok");
			}
		} else if (strcmp(cmd, "send") == 0 &&
			   sscanf(line, "%*s %" SCNu64 " %" SCNu64, &a, &b) == 2) {
			zcp_chunk *c = kept_by_handle(a);
			uint64_t t;
			int err = c ? zcp_chunk_send(mgr, c, b, &t) : ZCP_EINVAL;
			err ? say("err %s", zcp_err_name(err)) : say("ticket %" PRIu64, t);
		} else if (strcmp(cmd, "receive") == 0 &&
			   sscanf(line, "%*s %" SCNu64 " %" SCNu64, &a, &b) == 2) {
			zcp_chunk *c = zcp_chunk_receive(mgr, a);
			uint64_t bad;
			if (!c)
				say("err errno %d", errno);
			else if ((bad = check(c, b)) != 0)
				say("bad word %" PRIu64, bad - 1);
			else if (keep(c))
				say("err too many");
			else
				say("handle %" PRIu64, zcp_chunk_handle(mgr, c));
		} else if (strcmp(cmd, "release") == 0) {
			unsigned n = 0;
			while (nkept > 0)
				n += zcp_chunk_release(mgr, kept[--nkept]) == 0;
			zcp_mempool_manager_settle(mgr);
			say("ok %u", n);
		} else if (strcmp(cmd, "hold") == 0 &&
			   sscanf(line, "%*s %" SCNu64 " %" SCNu64, &a, &b) == 2) {
			uint64_t i;
			for (i = 0; i < a; i++) {
				zcp_chunk *c = zcp_chunk_get(mgr, b);
				if (!c || keep(c))
					break;
				fill(c, i);
			}
			i == a ? say("ok") : say("err held %" PRIu64, i);
		} else if (strcmp(cmd, "used") == 0) {
			uint64_t used = 0;
			int n = zcp_mempool_manager_pool_count(mgr);
			for (int i = 0; i < n; i++) {
				zcp_pool_stats st;
				if (zcp_mempool_manager_pool_stats(mgr, i, &st) == 0)
					used += st.used;
			}
			say("used %" PRIu64, used);
		} else if (strcmp(cmd, "reclaim") == 0) {
			zcp_reclaim_report r;
			int err = zcp_mempool_manager_reclaim(mgr, &r);
			err ? say("err %s", zcp_err_name(err))
			    : say("reclaimed %" PRIu64 " %" PRIu64 " %" PRIu64, r.processes,
				  r.references, r.chunks);
		} else if (strcmp(cmd, "alive") == 0) {
			say("alive %d", zcp_mempool_manager_creator_alive(mgr));
		} else if (strcmp(cmd, "quit") == 0) {
			break;
		} else {
			say("err unknown command");
		}
	}
	if (mgr) {
		while (nkept > 0)
			zcp_chunk_release(mgr, kept[--nkept]);
		if (created)
			zcp_mempool_manager_destroy(mgr);
		else
			zcp_mempool_manager_detach(mgr);
	}
	say("bye");
	return 0;
}
