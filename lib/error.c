/* SPDX-License-Identifier: MIT */
/*
 * lib/error.c - error strings, all generated from ZCP_ERRNO_MAP() so the
 * enum, the names and the texts cannot drift apart.
 */
#include "internal.h"

#include <stdarg.h>
#include <string.h>

/* zerocp's own codes start here and go down; errno values stay above. */
#define ZCP__OWN_CODES_START (-10000)

const char *zcp_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
#define ZCP_X(name, value, text) \
	case ZCP_##name:         \
		return text;
		ZCP_ERRNO_MAP(ZCP_X)
#undef ZCP_X
	default:
		break;
	}
	/*
	 * Some other negative errno value: the C library knows its text.
	 * glibc and musl return a string for any value, never NULL, but a
	 * NULL from another libc must not reach the caller.
	 */
	if (err < 0 && err > ZCP__OWN_CODES_START) {
		const char *s = strerror(-err);

		if (s != NULL)
			return s;
	}
	return "unknown error";
}

const char *zcp_err_name(int err)
{
	switch (err) {
	case 0:
		return "ZCP_OK";
#define ZCP_X(name, value, text) \
	case ZCP_##name:         \
		return "ZCP_" #name;
		ZCP_ERRNO_MAP(ZCP_X)
#undef ZCP_X
	default:
		return "ZCP_E?";
	}
}
