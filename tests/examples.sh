#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/examples.sh - the programs of examples/ run and pass, each on a
# manager of its own, and leave nothing in /dev/shm.  TAP output.
: "${top_builddir:=.}"
name=texm$$
cleanup() {
	rm -f /dev/shm/zerocp_"$name"*
}
trap cleanup EXIT INT TERM
set -- seed-scenario handle-passing escrow pubsub
echo "1..$(($# + 1))"
k=0
for ex in "$@"; do
	k=$((k + 1))
	prog=$top_builddir/examples/$ex
	if [ ! -x "$prog" ]; then
		echo "not ok $k - examples/$ex is built"
		continue
	fi
	if out=$("$prog" "$name$k" 2>&1); then
		echo "ok $k - examples/$ex runs and passes"
	else
		echo "not ok $k - examples/$ex runs and passes"
	fi
	printf '%s\n' "$out" | sed 's/^/# /'
done
left=$(ls /dev/shm 2> /dev/null | grep "^zerocp_$name")
if [ -z "$left" ]; then
	echo "ok $((k + 1)) - nothing left in /dev/shm"
else
	echo "not ok $((k + 1)) - nothing left in /dev/shm: $left"
fi
