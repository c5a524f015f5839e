# SPDX-License-Identifier: MIT
# tools/tools.mk - the zerocp command (fragment included by Makefile.am).
#
# One program, tools/zerocp, with subcommands serve, list, stat, top, demo,
# clean and bench.  It uses the public API only: its include path is include/ and
# tools/, never lib/ (hence its own CPPFLAGS instead of AM_CPPFLAGS), and it
# links the installed library, not the convenience archive with zcp__*.
# The benchmark's sources and its -DZCP_HAVE_BENCH come from tools/bench.mk
# through ZCP_BENCH_SRCS and ZCP_BENCH_CPPFLAGS (empty when not built).

bin_PROGRAMS += tools/zerocp
tools_zerocp_SOURCES = \
	tools/tool.h \
	tools/tool.c \
	tools/zerocp.c \
	tools/cmd_serve.c \
	tools/cmd_stat.c \
	tools/cmd_demo.c \
	tools/cmd_clean.c \
	tools/topic_tool.h tools/topic_tool.c \
	tools/cmd_pub.c tools/cmd_echo.c tools/cmd_hz.c tools/cmd_topics.c \
	tools/cmd_list.c \
	tools/cmd_top.c \
	$(ZCP_BENCH_SRCS)
tools_zerocp_CPPFLAGS = -I$(top_srcdir)/include -I$(top_srcdir)/tools -I$(top_srcdir)/tools/bench $(ZCP_BENCH_CPPFLAGS)
tools_zerocp_CFLAGS = $(AM_CFLAGS) $(INIH_CFLAGS)
tools_zerocp_LDADD = lib/libzerocp.la $(INIH_LIBS) $(PTHREAD_LIBS)

# The seed's whole scenario in one command (server, client, stat, SIGINT):
# "make demo" in any build tree (in-tree or out-of-tree), or
# zerocp-scenario once installed (it finds the zerocp next to it).
bin_SCRIPTS = tools/zerocp-scenario
demo: tools/zerocp$(EXEEXT)
	ZEROCP=$(abs_top_builddir)/tools/zerocp $(SHELL) $(top_srcdir)/tools/zerocp-scenario
# README's quick start, built in a fresh copy (minutes): the full form of
# tests/readme-quickstart.sh, which "make check" runs only in part.
check-quickstart:
	ZCP_TEST_QUICKSTART=full top_srcdir=$(top_srcdir) top_builddir=$(top_builddir) \
		$(SHELL) $(top_srcdir)/tests/readme-quickstart.sh
.PHONY: demo check-quickstart

#
# TAP tests of the command; Makefile.am adds $(ZCP_TOOL_TESTS) to TESTS
# (they need tools/zerocp built: it is in bin_PROGRAMS, which "make check"
# builds first through "all").
ZCP_TOOL_TESTS = tests/scenario.sh tests/tool-errors.sh tests/socket.sh tests/tool-safety.sh \
	tests/tool-daemon.sh tests/completion.sh \
	tests/tool-squat.sh tests/tool-topics.sh tests/tool-clean-fifo.sh
# An outside tester's attacks on the command; tests/attack-cli-peer is its
# hostile peer (Makefile.am's ZCP_TEST_HELPERS).
ZCP_TOOL_TESTS += tests/attack-cli.sh
EXTRA_DIST += $(ZCP_TOOL_TESTS) tests/tool-lib.sh tools/zerocp-scenario docs/topics-json.md
