#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/gateway-usage.sh - zerocp-gateway's answers to bad command lines:
# exit 2 and a line on stderr naming what is wrong, before it attaches to
# a manager or joins a DDS domain (so no root, no manager, no network
# needed); --help and --version exit 0.  TAP output; skips when the
# gateway is not built (configure found no Cyclone DDS).
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
. "$top_srcdir/tests/tool-lib.sh"
skip_unless_gateway
tmp=$(mktemp "${TMPDIR:-/tmp}/zcp-gateway-usage.XXXXXX") || exit 1
trap 'rm -f "$tmp"' EXIT
n=0

# usage WORD ARGS...: exit 2, and stderr mentions WORD
usage() {
	_w=$1
	shift
	n=$((n + 1))
	"$gateway" "$@" > /dev/null 2> "$tmp"
	_s=$?
	if [ $_s -eq 2 ] && grep -q -- "$_w" "$tmp"; then
		echo "ok $n - ${*:-(no arguments)}: exit 2, says $_w"
	else
		echo "not ok $n - ${*:-(no arguments)}: exit 2, says $_w (got $_s)"
		sed 's/^/# /' "$tmp"
	fi
}

echo "1..13"
usage "nothing to bridge"
usage "nothing to bridge" --idle 5
usage "bad --backlog" --import '*' --backlog 0
usage "bad --backlog" --import '*' --backlog 65537
usage "bad --backlog" --import '*' --backlog 12abc
usage "bad --backlog" --import '*' --backlog -1
usage "--backlog" --import '*' --backlog
usage "bad --idle" --export '*' --idle 0
usage "bad --idle" --export '*' --idle 86401
usage "bad --domain" --export '*' --domain 233
usage "unknown option" --export '*' --bogus
n=$((n + 1))
"$gateway" --help > "$tmp" 2>&1 && grep -q -- "--backlog MIB" "$tmp"
if [ $? -eq 0 ]; then echo "ok $n - --help: exit 0, lists --backlog"; else echo "not ok $n - --help: exit 0, lists --backlog"; fi
n=$((n + 1))
"$gateway" --version > "$tmp" 2>&1 && grep -q "^zerocp-gateway [0-9]" "$tmp"
if [ $? -eq 0 ]; then echo "ok $n - --version: exit 0, prints the version"; else echo "not ok $n - --version: exit 0, prints the version"; fi
