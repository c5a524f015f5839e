/* SPDX-License-Identifier: MIT */
/* lib/version.c - run-time library version. */
#include "internal.h"

unsigned int zcp_version(void)
{
	return ZCP_VERSION_HEX;
}

const char *zcp_version_string(void)
{
	return ZCP_VERSION_STRING;
}
