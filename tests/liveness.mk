# SPDX-License-Identifier: MIT
# tests/liveness.mk - fragment of Makefile.am: outside attacks on liveness, PID namespaces and process slots (public API only).
# Add C tests with "ZCP_C_TESTS += tests/NAME", shell tests with
# "ZCP_SH_TESTS += tests/NAME.sh" (and EXTRA_DIST for helpers).
ZCP_C_TESTS += tests/live-pidns
ZCP_C_TESTS += tests/live-mainexit
ZCP_C_TESTS += tests/live-rules
ZCP_C_TESTS += tests/live-slotrace
ZCP_C_TESTS += tests/live-deadserver
ZCP_C_TESTS += tests/live-reclaimrace
ZCP_C_TESTS += tests/live-churn
ZCP_C_TESTS += tests/live-fds
