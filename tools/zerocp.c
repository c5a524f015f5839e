/* tools/zerocp.c - the zerocp command: subcommand dispatch, and the small
 * parsing helpers every subcommand shares (declared in tools/tool.h).
 *
 * One binary with subcommands (like git or ip) rather than one program per
 * seed role, so that the server, the client and the housekeeping share one
 * option syntax and are found at one path by scripts.
 */
#include "tool.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *zcp_tool_progname = "zerocp";

/* The top-level usage, printed for --help (stdout) and usage errors
 * (stderr). */
static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: %s COMMAND [OPTIONS]\n"
		"       %s --help | --version\n"
		"\n"
		"Commands:\n"
		"  serve   create a memory-pool manager and keep it until SIGINT/SIGTERM\n"
		"  stat    print the pools and the attached processes of a manager\n"
		"  demo    run the seed's client steps against a running server\n"
		"  clean   remove a manager's shared-memory segments\n"
		"  bench   measure chunk throughput (when built)\n"
		"\n"
		"'%s COMMAND --help' describes a command's options.  Without --name a\n"
		"command uses $ZEROCP_NAME, else \"default\".  Exit status: 0 success,\n"
		"1 failure, 2 usage error.\n",
		zcp_tool_progname, zcp_tool_progname, zcp_tool_progname);
}

/* Dispatch "zerocp bench", which exists only when the benchmark was built
 * into this binary; otherwise say so and fail as a usage error. */
static int run_bench(int argc, char **argv)
{
#ifdef ZCP_HAVE_BENCH
	return zcp_tool_bench(argc, argv);
#else
	(void)argc;
	(void)argv;
	zcp_tool_err("bench", "bench not built");
	return ZCP_TOOL_USAGE;
#endif
}

/* Entry point: route argv[1] to its subcommand, which sees argv[1] as its
 * own argv[0]. */
int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"serve", zcp_tool_serve}, {"stat", zcp_tool_stat}, {"demo", zcp_tool_demo},
		{"clean", zcp_tool_clean}, {"bench", run_bench},
	};

	if (argc < 2) {
		usage(stderr);
		return ZCP_TOOL_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return ZCP_TOOL_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		/* The library's run-time version: what the binary really uses. */
		printf("%s %s\n", zcp_tool_progname, zcp_version_string());
		return ZCP_TOOL_OK;
	}
	for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
		if (strcmp(argv[1], cmds[k].name) == 0)
			return cmds[k].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", zcp_tool_progname, argv[1]);
	usage(stderr);
	return ZCP_TOOL_USAGE;
}

/* ------------------------------------------------------------------ */
/* Helpers shared by the subcommands (see tools/tool.h).               */
/* ------------------------------------------------------------------ */

void zcp_tool_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout); /* keep stdout and stderr in order in a shared log */
	fprintf(stderr, "%s: %s: ", zcp_tool_progname, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int zcp_tool_opt(const char *cmd, int argc, char **argv, int *i, const char *opt,
		 const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(opt);

	if (strncmp(a, opt, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0; /* a longer option sharing the prefix */
	if (*i + 1 >= argc) {
		zcp_tool_err(cmd, "option %s needs a value", opt);
		return -1;
	}
	*i += 1;
	*val = argv[*i];
	return 1;
}

int zcp_tool_parse_uint(const char *s, unsigned long min, unsigned long max,
			unsigned long *out)
{
	char *end;
	unsigned long v;

	/* strtoul() accepts a sign and leading blanks; a count must not. */
	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int zcp_tool_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (s == NULL || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	switch (*p) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = UINT64_C(1) << 10;
		p++;
		break;
	case 'm':
	case 'M':
		mult = UINT64_C(1) << 20;
		p++;
		break;
	case 'g':
	case 'G':
		mult = UINT64_C(1) << 30;
		p++;
		break;
	default:
		return -1;
	}
	if (*p != '\0' || v == 0 || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

int zcp_tool_parse_pool(const char *s, uint64_t *size, uint32_t *count)
{
	char buf[64];
	const char *x;
	unsigned long c;
	size_t n;

	if (s == NULL)
		return -1;
	x = strpbrk(s, "xX");
	if (x == NULL || (n = (size_t)(x - s)) == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (zcp_tool_parse_size(buf, size) != 0)
		return -1;
	if (zcp_tool_parse_uint(x + 1, 1, UINT32_MAX, &c) != 0)
		return -1;
	*count = (uint32_t)c;
	return 0;
}

int zcp_tool_check_name(const char *cmd, const char *name)
{
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			break;
	}
	if (name[0] == '\0' || name[0] == '.' || name[i] != '\0' || i > ZCP_MANAGER_NAME_MAX) {
		zcp_tool_err(cmd,
			     "invalid --name '%s': use 1 to %d characters of [A-Za-z0-9._-], "
			     "not starting with '.'",
			     name, ZCP_MANAGER_NAME_MAX);
		return -1;
	}
	return 0;
}

const char *zcp_tool_name(const char *name)
{
	const char *env;

	if (name != NULL)
		return name;
	env = getenv("ZEROCP_NAME");
	return env != NULL && *env != '\0' ? env : "default";
}

void zcp_tool_json_string(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int zcp_tool_help_requested(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}
