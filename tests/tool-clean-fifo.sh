#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/tool-clean-fifo.sh - "zerocp clean --name N" and the manager's
# event-loop FIFOs (zcp_waitset_fd(): /dev/shm/zerocp_N.fd.<slot>.<hex>):
#   - --force --dry-run lists them, and so does --all --dry-run; --dry-run
#     alone refuses while a live process is attached, as clean does;
#   - while a live process is attached, clean refuses and removes nothing,
#     FIFOs included;
#   - --force removes the segments and the FIFOs nobody holds open, keeps
#     one held open (a live listener's), and never removes a regular file
#     or a symlink that only looks like one;
#   - once nobody holds it, a later clean removes the last FIFO.
# TAP output.  Managers are named tcfi<pid>; the EXIT trap removes
# everything.

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
zerocp=$top_builddir/tools/zerocp

. "$top_srcdir/tests/tool-lib.sh"
skip_unless_runnable

N=tcfi$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zcp-cleanfifo-test.XXXXXX") || exit 1
pids=
D=/dev/shm/zerocp_$N
litter=$D.fd.3.00000000000000a1
held=$D.fd.5.00000000000000a3
reg=$D.fd.4.00000000000000a2
lnk=$D.fd.6.00000000000000a4
target=$tmp/target

cleanup() {
	is_main_shell || return 0
	kill_pids
	"$zerocp" clean --force --name "$N" > /dev/null 2>&1
	rm -f "$litter" "$held" "$reg" "$lnk"
	[ -n "$KEEP" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
failed=0

wait_for() {
	i=0
	while ! grep -Eq "$1" "$2" 2> /dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		nap
	done
}

echo "1..11"

"$zerocp" serve --name "$N" --interval 0.2 > "$tmp/serve.log" 2>&1 &
spid=$!
pids="$pids $spid"
wait_for '^ready$' "$tmp/serve.log" || show "$tmp/serve.log"

# A dead listener's FIFO nobody recorded, a live listener's (held open),
# and a regular file and a symlink of the pattern.
: > "$target"
mkfifo -m 600 "$litter" && mkfifo -m 600 "$held" && : > "$reg" && ln -s "$target" "$lnk"
tap $? "planted a FIFO, a FIFO held open, a regular file and a symlink of the pattern"
sh -c 'exec 3<> "$1"; exec sleep 60' sh "$held" &
hpid=$!
pids="$pids $hpid"
sleep 3 # older than the 2 s a FIFO in the making is given

# --dry-run takes clean's decisions: with the server attached it refuses
# as clean does; with --force it lists what would go.
limit 10 "$zerocp" clean --name "$N" --dry-run > "$tmp/dry0.log" 2>&1
r=$?
show "$tmp/dry0.log"
[ $r -eq 1 ] && grep -q "in use by 1 live process" "$tmp/dry0.log" && ! grep -q "would remove" "$tmp/dry0.log"
tap $? "--dry-run refuses while the server is attached, as clean does (exit 1)"
limit 10 "$zerocp" clean --name "$N" --force --dry-run > "$tmp/dry.log" 2>&1
show "$tmp/dry.log"
grep -q "would remove $litter" "$tmp/dry.log" && grep -q "would remove $held" "$tmp/dry.log" &&
	! grep -q "$reg" "$tmp/dry.log" && ! grep -q "$lnk" "$tmp/dry.log"
tap $? "--force --dry-run lists the FIFOs (not the regular file, not the symlink)"

limit 10 "$zerocp" clean --all --dry-run > "$tmp/dryall.log" 2>&1
grep -q "would remove $litter (if nobody holds it open)" "$tmp/dryall.log" &&
	! grep -q "$reg" "$tmp/dryall.log" && ! grep -q "$lnk" "$tmp/dryall.log"
tap $? "--all --dry-run lists them too (not the regular file, not the symlink)"

limit 10 "$zerocp" clean --name "$N" > "$tmp/refuse.log" 2>&1
r=$?
show "$tmp/refuse.log"
[ $r -eq 1 ] && grep -q "in use by 1 live process" "$tmp/refuse.log"
tap $? "clean refuses while the server is attached (exit 1)"
[ -p "$litter" ] && [ -p "$held" ] && [ -e "${D}_mgmt" ]
tap $? "and removes nothing, FIFOs included"

limit 10 "$zerocp" clean --name "$N" --force > "$tmp/force.log" 2>&1
r=$?
show "$tmp/force.log"
[ $r -eq 0 ] && [ ! -e "${D}_mgmt" ] && [ ! -e "${D}_data" ]
tap $? "clean --force removes the segments"
[ ! -e "$litter" ] && [ -p "$held" ]
tap $? "and the FIFO nobody holds; the one held open (a live listener's) stays"
[ -f "$reg" ] && [ -L "$lnk" ] && [ -f "$target" ]
tap $? "a regular file and a symlink of the pattern (and its target) stay"

kill -KILL "$hpid" 2> /dev/null
reap "$hpid" 10
limit 10 "$zerocp" clean --name "$N" > "$tmp/later.log" 2>&1
r=$?
show "$tmp/later.log"
[ $r -eq 0 ] && [ ! -e "$held" ]
tap $? "once nobody holds it, a later clean removes the last FIFO"

kill -TERM "$spid" 2> /dev/null
reap "$spid" 10
rm -f "$reg" "$lnk"
left=$(ls /dev/shm 2> /dev/null | grep "^zerocp_$N[._]")
[ -z "$left" ]
tap $? "nothing of $N is left in /dev/shm" || echo "# left: $left"

exit $failed
