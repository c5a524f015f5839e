/* SPDX-License-Identifier: MIT */
/* Fork detection, shared by both platform layers (the liveness locks
 * themselves are in platform_linux.c and platform_posix.c; see
 * liveness.h and platform.h). */
#include "platform.h"

#include <pthread.h>

_Atomic unsigned zcp__forks;

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* In the child: the platform drops its copies of our lock descriptors
 * (see zcp__plat_fork_child()), then handles learn they were inherited. */
static void after_fork_child(void)
{
	zcp__plat_fork_child();
	/* Relaxed: the child has one thread here, and its later reads of
	 * the counter (zcp__fork_count()) are in this thread or in threads
	 * it creates after (pthread_create orders them). */
	atomic_fetch_add_explicit(&zcp__forks, 1, memory_order_relaxed);
}

static void install_fork_handlers(void)
{
	pthread_atfork(zcp__plat_fork_prepare, zcp__plat_fork_parent, after_fork_child);
}

void zcp__fork_watch(void)
{
	pthread_once(&fork_once, install_fork_handlers);
}
