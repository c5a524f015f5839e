/* SPDX-License-Identifier: MIT */
/* Processes killed with SIGKILL at random moments of random traffic (get,
 * write, handoff, ref, release, and publish/subscribe: publishers and
 * subscribers opened, closed, publishing, taking): after a reclaim every
 * pool holds exactly what the survivor holds plus what topic rings keep
 * (zcp_topic_info.kept), every chunk is on its free list exactly once, no
 * endpoint of the dead is open, and the survivor's data was never
 * overwritten.  Then the liveness rules:
 * a stopped process keeps its chunks, a zombie or a reused pid does not,
 * a child that outlives its dead parent does not keep the parent alive,
 * and a dead creator is reported. */
#include "tap.h"
#include "zt.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zerocp/zerocp.h>

#include "layout.h"
#include "record.h"
#include "slot.h"
#include "topic.h"

#define CHILDREN 3
#define MAILBOX 8
#define SURVIVOR_CHUNKS 4

struct mailbox {
	_Atomic uint64_t handle[MAILBOX];
	_Atomic long traffic;
	_Atomic long published, taken;
};

static struct mailbox *mb;
static const uint64_t sizes[3] = {100, 1000, 4000};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static zcp_mempool_manager *make(const char *name)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m = NULL;
	zcp_mempool_config_add_entry(cfg, 128, 32);
	zcp_mempool_config_add_entry(cfg, 1024, 16);
	zcp_mempool_config_add_entry(cfg, 4096, 8);
	zcp_mempool_config_set_topics(cfg, 4, 4, 8, 8);
	if (zcp_mempool_manager_create(name, cfg, &m) != 0)
		bail("create %s", name);
	zcp_mempool_config_free(cfg);
	return m;
}

/* Topic t's options: "kl0" drops the oldest of 4, "kl1" rejects beyond 2,
 * "kl2" drops the oldest of 2 and keeps a history of 1 (what rings keep
 * after their publisher died). */
#define TOPICS 3
static void topic_opts(int t, zcp_topic_options *o)
{
	zcp_topic_options_init(o);
	o->capacity = t == 0 ? 4 : 2;
	o->history = t == 2 ? 1 : 0;
	o->overflow = t == 1 ? ZCP_OVERFLOW_REJECT : ZCP_OVERFLOW_DROP_OLDEST;
}

static const char *const topic_names[TOPICS] = {"kl0", "kl1", "kl2"};

/* Random traffic until killed. */
static void traffic(const char *name, uint64_t seed)
{
	zcp_mempool_manager *m;
	zcp_chunk *held[6] = {0};
	zcp_publisher *pub[TOPICS] = {0};
	zcp_subscriber *sub[TOPICS] = {0};
	ZT_CHECK(zcp_mempool_manager_attach(name, &m) == 0);
	for (;;) {
		uint64_t r = xorshift(&seed);
		int k = (int)(r % 6), t = (int)((r >> 40) % TOPICS);
		zcp_topic_options o;
		switch ((r >> 8) % 9) {
		case 0:
		case 1: /* get and write */
			if (!held[k] && (held[k] = zcp_chunk_get(m, sizes[(r >> 16) % 3])))
				memset(zcp_chunk_data(held[k]), (int)(r >> 24), 100);
			break;
		case 2: /* release */
			if (held[k]) {
				zcp_chunk_release(m, held[k]);
				held[k] = NULL;
			}
			break;
		case 3: /* hand over: post a handle, keep our reference */
			if (held[k])
				atomic_store(&mb->handle[(r >> 16) % MAILBOX], zcp_chunk_handle(m, held[k]));
			break;
		case 4: { /* take a posted handle: ref, release later */
			uint64_t h = atomic_exchange(&mb->handle[(r >> 16) % MAILBOX], 0);
			zcp_chunk *c = h ? zcp_chunk_from_handle(m, h) : NULL;
			if (c && !held[k] && zcp_chunk_ref(m, c) == 0)
				held[k] = c;
			break;
		}
		case 5: /* open or close an endpoint (errors are fine: full, busy lock) */
			topic_opts(t, &o);
			if ((r >> 20) & 1) {
				if (pub[t] && (r >> 24) % 4 == 0) {
					zcp_publisher_close(pub[t]);
					pub[t] = NULL;
				} else if (!pub[t] && zcp_publisher_create(m, topic_names[t], &o, &pub[t]) != 0) {
					pub[t] = NULL;
				}
			} else {
				if (sub[t] && (r >> 24) % 4 == 0) {
					zcp_subscriber_close(sub[t]);
					sub[t] = NULL;
				} else if (!sub[t] && zcp_subscriber_create(m, topic_names[t], &o, &sub[t]) != 0) {
					sub[t] = NULL;
				}
			}
			break;
		case 6: { /* publish a loaned sample */
			if (!pub[t])
				break;
			zcp_chunk *c = zcp_publisher_loan(pub[t], 100);
			if (c) {
				memset(zcp_sample_data(c), (int)(r >> 24), 100);
				if (zcp_publisher_publish(pub[t], c) != 0)
					zcp_chunk_release(m, c);
				else
					atomic_fetch_add_explicit(&mb->published, 1, memory_order_relaxed);
			}
			break;
		}
		case 7: /* publish a chunk we hold (got, handed over or taken): the
			 * ring takes our reference, or it is refused and ours */
			if (pub[t] && held[k] && zcp_publisher_publish(pub[t], held[k]) == 0)
				held[k] = NULL;
			break;
		case 8: { /* take a sample and keep it */
			zcp_chunk *c = sub[t] ? zcp_subscriber_take(sub[t]) : NULL;
			if (c)
				atomic_fetch_add_explicit(&mb->taken, 1, memory_order_relaxed);
			if (c && held[k])
				zcp_chunk_release(m, c);
			else if (c)
				held[k] = c;
			break;
		}
		}
		atomic_fetch_add_explicit(&mb->traffic, 1, memory_order_relaxed);
	}
}

static void sleep_us(long us)
{
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
}

/* On a failed audit: every held record that is not the survivor's, its
 * word, and the ring slots (topic, publisher, slot, pos, state) that name
 * it, for the diagnosis. */
static void dump_held(zcp_mempool_manager *m, zcp_chunk **mine, int n)
{
	for (uint64_t g = 0; g < m->geo.total_chunks; g++) {
		uint64_t w = atomic_load(&m->records[g].word);
		if (!zcp__w_is_held(w))
			continue;
		int ours = 0;
		for (int i = 0; i < n; i++)
			ours |= (uint64_t)(mine[i] - m->chunks) == g;
		if (ours)
			continue;
		diag("  chunk %llu: word %016llx seq %llu", (unsigned long long)g, (unsigned long long)w,
		     (unsigned long long)atomic_load(&m->records[g].seq));
		for (unsigned t = 0; t < m->geo.max_topics; t++)
			for (unsigned j = 0; j < m->geo.max_publishers; j++) {
				struct zcp__publisher_ep *ep = zcp__publisher_at(m, t, j);
				for (unsigned k = 0; k < m->geo.ring_size; k++) {
					struct zcp__ring_slot *sl = &zcp__ring(ep)[k];
					uint64_t h = atomic_load(&sl->handle);
					if (h && (h >> ZCP__HANDLE_GEN_BITS) == g + 1)
						diag("    named by topic %u publisher %u (state %llx tail %llu "
						     "released %llu pending %llx) slot %u pos %llu handle %llx",
						     t, j, (unsigned long long)atomic_load(&ep->state),
						     (unsigned long long)atomic_load(&ep->tail),
						     (unsigned long long)atomic_load(&ep->released),
						     (unsigned long long)atomic_load(&ep->pending), k,
						     (unsigned long long)atomic_load(&sl->pos),
						     (unsigned long long)h);
				}
			}
	}
}

static void kill_loop(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name);
	long rounds = zt_iters(200);
	uint64_t seed = 0x12345678u ^ (uint64_t)getpid();
	long bad_reclaim = 0, bad_used = 0, bad_check = 0, bad_data = 0, bad_endpoints = 0, refs = 0,
	     chunks = 0;
	uint64_t kept_max = 0;
	int reported = 0;
	zcp_chunk *mine[SURVIVOR_CHUNKS];

	for (int i = 0; i < SURVIVOR_CHUNKS; i++) {
		mine[i] = zcp_chunk_get(m, sizes[i % 3]);
		memset(zcp_chunk_data(mine[i]), 'S', 100);
	}
	for (long round = 0; round < rounds; round++) {
		pid_t pids[CHILDREN];
		for (int c = 0; c < CHILDREN; c++) {
			uint64_t s = xorshift(&seed);
			pids[c] = zt_fork();
			if (pids[c] == 0)
				traffic(name, s | 1);
		}
		/* Let them run into the thick of it, then kill at random
		 * (later under an emulator, which is slower to get there). */
		sleep_us((200 + (long)(xorshift(&seed) % 3000)) * zt_slowdown());
		for (int c = 0; c < CHILDREN; c++) {
			sleep_us((long)(xorshift(&seed) % 300) * zt_slowdown());
			kill(pids[c], SIGKILL);
		}
		for (int c = 0; c < CHILDREN; c++) {
			int st;
			zt_wait(pids[c], &st);
		}
		/* Children killed before they attached have no slot: count
		 * the dead slots reclaim must free. */
		uint64_t dead = 0;
		for (int i = 0; i < zcp_mempool_manager_process_slots(m); i++) {
			zcp_process_info pi;
			if (zcp_mempool_manager_process(m, i, &pi) == 0 && pi.pid && !pi.alive)
				dead++;
		}
		zcp_reclaim_report rep;
		if (zcp_mempool_manager_reclaim(m, &rep) != 0 || rep.processes != dead ||
		    dead > CHILDREN)
			bad_reclaim++;
		refs += (long)rep.references;
		chunks += (long)rep.chunks;
		uint64_t used = 0, kept = 0;
		for (int p = 0; p < 3; p++) {
			zcp_pool_stats s;
			zcp_mempool_manager_pool_stats(m, p, &s);
			used += s.used;
		}
		/* What topic rings keep: the history of publishers that died
		 * (nobody alive is left to read the rest). */
		for (int t = 0; t < zcp_topic_slots(m); t++) {
			zcp_topic_info ti;
			if (zcp_topic_get_info(m, t, &ti) != 0)
				continue;
			kept += ti.kept;
			bad_endpoints += ti.publishers + ti.subscribers != 0;
		}
		if (kept > kept_max)
			kept_max = kept;
		bad_used += used != SURVIVOR_CHUNKS + kept;
		bad_check += zcp_mempool_manager_check(m) != 0;
		for (int i = 0; i < SURVIVOR_CHUNKS; i++) {
			const unsigned char *d = zcp_chunk_data(mine[i]);
			for (int k = 0; k < 100; k++)
				bad_data += d[k] != 'S';
		}
		for (int i = 0; i < MAILBOX; i++)
			atomic_store(&mb->handle[i], 0);
		if (bad_reclaim + bad_used + bad_check + bad_data + bad_endpoints && reported == 0)
			dump_held(m, mine, SURVIVOR_CHUNKS);
		if (bad_reclaim + bad_used + bad_check + bad_data + bad_endpoints && ++reported <= 3)
			diag("round %ld: reclaim %ld used %llu kept %llu check %ld data %ld", round,
			     bad_reclaim, (unsigned long long)used, (unsigned long long)kept, bad_check,
			     bad_data);
	}
	diag("%ld rounds, %ld operations, %ld references and %ld chunks reclaimed", rounds,
	     atomic_load(&mb->traffic), refs, chunks);
	is_int(bad_reclaim, 0, "kill loop: every round's reclaim freed exactly the dead processes' slots");
	diag("%ld samples published, %ld taken, at most %llu kept by rings after a reclaim",
	     atomic_load(&mb->published), atomic_load(&mb->taken), (unsigned long long)kept_max);
	/* A process killed inside an eviction under the topics lock leaves a
	 * half-emptied slot; the next sweep gives back what it names. */
	is_int(bad_used, 0, "kill loop: after each reclaim in use == the survivor's chunks + kept by rings");
	is_int(bad_endpoints, 0, "kill loop: after each reclaim no publisher or subscriber of the dead is open");
	is_int(bad_check, 0, "kill loop: every chunk on its free list exactly once, every round");
	is_int(bad_data, 0, "kill loop: the survivor's data was never overwritten");
	ok(chunks > 0, "kill loop: reclaim did return chunks (%ld)", chunks);
	if (zt_emulator() && (atomic_load(&mb->published) == 0 || atomic_load(&mb->taken) == 0))
		/* Under qemu-user a child rarely gets past opening its
		 * endpoints within the kill window: no progress to check. */
		skip("under an emulator the children were killed before they published and took");
	else
		ok(atomic_load(&mb->published) > 0 && atomic_load(&mb->taken) > 0,
		   "kill loop: the children did publish and take");
	zcp_mempool_manager_destroy(m);
}

static pid_t holder(const char *name, int stop)
{
	pid_t pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *m;
		ZT_CHECK(zcp_mempool_manager_attach(name, &m) == 0);
		for (int i = 0; i < 3; i++)
			zcp_chunk_get(m, 100);
		if (stop)
			raise(SIGSTOP);
		_exit(0); /* dies attached, without detaching */
	}
	return pid;
}

static uint64_t used(zcp_mempool_manager *m)
{
	zcp_pool_stats s;
	zcp_mempool_manager_pool_stats(m, 0, &s);
	return s.used;
}

static void liveness(void)
{
	const char *name = zt_name();
	zcp_mempool_manager *m = make(name);
	zcp_reclaim_report rep;
	int st;

	/* Stopped: alive. */
	pid_t pid = holder(name, 1);
	waitpid(pid, &st, WUNTRACED);
	ok(WIFSTOPPED(st), "holder stopped itself");
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 0 && used(m) == 3,
	   "a SIGSTOPped holder keeps its chunks");
	kill(pid, SIGKILL);
	zt_wait(pid, &st);
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1 && used(m) == 0,
	   "once killed, its chunks are reclaimed");

	/* Zombie: dead. */
	pid = holder(name, 0);
	for (int i = 0; i < 200 && used(m) != 3; i++)
		sleep_us(5000);
	/* Let it exit; do not reap: a zombie.  WNOWAIT waits for the exit
	 * itself (a fixed sleep was too short on a loaded machine). */
	siginfo_t si;
	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) != 0 && errno == EINTR)
		;
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1 && used(m) == 0,
	   "a zombie holder is dead: its chunks are reclaimed");
	zt_wait(pid, &st);

	/* A child outliving its dead parent does not keep the parent alive. */
	int gate[2];
	if (pipe(gate))
		bail("pipe");
	pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		ZT_CHECK(zcp_mempool_manager_attach(name, &cm) == 0);
		zcp_chunk_get(cm, 100);
		if (fork() == 0) { /* inherits the mapping and descriptors */
			char c;
			close(gate[1]);
			(void)!read(gate[0], &c, 1);
			_exit(0);
		}
		_exit(0);
	}
	zt_wait(pid, &st);
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1 && used(m) == 0,
	   "a dead process whose child lives on is dead");
	close(gate[0]);
	close(gate[1]);

	/* A reused pid: the slot names a live pid with another start time. */
	pid = holder(name, 0);
	zt_wait(pid, &st);
	zcp_mempool_layout lay;
	zcp_mempool_manager_get_layout(m, &lay);
	char path[128];
	snprintf(path, sizeof path, "/dev/shm/zerocp_%s_mgmt", name);
	FILE *f = fopen(path, "r+b");
	int poked = 0;
	if (f) {
		struct zcp__header h;
		if (fread(&h, sizeof h, 1, f) == 1) {
			for (uint32_t i = 0; i < h.max_processes; i++) {
				struct zcp__proc p;
				long off = (long)(h.procs_off + i * h.proc_size);
				fseek(f, off, SEEK_SET);
				if (fread(&p, sizeof p, 1, f) != 1)
					break;
				/* The slot that names the dead holder's pid: make
				 * it name ours, a live pid.  Liveness is the slot's
				 * lock, not its pid, so it stays dead. */
				if (zcp__sid_occupied(atomic_load(&p.id)) &&
				    (pid_t)atomic_load(&p.pid) == pid) {
					int64_t live = getpid();
					fseek(f, off + (long)offsetof(struct zcp__proc, pid), SEEK_SET);
					fwrite(&live, sizeof live, 1, f);
					poked = 1;
				}
			}
		}
		fclose(f);
	}
	ok(poked, "dead holder's slot rewritten to name our (live) pid");
	ok(zcp_mempool_manager_reclaim(m, &rep) == 0 && rep.processes == 1 && used(m) == 0,
	   "a reused pid does not make the dead holder look alive");
	zcp_mempool_manager_destroy(m);

	/* The creator dies: attach still works and reports it. */
	name = zt_name();
	int ready[2];
	if (pipe(ready))
		bail("pipe");
	pid = zt_fork();
	if (pid == 0) {
		zcp_mempool_manager *cm;
		zcp_mempool_config *cfg = zcp_mempool_config_new();
		zcp_mempool_config_add_entry(cfg, 128, 4);
		ZT_CHECK(zcp_mempool_manager_create(name, cfg, &cm) == 0);
		(void)!write(ready[1], "r", 1);
		pause();
		_exit(0);
	}
	char c;
	ok(read(ready[0], &c, 1) == 1, "a server created a manager");
	kill(pid, SIGKILL);
	zt_wait(pid, &st);
	zcp_mempool_manager *a = NULL;
	is_int(zcp_mempool_manager_attach(name, &a), 0, "attach after the server was SIGKILLed");
	is_int(zcp_mempool_manager_creator_alive(a), 0, "the creator is reported dead");
	ok(zcp_mempool_manager_reclaim(a, &rep) == 0 && rep.processes == 1,
	   "the dead server's slot is reclaimed");
	zcp_mempool_manager_detach(a);
	is_int(zcp_mempool_manager_unlink(name), 0, "the dead server's segments can be removed");
	close(ready[0]);
	close(ready[1]);
}

int main(void)
{
	plan_lazy();
	mb = mmap(NULL, sizeof *mb, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mb == MAP_FAILED)
		bail("mmap");
	kill_loop();
	liveness();
	zt_done();
	return done_testing();
}
