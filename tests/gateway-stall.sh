#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/gateway-stall.sh - a lagging remote reader stalls its own topic
# on the exporting gateway, not the others, and loses nothing.  Three
# managers on this host (DDS over the loopback interface, a domain of
# its own): gateway A exports everything, gateway B imports x*, gateway
# C imports y*.  With gateway B stopped (SIGSTOP), 600 samples of 3000
# bytes published on A with --block wait for it (more than a socket
# buffer holds: A's keep-all writer must keep them), while topic y1
# still reaches C; once B resumes, its echo gets all 600 in order.
# TAP output; skips when the gateway is not built.  No root needed.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tool-lib.sh"
skip_unless_gateway

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zcp-gateway-stall.XXXXXX") || exit 1
pids=
names="gst$$a gst$$b gst$$c"
cleanup() {
	is_main_shell || return 0
	for p in $pids; do
		kill -CONT "$p" 2> /dev/null
	done
	kill_pids
	for m in $names; do
		"$zerocp" clean --name "$m" > /dev/null 2>&1
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
CYCLONEDDS_URI='<CycloneDDS><Domain><General><Interfaces><NetworkInterface name="lo"/></Interfaces><AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex><Peers><Peer address="127.0.0.1"/></Peers></Discovery></Domain></CycloneDDS>'
export CYCLONEDDS_URI
dom=$(($$ % 100 + 120))
n=0
failed=0
echo "1..4"

bgr() { # LOG CMD...: in the background, killed at exit; $! its pid
	_l=$1
	shift
	"$@" > "$_l" 2>&1 &
	pids="$pids $!"
}
for m in $names; do
	bgr "$tmp/serve-$m.log" "$zerocp" serve --name "$m" --quiet --pool 1Kx100 --pool 4Kx100
done
i=0
for m in $names; do
	until "$zerocp" stat --name "$m" > /dev/null 2>&1; do
		[ $i -lt 50 ] || break
		nap
		i=$((i + 1))
	done
done
set -- $names
bgr "$tmp/gA.log" "$gateway" --name "$1" --export '*' --domain $dom
GA=$!
bgr "$tmp/gB.log" "$gateway" --name "$2" --import 'x*' --domain $dom
GB=$!
bgr "$tmp/gC.log" "$gateway" --name "$3" --import 'y*' --domain $dom
GC=$!

# Both topics crossing first (discovery done): a sample of each reaches
# its echo, published until it does.
warm() { # TOPIC MANAGER-FROM MANAGER-TO
	bgr "$tmp/warm.echo" "$zerocp" echo --name "$3" "$1" --count 1 --timeout 30
	_e=$!
	nap
	bgr "$tmp/warm.pub" "$zerocp" pub --name "$2" "$1" --count 0 --rate 20 --text warm
	_p=$!
	reap "$_e" 35
	_w=$st
	kill -TERM "$_p" 2> /dev/null
	reap "$_p" 5
	return $_w
}
warm x1 "$1" "$2" && warm y1 "$1" "$3"
tap $? "topics x1 (A to B) and y1 (A to C) cross" || { show "$tmp/gA.log"; show "$tmp/gB.log"; }

bgr "$tmp/x1.echo" "$zerocp" echo --name "$2" x1 --json --count 600 --timeout 60
EX=$!
bgr "$tmp/y1.echo" "$zerocp" echo --name "$3" y1 --count 40 --timeout 30
EY=$!
sleep 1
kill -STOP "$GB"
bgr "$tmp/x1.pub" "$zerocp" pub --name "$1" x1 --count 600 --size 3000 --block --quiet
PX=$!
sleep 1
"$zerocp" pub --name "$1" y1 --count 40 --rate 20 --text hello --quiet
reap "$EY" 10
y=$(grep -c hello "$tmp/y1.echo")
kill -0 "$PX" 2> /dev/null
px_waits=$?
echo "# while gateway B was stopped: y1 got $y of 40 on C; the x1 publisher on A still waiting: $([ $px_waits = 0 ] && echo yes || echo no)"
[ "$y" = 40 ]
tap $? "gateway B stopped: topic y1 still reaches C (40 of 40)" || show "$tmp/gA.log"
[ $px_waits = 0 ]
tap $? "... and the x1 publisher (--block) waits on A instead of losing samples"
kill -CONT "$GB"
reap "$PX" 60
reap "$EX" 65
awk 'BEGIN { for (s = 0; s < 600; s++) { l = ""; for (k = 0; k < 3000; k++) l = l sprintf("%02x", (s + k) % 256); print l } }' > "$tmp/x1.want"
sed -n 's/.*"data":"\([0-9a-f]*\)".*/\1/p' "$tmp/x1.echo" > "$tmp/x1.got"
echo "# after gateway B resumed: x1 got $(wc -l < "$tmp/x1.got") of 600 on B"
cmp -s "$tmp/x1.want" "$tmp/x1.got"
tap $? "once B resumes, x1 delivers all 600 samples in order and intact" || show "$tmp/gB.log"
exit 0
