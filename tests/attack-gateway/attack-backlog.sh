#!/bin/bash
# SPDX-License-Identifier: MIT
# tests/attack-gateway/attack-backlog.sh - outside attack on zerocp-gateway's --backlog promise
# (an imported topic whose local subscribers stop taking keeps at most
# --backlog MiB waiting, drops the oldest beyond it, says so, counts at
# exit; bounded VmRSS; other topics keep crossing; no crash or hang; the
# topic crosses again once the subscriber resumes or dies) and the older
# ones (reliable topic whole and in order while subscribers keep up; exit 0
# on SIGTERM).
#
# Two "hosts" on loopback: two managers, one gateway each, Cyclone DDS on
# lo with unicast peers.  TAP output.  Binaries from $ZCP_TOOLS (default
# build/tools beside this tests/ folder).  Needs root, bash, awk, timeout.
# About 2.5 minutes; not in "make check" (tests/gateway-netns.sh checks
# the backlog there).
#
# Order check: `zerocp pub --size N` sends sample s with byte k = (s+k)
# mod 256, so byte 0 is s mod 256.  Scenarios that check order exactly
# publish at most 256 samples per publisher, so byte 0 is s itself; each
# publisher of a topic uses a distinct size, so the size names the
# publisher on the receiving side.

T=${ZCP_TOOLS:-$(cd "$(dirname "$0")/../../build/tools" 2> /dev/null && pwd)}
ZCP=$T/zerocp
GW=$T/zerocp-gateway

if [ ! -x "$GW" ]; then echo "1..0 # SKIP no zerocp-gateway in $T"; exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP not root"; exit 0; fi
if [ ! -x "$ZCP" ]; then echo "1..0 # SKIP no zerocp in $T"; exit 0; fi

export CYCLONEDDS_URI='<CycloneDDS><Domain><General><Interfaces><NetworkInterface name="lo"/></Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex><Peers><Peer address="127.0.0.1"/></Peers></Discovery></Domain></CycloneDDS>'
unset ZEROCP_NAME

W=$(mktemp -d /tmp/zcp-atk-backlog.XXXXXX) || exit 1
DOMBASE=$(( ($$ % 18) * 12 + 1 ))   # 1..217, +11 stays <= 232
PIDS=""
MGRS=""
K=0
FAILS=0

ok() { K=$((K+1)); echo "ok $K - $*"; }
notok() { K=$((K+1)); FAILS=$((FAILS+1)); echo "not ok $K - $*"; }
check() { # check COND-STATUS description
	if [ "$1" = 0 ]; then shift; ok "$@"; else shift; notok "$@"; fi
}
diag() { sed 's/^/# /'; }
note() { echo "# $*"; }

track() { PIDS="$PIDS $*"; }
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '/^State/{print $2}' /proc/$1/status 2>/dev/null)" != Z ]; }
stopproc() { # stopproc PID...: CONT, TERM, wait up to 3 s, KILL
	local p
	for p in "$@"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
	for p in "$@"; do
		local i=0
		while alive "$p" && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done
		alive "$p" && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
}
cleanup() {
	local p
	# gateways and clients first, managers last
	stopproc $PIDS
	for m in $MGRS; do "$ZCP" clean --name "$m" --force >/dev/null 2>&1; done
	rm -rf "$W"
}
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

rss() { awk '/^VmRSS/{print $2}' /proc/$1/status 2>/dev/null; }
rss_sampler() { # rss_sampler PID FILE: one line "ms kB" every 250 ms
	( while alive "$1"; do echo "$(date +%s%3N) $(rss "$1")"; sleep 0.25; done ) > "$2" 2>/dev/null &
	SAMPLER=$!
}
rss_max() { awk 'NF==2 && $2>m{m=$2} END{print m+0}' "$1"; }

# hosts TAG BACKLOG [extra B-gateway options...]: two managers, two gateways
hosts() {
	local tag=$1 bl=$2; shift 2
	A=atkA$$$tag; B=atkB$$$tag
	DOM=$((DOMBASE + NHOSTS)); NHOSTS=$((NHOSTS+1))
	D=$W/$tag; mkdir -p "$D"
	"$ZCP" serve --name "$A" --quiet --pool 1Kx400 --pool ${POOL64:-64Kx40} --topics 64 --max-processes 55 > "$D/sA.log" 2>&1 & SA=$!
	"$ZCP" serve --name "$B" --quiet --pool 1Kx400 --pool ${POOL64:-64Kx40} --topics 64 --max-processes 55 > "$D/sB.log" 2>&1 & SB=$!
	MGRS="$MGRS $A $B"
	local i=0
	until "$ZCP" stat --name "$A" >/dev/null 2>&1 && "$ZCP" stat --name "$B" >/dev/null 2>&1; do
		sleep 0.1; i=$((i+1)); [ $i -gt 50 ] && break
	done
	"$GW" --name "$A" --export '*' --domain $DOM > "$D/gA.log" 2>&1 & GA=$!
	"$GW" --name "$B" --import '*' --backlog "$bl" --domain $DOM "$@" > "$D/gB.log" 2>&1 & GB=$!
	track $GA $GB $SA $SB
	sleep 1
}
# unhosts: SIGTERM everything of the scenario; gateways' exit status kept
unhosts() {
	stopproc $PIDS_S
	PIDS_S=""
	kill -TERM $GA 2>/dev/null; wait $GA 2>/dev/null; RCA=$?
	kill -TERM $GB 2>/dev/null; wait $GB 2>/dev/null; RCB=$?
	stopproc $SA $SB
	"$ZCP" clean --name "$A" >/dev/null 2>&1
	"$ZCP" clean --name "$B" >/dev/null 2>&1
}
bg() { "$@" & local p=$!; track $p; PIDS_S="$PIDS_S $p"; LAST=$!; }

# warm TOPIC: make A's gateway export TOPIC and B's gateway import it
# (3-byte samples, ignored by the checks), so no real sample is lost to
# the 200 ms export scan
warm() {
	local t wp=""
	for t in "$@"; do "$ZCP" pub "$t" --name "$A" --size 3 --count 3 --rate 4 --quiet & wp="$wp $!"; done
	wait $wp; sleep 1
}

# seqcheck FILE MODE: MODE exact (byte 0 must strictly increase per size)
# or mod:G (delta mod 256 in 1..G, except "jumps" counted); prints one line
#   n=N bad=B dup=D back=B2 jumps=J sizes=S:count:first:last,...
# and the first bad lines on following lines.  Size 3 (warm-up) ignored.
seqcheck() {
	awk -v mode="$2" '
	BEGIN { for (i = 0; i < 16; i++) h[substr("0123456789abcdef", i+1, 1)] = i
		exact = (mode == "exact"); if (!exact) { split(mode, a, ":"); G = a[2] + 0 } }
	function hx(s, o) { return h[substr(s, o, 1)] * 16 + h[substr(s, o+1, 1)] }
	{
		if (!match($0, /"size":[0-9]+/)) { bad++; next }
		sz = substr($0, RSTART + 7, RLENGTH - 7) + 0
		if (sz == 3) next
		if (!match($0, /"data":"[0-9a-f]*"/)) { bad++; next }
		d = substr($0, RSTART + 8, RLENGTH - 9)
		n++
		if (length(d) != 2 * sz) { bad++; if (nb++ < 5) msg = msg sprintf("line %d: size %d but %d hex digits\n", NR, sz, length(d)); next }
		v = hx(d, 1)
		# intact: bytes 1, middle and last follow the pattern
		if (sz > 1) {
			m = int(sz / 2)
			if (hx(d, 3) != (v + 1) % 256 || hx(d, 2*m + 1) != (v + m) % 256 || hx(d, 2*sz - 1) != (v + sz - 1) % 256) {
				bad++; if (nb++ < 5) msg = msg sprintf("line %d: size %d, byte 0 %d, payload not the counter pattern\n", NR, sz, v); next }
		}
		if (sz in last) {
			p = last[sz]
			if (exact) {
				if (v == p) { dup++; if (nb++ < 5) msg = msg sprintf("line %d: size %d: sample %d again\n", NR, sz, v) }
				else if (v < p) { back++; if (nb++ < 5) msg = msg sprintf("line %d: size %d: sample %d after %d\n", NR, sz, v, p) }
				else if (v != p + 1) jumps++
			} else {
				dd = (v - p + 256) % 256
				if (dd == 0) { dup++; if (nb++ < 5) msg = msg sprintf("line %d: size %d: byte0 %d again\n", NR, sz, v) }
				else if (dd != 1) { jumps++; if (dd > G) { back++; if (nb++ < 5) msg = msg sprintf("line %d: size %d: byte0 %d after %d (back or jump > %d)\n", NR, sz, v, p, G) } }
			}
		} else { first[sz] = v; order[++ns] = sz }
		last[sz] = v; cnt[sz]++
	}
	END {
		s = ""; for (i = 1; i <= ns; i++) s = s (i > 1 ? "," : "") order[i] ":" cnt[order[i]] ":" first[order[i]] ":" last[order[i]]
		printf "n=%d bad=%d dup=%d back=%d jumps=%d sizes=%s\n", n, bad + 0, dup + 0, back + 0, jumps + 0, s
		printf "%s", msg
	}' "$1"
}
field() { sed -n -E "1s/(^|.* )$2=([^ ]*).*/\\2/p" <<<"$1"; }
sizeinfo() { # sizeinfo RESULT SIZE -> "count first last"
	field "$1" sizes | tr ',' '\n' | awk -F: -v s="$2" '$1==s{print $2, $3, $4}'
}
# exit line of a gateway log for a topic: "sent skipped received dropped lost"
gwcounts() {
	sed -n "s/.*topic '$2': \\([0-9]*\\) sent to DDS, \\([0-9]*\\) skipped; \\([0-9]*\\) received, \\([0-9]*\\) dropped, \\([0-9]*\\) lost to a full backlog.*/\\1 \\2 \\3 \\4 \\5/p" "$1" | tail -n 1
}
lines() { wc -l < "$1" 2>/dev/null | tr -d ' '; }

NHOSTS=0
echo "1..50"

# ---------------------------------------------------------------------------
# 1. baseline: reliable topics whose subscriber keeps up cross whole, in order
hosts s1 1
bg "$ZCP" echo base1 --name "$B" --json > "$D/e1.json" 2> "$D/e1.err"
bg "$ZCP" echo base64 --name "$B" --json > "$D/e64.json" 2> "$D/e64.err"
sleep 0.3
warm base1 base64
"$ZCP" pub base1 --name "$A" --size 1000 --count 250 --rate 250 --quiet &
p1=$!
"$ZCP" pub base64 --name "$A" --size 65536 --count 200 --rate 100 --quiet &
p2=$!
wait $p1 $p2
sleep 1.5
r1=$(seqcheck "$D/e1.json" exact); r64=$(seqcheck "$D/e64.json" exact)
set -- $(sizeinfo "$r1" 1000); c1=${1:-0}
set -- $(sizeinfo "$r64" 65536); c64=${1:-0}
[ "$c1" = 250 ] && [ "$(field "$r1" bad)$(field "$r1" dup)$(field "$r1" back)$(field "$r1" jumps)" = 0000 ]
check $? "baseline: 250 1000-byte samples cross whole, intact, in order (got: $r1)"
[ "$c64" = 200 ] && [ "$(field "$r64" bad)$(field "$r64" dup)$(field "$r64" back)$(field "$r64" jumps)" = 0000 ]
check $? "baseline: 200 64-KiB samples cross whole, intact, in order (got: $r64)"
unhosts
[ $RCB = 0 ] && [ $RCA = 0 ]; check $? "baseline: both gateways exit 0 on SIGTERM (A $RCA, B $RCB)"

# ---------------------------------------------------------------------------
# 2. --backlog 1 with 64 KiB samples: a stopped subscriber, a live topic
hosts s2 1
bg "$ZCP" echo big --name "$B" --json > "$D/big.json" 2> "$D/big.err"; EBIG=$LAST
bg "$ZCP" echo live --name "$B" --json > "$D/live.json" 2> "$D/live.err"
sleep 0.3
warm big live
kill -STOP $EBIG
rss0=$(rss $GB); rss_sampler $GB "$D/rss"
"$ZCP" pub live --name "$A" --size 100 --count 120 --rate 20 --quiet & pl=$!
"$ZCP" pub big --name "$A" --size 65536 --count 250 --rate 50 --quiet & pb=$!
wait $pb $pl
sleep 1
livec=$(seqcheck "$D/live.json" exact)
set -- $(sizeinfo "$livec" 100); lc=${1:-0}
[ "$lc" = 120 ] && [ "$(field "$livec" back)$(field "$livec" dup)" = 00 ]
check $? "64K stall: the other topic crossed whole while 'big' stalled ($lc/120; $livec)"
grep -q "topic 'big'.*oldest samples dropped" "$D/gB.log"
check $? "64K stall: the gateway said on stderr that it dropped the oldest"
grep "topic 'big'" "$D/gB.log" | diag
rmax=$(rss_max "$D/rss")
note "VmRSS of importing gateway: before $rss0 kB, max $rmax kB during stall"
[ -n "$rss0" ] && [ $((rmax - rss0)) -lt $((1024 + 16384)) ]
check $? "64K stall: VmRSS growth bounded (< backlog + 16 MiB): $rss0 -> $rmax kB"
alive $GB; check $? "64K stall: importing gateway still alive"
kill -CONT $EBIG
sleep 2
r=$(seqcheck "$D/big.json" exact)
note "after resume: $r"
set -- $(sizeinfo "$r" 65536); bc=${1:-0}; blast=${3:-x}
[ "$(field "$r" bad)$(field "$r" dup)$(field "$r" back)" = 000 ] && [ "$blast" = 249 ]
check $? "64K stall: after SIGCONT samples intact, in order, no duplicate, newest (249) arrived (last $blast)"
# the subscriber's queue (16) + 1 MiB / 64 KiB (16) + the newest + one in hand
[ "$bc" -ge 17 ] && [ "$bc" -le 36 ]
check $? "64K stall: what waited is bounded by queue + backlog (got $bc of 250, expect 17..36)"
# crosses again
: > "$D/big2.mark"; n0=$(lines "$D/big.json")
"$ZCP" pub big --name "$A" --size 65535 --count 30 --rate 30 --quiet
sleep 1.5
r2=$(seqcheck "$D/big.json" exact)
set -- $(sizeinfo "$r2" 65535); c2=${1:-0}
[ "$c2" = 30 ] && [ "$(field "$r2" back)$(field "$r2" dup)" = 00 ]
check $? "64K stall: after the stall the topic crosses whole again ($c2/30)"
kill $SAMPLER 2>/dev/null
unhosts
[ $RCB = 0 ]; check $? "64K stall: importing gateway exits 0 on SIGTERM ($RCB)"
set -- $(gwcounts "$D/gA.log" big); sentA=${1:-?}
set -- $(gwcounts "$D/gB.log" big); recvB=${3:-?}; lostB=${5:-?}
note "big: A sent $sentA; B received $recvB, lost to backlog $lostB; echo got $(lines "$D/big.json")"
[ "$lostB" != "?" ] && [ "$lostB" -gt 0 ]
check $? "64K stall: exit counts report samples lost to a full backlog ($lostB)"
[ "$sentA" != "?" ] && [ "$recvB" != "?" ] && [ $((recvB + lostB)) = "$sentA" ]
check $? "64K stall: every sample A sent is accounted for on B (received $recvB + lost $lostB = sent $sentA)"

# ---------------------------------------------------------------------------
# 3. several stalled topics at once, sizes 1 B .. 64 KiB mixed on one topic
# (bigger 64 KiB pools: a publisher's ring keeps its last `capacity` chunks,
#  so three 64 KiB topics pin 48 chunks on each host; see scenario 11)
POOL64=64Kx200 hosts s3 1
for t in m1 m2 m3 live; do bg "$ZCP" echo $t --name "$B" --json > "$D/$t.json" 2> "$D/$t.err"; eval E_$t=\$LAST; done
sleep 0.3
warm m1 m2 m3 live
kill -STOP $E_m1 $E_m2 $E_m3
rss0=$(rss $GB); rss_sampler $GB "$D/rss"
PP=""
"$ZCP" pub m1 --name "$A" --size 1 --count 250 --rate 50 --quiet & PP="$PP $!"
"$ZCP" pub m1 --name "$A" --size 65536 --count 250 --rate 50 --quiet & PP="$PP $!"
"$ZCP" pub m2 --name "$A" --size 20000 --count 250 --rate 50 --quiet & PP="$PP $!"
"$ZCP" pub m2 --name "$A" --size 1000 --count 250 --rate 50 --quiet & PP="$PP $!"
"$ZCP" pub m3 --name "$A" --size 65000 --count 250 --rate 50 --quiet & PP="$PP $!"
"$ZCP" pub m3 --name "$A" --size 2 --count 250 --rate 50 --quiet & PP="$PP $!"
"$ZCP" pub live --name "$A" --size 500 --count 100 --rate 20 --quiet & PP="$PP $!"
wait $PP
sleep 1
rmax=$(rss_max "$D/rss")
note "VmRSS: before $rss0 kB, max $rmax kB (3 stalled topics, backlog 1 MiB each)"
r=$(seqcheck "$D/live.json" exact); set -- $(sizeinfo "$r" 500); lc=${1:-0}
[ "$lc" -ge 95 ] && [ "$(field "$r" back)$(field "$r" dup)" = 00 ]
check $? "3 stalled topics: the live topic kept crossing ($lc/100)"
[ -n "$rss0" ] && [ $((rmax - rss0)) -lt $((3 * 1024 + 16384)) ]
check $? "3 stalled topics: VmRSS growth bounded (< 3 backlogs + 16 MiB): $rss0 -> $rmax kB"
kill -CONT $E_m1 $E_m2 $E_m3
sleep 2.5
allok=0
for t in m1 m2 m3; do
	r=$(seqcheck "$D/$t.json" exact)
	note "$t after resume: $r"
	[ "$(field "$r" bad)$(field "$r" dup)$(field "$r" back)" = 000 ] || { allok=1; seqcheck "$D/$t.json" exact | sed 1d | diag; }
	for s in $(field "$r" sizes | tr ',' '\n' | cut -d: -f1); do
		set -- $(sizeinfo "$r" $s); [ "$3" = 249 ] || { allok=1; note "$t size $s: last $3, not 249"; }
	done
	[ "$(field "$r" sizes | tr ',' '\n' | wc -l)" = 2 ] || { allok=1; note "$t: not two publishers' samples"; }
done
check $allok "3 stalled topics, mixed sizes: after SIGCONT each publisher's samples intact, in order, no duplicate, newest arrived"
alive $GB; check $? "3 stalled topics: importing gateway alive"
kill $SAMPLER 2>/dev/null
unhosts
[ $RCB = 0 ]; check $? "3 stalled topics: importing gateway exits 0 on SIGTERM ($RCB)"
grep "lost to a full backlog" "$D/gB.log" | diag

# ---------------------------------------------------------------------------
# 4. SIGSTOP/SIGCONT cycles of the subscriber; mixed 64 KiB and 1000 B
hosts s4 1
bg "$ZCP" echo cyc --name "$B" --json > "$D/cyc.json" 2> "$D/cyc.err"; EC=$LAST
sleep 0.3
warm cyc
rss0=$(rss $GB); rss_sampler $GB "$D/rss"
"$ZCP" pub cyc --name "$A" --size 65536 --count 250 --rate 40 --quiet & p1=$!
"$ZCP" pub cyc --name "$A" --size 1000 --count 250 --rate 40 --quiet & p2=$!
i=0
while [ $i -lt 14 ]; do kill -STOP $EC; sleep 0.25; kill -CONT $EC; sleep 0.15; i=$((i+1)); done
wait $p1 $p2
sleep 1.5
r=$(seqcheck "$D/cyc.json" exact)
note "cycles: $r"
ok4=0
[ "$(field "$r" bad)$(field "$r" dup)$(field "$r" back)" = 000 ] || { ok4=1; seqcheck "$D/cyc.json" exact | sed 1d | diag; }
for s in 65536 1000; do set -- $(sizeinfo "$r" $s); [ "$3" = 249 ] || { ok4=1; note "size $s: last ${3:-none}"; }; done
check $ok4 "STOP/CONT cycles: samples intact, in order, no duplicate, newest of each publisher arrived"
rmax=$(rss_max "$D/rss")
[ -n "$rss0" ] && [ $((rmax - rss0)) -lt $((1024 + 16384)) ]
check $? "STOP/CONT cycles: VmRSS bounded: $rss0 -> $rmax kB"
kill $SAMPLER 2>/dev/null
unhosts
[ $RCB = 0 ]; check $? "STOP/CONT cycles: importing gateway exits 0 ($RCB)"

# ---------------------------------------------------------------------------
# 5. the stopped subscriber is killed mid-stall; a new one gets the topic
hosts s5 1
bg "$ZCP" echo k5 --name "$B" --json > "$D/k5a.json" 2> "$D/k5a.err"; E1=$LAST
sleep 0.3
warm k5
kill -STOP $E1
bg "$ZCP" pub k5 --name "$A" --size 65536 --count 0 --rate 40 --quiet; P5=$LAST
sleep 3
kill -KILL $E1; sleep 0.2; kill -CONT $E1 2>/dev/null; wait $E1 2>/dev/null
sleep 1.5    # the gateway reclaims dead processes once a second
bg "$ZCP" echo k5 --name "$B" --json --count 40 --timeout 8 > "$D/k5b.json" 2> "$D/k5b.err"; E2=$LAST
wait $E2; rc=$?
r=$(seqcheck "$D/k5b.json" mod:8)
note "new subscriber: $r"
[ $rc = 0 ] && [ "$(field "$r" n)" = 40 ] && [ "$(field "$r" dup)$(field "$r" back)$(field "$r" bad)" = 000 ]
check $? "killed stalled subscriber: a new subscriber gets 40 samples in order within 8 s (rc $rc)"
alive $GB; check $? "killed stalled subscriber: gateway alive"
stopproc $P5
unhosts
[ $RCB = 0 ]; check $? "killed stalled subscriber: gateway exits 0 ($RCB)"

# ---------------------------------------------------------------------------
# 6. remote publisher killed mid-stall, then the remote gateway killed mid-stall
hosts s6 1
bg "$ZCP" echo k6 --name "$B" --json > "$D/k6.json" 2> "$D/k6.err"; E6=$LAST
bg "$ZCP" echo l6 --name "$B" --json > "$D/l6.json" 2> "$D/l6.err"
sleep 0.3
warm k6 l6
kill -STOP $E6
"$ZCP" pub k6 --name "$A" --size 65536 --count 0 --rate 50 --quiet & P6=$!
sleep 3
kill -KILL $P6; wait $P6 2>/dev/null
sleep 0.5
kill -CONT $E6
sleep 2
r=$(seqcheck "$D/k6.json" mod:255)
note "after remote publisher killed: $r"
[ "$(field "$r" dup)$(field "$r" bad)" = 00 ] && [ "$(field "$r" jumps)" -le 1 ] && [ "$(field "$r" n)" -ge 17 ]
check $? "remote publisher killed mid-stall: what waited arrives intact, no dup, at most one gap (the drop)"
# now stall again and kill the remote gateway
kill -STOP $E6
"$ZCP" pub k6 --name "$A" --size 65000 --count 0 --rate 50 --quiet & P6=$!
"$ZCP" pub l6 --name "$A" --size 10 --count 0 --rate 20 --quiet & P6l=$!
sleep 2.5
kill -KILL $GA; wait $GA 2>/dev/null
sleep 1
alive $GB; check $? "remote gateway killed mid-stall: importing gateway alive"
kill -CONT $E6
sleep 1.5
r=$(seqcheck "$D/k6.json" mod:255)
set -- $(sizeinfo "$r" 65000); c=${1:-0}
note "after remote gateway killed: $r"
[ "$c" -ge 17 ] && [ "$(field "$r" dup)$(field "$r" bad)" = 00 ]
check $? "remote gateway killed mid-stall: the backlog still reaches the subscriber ($c 65000-byte samples)"
# restart gateway A: the topics cross again
"$GW" --name "$A" --export '*' --domain $DOM > "$D/gA2.log" 2>&1 & GA=$!; track $GA
n0=$(grep -c '"size":65000' "$D/k6.json"); m0=$(grep -c '"size":10,' "$D/l6.json")
sleep 5
n1=$(grep -c '"size":65000' "$D/k6.json"); m1=$(grep -c '"size":10,' "$D/l6.json")
[ $((n1 - n0)) -ge 100 ] && [ $((m1 - m0)) -ge 40 ]
check $? "remote gateway restarted: both topics cross again (k6 +$((n1-n0)) of ~250, l6 +$((m1-m0)) of ~100 in 5 s)"
r=$(seqcheck "$D/k6.json" mod:255)
[ "$(field "$r" dup)" = 0 ] ; check $? "remote gateway restarted: no duplicate ($r)"
stopproc $P6 $P6l
unhosts
[ $RCB = 0 ]; check $? "remote gateway killed/restarted: importing gateway exits 0 ($RCB)"

# ---------------------------------------------------------------------------
# 7. SIGTERM of the importing gateway while stalled under a flood
hosts s7 1
bg "$ZCP" echo f7 --name "$B" --json > "$D/f7.json" 2> "$D/f7.err"; E7=$LAST
bg "$ZCP" echo g7 --name "$B" --json > "$D/g7.json" 2> "$D/g7.err"; E7b=$LAST
sleep 0.3
warm f7 g7
kill -STOP $E7 $E7b
bg "$ZCP" pub f7 --name "$A" --size 65536 --count 0 --rate 0 --quiet
bg "$ZCP" pub g7 --name "$A" --size 1 --count 0 --rate 0 --quiet
sleep 4
t0=$(date +%s%3N)
kill -TERM $GB
i=0; while alive $GB && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if alive $GB; then
	notok "SIGTERM while stalled: gateway still running 10 s after SIGTERM"
	awk '/^State/' /proc/$GB/status | diag
	kill -KILL $GB
	wait $GB; rc=$?
	notok "SIGTERM while stalled: exit status 0 (killed)"
else
	wait $GB; rc=$?
	dt=$(( $(date +%s%3N) - t0 ))
	[ $dt -lt 3000 ]; check $? "SIGTERM while stalled: gateway exited within 3 s (${dt} ms)"
	[ $rc = 0 ]; check $? "SIGTERM while stalled: exit status 0 ($rc)"
fi
grep -q "topic 'f7'.*lost to a full backlog" "$D/gB.log"; check $? "SIGTERM while stalled: counts printed at exit"
grep "lost to a full backlog" "$D/gB.log" | diag
unhosts

# ---------------------------------------------------------------------------
# 8. a 1-byte flood into a stalled topic: RSS plateau (per-sample overhead)
hosts s8 1
bg "$ZCP" echo fl --name "$B" --json > "$D/fl.json" 2> "$D/fl.err"; E8=$LAST
bg "$ZCP" echo fl2 --name "$B" --json > "$D/fl2.json" 2> "$D/fl2.err"
sleep 0.3
warm fl fl2
kill -STOP $E8
rss0=$(rss $GB); rss_sampler $GB "$D/rss"
bg "$ZCP" pub fl --name "$A" --size 1 --count 0 --rate 0 --block --quiet; P8=$LAST
sleep 4; rmid=$(rss $GB)
sleep 4; rend=$(rss $GB)
"$ZCP" pub fl2 --name "$A" --size 700 --count 50 --rate 25 --quiet
sleep 0.5
stopproc $P8
sleep 4    # let whatever DDS still carries arrive before counting
rmax=$(rss_max "$D/rss")
note "1-byte flood: VmRSS before $rss0, at 4 s $rmid, at 8 s $rend, max $rmax kB"
[ -n "$rmid" ] && [ $((rend - rmid)) -lt 2048 ]
check $? "1-byte flood: VmRSS plateaus (4 s -> 8 s: +$((rend - rmid)) kB)"
[ -n "$rss0" ] && [ $((rmax - rss0)) -lt $((1024 + 16384)) ]
check $? "1-byte flood: VmRSS growth bounded (+$((rmax - rss0)) kB)"
r=$(seqcheck "$D/fl2.json" exact); set -- $(sizeinfo "$r" 700); c=${1:-0}
[ "$c" -ge 48 ]; check $? "1-byte flood: another topic crossed meanwhile ($c/50)"
kill -CONT $E8; sleep 2
r=$(seqcheck "$D/fl.json" mod:255)
note "flood after resume: $r"
[ "$(field "$r" dup)$(field "$r" bad)" = 00 ] && [ "$(field "$r" jumps)" -le 1 ]
check $? "1-byte flood (--block publisher): after SIGCONT no duplicate and one gap only (queue, then backlog), mod 256"
seqcheck "$D/fl.json" mod:255 | sed 1d | diag
kill $SAMPLER 2>/dev/null
unhosts
[ $RCB = 0 ]; check $? "1-byte flood: gateway exits 0 ($RCB)"
set -- $(gwcounts "$D/gA.log" fl); sentA=${1:-?}
set -- $(gwcounts "$D/gB.log" fl); recvB=${3:-?}; dropB=${4:-?}; lostB=${5:-?}
note "fl: A sent $sentA; B received $recvB, dropped $dropB, lost to backlog $lostB; echo got $(lines "$D/fl.json")"
[ "$sentA" != "?" ] && [ "$recvB" != "?" ] && [ $((recvB + dropB + lostB)) = "$sentA" ]
check $? "1-byte flood: every sample A sent is accounted for on B ($recvB + $dropB + $lostB = $((recvB + dropB + lostB)) vs sent $sentA)"
grep "topic 'fl'" "$D/gB.log" | tail -n 2 | diag

# ---------------------------------------------------------------------------
# 9. a stalled topic with history (transient-local)
hosts s9 1
bg "$ZCP" echo h9 --name "$B" --json > "$D/h9.json" 2> "$D/h9.err"; E9=$LAST
sleep 0.3
"$ZCP" pub h9 --name "$A" --size 3 --count 3 --rate 4 --history 8 --capacity 16 --quiet
sleep 1
kill -STOP $E9
rss0=$(rss $GB); rss_sampler $GB "$D/rss"
"$ZCP" pub h9 --name "$A" --size 65536 --count 220 --rate 50 --quiet --history 8 --capacity 16
sleep 1
rmax=$(rss_max "$D/rss")
[ -n "$rss0" ] && [ $((rmax - rss0)) -lt $((1024 + 16384)) ]
check $? "history topic stalled: VmRSS bounded: $rss0 -> $rmax kB"
kill -CONT $E9; sleep 2
r=$(seqcheck "$D/h9.json" exact); set -- $(sizeinfo "$r" 65536); c=${1:-0}; l=${3:-x}
note "history topic after resume: $r"
[ "$(field "$r" dup)$(field "$r" back)$(field "$r" bad)" = 000 ] && [ "$l" = 219 ]
check $? "history topic stalled: after SIGCONT intact, in order, no duplicate, newest (219) arrived"
kill $SAMPLER 2>/dev/null
unhosts
[ $RCB = 0 ]; check $? "history topic: gateway exits 0 ($RCB)"

# ---------------------------------------------------------------------------
# 10. many topics: 20 imported topics, 10 of them stalled
POOL64=64Kx400 hosts s10 1
NT=20
for i in $(seq 1 $NT); do bg "$ZCP" echo mt$i --name "$B" --json > "$D/mt$i.json" 2> "$D/mt$i.err"; eval EM$i=\$LAST; done
sleep 0.5
warm $(for i in $(seq 1 $NT); do echo mt$i; done)
for i in $(seq 1 2 $NT); do eval kill -STOP \$EM$i; done
rss0=$(rss $GB); rss_sampler $GB "$D/rss"
PP=""
for i in $(seq 1 $NT); do
	if [ $((i % 2)) = 1 ]; then sz=$((65536 - i)); else sz=$((100 + i)); fi
	"$ZCP" pub mt$i --name "$A" --size $sz --count 100 --rate 20 --quiet & PP="$PP $!"
done
wait $PP
sleep 1.5
rmax=$(rss_max "$D/rss")
live_ok=0
for i in $(seq 2 2 $NT); do
	r=$(seqcheck "$D/mt$i.json" exact); set -- $(sizeinfo "$r" $((100 + i)))
	[ "${1:-0}" = 100 ] && [ "$(field "$r" dup)$(field "$r" back)" = 00 ] || { live_ok=1; note "mt$i: $r"; }
done
check $live_ok "many topics: the 10 live topics crossed whole while 10 others stalled (64 KiB)"
note "many topics: VmRSS $rss0 -> max $rmax kB (10 stalled x 1 MiB)"
[ -n "$rss0" ] && [ $((rmax - rss0)) -lt $((10 * 1024 + 16384)) ]
check $? "many topics: VmRSS growth bounded (< 10 backlogs + 16 MiB)"
for i in $(seq 1 2 $NT); do eval kill -CONT \$EM$i; done
sleep 2.5
st_ok=0
for i in $(seq 1 2 $NT); do
	r=$(seqcheck "$D/mt$i.json" exact); set -- $(sizeinfo "$r" $((65536 - i)))
	[ "${3:-x}" = 99 ] && [ "$(field "$r" dup)$(field "$r" back)$(field "$r" bad)" = 000 ] || { st_ok=1; note "mt$i: $r"; }
done
check $st_ok "many topics: after SIGCONT each stalled topic delivers in order, no duplicate, newest arrived"
kill $SAMPLER 2>/dev/null
unhosts
[ $RCB = 0 ]; check $? "many topics: gateway exits 0 ($RCB)"

# ---------------------------------------------------------------------------
# 11. stalled subscribers hold the importing host's 64 KiB chunks: do other
#     large-sample topics keep crossing?  (B's 64K pool has 40 chunks; three
#     stopped subscribers with 16-deep queues could hold 48)
hosts s11 1
for t in x1 x2 x3 xl; do bg "$ZCP" echo $t --name "$B" --json > "$D/$t.json" 2> "$D/$t.err"; eval X_$t=\$LAST; done
sleep 0.3
warm x1 x2 x3 xl
kill -STOP $X_x1 $X_x2 $X_x3
PP=""
for t in x1 x2 x3; do "$ZCP" pub $t --name "$A" --size 60000 --count 60 --rate 30 --quiet & PP="$PP $!"; done
wait $PP
"$ZCP" pub xl --name "$A" --size 60000 --count 40 --rate 20 --quiet
sleep 1
r=$(seqcheck "$D/xl.json" exact); set -- $(sizeinfo "$r" 60000); c=${1:-0}
"$ZCP" stat --name "$B" 2>&1 | grep -i -E 'pool|64|65536' | head -n 4 | diag
note "pool pressure: live 60000-byte topic got $c/40 while 3 stalled ones held chunks"
alive $GB; check $? "pool pressure: importing gateway alive"
kill -CONT $X_x1 $X_x2 $X_x3
sleep 1.5
"$ZCP" topics --name "$B" | grep "^topic 'x" | diag
"$ZCP" pub xl --name "$A" --size 60001 --count 20 --rate 20 --quiet
sleep 1.5
c2=$(grep -c '"size":60001' "$D/xl.json")
note "pool pressure: after SIGCONT of the stalled subscribers, xl got $c2/20 new samples"
[ "$c" -ge 38 ] && [ "$c2" -ge 19 ]
# Known and documented (zerocp-gateway(1), Pools): each imported topic's
# publisher keeps its last 16 samples in chunks, 4 x 16 > 40.
check $? "pool pressure (64Kx40, 4 imported 60000-byte topics): other topics keep crossing and cross again after resume ($c/40, then $c2/20) # TODO pools too small for 4 imported topics' 16 kept samples (documented)"
unhosts
[ $RCB = 0 ]; check $? "pool pressure: gateway exits 0 ($RCB)"
grep -q "cannot loan.*dropped, counted" "$D/gB.log"; check $? "pool pressure: the gateway says it drops what it cannot loan"
grep -E "cannot loan|lost to a full backlog" "$D/gB.log" | diag

echo "# $FAILS failed of $K"
[ $K = 50 ] || echo "# planned 50, ran $K"
exit $(( FAILS > 0 ))
