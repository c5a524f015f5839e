/* SPDX-License-Identifier: MIT */
/* tools/cmd_clean.c - "zerocp clean": remove leftover segments.
 *
 * The seed's remedy for a crashed server is "rm -f /dev/shm/zerocp_*";
 * this does the same through the library, for one manager or, with --all,
 * for every manager segment found in /dev/shm.  Processes still attached
 * keep their mappings; only the names go.  Removing nothing is not an
 * error: the goal, no segment of that name, holds.
 *
 * With --name, the manager is first attached read-only (no process slot
 * taken, nothing written) to see who uses it: while a live process is
 * attached (its server, say) clean refuses and lists them, unless
 * --force.  Then it removes exactly the segments it looked at
 * (zcp_mempool_manager_remove()), never a manager created since under the
 * same name.  Segments that are not a usable manager (a server that died
 * initialising them, foreign or corrupt ones) are removed by name.
 *
 * The manager's event-loop FIFOs (zcp_waitset_fd(): SHM_DIR/zerocp_N.fd.*)
 * go with it, by the library's rule (zcp_mempool_manager_remove() and
 * _unlink()): those of processes gone, and any of the name pattern that
 * nobody holds open and that are at least 2 s old; a live listener's FIFO
 * stays (even with --force) until it leaves, and a later clean removes it
 * once nobody holds it.  Nothing but a FIFO of that exact pattern is
 * removed.
 */
#include "tool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where the shm backend's objects appear as files (Linux). */
#define SHM_DIR "/dev/shm"
#define SHM_PREFIX "zerocp_"

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s clean [--name N] [--owner UID] [--force] [--all] [--dry-run]\n"
		"\n"
		"Remove the shared-memory segments of manager N (zerocp_N_mgmt and\n"
		"zerocp_N_data) and its unused event-loop FIFOs (zerocp_N.fd.*: those\n"
		"nobody holds open, 2 s old or more), or with --all every zerocp_*_mgmt\n"
		"and zerocp_*_data in " SHM_DIR ", live servers' included (and every\n"
		"unused zerocp_*.fd.* FIFO).  --dry-run takes the same decisions (and\n"
		"refuses as clean would) but only lists what would go.\n"
		"  --force      remove N's segments even while live processes are\n"
		"               attached (they keep their mappings), or while its\n"
		"               server is still creating it, or when another user owns them\n"
		"  --owner UID  the user (uid or name) that must own N's segments\n"
		"               (default: ours; 'any': whoever)\n"
		"Without --force, clean refuses (exit 1) while a live process is attached\n"
		"to N, and lists them.  Exit 0 when nothing is left (removed, or nothing\n"
		"existed), 1 on error or refusal.\n",
		zcp_tool_progname);
}

/* Whether `file` (an entry of SHM_DIR) is a manager segment, i.e.
 * "zerocp_" + something + "_mgmt" or "_data". */
static int is_manager_segment(const char *file)
{
	size_t n = strlen(file), p = strlen(SHM_PREFIX);

	if (n <= p + 5 || strncmp(file, SHM_PREFIX, p) != 0)
		return 0;
	return strcmp(file + n - 5, "_mgmt") == 0 || strcmp(file + n - 5, "_data") == 0;
}

/* Whether `file` is one of manager `name`'s FIFO names,
 * "zerocp_<name>.fd.<slot>.<16 hex digits>" (the library checks the
 * exact pattern again before it removes one). */
static int is_fifo_of(const char *file, const char *name)
{
	size_t p = strlen(SHM_PREFIX), n = strlen(name), len = strlen(file);
	const char *c;

	if (strncmp(file, SHM_PREFIX, p) != 0 || strncmp(file + p, name, n) != 0 ||
	    strncmp(file + p + n, ".fd.", 4) != 0)
		return 0;
	c = file + p + n + 4;
	if (*c < '0' || *c > '9')
		return 0;
	while (*c >= '0' && *c <= '9')
		c++;
	return *c == '.' && strlen(c + 1) == 16 && len == (size_t)(c + 17 - file) &&
	       strspn(c + 1, "0123456789abcdef") == 16;
}

/* If `file` is a FIFO name of some manager, its manager's name in buf
 * (the last ".fd." that makes it one), else NULL. */
static const char *fifo_manager(const char *file, char *buf, size_t size)
{
	size_t p = strlen(SHM_PREFIX);
	const char *c = file + p, *at = NULL;

	if (strncmp(file, SHM_PREFIX, p) != 0)
		return NULL;
	while ((c = strstr(c, ".fd.")) != NULL)
		at = c++;
	if (at == NULL || (size_t)(at - file) - p >= size || at == file + p)
		return NULL;
	memcpy(buf, file + p, (size_t)(at - file) - p);
	buf[(size_t)(at - file) - p] = 0;
	return is_fifo_of(file, buf) ? buf : NULL;
}

/* --all: every manager segment in SHM_DIR, each removed by its segment
 * name, so that names the manager functions would reject (too long for a
 * manager) still go. */
static int clean_all(int dry_run)
{
	DIR *d = opendir(SHM_DIR);
	struct dirent *e;
	int removed = 0, failed = 0;

	if (d == NULL) {
		zcp_tool_err("clean", "cannot scan %s: %s", SHM_DIR, strerror(errno));
		return ZCP_TOOL_FAIL;
	}
	while ((e = readdir(d)) != NULL) {
		const char *seg = e->d_name + strlen(SHM_PREFIX);
		int err;

		char mgr[ZCP_MANAGER_NAME_MAX + 1];
		struct stat st;

		if (fifo_manager(e->d_name, mgr, sizeof mgr) != NULL &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISFIFO(st.st_mode)) {
			/* An event-loop FIFO: by the library's rule (only
			 * one nobody holds open, 2 s old or more). */
			if (dry_run) {
				printf("would remove %s/%s (if nobody holds it open)\n", SHM_DIR,
				       zcp_tool_esc(e->d_name));
				removed++;
			} else if (zcp_mempool_manager_unlink(mgr) != ZCP_EINVAL &&
				   fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
				printf("removed %s/%s\n", SHM_DIR, zcp_tool_esc(e->d_name));
				removed++;
			}
			continue;
		}
		if (!is_manager_segment(e->d_name))
			continue;
		if (dry_run) {
			printf("would remove %s/%s\n", SHM_DIR, zcp_tool_esc(e->d_name));
			removed++;
			continue;
		}
		err = zcp_segment_unlink(seg);
		if (err == 0) {
			printf("removed %s/%s\n", SHM_DIR, zcp_tool_esc(e->d_name));
			removed++;
		} else if (err != ZCP_ENOENT) { /* ENOENT: someone else was faster */
			zcp_tool_err("clean", "cannot remove %s/%s: %s", SHM_DIR,
				     zcp_tool_esc(e->d_name), zcp_strerror(err));
			failed++;
		}
	}
	closedir(d);
	if (removed == 0 && failed == 0)
		printf("no zerocp manager segments in %s\n", SHM_DIR);
	return failed ? ZCP_TOOL_FAIL : ZCP_TOOL_OK;
}

/* --dry-run --name: list the manager's segment files that exist (Linux's
 * view of the shm backend; elsewhere nothing is found), and its FIFOs. */
static int dry_run_one(const char *name)
{
	static const char *const sfx[] = {"_mgmt", "_data"};
	char path[sizeof SHM_DIR + sizeof SHM_PREFIX + ZCP_MANAGER_NAME_MAX + 40];
	int found = 0;
	DIR *d;

	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof path, "%s/%s%s%s", SHM_DIR, SHM_PREFIX, name, sfx[k]);
		if (access(path, F_OK) == 0) {
			printf("would remove %s\n", zcp_tool_esc(path));
			found++;
		}
	}
	if ((d = opendir(SHM_DIR)) != NULL) {
		struct dirent *e;
		struct stat st;
		while ((e = readdir(d)) != NULL) {
			if (!is_fifo_of(e->d_name, name))
				continue;
			if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISFIFO(st.st_mode)) {
				printf("would remove %s/%s (if nobody holds it open)\n", SHM_DIR,
				       zcp_tool_esc(e->d_name));
				found++;
			}
		}
		closedir(d);
	}
	if (!found)
		printf("no segments of manager %s to remove\n", zcp_tool_q(name));
	return ZCP_TOOL_OK;
}

/* Remove by name whatever segments of `name` exist (leftovers no handle
 * could be had on); `why` says what they were. */
static int unlink_by_name(const char *name, const char *why)
{
	int err = zcp_mempool_manager_unlink(name);

	if (err == 0) {
		printf("removed the segments of manager %s (%s)\n", zcp_tool_q(name), why);
		return ZCP_TOOL_OK;
	}
	if (err == ZCP_ENOENT) {
		printf("no segments of manager %s to remove\n", zcp_tool_q(name));
		return ZCP_TOOL_OK;
	}
	zcp_tool_err("clean", "cannot remove the segments of manager %s: %s", zcp_tool_q(name),
		     zcp_strerror(err));
	return ZCP_TOOL_FAIL;
}

/* Remove what is left of `name` by name, or with --dry-run say what
 * would go. */
static int remove_named(const char *name, const char *why, int dry_run)
{
	return dry_run ? dry_run_one(name) : unlink_by_name(name, why);
}

/* --name: look (read-only) before removing; see the top of the file.
 * --dry-run takes the same decisions, refusals included, and only says
 * what would be removed. */
static int clean_one(const struct zcp_tool_target *t, int force, int dry_run)
{
	const char *name = zcp_tool_name(t->name);
	zcp_mempool_manager *m;
	char list[ZCP_MAX_PROCESSES * 40] = "";
	size_t len = 0;
	int live = 0, slots, err;

	err = zcp_tool_attach("clean", t, &m, NULL);
	switch (err) {
	case 0:
		break;
	case ZCP_ENOENT:
		/* No manager; a lone data segment may still be there. */
		return remove_named(name, "a lone segment, or unused FIFOs", dry_run);
	case ZCP_ESRCH:
		return remove_named(name, "its creator died while initialising it", dry_run);
	case ZCP_EFOREIGN:
	case ZCP_ECORRUPT:
	case ZCP_EVERSION:
	case ZCP_ETRUNCATED:
		return remove_named(name, zcp_strerror(err), dry_run);
	case ZCP_EAGAIN:
		if (force)
			return remove_named(name, "forced while its server was creating it", dry_run);
		zcp_tool_err("clean",
			     "a server is creating manager %s right now; not removing it "
			     "(--force to remove it anyway)",
			     zcp_tool_q(name));
		return ZCP_TOOL_FAIL;
	default:
		if (force)
			return remove_named(name, "forced", dry_run);
		zcp_tool_attach_error("clean", t, err);
		zcp_tool_err("clean", "not removing the segments of manager %s%s",
			     zcp_tool_q(name), err == ZCP_EOWNER ? " (--force to remove them anyway)"
							     : "");
		return ZCP_TOOL_FAIL;
	}

	slots = zcp_mempool_manager_process_slots(m);
	for (int s = 0; s < slots; s++) {
		zcp_process_info pi;
		if (zcp_mempool_manager_process(m, s, &pi) != 0 || pi.pid == 0 || !pi.alive ||
		    pi.self)
			continue;
		live++;
		if (len < sizeof list)
			len += (size_t)snprintf(list + len, sizeof list - len, "%s slot %d: pid %lld",
						live > 1 ? ";" : "", s, (long long)pi.pid);
	}
	if (live > 0 && !force) {
		zcp_tool_err("clean",
			     "manager %s is in use by %d live process(es):%s; not removing it "
			     "(stop them, or use --force)",
			     zcp_tool_q(name), live, list);
		zcp_mempool_manager_detach(m);
		return ZCP_TOOL_FAIL;
	}
	if (dry_run) {
		zcp_mempool_manager_detach(m);
		if (live > 0)
			printf("forced: %d live process(es) attached:%s\n", live, list);
		return dry_run_one(name);
	}
	/* Exactly the segments looked at: not a manager created since. */
	err = zcp_mempool_manager_remove(m);
	zcp_mempool_manager_detach(m);
	if (err != 0) {
		zcp_tool_err("clean", "cannot remove the segments of manager %s: %s",
			     zcp_tool_q(name), zcp_strerror(err));
		return ZCP_TOOL_FAIL;
	}
	if (live > 0)
		printf("removed the segments of manager %s, forced: still attached (they keep "
		       "their mappings):%s\n",
		       zcp_tool_q(name), list);
	else
		printf("removed the segments of manager %s\n", zcp_tool_q(name));
	return ZCP_TOOL_OK;
}

/* Entry point of "zerocp clean". */
int zcp_tool_clean(int argc, char **argv)
{
	struct zcp_tool_target t = {NULL, NULL, ZCP_OWNER_SELF, 1, 0};
	int all = 0, dry_run = 0, force = 0, owner_given = 0;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if ((r = zcp_tool_opt("clean", argc, argv, &i, "--name", &v)) != 0) {
			if (r < 0 || zcp_tool_check_name("clean", v) != 0)
				return ZCP_TOOL_USAGE;
			t.name = v;
		} else if ((r = zcp_tool_opt("clean", argc, argv, &i, "--owner", &v)) != 0) {
			if (r < 0 || zcp_tool_parse_owner("clean", v, &t.owner) != 0)
				return ZCP_TOOL_USAGE;
			owner_given = 1;
		} else if (strcmp(argv[i], "--all") == 0) {
			all = 1;
		} else if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0) {
			force = 1;
		} else if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "-n") == 0) {
			dry_run = 1;
		} else {
			zcp_tool_err("clean", "unknown option %s", zcp_tool_q(argv[i]));
			usage(stderr);
			return ZCP_TOOL_USAGE;
		}
	}
	if (all && (t.name != NULL || owner_given)) {
		zcp_tool_err("clean", "--all excludes --name and --owner");
		return ZCP_TOOL_USAGE;
	}
	if (all)
		return clean_all(dry_run);
	if (zcp_tool_check_env_name("clean", t.name) != 0)
		return ZCP_TOOL_USAGE;
	return clean_one(&t, force, dry_run);
}
