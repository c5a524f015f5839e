#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/license.sh - the license is where packagers look: LICENSE is the
# MIT license, zerocp.pc says so, and every source file of the tree (C,
# headers, shell, m4, automake, man pages) starts with an SPDX line in its
# first two lines.  TAP output.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
echo "1..3"
grep -q '^MIT License' "$top_srcdir/LICENSE" && grep -q 'Permission is hereby granted' "$top_srcdir/LICENSE"
[ $? -eq 0 ] && echo "ok 1 - LICENSE is the MIT license" || echo "not ok 1 - LICENSE is the MIT license"
if [ -f "$top_builddir/zerocp.pc" ]; then
	grep -q '^License: MIT' "$top_builddir/zerocp.pc" && echo "ok 2 - zerocp.pc: License: MIT" ||
		echo "not ok 2 - zerocp.pc: License: MIT"
else
	echo "ok 2 # SKIP no zerocp.pc in the build tree"
fi
missing=$(cd "$top_srcdir" && find lib include tools tests examples fuzz m4 man completion \
	\( -name '*.c' -o -name '*.h' -o -name '*.sh' -o -name '*.mk' -o -name '*.m4' \
	-o -name '*.[137]' -o -name '*.in' -o -name '*.conf' \) -type f 2> /dev/null |
	grep -v '^m4/\(libtool\|lt\)' | while read -r f; do
		head -n 2 "$f" | grep -q 'SPDX-License-Identifier: MIT' || echo "$f"
	done
	for f in Makefile.am configure.ac autogen.sh zerocp.pc.in tools/zerocp-scenario completion/zerocp; do
		[ -f "$f" ] && { head -n 2 "$f" | grep -q 'SPDX-License-Identifier: MIT' || echo "$f"; }
	done)
if [ -z "$missing" ]; then
	echo "ok 3 - every source file carries an SPDX-License-Identifier line"
else
	echo "not ok 3 - every source file carries an SPDX-License-Identifier line"
	printf '%s\n' "$missing" | sed 's/^/# missing: /'
fi
