#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/headers.sh - every public header compiles on its own, as C11 and,
# when a C++ compiler was found, as C++.  TAP output.
#
# Environment (set by Makefile.am): CC, CXX (empty without C++),
# top_srcdir, ZCP_PUBLIC_HEADERS (paths relative to top_srcdir).

: "${top_srcdir:=.}"
: "${CC:=cc}"
tmp=${TMPDIR:-/tmp}/zcp-headers.$$
trap 'rm -f "$tmp".*' EXIT INT TERM

set -- $ZCP_PUBLIC_HEADERS
if [ $# -eq 0 ]; then
	echo "1..0 # SKIP ZCP_PUBLIC_HEADERS is not set (run through make check)"
	exit 0
fi
echo "1..$(( $# * 2 ))"
n=0
fail=0
for h in "$@"; do
	inc=zerocp/${h##*/}
	n=$((n + 1))
	printf '#include <%s>\n#include <%s>\nint zcp_header_test_dummy;\n' "$inc" "$inc" > "$tmp.c"
	if $CC -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$top_srcdir/include" "$tmp.c" \
		> "$tmp.log" 2>&1; then
		echo "ok $n - $inc compiles alone as C11 (and twice)"
	else
		echo "not ok $n - $inc compiles alone as C11 (and twice)"
		sed 's/^/# /' "$tmp.log"
		fail=1
	fi
	n=$((n + 1))
	if [ -z "$CXX" ]; then
		echo "ok $n # SKIP no working C++ compiler"
		continue
	fi
	cp "$tmp.c" "$tmp.cc"
	if $CXX -Wall -Wextra -Werror -fsyntax-only -I"$top_srcdir/include" "$tmp.cc" \
		> "$tmp.log" 2>&1; then
		echo "ok $n - $inc compiles alone as C++"
	else
		echo "not ok $n - $inc compiles alone as C++"
		sed 's/^/# /' "$tmp.log"
		fail=1
	fi
done
exit $fail
