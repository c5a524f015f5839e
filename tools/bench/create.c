/* SPDX-License-Identifier: MIT */
/* tools/bench/create.c - create_attach: the cost of creating, attaching
 * and detaching managers of 1 MiB, 64 MiB and 1 GiB of pools, and the
 * management bytes per chunk.
 *
 * The configuration is the seed's, every count multiplied by the largest
 * k whose data segment fits the target size.  Baseline ("shm"): the bare
 * equivalent with the same segment sizes: shm_open + ftruncate + mmap of
 * both segments and one 4-byte free-list link per chunk at create; open +
 * fstat + mmap of both and a read of the header at attach; munmap + close
 * at detach.  The bar: attach does no per-chunk work, so attaching the
 * 1 GiB manager takes at most 3 times as long as attaching the 1 MiB one.
 *
 * A trial times ATTACHES attaches in a row, then ATTACHES detaches, and
 * reports the mean of each.  A single attach right after a create that
 * streamed through a gigabyte runs on cold caches and TLBs, which costs
 * the bare attach as much as ours (2-4x at 1 GiB against 1 MiB, measured):
 * that is the create's footprint, not work the attach does.
 */
#define _GNU_SOURCE 1
#include "tool.h"
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define NSIZES 3
#define ATTACHES 8 /* attaches (and detaches) timed per trial; the notes say 8 */
static const uint64_t target[NSIZES] = {UINT64_C(1) << 20, UINT64_C(64) << 20, UINT64_C(1) << 30};
static const char *const label[NSIZES] = {"1MiB", "64MiB", "1GiB"};

struct bare {
	int mfd, dfd;
	void *mgmt, *data;
	size_t msize, dsize;
};

static void layout_of(uint32_t k, zcp_mempool_layout *l)
{
	zcp_mempool_config *cfg = zcp_bench_seed_config(k, 0);
	int err = zcp_mempool_config_layout(cfg, l);
	zcp_mempool_config_free(cfg);
	if (err)
		zcp_bench_fatal("zcp_mempool_config_layout(k=%u): %s", k, zcp_strerror(err));
}

/* The largest k whose data segment fits t (at least 1). */
static uint32_t scale_for(uint64_t t)
{
	zcp_mempool_layout l;
	uint32_t k, kmax = ZCP_MAX_CHUNKS_PER_POOL / 100; /* the 256-byte pool's count */

	layout_of(1, &l);
	k = (uint32_t)(t / l.data_size);
	if (k < 1)
		k = 1;
	if (k > kmax)
		k = kmax;
	for (;;) {
		layout_of(k, &l);
		if (l.data_size <= t || k == 1)
			break;
		k--;
	}
	while (k < kmax) {
		layout_of(k + 1, &l);
		if (l.data_size > t)
			break;
		k++;
	}
	return k;
}

static uint64_t ns_since(uint64_t t0)
{
	return zcp_bench_now() - t0;
}

static void *map_fd(int fd, size_t size, const char *what)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		zcp_bench_fatal("mmap (%s): %s", what, strerror(errno));
	return p;
}

static int open_new(const char *path, size_t size)
{
	int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0 && errno == EEXIST) {
		shm_unlink(path); /* a dead benchmark's, with our pid */
		fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	}
	if (fd < 0)
		zcp_bench_fatal("shm_open(%s): %s", path, strerror(errno));
	if (ftruncate(fd, (off_t)size) != 0)
		zcp_bench_fatal("ftruncate(%s): %s", path, strerror(errno));
	return fd;
}

static double bare_create(struct bare *b, const char *pm, const char *pd,
			  const zcp_mempool_layout *l)
{
	uint64_t t0 = zcp_bench_now();
	b->msize = (size_t)l->mgmt_size;
	b->dsize = (size_t)l->data_size;
	b->mfd = open_new(pm, b->msize);
	b->dfd = open_new(pd, b->dsize);
	b->mgmt = map_fd(b->mfd, b->msize, pm);
	b->data = map_fd(b->dfd, b->dsize, pd);
	/* A bare free list: one link per chunk after a 64-byte head. */
	uint32_t *next = (uint32_t *)((unsigned char *)b->mgmt + 64);
	for (uint64_t i = 0; i < l->total_chunks; i++)
		next[i] = (uint32_t)(i + 1);
	return (double)ns_since(t0) / 1e3;
}

static void bare_close(struct bare *b)
{
	munmap(b->mgmt, b->msize);
	munmap(b->data, b->dsize);
	close(b->mfd);
	close(b->dfd);
}

static int open_old(const char *path, size_t *size)
{
	struct stat st;
	int fd = shm_open(path, O_RDWR, 0);
	if (fd < 0)
		zcp_bench_fatal("shm_open(%s): %s", path, strerror(errno));
	if (fstat(fd, &st) != 0)
		zcp_bench_fatal("fstat(%s): %s", path, strerror(errno));
	*size = (size_t)st.st_size;
	return fd;
}

static void bare_attach(struct bare *b, const char *pm, const char *pd)
{
	b->mfd = open_old(pm, &b->msize);
	b->dfd = open_old(pd, &b->dsize);
	b->mgmt = map_fd(b->mfd, b->msize, pm);
	b->data = map_fd(b->dfd, b->dsize, pd);
	volatile uint32_t head = *(volatile uint32_t *)b->mgmt;
	(void)head;
}

/* Enough room in /dev/shm and in memory for the 1 GiB manager? */
static int room_for(uint64_t bytes, char *why, size_t n)
{
	struct statvfs sv;
	uint64_t need = bytes + bytes / 5; /* 1.2 times */
	if (statvfs("/dev/shm", &sv) == 0) {
		uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		if (avail < need) {
			snprintf(why, n, "/dev/shm has %llu MiB free, needs %llu MiB",
				 (unsigned long long)(avail >> 20),
				 (unsigned long long)(need >> 20));
			return 0;
		}
	}
	FILE *fp = fopen("/proc/meminfo", "r");
	if (fp) {
		char line[256];
		unsigned long long kb;
		while (fgets(line, sizeof line, fp))
			if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
				if (kb * 1024 < need) {
					snprintf(why, n,
						 "%llu MiB of memory available, needs %llu MiB",
						 kb >> 10, (unsigned long long)(need >> 20));
					fclose(fp);
					return 0;
				}
				break;
			}
		fclose(fp);
	}
	return 1;
}

static void timing_figure(struct zcp_bench_ctx *ctx, const char *what, const char *size,
			  unsigned samples, const double *z, const double *b, const char *note)
{
	struct zcp_bench_figure f;
	zcp_bench_figure_of(&f, "create_attach", "us", ctx->create_trials, samples, z, "shm", b);
	snprintf(f.variant, sizeof f.variant, "%s/%s", what, size);
	snprintf(f.note, sizeof f.note, "%s", note);
	zcp_bench_report(ctx, &f);
}

static void bytes_figure(struct zcp_bench_ctx *ctx, const char *variant, double zcp, double base,
			 const char *note)
{
	struct zcp_bench_figure f;
	memset(&f, 0, sizeof f);
	f.name = "create_attach";
	snprintf(f.variant, sizeof f.variant, "%s", variant);
	f.unit = "bytes";
	f.trials = 1;
	f.zcp.median = f.zcp.min = f.zcp.max = zcp;
	if (base >= 0) {
		f.nbase = 1;
		f.base[0].name = "freelist";
		f.base[0].st.median = f.base[0].st.min = f.base[0].st.max = base;
	}
	zcp_bench_ratio(&f);
	snprintf(f.note, sizeof f.note, "%s", note);
	if (strcmp(variant, "record_bytes_per_chunk") == 0)
		zcp_bench_bar(&f, "median", "<=", 64);
	zcp_bench_report(ctx, &f);
}

void zcp_bench_create_attach(struct zcp_bench_ctx *ctx)
{
	const unsigned nt = ctx->create_trials;
	double az[NSIZES][ZCP_BENCH_MAX_TRIALS], ab[NSIZES][ZCP_BENCH_MAX_TRIALS];
	int done[NSIZES] = {0};
	zcp_mempool_layout lay[NSIZES];
	char name[48], pm[96], pd[96];

	snprintf(name, sizeof name, "%sc", ctx->name);
	snprintf(pm, sizeof pm, "/zerocp_%s_rawm", ctx->name);
	snprintf(pd, sizeof pd, "/zerocp_%s_rawd", ctx->name);

	for (int s = 0; s < NSIZES; s++) {
		double cz[ZCP_BENCH_MAX_TRIALS], cb[ZCP_BENCH_MAX_TRIALS];
		double dz[ZCP_BENCH_MAX_TRIALS], db[ZCP_BENCH_MAX_TRIALS];
		uint32_t k = scale_for(target[s]);
		zcp_mempool_config *cfg = zcp_bench_seed_config(k, 0);
		char why[160], note[160];
		int err;

		layout_of(k, &lay[s]);
		if (s == NSIZES - 1 &&
		    !room_for(lay[s].data_size + lay[s].mgmt_size, why, sizeof why)) {
			const char *what[] = {"create", "attach", "detach"};
			for (int w = 0; w < 3; w++) {
				char v[48];
				snprintf(v, sizeof v, "%s/%s", what[w], label[s]);
				zcp_bench_skip(ctx, "create_attach", v, NULL, why);
			}
			zcp_mempool_config_free(cfg);
			continue;
		}
		for (unsigned t = 0; t < nt; t++) {
			zcp_mempool_manager *m, *m2[ATTACHES];
			struct bare b[ATTACHES];
			uint64_t t0;

			zcp_bench_track_mgr(name);
			t0 = zcp_bench_now();
			err = zcp_mempool_manager_create(name, cfg, &m);
			cz[t] = (double)ns_since(t0) / 1e3;
			if (err == ZCP_EEXIST) {
				zcp_mempool_manager_unlink(name);
				t0 = zcp_bench_now();
				err = zcp_mempool_manager_create(name, cfg, &m);
				cz[t] = (double)ns_since(t0) / 1e3;
			}
			if (err)
				zcp_bench_fatal("zcp_mempool_manager_create(%s, %s): %s", name,
						label[s], zcp_strerror(err));
			t0 = zcp_bench_now();
			for (int a = 0; a < ATTACHES; a++) {
				err = zcp_mempool_manager_attach(name, &m2[a]);
				if (err)
					zcp_bench_fatal("zcp_mempool_manager_attach(%s, %s): %s",
							name, label[s], zcp_strerror(err));
			}
			az[s][t] = (double)ns_since(t0) / 1e3 / ATTACHES;
			t0 = zcp_bench_now();
			for (int a = 0; a < ATTACHES; a++)
				zcp_mempool_manager_detach(m2[a]);
			dz[t] = (double)ns_since(t0) / 1e3 / ATTACHES;
			zcp_bench_destroy(m);

			zcp_bench_track_shm(pm);
			zcp_bench_track_shm(pd);
			cb[t] = bare_create(&b[0], pm, pd, &lay[s]);
			bare_close(&b[0]); /* the creator's mapping goes, as a server's would not */
			t0 = zcp_bench_now();
			for (int a = 0; a < ATTACHES; a++)
				bare_attach(&b[a], pm, pd);
			ab[s][t] = (double)ns_since(t0) / 1e3 / ATTACHES;
			t0 = zcp_bench_now();
			for (int a = 0; a < ATTACHES; a++)
				bare_close(&b[a]);
			db[t] = (double)ns_since(t0) / 1e3 / ATTACHES;
			shm_unlink(pm);
			shm_unlink(pd);
			zcp_bench_untrack_shm(pm);
			zcp_bench_untrack_shm(pd);
		}
		zcp_mempool_config_free(cfg);
		done[s] = 1;
		snprintf(note, sizeof note, "seed x%u: %llu chunks, data %.1f MiB, mgmt %.1f MiB",
			 k, (unsigned long long)lay[s].total_chunks,
			 (double)lay[s].data_size / (1 << 20),
			 (double)lay[s].mgmt_size / (1 << 20));
		timing_figure(ctx, "create", label[s], 1, cz, cb, note);
		timing_figure(ctx, "attach", label[s], ATTACHES, az[s], ab[s],
			      "mean of 8 attaches in a row");
		timing_figure(ctx, "detach", label[s], ATTACHES, dz, db,
			      "mean of 8 detaches in a row");
	}

	/* Attach scaling: each larger manager against the 1 MiB one. */
	for (int s = 1; s < NSIZES; s++) {
		struct zcp_bench_figure f;
		double r[ZCP_BENCH_MAX_TRIALS];
		char v[48];

		snprintf(v, sizeof v, "attach_scaling/%s:%s", label[s], label[0]);
		if (!done[0] || !done[s]) {
			if (s == NSIZES - 1)
				zcp_bench_skip(ctx, "create_attach", v,
					       "attach 1GiB <= 3x attach 1MiB",
					       "the managers could not be measured");
			continue;
		}
		memset(&f, 0, sizeof f);
		f.name = "create_attach";
		snprintf(f.variant, sizeof f.variant, "%s", v);
		f.unit = "x";
		f.trials = nt;
		f.samples = 1;
		for (unsigned t = 0; t < nt; t++)
			r[t] = az[s][t] / az[0][t];
		zcp_bench_stat_of(r, nt, &f.zcp);
		struct zcp_bench_stat big, small, bbig, bsmall;
		zcp_bench_stat_of(az[s], nt, &big);
		zcp_bench_stat_of(az[0], nt, &small);
		zcp_bench_stat_of(ab[s], nt, &bbig);
		zcp_bench_stat_of(ab[0], nt, &bsmall);
		/* The figure is the ratio of the medians; min and max are the
		 * extremes of the trial-by-trial ratios. */
		f.zcp.median = big.median / small.median;
		f.nbase = 1;
		f.base[0].name = "shm";
		for (unsigned t = 0; t < nt; t++)
			r[t] = ab[s][t] / ab[0][t];
		zcp_bench_stat_of(r, nt, &f.base[0].st);
		f.base[0].st.median = bbig.median / bsmall.median;
		zcp_bench_ratio(&f);
		if (s == NSIZES - 1)
			zcp_bench_bar(&f, "median", "<=", 3.0);
		snprintf(f.note, sizeof f.note, "attach time of the %s manager / of the %s one",
			 label[s], label[0]);
		zcp_bench_report(ctx, &f);
	}

	/* Management bytes per chunk. */
	for (int s = 0; s < NSIZES; s++) {
		char v[64], note[160];
		const zcp_mempool_layout *l = &lay[s];
		uint64_t payload = 0;
		uint32_t k = scale_for(target[s]);

		for (int p = 0; p < ZCP_BENCH_SEED_POOLS; p++)
			payload += zcp_bench_seed_size[p] * zcp_bench_seed_count[p] * k;
		if (s == 0)
			bytes_figure(ctx, "record_bytes_per_chunk", (double)l->record_size, 4,
				     "the per-chunk record of the management segment; freelist: "
				     "one uint32 link");
		snprintf(v, sizeof v, "mgmt_bytes_per_chunk/%s", label[s]);
		snprintf(note, sizeof note, "whole management segment / %llu chunks",
			 (unsigned long long)l->total_chunks);
		bytes_figure(ctx, v, (double)l->mgmt_size / (double)l->total_chunks,
			     (64.0 + 4.0 * (double)l->total_chunks) / (double)l->total_chunks,
			     note);
		snprintf(v, sizeof v, "data_overhead_bytes_per_chunk/%s", label[s]);
		bytes_figure(ctx, v, (double)(l->data_size - payload) / (double)l->total_chunks, -1,
			     "data segment bytes beyond the payload: chunk header, alignment");
	}
}
