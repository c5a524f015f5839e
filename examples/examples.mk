# SPDX-License-Identifier: MIT
# examples/examples.mk - small programs of the public API (fragment
# included by Makefile.am): built by "make check" and run by
# tests/examples.sh; installed as documentation with the example
# configuration and systemd unit of "zerocp serve".
ZCP_EXAMPLES = \
	examples/seed-scenario \
	examples/handle-passing \
	examples/escrow \
	examples/pubsub
examples_seed_scenario_SOURCES = examples/seed-scenario.c
examples_handle_passing_SOURCES = examples/handle-passing.c
examples_escrow_SOURCES = examples/escrow.c
examples_pubsub_SOURCES = examples/pubsub.c
# Public API only, against the library that gets installed.
examples_seed_scenario_CPPFLAGS = -I$(top_srcdir)/include
examples_handle_passing_CPPFLAGS = -I$(top_srcdir)/include
examples_escrow_CPPFLAGS = -I$(top_srcdir)/include
examples_pubsub_CPPFLAGS = -I$(top_srcdir)/include
examples_seed_scenario_LDADD = lib/libzerocp.la
examples_handle_passing_LDADD = lib/libzerocp.la
examples_escrow_LDADD = lib/libzerocp.la
examples_pubsub_LDADD = lib/libzerocp.la

examplesdir = $(docdir)/examples
dist_examples_DATA = examples/seed-scenario.c examples/handle-passing.c examples/escrow.c examples/pubsub.c

# "zerocp serve": an example configuration and systemd unit.
dist_pkgdata_DATA = examples/zerocp.conf
pkgdata_DATA = examples/zerocp.service
MOSTLYCLEANFILES = examples/zerocp.service
EXTRA_DIST += examples/zerocp.service.in
examples/zerocp.service: $(srcdir)/examples/zerocp.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) examples && \
	sed -e 's|@bindir[@]|$(bindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	    -e 's|@pkgdatadir[@]|$(pkgdatadir)|g' $(srcdir)/examples/zerocp.service.in > $@.tmp && \
	mv $@.tmp $@
