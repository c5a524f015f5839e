/* SPDX-License-Identifier: MIT */
/* tests/error-strings.c - every error code has a name and a text. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <zerocp/zerocp.h>

#include "zt.h"

int main(void)
{
	plan_lazy();

	is_int(ZCP_OK, 0, "ZCP_OK is 0");
	is_int(ZCP_EINVAL, -EINVAL, "ZCP_EINVAL == -EINVAL");
	is_int(ZCP_ENOBUFS, -ENOBUFS, "ZCP_ENOBUFS == -ENOBUFS");
	is_int(ZCP_ECORRUPT, -10001, "ZCP_ECORRUPT == -10001");
	is_string(zcp_err_name(0), "ZCP_OK", "name of 0");
	is_string(zcp_strerror(0), "success", "text of 0");

#define ZCP_X(name, value, text)                                                           \
	ok((value) < 0, "ZCP_" #name " is negative");                                      \
	is_string(zcp_err_name(ZCP_##name), "ZCP_" #name, "name of ZCP_" #name);           \
	is_string(zcp_strerror(ZCP_##name), text, "text of ZCP_" #name);                   \
	ok(strcmp(zcp_strerror(value), "unknown error") != 0, "ZCP_" #name " is known");
	ZCP_ERRNO_MAP(ZCP_X)
#undef ZCP_X

	/* Codes are distinct: a duplicate would be a duplicate case label in
	 * lib/error.c and fail to compile, but check the enum too. */
	{
		static const int codes[] = {
#define ZCP_X(name, value, text) ZCP_##name,
			ZCP_ERRNO_MAP(ZCP_X)
#undef ZCP_X
		};
		size_t i, j, n = sizeof(codes) / sizeof(codes[0]);
		int dup = 0;

		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++)
				dup |= codes[i] == codes[j];
		ok(!dup, "all %zu codes are distinct", n);
	}

	/* A negative errno outside the map gets the C library's text. */
	is_string(zcp_strerror(-EISDIR), strerror(EISDIR), "-EISDIR falls back to strerror()");
	is_string(zcp_err_name(-EISDIR), "ZCP_E?", "-EISDIR has no zerocp name");
	is_string(zcp_strerror(-10099), "unknown error", "unassigned own code");
	is_string(zcp_strerror(-20000), "unknown error", "far negative code");
	is_string(zcp_strerror(1), "unknown error", "positive code");
	is_string(zcp_strerror(12345), "unknown error", "large positive code");
	is_string(zcp_err_name(-10099), "ZCP_E?", "name of unassigned own code");
	ok(zcp_strerror(-4095) != NULL, "strerror of an unassigned errno is not NULL");
	ok(zcp_strerror(-2147483647 - 1) != NULL, "INT_MIN is not NULL");
	is_string(zcp_err_name(-2147483647 - 1), "ZCP_E?", "name of INT_MIN");

	zt_done();
	return done_testing();
}
