/* SPDX-License-Identifier: MIT */
/*
 * tests/seg-space.c - zcp_segment_create() reserves the memory of a segment
 * and fails with ZCP_ENOSPC, leaving nothing behind, when it cannot: a full
 * /dev/shm (a small tmpfs in a private mount namespace), RLIMIT_FSIZE, a
 * 1 TiB request, fallocate() and fstatvfs() made unavailable by seccomp,
 * and a manager that does not fit.  Also: signals during the reservation.
 *
 * The checks of the forked children exit with the number of the failed
 * check (and say which on stderr); 77 means "skip".
 */
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
/* Kernel headers: absent from some toolchains (musl-gcc): the seccomp
 * tests then report a SKIP. */
#if defined(__has_include)
#if __has_include(<linux/audit.h>) && __has_include(<linux/filter.h>) && \
	__has_include(<linux/seccomp.h>)
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#endif
#endif
#endif

#include <zerocp/zerocp.h>

#include "zt.h"

#define MiB	    ((size_t)1 << 20)
#define SKIP_STATUS 77

/* ---------------------------------------------------------------------
 * Child-side checks
 * --------------------------------------------------------------------- */

static int check_no;

/* In a child: count a check; on failure say which and exit with its number. */
#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		check_no++;                                                                        \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "# child check %d failed (line %d): ", check_no,           \
				__LINE__);                                                         \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			_exit(check_no < SKIP_STATUS ? check_no : 76);                             \
		}                                                                                  \
	} while (0)

static void on_fault(int sig)
{
	_exit(sig == SIGBUS ? 100 : sig == SIGXFSZ ? 101 : 102);
}

/* Fatal signals become distinctive exit codes (SIGBUS 100, SIGXFSZ 101). */
static void catch_faults(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGXFSZ, &sa, NULL);
}

static int shm_exists(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "/dev/shm/zerocp_%s", name);
	return access(path, F_OK) == 0;
}

/* Entries in /dev/shm other than "." and "..", or -1. */
static int shm_entries(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Free bytes of /dev/shm, from statvfs() (not fstatvfs(), which the
 * seccomp tests take away), or 0. */
static uint64_t shm_free(void)
{
	struct statvfs sv;

	if (statvfs("/dev/shm", &sv) < 0)
		return 0;
	return (uint64_t)sv.f_bfree * (sv.f_frsize ? sv.f_frsize : sv.f_bsize);
}

/*
 * In a forked child: a private mount namespace with a tmpfs of `size` on
 * /dev/shm.  Exits with SKIP_STATUS when that is impossible (not root, no
 * namespaces: the parent then skips).
 */
static void private_shm(const char *size)
{
	char opts[64];

	snprintf(opts, sizeof(opts), "size=%s", size);
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/dev/shm", "tmpfs", 0, opts) < 0)
		_exit(SKIP_STATUS);
}

/* Parent side: wait for a child and report it as one test (skip on 77). */
static void child_result(pid_t pid, const char *what)
{
	int st = 0;

	if (pid < 0) {
		ok(0, "%s: fork: %s", what, strerror(errno));
		return;
	}
	if (zt_wait(pid, &st) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == SKIP_STATUS) {
		skip("%s: needs root and a private mount namespace", what);
		return;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 100)
		diag("  the child died of SIGBUS");
	if (WIFEXITED(st) && WEXITSTATUS(st) == 101)
		diag("  the child died of SIGXFSZ");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", what);
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
		diag("  child exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		diag("  child killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
}

/* Fork; the child runs fn(arg), which must not return. */
static pid_t spawn(void (*fn)(int), int arg)
{
	pid_t pid = zt_fork();
	int i;

	if (pid == 0) {
		fn(arg);
		_exit(99);
	}
	/* The child counts zt names on from where the parent was: skip the
	 * names it may use, so that the next child's never meet them. */
	for (i = 0; i < 8; i++)
		zt_name();
	return pid;
}

static zcp_segment_options backend_opts(zcp_backend b)
{
	zcp_segment_options o;

	zcp_segment_options_init(&o);
	o.backend = b;
	return o;
}

/* ---------------------------------------------------------------------
 * (a) a small tmpfs on /dev/shm
 * --------------------------------------------------------------------- */

static void small_tmpfs_child(int unused)
{
	(void)unused;
	const char *a = zt_name(), *b = zt_name(), *c = zt_name();
	zcp_segment *s = NULL, *t = NULL;
	uint64_t before, after;
	unsigned char *p;
	size_t i;
	int err;

	catch_faults();
	private_shm("8m");
	CHECK(shm_entries() == 0, "the private /dev/shm starts empty");
	before = shm_free();
	CHECK(before >= 7 * MiB, "8m tmpfs has about 8 MiB free (%llu)",
	      (unsigned long long)before);

	/* Over the size of the filesystem: fails, and leaves nothing. */
	err = zcp_segment_create(a, 16 * MiB, NULL, &s);
	CHECK(err == ZCP_ENOSPC, "16 MiB on an 8 MiB tmpfs: %s", zcp_err_name(err));
	CHECK(s == NULL, "no segment returned");
	CHECK(shm_entries() == 0, "nothing left in /dev/shm");

	/* 4 MiB fits and is reserved at once. */
	err = zcp_segment_create(b, 4 * MiB, NULL, &s);
	CHECK(err == 0, "4 MiB on an 8 MiB tmpfs: %s", zcp_err_name(err));
	after = shm_free();
	CHECK(before - after >= 4 * MiB, "the 4 MiB are reserved at create (free %llu -> %llu)",
	      (unsigned long long)before, (unsigned long long)after);

	/* What fitted only "sparsely" before is refused now: 4 MiB are
	 * taken, 6 more do not fit. */
	err = zcp_segment_create(c, 6 * MiB, NULL, &t);
	CHECK(err == ZCP_ENOSPC, "6 MiB more on the 8 MiB tmpfs: %s", zcp_err_name(err));
	CHECK(t == NULL && !shm_exists(c) && shm_entries() == 1,
	      "the failed create left nothing, the first segment stays");

	/* Every byte of the segment can be written (a SIGBUS exits 100). */
	p = zcp_segment_base(s);
	for (i = 0; i < 4 * MiB; i++)
		p[i] = (unsigned char)i;
	CHECK(p[4 * MiB - 1] == (unsigned char)(4 * MiB - 1), "written");
	zcp_segment_close(s);
	CHECK(zcp_segment_unlink(b) == 0, "unlink");
	CHECK(shm_entries() == 0, "nothing left");
	CHECK(shm_free() >= before, "space given back");

	/* After the failure the filesystem is usable to the full. */
	err = zcp_segment_create(a, 7 * MiB, NULL, &s);
	CHECK(err == 0, "7 MiB on the empty 8 MiB tmpfs: %s", zcp_err_name(err));
	memset(zcp_segment_base(s), 0xa5, 7 * MiB);
	zcp_segment_close(s);
	zcp_segment_unlink(a);
	CHECK(shm_entries() == 0, "nothing left at the end");
	_exit(0);
}

#ifdef HAVE_MEMFD
/* A memfd is not charged to /dev/shm: an 8 MiB memfd works on the 8 MiB
 * tmpfs (what a memfd can run out of is memory, see test_huge()). */
static void small_tmpfs_memfd_child(int unused)
{
	(void)unused;
	zcp_segment_options o = backend_opts(ZCP_BACKEND_MEMFD);
	zcp_segment *s = NULL;
	int err;

	catch_faults();
	private_shm("8m");
	err = zcp_segment_create(zt_name(), 16 * MiB, &o, &s);
	CHECK(err == 0, "16 MiB memfd beside an 8 MiB /dev/shm: %s", zcp_err_name(err));
	memset(zcp_segment_base(s), 1, 16 * MiB);
	zcp_segment_close(s);
	CHECK(shm_entries() == 0, "a memfd leaves nothing in /dev/shm");
	_exit(0);
}
#endif

/* The manager above: its create fails as a whole and leaves neither
 * segment; one that fits works and can be destroyed. */
static void small_tmpfs_manager_child(int unused)
{
	(void)unused;
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config *cfg;
	zcp_mempool_layout lay;
	int err;

	catch_faults();
	private_shm("8m");
	cfg = zcp_mempool_config_new();
	CHECK(cfg != NULL, "config_new");
	CHECK(zcp_mempool_config_add_entry(cfg, 1 << 20, 16) == 0, "add 16 x 1 MiB");
	CHECK(zcp_mempool_config_layout(cfg, &lay) == 0 && lay.data_size > 8 * MiB,
	      "the data segment is over 8 MiB");
	err = zcp_mempool_manager_create(zt_name(), cfg, &m);
	CHECK(err == ZCP_ENOSPC, "manager of 16 MiB on 8 MiB: %s", zcp_err_name(err));
	CHECK(m == NULL, "no manager returned");
	CHECK(shm_entries() == 0, "neither segment is left");
	zcp_mempool_config_free(cfg);

	cfg = zcp_mempool_config_new();
	CHECK(cfg != NULL, "config_new");
	CHECK(zcp_mempool_config_add_entry(cfg, 64 << 10, 16) == 0, "add 16 x 64 KiB");
	err = zcp_mempool_manager_create(zt_name(), cfg, &m);
	CHECK(err == 0, "a manager of about 1 MiB: %s", zcp_err_name(err));
	CHECK(shm_entries() == 2, "its two segments exist");
	CHECK(zcp_mempool_manager_destroy(m) == 0, "destroy");
	CHECK(shm_entries() == 0, "destroy leaves nothing");
	zcp_mempool_config_free(cfg);
	_exit(0);
}

static void test_small_tmpfs(void)
{
	child_result(spawn(small_tmpfs_child, 0),
		     "8 MiB /dev/shm: 16 MiB fails with ENOSPC, 4 MiB reserved and writable, "
		     "nothing left");
#ifdef HAVE_MEMFD
	child_result(spawn(small_tmpfs_memfd_child, 0),
		     "8 MiB /dev/shm: a 16 MiB memfd is not charged to it");
#else
	skip("memfd backend not built");
#endif
	child_result(spawn(small_tmpfs_manager_child, 0),
		     "8 MiB /dev/shm: manager creates fail with ENOSPC and leave no segment");
}

/* ---------------------------------------------------------------------
 * fallocate() and fstatvfs() taken away with seccomp
 * --------------------------------------------------------------------- */

#if defined(__linux__) && defined(SECCOMP_MODE_FILTER) &&                                          \
	(defined(__x86_64__) || defined(__aarch64__)) && defined(__NR_fallocate) &&                \
	defined(__NR_fstatfs)
#define HAVE_TEST_SECCOMP 1
#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#else
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define F_NO_FSTATFS   1 /* fstatfs() fails with ENOSYS */
#define F_NO_FALLOCATE 2 /* fallocate() fails with EOPNOTSUPP */
#define F_EINTR_BIG    4 /* fallocate() of 32 MiB or more fails with EINTR */

#define ALLOW	  ((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW))
#define FAIL(e)	  ((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (e)))
#define LOAD(off) ((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off)))

/* Install a seccomp filter doing what flags say.  0 or -1. */
static int filter_syscalls(int flags)
{
	/* Little-endian (x86_64, aarch64): the low word of an argument first. */
	const unsigned int len_lo = offsetof(struct seccomp_data, args[3]);
	struct sock_filter f[32];
	struct sock_fprog prog;
	unsigned short n = 0;

	f[n++] = LOAD(offsetof(struct seccomp_data, arch));
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0);
	f[n++] = ALLOW;
	f[n++] = LOAD(offsetof(struct seccomp_data, nr));
	if (flags & F_NO_FSTATFS) {
		f[n++] =
			(struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fstatfs, 0, 1);
		f[n++] = FAIL(ENOSYS);
	}
	f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fallocate, 1, 0);
	f[n++] = ALLOW;
	if (flags & F_NO_FALLOCATE)
		f[n++] = FAIL(EOPNOTSUPP);
	if (flags & F_EINTR_BIG) {
		f[n++] = LOAD(len_lo + 4);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
		f[n++] = FAIL(EINTR);
		f[n++] = LOAD(len_lo);
		f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 32u << 20, 0, 1);
		f[n++] = FAIL(EINTR);
	}
	f[n++] = ALLOW;
	prog.len = n;
	prog.filter = f;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0 ? -1 : 0;
}

/*
 * Without fstatvfs() the cheap check cannot see the tmpfs is too small:
 * fallocate() (or, without it too, the pwrite() fallback) meets ENOSPC, and
 * the half-made object must go.
 */
static void seccomp_child(int no_fallocate)
{
	const char *a = zt_name(), *b = zt_name();
	zcp_segment *s = NULL;
	uint64_t before, after;
	int err;

	catch_faults();
	private_shm("8m");
	if (filter_syscalls(F_NO_FSTATFS | (no_fallocate ? F_NO_FALLOCATE : 0)) < 0)
		_exit(SKIP_STATUS);
	CHECK(fstatvfs(0, &(struct statvfs){0}) < 0 && errno == ENOSYS, "the filter works");
	before = shm_free();
	err = zcp_segment_create(a, 16 * MiB, NULL, &s);
	CHECK(err == ZCP_ENOSPC, "16 MiB on 8 MiB, no fstatvfs: %s", zcp_err_name(err));
	CHECK(s == NULL && shm_entries() == 0, "nothing left");
	CHECK(shm_free() >= before, "the partial reservation was given back");

	err = zcp_segment_create(b, 4 * MiB, NULL, &s);
	CHECK(err == 0, "4 MiB: %s", zcp_err_name(err));
	after = shm_free();
	CHECK(before - after >= 4 * MiB, "reserved without fallocate too (free %llu -> %llu)",
	      (unsigned long long)before, (unsigned long long)after);
	memset(zcp_segment_base(s), 0x5a, 4 * MiB);
	zcp_segment_close(s);
	zcp_segment_unlink(b);
	CHECK(shm_entries() == 0, "nothing left at the end");
	_exit(0);
}

/* fallocate() of 32 MiB or more is "interrupted" every time: a 64 MiB
 * create must get through by retrying in smaller steps. */
static void seccomp_eintr_child(int b)
{
	zcp_segment_options o = backend_opts((zcp_backend)b);
	const char *name = zt_name();
	zcp_segment *s = NULL;
	int err;

	catch_faults();
	if (filter_syscalls(F_EINTR_BIG) < 0)
		_exit(SKIP_STATUS);
	err = zcp_segment_create(name, 64 * MiB, &o, &s);
	CHECK(err == 0, "64 MiB with big fallocates interrupted: %s", zcp_err_name(err));
	memset(zcp_segment_base(s), 1, 64 * MiB);
	zcp_segment_close(s);
	if (b == ZCP_BACKEND_SHM)
		CHECK(zcp_segment_unlink(name) == 0, "unlink");
	_exit(0);
}
#endif

static void test_seccomp(void)
{
#ifdef HAVE_TEST_SECCOMP
	child_result(spawn(seccomp_child, 0),
		     "no fstatvfs: fallocate's ENOSPC fails the create, nothing left");
	child_result(spawn(seccomp_child, 1),
		     "no fstatvfs, no fallocate: the pwrite fallback reserves, or fails "
		     "with ENOSPC and leaves nothing");
	child_result(spawn(seccomp_eintr_child, ZCP_BACKEND_SHM),
		     "fallocate failing with EINTR is retried in smaller steps (shm)");
#ifdef HAVE_MEMFD
	child_result(spawn(seccomp_eintr_child, ZCP_BACKEND_MEMFD),
		     "fallocate failing with EINTR is retried in smaller steps (memfd)");
#else
	skip("memfd backend not built");
#endif
#else
	int i;

	for (i = 0; i < 4; i++)
		skip("seccomp tests: not Linux on x86_64 or aarch64");
#endif
}

/* ---------------------------------------------------------------------
 * (b) RLIMIT_FSIZE
 * --------------------------------------------------------------------- */

static void fsize_child(int unused)
{
	zcp_segment_options mo = backend_opts(ZCP_BACKEND_MEMFD);
	struct rlimit rl = {1 * MiB, 1 * MiB};
	const char *a = zt_name(), *b = zt_name();
	zcp_segment *s = NULL;
	int err;

	(void)unused;
	catch_faults();
	CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0, "setrlimit");
	err = zcp_segment_create(a, 4 * MiB, NULL, &s);
	CHECK(err == ZCP_ENOSPC, "shm of 4 MiB over a 1 MiB RLIMIT_FSIZE: %s", zcp_err_name(err));
	CHECK(s == NULL && !shm_exists(a), "nothing left");
	err = zcp_segment_create(a, 1 * MiB + 1, NULL, &s);
	CHECK(err == ZCP_ENOSPC, "one byte over the limit: %s", zcp_err_name(err));
	err = zcp_segment_create(a, 4 * MiB, &mo, &s);
#ifdef HAVE_MEMFD
	CHECK(err == ZCP_ENOSPC, "memfd of 4 MiB over the limit: %s", zcp_err_name(err));
#else
	/* The size checks come first: either answer is a clean refusal. */
	CHECK(err == ZCP_ENOSYS || err == ZCP_ENOSPC, "memfd not built: %s", zcp_err_name(err));
#endif
	CHECK(s == NULL, "no segment returned");

	/* At the limit exactly is allowed (the kernel's test is "above"). */
	err = zcp_segment_create(b, 1 * MiB, NULL, &s);
	CHECK(err == 0, "shm of exactly the limit: %s", zcp_err_name(err));
	memset(zcp_segment_base(s), 1, 1 * MiB);
	zcp_segment_close(s);
	zcp_segment_unlink(b);
	_exit(0);
}

static void test_fsize(void)
{
	child_result(spawn(fsize_child, 0),
		     "RLIMIT_FSIZE 1 MiB: 4 MiB fails with ENOSPC, no SIGXFSZ, nothing left");
	ok(zt_cleanup(0) == 0, "  no litter from the RLIMIT_FSIZE child");
}

/* ---------------------------------------------------------------------
 * (c) 1 TiB
 * --------------------------------------------------------------------- */

static void huge_child(int b)
{
	zcp_segment_options o = backend_opts((zcp_backend)b);
	const char *name = zt_name();
	zcp_segment *s = NULL;
	struct timespec t0, t1;
	double secs;
	int err;

	catch_faults();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* 1 TiB; never run on a 32-bit build (test_huge() skips). */
	err = zcp_segment_create(name, (size_t)((uint64_t)1 << 40), &o, &s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	CHECK(err == ZCP_ENOSPC || err == ZCP_ENOMEM, "1 TiB: %s", zcp_err_name(err));
	CHECK(s == NULL && !shm_exists(name), "nothing left");
	/* Not a timing assertion: a generous bound that only a reservation
	 * of real memory (instead of the cheap check) would exceed. */
	CHECK(secs < 5.0, "failed fast (%.3f s)", secs);
	_exit(0);
}

static void test_huge(void)
{
	int big_machine = 0;

#ifdef __linux__
	struct sysinfo si;

	/* The test relies on 1 TiB being more than RAM + swap (memfd) and
	 * /dev/shm; on a machine that has it, do not try. */
	if (sysinfo(&si) == 0 &&
	    ((uint64_t)si.totalram + si.totalswap) * si.mem_unit >= ((uint64_t)1 << 40))
		big_machine = 1;
#endif
	if (sizeof(size_t) < 8 || big_machine) {
		skip("1 TiB: 32-bit, or a machine with 1 TiB of memory");
		skip("1 TiB: 32-bit, or a machine with 1 TiB of memory");
		return;
	}
	child_result(spawn(huge_child, ZCP_BACKEND_SHM),
		     "1 TiB shm segment: ENOSPC at once, nothing left");
#ifdef HAVE_MEMFD
	child_result(spawn(huge_child, ZCP_BACKEND_MEMFD), "1 TiB memfd segment: ENOSPC at once");
#else
	skip("memfd backend not built");
#endif
}

/* ---------------------------------------------------------------------
 * Signals during the reservation
 * --------------------------------------------------------------------- */

static volatile sig_atomic_t ticks;

static void on_tick(int sig)
{
	(void)sig;
	ticks++;
}

/*
 * A timer signal every 200 microseconds (no SA_RESTART) while segments are
 * created.  Whether it interrupts the reservation depends on the kernel
 * (tmpfs's fallocate() gave up on any signal before Linux 6.x; now only on
 * a fatal one); either way the create must succeed.
 */
static void eintr_child(int b)
{
	zcp_segment_options o = backend_opts((zcp_backend)b);
	struct itimerspec its = {{0, 200000}, {0, 200000}};
	const char *name = zt_name();
	zcp_segment *s = NULL;
	struct sigaction sa;
	struct sigevent ev;
	timer_t timer;
	int err, i;

	catch_faults();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tick;
	sigaction(SIGUSR1, &sa, NULL);
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	CHECK(timer_create(CLOCK_MONOTONIC, &ev, &timer) == 0, "timer_create");
	CHECK(timer_settime(timer, 0, &its, NULL) == 0, "timer_settime");
	for (i = 0; i < 3; i++) {
		err = zcp_segment_create(name, 64 * MiB, &o, &s);
		CHECK(err == 0, "64 MiB under a 200 us timer, round %d: %s", i, zcp_err_name(err));
		((volatile char *)zcp_segment_base(s))[64 * MiB - 1] = 1;
		zcp_segment_close(s);
		if (b == ZCP_BACKEND_SHM)
			CHECK(zcp_segment_unlink(name) == 0, "unlink");
	}
	timer_delete(timer);
	_exit(0);
}

static void test_eintr(void)
{
	child_result(spawn(eintr_child, ZCP_BACKEND_SHM),
		     "a frequent signal does not fail an shm create");
#ifdef HAVE_MEMFD
	child_result(spawn(eintr_child, ZCP_BACKEND_MEMFD),
		     "a frequent signal does not fail a memfd create");
#else
	skip("memfd backend not built");
#endif
}

int main(void)
{
	plan_lazy();
	test_small_tmpfs();
	test_seccomp();
	test_fsize();
	test_huge();
	test_eintr();
	zt_done();
	return done_testing();
}
