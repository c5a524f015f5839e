#!/bin/sh
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

echo "1..17"
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
exit $failed
