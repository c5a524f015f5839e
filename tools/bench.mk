# SPDX-License-Identifier: MIT
# tools/bench.mk - "zerocp bench" (fragment of Makefile.am).
#
# The benchmark is compiled into the zerocp command: tools/tools.mk adds
# $(ZCP_BENCH_SRCS) to tools_zerocp_SOURCES and $(ZCP_BENCH_CPPFLAGS) to
# tools_zerocp_CPPFLAGS, and the dispatcher calls zcp_tool_bench() when
# ZCP_HAVE_BENCH is defined.  Public API only, like every tool.

# tools/bench/: driver.c (options, the order of the figures) calls the
# figure files (ops.c, contended.c, handoff.c, create.c, reclaim.c,
# pubsub.c, wake.c), which
# build their figures with report.c and util.c; freelist.c is the bare
# baseline.  Nothing below the driver calls back into it.
ZCP_BENCH_SRCS += \
	tools/bench/bench.h \
	tools/bench/driver.c \
	tools/bench/report.c \
	tools/bench/util.c \
	tools/bench/freelist.c \
	tools/bench/ops.c \
	tools/bench/contended.c \
	tools/bench/handoff.c \
	tools/bench/create.c \
	tools/bench/reclaim.c \
	tools/bench/pubsub.c \
	tools/bench/wake.c
ZCP_BENCH_CPPFLAGS = -DZCP_HAVE_BENCH

# The --json schema, documented and stable.
EXTRA_DIST += docs/bench-json.md

# "make bench": build the command and run the benchmark from the build
# tree.  Options go in BENCH_FLAGS: make bench BENCH_FLAGS='--quick --json'
BENCH_FLAGS =
bench: tools/zerocp$(EXEEXT)
	./tools/zerocp$(EXEEXT) bench $(BENCH_FLAGS)

.PHONY: bench
