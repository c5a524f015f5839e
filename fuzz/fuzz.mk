# SPDX-License-Identifier: MIT
# fuzz/fuzz.mk - fragment of Makefile.am: more libFuzzer targets, built by
# "make fuzz" like those in tests/security.mk (clang only), and the
# multi-threaded tests of the fuzzing work (tests/mt-*.c, run by "make
# check" and, as they call pthread_create, by the CI's ThreadSanitizer pass).

ZCP_C_TESTS += tests/mt-handles

# Each target: the fuzz/ source plus every library source, compiled
# together with the flags of tests/security.mk (ZCP_FUZZ_FLAGS,
# ZCP_FUZZ_CPPFLAGS), so internal zcp__* functions are reachable.
ZCP_FUZZ_MORE = fuzz/fuzz-hostile-attach fuzz/fuzz-broker
EXTRA_DIST += fuzz/fuzz-hostile-attach.c fuzz/fuzz-broker.c fuzz/regress/README
CLEANFILES += $(ZCP_FUZZ_MORE)

fuzz: $(ZCP_FUZZ_MORE)

fuzz/fuzz-hostile-attach: $(top_srcdir)/fuzz/fuzz-hostile-attach.c $(ZCP_LIB_SOURCES) config.h
	@$(MKDIR_P) fuzz
	$(CC) -std=gnu11 $(ZCP_FUZZ_FLAGS) $(ZCP_FUZZ_CPPFLAGS) -o $@ \
		$(top_srcdir)/fuzz/fuzz-hostile-attach.c \
		$(addprefix $(top_srcdir)/,$(filter %.c,$(ZCP_LIB_SOURCES))) $(PTHREAD_LIBS) $(LIBS)

fuzz/fuzz-broker: $(top_srcdir)/fuzz/fuzz-broker.c $(ZCP_LIB_SOURCES) config.h
	@$(MKDIR_P) fuzz
	$(CC) -std=gnu11 $(ZCP_FUZZ_FLAGS) $(ZCP_FUZZ_CPPFLAGS) -o $@ \
		$(top_srcdir)/fuzz/fuzz-broker.c \
		$(addprefix $(top_srcdir)/,$(filter %.c,$(ZCP_LIB_SOURCES))) $(PTHREAD_LIBS) $(LIBS)
