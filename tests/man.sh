#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/man.sh - the manual pages: every exported zcp_ symbol of the built
# library (nm -D; tests/exports.txt for a static-only build) has a page
# man/SYMBOL.3 (its group's page or a ".so" link to it) and is named in the
# NAME section of a real page; every ".so" link points at an existing
# page; every page is in man/man.mk (so it is installed); and the pages pass
# "mandoc -T lint" (or "groff -ww -z") without a warning.  TAP output.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
LC_ALL=C
export LC_ALL
mandir=$top_srcdir/man
so=$top_builddir/lib/.libs/libzerocp.so
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zcp-man.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

if [ -f "$so" ]; then
	${NM:-nm} -D --defined-only "$so" | awk 'NF >= 3 { print $3 }' | grep '^zcp_' |
		sort -u > "$tmp/syms"
	from="the shared library"
else
	grep -v '^#' "$top_srcdir/tests/exports.txt" | grep -v '^$' | sort -u > "$tmp/syms"
	from="tests/exports.txt"
fi
# Real pages (not .so links) and the names their NAME sections list.
: > "$tmp/named"
: > "$tmp/real"
for p in "$mandir"/*.[137]; do
	if grep -q '^\.so ' "$p"; then
		continue
	fi
	echo "$p" >> "$tmp/real"
	awk '/^\.SH NAME/ { on = 1; next } /^\.SH/ { on = 0 } on' "$p" | sed 's/\\-.*//' |
		tr ',' '\n' | sed 's/^ *//; s/ *$//' | grep '^zcp_' >> "$tmp/named"
done
sort -u "$tmp/named" -o "$tmp/named"

echo "1..5"
n=$(wc -l < "$tmp/syms")
missing=$(comm -23 "$tmp/syms" "$tmp/named")
if [ "$n" -gt 0 ] && [ -z "$missing" ]; then
	echo "ok 1 - all $n zcp_ symbols of $from are named in a page's NAME section"
else
	echo "not ok 1 - all $n zcp_ symbols of $from are named in a page's NAME section"
	printf '%s\n' "$missing" | sed 's/^/# not documented: /'
fi
r=0
while read -r s; do
	[ -f "$mandir/$s.3" ] || { echo "# no man/$s.3 (man $s would fail)"; r=1; }
done < "$tmp/syms"
[ $r -eq 0 ] && echo "ok 2 - every symbol has its own man/SYMBOL.3" ||
	echo "not ok 2 - every symbol has its own man/SYMBOL.3"
r=0
for p in "$mandir"/*.3; do
	t=$(sed -n 's|^\.so man3/||p' "$p")
	[ -z "$t" ] && continue
	[ -f "$mandir/$t" ] && ! grep -q '^\.so ' "$mandir/$t" || { echo "# $p: .so to a missing or link page $t"; r=1; }
	s=$(basename "$p" .3)
	awk '/^\.SH NAME/ { on = 1; next } /^\.SH/ { on = 0 } on' "$mandir/$t" | grep -q "\\<$s\\>" ||
		{ echo "# $p: $t does not name $s"; r=1; }
done
[ $r -eq 0 ] && echo "ok 3 - every .so link points at a page naming it" ||
	echo "not ok 3 - every .so link points at a page naming it"
r=0
for p in "$mandir"/*.[137]; do
	grep -q "man/$(basename "$p")\\>" "$mandir/man.mk" || { echo "# $p is not in man/man.mk"; r=1; }
done
[ $r -eq 0 ] && echo "ok 4 - every page is installed (man/man.mk)" ||
	echo "not ok 4 - every page is installed (man/man.mk)"
if command -v mandoc > /dev/null 2>&1; then
	mandoc -T lint -W style $(cat "$tmp/real") > "$tmp/lint" 2>&1
	if [ -s "$tmp/lint" ]; then
		echo "not ok 5 - mandoc -T lint: no warning"
		sed 's/^/# /' "$tmp/lint"
	else
		echo "ok 5 - mandoc -T lint: no warning ($(wc -l < "$tmp/real") pages)"
	fi
elif command -v groff > /dev/null 2>&1; then
	for p in $(cat "$tmp/real"); do
		groff -ww -z -man "$p" 2>&1 | sed "s|^|$p: |"
	done > "$tmp/lint"
	if [ -s "$tmp/lint" ]; then
		echo "not ok 5 - groff -ww: no warning"
		sed 's/^/# /' "$tmp/lint"
	else
		echo "ok 5 - groff -ww: no warning"
	fi
else
	echo "ok 5 # SKIP neither mandoc nor groff installed"
fi
