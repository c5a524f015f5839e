/* SPDX-License-Identifier: MIT */
/* attack-wait-nosyscall: "publishing costs no system call while nobody
 * sleeps", "fire ... none otherwise", "take costs no system call while no
 * publisher waits", and "a waiter killed in its sleep blocks nobody;
 * reclaim clears what it left".  A child installs a seccomp filter that
 * allows only read/write/exit/exit_group/sigreturn (strict mode's set,
 * but strict mode also turns the TSC off on some x86 kernels, and the
 * vDSO's clock_gettime() then faults) and publishes / fires / takes; dying
 * of SIGSYS means it made a system call.  Checked
 * with live non-sleeping peers, after peers slept and woke, and after a
 * sleeper (and an armed fd holder) was SIGKILLed and reclaimed.  A
 * sleeping peer is the control (a wake-up call is expected then). */
#include "attack-wait.h"
#include <stddef.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

enum { OP_PUBLISH, OP_FIRE, OP_TAKE };

/* The kernel's seccomp and classic-BPF ABI, spelled out: musl ships no
 * linux/ headers.  Instruction codes from linux/bpf_common.h, return
 * values from linux/seccomp.h; the system call number is the first word
 * of struct seccomp_data. */
struct bpf_insn {
	unsigned short code;
	unsigned char jt, jf;
	unsigned int k;
};
struct bpf_prog {
	unsigned short len;
	struct bpf_insn *insns;
};
#define LD_NR 0x20     /* BPF_LD | BPF_W | BPF_ABS */
#define JEQ 0x15       /* BPF_JMP | BPF_JEQ | BPF_K */
#define RET 0x06       /* BPF_RET | BPF_K */
#define RET_KILL 0x80000000u /* SECCOMP_RET_KILL_PROCESS: SIGSYS */
#define RET_ALLOW 0x7fff0000u
#define MODE_FILTER 2  /* SECCOMP_MODE_FILTER */
#ifndef PR_SET_NO_NEW_PRIVS
#define PR_SET_NO_NEW_PRIVS 38
#endif

/* Allow only what strict mode allows; anything else kills with SIGSYS.
 * 0, or -1 if the kernel refused. */
static int go_strict(void)
{
	struct bpf_insn f[] = {
		{LD_NR, 0, 0, 0},
		{JEQ, 5, 0, SYS_read},
		{JEQ, 4, 0, SYS_write},
		{JEQ, 3, 0, SYS_exit},
		{JEQ, 2, 0, SYS_exit_group},
		{JEQ, 1, 0, SYS_rt_sigreturn},
		{RET, 0, 0, RET_KILL},
		{RET, 0, 0, RET_ALLOW},
	};
	struct bpf_prog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, MODE_FILTER, &prog) ? -1 : 0;
}

/* child: prepare, go strict, do op n times, exit via SYS_exit */
static pid_t strict_child(int op, int n)
{
	pid_t pid = fork();
	if (pid)
		return pid;
	zcp_mempool_manager *m;
	zcp_publisher *p = NULL;
	zcp_subscriber *s = NULL;
	zcp_trigger *t = NULL;
	zcp_chunk *ch[64];
	if (zcp_mempool_manager_attach(zt_name, &m))
		_exit(1);
	if (op == OP_PUBLISH) {
		if (zcp_publisher_create(m, "x", NULL, &p))
			_exit(2);
		for (int i = 0; i < n; i++)
			if (!(ch[i] = zcp_publisher_loan(p, 8)))
				_exit(3);
	} else if (op == OP_FIRE) {
		if (zcp_trigger_open(m, "t", &t))
			_exit(2);
	} else {
		zcp_topic_options o;
		zcp_topic_options_init(&o);
		if (zcp_subscriber_create(m, "x", &o, &s))
			_exit(2);
		zcp_publisher *bp;
		zcp_topic_options_init(&o);
		o.overflow = ZCP_OVERFLOW_BLOCK;
		o.block_timeout_ns = 0;
		if (zcp_publisher_create(m, "x", &o, &bp))
			_exit(2);
		for (int i = 0; i < n; i++)
			zt_publish_int(bp, i);
	}
	if (go_strict())
		_exit(9);
	for (int i = 0; i < n; i++) {
		if (op == OP_PUBLISH)
			zcp_publisher_publish(p, ch[i]);
		else if (op == OP_FIRE)
			zcp_trigger_fire(t);
		else
			zcp_subscriber_take(s); /* chunks kept: release may not be syscall-free, not promised */
	}
	syscall(SYS_exit, 0);
	return 0;
}

static int run_strict(int op, int n, char *why, size_t wl)
{
	pid_t c = strict_child(op, n);
	int st = zt_reap(c, 5000);
	if (st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		snprintf(why, wl, "killed by SIGSYS: made a system call");
	else if (st >= 0 && WIFSIGNALED(st))
		snprintf(why, wl, "killed by %s: crashed", strsignal(WTERMSIG(st)));
	else if (st >= 0 && WIFEXITED(st))
		snprintf(why, wl, "exit %d", WEXITSTATUS(st));
	else
		snprintf(why, wl, "status %d", st);
	return zt_exit_ok(st);
}

/* peer: a subscriber on "x" and trigger "t" in a waitset (with fd if asked);
 * mode: 0 busy (never sleeps), 1 sleeps forever in waitset_wait, 2 armed fd then pause */
static pid_t peer(int mode, int *rfd)
{
	int b[2];
	if (pipe(b))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(b[0]);
		zcp_mempool_manager *m;
		zcp_subscriber *s;
		zcp_trigger *t;
		zcp_waitset *ws;
		int fd;
		if (zcp_mempool_manager_attach(zt_name, &m) || zcp_subscriber_create(m, "x", NULL, &s) ||
		    zcp_trigger_open(m, "t", &t) || zcp_waitset_create(m, &ws) ||
		    zcp_waitset_attach_subscriber(ws, s, NULL) || zcp_waitset_attach_trigger(ws, t, NULL))
			_exit(1);
		/* sleep and wake a few times first (state must reset) */
		zcp_waitset_event ev[4];
		for (int i = 0; i < 3; i++)
			zcp_waitset_wait(ws, ev, 4, 5000000);
		zcp_subscriber_wait(s, 5000000);
		if (mode == 2) {
			if (zcp_waitset_fd(ws, &fd))
				_exit(2);
			while (zcp_waitset_wait(ws, ev, 4, 0) > 0)
				;
		}
		if (write(b[1], "r", 1) != 1)
			_exit(3);
		if (mode == 1)
			for (;;)
				zcp_waitset_wait(ws, ev, 4, -1);
		for (;;)
			pause(); /* mode 0: "busy" elsewhere, never asleep in zerocp */
	}
	close(b[1]);
	char c;
	if (read(b[0], &c, 1) != 1)
		pid = -1;
	*rfd = b[0];
	return pid;
}

/* wait (up to 2 s x ZT_SLOWDOWN) until pid is in an interruptible sleep
 * (state S in /proc/<pid>/stat), then 20 ms more; a fixed nap is not
 * enough on a loaded machine */
static void wait_asleep(pid_t pid)
{
	char path[64], buf[512];
	int64_t end = zt_now() + ZT_MS(2000);
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	while (zt_now() < end) {
		FILE *f = fopen(path, "r");
		if (f == NULL)
			break;
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		char *rp = strrchr(buf, ')');
		if (rp != NULL && rp[1] == ' ' && rp[2] == 'S')
			break;
		zt_sleep_ms(5);
	}
	zt_sleep_ms(20);
}

int main(void)
{
	zt_init("nosys", 55);
	zt_plan(9);
	zcp_mempool_manager *m = zt_create(zt_name, 0, 0, 0, 0, 0, 0, 0, -1);
	if (!m)
		return 1;
	char why[128];
	int ok, rfd;
	const char *skip = NULL;
#ifdef ZT_SANITIZED
	skip = "sanitizer build: its runtime makes system calls of its own";
#endif
	if (skip == NULL && zt_emulator() != NULL)
		skip = "seccomp under an emulator (its own system calls)";
	/* sanity: the filter is taken and our exit path works */
	if (skip == NULL) {
		pid_t c = fork();
		if (c == 0) {
			if (go_strict())
				_exit(9);
			syscall(SYS_exit, 0);
		}
		int st = zt_reap(c, 3000);
		if (!zt_exit_ok(st)) {
			zt_diag("seccomp filter refused (0x%x)", st);
			skip = "the kernel refused a seccomp filter";
		}
	}
	if (skip != NULL) {
		static const char *const what[] = {
			"publish x50 with a live, non-sleeping subscriber: no system call",
			"fire x50 with a live, non-sleeping waitset: no system call",
			"take x16 with no publisher waiting: no system call",
			"control: with a subscriber asleep, publish does make a system call",
			"sleeper SIGKILLed in its sleep and reclaimed: publish syscall-free again",
			"... and fire syscall-free again",
			"armed fd holder SIGKILLed and reclaimed: publish syscall-free",
			"... and fire syscall-free",
		};
		for (size_t i = 0; i < sizeof what / sizeof what[0]; i++)
			zt_skip(skip, "%s", what[i]);
		goto out;
	}
	pid_t busy = peer(0, &rfd);
	ok = run_strict(OP_PUBLISH, 50, why, sizeof why);
	zt_ok(busy > 0 && ok, "publish x50 with a live, non-sleeping subscriber (that slept before): no system call (%s)", why);
	ok = run_strict(OP_FIRE, 50, why, sizeof why);
	zt_ok(ok, "fire x50 with a live, non-sleeping waitset: no system call (%s)", why);
	ok = run_strict(OP_TAKE, 16, why, sizeof why);
	zt_ok(ok, "take x16 with no publisher waiting: no system call (%s)", why);
	kill(busy, SIGKILL);
	waitpid(busy, NULL, 0);
	close(rfd);
	zcp_mempool_manager_reclaim(m, NULL);
	/* control: a sleeper makes publish call the kernel */
	pid_t sl = peer(1, &rfd);
	if (sl > 0)
		wait_asleep(sl);
	ok = run_strict(OP_PUBLISH, 5, why, sizeof why);
	if (zt_posix_platform())
		zt_skip("the POSIX platform layer: sleepers look every millisecond, a wake-up is no system call",
			"control: with a subscriber asleep, publish does make a system call");
	else
		zt_ok(sl > 0 && !ok && strstr(why, "SIGSYS"), "control: with a subscriber asleep, publish does make a system call (%s)", why);
	/* the sleeper is killed in its sleep: after reclaim, syscall-free again */
	kill(sl, SIGKILL);
	waitpid(sl, NULL, 0);
	close(rfd);
	zcp_reclaim_report rep;
	zcp_mempool_manager_reclaim(m, &rep);
	ok = run_strict(OP_PUBLISH, 50, why, sizeof why);
	zt_ok(ok, "sleeper SIGKILLed in its sleep and reclaimed (%llu processes): publish syscall-free again (%s)",
	      (unsigned long long)rep.processes, why);
	ok = run_strict(OP_FIRE, 50, why, sizeof why);
	zt_ok(ok, "... and fire syscall-free again (%s)", why);
	/* armed fd holder killed and reclaimed */
	pid_t ar = peer(2, &rfd);
	kill(ar, SIGKILL);
	waitpid(ar, NULL, 0);
	close(rfd);
	zcp_mempool_manager_reclaim(m, &rep);
	ok = run_strict(OP_PUBLISH, 50, why, sizeof why);
	zt_ok(ar > 0 && ok, "armed fd holder SIGKILLed and reclaimed: publish syscall-free (%s)", why);
	ok = run_strict(OP_FIRE, 50, why, sizeof why);
	zt_ok(ok, "... and fire syscall-free (%s)", why);
out:
	zcp_mempool_manager_reclaim(m, NULL);
	zcp_mempool_manager_destroy(m);
	int left = zt_leftovers(zt_name, 0);
	zt_ok(left == 0, "no leftovers (%d)", left);
	zt_rm_leftovers(zt_name);
	return zt_failed != 0;
}
