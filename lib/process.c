/* Process identity and liveness.
 *
 * A slot of the process table is claimed with one CAS of its id word from
 * "free, incarnation k" to "pid, incarnation k+1, claimed", so a process
 * killed while attaching leaves either a free slot or a claimed one with a
 * pid to check, never a half-written slot.  The start time is written just
 * after; until then liveness rests on the pid alone, which errs towards
 * "alive".
 *
 * Liveness is pid + start time rather than a descriptor (pidfd, flock):
 * descriptors are inherited across fork() and would make a dead process
 * look alive through its children.
 */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

_Atomic unsigned zcp__forks;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
	atomic_fetch_add_explicit(&zcp__forks, 1, memory_order_relaxed);
}

static void install_fork_handler(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

void zcp__fork_watch(void)
{
	pthread_once(&fork_once, install_fork_handler);
}


/* Read state and start time from /proc/<pid>/stat.  Returns 0 or -1. */
static int read_stat(pid_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, sizeof buf - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the
	 * last ')'.  Then: state(3) ppid ... starttime(22). */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -1;
	p += 2;
	*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	char *end;
	unsigned long long v = strtoull(p, &end, 10);
	if (end == p)
		return -1;
	*start = v;
	return 0;
}

uint64_t zcp__process_start_time(pid_t pid)
{
	char state;
	uint64_t start;
	return read_stat(pid, &state, &start) == 0 ? start : 0;
}

/* Our own start time, read from /proc once per process: every attach
 * needs it.  Threads race only to store the same values; a forked child
 * finds its parent's pid cached and reads its own. */
static _Atomic int64_t self_pid;
static _Atomic uint64_t self_start;

uint64_t zcp__self_start_time(pid_t pid)
{
	if (atomic_load_explicit(&self_pid, memory_order_acquire) == pid)
		return atomic_load_explicit(&self_start, memory_order_relaxed);
	uint64_t start = zcp__process_start_time(pid);
	if (start != 0) {
		atomic_store_explicit(&self_start, start, memory_order_relaxed);
		atomic_store_explicit(&self_pid, pid, memory_order_release);
	}
	return start;
}

int zcp__process_alive(int64_t pid, uint64_t start)
{
	if (pid <= 0 || pid > INT32_MAX)
		return 0;
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return 0;
	char state;
	uint64_t now;
	if (read_stat((pid_t)pid, &state, &now) == 0) {
		if (state == 'Z' || state == 'X' || state == 'x')
			return 0;
		return start == 0 || now == start;
	}
	/* No /proc entry: gone since kill(), or no /proc at all. */
	return !(kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

int zcp__proc_claim(struct zcp__proc *(*at)(void *ctx, unsigned i), void *ctx, unsigned n,
		    unsigned *slot, uint64_t *id)
{
	uint64_t pid = (uint64_t)getpid();
	for (unsigned i = 0; i < n; i++) {
		struct zcp__proc *p = at(ctx, i);
		uint64_t cur = atomic_load_explicit(&p->id, memory_order_acquire);
		if (zcp__id_claimed(cur))
			continue;
		uint64_t inc = ((cur >> 1) + 1) & 0x7fffffffu;
		uint64_t mine = (pid << 32) | (inc << 1) | 1;
		if (!atomic_compare_exchange_strong_explicit(&p->id, &cur, mine,
							     memory_order_acq_rel,
							     memory_order_acquire))
			continue;
		atomic_store_explicit(&p->start, zcp__self_start_time((pid_t)pid),
				      memory_order_relaxed);
		atomic_store_explicit(&p->reclaimer, 0, memory_order_relaxed);
		for (unsigned k = 0; k < ZCP__OUTBOX_SLOTS; k++)
			atomic_store_explicit(&p->outbox[k].word, 0, memory_order_relaxed);
		atomic_store_explicit(&p->stage, ZCP__PROC_ACTIVE, memory_order_release);
		*slot = i;
		*id = mine;
		return 0;
	}
	return ZCP_EUSERS;
}

void zcp__proc_free(struct zcp__proc *p, uint64_t id)
{
	atomic_store_explicit(&p->stage, ZCP__PROC_FREE, memory_order_relaxed);
	atomic_store_explicit(&p->start, 0, memory_order_relaxed);
	/* Free, same incarnation: the next claim makes it k+1. */
	atomic_store_explicit(&p->id, (id & ~UINT64_C(0xFFFFFFFF00000001)), memory_order_release);
}
