#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/readme-quickstart.sh - the two command lines of README.md's "Quick
# start", tried as written, in a fresh copy of the source tree (the files
# git tracks, or the unpacked tarball under "make distcheck"):
#   1. the apt-get part runs only as root with ZCP_TEST_APT=1 (it would
#      install packages); otherwise it is skipped, naming the reason;
#   2. the rest of line 1 (bootstrap, configure, build, "make demo") runs
#      verbatim and must end with "scenario: OK";
#   3. line 2 must be "make check"; it runs in the copy with TESTS limited
#      to two quick programs (the full suite is what is running this test);
#   4. the main job runs after "make install" too (zerocp-scenario from
#      the installed bin/; LD_LIBRARY_PATH stands for the ldconfig the
#      README asks for, since this prefix is not in ld.so's path), and the
#      man pages are installed.
# Building a copy takes minutes on a busy 2-CPU machine, so "make check"
# runs steps 2-4 only up to "./autogen.sh && ./configure" (verbatim, in the
# fresh copy) and skips the rest; ZCP_TEST_QUICKSTART=full (or "make
# check-quickstart") runs everything.  The copy is built with CFLAGS=-O0
# and MAKEFLAGS=-j2 from the environment; the lines stay verbatim.
# TAP output.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
set -u
echo "1..6"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zcp-quickstart.XXXXXX") || exit 1
cleanup() {
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

awk '/^## Quick start/ { on = 1; next } /^## / { on = 0 } on && /^    [^ ]/ { sub(/^    /, ""); print }' \
	"$top_srcdir/README.md" > "$tmp/lines"
line1=$(sed -n 1p "$tmp/lines")
line2=$(sed -n 2p "$tmp/lines")
if [ "$(wc -l < "$tmp/lines")" -eq 2 ] && [ "$line2" = "make check" ] &&
	case $line1 in apt-get*'&& make demo') true ;; *) false ;; esac; then
	echo "ok 1 - README's quick start has two lines: apt-get ... && make demo, and make check"
else
	echo "not ok 1 - README's quick start has two lines: apt-get ... && make demo, and make check"
	sed 's/^/# /' "$tmp/lines"
	exit 0
fi
printf '# line 1: %s\n# line 2: %s\n' "$line1" "$line2"

# Split line 1 into the apt-get commands and the rest.
apt=$(printf '%s\n' "$line1" | sed 's/ && \.\/autogen\.sh.*//')
rest=$(printf '%s\n' "$line1" | sed 's/^.* && \(\.\/autogen\.sh\)/\1/')
case $rest in ./autogen.sh*) ;; *) rest= ;; esac
if [ "$(id -u)" = 0 ] && [ "${ZCP_TEST_APT:-0}" = 1 ] && command -v apt-get > /dev/null 2>&1; then
	if sh -c "$apt" > "$tmp/apt.log" 2>&1; then
		echo "ok 2 - the apt-get part runs as root"
	else
		echo "not ok 2 - the apt-get part runs as root"
		tail -n 20 "$tmp/apt.log" | sed 's/^/# /'
	fi
else
	# Say which of the packages it names are missing here.
	miss=
	if command -v dpkg > /dev/null 2>&1; then
		for p in $(printf '%s\n' "$apt" | sed 's/.*apt-get install -y//'); do
			dpkg -s "$p" > /dev/null 2>&1 || miss="$miss $p"
		done
	fi
	echo "ok 2 # SKIP apt-get not run (needs root and ZCP_TEST_APT=1: it installs packages)${miss:+; missing here:$miss}"
fi

# A fresh copy: what git tracks, else the whole source tree (a tarball's).
src=$tmp/src
mkdir "$src"
# (Only when the source tree is a git checkout's top: an unpacked tarball
# under "make distcheck" may lie inside an ignored directory of one.)
if command -v git > /dev/null 2>&1 &&
	[ "$(git -C "$top_srcdir" rev-parse --show-toplevel 2> /dev/null)" = "$(cd "$top_srcdir" && pwd -P)" ]; then
	(cd "$top_srcdir" && git ls-files -z | xargs -0 tar cf - 2> /dev/null) | (cd "$src" && tar xf -)
else
	(cd "$top_srcdir" && tar cf - --exclude='./build*' --exclude='./_build' --exclude='./_inst' . 2> /dev/null) |
		(cd "$src" && tar xf -)
fi
for tool in autoreconf automake libtoolize pkg-config make; do
	if ! command -v "$tool" > /dev/null 2>&1; then
		for k in 3 4 5 6; do echo "ok $k # SKIP $tool not installed"; done
		exit 0
	fi
done
if [ -z "$rest" ]; then
	echo "not ok 3 - line 1 runs ./autogen.sh ... && make demo"
	exit 0
fi
if [ "${ZCP_TEST_QUICKSTART:-}" != full ]; then
	boot=$(printf '%s\n' "$rest" | sed 's/ && make && make demo$//')
	if (cd "$src" && CFLAGS=-O0 sh -c "$boot") > "$tmp/boot.log" 2>&1 &&
		[ -x "$src/configure" ] && [ -f "$src/Makefile" ]; then
		echo "ok 3 - '$boot' of line 1 runs verbatim in a fresh copy (the build itself: ZCP_TEST_QUICKSTART=full)"
	else
		echo "not ok 3 - '$boot' of line 1 runs verbatim in a fresh copy"
		tail -n 30 "$tmp/boot.log" | sed 's/^/# /'
	fi
	for k in 4 5 6; do
		echo "ok $k # SKIP building a copy takes minutes: make check-quickstart (ZCP_TEST_QUICKSTART=full)"
	done
	exit 0
fi
start=$(date +%s)
(cd "$src" && CFLAGS=-O0 MAKEFLAGS=-j2 ZEROCP_NAME= sh -c "$rest") > "$tmp/line1.log" 2>&1
st=$?
if [ $st -eq 0 ] && grep -qx 'scenario: OK' "$tmp/line1.log"; then
	echo "ok 3 - line 1 after apt-get, verbatim in a fresh copy: builds and the main job says 'scenario: OK' ($(($(date +%s) - start)) s)"
else
	echo "not ok 3 - line 1 after apt-get, verbatim in a fresh copy (status $st)"
	tail -n 40 "$tmp/line1.log" | sed 's/^/# /'
	exit 0
fi
if (cd "$src" && MAKEFLAGS=-j2 sh -c "$line2 TESTS='tests/version tests/error-strings'") > "$tmp/line2.log" 2>&1 &&
	grep -q '^# PASS: *[1-9]' "$src/test-suite.log" && grep -q '^# FAIL: *0' "$src/test-suite.log"; then
	echo "ok 4 - line 2 ($line2) runs in the copy (TESTS limited to two programs)"
else
	echo "not ok 4 - line 2 ($line2) runs in the copy"
	tail -n 30 "$tmp/line2.log" | sed 's/^/# /'
fi
inst=$tmp/inst
if (cd "$src" && make install prefix="$inst") > "$tmp/install.log" 2>&1 &&
	LD_LIBRARY_PATH=$inst/lib "$inst/bin/zerocp-scenario" > "$tmp/inst-demo.log" 2>&1 &&
	grep -qx 'scenario: OK' "$tmp/inst-demo.log"; then
	echo "ok 5 - after make install the main job runs from bin/ (zerocp-scenario)"
else
	echo "not ok 5 - after make install the main job runs from bin/ (zerocp-scenario)"
	tail -n 5 "$tmp/install.log" | sed 's/^/# /'
	tail -n 20 "$tmp/inst-demo.log" 2> /dev/null | sed 's/^/# /'
fi
if [ -f "$inst/share/man/man1/zerocp.1" ] && [ -f "$inst/share/man/man7/zerocp.7" ] &&
	[ -f "$inst/share/man/man3/zcp_chunk_get.3" ] && [ -f "$inst/share/man/man3/zcp_chunk_release.3" ] &&
	[ -f "$inst/share/zerocp/zerocp.conf" ] && [ -f "$inst/share/zerocp/zerocp.service" ]; then
	echo "ok 6 - make install installs zerocp(1), zerocp(7), zcp_chunk_get(3) and its links, the example config and unit"
else
	echo "not ok 6 - make install installs the man pages, the example config and unit"
	(cd "$inst" && find . -type f | sed 's/^/# /')
fi
