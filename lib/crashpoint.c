/* SPDX-License-Identifier: MIT */
/* The crash-point test hook (see crashpoint.h). */
#include "internal.h"

#include "crashpoint.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

_Atomic int zcp__crash_armed;
static const char *armed_name;
static _Atomic unsigned armed_skip;
static void (*_Atomic hook)(const char *name);

const char *const zcp__crash_points[] = {
	"pop.flipped",      /* head names us, record not yet marked */
	"pop.claimed",      /* record claimed (ONTOP), head untouched */
	"list.unlisted",    /* a claimed top's ONTOP cleared, head not yet moved */
	"pop.taken",        /* popped, view not yet bound */
	"push.finalized",   /* previous top finalised, our push not done */
	"push.done",        /* pushed */
	"release.local",    /* local count dropped, shared word untouched */
	"release.releasing",/* word RELEASING, not pushed */
	"release.cleared",  /* our bit cleared, others still hold */
	"ref.pending",      /* local count pending, bit not set */
	"ref.checked",      /* a held view's generation checked, count not yet taken */
	"ref.shared",       /* bit set, local count not yet 1 */
	"send.entry",       /* outbox entry written, not yet live */
	"receive.bit",      /* receiver holds its reference, entry not yet taken */
	"reclaim.claimed",  /* reclaimer owns a dead slot */
	"reclaim.dropped",  /* dead slot cleaned, not yet freed */
	"slot.locked",      /* attacher holds a slot's lock byte, slot not claimed */
	"slot.claimed",     /* slot claimed, nothing else written */
	"takeover.claimed", /* a dead process's slot taken over, not yet cleaned */
	"pub.moved",        /* the topics' bit set (our reference moved), ring untouched */
	"pub.evicting",     /* an old sample's slot emptied, its bit not dropped */
	"pub.recycled",     /* an evicted sample taken back as a spare, seq not written */
	"pub.written",      /* the new slot written, the tail not moved */
	"sub.followed",     /* a publisher's state read, its tail not yet */
	"sub.taken",        /* our reference taken, not yet counted */
	"topic.reclaimed",  /* a dead process's endpoints closed, not yet swept */
	NULL,
};

void zcp__crash_arm(const char *name, unsigned skip)
{
	armed_name = name;
	atomic_store(&armed_skip, skip);
	atomic_store(&zcp__crash_armed, name != NULL || atomic_load(&hook) != NULL);
}

void zcp__crash_hook(void (*fn)(const char *name))
{
	atomic_store(&hook, fn);
	atomic_store(&zcp__crash_armed, armed_name != NULL || fn != NULL);
}

void zcp__crash_point_hit(const char *name)
{
	void (*fn)(const char *) = atomic_load(&hook);
	if (fn)
		fn(name);
	if (!armed_name || strcmp(name, armed_name) != 0)
		return;
	if (atomic_fetch_sub(&armed_skip, 1) != 0)
		return;
	raise(SIGKILL);
	_exit(137);
}
