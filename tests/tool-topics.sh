#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/tool-topics.sh - the publish/subscribe subcommands end to end
# against a running "zerocp serve":
#   - "echo --count N" started first gets exactly the N samples of a
#     "pub --count N", in order, with the text;
#   - "pub --block" through a queue of 2 loses nothing to a slower echo;
#   - a late echo gets nothing (history 0), but with --history it gets
#     the last samples, even of a publisher gone;
#   - "topics --json" shows a running publisher and subscriber, and is
#     one valid JSON object;
#   - "hz" measures a "pub --rate 100" within a broad range;
#   - pub and echo stop on SIGINT/SIGTERM with status 0;
#   - usage errors exit 2, an invalid topic name or a file too large for
#     the pools exit 1 with a message;
#   - nothing is left in /dev/shm.
# TAP output.
#
# Environment (set by Makefile.am): top_srcdir, top_builddir.  The manager
# is named ttop<pid>, so parallel runs do not collide; the EXIT trap kills
# every process started here and removes its segments.  Every wait is
# bounded (see tests/scenario.sh for why the traps and watchdogs are
# written this way).

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
zerocp=$top_builddir/tools/zerocp

# Shared helpers: skip_unless_runnable, tap, nap, show, reap, limit,
# forget, kill_pids, is_main_shell.
. "$top_srcdir/tests/tool-lib.sh"
skip_unless_runnable

N=ttop$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zcp-topics-test.XXXXXX") || exit 1
pids=

cleanup() {
	is_main_shell || return 0
	kill_pids
	"$zerocp" clean --force --name "$N" > /dev/null 2>&1 ||
		"$zerocp" clean --name "$N" > /dev/null 2>&1
	[ -n "$KEEP" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
failed=0

# wait_for PATTERN FILE: up to 10 s for a line matching PATTERN (grep -E).
wait_for() {
	i=0
	while ! grep -Eq "$1" "$2" 2> /dev/null; do
		[ $i -lt 100 ] || return 1
		nap
		i=$((i + 1))
	done
	return 0
}

# stop PID SIGNAL: signal it and reap it within 10 s; status in $st.
stop() {
	kill "-$2" "$1" 2> /dev/null
	reap "$1" 10
}

# topics_json: "topics --json" of our manager, into $tmp/topics.json.
topics_json() {
	limit 10 "$zerocp" topics --name "$N" --json > "$tmp/topics.json" 2> "$tmp/topics.err"
}

# wait_topic PATTERN: up to 10 s for "topics --json" to match PATTERN
# (grep -E), e.g. a topic's subscriber being there.
wait_topic() {
	j=0
	while :; do
		topics_json
		grep -Eq "$1" "$tmp/topics.json" && return 0
		[ $j -lt 100 ] || return 1
		nap
		j=$((j + 1))
	done
}

# expect STATUS PATTERN DESCRIPTION -- COMMAND...: as in tool-errors.sh,
# with a time limit.
expect() {
	want=$1
	pat=$2
	desc=$3
	shift 4
	limit 10 "$@" > "$tmp/out" 2>&1
	got=$?
	[ "$got" -eq "$want" ] && { [ -z "$pat" ] || grep -Eq "$pat" "$tmp/out"; }
	tap $? "$desc (exit $got)"
	show "$tmp/out"
}

echo "1..28"

"$zerocp" serve --name "$N" --interval 0.2 > "$tmp/serve.log" 2>&1 &
spid=$!
pids="$pids $spid"
wait_for '^ready$' "$tmp/serve.log"
tap $? "serve prints 'ready'" || show "$tmp/serve.log"

# --- echo first, then pub: every sample, in order -------------------------
"$zerocp" echo chat --name "$N" --count 5 --json --text --timeout 10 \
	> "$tmp/echo1.out" 2> "$tmp/echo1.err" &
epid=$!
pids="$pids $epid"
wait_topic '"name":"chat".*"subscribers":\[\{'
tap $? "topics --json lists echo's subscriber" || show "$tmp/topics.json"
limit 10 "$zerocp" pub chat --name "$N" --count 5 --text "hello topic" > "$tmp/pub1.out" 2>&1
tap $? "pub --count 5 exits 0" || show "$tmp/pub1.out"
grep -q '^published 5 samples$' "$tmp/pub1.out"
tap $? "pub says it published 5 samples" || show "$tmp/pub1.out"
reap "$epid" 10
show "$tmp/echo1.out"
show "$tmp/echo1.err"
[ "$st" -eq 0 ] && [ "$(wc -l < "$tmp/echo1.out")" -eq 5 ]
tap $? "echo --count 5 gets 5 samples and exits 0 (exit $st)"
k=0
ok=0
while read -r line; do
	case $line in
	'{"topic":"chat","origin":'*',"sequence":'$k',"timestamp_ns":'*',"size":12,"encoding":"text","data":"hello topic"}') ;;
	*) ok=1 ;;
	esac
	k=$((k + 1))
done < "$tmp/echo1.out"
tap $ok "the samples come in order (sequence 0 to 4) with the text and its NUL (12 bytes)"
grep -q '5 samples received, 0 lost' "$tmp/echo1.err"
tap $? "echo reports received and lost samples on stderr"

# --- pub --block: a queue of 2, 2000 samples, none lost -------------------
"$zerocp" echo flow --name "$N" --count 2000 --capacity 2 --timeout 60 \
	> "$tmp/echo2.out" 2> "$tmp/echo2.err" &
epid=$!
pids="$pids $epid"
wait_topic '"name":"flow".*"subscribers":\[\{'
tap $? "topics --json lists the second echo's subscriber" || show "$tmp/topics.json"
limit 60 "$zerocp" pub flow --name "$N" --count 2000 --capacity 2 --block --size 16 --quiet \
	> "$tmp/pub2.out" 2>&1
tap $? "pub --block --count 2000 exits 0" || show "$tmp/pub2.out"
reap "$epid" 60
grep -q '2000 samples received, 0 lost' "$tmp/echo2.err"
tap $? "pub --block: echo got all 2000 samples through a queue of 2, none lost (exit $st)" ||
	show "$tmp/echo2.err"

# --- a late subscriber ----------------------------------------------------
expect 1 'timed out after 0.5 s with 0 of 1' "a late echo gets nothing (history 0)" -- \
	"$zerocp" echo chat --name "$N" --count 1 --timeout 0.5
# A closed publisher's ring keeps the topic's last --history samples.
limit 10 "$zerocp" pub hist --name "$N" --count 5 --history 3 --size 32 --quiet
expect 0 '^#2 from 0x[0-9a-f]+ at [0-9]+\.[0-9]{9}: 32 bytes: 02 03 04 ' \
	"a late echo gets the last --history samples, from #2 on" -- \
	"$zerocp" echo hist --name "$N" --count 3 --timeout 5
[ "$(grep -c '^#[234] from .*: 32 bytes: ' "$tmp/out")" -eq 3 ]
tap $? "... exactly #2, #3 and #4 (the counter pattern: byte k of #s is s + k)"

"$zerocp" pub kept --name "$N" --count 0 --rate 50 --history 3 --size 32 \
	> "$tmp/pub2.out" 2>&1 &
ppid=$!
pids="$pids $ppid"
wait_for '^publisher ' "$tmp/pub2.out"

# --- topics --json while a publisher and a subscriber run ----------------
"$zerocp" echo kept --name "$N" > /dev/null 2> "$tmp/echo2.err" &
e2pid=$!
pids="$pids $e2pid"
wait_topic '"name":"kept".*"subscribers":\[\{"pid":'"$e2pid"','
tap $? "topics --json shows the running echo as a subscriber of 'kept'" ||
	show "$tmp/topics.json"
show "$tmp/topics.json"
grep -Eq '"name":"kept",.*"capacity":16,"history":3,.*"publishers":\[\{"pid":'"$ppid"',"alive":true,[^]]*"closed":false' "$tmp/topics.json"
tap $? "topics --json shows pub alive and open, and the topic's history 3"
case $(cat "$tmp/topics.json") in
'{"version":1,"manager":"'"$N"'",'*'"topics":['*']}') r=0 ;;
*) r=1 ;;
esac
tap $r "topics --json is one object with version 1 and a topics array"
if command -v python3 > /dev/null 2>&1; then
	python3 -m json.tool "$tmp/topics.json" > /dev/null 2>&1
	tap $? "topics --json is valid JSON (python3 -m json.tool)"
else
	[ "$(grep -c . "$tmp/topics.json")" -eq 1 ] && ! grep -q ',[]}]' "$tmp/topics.json"
	tap $? "topics --json is one line without dangling commas (no python3)"
fi
limit 10 "$zerocp" topics --name "$N" > "$tmp/topics.txt" 2>&1
show "$tmp/topics.txt"
grep -q "^topic 'kept': untyped, capacity 16, history 3;" "$tmp/topics.txt" &&
	grep -q "^  subscriber: pid $e2pid, alive" "$tmp/topics.txt"
tap $? "topics lists the topic and its subscriber as text"

# --- signals: a clean exit, status 0 -------------------------------------
stop "$ppid" INT
[ "$st" -eq 0 ] && grep -Eq '^published [0-9]+ samples$' "$tmp/pub2.out"
tap $? "pub --count 0 stops on SIGINT with status 0 (exit $st)" || show "$tmp/pub2.out"
stop "$e2pid" TERM
[ "$st" -eq 0 ] && grep -q 'received, 0 lost' "$tmp/echo2.err"
tap $? "echo stops on SIGTERM with status 0 and reports lost samples (exit $st)" ||
	show "$tmp/echo2.err"

# --- hz ---------------------------------------------------------------------
"$zerocp" pub fast --name "$N" --count 0 --rate 100 --quiet > /dev/null 2>&1 &
fpid=$!
pids="$pids $fpid"
limit 10 "$zerocp" hz fast --name "$N" --count 2 > "$tmp/hz.out" 2>&1
r=$?
show "$tmp/hz.out"
rate=$(sed -n 's/^rate \([0-9]*\)\.[0-9]* Hz, mean gap .*, max gap .*, window [0-9]*, lost [0-9]*$/\1/p' "$tmp/hz.out" | tail -n 1)
[ $r -eq 0 ] && [ -n "$rate" ] && [ "$rate" -ge 30 ] && [ "$rate" -le 300 ]
tap $? "hz --count 2 of pub --rate 100 says 30 to 300 Hz (${rate:-no rate})"
stop "$fpid" TERM
[ "$st" -eq 0 ]
tap $? "pub stops on SIGTERM with status 0 (exit $st)"

# --- errors -------------------------------------------------------------------
expect 1 "invalid argument" "an invalid topic name exits 1 with the library's message" -- \
	"$zerocp" pub 'a/b' --name "$N"
head -c 20000 /dev/zero > "$tmp/big"
expect 1 "larger than the largest pool's chunks \(16384 bytes\)" \
	"pub --file larger than every chunk exits 1, naming the limit" -- \
	"$zerocp" pub chat --name "$N" --file "$tmp/big"
expect 2 "TOPIC is missing" "pub without a topic exits 2" -- "$zerocp" pub --name "$N"
expect 2 "bad --rate" "pub --rate -1 exits 2" -- "$zerocp" pub chat --name "$N" --rate -1
usage_ok=0
for args in "echo chat --count x" "echo chat --text --hex" "hz chat --window 0" \
	"topics extra" "pub chat --text a --size 4" "echo a b"; do
	# Not under limit(): a usage error never attaches, nor waits.
	# shellcheck disable=SC2086 # split on purpose
	"$zerocp" $args --name "$N" > "$tmp/out" 2>&1
	st=$?
	[ "$st" -eq 2 ] || { usage_ok=1; echo "# $args: exit $st"; show "$tmp/out"; }
done
tap $usage_ok "other usage errors of echo, hz, topics and pub exit 2"

# --- nothing left ---------------------------------------------------------------
stop "$spid" TERM
left=$(ls /dev/shm 2> /dev/null | grep "^zerocp_$N")
[ "$st" -eq 0 ] && [ -z "$left" ]
tap $? "the server stops and no /dev/shm/zerocp_$N* segment is left" || echo "# left: $left"

[ "$n" -eq 25 ] || echo "# ran $n tests, planned 25"
exit $failed
