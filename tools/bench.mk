# tools/bench.mk - "zerocp bench" (fragment of Makefile.am).
#
# The benchmark is compiled into the zerocp command: tools/tools.mk adds
# $(ZCP_BENCH_SRCS) to tools_zerocp_SOURCES and $(ZCP_BENCH_CPPFLAGS) to
# tools_zerocp_CPPFLAGS, and the dispatcher calls zcp_tool_bench() when
# ZCP_HAVE_BENCH is defined.  Public API only, like every tool.

ZCP_BENCH_SRCS += \
	tools/bench.h \
	tools/bench.c \
	tools/bench_util.c \
	tools/bench_freelist.c \
	tools/bench_ops.c \
	tools/bench_contended.c \
	tools/bench_handoff.c \
	tools/bench_create.c \
	tools/bench_reclaim.c
ZCP_BENCH_CPPFLAGS = -DZCP_HAVE_BENCH

# The --json schema, documented and stable.
EXTRA_DIST += docs/bench-json.md

# "make bench": build the command and run the benchmark from the build
# tree.  Options go in BENCH_FLAGS: make bench BENCH_FLAGS='--quick --json'
BENCH_FLAGS =
bench: tools/zerocp$(EXEEXT)
	./tools/zerocp$(EXEEXT) bench $(BENCH_FLAGS)

.PHONY: bench
