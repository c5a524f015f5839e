/* SPDX-License-Identifier: MIT */
/* tests/name.c - internal name validation and shm path building. */
#include "internal.h"

#include <string.h>

#include "zt.h"

int main(void)
{
	char buf[64], big[300];

	plan_lazy();
	is_int(zcp__name_valid("abc", 10), 0, "plain name");
	is_int(zcp__name_valid("A-z_0.9", 10), 0, "every allowed class");
	is_int(zcp__name_valid("a..b", 10), 0, "dots inside are fine");
	is_int(zcp__name_valid(NULL, 10), ZCP_EINVAL, "NULL");
	is_int(zcp__name_valid("", 10), ZCP_EINVAL, "empty");
	is_int(zcp__name_valid(".x", 10), ZCP_EINVAL, "leading dot");
	is_int(zcp__name_valid("..", 10), ZCP_EINVAL, "dot-dot");
	is_int(zcp__name_valid("a/b", 10), ZCP_EINVAL, "slash");
	is_int(zcp__name_valid("a b", 10), ZCP_EINVAL, "space");
	is_int(zcp__name_valid("caf\xc3\xa9", 10), ZCP_EINVAL, "non-ASCII");
	is_int(zcp__name_valid("a\nb", 10), ZCP_EINVAL, "newline");
	is_int(zcp__name_valid("0123456789", 10), 0, "exactly max");
	is_int(zcp__name_valid("0123456789a", 10), ZCP_EINVAL, "max + 1");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(zcp__name_valid(big, ZCP_SEGMENT_NAME_MAX), ZCP_EINVAL, "299 characters");

	is_int(zcp__shm_path(buf, sizeof(buf), "abc", NULL), 0, "path without suffix");
	is_string(buf, "/zerocp_abc", "path text");
	is_int(zcp__shm_path(buf, sizeof(buf), "abc", "_data"), 0, "path with suffix");
	is_string(buf, "/zerocp_abc_data", "path text with suffix");
	is_int(zcp__shm_path(buf, 12, "abc", NULL), 0, "exact fit (11 chars + NUL)");
	is_int(zcp__shm_path(buf, 11, "abc", NULL), ZCP_ENAMETOOLONG, "one byte short");
	is_string(buf, "", "buffer emptied on ENAMETOOLONG");
	is_int(zcp__shm_path(buf, sizeof(buf), big, NULL), ZCP_ENAMETOOLONG, "long name");
	is_int(zcp__shm_path(NULL, 10, "a", NULL), ZCP_EINVAL, "NULL buf");
	is_int(zcp__shm_path(buf, 0, "a", NULL), ZCP_EINVAL, "zero bufsz");
	is_int(zcp__shm_path(buf, sizeof(buf), NULL, NULL), ZCP_EINVAL, "NULL name");
	zt_done();
	return done_testing();
}
