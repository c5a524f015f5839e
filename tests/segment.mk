# SPDX-License-Identifier: MIT
# tests/segment.mk - fragment of Makefile.am: segment space, identity and ownership tests.
# Add C tests with "ZCP_C_TESTS += tests/NAME", shell tests with
# "ZCP_SH_TESTS += tests/NAME.sh" (and EXTRA_DIST for helpers).

ZCP_C_TESTS += \
	tests/seg-space \
	tests/seg-identity
