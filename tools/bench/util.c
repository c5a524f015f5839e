/* SPDX-License-Identifier: MIT */
/* tools/bench/util.c - processes, CPUs, shared mappings and managers for
 * "zerocp bench". */
#define _GNU_SOURCE 1
#include "tool.h"
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

const uint64_t zcp_bench_seed_size[ZCP_BENCH_SEED_POOLS] = {256, 1024, 4096, 16384};
const uint32_t zcp_bench_seed_count[ZCP_BENCH_SEED_POOLS] = {100, 50, 20, 10};

void *zcp_bench_shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		zcp_bench_fatal("mmap of %zu shared bytes: %s", size, strerror(errno));
	return p;
}

void zcp_bench_shared_free(void *p, size_t size)
{
	munmap(p, size);
}

pid_t zcp_bench_fork(void)
{
	pid_t parent = getpid();
	fflush(NULL); /* or buffered lines print twice */
	pid_t pid = fork();
	if (pid < 0)
		zcp_bench_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
#ifdef __linux__
		/* A peer spinning on shared memory must not outlive a
		 * benchmark killed by SIGKILL. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
		if (getppid() != parent)
			_exit(1);
	}
	return pid;
}

void zcp_bench_wait(pid_t pid, const char *what)
{
	int st;
	pid_t r;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	if (r < 0)
		zcp_bench_fatal("waitpid (%s): %s", what, strerror(errno));
	if (WIFSIGNALED(st))
		zcp_bench_fatal("%s peer killed by signal %d", what, WTERMSIG(st));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		zcp_bench_fatal("%s peer failed (exit status %d)", what, WEXITSTATUS(st));
}

int zcp_bench_spin_until(_Atomic uint32_t *w, uint32_t want, _Atomic int *err, double timeout_s)
{
	uint64_t deadline = zcp_bench_now() + (uint64_t)(timeout_s * 1e9);
	for (unsigned long spins = 0;; spins++) {
		if (atomic_load_explicit(w, memory_order_acquire) == want)
			return 0;
		if (err && atomic_load_explicit(err, memory_order_relaxed))
			return -1;
		if ((spins & 1023) == 1023) {
			if (zcp_bench_now() > deadline)
				return -1;
			sched_yield(); /* one CPU: let the peer run */
		}
		zcp_bench_relax();
	}
}

int zcp_bench_cpus(int cpu[2])
{
	cpu_set_t set;
	int n = 0;

	cpu[0] = cpu[1] = -1;
	if (sched_getaffinity(0, sizeof set, &set) != 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		return c > 0 ? (int)c : 1;
	}
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &set))
			continue;
		if (n < 2)
			cpu[n] = i;
		n++;
	}
	return n > 0 ? n : 1;
}

int zcp_bench_pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -1;
}

void zcp_bench_size_label(uint64_t size, char *buf, size_t n)
{
	if (size >= (UINT64_C(1) << 30) && size % (UINT64_C(1) << 30) == 0)
		snprintf(buf, n, "%lluG", (unsigned long long)(size >> 30));
	else if (size >= (UINT64_C(1) << 20) && size % (UINT64_C(1) << 20) == 0)
		snprintf(buf, n, "%lluM", (unsigned long long)(size >> 20));
	else if (size >= 1024 && size % 1024 == 0)
		snprintf(buf, n, "%lluK", (unsigned long long)(size >> 10));
	else
		snprintf(buf, n, "%llu", (unsigned long long)size);
}

zcp_mempool_config *zcp_bench_seed_config(uint32_t k, uint32_t min_count)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	if (!cfg)
		zcp_bench_fatal("zcp_mempool_config_new: %s", strerror(errno));
	for (int i = 0; i < ZCP_BENCH_SEED_POOLS; i++) {
		uint32_t count = zcp_bench_seed_count[i] * k;
		if (count < min_count)
			count = min_count;
		int err = zcp_mempool_config_add_entry(cfg, zcp_bench_seed_size[i], count);
		if (err)
			zcp_bench_fatal("zcp_mempool_config_add_entry(%llu, %u): %s",
					(unsigned long long)zcp_bench_seed_size[i], count,
					zcp_strerror(err));
	}
	return cfg;
}

zcp_mempool_manager *zcp_bench_create(const char *name, const zcp_mempool_config *cfg)
{
	zcp_mempool_manager *m = NULL;
	zcp_bench_track_mgr(name);
	int err = zcp_mempool_manager_create(name, cfg, &m);
	if (err == ZCP_EEXIST) {
		/* Our pid, so a dead benchmark's: nobody uses it. */
		zcp_mempool_manager_unlink(name);
		err = zcp_mempool_manager_create(name, cfg, &m);
	}
	if (err)
		zcp_bench_fatal("zcp_mempool_manager_create(%s): %s", name, zcp_strerror(err));
	return m;
}

void zcp_bench_destroy(zcp_mempool_manager *m)
{
	char name[ZCP_MANAGER_NAME_MAX + 1];
	snprintf(name, sizeof name, "%s", zcp_mempool_manager_name(m));
	int err = zcp_mempool_manager_destroy(m);
	if (err)
		zcp_bench_fatal("zcp_mempool_manager_destroy(%s): %s", name, zcp_strerror(err));
	zcp_bench_untrack_mgr(name);
}
