/* tools/tool.h - helpers shared by the subcommands of the zerocp command.
 *
 * The command is a client of the public API only (<zerocp/zerocp.h>): it
 * never includes lib/ headers, so it shows what an application can do.
 * Include this header first in every tools/ source: it selects the POSIX
 * interfaces (sigaction, pselect, nanosleep) before any system header.
 *
 * Exit codes of every subcommand: 0 success, 1 runtime failure (no
 * manager, a failed check, a system error), 2 usage error (unknown
 * subcommand or option, malformed value).
 */
#ifndef ZEROCP_TOOLS_TOOL_H
#define ZEROCP_TOOLS_TOOL_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdint.h>

#include <zerocp/zerocp.h>

/* Exit codes, so that scripts can tell a mistake in the command line from
 * a failure of the system. */
#define ZCP_TOOL_OK 0
#define ZCP_TOOL_FAIL 1
#define ZCP_TOOL_USAGE 2

/* The program name used as prefix of every diagnostic ("zerocp"). */
extern const char *zcp_tool_progname;

/* zcp_tool_err - print "zerocp: <cmd>: <message>\n" to stderr, so that
 * every diagnostic names the subcommand that failed. */
void zcp_tool_err(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* zcp_tool_opt - match argv[*i] against a long option that takes a value,
 * in either form "--opt VALUE" or "--opt=VALUE".
 *
 * Returns 1 and sets *val (advancing *i past a separate value) on a match,
 * 0 when argv[*i] is another option, or -1 after printing a diagnostic
 * when the value is missing.  Subcommands loop over argv with it instead
 * of getopt_long(), which is not POSIX and keeps global state between
 * the parses of nested commands.
 */
int zcp_tool_opt(const char *cmd, int argc, char **argv, int *i, const char *opt,
		 const char **val);

/* zcp_tool_parse_size - parse a byte count: decimal digits with an
 * optional binary suffix K, M or G (either case; 1K = 1024).  Returns 0
 * and *out, or -1 for anything else (empty, sign, junk, overflow, 0). */
int zcp_tool_parse_size(const char *s, uint64_t *out);

/* zcp_tool_parse_uint - parse a decimal integer in [min, max] (the whole
 * string).  Returns 0 and *out, or -1. */
int zcp_tool_parse_uint(const char *s, unsigned long min, unsigned long max,
			unsigned long *out);

/* zcp_tool_parse_pool - parse a pool entry "SIZExCOUNT" ("4Kx20"): a size
 * as zcp_tool_parse_size(), 'x' or 'X', a count from 1 to UINT32_MAX.
 * Returns 0, or -1 for a malformed entry. */
int zcp_tool_parse_pool(const char *s, uint64_t *size, uint32_t *count);

/* zcp_tool_check_name - check a --name value against the library's rules
 * (1 to ZCP_MANAGER_NAME_MAX characters of [A-Za-z0-9._-], no leading
 * '.'), so that a bad name is a usage error (exit 2) named as such rather
 * than an EINVAL from deep inside a call.  Returns 0 or -1 after printing a
 * diagnostic.  NULL (no --name) is valid: the library default. */
int zcp_tool_check_name(const char *cmd, const char *name);

/* zcp_tool_name - the name the library will use for `name`: name itself,
 * else $ZEROCP_NAME when set and not empty, else "default" (the rule of
 * <zerocp/pool.h>).  For messages printed before a manager handle exists. */
const char *zcp_tool_name(const char *name);

/* zcp_tool_json_string - print s to stdout as a JSON string: quotes,
 * backslashes and control characters escaped (names are plain ASCII by
 * the library's rules, but the output must stay JSON whatever they hold). */
void zcp_tool_json_string(const char *s);

/* zcp_tool_help_requested - whether argv[1..argc-1] holds -h or --help,
 * which every subcommand answers with its usage on stdout and exit 0. */
int zcp_tool_help_requested(int argc, char **argv);

/* The subcommands.  Each gets argv[0] == its own name and the options
 * after it, and returns the process exit code. */
int zcp_tool_serve(int argc, char **argv);
int zcp_tool_stat(int argc, char **argv);
int zcp_tool_demo(int argc, char **argv);
int zcp_tool_clean(int argc, char **argv);

/* zcp_tool_bench - "zerocp bench", implemented in tools/bench*.c and built
 * only when tools/bench.mk adds -DZCP_HAVE_BENCH (ZCP_BENCH_CPPFLAGS); the
 * dispatcher in tools/zerocp.c guards the call.  Same conventions as the
 * other subcommands. */
int zcp_tool_bench(int argc, char **argv);

#endif /* ZEROCP_TOOLS_TOOL_H */
