/* tools/cmd_clean.c - "zerocp clean": remove leftover segments.
 *
 * The seed's remedy for a crashed server is "rm -f /dev/shm/zerocp_*";
 * this does the same through the library (zcp_mempool_manager_unlink(),
 * zcp_segment_unlink()), for one manager or, with --all, for every
 * manager segment found in /dev/shm.  Processes still attached keep their
 * mappings; only the names go.  Removing nothing is not an error: the
 * goal, no segment of that name, holds.
 */
#include "tool.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Where the shm backend's objects appear as files (Linux). */
#define SHM_DIR "/dev/shm"
#define SHM_PREFIX "zerocp_"

/* Why: the documented option list, shown by --help and on usage errors. */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s clean [--name N] [--all] [--dry-run]\n"
		"\n"
		"Remove the shared-memory segments of manager N (zerocp_N_mgmt and\n"
		"zerocp_N_data), or with --all every zerocp_*_mgmt and zerocp_*_data\n"
		"in " SHM_DIR ", live servers' included.  --dry-run only lists them.\n"
		"Exit 0 when nothing is left (removed, or nothing existed), 1 on error.\n",
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

		if (!is_manager_segment(e->d_name))
			continue;
		if (dry_run) {
			printf("would remove %s/%s\n", SHM_DIR, e->d_name);
			removed++;
			continue;
		}
		err = zcp_segment_unlink(seg);
		if (err == 0) {
			printf("removed %s/%s\n", SHM_DIR, e->d_name);
			removed++;
		} else if (err != ZCP_ENOENT) { /* ENOENT: someone else was faster */
			zcp_tool_err("clean", "cannot remove %s/%s: %s", SHM_DIR, e->d_name,
				     zcp_strerror(err));
			failed++;
		}
	}
	closedir(d);
	if (removed == 0 && failed == 0)
		printf("no zerocp manager segments in %s\n", SHM_DIR);
	return failed ? ZCP_TOOL_FAIL : ZCP_TOOL_OK;
}

/* --dry-run --name: list the manager's segment files that exist (Linux's
 * view of the shm backend; elsewhere nothing is found). */
static int dry_run_one(const char *name)
{
	static const char *const sfx[] = {"_mgmt", "_data"};
	char path[sizeof SHM_DIR + sizeof SHM_PREFIX + ZCP_MANAGER_NAME_MAX + 8];
	int found = 0;

	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof path, "%s/%s%s%s", SHM_DIR, SHM_PREFIX, name, sfx[k]);
		if (access(path, F_OK) == 0) {
			printf("would remove %s\n", path);
			found++;
		}
	}
	if (!found)
		printf("no segments of manager '%s' to remove\n", name);
	return ZCP_TOOL_OK;
}

/* Entry point of "zerocp clean". */
int zcp_tool_clean(int argc, char **argv)
{
	const char *name = NULL;
	int all = 0, dry_run = 0, err;

	if (zcp_tool_help_requested(argc, argv)) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r = zcp_tool_opt("clean", argc, argv, &i, "--name", &v);
		if (r < 0)
			return ZCP_TOOL_USAGE;
		if (r > 0) {
			if (zcp_tool_check_name("clean", v) != 0)
				return ZCP_TOOL_USAGE;
			name = v;
		} else if (strcmp(argv[i], "--all") == 0) {
			all = 1;
		} else if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "-n") == 0) {
			dry_run = 1;
		} else {
			zcp_tool_err("clean", "unknown option '%s'", argv[i]);
			usage(stderr);
			return ZCP_TOOL_USAGE;
		}
	}
	if (all && name != NULL) {
		zcp_tool_err("clean", "--all and --name exclude each other");
		return ZCP_TOOL_USAGE;
	}
	if (all)
		return clean_all(dry_run);
	if (dry_run)
		return dry_run_one(zcp_tool_name(name));
	err = zcp_mempool_manager_unlink(name);
	if (err == 0) {
		printf("removed the segments of manager '%s'\n", zcp_tool_name(name));
		return ZCP_TOOL_OK;
	}
	if (err == ZCP_ENOENT) {
		printf("no segments of manager '%s' to remove\n", zcp_tool_name(name));
		return ZCP_TOOL_OK;
	}
	zcp_tool_err("clean", "cannot remove the segments of manager '%s': %s",
		     zcp_tool_name(name), zcp_strerror(err));
	return ZCP_TOOL_FAIL;
}
