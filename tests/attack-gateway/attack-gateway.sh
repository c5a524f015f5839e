#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/attack-gateway/attack-gateway.sh - outside attacks on zerocp-gateway
# (Cyclone DDS 0.10.2), from its README/man page promises only.  Two
# "hosts": network namespaces joined by a veth pair, each with its own
# mount namespace and /dev/shm, its own manager and gateway
# (--export '*' --import '*').  Host A has a 1100 KiB pool, host B the
# default pools (largest 16 KiB).  A hostile DDS participant (hostile-dds,
# hostile-fake) runs on A's network; hostile local clients (hostile-local)
# on B.  TAP output.  Env: ZCP_INST (install prefix, required: make install
# prefix=DIR), KEEP=1 keeps the temp dir, ONLY="n m ..." runs only those
# attack groups (numbers of the group functions below).  Root, about 6
# minutes; not part of make check: it still fails where the gateway
# works as documented (a live local process that registers a remote
# gateway's id blackholes it, group 9; the registry topic's history keeps
# up to 8 chunks of closed registrations, 13 and 15): see the closing
# notes of issue 16.  What it found and was fixed is in
# tests/gateway-netns.sh (head of line, stale registrations, idle topics
# closing: group 6, a DDS peer's 1500 topics used to fill the manager's
# topic table for good) and here (group 2: drops are said).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
INST=${ZCP_INST:?set ZCP_INST to an install prefix (make install prefix=DIR)}
ZCP=$INST/bin/zerocp
GW=$INST/bin/zerocp-gateway
export LD_LIBRARY_PATH=$INST/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LC_ALL=C
T0=$(date +%s)

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (network namespaces)"; exit 0; }
[ -x "$GW" ] || { echo "1..0 # SKIP zerocp-gateway absent ($GW)"; exit 0; }
for c in ip nsenter unshare jq idlc gcc; do
	command -v $c > /dev/null 2>&1 || { echo "1..0 # SKIP no $c"; exit 0; }
done
[ -f /usr/include/dds/dds.h ] || { echo "1..0 # SKIP Cyclone DDS headers missing"; exit 0; }

tmp=$(mktemp -d /tmp/zcp-gwattack.XXXXXX) || exit 1
# Build the hostile programs (in tmp: nothing written beside the sources).
(
	cd "$tmp" &&
	idlc "$HERE/../../tools/gateway.idl" 2> /dev/null && idlc "$HERE/fake.idl" 2> /dev/null &&
	gcc -O1 -g -I. -o hostile-dds "$HERE/hostile-dds.c" gateway.c -lddsc &&
	gcc -O1 -g -I. -o hostile-fake "$HERE/hostile-fake.c" fake.c -lddsc &&
	gcc -O1 -g -I"$INST/include" -o hostile-local "$HERE/hostile-local.c" -L"$INST/lib" -lzerocp -Wl,-rpath,"$INST/lib"
) > "$tmp/build.log" 2>&1 || { echo "1..0 # SKIP cannot build the hostile programs (Cyclone?): $(tail -1 "$tmp/build.log")"; rm -rf "$tmp"; exit 0; }
HD=$tmp/hostile-dds
HF=$tmp/hostile-fake
HL=$tmp/hostile-local

x=$(($$ % 200 + 20))
NA=zgatkA$$ NB=zgatkB$$ VA=zkA$$ VB=zkB$$
IPA=10.232.$x.1 IPB=10.232.$x.2
pids= holders= made_ns=

MAINPID=$BASHPID
cleanup() {
	[ "$BASHPID" = "$MAINPID" ] || return 0
	for p in $pids; do kill -KILL "$p" 2> /dev/null; done
	for p in $pids; do wait "$p" 2> /dev/null; done
	for p in $holders; do kill -KILL "$p" 2> /dev/null; wait "$p" 2> /dev/null; done
	for ns in $made_ns; do ip netns del "$ns" 2> /dev/null; done
	[ -n "${KEEP:-}" ] && echo "# kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$NA" 2> /dev/null || { echo "1..0 # SKIP cannot make a network namespace"; exit 0; }
made_ns=$NA
ip netns add "$NB" && made_ns="$NA $NB" &&
	ip link add "$VA" type veth peer name "$VB" &&
	ip link set "$VA" netns "$NA" && ip link set "$VB" netns "$NB" &&
	ip -n "$NA" addr add "$IPA/24" dev "$VA" && ip -n "$NB" addr add "$IPB/24" dev "$VB" &&
	ip -n "$NA" link set lo up && ip -n "$NB" link set lo up &&
	ip -n "$NA" link set "$VA" up && ip -n "$NB" link set "$VB" up ||
	{ echo "1..0 # SKIP cannot set up the veth pair"; exit 0; }

holder() {
	ip netns exec "$1" unshare -m sh -c \
		'mount -t tmpfs -o mode=1777 tmpfs /dev/shm && echo up && exec sleep 100000' \
		> "$tmp/holder.$1" 2>&1 &
	hpid=$!
	holders="$holders $hpid"
}
holder "$NA"; HA=$hpid
holder "$NB"; HB=$hpid
for i in $(seq 50); do
	grep -q up "$tmp/holder.$NA" 2> /dev/null && grep -q up "$tmp/holder.$NB" 2> /dev/null && break
	sleep 0.1
done
grep -q up "$tmp/holder.$NB" 2> /dev/null || { echo "1..0 # SKIP no private /dev/shm"; exit 0; }

uri() {
	echo "<CycloneDDS><Domain><General><Interfaces><NetworkInterface name=\"$1\"/></Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>60</MaxAutoParticipantIndex><Peers><Peer address=\"$IPA\"/><Peer address=\"$IPB\"/></Peers></Discovery><Tracing><Verbosity>none</Verbosity></Tracing></Domain></CycloneDDS>"
}
URIA=$(uri "$VA")
URIB=$(uri "$VB")
on() { # A|B CMD...
	local h=$HA u=$URIA
	[ "$1" = B ] && h=$HB u=$URIB
	shift
	CYCLONEDDS_URI=$u nsenter -t "$h" -m -n -- "$@"
}
bg() { # A|B LOG CMD...   ($! = the command)
	local h=$HA u=$URIA
	[ "$1" = B ] && h=$HB u=$URIB
	local log=$2
	shift 2
	CYCLONEDDS_URI=$u nsenter -t "$h" -m -n -- "$@" > "$log" 2>&1 &
	pids="$pids $!"
}
alive() { kill -0 "$1" 2> /dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2> /dev/null; }
reap() { # PID SECONDS -> status (SIGKILL after SECONDS: status 137)
	local i=0
	while alive "$1"; do
		if [ $i -ge $(($2 * 10)) ]; then kill -KILL "$1" 2> /dev/null; break; fi
		sleep 0.1; i=$((i + 1))
	done
	wait "$1" 2> /dev/null
}
wait_for() { # REGEX FILE SECONDS
	local i=0
	while ! grep -Eq "$1" "$2" 2> /dev/null; do
		[ $i -lt $(($3 * 10)) ] || return 1
		sleep 0.1; i=$((i + 1))
	done
}

n=0 failed=0
tap() { # STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}
note() { echo "# $*"; }

POOLSA="--pool 256x2000 --pool 1Kx100 --pool 4Kx50 --pool 16Kx20 --pool 1100Kx8 --topics 128"
# B: the default chunk sizes (largest 16 KiB), more of them, 128 topics
POOLSB="--pool 256x2000 --pool 1Kx100 --pool 4Kx50 --pool 16Kx20 --topics 128"
bg A "$tmp/serveA.log" "$ZCP" serve --name gwk --interval 0.2 --quiet $POOLSA
SA=$!
bg B "$tmp/serveB.log" "$ZCP" serve --name gwk --interval 0.2 --quiet $POOLSB
SB=$!
for i in $(seq 50); do
	on A "$ZCP" stat --name gwk > /dev/null 2>&1 && on B "$ZCP" stat --name gwk > /dev/null 2>&1 && break
	sleep 0.1
done

start_gw() { # HOST LOG  -> $gwpid
	bg "$1" "$2" "$GW" --name gwk --export '*' --import '*'
	gwpid=$!
	wait_for ready "$2" 15
}
gwno=0
newlog() { gwno=$((gwno + 1)); NEWLOG=$tmp/gw$1.$gwno.log; }

# pattern_ok FILE: JSON echo lines -> prints "count bad firsts" where bad
# counts samples whose bytes are not a counter run, and firsts is the list
# of first bytes (decimal).
check_json() {
	grep '^{' "$1" | jq -r 'select(.data != null) | "\(.size) \(.data)"' 2> /dev/null | awk '
	{ size = $1; d = $2; c++;
	  if (length(d) != 2 * size) { bad++; next }
	  prev = -1; ok = 1
	  for (i = 1; i <= length(d); i += 2) {
		v = index("0123456789abcdef", substr(d, i, 1)) * 16 + index("0123456789abcdef", substr(d, i + 1, 1)) - 17
		if (prev >= 0 && v != (prev + 1) % 256) { ok = 0; break }
		if (prev < 0) first = v
		prev = v
	  }
	  if (!ok) bad++
	  firsts = firsts " " (size > 0 ? first : "-")
	}
	END { printf "%d %d%s\n", c, bad, firsts }'
}
# in_order "FIRSTS" START: the first bytes are START, START+1, ... mod 256
in_order() {
	echo "$1" | awk -v s="$2" '{ for (i = 1; i <= NF; i++) if ($i != (s + i - 1) % 256) exit 1 }'
}

# cross FROM TO TOPIC N SIZE: N samples published with --block on FROM,
# all reach an echo on TO, in order and intact.  Warms the path first.
warm() { # FROM TO TOPIC [SECONDS]
	bg "$2" "$tmp/warm.echo" "$ZCP" echo --name gwk "$3" --count 1 --timeout "${4:-30}"
	local e=$!
	sleep 0.3
	bg "$1" "$tmp/warm.pub" "$ZCP" pub --name gwk "$3" --count 0 --rate 20 --size 8
	local p=$!
	reap "$e" $((${4:-30} + 5))
	local w=$?
	kill -TERM "$p" 2> /dev/null
	reap "$p" 5
	return $w
}
cross() {
	local from=$1 to=$2 topic=$3 cnt=$4 size=${5:-64}
	warm "$from" "$to" "$topic" || { note "no sample of $topic crossed $from -> $to in 30 s"; return 1; }
	bg "$to" "$tmp/$topic.echo" "$ZCP" echo --name gwk "$topic" --json --count "$cnt" --timeout 40
	local e=$!
	sleep 1
	on "$from" "$ZCP" pub --name gwk "$topic" --count "$cnt" --size "$size" --block --quiet
	reap "$e" 45
	local r
	r=$(check_json "$tmp/$topic.echo")
	set -- $r
	note "$topic $from -> $to: got $1 of $cnt, $2 corrupt"
	[ "$1" = "$cnt" ] && [ "$2" = 0 ] && in_order "$(echo "$r" | cut -d' ' -f3-)" 0
}

# pools_used HOST: the sum of "used" over the pools, and processes' chunks
pools_used() { on "$1" "$ZCP" stat --name gwk --json 2> /dev/null | jq '[.pools[].used] | add'; }
held_by_live() { # chunks held by live processes plus those topic rings keep
	on "$1" "$ZCP" stat --name gwk --json 2> /dev/null | jq '([.processes[] | select(.alive) | .chunks] | add // 0) + ([.topics[].kept] | add // 0)'; }
dead_endpoints() { on "$1" "$ZCP" topics --name gwk --json 2> /dev/null | jq '[.topics[] | (.publishers + .subscribers)[] | select(.alive == false and (.closed // false) == false)] | length'; }
topic_count() { on "$1" "$ZCP" topics --name gwk --json 2> /dev/null | jq '.topics | length'; }
gw_alive_check() { # PID LOG DESC
	if alive "$1"; then tap 0 "$3"; else wait "$1"; note "gateway exited with status $?"; tail -5 "$2" | sed 's/^/#   /'; tap 1 "$3"; fi
}
own_id_B() { # the gateway ids registered on B, from zerocp.gateways (hex dump)
	:
}


newlog A; LA=$NEWLOG; start_gw A "$LA"; ra=$?; GA=$gwpid
newlog B; LB=$NEWLOG; start_gw B "$LB"; rb=$?; GB=$gwpid
tap $((ra + rb)) "setup: a gateway on each host says ready"

# ---- 1. baseline -------------------------------------------------------
g1() {
	cross A B base 300 64
	tap $? "baseline: 300 samples A -> B in order and intact"
}

# ---- 2. hostile DDS samples larger than B's largest pool, empty, 10 MB --
g2() {
	warm A B big 30 > /dev/null 2>&1 # B imports topic "big" (and its topic exists)
	bg B "$tmp/big.echo" "$ZCP" echo --name gwk big --json --timeout 25
	local e=$!
	sleep 1
	# sizes: empty, 1, the 16 KiB pool's chunk size and one above, 64 KiB,
	# 1 MiB, 10 MiB, then small ones again
	on A "$HD" write zerocp/big --sizes 0,1,16320,16384,16385,65536,1048576,10485760,64,64,64 --count 11 --linger 3 > "$tmp/big.hd" 2>&1
	note "hostile writer: $(tr '\n' ' ' < "$tmp/big.hd")"
	sleep 3
	gw_alive_check "$GB" "$LB" "oversized DDS samples (0 B .. 10 MiB) on zerocp/big: gateway B still runs"
	kill -TERM "$e" 2> /dev/null; reap "$e" 5
	local r; r=$(check_json "$tmp/big.echo"); set -- $r
	note "echo on B got $1 samples ($2 corrupt); sizes: $(grep '^{' "$tmp/big.echo" | jq -r .size 2> /dev/null | tr '\n' ' ')"
	# what fits a 16 KiB chunk must arrive intact, the rest must not arrive truncated
	local sizes; sizes=$(grep '^{' "$tmp/big.echo" | jq -r .size 2> /dev/null | tr '\n' ' ')
	[ "$2" = 0 ] && ! echo " $sizes " | grep -Eq ' (65536|1048576|10485760) ' && echo " $sizes " | grep -q ' 64 64 64 '
	tap $? "oversized DDS samples: no truncated/corrupt sample delivered, the small ones after them arrive"
	grep -Ei 'big|large|E2BIG|too' "$LB" | head -3 | sed 's/^/#   gwB: /'
	grep -Eqi 'too (big|large)|E2BIG|larger|exceed|65536|1048576|10485760' "$LB"
	tap $? "oversized DDS samples: gateway B says so (a clear error on stderr)"
	cross A B afterbig 200 64
	tap $? "after the oversized samples: 200 samples A -> B in order and intact"
}

# ---- 3. absurd header fields, forged origins --------------------------
g3() {
	warm A B hdr 30 > /dev/null 2>&1
	bg B "$tmp/hdr.echo" "$ZCP" echo --name gwk hdr --json --timeout 15
	local e=$!
	sleep 1
	on A "$HD" write zerocp/hdr --count 50 --size 100 --seq 0xffffffffffffffe0 --seq-step 0xfffffffffffffff1 \
		--stamp 0xffffffffffffffff --publisher 0 --origin 0 --linger 2 > "$tmp/hdr.hd" 2>&1
	on A "$HD" write zerocp/hdr --count 50 --size 100 --seq 0 --seq-step 0 --stamp 1 --publisher 0xffffffffffffffff \
		--origin 0xffffffffffffffff --linger 2 >> "$tmp/hdr.hd" 2>&1
	sleep 2
	kill -TERM "$e" 2> /dev/null; reap "$e" 5
	local r; r=$(check_json "$tmp/hdr.echo"); set -- $r
	note "absurd seq/stamp/origin: echo on B got $1 of 100 ($2 corrupt)"
	alive "$GB" && [ "$1" = 100 ] && [ "$2" = 0 ] && in_order "$(echo "$r" | cut -d' ' -f3-)" 0 ||
		{ [ "$1" = 100 ] && [ "$2" = 0 ] && alive "$GB" && in_order "$(echo "$r" | cut -d' ' -f3- | cut -d' ' -f51-)" 0 && in_order "$(echo "$r" | cut -d' ' -f3- | cut -d' ' -f1-50)" 0; }
	tap $? "absurd seq (wrapping, repeated), stamps 2^64-1 and 1, origin 0 and 2^64-1: all 100 arrive intact in order, gateway alive"

	# Forged origin: the id of B's own gateway, learnt from DDS (what B exports).
	bg B "$tmp/sniffpub" "$ZCP" pub --name gwk sniffme --count 0 --rate 20 --size 8
	local p=$!
	on A "$HD" sniff zerocp/sniffme --seconds 6 > "$tmp/sniff" 2>&1
	kill -TERM "$p" 2> /dev/null; reap "$p" 5
	local gbid; gbid=$(sed -n 's/^origin=\(0x[0-9a-f]*\).*/\1/p' "$tmp/sniff" | sort -u | head -1)
	note "sniffed origin of B's exports: ${gbid:-none}"
	# Also A's gateway id, from what A exports.
	bg A "$tmp/sniffpubA" "$ZCP" pub --name gwk sniffA --count 0 --rate 20 --size 8
	p=$!
	on B "$HD" sniff zerocp/sniffA --seconds 6 > "$tmp/sniffA" 2>&1
	kill -TERM "$p" 2> /dev/null; reap "$p" 5
	gaid=$(sed -n 's/^origin=\(0x[0-9a-f]*\).*/\1/p' "$tmp/sniffA" | sort -u | head -1)
	note "sniffed origin of A's exports: ${gaid:-none}"
	[ -n "$gbid" ] && [ -n "$gaid" ]
	tap $? "a DDS participant learns every gateway's id by reading zerocp/* (precondition for forging)"
	# Forged: origin = A's id, sent from a third participant; A itself
	# must not re-import it into A; B imports it.  Then check both.
	warm A B forge 30 > /dev/null 2>&1
	warm B A forge 30 > /dev/null 2>&1
	bg A "$tmp/forge.A" "$ZCP" echo --name gwk forge --json --timeout 12
	local ea=$!
	bg B "$tmp/forge.B" "$ZCP" echo --name gwk forge --json --timeout 12
	local eb=$!
	sleep 1
	on A "$HD" write zerocp/forge --count 40 --size 32 --origin "${gbid:-0}" --linger 2 > /dev/null 2>&1
	sleep 2
	kill -TERM "$ea" "$eb" 2> /dev/null; reap "$ea" 5; reap "$eb" 5
	local ca cb
	ca=$(check_json "$tmp/forge.A" | cut -d' ' -f1) cb=$(check_json "$tmp/forge.B" | cut -d' ' -f1)
	note "origin forged = B's gateway id: got $ca on A, $cb on B"
	# the promise: every sample crosses once (A gets it from DDS via its gateway; B
	# takes it for its own and drops it: that is the documented rule, so we
	# only require no duplicate and no loop)
	[ "$ca" -le 40 ] && [ "$cb" -le 40 ] && alive "$GA" && alive "$GB"
	tap $? "origin forged = B's gateway id: no duplicates, no loop, gateways alive (A got $ca, B got $cb of 40)"
}

# ---- 4. a DDS topic of the same name, another type --------------------
g4() {
	warm A B typed 30 > /dev/null 2>&1
	bg B "$tmp/typed.echo" "$ZCP" echo --name gwk typed --json --timeout 12
	local e=$!
	on A "$HF" zerocp/typed 50 3 > "$tmp/fake.out" 2>&1
	on A "$HF" zerocp/newtyped 50 3 >> "$tmp/fake.out" 2>&1
	note "fake-type writer: $(tr '\n' ' ' < "$tmp/fake.out")"
	sleep 1
	kill -TERM "$e" 2> /dev/null; reap "$e" 5
	local c; c=$(check_json "$tmp/typed.echo" | cut -d' ' -f1)
	alive "$GB" && alive "$GA" && [ "$c" = 0 ]
	tap $? "a writer of another type named zerocp_gw::Sample on zerocp/typed: nothing delivered ($c), gateways alive"
	cross A B typed2 100 64
	tap $? "after the foreign type: 100 samples A -> B in order and intact"
}

# ---- 5. names with every byte encoded, malformed escapes --------------
g5() {
	on A "$HD" names --linger 6 > "$tmp/names.out" 2>&1
	note "odd names: $(tr '\n' ' ' < "$tmp/names.out")"
	sleep 1
	gw_alive_check "$GB" "$LB" "malformed/odd DDS topic names (NUL, '/', bad hex, 190 chars): gateway B still runs"
	on B "$ZCP" topics --name gwk --json > "$tmp/names.topics" 2>&1
	note "B topics now: $(jq -r '[.topics[].name] | join(" | ")' "$tmp/names.topics" 2> /dev/null | cut -c1-300)"
	! jq -r '.topics[].name' "$tmp/names.topics" | grep -q '/' && jq -e . "$tmp/names.topics" > /dev/null
	tap $? "odd names: no local topic with '/' made, topics --json still parses"
}

# ---- 6. many DDS topic names matching the import pattern --------------
g6() {
	warm A B pre6 30 > /dev/null 2>&1 # a topic that exists on B before the flood
	local before; before=$(topic_count B)
	bg A "$tmp/many.out" "$HD" many zerocp/many 1500 --linger 20
	local m=$!
	sleep 15
	gw_alive_check "$GB" "$LB" "1500 DDS topics matching --import '*' (topic table 128): gateway B still runs"
	local during; during=$(topic_count B)
	note "B's topic table: $before topics before, $during during; $(tail -1 "$tmp/many.out")"
	reap "$m" 30
	sleep 25 # an import with no DDS writer closes after 10 s (and DDS may take its 10 s lease to see the writers gone)
	# Does the table come back for legitimate local topics once the hostile writers are gone?
	on B "$ZCP" pub --name gwk legit.after.many --count 1 --size 8 > "$tmp/legit.out" 2>&1
	local r=$?
	note "local 'zerocp pub legit.after.many' on B after the hostile left: status $r: $(tail -1 "$tmp/legit.out")"
	on B "$ZCP" topics --name gwk --json > "$tmp/many.topics" 2> /dev/null
	note "B's many* topics after the hostile left: $(jq '[.topics[] | select(.name | startswith("many"))] | length' "$tmp/many.topics"), their open gateway publishers: $(jq '[.topics[] | select(.name | startswith("many")) | .publishers[]] | length' "$tmp/many.topics")"
	tap $r "after 1500 hostile DDS topics came and went, a local process on B can still make a new topic"
	cross A B pre6 100 64
	tap $? "after the topic flood: a topic made before it still crosses A -> B (100 in order)"
}

# ---- 7. flood at full speed -------------------------------------------
g7() {
	warm A B flood 30 > /dev/null 2>&1
	local u0; u0=$(pools_used B)
	bg B "$tmp/flood.echo" "$ZCP" echo --name gwk flood --timeout 40
	local e=$!
	sleep 1
	on A "$HD" write zerocp/flood --count 30000 --size 1000 --linger 1 > "$tmp/flood.hd" 2>&1
	note "flood writer: $(tr '\n' ' ' < "$tmp/flood.hd")"
	sleep 2
	kill -TERM "$e" 2> /dev/null; reap "$e" 5
	note "echo on B: $(grep -E 'received' "$tmp/flood.echo" | tail -1)"
	local got; got=$(grep -c '^#' "$tmp/flood.echo")
	note "flood: $got of 30000 delivered to a plain (drop-oldest-reading) echo"
	gw_alive_check "$GB" "$LB" "flood of 30000 x 1000 B reliable samples at full speed: gateway B still runs"
	sleep 1
	local u1; u1=$(pools_used B); local h1; h1=$(held_by_live B)
	note "B pools used before $u0, after $u1, held by live processes $h1"
	[ "$u1" = "$h1" ]
	tap $? "after the flood: B's pools used ($u1) = chunks held by live processes + kept by rings ($h1)"
}

# ---- 8. a local subscriber that never takes (BLOCK on import) ----------
g8() {
	warm A B stall 30 > /dev/null 2>&1
	warm A B nostall 30 > /dev/null 2>&1
	bg B "$tmp/stuck.out" "$HL" stuck gwk stall 600
	local s=$!
	wait_for stuck "$tmp/stuck.out" 5
	# fill it: 200 reliable samples on stall (capacity 1 subscriber)
	bg A "$tmp/stall.pub" "$ZCP" pub --name gwk stall --count 200 --size 64 --block --quiet
	local p=$!
	sleep 3
	# another topic must still cross
	bg B "$tmp/nostall.echo" "$ZCP" echo --name gwk nostall --json --count 50 --timeout 15
	local e=$!
	sleep 1
	on A "$ZCP" pub --name gwk nostall --count 50 --size 64 --block --quiet
	reap "$e" 20
	local c; c=$(check_json "$tmp/nostall.echo" | cut -d' ' -f1)
	note "with a never-taking subscriber on 'stall' at B: 'nostall' got $c of 50"
	note "B pools during the stall: $(on B "$ZCP" stat --name gwk --json | jq -c '[.pools[] | "\(.chunk_size):\(.used)/\(.total)"]')"
	note "stall topic at B: $(on B "$ZCP" topics --name gwk --json | jq -c '.topics[] | select(.name == "stall") | {published, lost, kept, subs: [.subscribers[] | {waiting, taken}]}')"
	[ "$c" = 50 ]
	tap $? "a never-taking local subscriber on one imported topic does not stop another topic (head-of-line)"
	# the other direction during the stall
	cross B A stallrev 50 64
	tap $? "during the stall: B -> A still crosses (export side independent)"
	# SIGTERM while stuck
	local t0; t0=$(date +%s.%N)
	kill -TERM "$GB"
	reap "$GB" 10
	local st=$?
	local dt; dt=$(echo "$(date +%s.%N) - $t0" | bc)
	note "gateway B stopped by SIGTERM while blocked: status $st after ${dt}s"
	[ "$st" = 0 ]
	tap $? "gateway B blocked on a never-taking subscriber stops on SIGTERM with status 0 within 10 s"
	kill -TERM "$p" 2> /dev/null; reap "$p" 5
	# Restart B while the stuck subscriber is still there: a new gateway must
	# not be stuck as well on every other topic.
	newlog B; LB=$NEWLOG; start_gw B "$LB"; GB=$gwpid
	bg A "$tmp/stall.pub2" "$ZCP" pub --name gwk stall --count 100 --size 64 --block --quiet
	p=$!
	sleep 2
	cross A B nostall2 50 64
	tap $? "restarted gateway B with the stuck subscriber still there: another topic crosses"
	kill -KILL "$s" 2> /dev/null; reap "$s" 2
	kill -TERM "$p" 2> /dev/null; reap "$p" 5
}

# ---- 9. local forged registrations on zerocp.gateways ------------------
g9() {
	bg B "$tmp/reg1.out" "$HL" reg gwk 0 3
	local r1=$!
	bg B "$tmp/reg2.out" "$HL" reg gwk 16000 3 0xff
	local r2=$!
	bg B "$tmp/reg3.out" "$HL" reg gwk 7 3 0x00
	local r3=$!
	sleep 2
	gw_alive_check "$GB" "$LB" "garbage registrations on zerocp.gateways (1, 7, 16000 bytes): gateway B still runs"
	cross A B afterreg 100 64
	tap $? "with garbage registrations present: 100 samples A -> B in order and intact"
	kill -KILL $r1 $r2 $r3 2> /dev/null; reap $r1 2; reap $r2 2; reap $r3 2
	# A non-gateway local process registers A's gateway id on B (the id of
	# A's current gateway, learnt from DDS now: A's gateway was restarted).
	bg A "$tmp/sniffpubA2" "$ZCP" pub --name gwk sniffA2 --count 0 --rate 20 --size 8
	local sp=$!
	on B "$HD" sniff zerocp/sniffA2 --seconds 6 > "$tmp/sniffA2" 2>&1
	kill -TERM "$sp" 2> /dev/null; reap "$sp" 5
	gaid=$(sed -n 's/^origin=\(0x[0-9a-f]*\).*/\1/p' "$tmp/sniffA2" | sort -u | head -1)
	note "A's current gateway id, sniffed: ${gaid:-none}"
	if [ -n "${gaid:-}" ]; then
		bg B "$tmp/reg4.out" "$HL" regid gwk "$gaid"
		local r4=$!
		wait_for reg "$tmp/reg4.out" 5
		sleep 1
		cross A B afterforgedreg 100 64
		local st=$?
		kill -KILL $r4 2> /dev/null; reap $r4 2
		tap $st "a local non-gateway process registering A's gateway id on B does not blackhole A -> B"
		sleep 1
		cross A B afterforgedreggone 100 64
		tap $? "once that forger is killed (and reclaimed), A -> B crosses again"
		newlog B; kill -TERM "$GB"; reap "$GB" 10; LB=$NEWLOG; start_gw B "$LB"; GB=$gwpid
		cross A B afterforgedregrestart 100 64
		tap $? "... and after B's gateway is restarted, A -> B crosses again"
		restart_B
	else
		echo "ok $((n = n + 1)) # SKIP A's gateway id not learnt"
	fi
}

# ---- 14. a local non-gateway registrant older than the gateway ---------
g14() {
	# A local process that registers (any id) with a smaller process id
	# than B's gateway: does the real gateway stand by forever?
	kill -TERM "$GB"; reap "$GB" 10
	bg B "$tmp/reg5.out" "$HL" regid gwk 0x1122334455667788
	local r5=$!
	wait_for reg "$tmp/reg5.out" 5
	newlog B; LB=$NEWLOG; start_gw B "$LB"; GB=$gwpid
	cross A B afterfakeprimary 100 64
	tap $? "a local non-gateway registrant older (smaller process id) than gateway B does not stop A -> B"
	cross B A afterfakeprimaryrev 100 64
	tap $? "... nor B -> A"
	kill -KILL $r5 2> /dev/null; reap $r5 2
	sleep 1
	cross A B afterfakeprimarygone 100 64
	tap $? "once that registrant is killed (and reclaimed), A -> B crosses again"
	restart_B
}

# restart_B: a fresh manager and gateway on B (what a forged registration
# left in zerocp.gateways goes with the old manager).
restart_A() {
	kill -TERM "$GA" ${GA2:-} 2> /dev/null; reap "$GA" 10; [ -n "${GA2:-}" ] && reap "$GA2" 10; GA2=
	kill -TERM "$SA"; reap "$SA" 10
	bg A "$tmp/serveA2.log" "$ZCP" serve --name gwk --interval 0.2 --quiet $POOLSA
	SA=$!
	for i in $(seq 50); do on A "$ZCP" stat --name gwk > /dev/null 2>&1 && break; sleep 0.1; done
	newlog A; LA=$NEWLOG; start_gw A "$LA"; GA=$gwpid
}
restart_B() {
	kill -TERM "$GB"; reap "$GB" 10
	kill -TERM "$SB"; reap "$SB" 10
	bg B "$tmp/serveB2.log" "$ZCP" serve --name gwk --interval 0.2 --quiet $POOLSB
	SB=$!
	for i in $(seq 50); do on B "$ZCP" stat --name gwk > /dev/null 2>&1 && break; sleep 0.1; done
	newlog B; LB=$NEWLOG; start_gw B "$LB"; GB=$gwpid
}

# ---- 10. asymmetric pools: a 1 MiB local sample on A, B tops at 16 KiB --
g10() {
	warm A B huge 30 > /dev/null 2>&1
	bg B "$tmp/huge.echo" "$ZCP" echo --name gwk huge --json --timeout 20
	local e=$!
	sleep 1
	on A "$ZCP" pub --name gwk huge --count 1 --size 1M --block --quiet
	on A "$ZCP" pub --name gwk huge --count 3 --size 64 --block --quiet
	sleep 4
	kill -TERM "$e" 2> /dev/null; reap "$e" 5
	note "B got sizes: $(grep '^{' "$tmp/huge.echo" | jq -r .size 2> /dev/null | tr '\n' ' ')"
	alive "$GB" && [ "$(grep '^{' "$tmp/huge.echo" | jq -r .size 2> /dev/null | grep -c '^64$')" = 3 ]
	tap $? "1 MiB local sample on A into B (16 KiB pools): B alive and the next 3 small samples arrive"
	grep -Ei 'huge' "$LB" | head -3 | sed 's/^/#   gwB: /'
	# largest pool of B crossing B -> A: payload that fills a 16 KiB chunk
	local maxb=16320
	cross B A maxb 5 $maxb
	tap $? "B -> A: 5 samples of $maxb bytes (B's largest pool) cross intact"
}

# ---- 11. kill -9 under traffic in both directions, restart -------------
g11() {
	warm A B kab 30 > /dev/null 2>&1
	warm B A kba 30 > /dev/null 2>&1
	bg A "$tmp/kab.pub" "$ZCP" pub --name gwk kab --count 0 --rate 2000 --size 3000
	local pa=$!
	bg B "$tmp/kba.pub" "$ZCP" pub --name gwk kba --count 0 --rate 2000 --size 3000
	local pb=$!
	bg B "$tmp/kab.echo" "$ZCP" echo --name gwk kab --timeout 60
	local ea=$!
	bg A "$tmp/kba.echo" "$ZCP" echo --name gwk kba --timeout 60
	local eb=$!
	local ok=0
	for round in 1 2 3 4 5 6; do
		sleep "0.$((RANDOM % 9 + 1))"
		kill -KILL "$GB"; wait "$GB" 2> /dev/null
		[ $((round % 2)) = 0 ] && { kill -KILL "$GA"; wait "$GA" 2> /dev/null; newlog A; LA=$NEWLOG; start_gw A "$LA" || ok=1; GA=$gwpid; }
		newlog B; LB=$NEWLOG; start_gw B "$LB" || ok=1; GB=$gwpid
		sleep 1
	done
	tap $ok "6 rounds of kill -9 under traffic both ways (A every other round): each restarted gateway says ready"
	sleep 3
	local c1; c1=$(grep -c '^#' "$tmp/kab.echo")
	sleep 2
	local c2; c2=$(grep -c '^#' "$tmp/kab.echo")
	note "after the last restart the echo on B of kab went from $c1 to $c2 samples in 2 s"
	[ "$c2" -gt "$c1" ]
	tap $? "after the kill rounds: traffic A -> B flows again"
	kill -TERM $pa $pb $ea $eb 2> /dev/null
	reap $pa 5; reap $pb 5; reap $ea 5; reap $eb 5
	sleep 2
	local ua ub ha hb da db
	ua=$(pools_used A) ub=$(pools_used B) ha=$(held_by_live A) hb=$(held_by_live B)
	da=$(dead_endpoints A) db=$(dead_endpoints B)
	note "A: pools used $ua, held by live $ha, dead endpoints $da; B: used $ub, live $hb, dead endpoints $db"
	on B "$ZCP" stat --name gwk > "$tmp/statB.kill" 2>&1
	[ "$ua" = "$ha" ] && [ "$ub" = "$hb" ]
	tap $? "after the kills: every pool's used count = what live clients hold (A $ua/$ha, B $ub/$hb)"
	[ "$da" = 0 ] && [ "$db" = 0 ]
	tap $? "after the kills: no endpoint of a dead process stays (A $da, B $db)"
}

# ---- 12. two gateways on A, one on B: duplicates, takeover -------------
g12() {
	newlog A; LA2=$NEWLOG; start_gw A "$LA2"; GA2=$gwpid
	sleep 2
	warm A B dupab 30 > /dev/null 2>&1
	warm B A dupba 30 > /dev/null 2>&1
	local res=0
	for dir in AB BA; do
		local from=${dir%?} to=${dir#?} t=dup$(echo $dir | tr AB ab)
		bg A "$tmp/$t.A" "$ZCP" echo --name gwk "$t" --json --timeout 8
		local e1=$!
		bg B "$tmp/$t.B" "$ZCP" echo --name gwk "$t" --json --timeout 8
		local e2=$!
		sleep 1
		on "$from" "$ZCP" pub --name gwk "$t" --count 200 --size 64 --block --quiet
		reap $e1 12; reap $e2 12
		local a b; a=$(check_json "$tmp/$t.A" | cut -d' ' -f1) b=$(check_json "$tmp/$t.B" | cut -d' ' -f1)
		note "two gateways on A: 200 published on $from: A got $a, B got $b"
		[ "$a" = 200 ] && [ "$b" = 200 ] || res=1
	done
	tap $res "two gateways on A + one on B: 200 samples each way arrive exactly once on both hosts"
	# Takeover: kill the primary of A (smallest process id: the older one, GA) mid-stream.
	warm A B tko 30 > /dev/null 2>&1
	bg B "$tmp/tko.B" "$ZCP" echo --name gwk tko --json --timeout 20
	local e=$!
	bg A "$tmp/tko.A" "$ZCP" echo --name gwk tko --json --timeout 20
	local e3=$!
	sleep 1
	bg A "$tmp/tko.pub" "$ZCP" pub --name gwk tko --count 400 --rate 50 --size 64 --block --quiet
	local p=$!
	sleep 3
	kill -KILL "$GA"; wait "$GA" 2> /dev/null
	reap $p 20; sleep 3
	kill -TERM $e $e3 2> /dev/null; reap $e 5; reap $e3 5
	local r; r=$(check_json "$tmp/tko.B")
	set -- $r
	local dups; dups=$(echo "$r" | cut -d' ' -f3- | tr ' ' '\n' | grep -v '^$' | awk 'seen[$0]++' | wc -l)
	local ca; ca=$(check_json "$tmp/tko.A" | cut -d' ' -f1)
	note "takeover: B got $1 of 400 (corrupt $2, first-byte repeats beyond mod-256 wrap: see below), A got $ca"
	# first bytes cycle mod 256: 400 samples = 0..255,0..143; count dup sequence numbers instead
	local seqs; seqs=$(grep '^{' "$tmp/tko.B" | jq -r .sequence | sort -n | uniq -d | wc -l)
	note "takeover: duplicated zerocp sequence numbers at B (per gateway publisher): $seqs"
	local dd; dd=$(check_json "$tmp/tko.B" | cut -d' ' -f3- | awk '{ p = -1; d = 0; for (i = 1; i <= NF; i++) { if (p >= 0 && $i != (p + 1) % 256) d++; p = $i } print d }')
	note "takeover: breaks in the counter order at B: $dd"
	[ "$1" -le 400 ] && [ "$2" = 0 ] && [ "$ca" = 400 ] && [ "${dd:-1}" -le 1 ]
	tap $? "killing A's forwarding gateway mid-stream: the standby takes over, no duplicate or reorder at B (got $1 of 400), A's own echo gets all 400"
	GA=$GA2
}

# ---- 15. restart churn: 12 clean restarts and 12 kill -9 of gateway B --
g15() {
	local u0; u0=$(pools_used B)
	local p0; p0=$(on B "$ZCP" topics --name gwk --json | jq '[.topics[] | select(.name == "zerocp.gateways") | .publishers[]] | length')
	local ok=0
	for i in $(seq 12); do
		kill -TERM "$GB"; reap "$GB" 10 || ok=1
		newlog B; LB=$NEWLOG; start_gw B "$LB" || ok=1; GB=$gwpid
	done
	for i in $(seq 12); do
		kill -KILL "$GB"; reap "$GB" 10
		newlog B; LB=$NEWLOG; start_gw B "$LB" || ok=1; GB=$gwpid
	done
	sleep 1
	local u1; u1=$(pools_used B)
	local p1; p1=$(on B "$ZCP" topics --name gwk --json | jq '[.topics[] | select(.name == "zerocp.gateways") | .publishers[]] | length')
	note "24 restarts of B: pools used $u0 -> $u1, zerocp.gateways publishers $p0 -> $p1; last log: $(grep -v multicast "$LB" | head -2 | tr '\n' ' ')"
	tap $ok "24 restarts of gateway B (12 SIGTERM, 12 SIGKILL): each stops cleanly / says ready"
	cross A B afterchurn 100 64
	tap $? "after 24 restarts: 100 samples A -> B in order and intact"
	[ $((u1 - u0)) -le 2 ]
	tap $? "after 24 restarts: B's pools used did not grow ($u0 -> $u1)"
}

# ---- 13. end: stop everything, nothing left in /dev/shm ----------------
g13() {
	kill -TERM "$GA" "$GB" 2> /dev/null
	reap "$GA" 10; local s1=$?
	reap "$GB" 10; local s2=$?
	note "gateways' exit statuses on SIGTERM: A $s1, B $s2"
	[ $s1 = 0 ] && [ $s2 = 0 ]
	tap $? "the gateways stop on SIGTERM with status 0"
	sleep 0.5
	local ua ub; ua=$(pools_used A) ub=$(pools_used B)
	note "with no client left: A pools used $ua, B $ub"
	for h in A B; do
		note "$h topics keeping chunks: $(on $h "$ZCP" topics --name gwk --json | jq -c '[.topics[] | select(.kept > 0) | {name, kept, published, pubs: (.publishers | length), subs: (.subscribers | length)}]' | cut -c1-600)"
	done
	[ "$ua" = 0 ] && [ "$ub" = 0 ]
	tap $? "no client left: every pool of both managers is free"
	kill -TERM "$SA" "$SB"; reap "$SA" 10; reap "$SB" 10
	local left; left=$( (on A ls /dev/shm; on B ls /dev/shm) | grep -c zerocp)
	[ "$left" = 0 ]
	tap $? "nothing left in either host's /dev/shm ($left files)"
}

for g in 1 2 3 4 5 7 8 10 11 12 14 9 15 6 13; do
	if [ -n "${ONLY:-}" ] && ! echo " $ONLY " | grep -q " $g "; then continue; fi
	note "== group $g ($(($(date +%s) - T0)) s)"
	g$g
done
note "run time $(($(date +%s) - T0)) s, $failed failed"
echo "1..$n"
exit 0
