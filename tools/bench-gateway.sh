#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/bench-gateway.sh - zerocp-gateway against Cyclone's own ddsperf,
# in one run, over the same link: two network namespaces joined by a veth
# pair (as tests/gateway-netns.sh builds them), each with its own
# /dev/shm, zerocp manager and gateway.
#
#   round trip: zerocp ping on A -> gateway A -> DDS -> gateway B ->
#               zerocp pong on B -> gateway B -> DDS -> gateway A -> ping,
#               beside "ddsperf ping" / "ddsperf pong" (64-byte samples);
#               the ratio of the medians (bar: <= 1.3)
#   throughput: "zerocp pub --block" of 1 KiB samples on A as fast as it
#               goes, counted by a sink on B, beside "ddsperf pub size 1k"
#               / "ddsperf sub" (bar: >= 0.7 of ddsperf's samples/s)
# Each figure is measured in --trials rounds (default 3), zerocp and
# ddsperf interleaved; the ratios are of the medians of the rounds.
#
# Usage: tools/bench-gateway.sh [--count N] [--seconds S] [--trials T]  (as root)
# from a build tree (or ZEROCP=... GATEWAY=... pointing at the programs).
# Prints each figure, then the two ratios.  Needs ip, nsenter, unshare
# and ddsperf (Debian: cyclonedds-tools).
set -u
COUNT=2000
SECONDS_THR=5
TRIALS=3
while [ $# -gt 0 ]; do
	case $1 in
	--count) COUNT=$2; shift 2 ;;
	--seconds) SECONDS_THR=$2; shift 2 ;;
	--trials) TRIALS=$2; shift 2 ;;
	-h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-gateway: unknown argument $1" >&2; exit 2 ;;
	esac
done
ZEROCP=${ZEROCP:-./tools/zerocp}
GATEWAY=${GATEWAY:-./tools/zerocp-gateway}
ZEROCP=$(cd "$(dirname "$ZEROCP")" && pwd)/$(basename "$ZEROCP")
GATEWAY=$(cd "$(dirname "$GATEWAY")" && pwd)/$(basename "$GATEWAY")
for c in ip nsenter unshare ddsperf; do
	command -v $c > /dev/null 2>&1 || { echo "bench-gateway: needs $c" >&2; exit 1; }
done
[ -x "$GATEWAY" ] || { echo "bench-gateway: no $GATEWAY (configure found no Cyclone DDS?)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench-gateway: needs root (network namespaces)" >&2; exit 1; }

x=$(($$ % 250 + 1))
NA=zcpbA$$ NB=zcpbB$$ VA=zbA$$ VB=zbB$$
IPA=10.231.$x.1 IPB=10.231.$x.2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zcp-bench-gw.XXXXXX") || exit 1
pids=
cleanup() {
	for p in $pids; do kill -KILL "$p" 2> /dev/null; wait "$p" 2> /dev/null; done
	ip netns del "$NA" 2> /dev/null
	ip netns del "$NB" 2> /dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$NA" && ip netns add "$NB" &&
	ip link add "$VA" type veth peer name "$VB" &&
	ip link set "$VA" netns "$NA" && ip link set "$VB" netns "$NB" &&
	ip -n "$NA" addr add "$IPA/24" dev "$VA" && ip -n "$NB" addr add "$IPB/24" dev "$VB" &&
	ip -n "$NA" link set lo up && ip -n "$NB" link set lo up &&
	ip -n "$NA" link set "$VA" up && ip -n "$NB" link set "$VB" up || exit 1
for ns in "$NA" "$NB"; do
	ip netns exec "$ns" unshare -m sh -c \
		'mount -t tmpfs -o mode=1777 tmpfs /dev/shm && exec sleep 100000' &
	pids="$pids $!"
	eval "H_$ns=$!"
done
sleep 0.5
eval "HA=\$H_$NA HB=\$H_$NB"
uri() {
	# Unicast only (no multicast route in a fresh namespace): both
	# addresses as peers (so that the processes of one host find each
	# other too), participant indices to probe their ports.
	echo "<CycloneDDS><Domain><General><Interfaces><NetworkInterface name=\"$1\"/></Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex><MaxAutoParticipantIndex>40</MaxAutoParticipantIndex><Peers><Peer address=\"$IPA\"/><Peer address=\"$IPB\"/></Peers></Discovery><Tracing><Verbosity>none</Verbosity></Tracing></Domain></CycloneDDS>"
}
URIA=$(uri "$VA" "$IPB")
URIB=$(uri "$VB" "$IPA")
on() {
	h=$HA u=$URIA
	[ "$1" = B ] && h=$HB u=$URIB
	shift
	CYCLONEDDS_URI=$u nsenter -t "$h" -m -n -- "$@"
}
bg() {
	h=$HA u=$URIA
	[ "$1" = B ] && h=$HB u=$URIB
	_log=$2
	shift 2
	CYCLONEDDS_URI=$u nsenter -t "$h" -m -n -- "$@" > "$_log" 2>&1 &
	pids="$pids $!"
}
stop() { kill -TERM "$1" 2> /dev/null; wait "$1" 2> /dev/null; }

# The median of the numbers on stdin (one a line); nothing if none.
median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

POOLS="--pool 256x400 --pool 4Kx400 --pool 1100Kx8"
bg A "$tmp/sA" "$ZEROCP" serve --name gwb --quiet $POOLS
bg B "$tmp/sB" "$ZEROCP" serve --name gwb --quiet $POOLS
sleep 0.5
bg A "$tmp/gA" "$GATEWAY" --name gwb --export ping --export thr --import pong --quiet
bg B "$tmp/gB" "$GATEWAY" --name gwb --export pong --import ping --import thr --quiet
# The gateways find each other before the clock runs.  A topic crosses
# once it has a local publisher (ping's and pong's, "zerocp pub"'s): the
# first pings may be lost to discovery, and are sent again after 1 s;
# the warm-up rounds absorb that.
sleep 2

zrtt= drtt= frtt= zthrs= dthrs=
for round in $(seq "$TRIALS"); do
	echo "== round $round of $TRIALS: round trip, 64-byte samples, $COUNT round trips (after 200 of warm-up)"
	bg B "$tmp/pong" "$GATEWAY" pong ping pong --name gwb --timeout 120
	PONG=$!
	sleep 1
	on A "$GATEWAY" ping ping pong --name gwb --count "$COUNT" --warmup 200 --size 64 --timeout 120 |
		tee "$tmp/ping"
	stop $PONG
	zrtt="$zrtt $(sed -n 's/.*median \([0-9.]*\) us.*/\1/p' "$tmp/ping")"

	bg B "$tmp/ddspong" ddsperf pong waitset
	DPONG=$!
	sleep 0.5
	# ddsperf's KS topic: size counts its fixed part too; 64 like ours.
	on A ddsperf -D $((COUNT / 1000 + 5)) ping size 64 waitset > "$tmp/ddsping" 2>&1
	stop $DPONG
	# Its per-second lines: "... rtt min ...us mean ...us 50% ...us 90% ...": the
	# median of the per-second medians, past the first second (discovery).
	d=$(grep -o ' 50% *[0-9.]*us' "$tmp/ddsping" | sed 's/[^0-9.]//g; s/^50//' | sed 1d | median)
	echo "ddsperf ping: median $d us (median of its per-second medians)"
	drtt="$drtt $d"

	# Context: a bare futex ping-pong between two sleeping processes on
	# two CPUs (the baseline of "zerocp bench"'s wake_rtt): what one
	# wake-up each way costs on this machine, whoever's code runs.
	f=$("$ZEROCP" bench --only wake_rtt 2> /dev/null |
		sed -n 's|^wake_rtt/median .* futex \([0-9.]*\) ns.*|\1|p')
	[ -n "$f" ] && f=$(awk -v f="$f" 'BEGIN { printf "%.1f", f / 1000 }')
	echo "bare futex round trip (context): median ${f:-?} us"
	frtt="$frtt ${f:-}"

	echo "== round $round of $TRIALS: throughput, 1 KiB samples, reliable, ${SECONDS_THR} s"
	bg B "$tmp/sink" "$GATEWAY" sink thr --name gwb --count 0 --timeout $((SECONDS_THR + 3))
	SINK=$!
	sleep 1
	bg A "$tmp/pub" "$ZEROCP" pub --name gwb thr --count 0 --rate 0 --size 1K --block --quiet
	PUB=$!
	sleep "$SECONDS_THR"
	stop $PUB
	wait $SINK
	cat "$tmp/sink"
	zthrs="$zthrs $(sed -n 's/.*s: \([0-9]*\) samples\/s.*/\1/p' "$tmp/sink")"

	bg B "$tmp/ddssub" ddsperf -D $((SECONDS_THR + 2)) sub waitset
	DSUB=$!
	sleep 0.5
	on A ddsperf -D "$SECONDS_THR" pub size 1k > "$tmp/ddspub" 2>&1
	wait $DSUB
	# sub lines: "... size 1024 total N lost 0 delta ... rate X kS/s Y Mb/s";
	# the median of its per-second rates (seconds with data only).
	d=$(grep -o 'rate [0-9.]* *kS/s' "$tmp/ddssub" | awk '$2 > 0 { printf "%.0f\n", $2 * 1000 }' | median)
	echo "ddsperf sub: median of its per-second rates $d samples/s"
	dthrs="$dthrs $d"
done

zmed=$(echo $zrtt | tr ' ' '\n' | median)
dmed=$(echo $drtt | tr ' ' '\n' | median)
zthr=$(echo $zthrs | tr ' ' '\n' | median)
dthr=$(echo $dthrs | tr ' ' '\n' | median)
echo "== summary ($TRIALS rounds; medians of the rounds)"
echo "round trip us: zerocp via gateways:$zrtt; ddsperf:$drtt"
echo "throughput samples/s: zerocp via gateways:$zthrs; ddsperf:$dthrs"
awk -v z="$zmed" -v d="$dmed" 'BEGIN { if (d > 0) printf "round trip: zerocp via gateways %.1f us, ddsperf %.1f us: ratio %.2fx (bar <= 1.3x)\n", z, d, z / d }'
awk -v z="$zthr" -v d="$dthr" 'BEGIN { if (d > 0) printf "throughput 1 KiB: zerocp via gateways %d/s, ddsperf %d/s: ratio %.2fx (bar >= 0.7x)\n", z, d, z / d }'
# The round trip's wake-ups: ddsperf's four (on each side its receive
# thread, then its waitset thread); the gateways' six (ping -> gateway
# A -> gateway B's receive thread -> pong -> gateway B -> gateway A's
# receive thread -> ping).  One bare futex round trip is the two more
# by themselves.
fmed=$(echo $frtt | tr ' ' '\n' | median)
echo "bare futex round trip us:$frtt"
awk -v d="$dmed" -v f="$fmed" 'BEGIN { if (d > 0 && f > 0) printf "context: the gateways wake a process 6 times a round trip, ddsperf 4; the 2 more cost, in a bare futex round trip, %.1f us: ddsperf + that = %.1f us, %.2fx ddsperf\n", f, d + f, (d + f) / d }'
