#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/tool-errors.sh - the zerocp command's error paths and exit codes:
# 2 for usage errors (with a message saying what is wrong), 1 for runtime
# failures such as a missing manager, 0 for a clean of nothing.  No server
# is started; the names used are unique and never created.  TAP output.
#
# Environment (set by Makefile.am): top_builddir.

: "${top_builddir:=.}"
zerocp=$top_builddir/tools/zerocp

if [ ! -x "$zerocp" ]; then
	echo "1..0 # SKIP $zerocp not built"
	exit 0
fi

missing=terr$$missing
tmp=${TMPDIR:-/tmp}/zcp-tool-errors.$$
trap 'rm -f "$tmp".*; "$zerocp" clean --name "$missing" > /dev/null 2>&1' EXIT
trap 'exit 1' INT TERM HUP

n=0
failed=0
# expect STATUS PATTERN DESCRIPTION -- COMMAND...: run COMMAND, pass when it
# exits STATUS and its output (stdout and stderr) matches PATTERN (grep -E;
# empty: anything).  The output goes into the TAP log as comments.
expect() {
	want=$1
	pat=$2
	desc=$3
	shift 4
	"$@" > "$tmp.out" 2>&1
	got=$?
	n=$((n + 1))
	if [ "$got" -eq "$want" ] && { [ -z "$pat" ] || grep -Eq "$pat" "$tmp.out"; }; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc (exit $got, wanted $want)"
		failed=1
	fi
	sed 's/^/# /' "$tmp.out"
}

# Whether bench is built into this zerocp (its --help exits 0).
bench_built=0
"$zerocp" bench --help > /dev/null 2>&1 && bench_built=1
esc=$(printf 'x\033[31my')

echo "1..35"
expect 2 "unknown command 'frobnicate'" "unknown subcommand exits 2" -- \
	"$zerocp" frobnicate
expect 2 "Usage" "no subcommand exits 2 with the usage" -- "$zerocp"
expect 0 "serve" "--help exits 0 and lists the commands" -- "$zerocp" --help
expect 0 "^zerocp [0-9]+\.[0-9]+\.[0-9]+" "--version prints the version" -- \
	"$zerocp" --version
expect 2 "bad --pool '12y3'" "serve --pool 12y3 exits 2, naming the bad value" -- \
	"$zerocp" serve --name "$missing" --pool 12y3
expect 2 "bad --pool '4Kx'" "serve --pool without a count exits 2" -- \
	"$zerocp" serve --name "$missing" --pool 4Kx
expect 2 "bad --pool '0x5'" "serve --pool of size 0 exits 2" -- \
	"$zerocp" serve --name "$missing" --pool 0x5
expect 2 "needs a value" "serve --pool with no value exits 2" -- \
	"$zerocp" serve --name "$missing" --pool
expect 2 "bad --interval" "serve --interval -1 exits 2" -- \
	"$zerocp" serve --name "$missing" --interval -1
expect 2 "need --socket" "serve --socket-dir without --socket exits 2" -- \
	"$zerocp" serve --name "$missing" --socket-dir /nonexistent
expect 2 "bad --socket-dir 'rel': an absolute path" "serve --socket-dir of a relative path exits 2" -- \
	"$zerocp" serve --name "$missing" --socket --socket-dir rel
expect 2 "exclude each other" "stat with both --name and --socket exits 2" -- \
	"$zerocp" stat --name "$missing" --socket /nonexistent/zerocp.sock
expect 2 "invalid --name" "an invalid name exits 2" -- "$zerocp" stat --name 'a/b'
expect 2 "unknown option '--bogus'" "an unknown option exits 2" -- \
	"$zerocp" stat --name "$missing" --bogus
expect 1 "no such segment" "stat of a missing manager exits 1: no such segment" -- \
	"$zerocp" stat --name "$missing"
expect 1 "no such segment" "demo without a server exits 1: no such segment" -- \
	"$zerocp" demo --name "$missing"
expect 0 "no segments of manager '$missing'" "clean of a missing manager exits 0" -- \
	"$zerocp" clean --name "$missing"

# --- names from the environment, and names echoed back ------------------------
expect 2 'invalid \$ZEROCP_NAME' "an invalid \$ZEROCP_NAME is a usage error, like --name" -- \
	env ZEROCP_NAME='a/b' "$zerocp" stat
expect 2 'invalid \$ZEROCP_NAME' "demo checks \$ZEROCP_NAME too" -- \
	env ZEROCP_NAME='../x' "$zerocp" demo
expect 2 'invalid \$ZEROCP_NAME' "serve checks \$ZEROCP_NAME before creating anything" -- \
	env ZEROCP_NAME='.hidden' "$zerocp" serve
# The escape sequence must come back escaped, never raw.
"$zerocp" stat --name "$esc" > "$tmp.out" 2>&1
got=$?
n=$((n + 1))
if [ "$got" -eq 2 ] && grep -qF "'x\\x1b[31my'" "$tmp.out" && ! grep -q "$(printf '\033')" "$tmp.out"; then
	echo "ok $n - a name holding an escape sequence is echoed as \\x1b, never raw"
else
	echo "not ok $n - a name holding an escape sequence is echoed as \\x1b, never raw (exit $got)"
	failed=1
fi
sed 's/^/# /; s/\x1b/<ESC>/g' "$tmp.out"
env ZEROCP_NAME="$esc" "$zerocp" clean > "$tmp.out" 2>&1
got=$?
n=$((n + 1))
if [ "$got" -eq 2 ] && grep -qF 'x1b' "$tmp.out" && ! grep -q "$(printf '\033')" "$tmp.out"; then
	echo "ok $n - an escape sequence in \$ZEROCP_NAME is refused and echoed escaped"
else
	echo "not ok $n - an escape sequence in \$ZEROCP_NAME is refused and echoed escaped (exit $got)"
	failed=1
fi
sed 's/^/# /; s/\x1b/<ESC>/g' "$tmp.out"

# --- messages that say which limit -------------------------------------------
expect 2 "bad --gid '-5': a group id must be from 0 to" "serve --gid -5: out of range, not 'no such group'" -- \
	"$zerocp" serve --name "$missing" --gid -5
expect 2 "no such group" "serve --gid of an unknown group name: no such group" -- \
	"$zerocp" serve --name "$missing" --gid zcp-no-such-group
expect 2 "per-chunk limit .*ZCP_MAX_CHUNK_SIZE" "serve --pool of 16 PiB chunks names the per-chunk limit" -- \
	"$zerocp" serve --name "$missing" --pool 16777216Gx1
expect 2 "limit of 1048575 chunks per pool" "serve --pool of 2000000 chunks names the chunks-per-pool limit" -- \
	"$zerocp" serve --name "$missing" --pool 4Kx2000000
expect 2 "per-segment limit .*ZCP_MAX_SEGMENT_SIZE" "serve --pool 1Gx100000 (100 TiB) names the per-segment limit" -- \
	"$zerocp" serve --name "$missing" --pool 1Gx100000
expect 2 "already given" "serve --pool with the same size twice says so" -- \
	"$zerocp" serve --name "$missing" --pool 4Kx2 --pool 4096x3
# A build without memfd refuses --socket itself, as a usage error.
sd_code=1
"$zerocp" serve --name "$missing" --socket --socket-dir "/nonexistent-zcp$$/sock" 2>&1 |
	grep -q "does not support" && sd_code=2
expect $sd_code "socket directory '/nonexistent-zcp$$/sock': its parent '/nonexistent-zcp$$' does not exist|does not support" \
	"serve --socket-dir under a missing directory names the directory" -- \
	"$zerocp" serve --name "$missing" --socket --socket-dir "/nonexistent-zcp$$/sock"
expect 2 "bad --owner '-3'" "stat --owner -3 exits 2" -- \
	"$zerocp" stat --name "$missing" --owner -3
expect 2 "no such user" "clean --owner of an unknown user exits 2" -- \
	"$zerocp" clean --name "$missing" --owner zcp-no-such-user

# --- bench --only: every name must be a figure's ------------------------------
if [ $bench_built -eq 1 ]; then
	expect 2 "empty figure name" "bench --only=,, is a usage error, not 'everything'" -- \
		"$zerocp" bench --quick --only=,,
	expect 2 "empty figure name" "bench --only '' is a usage error" -- \
		"$zerocp" bench --quick --only ''
	expect 2 "empty figure name" "bench --only=get_release,,batch is a usage error" -- \
		"$zerocp" bench --quick --only=get_release,,batch
	long=get_release
	i=0
	while [ $i -lt 30 ]; do
		long="$long,get_release"
		i=$((i + 1))
	done
	expect 2 "longer than any list" "bench --only with a list over 255 bytes is a usage error" -- \
		"$zerocp" bench --quick --only="$long"
else
	for d in ",," "''" "a,,b" "over 255 bytes"; do
		n=$((n + 1))
		echo "ok $n # SKIP bench not built (--only $d)"
	done
fi
exit $failed
