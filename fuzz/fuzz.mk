# SPDX-License-Identifier: MIT
# fuzz/fuzz.mk - fragment of Makefile.am: more libFuzzer targets, built by
# "make fuzz" like those in tests/security.mk (clang only).
