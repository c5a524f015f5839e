/* SPDX-License-Identifier: MIT */
/* tools/tool.c - the small helpers every subcommand shares (declared in
 * tools/tool.h): messages, option and size parsing, name checks. */
/* struct ucred and SO_PEERCRED, to name the uid a broker runs as. */
#define _GNU_SOURCE 1

#include "tool.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

const char *zcp_tool_progname = "zerocp";

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

/* Check `name`, given as `label` (an option or a variable), against the
 * library's rules; -1 after a diagnostic. */
static int check_name_as(const char *cmd, const char *label, const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			break;
	}
	if (name[0] == '\0' || name[0] == '.' || name[i] != '\0' || i > ZCP_MANAGER_NAME_MAX) {
		zcp_tool_err(cmd,
			     "invalid %s %s: use 1 to %d characters of [A-Za-z0-9._-], "
			     "not starting with '.'",
			     label, zcp_tool_q(name), ZCP_MANAGER_NAME_MAX);
		return -1;
	}
	return 0;
}

int zcp_tool_check_name(const char *cmd, const char *name)
{
	return name == NULL ? 0 : check_name_as(cmd, "--name", name);
}

int zcp_tool_check_env_name(const char *cmd, const char *name)
{
	const char *env = getenv("ZEROCP_NAME");

	/* Set but empty means unset, as for the library. */
	if (name != NULL || env == NULL || *env == '\0')
		return 0;
	return check_name_as(cmd, "$ZEROCP_NAME", env);
}

static const char *escaped(const char *s, int quotes)
{
	static char bufs[8][256];
	static unsigned next;
	char *b = bufs[next++ % 8], *p = b;
	/* Room for the longest escape (4), "..." and the closing quote. */
	char *lim = b + sizeof bufs[0] - 9;

	if (s == NULL)
		return "(null)";
	if (quotes)
		*p++ = '\'';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (p >= lim) {
			memcpy(p, "...", 3);
			p += 3;
			break;
		}
		if ((c == '\'' && quotes) || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c >= 0x20 && c < 0x7f) {
			*p++ = (char)c;
		} else {
			p += sprintf(p, "\\x%02x", c);
		}
	}
	if (quotes)
		*p++ = '\'';
	*p = '\0';
	return b;
}

const char *zcp_tool_q(const char *s)
{
	return escaped(s, 1);
}

const char *zcp_tool_esc(const char *s)
{
	return escaped(s, 0);
}

unsigned zcp_tool_utf8(const unsigned char *s, size_t n, unsigned long *cp)
{
	unsigned len;
	unsigned long c, min;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, c = s[0] & 0x1f, min = 0x80;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, c = s[0] & 0x0f, min = 0x800;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, c = s[0] & 0x07, min = 0x10000;
	else
		return 0; /* a continuation byte, 0xc0/0xc1, or 0xf5 and above */
	if (n < len)
		return 0;
	for (unsigned k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
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
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);

	putchar('"');
	while (n > 0) {
		unsigned long cp;
		unsigned len = zcp_tool_utf8(u, n, &cp);
		if (len == 0) {
			fputs("\\ufffd", stdout); /* not UTF-8: the replacement character */
			len = 1;
		} else if (cp == '"' || cp == '\\') {
			printf("\\%c", (int)cp);
		} else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			printf("\\u%04lx", cp); /* C0, DEL and C1: none reaches a terminal */
		} else {
			fwrite(u, 1, len, stdout);
		}
		u += len;
		n -= len;
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

int zcp_tool_parse_owner(const char *cmd, const char *v, long *owner)
{
	unsigned long u;
	struct passwd *pw;

	if (strcmp(v, "any") == 0) {
		*owner = ZCP_OWNER_ANY;
		return 0;
	}
	if (*v == '-' || *v == '+' || (*v >= '0' && *v <= '9')) {
		/* A number: (uid_t)-1 is not a uid. */
		if (zcp_tool_parse_uint(v, 0, 0x7fffffffUL, &u) != 0) {
			zcp_tool_err(cmd, "bad --owner %s: a uid from 0 to 2147483647, a user name, "
					  "or 'any'",
				     zcp_tool_q(v));
			return -1;
		}
		*owner = (long)u;
		return 0;
	}
	pw = getpwnam(v);
	if (pw == NULL) {
		zcp_tool_err(cmd, "bad --owner %s: no such user", zcp_tool_q(v));
		return -1;
	}
	*owner = (long)pw->pw_uid;
	return 0;
}

long zcp_tool_expected_uid(long owner)
{
	if (owner == ZCP_OWNER_SELF)
		return (long)geteuid();
	return owner >= 0 ? owner : -1;
}

const char *zcp_tool_uid_str(long uid)
{
	static char bufs[4][96];
	static unsigned next;
	char *b = bufs[next++ % 4];
	struct passwd *pw = getpwuid((uid_t)uid);

	if (pw != NULL && pw->pw_name != NULL)
		snprintf(b, sizeof bufs[0], "uid %ld (%s)", uid, pw->pw_name);
	else
		snprintf(b, sizeof bufs[0], "uid %ld", uid);
	return b;
}

int zcp_tool_explain_owner(const char *cmd, const char *what, const char *path, long expected,
			   int dir)
{
	struct stat st;

	/* lstat: a symbolic link is judged as itself, as the library does. */
	if (lstat(path, &st) != 0)
		return 0;
	if (expected >= 0 && (long)st.st_uid != expected) {
		zcp_tool_err(cmd, "%s %s belongs to %s, not to %s: refusing it", what, zcp_tool_q(path),
			     zcp_tool_uid_str((long)st.st_uid), zcp_tool_uid_str(expected));
		return 1;
	}
	if (dir && !S_ISDIR(st.st_mode)) {
		zcp_tool_err(cmd, "%s %s is not a directory (a symbolic link?): refusing it", what,
			     zcp_tool_q(path));
		return 1;
	}
	if ((dir && (st.st_mode & 022) != 0) || (!dir && (st.st_mode & 0002) != 0 &&
						 !S_ISSOCK(st.st_mode))) {
		zcp_tool_err(cmd, "%s %s (owner %s) has mode %04o: writable by others, refusing it",
			     what, zcp_tool_q(path), zcp_tool_uid_str((long)st.st_uid),
			     (unsigned)(st.st_mode & 07777));
		return 1;
	}
	return 0;
}

/* The uid of the process listening at the socket `path`, from
 * SO_PEERCRED of a connection to it, or -1.  The broker answers the
 * connection; what it sends is dropped with it. */
static long socket_peer_uid(const char *path)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t len = sizeof cred;
	long uid = -1;
	int fd;

	if (strlen(path) >= sizeof sa.sun_path)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred)
		uid = (long)cred.uid;
	close(fd);
	return uid;
}

/* Explain a ZCP_EOWNER of a socket attach: the directory, the socket
 * file, then the broker's own uid. */
static void explain_socket_owner(const char *cmd, const char *path, long expected)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	long peer;

	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	if (zcp_tool_explain_owner(cmd, "the socket directory", dir, expected, 1) ||
	    zcp_tool_explain_owner(cmd, "the socket", path, expected, 0))
		return;
	peer = socket_peer_uid(path);
	if (peer >= 0 && expected >= 0 && peer != expected) {
		zcp_tool_err(cmd, "the broker at %s runs as %s, not as %s: refusing it",
			     zcp_tool_q(path), zcp_tool_uid_str(peer), zcp_tool_uid_str(expected));
		return;
	}
	zcp_tool_err(cmd, "cannot attach through socket %s: %s", zcp_tool_q(path),
		     zcp_strerror(ZCP_EOWNER));
}

/* Explain a ZCP_EOWNER of an attach by name: which segment file. */
static void explain_segment_owner(const char *cmd, const char *name, long expected)
{
	static const char *const sfx[] = {"mgmt", "data"};
	char path[128];

	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof path, "/dev/shm/zerocp_%s_%s", name, sfx[k]);
		if (zcp_tool_explain_owner(cmd, "the segment", path, expected, 0))
			return;
	}
	zcp_tool_err(cmd, "cannot attach to manager %s: %s (its segments' owner or mode)",
		     zcp_tool_q(name), zcp_strerror(ZCP_EOWNER));
}

void zcp_tool_attach_error(const char *cmd, const struct zcp_tool_target *t, int err)
{
	long expected = zcp_tool_expected_uid(t->owner);

	if (err == ZCP_EOWNER) {
		if (t->socket != NULL)
			explain_socket_owner(cmd, t->socket, expected);
		else
			explain_segment_owner(cmd, zcp_tool_name(t->name), expected);
		return;
	}
	if (t->socket != NULL)
		zcp_tool_err(cmd, "cannot attach through socket %s: %s", zcp_tool_q(t->socket),
			     zcp_strerror(err));
	else
		zcp_tool_err(cmd, "cannot attach to manager %s: %s", zcp_tool_q(zcp_tool_name(t->name)),
			     zcp_strerror(err));
}

int zcp_tool_attach(const char *cmd, const struct zcp_tool_target *t, zcp_mempool_manager **out,
		    int *read_only)
{
	const char *name = t->socket != NULL ? NULL : t->name;
	zcp_attach_options o;
	int err, ro = t->read_only;

	zcp_attach_options_init(&o);
	o.owner_uid = t->owner;
	o.read_only = t->read_only;
	o.socket_path = t->socket;
	err = zcp_mempool_manager_attach_opts(name, &o, out);
	if (err == ZCP_ENOSYS && t->read_only) {
		/* No read-only attach in this library (or not through a
		 * broker): attach as a process, which needs a free slot. */
		if (!t->quiet)
			fprintf(stderr, "%s: %s: note: no read-only attach in this library; "
					"attaching as a process\n",
				zcp_tool_progname, cmd);
		o.read_only = 0;
		ro = 0;
		err = zcp_mempool_manager_attach_opts(name, &o, out);
	}
	if (err == ZCP_ENOSYS && t->socket != NULL &&
	    zcp_tool_expected_uid(t->owner) == (long)geteuid()) {
		/* No attach through a broker by options: the plain call,
		 * which checks for our own uid. */
		ro = 0;
		err = zcp_mempool_manager_attach_socket(t->socket, out);
	}
	if (err == 0 && read_only != NULL)
		*read_only = ro;
	return err;
}
