#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/tool-squat.sh - another user squats the broker's directory.
#
# A process of uid 65534 creates the socket directory first (as it could
# create /tmp/zerocp-<uid> before the owner's first server) and runs a
# broker of its own there, one that admits root.  Then the owner's
# "serve --socket" must refuse the directory, naming it and its owner,
# also when it is the default directory ($XDG_RUNTIME_DIR here); and the
# owner's "demo --socket" and "stat --socket" must refuse to attach to
# the squatter's manager, naming the directory and its owner.  Root only
# (needs another uid, through setpriv); skipped without memfd.  TAP output.
#
# Environment (set by Makefile.am): top_srcdir, top_builddir.

: "${top_srcdir:=.}"
: "${top_builddir:=.}"
zerocp=$top_builddir/tools/zerocp

# Shared helpers: skip_unless_runnable, tap, nap, show, reap, limit,
# forget, kill_pids, is_main_shell.
. "$top_srcdir/tests/tool-lib.sh"
skip_unless_runnable
if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP not root: cannot run a squatter of another uid"
	exit 0
fi
if ! command -v setpriv > /dev/null 2>&1; then
	echo "1..0 # SKIP no setpriv to run a squatter of another uid"
	exit 0
fi

name=tsq$$
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zcp-squat-test.XXXXXX") || exit 1
pids=

cleanup() {
	is_main_shell || return 0
	kill_pids
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

n=0
failed=0

# A directory anyone may create in, like /tmp; the squatter's is in it.
chmod 0711 "$tmp"
mkdir "$tmp/pub" && chmod 1777 "$tmp/pub"
squat=$tmp/pub/zerocp-0
sock=$squat/zerocp-$name.sock

setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$zerocp" serve --name "$name" --socket --socket-dir "$squat" --interval 0.2 \
	> "$tmp/squatter.log" 2>&1 &
qpid=$!
pids="$pids $qpid"
i=0
while ! grep -q '^ready$' "$tmp/squatter.log" 2> /dev/null && kill -0 "$qpid" 2> /dev/null &&
	[ $i -lt 100 ]; do
	nap
	i=$((i + 1))
done
if ! grep -q '^ready$' "$tmp/squatter.log"; then
	reap "$qpid" 10
	if grep -q 'does not support' "$tmp/squatter.log"; then
		echo "1..0 # SKIP serve --socket: memfd segments not supported here"
		exit 0
	fi
	echo "1..0 # SKIP the squatter (uid 65534) could not run zerocp (exit $st)"
	show "$tmp/squatter.log"
	exit 0
fi

echo "1..6"
owner_msg="'$squat' belongs to uid 65534"

limit 10 "$zerocp" serve --name "$name" --socket --socket-dir "$squat" --interval 0.2 \
	> "$tmp/serve.log" 2>&1
r=$?
show "$tmp/serve.log"
[ $r -eq 1 ] && grep -q "the socket directory $owner_msg" "$tmp/serve.log" &&
	! grep -q '^ready$' "$tmp/serve.log"
tap $? "the owner's serve --socket refuses the squatted --socket-dir, naming it and its owner"

limit 10 env XDG_RUNTIME_DIR="$squat" "$zerocp" serve --name "$name" --socket --interval 0.2 \
	> "$tmp/serve2.log" 2>&1
r=$?
show "$tmp/serve2.log"
[ $r -eq 1 ] && grep -q "the socket directory $owner_msg" "$tmp/serve2.log"
tap $? "... and the squatted default directory (\$XDG_RUNTIME_DIR)"

limit 20 "$zerocp" demo --socket "$sock" > "$tmp/demo.log" 2>&1
r=$?
show "$tmp/demo.log"
[ $r -eq 1 ] && grep -q "the socket directory $owner_msg" "$tmp/demo.log" &&
	! grep -q '^Attached' "$tmp/demo.log"
tap $? "the owner's demo --socket refuses the squatter's broker, naming the directory and its owner"

limit 10 "$zerocp" stat --socket "$sock" > "$tmp/stat.log" 2>&1
r=$?
show "$tmp/stat.log"
[ $r -eq 1 ] && grep -q "the socket directory $owner_msg" "$tmp/stat.log"
tap $? "the owner's stat --socket refuses it too"

limit 10 "$zerocp" stat --socket "$sock" --owner 0 > "$tmp/stat0.log" 2>&1
r=$?
show "$tmp/stat0.log"
[ $r -eq 1 ] && grep -q "$owner_msg" "$tmp/stat0.log"
tap $? "stat --socket --owner 0 refuses it"

kill -TERM "$qpid" 2> /dev/null
reap "$qpid" 10
[ "$st" -eq 0 ] && [ ! -e "$sock" ]
tap $? "the squatter's server stops; its socket is gone" || show "$tmp/squatter.log"

[ "$n" -eq 6 ] || echo "# ran $n tests, planned 6"
exit $failed
