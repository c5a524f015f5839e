# SPDX-License-Identifier: MIT
# tools/gateway.mk - zerocp-gateway, the DDS bridge (fragment of
# Makefile.am), built when configure finds Cyclone DDS (HAVE_CYCLONEDDS).
#
# Public API only, like the zerocp command; it shares tools/tool.c and
# tools/topic_tool.c with it and links Cyclone's libddsc.  Its tests,
# tests/gateway-netns.sh, gateway-usage.sh and gateway-stall.sh, are
# always in TESTS and skip, saying so, when the gateway is not built
# (ZCP_HAVE_GATEWAY).

ZCP_GATEWAY_SRCS = \
	tools/gateway.h tools/gateway.c \
	tools/gateway_type.h tools/gateway_type.c \
	tools/gateway_bench.c \
	tools/tool.h tools/tool.c \
	tools/topic_tool.h tools/topic_tool.c

if HAVE_CYCLONEDDS
bin_PROGRAMS += tools/zerocp-gateway
tools_zerocp_gateway_SOURCES = $(ZCP_GATEWAY_SRCS)
tools_zerocp_gateway_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/tools
tools_zerocp_gateway_CFLAGS = $(AM_CFLAGS) $(CYCLONEDDS_CFLAGS)
tools_zerocp_gateway_LDADD = lib/libzerocp.la $(CYCLONEDDS_LIBS) $(PTHREAD_LIBS)
ZCP_HAVE_GATEWAY = yes
else
EXTRA_DIST += $(ZCP_GATEWAY_SRCS)
ZCP_HAVE_GATEWAY = no
endif

ZCP_TOOL_TESTS += tests/gateway-netns.sh tests/gateway-usage.sh tests/gateway-stall.sh
EXTRA_DIST += tools/bench-gateway.sh tools/gateway.idl
