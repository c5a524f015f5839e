#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/exports.sh - the shared library exports exactly the symbols listed
# in tests/exports.txt, and all of them start with zcp_ (never zcp__).
# TAP output.  Skipped when no shared library was built.

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
so=$top_builddir/lib/.libs/libzerocp.so
if [ ! -f "$so" ]; then
	echo "1..0 # SKIP no shared library (static-only build?)"
	exit 0
fi
LC_ALL=C
export LC_ALL
nm_cmd=${NM:-nm}
tmp=${TMPDIR:-/tmp}/zcp-exports.$$
trap 'rm -f "$tmp".*' EXIT INT TERM

echo "1..2"
# Defined dynamic symbols of the text/data kinds; the sanitizers' runtimes
# add none to our library (their symbols stay undefined references).
$nm_cmd -D --defined-only "$so" | awk 'NF >= 3 { print $3 }' | sort -u > "$tmp.got"
sort -u "$top_srcdir/tests/exports.txt" | grep -v '^#' | grep -v '^$' > "$tmp.want"
if diff -u "$tmp.want" "$tmp.got" > "$tmp.diff"; then
	echo "ok 1 - exports match tests/exports.txt"
else
	echo "not ok 1 - exports match tests/exports.txt"
	sed 's/^/# /' "$tmp.diff"
fi
if grep -v '^zcp_[^_]' "$tmp.got" > "$tmp.bad"; then
	echo "not ok 2 - every export starts with zcp_"
	sed 's/^/#   /' "$tmp.bad"
else
	echo "ok 2 - every export starts with zcp_"
fi
