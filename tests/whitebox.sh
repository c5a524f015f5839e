#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/whitebox.sh - only the white-box tests listed in tests/whitebox.txt
# include private headers of lib/ (a quoted #include of a file that exists
# in lib/); every other test and fuzz source uses the public headers only.
# Fails too when a listed file no longer includes one (a stale list).
# TAP output.

: "${top_srcdir:=.}"
LC_ALL=C
export LC_ALL
list=$top_srcdir/tests/whitebox.txt
tmp=${TMPDIR:-/tmp}/zcp-whitebox.$$
trap 'rm -f "$tmp".*' EXIT INT TERM

if [ ! -f "$list" ] || [ ! -d "$top_srcdir/lib" ]; then
	echo "1..0 # SKIP no tests/whitebox.txt or lib/ under $top_srcdir"
	exit 0
fi

echo "1..3"
# Listed files: first field of each line that is neither blank nor a comment.
grep -v '^#' "$list" | awk 'NF { print $1 }' | sort > "$tmp.listed"
if sort -c -u "$tmp.listed" 2>/dev/null && [ -s "$tmp.listed" ]; then
	echo "ok 1 - tests/whitebox.txt lists each file once"
else
	echo "not ok 1 - tests/whitebox.txt lists each file once"
	uniq -d "$tmp.listed" | sed 's/^/#   twice: /'
fi

# Who includes what: "file header" for each quoted include of a lib/ file.
: > "$tmp.uses"
for f in "$top_srcdir"/tests/*.c "$top_srcdir"/tests/*.h "$top_srcdir"/fuzz/*.c; do
	[ -f "$f" ] || continue
	rel=${f#"$top_srcdir"/}
	sed -n 's/^[ 	]*#[ 	]*include[ 	]*"\([^"]*\)".*/\1/p' "$f" | while read -r h; do
		if [ -f "$top_srcdir/lib/$h" ]; then
			echo "$rel $h"
		fi
	done >> "$tmp.uses"
done
awk '{ print $1 }' "$tmp.uses" | sort -u > "$tmp.users"

if comm -23 "$tmp.users" "$tmp.listed" > "$tmp.unlisted" && [ ! -s "$tmp.unlisted" ]; then
	echo "ok 2 - no unlisted test includes a private lib/ header"
else
	echo "not ok 2 - no unlisted test includes a private lib/ header"
	while read -r f; do
		grep "^$f " "$tmp.uses" | sed 's/^\([^ ]*\) \(.*\)/#   \1 includes "\2" (use the public <zerocp\/...> headers, or list it in tests\/whitebox.txt with a reason)/'
	done < "$tmp.unlisted"
fi

# A listed file that is missing is stale in a git checkout; a release
# tarball may leave out sources it does not build (some fuzz targets).
comm -13 "$tmp.users" "$tmp.listed" | while read -r f; do
	if [ -f "$top_srcdir/$f" ] || [ -e "$top_srcdir/.git" ]; then
		echo "$f"
	fi
done > "$tmp.stale"
if [ ! -s "$tmp.stale" ]; then
	echo "ok 3 - every listed file still includes a private lib/ header"
else
	echo "not ok 3 - every listed file still includes a private lib/ header"
	sed 's|^|#   stale entry in tests/whitebox.txt: |' "$tmp.stale"
fi
