#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/gateway-netns.sh - zerocp-gateway between two "hosts" on one
# machine: two network namespaces joined by a veth pair (10.231.X.1 and
# .2, inside the namespaces only), each with its own mount namespace and
# /dev/shm (a tmpfs), its own "zerocp serve" and its own gateway; Cyclone
# DDS is told through CYCLONEDDS_URI to use the veth.  Checks:
#   - every sample of a reliable topic (pub --block) published on A
#     reaches an echo on B, in order and intact; the reverse direction;
#   - a 1 MiB sample crosses intact (the hex of its bytes compared);
#   - a gateway killed with SIGKILL and restarted bridges again;
#   - with a second gateway on A bridging the same topics both ways, a
#     subscriber on B and one on A each get exactly what was published
#     (no duplicate, no loop), both ways;
#   - with --idle 1, a topic whose publisher left stops being exported on
#     A and imported on B (no gateway endpoint keeps it in the manager's
#     topic table), and crosses again when a publisher comes back;
#   - with --backlog 1, a stopped subscriber on B under a flood from A:
#     gateway B's memory stays flat, it says it drops, another topic
#     crosses;
#   - gateway B stopped for 3 s under a reliable stream from A: nothing
#     lost once it resumes.
# TAP output.  Skips, saying why, without the gateway (Cyclone DDS not
# found by configure), without root, ip, nsenter or unshare.  The EXIT
# trap kills every process it started and deletes the namespaces.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tool-lib.sh"
skip_unless_gateway
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (network namespaces)"; exit 0; }
for c in ip nsenter unshare od; do
	command -v $c > /dev/null 2>&1 || { echo "1..0 # SKIP no $c"; exit 0; }
done

x=$(($$ % 250 + 1))
NA=zcpgwA$$
NB=zcpgwB$$
VA=zgA$$
VB=zgB$$
IPA=10.231.$x.1
IPB=10.231.$x.2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zcp-gateway-test.XXXXXX") || exit 1
pids=
holders=
made_ns=

cleanup() {
	is_main_shell || return 0
	kill_pids
	for p in $holders; do
		kill -KILL "$p" 2> /dev/null
		wait "$p" 2> /dev/null
	done
	for ns in $made_ns; do
		ip netns del "$ns" 2> /dev/null
	done
	[ -n "$KEEP" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# The namespaces.
if ! ip netns add "$NA" 2> "$tmp/ns.err"; then
	echo "1..0 # SKIP cannot make a network namespace: $(head -1 "$tmp/ns.err")"
	exit 0
fi
made_ns=$NA
ip netns add "$NB" && made_ns="$NA $NB" &&
	ip link add "$VA" type veth peer name "$VB" &&
	ip link set "$VA" netns "$NA" && ip link set "$VB" netns "$NB" &&
	ip -n "$NA" addr add "$IPA/24" dev "$VA" && ip -n "$NB" addr add "$IPB/24" dev "$VB" &&
	ip -n "$NA" link set lo up && ip -n "$NB" link set lo up &&
	ip -n "$NA" link set "$VA" up && ip -n "$NB" link set "$VB" up || {
	echo "1..0 # SKIP cannot set up the veth pair"
	exit 0
}

# One process per host holds its mount namespace with a private
# /dev/shm; everything of the host runs in it (nsenter).
holder() { # NS (sets $hpid; not in a $(...): $holders must stay ours)
	ip netns exec "$1" unshare -m sh -c \
		'mount -t tmpfs -o mode=1777 tmpfs /dev/shm && echo up && exec sleep 100000' \
		> "$tmp/holder.$1" 2>&1 &
	hpid=$!
	holders="$holders $hpid"
}
holder "$NA"
HA=$hpid
holder "$NB"
HB=$hpid
i=0
while ! grep -q up "$tmp/holder.$NA" 2> /dev/null || ! grep -q up "$tmp/holder.$NB" 2> /dev/null; do
	[ $i -lt 50 ] || { echo "1..0 # SKIP cannot give the namespaces their own /dev/shm"; exit 0; }
	nap
	i=$((i + 1))
done

uri() { # INTERFACE PEER-ADDRESS
	# Unicast only (no multicast route in a fresh namespace): both
	# addresses as peers (so that the processes of one host find each
	# other too), participant indices to probe their ports.
	echo "<CycloneDDS><Domain><General><Interfaces><NetworkInterface name=\"$1\"/></Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>40</MaxAutoParticipantIndex><Peers><Peer address=\"$IPA\"/><Peer address=\"$IPB\"/></Peers></Discovery><Tracing><Verbosity>none</Verbosity></Tracing></Domain></CycloneDDS>"
}
URIA=$(uri "$VA" "$IPB")
URIB=$(uri "$VB" "$IPA")

# on A|B CMD...: run CMD on that host, in the foreground.
on() {
	h=$HA u=$URIA
	[ "$1" = B ] && h=$HB u=$URIB
	shift
	CYCLONEDDS_URI=$u nsenter -t "$h" -m -n -- "$@"
}
# bg A|B LOG CMD...: the same in the background; $! is the command's pid
# (nsenter execs it).
bg() {
	h=$HA u=$URIA
	[ "$1" = B ] && h=$HB u=$URIB
	_log=$2
	shift 2
	CYCLONEDDS_URI=$u nsenter -t "$h" -m -n -- "$@" > "$_log" 2>&1 &
	pids="$pids $!"
}

n=0
failed=0
echo "1..21"

wait_for() { # PATTERN FILE SECONDS
	i=0
	while ! grep -Eq "$1" "$2" 2> /dev/null; do
		[ $i -lt $(($3 * 10)) ] || return 1
		nap
		i=$((i + 1))
	done
	return 0
}

# Bounded wait for a pid: up to SECONDS, then SIGKILL.  Returns its status.
reap() { # PID SECONDS
	i=0
	while kill -0 "$1" 2> /dev/null; do
		if [ $i -ge $(($2 * 10)) ]; then
			kill -KILL "$1" 2> /dev/null
			break
		fi
		nap
		i=$((i + 1))
	done
	wait "$1"
	_r=$?
	forget "$1"
	return $_r
}

POOLS="--pool 256x200 --pool 4Kx100 --pool 1100Kx8"
bg A "$tmp/serveA.log" "$zerocp" serve --name gwt --interval 0.2 --quiet $POOLS
bg B "$tmp/serveB.log" "$zerocp" serve --name gwt --interval 0.2 --quiet $POOLS
i=0
until on A "$zerocp" stat --name gwt > /dev/null 2>&1 && on B "$zerocp" stat --name gwt > /dev/null 2>&1; do
	[ $i -lt 50 ] || break
	nap
	i=$((i + 1))
done
start_gw() { # HOST LOG [OPTION...]
	_h=$1 _l=$2
	shift 2
	bg "$_h" "$_l" "$gateway" --name gwt --export '*' --import '*' "$@"
	gwpid=$!
	wait_for 'ready' "$_l" 10
}
start_gw A "$tmp/gwA.log"
GA=$gwpid
start_gw B "$tmp/gwB.log"
ok_b=$?
GB=$gwpid
tap $ok_b "both gateways start (manager gwt, one per host)" || { show "$tmp/gwA.log"; show "$tmp/gwB.log"; }

# warm FROM TO TOPIC: publish on FROM until an echo on TO gets a sample
# (the gateways have found the topic and each other); up to 30 s.
warm() {
	bg "$2" "$tmp/warm.echo" "$zerocp" echo --name gwt "$3" --count 1 --timeout 30
	_e=$!
	nap
	bg "$1" "$tmp/warm.pub" "$zerocp" pub --name gwt "$3" --count 0 --rate 20 --text warm
	_p=$!
	reap "$_e" 35
	_w=$?
	kill -TERM "$_p" 2> /dev/null
	reap "$_p" 5
	# Let the warm-up samples still on their way land before the
	# caller's subscriber exists (else one can be its first sample).
	sleep 1
	return $_w
}

# expected N SIZE: the JSON data fields of pub's counter pattern for
# samples 0..N-1 (byte k of sample s is (s + k) mod 256), one a line.
expected() {
	awk -v n="$1" -v size="$2" 'BEGIN { for (s = 0; s < n; s++) { l = ""; for (k = 0; k < size; k++) l = l sprintf("%02x", (s + k) % 256); print l } }'
}
datas() { # JSON lines -> data fields
	sed -n 's/.*"data":"\([0-9a-f]*\)".*/\1/p' "$1"
}

# cross FROM TO TOPIC N: N samples of 64 bytes published on FROM with
# --block reach an echo on TO in order and intact.
cross() {
	warm "$1" "$2" "$3" || { echo "# no sample of $3 crossed in 30 s"; return 1; }
	bg "$2" "$tmp/$3.echo" "$zerocp" echo --name gwt "$3" --json --count "$4" --timeout 60
	_e=$!
	sleep 1 # the echo's subscriber in place
	on "$1" "$zerocp" pub --name gwt "$3" --count "$4" --size 64 --block --quiet
	reap "$_e" 65 || { echo "# echo on $2 failed"; tail -3 "$tmp/$3.echo" | sed 's/^/# /'; return 1; }
	expected "$4" 64 > "$tmp/$3.want"
	datas "$tmp/$3.echo" > "$tmp/$3.got"
	cmp -s "$tmp/$3.want" "$tmp/$3.got" || {
		echo "# $(wc -l < "$tmp/$3.got") samples, first difference:"
		diff "$tmp/$3.want" "$tmp/$3.got" | head -4 | cut -c1-80 | sed 's/^/# /'
		return 1
	}
}

N=500
cross A B fwd $N
tap $? "A -> B: $N samples of a reliable topic, in order and intact"
cross B A rev $N
tap $? "B -> A: $N samples, in order and intact"

# Head of line: a subscriber on B that never takes (stopped) fills its
# queue of topic stall; gateway B must keep importing other topics, and
# stall's samples must all arrive, in order, once that subscriber is gone.
hol_ok=1
if warm A B stall; then
	bg B "$tmp/stall.echo" "$zerocp" echo --name gwt stall --json --count 200 --timeout 120
	_live=$!
	bg B "$tmp/stuck.echo" "$zerocp" echo --name gwt stall --json
	_stuck=$!
	sleep 1
	kill -STOP "$_stuck"
	bg A "$tmp/stall.pub" "$zerocp" pub --name gwt stall --count 200 --size 64 --block --quiet
	_spub=$!
	sleep 2 # the stopped subscriber's queue fills
	cross A B nostall 50 && hol_ok=0
fi
tap $hol_ok "a stopped subscriber of one imported topic does not hold up another topic"
stall_ok=1
if [ -n "${_stuck:-}" ]; then
	kill -KILL "$_stuck"
	reap "$_stuck" 5
	reap "$_spub" 90 && reap "$_live" 90 && {
		expected 200 64 > "$tmp/stall.want"
		datas "$tmp/stall.echo" > "$tmp/stall.got"
		cmp -s "$tmp/stall.want" "$tmp/stall.got" && stall_ok=0
		echo "# stall: $(wc -l < "$tmp/stall.got") of 200 samples after the stopped subscriber was killed"
	}
fi
tap $stall_ok "... and once it is killed, the stalled topic delivers all 200 samples in order"

# A registration on B's zerocp.gateways naming A's gateway, by a process
# that is gone (the topic's history keeps it): B's gateway, restarted,
# must not take it for a gateway of its own manager and drop what A sends.
forged_ok=1
gaid=$(sed -n 's/.*gateway 0x\([0-9a-f]*\) on manager.*/\1/p' "$tmp/gwA.log" | head -1)
if [ -n "$gaid" ]; then
	# the id's 8 bytes, little-endian
	_b= _i=15
	while [ $_i -ge 1 ]; do
		_b="$_b\\$(printf %03o "0x$(echo "$gaid" | cut -c$_i-$((_i + 1)))")"
		_i=$((_i - 2))
	done
	printf "$_b" > "$tmp/forged.id"
	on B "$zerocp" pub --name gwt zerocp.gateways --file "$tmp/forged.id" --quiet
	kill -TERM "$GB"
	reap "$GB" 10
	start_gw B "$tmp/gwB2.log" && GB=$gwpid && cross A B afterforged 100 && forged_ok=0
	echo "# forged registration of A's gateway 0x$gaid, $(wc -c < "$tmp/forged.id") bytes"
fi
tap $forged_ok "a registration of A's gateway id left on B by a process that is gone does not stop A -> B"

# 1 MiB: a file of 1048576 pseudo-random bytes; the echo's hex compared.
awk 'BEGIN { srand(7); for (i = 0; i < 1048576 / 64; i++) { l = ""; for (k = 0; k < 64; k++) l = l sprintf("%c", 65 + int(rand() * 26)); printf "%s", l } }' > "$tmp/big.bin"
big_ok=1
if warm A B big; then
	bg B "$tmp/big.echo" "$zerocp" echo --name gwt big --json --count 1 --timeout 30
	_e=$!
	sleep 1
	on A "$zerocp" pub --name gwt big --file "$tmp/big.bin" --block --quiet
	if reap "$_e" 35; then
		od -An -v -tx1 "$tmp/big.bin" | tr -d ' \n' > "$tmp/big.want"
		datas "$tmp/big.echo" | tr -d '\n' > "$tmp/big.got"
		cmp -s "$tmp/big.want" "$tmp/big.got" && big_ok=0
		echo "# sent $(wc -c < "$tmp/big.bin") bytes, got $(($(wc -c < "$tmp/big.got") / 2))"
	fi
fi
tap $big_ok "a 1 MiB sample crosses intact"

# Kill gateway A (SIGKILL), restart it: forwarding resumes.
kill -KILL "$GA"
reap "$GA" 5
GA_DEAD=$GA
start_gw A "$tmp/gwA2.log"
GA=$gwpid
tap $? "gateway A restarted after SIGKILL" || show "$tmp/gwA2.log"
cross A B after $N
tap $? "after the restart: A -> B, $N samples in order and intact"
cross B A after2 $N
tap $? "after the restart: B -> A, $N samples in order and intact"
# The manager reclaimed the dead gateway: its process is gone from stat.
i=0
procs() { on A "$zerocp" stat --name gwt 2> /dev/null | sed -n '/^Processes/,/^Topics/p'; }
while procs | grep -q "pid $GA_DEAD,"; do
	[ $i -lt 50 ] || break
	nap
	i=$((i + 1))
done
procs > "$tmp/statA"
! grep -q "pid $GA_DEAD," "$tmp/statA" && grep -q "pid $GA," "$tmp/statA"
tap $? "the killed gateway's process (pid $GA_DEAD) was reclaimed on A"

# A second gateway on A bridging the same topics both ways: no loop, no
# duplicate.
start_gw A "$tmp/gwA3.log"
tap $? "a second gateway on A starts"
sleep 1
# The samples of pub's counter pattern an echo got (not the warm-up's
# text, which can still be on its way when the echo starts), each once;
# a duplicate or a missing one is said.
count_samples() {
	datas "$1" | grep -v '^7761726d00$' | sort | uniq -c |
		awk '$1 > 1 { d += $1 - 1 } { n++ } END { if (d) printf "# %d duplicates\n", d > "/dev/stderr"; print d ? -1 : n + 0 }'
}
loop() { # FROM N
	warm "$1" "$([ "$1" = A ] && echo B || echo A)" "loop$1" || return 1
	bg A "$tmp/loop$1.A" "$zerocp" echo --name gwt "loop$1" --json --timeout 6
	_ea=$!
	bg B "$tmp/loop$1.B" "$zerocp" echo --name gwt "loop$1" --json --timeout 6
	_eb=$!
	sleep 1
	on "$1" "$zerocp" pub --name gwt "loop$1" --count "$2" --size 64 --block --quiet
	reap "$_ea" 10
	reap "$_eb" 10
	a=$(count_samples "$tmp/loop$1.A")
	b=$(count_samples "$tmp/loop$1.B")
	echo "# published $2 on $1; received on A: $a, on B: $b (-1: duplicates);" \
		"warm-up samples late: $(grep -c '"data":"7761726d00"' "$tmp/loop$1.A") on A," \
		"$(grep -c '"data":"7761726d00"' "$tmp/loop$1.B") on B"
	[ "$a" = "$2" ] && [ "$b" = "$2" ]
}
loop A 100
tap $? "two gateways on A: 100 samples published on A arrive once on A and on B"
loop B 100
tap $? "two gateways on A: 100 samples published on B arrive once on A and on B"

# Remote readers behind: gateway B stopped (SIGSTOP) for 3 s while A
# publishes 600 samples of 3000 bytes with --block (more than B's socket
# buffer holds: most must be sent again).  A's keep-all writer keeps what
# B has not acknowledged, the topic stalls on A and the publisher waits;
# once B resumes, its echo gets all 600 in order (a keep-last writer
# dropped the unacknowledged ones beyond its depth, uncounted).
held_ok=1
if warm A B held; then
	bg B "$tmp/held.echo" "$zerocp" echo --name gwt held --json --count 600 --timeout 60
	_e=$!
	sleep 1
	kill -STOP "$GB"
	bg A "$tmp/held.pub" "$zerocp" pub --name gwt held --count 600 --size 3000 --block --quiet
	_p=$!
	sleep 3
	kill -CONT "$GB"
	reap "$_p" 60 && reap "$_e" 65 && {
		expected 600 3000 > "$tmp/held.want"
		datas "$tmp/held.echo" > "$tmp/held.got"
		echo "# held: $(wc -l < "$tmp/held.got") of 600 samples after gateway B was stopped 3 s"
		cmp -s "$tmp/held.want" "$tmp/held.got" && held_ok=0
		[ $held_ok = 0 ] || {
			# Which sample differs: each line's first byte is its
			# sequence number mod 256.
			paste -d ' ' "$tmp/held.want" "$tmp/held.got" |
				awk '$1 != $2 { printf "# line %d: want %s..., got %s... (%d bytes)\n", NR, substr($1, 1, 12), substr($2, 1, 12), length($2) / 2; if (++n == 5) exit }'
			grep -c '"lost"' "$tmp/held.echo" | sed 's/^/# echo lines with "lost": /'
			tail -2 "$tmp/held.echo" | cut -c1-200 | sed 's/^/# /'
		}
	}
	kill -CONT "$GB" 2> /dev/null
fi
tap $held_ok "gateway B stopped 3 s under a reliable stream of 3000-byte samples from A: all 600 arrive in order once it resumes" ||
	show "$tmp/gwB.log"

# Both gateways stop cleanly on SIGTERM.
kill -TERM "$GA" "$gwpid"
reap "$GA" 10
r1=$?
reap "$gwpid" 10
tap $(($r1 + $?)) "the gateways of A stop on SIGTERM with status 0"

# Idle topics: both gateways again, with --idle 1.  Topic idle crosses
# while its publisher runs; once it is gone, A stops exporting it (its
# subscriber closed) and B, seeing no DDS writer, stops importing it (its
# publisher closed): a DDS peer that makes and drops topics cannot keep
# the manager's topic table full.  A new publisher brings both back.
kill -TERM "$GB"
reap "$GB" 10
start_gw A "$tmp/gwA4.log" --idle 1
GA=$gwpid
# (Under AddressSanitizer, freed memory waits in a quarantine, 256 MB by
# default, and Cyclone frees some for every sample: the memory check
# below needs it small.)
saved_asan=${ASAN_OPTIONS-}
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1"
start_gw B "$tmp/gwB4.log" --idle 1 --backlog 1
export ASAN_OPTIONS="$saved_asan"
GB=$gwpid
idle_ok=1
if warm A B idle; then
	wait_for "no longer exporting topic 'idle'" "$tmp/gwA4.log" 15 &&
		wait_for "no longer importing topic 'idle'" "$tmp/gwB4.log" 15 && idle_ok=0
fi
tap $idle_ok "--idle 1: once its publisher is gone, A stops exporting topic idle and B importing it" ||
	{ show "$tmp/gwA4.log"; show "$tmp/gwB4.log"; }
on A "$zerocp" topics --name gwt --json > "$tmp/idleA.json" 2> /dev/null
on B "$zerocp" topics --name gwt --json > "$tmp/idleB.json" 2> /dev/null
ends() { # FILE: the endpoints (publishers and subscribers) of topic idle
	tr -d '\n' < "$1" | sed 's/.*"name":"idle",//; s/{"index".*//' | grep -o '"pid":' | wc -l
}
a_ends=$(($(ends "$tmp/idleA.json")))
b_ends=$(($(ends "$tmp/idleB.json")))
echo "# endpoints of topic idle left: on A $a_ends, on B $b_ends"
grep -q '"topics"' "$tmp/idleA.json" && grep -q '"topics"' "$tmp/idleB.json" &&
	[ "$a_ends" = 0 ] && [ "$b_ends" = 0 ]
tap $? "... and no endpoint of topic idle is left on either host" ||
	{ sed 's/^/# /' "$tmp/idleB.json" | head -20; }
warm A B idle
tap $? "... and a new publisher on A reaches B again"

# Backlog: a subscriber on B that never takes (stopped), and a flood of
# 1000-byte samples from A.  B's gateway keeps at most --backlog 1 MiB of
# the topic waiting and drops the oldest beyond, saying so: its memory
# stays flat (a DDS reader left unread kept everything, ~160 MB/s in a
# trial), and another topic still crosses meanwhile.
rss() { sed -n 's/^VmRSS:[^0-9]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2> /dev/null; }
flood_ok=1 other_ok=1
if warm A B flood; then
	bg B "$tmp/flood.echo" "$zerocp" echo --name gwt flood
	_stuck=$!
	sleep 1
	kill -STOP "$_stuck"
	bg A "$tmp/flood.pub" "$zerocp" pub --name gwt flood --count 0 --rate 20000 --size 1000 --quiet
	_fpub=$!
	sleep 2 # the stopped subscriber's queue is full, the backlog too
	r0=$(rss "$GB")
	# (--idle 1: the topic is exported while its publisher runs)
	bg B "$tmp/beside.echo" "$zerocp" echo --name gwt beside --count 20 --timeout 30
	_e=$!
	bg A "$tmp/beside.pub" "$zerocp" pub --name gwt beside --count 0 --rate 20 --text beside
	_p=$!
	reap "$_e" 35 && [ "$(grep -c beside "$tmp/beside.echo")" = 20 ] && other_ok=0
	kill -TERM "$_p"
	reap "$_p" 5
	r1=$(rss "$GB")
	echo "# gateway B: VmRSS ${r0:-?} kB, then ${r1:-?} kB after $(grep -c beside "$tmp/beside.echo") samples of another topic"
	[ -n "$r0" ] && [ -n "$r1" ] && [ $((r1 - r0)) -lt 8192 ] &&
		wait_for "flood.*oldest samples dropped" "$tmp/gwB4.log" 10 && flood_ok=0
	kill -KILL "$_stuck"
	kill -TERM "$_fpub"
	reap "$_stuck" 5
	reap "$_fpub" 5
fi
tap $flood_ok "--backlog 1: a stopped subscriber under a flood: gateway B's memory stays flat and it says it drops the oldest" ||
	show "$tmp/gwB4.log"
tap $other_ok "... and another topic crosses meanwhile (20 samples)"

kill -TERM "$GA" "$GB"
reap "$GA" 10
reap "$GB" 10

if [ $failed -ne 0 ]; then
	for f in "$tmp"/gw*.log; do
		echo "# == $f"
		grep -v multicast "$f" | tail -5 | sed 's/^/# /'
	done
fi
exit 0
