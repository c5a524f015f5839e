#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/interop-3264.sh - a 64-bit and a 32-bit process on one manager.
#
# ZCP_INTEROP_64 and ZCP_INTEROP_32 name two build directories of the same
# source, one 64-bit (x86-64) and one 32-bit (CC='gcc -m32'), each with
# tests/interop-agent built (make check builds it).  Without them the test
# skips.  For each creator (64-bit, then 32-bit): the other attaches;
# handles and escrow tickets go both ways, with their chunks' contents
# checked word by word; a 32-bit holder is killed with SIGKILL and a
# 64-bit process reclaims its chunks, and the other way round.
# TAP output.
set -u

if [ -z "${ZCP_INTEROP_64:-}" ] || [ -z "${ZCP_INTEROP_32:-}" ]; then
	echo "1..0 # SKIP set ZCP_INTEROP_64 and ZCP_INTEROP_32 to a 64-bit and a 32-bit build directory (.ci/run does)"
	exit 0
fi
A64=$ZCP_INTEROP_64/tests/interop-agent
A32=$ZCP_INTEROP_32/tests/interop-agent
for a in "$A64" "$A32"; do
	if [ ! -x "$a" ]; then
		echo "1..0 # SKIP $a not built (make check in that build directory first)"
		exit 0
	fi
done

tmp=$(mktemp -d) || exit 1
base="ztinterop$$"
agents=
cleanup() {
	for p in $agents; do kill -9 "$p" 2> /dev/null; done
	rm -rf "$tmp"
	rm -f /dev/shm/zerocp_${base}*
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# A hung agent must not hang the suite.
( sleep 240; kill -TERM $$ 2> /dev/null ) > /dev/null 2>&1 &
watchdog=$!
agents="$watchdog"

n=0
ok() { # ok COND-STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

# start LABEL BINARY: an agent reading $tmp/LABEL.in, writing $tmp/LABEL.out;
# our descriptors to it are given by fd_in_LABEL / fd_out_LABEL.
start() {
	mkfifo "$tmp/$1.in" "$tmp/$1.out" || exit 1
	"$2" < "$tmp/$1.in" > "$tmp/$1.out" 2> "$tmp/$1.err" &
	eval "pid_$1=\$!"
	agents="$agents $!"
}
# Open the pipes of agent LABEL on descriptors IN and OUT (3..9).
connect() {
	eval "exec $2> \"\$tmp/$1.in\""
	eval "exec $3< \"\$tmp/$1.out\""
	eval "fdi_$1=$2 fdo_$1=$3"
}
# ask LABEL COMMAND...: one answer into $reply.
ask() {
	_l=$1
	shift
	eval "_i=\$fdi_$_l _o=\$fdo_$_l"
	eval "echo \"\$*\" >&$_i"
	reply=
	eval "read -r reply <&$_o" || reply="(no answer)"
	echo "# $_l> $* -> $reply"
}
# expect LABEL PATTERN DESCRIPTION COMMAND...
expect() {
	_l=$1 _p=$2 _d=$3
	shift 3
	ask "$_l" "$@"
	case $reply in
	$_p) ok 0 "$_d" ;;
	*) ok 1 "$_d (got '$reply')" ;;
	esac
}
field2() { set -- $reply; echo "${2:-}"; }
close_agent() { # LABEL IN OUT: quit, close our ends, reap
	ask "$1" quit
	eval "exec $2>&- $3<&-"
	eval "wait \$pid_$1"
}

# round CREATOR_BIN CREATOR_BITS OTHER_BIN OTHER_BITS SUFFIX
round() {
	cb=$1 cbits=$2 ob=$3 obits=$4 name="$base$5"
	echo "# == $cbits-bit creator, $obits-bit peer"
	start c "$cb"
	connect c 3 4
	start p "$ob"
	connect p 5 6
	expect c "abi $cbits" "creator is $cbits-bit" abi
	expect p "abi $obits" "peer is $obits-bit" abi
	expect c ok "$cbits-bit process creates the manager" create "$name"
	expect p ok "$obits-bit process attaches to it" attach "$name"
	expect p "alive 1" "$obits-bit peer sees the $cbits-bit creator alive" alive
	ask c id
	idc=$(field2)
	ask p id
	idp=$(field2)

	# Handles, creator -> peer -> creator.
	ask c get 200 7
	h=$(field2)
	expect p ok "handle $cbits -> $obits: the chunk arrives intact" handle "$h" 7
	expect c ok "  and the $obits-bit peer's write comes back intact" handle "$h" 8
	ask p get 3000 20
	h=$(field2)
	expect c ok "handle $obits -> $cbits (4 KiB pool): intact" handle "$h" 20
	expect p ok "  and back" handle "$h" 21

	# Escrow tickets both ways, to a named receiver.
	ask c get 100 30
	h=$(field2)
	ask c send "$h" "$idp"
	t=$(field2)
	expect p "handle *" "ticket $cbits -> $obits: received intact" receive "$t" 30
	ask p get 1000 40
	h=$(field2)
	ask p send "$h" "$idc"
	t=$(field2)
	expect c "handle *" "ticket $obits -> $cbits: received intact" receive "$t" 40
	ask p get 100 50
	h=$(field2)
	ask p send "$h" 0
	t=$(field2)
	expect c "handle *" "ticket $obits -> anyone, taken by the $cbits-bit creator" receive "$t" 50
	expect c "ok *" "creator releases what it holds" release
	expect p "ok *" "peer releases what it holds" release
	expect c "used 0" "every chunk is back in its pool" used

	# Kill a holder of each ABI; a process of the other ABI reclaims.
	for victim in 32 64; do
		if [ "$victim" = 32 ]; then vb=$A32; else vb=$A64; fi
		if [ "$victim" = "$cbits" ]; then rl=p rbits=$obits; else rl=c rbits=$cbits; fi
		start k "$vb"
		connect k 7 8
		expect k ok "a $victim-bit holder attaches" attach "$name"
		expect k ok "  and takes 5 chunks" hold 5 256
		expect "$rl" "used 5" "  the $rbits-bit process sees them used" used
		kill -9 "$pid_k"
		wait "$pid_k" 2> /dev/null
		exec 7>&- 8<&-
		rm -f "$tmp/k.in" "$tmp/k.out"
		expect "$rl" "reclaimed 1 5 5" "$victim-bit holder killed (SIGKILL): the $rbits-bit process reclaims its slot and 5 chunks" reclaim
		expect "$rl" "used 0" "  every chunk is back" used
	done

	expect p "alive 1" "the creator is still alive" alive
	close_agent p 5 6
	close_agent c 3 4
	rm -f "$tmp/c.in" "$tmp/c.out" "$tmp/p.in" "$tmp/p.out"
	if ls /dev/shm/zerocp_"$name"_* > /dev/null 2>&1; then
		ok 1 "no segments left of $name"
	else
		ok 0 "no segments left of $name"
	fi
}

round "$A64" 64 "$A32" 32 a
round "$A32" 32 "$A64" 64 b
kill "$watchdog" 2> /dev/null
agents=
echo "1..$n"
