/* SPDX-License-Identifier: MIT */
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

/* zcp_tool_check_env_name - when name (the --name value) is NULL, check
 * $ZEROCP_NAME, which then names the manager, by the same rules, so that
 * a bad value is a usage error that says where it came from.  Returns 0
 * or -1 after printing a diagnostic. */
int zcp_tool_check_env_name(const char *cmd, const char *name);

/* zcp_tool_q - s quoted for a message: in single quotes, printable ASCII
 * as is, a quote or backslash escaped, anything else (control characters,
 * terminal escape sequences, bytes >= 0x80) as \xNN, long strings cut
 * with "...".  So a hostile name or path echoed back cannot act on the
 * terminal.  The result is in one of 8 static buffers used in turn: valid
 * for the next 7 calls, enough for one message.  NULL gives "(null)". */
const char *zcp_tool_q(const char *s);

/* zcp_tool_esc - s escaped as zcp_tool_q() does, without the quotes: for
 * a name or path printed where a script may read it (a plain one comes
 * out unchanged).  The same static buffers. */
const char *zcp_tool_esc(const char *s);

/* zcp_tool_utf8 - the length (1 to 4) of the valid UTF-8 sequence that
 * starts at s (n bytes left), its code point in *cp; 0 if the bytes there
 * are not one (a stray continuation byte, an overlong form, a surrogate,
 * beyond U+10FFFF, cut short). */
unsigned zcp_tool_utf8(const unsigned char *s, size_t n, unsigned long *cp);

/* zcp_tool_name - the name the library will use for `name`: name itself,
 * else $ZEROCP_NAME when set and not empty, else "default" (the rule of
 * <zerocp/pool.h>).  For messages printed before a manager handle exists. */
const char *zcp_tool_name(const char *name);

/* zcp_tool_json_string - print s to stdout as a JSON string: quotes,
 * backslashes and control characters escaped, valid UTF-8 as is, and
 * each byte that is not UTF-8 as U+FFFD (a type name is any bytes; a
 * scribbled name can be anything: the output must stay JSON, which is
 * UTF-8). */
void zcp_tool_json_string(const char *s);

/* zcp_tool_help_requested - whether argv[1..argc-1] holds -h or --help,
 * which every subcommand answers with its usage on stdout and exit 0. */
int zcp_tool_help_requested(int argc, char **argv);

/* zcp_tool_parse_owner - parse an --owner value: a uid (decimal), a user
 * name, or "any" (no owner check, ZCP_OWNER_ANY).  Returns 0 and *owner,
 * or -1 after printing a diagnostic naming the option. */
int zcp_tool_parse_owner(const char *cmd, const char *v, long *owner);

/* What a subcommand attaches to: a manager by name, or through the broker
 * at a socket path; the uid that must own it; read-only or as a process. */
struct zcp_tool_target {
	const char *name;   /* --name; NULL: the library default */
	const char *socket; /* --socket PATH; NULL: attach by name */
	long owner;         /* --owner: ZCP_OWNER_SELF (default), ZCP_OWNER_ANY, a uid */
	int read_only;      /* 1: take no process slot (inspection, cleaning) */
	int quiet;          /* 1: no note when read-only is not available */
};

/* zcp_tool_attach - attach to t through zcp_mempool_manager_attach_opts().
 *
 * A library without read-only attach or attach through options answers
 * ZCP_ENOSYS; then the plain calls are used instead, so that the command
 * works with either: a read-only request becomes an attach that takes a
 * process slot, with a note on stderr, and *read_only is 0; a socket
 * attach can then check only for our own uid (another --owner stays
 * ZCP_ENOSYS).  *read_only (may be NULL) says
 * what was obtained.  Returns 0 and *out, or the library's error (print it
 * with zcp_tool_attach_error()).
 */
int zcp_tool_attach(const char *cmd, const struct zcp_tool_target *t, zcp_mempool_manager **out,
		    int *read_only);

/* zcp_tool_attach_error - print why attaching to t failed with err: for
 * ZCP_EOWNER, which file (a segment in /dev/shm, the socket or its
 * directory) belongs to which uid, or that the broker runs as another
 * uid, against the uid expected. */
void zcp_tool_attach_error(const char *cmd, const struct zcp_tool_target *t, int err);

/* zcp_tool_expected_uid - the uid an owner value stands for: the
 * effective uid for ZCP_OWNER_SELF, owner itself for a uid, -1 for
 * ZCP_OWNER_ANY. */
long zcp_tool_expected_uid(long owner);

/* zcp_tool_uid_str - "uid N (user)" or "uid N" for messages; the result
 * is in one of 4 static buffers used in turn. */
const char *zcp_tool_uid_str(long uid);

/* zcp_tool_explain_owner - print why `path` is refused as belonging to
 * another user than `expected` (a uid, or -1: anyone): its owner, or its
 * mode when it is writable by others.  `what` names it ("the socket
 * directory", "the segment").  Returns 1 when something was printed, 0
 * when path looks right (or cannot be examined). */
int zcp_tool_explain_owner(const char *cmd, const char *what, const char *path, long expected,
			   int dir);

/* The subcommands.  Each gets argv[0] == its own name and the options
 * after it, and returns the process exit code. */
int zcp_tool_serve(int argc, char **argv);
int zcp_tool_stat(int argc, char **argv);
int zcp_tool_demo(int argc, char **argv);
int zcp_tool_clean(int argc, char **argv);
int zcp_tool_list(int argc, char **argv);
int zcp_tool_top(int argc, char **argv);

/* zcp_tool_bench - "zerocp bench", implemented in tools/bench*.c and built
 * only when tools/bench.mk adds -DZCP_HAVE_BENCH (ZCP_BENCH_CPPFLAGS); the
 * dispatcher in tools/zerocp.c guards the call.  Same conventions as the
 * other subcommands. */
int zcp_tool_bench(int argc, char **argv);

#endif /* ZEROCP_TOOLS_TOOL_H */
