#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/tool-daemon.sh - the operator's zerocp: "serve" as a daemon (config
# file, log lines with timestamp and level, --quiet, status on change and
# on SIGUSR1, --ready-fd, sd_notify), "list" and "list --json", "stat
# --json" with its schema and version, and "top" (plain text when stdout
# is not a terminal; 'q' quits on a terminal).  TAP output.
#
# Managers are named tdmn<pid><letter>; the EXIT trap kills every process
# started here and removes their segments.

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
zerocp=$top_builddir/tools/zerocp

. "$top_srcdir/tests/tool-lib.sh"
skip_unless_runnable

base=tdmn$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zcp-daemon-test.XXXXXX") || exit 1
pids=

cleanup() {
	is_main_shell || return 0
	kill_pids
	for x in a b c t x; do
		"$zerocp" clean --name "$base$x" --force > /dev/null 2>&1
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
failed=0
echo "1..30"

# wait_for PATTERN FILE: up to 10 s for a line matching PATTERN (grep -E).
wait_for() {
	i=0
	while ! grep -Eq "$1" "$2" 2> /dev/null; do
		[ $i -lt 100 ] || return 1
		nap
		i=$((i + 1))
	done
}

# stop PID SIG: signal a server and reap it (status in $st).
stop() {
	kill -"$2" "$1" 2> /dev/null
	reap "$1" 10
}

have_inih=0
"$zerocp" serve -c /nonexistent/zerocp.conf > "$tmp/noconf.log" 2>&1
grep -q 'built without libinih' "$tmp/noconf.log" || have_inih=1

# --- 1-7: serve from a config file ---------------------------------------
A=${base}a
cat > "$tmp/a.conf" << EOF
; a test config
[server]
name = $A
interval = 0.2
max-processes = 4
chunk-ages = true
topic-queue = 32

[pool small]
size = 256
count = 10

[pool large]
size = 4K
count = 3
EOF
if [ $have_inih -eq 1 ]; then
	"$zerocp" serve -c "$tmp/a.conf" > "$tmp/a.log" 2>&1 &
	apid=$!
	pids="$pids $apid"
	wait_for '^ready$' "$tmp/a.log"
	tap $? "serve -c FILE comes up" || show "$tmp/a.log"
	json=$(limit 10 "$zerocp" stat --name "$A" --json)
	printf '%s\n' "$json" | grep -q '"process_slots":4,' &&
		printf '%s\n' "$json" | grep -qF '{"index":0,"chunk_size":256,"total":10,' &&
		printf '%s\n' "$json" | grep -qF '{"index":1,"chunk_size":4096,"total":3,'
	tap $? "the manager has the file's pools and process slots" || echo "# $json"
	grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[-+][0-9]{4} info: ' "$tmp/a.log"
	tap $? "log lines carry a timestamp and a level"
	c1=$(grep -c 'info: Pool status' "$tmp/a.log")
	sleep 1
	c2=$(grep -c 'info: Pool status' "$tmp/a.log")
	[ "$c1" -eq 1 ] && [ "$c2" -eq 1 ]
	tap $? "status is logged once at start, not every interval while nothing changes ($c1, $c2)"
	limit 20 "$zerocp" demo --name "$A" --hold 0.6 > "$tmp/ademo.log" 2>&1
	wait_for 'info: Pool status \(changed\)' "$tmp/a.log"
	tap $? "a change (a client's chunks) is logged" || show "$tmp/a.log"
	kill -USR1 "$apid"
	wait_for 'info: Pool status \(SIGUSR1\)' "$tmp/a.log"
	tap $? "SIGUSR1 logs the status and does not stop the server" || show "$tmp/a.log"
	"$zerocp" serve -c "$tmp/a.conf" --name "${base}x" --pool 1Kx1 --interval 0.2 \
		--ready-fd 9 9> "$tmp/readyfd" > "$tmp/x.log" 2>&1 &
	xpid=$!
	pids="$pids $xpid"
	wait_for '^ready$' "$tmp/x.log"
	grep -qx 'READY=1' "$tmp/readyfd" &&
		limit 10 "$zerocp" stat --name "${base}x" --json | grep -q '"pools":\[{"index":0,"chunk_size":1024,"total":1,[^]]*\]'
	tap $? "the command line overrides the file (--name, --pool), --ready-fd says READY=1" ||
		show "$tmp/x.log"
	stop "$xpid" TERM
else
	for k in 1 2 3 4 5 6 7; do
		n=$((n + 1))
		echo "ok $n # SKIP built without libinih"
	done
	"$zerocp" serve --name "$A" --pool 256x10 --pool 4Kx3 --interval 0.2 \
		--max-processes 4 > "$tmp/a.log" 2>&1 &
	apid=$!
	pids="$pids $apid"
	wait_for '^ready$' "$tmp/a.log"
fi

# --- 8-10: config file errors ----------------------------------------------
printf '[server]\nname = x\nbogus = 1\n' > "$tmp/bad.conf"
"$zerocp" serve -c "$tmp/bad.conf" > "$tmp/bad.log" 2>&1
r=$?
if [ $have_inih -eq 1 ]; then
	[ $r -eq 2 ] && grep -q "bad.conf':3: unknown key 'bogus' in \[server\]" "$tmp/bad.log"
	tap $? "an unknown key is a usage error naming file and line" || show "$tmp/bad.log"
	printf '[pool a]\nsize = 256\n' > "$tmp/bad2.conf"
	"$zerocp" serve -c "$tmp/bad2.conf" > "$tmp/bad2.log" 2>&1
	[ $? -eq 2 ] && grep -q 'needs both size and count' "$tmp/bad2.log"
	tap $? "a pool without a count is refused" || show "$tmp/bad2.log"
	printf '[topics]\nx = 1\n' > "$tmp/bad3.conf"
	"$zerocp" serve -c "$tmp/bad3.conf" > "$tmp/bad3.log" 2>&1
	[ $? -eq 2 ] && grep -q 'unknown section \[topics\]' "$tmp/bad3.log"
	tap $? "an unknown section is refused" || show "$tmp/bad3.log"
else
	[ $r -eq 2 ] && grep -q 'built without libinih' "$tmp/bad.log"
	tap $? "without libinih, serve -c fails with a clear message" || show "$tmp/bad.log"
	for k in 9 10; do
		n=$((n + 1))
		echo "ok $n # SKIP built without libinih"
	done
fi

# --- 11-12: --quiet, sd_notify ---------------------------------------------
B=${base}b
"$zerocp" serve --name "$B" --quiet --interval 0.2 > "$tmp/b.log" 2>&1 &
bpid=$!
pids="$pids $bpid"
wait_for '^ready$' "$tmp/b.log"
[ "$(grep -c ' info: ' "$tmp/b.log")" -eq 0 ]
tap $? "--quiet logs no info line" || show "$tmp/b.log"
stop "$bpid" INT
if command -v python3 > /dev/null 2>&1; then
	sock=$tmp/notify.sock
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(10)
print(s.recv(256).decode().replace("\n", ";"), flush=True)
' "$sock" > "$tmp/notify.out" 2>&1 &
	ppid_=$!
	pids="$pids $ppid_"
	i=0
	while [ ! -S "$sock" ] && [ $i -lt 50 ]; do nap; i=$((i + 1)); done
	NOTIFY_SOCKET=$sock "$zerocp" serve --name "$B" --interval 0.2 > "$tmp/b2.log" 2>&1 &
	bpid=$!
	pids="$pids $bpid"
	reap "$ppid_" 10
	grep -q "^READY=1;MAINPID=$bpid" "$tmp/notify.out"
	tap $? "with \$NOTIFY_SOCKET set, serve sends READY=1 and MAINPID (sd_notify)" ||
		show "$tmp/notify.out"
	stop "$bpid" INT
else
	n=$((n + 1))
	echo "ok $n # SKIP no python3 to listen on a notify socket"
fi

# --- 13-16: list ---------------------------------------------------------------
out=$(limit 10 "$zerocp" list)
tap $? "list exits 0"
printf '%s\n' "$out" | grep -Eq "^$A +shm +[0-9.]+ [KMG]?i?B +[0-9]+ +$apid alive +1\$"
tap $? "list shows the manager: name, backend, size, owner, creator alive, 1 process" ||
	printf '# %s\n' "$out"
json=$(limit 10 "$zerocp" list --json)
case $json in
'{"schema":"zerocp-list","version":1,"managers":['*']}') r=0 ;;
*) r=1 ;;
esac
tap $r "list --json: one object with schema and version"
printf '%s\n' "$json" | grep -q '{"name":"'"$A"'","backend":"shm","path":"/dev/shm/zerocp_'"$A"'_mgmt","owner_uid":[0-9]*,"error":null,"size":[0-9]*,"mgmt_size":[0-9]*,"data_size":[0-9]*,"pools":2,"chunks":13,"creator_pid":'"$apid"',"creator_alive":true,"process_slots":4,"processes":1,"dead_processes":0}'
tap $? "list --json describes the manager" || printf '# %s\n' "$json"

# --- 17-19: stat --json schema, full table -----------------------------------
json=$(limit 10 "$zerocp" stat --name "$A" --json)
printf '%s\n' "$json" | grep -q '^{"name":"'"$A"'","schema":"zerocp-stat","version":1,"creator_pid":'"$apid"','
tap $? "stat --json carries schema, version and creator_pid" || printf '# %s\n' "$json"
for k in 1 2 3; do
	"$zerocp" demo --name "$A" --hold 30 > "$tmp/h$k.log" 2>&1 &
	pids="$pids $!"
done
wait_for '^holding' "$tmp/h1.log"
wait_for '^holding' "$tmp/h2.log"
wait_for '^holding' "$tmp/h3.log"
out=$(limit 10 "$zerocp" stat --name "$A")
[ "$(printf '%s\n' "$out" | grep -c '^  slot [0-9]: pid [0-9]*, .*alive')" -eq 4 ] &&
	! printf '%s\n' "$out" | grep -q 'this stat'
tap $? "stat of a full table (4 of 4 slots) lists all four processes, taking none" ||
	printf '# %s\n' "$out"
printf '%s\n' "$out" | grep -Eq '^    pool [0-9]+: [0-9]+ chunks?$' &&
	limit 10 "$zerocp" stat --name "$A" --json | grep -q '"pools_held":\[[0-9]'
tap $? "stat shows the chunks each holding process holds per pool (text and --json)" ||
	printf '# %s\n' "$out"
out=$(limit 10 "$zerocp" stat --name "$A" --chunks)
json=$(limit 10 "$zerocp" stat --name "$A" --chunks --json)
printf '%s\n' "$out" | grep -Eq '^  pool [0-9]+ chunk [0-9]+: size [0-9]+ of [0-9]+, holders [0-9]+, age [^,]+, handle 0x' &&
	printf '%s\n' "$json" | grep -q '"chunks":\[{"pool":[0-9]*,"index":[0-9]*,"size":[0-9]*,"capacity":[0-9]*,"holders":\[[0-9]'
tap $? "stat --chunks lists every held chunk with its holders (text and --json)" ||
	{ printf '# %s\n' "$out"; printf '# %s\n' "$json"; }

# --- 19-22: top ---------------------------------------------------------------
out=$(limit 10 "$zerocp" top --name "$A" -n 2 --interval 0.1)
tap $? "top -n 2 exits 0"
[ "$(printf '%s\n' "$out" | grep -c '^zerocp top - ')" -eq 2 ] &&
	! printf '%s\n' "$out" | grep -q "$(printf '\033')"
tap $? "not on a terminal: two plain-text frames, no escape sequence"
printf '%s\n' "$out" | grep -Eq '^ +0 +256 +[0-9]+ +[0-9]+ +10 +[0-9]+ +\[[#.]{30}\] +[0-9]+%$' &&
	[ "$(printf '%s\n' "$out" | grep -c "alive")" -ge 10 ]
tap $? "top shows pools with a bar and the processes" || printf '# %s\n' "$out"
if command -v script > /dev/null 2>&1 && script -qec true /dev/null > /dev/null 2>&1; then
	(sleep 1; printf q) | script -qec "$zerocp top --name $A --interval 0.2" /dev/null \
		> "$tmp/tty.out" 2>&1 &
	tpid=$!
	pids="$pids $tpid"
	reap "$tpid" 10
	[ "$st" -eq 0 ] && grep -q "$(printf '\033')\[H" "$tmp/tty.out" && grep -q 'q quits' "$tmp/tty.out"
	tap $? "on a terminal top redraws in place and 'q' quits (status $st)"
else
	n=$((n + 1))
	echo "ok $n # SKIP no script(1) to give top a terminal"
fi

# --- topics: serve --topics, stat and top show them ---------------------------
T=${base}t
"$zerocp" serve --name "$T" --topics 2 --topic-publishers 2 --topic-subscribers 2 \
	--topic-queue 16 --interval 0.2 > "$tmp/t.log" 2>&1 &
tpid_s=$!
pids="$pids $tpid_s"
wait_for '^ready$' "$tmp/t.log"
grep -q 'info: topics: up to 2, each with up to 2 publishers and 2 subscribers, queues of up to 16 samples' "$tmp/t.log"
tap $? "serve --topics 2 ... logs the topic table size" || show "$tmp/t.log"
for tp in one two; do
	"$zerocp" pub "$tp" --name "$T" --count 0 --rate 20 --quiet > "$tmp/pub-$tp.log" 2>&1 &
	pids="$pids $!"
done
i=0
while [ "$(limit 10 "$zerocp" stat --name "$T" | grep -c "^  topic '[a-z]*': publishers 1, subscribers 0, published [1-9]")" -lt 2 ]; do
	[ $i -lt 100 ] || break
	nap
	i=$((i + 1))
done
out=$(limit 10 "$zerocp" stat --name "$T")
json=$(limit 10 "$zerocp" stat --name "$T" --json)
printf '%s\n' "$out" | grep -q "^  topic 'one': publishers 1, subscribers 0, published [0-9]*, lost 0, kept [0-9]*$" &&
	printf '%s\n' "$out" | grep -q '^    publisher  0x[0-9a-f]*: pid [0-9]*, alive' &&
	printf '%s\n' "$json" | grep -q '"topics":\[.*{"index":[0-9]*,"name":"one","type":{.*"publishers":\[{"pid":'
tap $? "stat shows the topics and their publishers (text and --json)" ||
	{ printf '# %s\n' "$out"; printf '# %s\n' "$json"; }
out=$(limit 10 "$zerocp" top --name "$T" -n 2 --interval 0.5)
printf '%s\n' "$out" | grep -q '^TOPIC .*RATE/s' &&
	printf '%s\n' "$out" | grep -Eq "^'two' +1 +0 +[0-9]+\.[0-9] +0 +[0-9]+$"
tap $? "top shows a TOPICS section with the publishers and the rate" || printf '# %s\n' "$out"
limit 10 "$zerocp" pub three --name "$T" --count 1 > "$tmp/out" 2>&1
st=$?
[ "$st" -eq 1 ] && grep -q 'topic table is full' "$tmp/out"
tap $? "with --topics 2, a third topic fails: exit 1, 'topic table is full' (exit $st)" ||
	show "$tmp/out"
stop "$tpid_s" TERM

# --- 23-24: stop, nothing left ----------------------------------------------
stop "$apid" TERM
[ "$st" -eq 0 ] && grep -q ' info: Server stopped' "$tmp/a.log"
tap $? "the server stops on SIGTERM, status 0" || show "$tmp/a.log"
kill_pids
pids=
left=$(ls /dev/shm 2> /dev/null | grep "^zerocp_$base")
[ -z "$left" ]
tap $? "no /dev/shm/zerocp_$base* segment left" || echo "# left: $left"
exit $failed
