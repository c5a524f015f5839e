# SPDX-License-Identifier: MIT
# Security (fragment of Makefile.am): the sealed-memfd attach broker, the
# permission, truncation, hostile-peer and argument tests, and the
# libFuzzer targets built by "make fuzz".

ZCP_LIB_SOURCES += lib/broker.c
ZCP_CORE_HDRS += include/zerocp/broker.h

ZCP_C_TESTS += \
	tests/sec-args \
	tests/sec-perms \
	tests/sec-truncate \
	tests/sec-broker \
	tests/sec-hostile \
	tests/broker-flood

# ---------------------------------------------------------------------
# Fuzzing: "make fuzz" (clang only) builds one libFuzzer binary per
# fuzz/fuzz-*.c, with the library's sources compiled straight in (so
# internal zcp__* functions are reachable and everything is instrumented).
# Run one:  fuzz/fuzz-handle -runs=200000   (see fuzz/README)
# ---------------------------------------------------------------------
ZCP_FUZZ_TARGETS = fuzz/fuzz-attach-image fuzz/fuzz-handle
ZCP_FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer
ZCP_FUZZ_CPPFLAGS = -DZCP_BUILDING_LIB -I$(top_builddir) -I$(top_srcdir)/include \
	-I$(top_srcdir)/lib
EXTRA_DIST += fuzz/README fuzz/fuzz-attach-image.c fuzz/fuzz-handle.c
CLEANFILES = $(ZCP_FUZZ_TARGETS)

fuzz: $(ZCP_FUZZ_TARGETS)

# $(CC) must be clang; the recipes name the library sources by filtering
# ZCP_LIB_SOURCES (GNU make, like the rest of a developer build).
fuzz/fuzz-attach-image: $(top_srcdir)/fuzz/fuzz-attach-image.c $(ZCP_LIB_SOURCES) config.h
	@$(MKDIR_P) fuzz
	$(CC) -std=gnu11 $(ZCP_FUZZ_FLAGS) $(ZCP_FUZZ_CPPFLAGS) -o $@ \
		$(top_srcdir)/fuzz/fuzz-attach-image.c \
		$(addprefix $(top_srcdir)/,$(filter %.c,$(ZCP_LIB_SOURCES))) $(PTHREAD_LIBS) $(LIBS)

fuzz/fuzz-handle: $(top_srcdir)/fuzz/fuzz-handle.c $(ZCP_LIB_SOURCES) config.h
	@$(MKDIR_P) fuzz
	$(CC) -std=gnu11 $(ZCP_FUZZ_FLAGS) $(ZCP_FUZZ_CPPFLAGS) -o $@ \
		$(top_srcdir)/fuzz/fuzz-handle.c \
		$(addprefix $(top_srcdir)/,$(filter %.c,$(ZCP_LIB_SOURCES))) $(PTHREAD_LIBS) $(LIBS)

.PHONY: fuzz
