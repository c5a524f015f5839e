/* SPDX-License-Identifier: MIT */
/* tests/version.c - the header, the library and configure agree. */
#include "config.h"

#include <stdio.h>

#include <zerocp/zerocp.h>

#include "zt.h"

int main(void)
{
	char buf[32];

	plan_lazy();
	is_string(ZCP_VERSION_STRING, PACKAGE_VERSION, "version.h matches configure.ac");
	snprintf(buf, sizeof(buf), "%d.%d.%d", ZCP_VERSION_MAJOR, ZCP_VERSION_MINOR,
		 ZCP_VERSION_PATCH);
	is_string(buf, ZCP_VERSION_STRING, "MAJOR.MINOR.PATCH match the string");
	is_int(zcp_version(), ZCP_VERSION_HEX, "zcp_version() == ZCP_VERSION_HEX");
	is_int(ZCP_VERSION_HEX, (ZCP_VERSION_MAJOR << 16) | (ZCP_VERSION_MINOR << 8) | ZCP_VERSION_PATCH,
	       "ZCP_VERSION_HEX layout");
	is_string(zcp_version_string(), ZCP_VERSION_STRING, "zcp_version_string()");
	zt_done();
	return done_testing();
}
