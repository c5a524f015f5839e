#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/scenario.sh - the zerocp command end to end, as the seed's
# scripts use it: tools/zerocp-scenario passes; "zerocp stat --json"
# describes a running server; a second server on the same name is
# refused; after kill -9 of a server a new one replaces its segments, but
# refuses (without --takeover) while a client is still attached; a server
# reclaims the chunks of a client killed while holding them.  TAP output.
#
# Environment (set by Makefile.am): top_srcdir, top_builddir.  Managers are
# named tscn<pid><letter>, so parallel runs do not collide; the EXIT trap
# kills every process started here and removes their segments.  Every wait
# is bounded: a command that may not return runs under limit(), a process
# stops through stop(), both with a SIGKILL watchdog.
#
# Signals to children: a background job is, until its exec, a copy of this
# shell with our traps (bash, which "make check" uses, keeps them until
# then); a TERM landing in that window used to run "exit 1", hence
# cleanup(), in the copy: it killed our processes, removed our segments and
# $tmp mid-run.  So a watchdog is only ever stopped with KILL, and
# cleanup() does nothing outside the main shell.

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
zerocp=$top_builddir/tools/zerocp
script=$top_srcdir/tools/zerocp-scenario

# Shared helpers: skip_unless_runnable, tap, nap, show, reap, limit,
# forget, kill_pids, is_main_shell, seed_pools_idle.
. "$top_srcdir/tests/tool-lib.sh"
skip_unless_runnable

base=tscn$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zcp-scenario-test.XXXXXX") || exit 1
pids=

# Kill what is still running (it may be stopped, hence KILL), remove every
# segment of our names, and the temporary files.  Only in the main shell:
# a copy that got a signal before its exec must not undo the test.
cleanup() {
	is_main_shell || return 0
	kill_pids
	for x in a b c s; do
		"$zerocp" clean --name "$base$x" > /dev/null 2>&1
	done
	rm -rf "$tmp"
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

# start_server NAME LOG [OPTIONS]: start "zerocp serve" in the background;
# its pid in $spid.  Short interval: the reclaim test waits for one.
start_server() {
	sname=$1
	slog=$2
	shift 2
	"$zerocp" serve --name "$sname" --interval 0.2 "$@" > "$slog" 2>&1 &
	spid=$!
	pids="$pids $spid"
}

# stop PID SIGNAL: signal it and reap it within 10 s; status in $st.
stop() {
	kill "-$2" "$1" 2> /dev/null
	reap "$1" 10
}

# json_process JSON PID: the object of the process table entry of PID.
json_process() {
	printf '%s\n' "$1" | sed -n 's/.*{\("slot":[0-9]*,"pid":'"$2"',[^}]*\)}.*/\1/p'
}

echo "1..21"

# --- 1: the seed's scenario in one command --------------------------------
limit 60 env ZEROCP="$zerocp" sh "$script" --name "${base}s" > "$tmp/scenario.out" 2>&1
r=$?
show "$tmp/scenario.out"
grep -qx 'scenario: OK' "$tmp/scenario.out"
tap $((r + $?)) "zerocp-scenario runs the seed's scenario and prints 'scenario: OK'"

# --- 2-8: stat --json of a running server ---------------------------------
A=${base}a
start_server "$A" "$tmp/a.log"
apid=$spid
wait_for '^ready$' "$tmp/a.log"
tap $? "serve prints 'ready'" || show "$tmp/a.log"

json=$(limit 10 "$zerocp" stat --name "$A" --json 2> "$tmp/stat.err")
tap $? "stat --json exits 0"
printf '# %s\n' "$json"
case $json in
'{"name":"'"$A"'",'*'}') r=0 ;;
*) r=1 ;;
esac
tap $r "stat --json prints one object naming the manager"
printf '%s\n' "$json" | grep -q '"creator_alive":true'
tap $? "stat --json: creator alive"
seed_pools_idle "$json"
tap $? "stat --json: the seed's four pools, all free (serve takes no chunk)"
proc=$(json_process "$json" "$apid")
echo "# server entry: $proc"
case $proc in
*'"alive":true,"self":false,'*'"chunks":0,'*) r=0 ;;
*) r=1 ;;
esac
tap $r "stat --json: the server's process, alive, holding no chunk"
# Read-only, stat takes no process slot; a library without read-only
# attach makes it a process of the table, listed as self, holding nothing.
case $json in
*'"read_only":true,'*) ! printf '%s\n' "$json" | grep -q '"self":true' ;;
*) printf '%s\n' "$json" | grep -q '"self":true,[^}]*"chunks":0,' ;;
esac
tap $? "stat --json: stat itself takes no slot (read-only), or is listed as self holding nothing"

# --- 9-10: one server per name -------------------------------------------
limit 10 "$zerocp" serve --name "$A" > "$tmp/second.log" 2>&1
r=$?
show "$tmp/second.log"
[ $r -eq 1 ] && grep -q "already running for $A (pid $apid)" "$tmp/second.log"
tap $? "a second serve on the same name exits 1: 'a server is already running'"
kill -0 "$apid" 2> /dev/null
tap $? "the first server still runs"

# --- 11-13: reclaim of a killed client --------------------------------------
"$zerocp" demo --name "$A" --hold 60 > "$tmp/hold.log" 2>&1 &
dpid=$!
pids="$pids $dpid"
wait_for '^holding' "$tmp/hold.log"
tap $? "demo --hold holds its chunks" || show "$tmp/hold.log"
stop "$dpid" KILL
wait_for ' info: Reclaimed 1 dead process' "$tmp/a.log"
tap $? "the server reclaims the killed client's chunks" || show "$tmp/a.log"
json=$(limit 10 "$zerocp" stat --name "$A" --json 2> /dev/null)
printf '%s\n' "$json" | grep -qF '"index":0,"chunk_size":256,"total":100,"used":0,"free":100,'
tap $? "after reclaim no chunk is in use"

# --- 14-17: restart after kill -9, refused while a client is attached -------
"$zerocp" demo --name "$A" --hold 60 > "$tmp/hold2.log" 2>&1 &
dpid=$!
pids="$pids $dpid"
wait_for '^holding' "$tmp/hold2.log" || show "$tmp/hold2.log"
stop "$apid" KILL
json=$(limit 10 "$zerocp" stat --name "$A" --json 2> /dev/null)
printf '# %s\n' "$json"
printf '%s\n' "$json" | grep -q '"creator_alive":false' &&
	[ -n "$(json_process "$json" "$apid" | grep '"alive":false')" ]
tap $? "after kill -9 of the server, stat shows it dead"
limit 10 "$zerocp" serve --name "$A" --interval 0.2 > "$tmp/refused.log" 2>&1
r=$?
show "$tmp/refused.log"
[ $r -eq 1 ] && grep -q "still attached: $dpid; .*--takeover" "$tmp/refused.log"
tap $? "a new serve refuses while a client of the dead server is attached, naming it"
start_server "$A" "$tmp/take.log" --takeover
tpid=$spid
wait_for '^ready$' "$tmp/take.log" &&
	grep -q "taking over: replacing segments of dead server $apid; .*: $dpid" "$tmp/take.log"
tap $? "serve --takeover replaces the segments anyway" || show "$tmp/take.log"
stop "$dpid" KILL
stop "$tpid" TERM
[ "$st" -eq 0 ] && grep -q ' info: Server stopped' "$tmp/take.log"
tap $? "the takeover server stops on SIGTERM, status 0" || show "$tmp/take.log"

# --- 18-20: restart after kill -9 with no one attached ---------------------
B=${base}b
start_server "$B" "$tmp/b.log"
bpid=$spid
wait_for '^ready$' "$tmp/b.log" || show "$tmp/b.log"
stop "$bpid" KILL
start_server "$B" "$tmp/b2.log"
b2pid=$spid
wait_for '^ready$' "$tmp/b2.log" &&
	grep -q " info: replacing segments of dead server $bpid\$" "$tmp/b2.log"
tap $? "after kill -9 a new serve comes up: 'replacing segments of dead server'" ||
	show "$tmp/b2.log"
json=$(limit 10 "$zerocp" stat --name "$B" --json 2> /dev/null)
[ -n "$(json_process "$json" "$b2pid" | grep '"alive":true,"self":false,.*"chunks":0')" ] &&
	[ -z "$(json_process "$json" "$bpid")" ]
tap $? "the new manager lists the new server, not the dead one"
stop "$b2pid" INT
[ "$st" -eq 0 ]
tap $? "the new server stops on SIGINT, status 0" || show "$tmp/b2.log"

# --- 21: nothing left --------------------------------------------------------
left=$(ls /dev/shm 2> /dev/null | grep "^zerocp_$base")
[ -z "$left" ]
tap $? "no /dev/shm/zerocp_$base* segment left" || echo "# left: $left"

[ "$n" -eq 21 ] || echo "# ran $n tests, planned 21"
exit $failed
