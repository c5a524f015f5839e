# SPDX-License-Identifier: MIT
# tests/tool-lib.sh - shell helpers shared by the TAP tests of the zerocp
# command (scenario.sh, socket.sh); sourced, not run.  They use the
# caller's $zerocp (the tool) and $pids (processes to kill at exit), and
# set $st, $n, $failed.

# skip_unless_runnable: end the test with a TAP skip, saying why, when
# $zerocp is not built or there is no /dev/shm to check for leftovers.
skip_unless_runnable() {
	if [ ! -x "$zerocp" ]; then
		echo "1..0 # SKIP $zerocp not built"
		exit 0
	fi
	if [ ! -d /dev/shm ]; then
		echo "1..0 # SKIP no /dev/shm to check for leftovers"
		exit 0
	fi
}

# skip_unless_gateway: $zerocp and $gateway, this build's command and
# DDS gateway ($top_builddir/tools), and LC_ALL=C; end the test with a
# TAP skip, saying why, when the gateway is not built (configure found no
# Cyclone DDS).
skip_unless_gateway() {
	zerocp=$(cd "$top_builddir/tools" 2> /dev/null && pwd)/zerocp
	gateway=$(cd "$top_builddir/tools" 2> /dev/null && pwd)/zerocp-gateway
	LC_ALL=C
	export LC_ALL
	if [ "${ZCP_HAVE_GATEWAY:-}" = no ] || [ ! -x "$gateway" ]; then
		echo "1..0 # SKIP Cyclone DDS not built (zerocp-gateway absent)"
		exit 0
	fi
}

# Whether this is the shell that ran the script, not a forked copy of it:
# $$ is the same in both, but a new sh's parent is whoever runs this.
is_main_shell() {
	[ "$(exec sh -c 'echo "$PPID"')" = "$$" ]
}

# kill_pids: SIGKILL and reap every process still in $pids (one may be
# stopped, hence KILL); for the callers' cleanup().
kill_pids() {
	for p in $pids; do
		kill -KILL "$p" 2> /dev/null
		wait "$p" 2> /dev/null
	done
}

# seed_pools_idle JSON: whether `stat --json` output JSON shows the
# seed's four pools, all free (serve, a daemon, takes no chunk); names
# each missing pool.
seed_pools_idle() {
	_r=0
	for _p in '"index":0,"chunk_size":256,"total":100,"used":0,"free":100,' \
		'"index":1,"chunk_size":1024,"total":50,"used":0,"free":50,' \
		'"index":2,"chunk_size":4096,"total":20,"used":0,"free":20,' \
		'"index":3,"chunk_size":16384,"total":10,"used":0,"free":10,'; do
		printf '%s\n' "$1" | grep -qF "$_p" || { _r=1; echo "# missing: $_p"; }
	done
	return $_r
}

# tap STATUS DESCRIPTION: "ok" when STATUS is 0; returns that verdict.
tap() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
	fi
	[ "$1" -eq 0 ]
}

# A tenth of a second where sleep takes fractions, else 1 s.
nap() {
	sleep 0.1 2> /dev/null || sleep 1
}

# show FILE: a file's content as TAP comments.
show() {
	sed 's/^/# /' "$1"
}

# forget PID: drop a reaped process from $pids, so that cleanup() never
# signals its number, which may belong to someone else by then.
forget() {
	np=
	for p in $pids; do
		[ "$p" = "$1" ] || np="$np $p"
	done
	pids=$np
}

# reap PID SECONDS: wait for our child PID, with a watchdog that SIGKILLs
# it after SECONDS; its exit status in $st (137 when it had to be killed).
reap() {
	# Output nowhere, so that the watchdog's sleep, which outlives it,
	# holds no pipe (or command substitution) open.
	sh -c 'sleep "$2"; kill -KILL "$1"' sh "$1" "$2" > /dev/null 2>&1 &
	wd=$!
	# Braces so that the shell's own "Killed" notice goes too.
	{ wait "$1"; } 2> /dev/null
	st=$?
	# KILL, never TERM: the watchdog may still be a copy of this shell,
	# not yet sh, and a TERM would run our traps in it.
	kill -KILL "$wd" 2> /dev/null
	{ wait "$wd"; } 2> /dev/null
	forget "$1"
}

# limit SECONDS COMMAND...: run COMMAND (a foreground command that could
# run forever when something is wrong, such as a serve that should be
# refused) with a time limit; returns its status, also in $st.
limit() {
	lim=$1
	shift
	"$@" &
	lpid=$!
	pids="$pids $lpid"
	reap "$lpid" "$lim"
	return "$st"
}
