#!/bin/sh
# SPDX-License-Identifier: MIT
# Every code example in a section 3 man page's EXAMPLES compiles: each
# .EX/.EE block, its roff escapes undone, becomes the body of a function
# that has the names the examples use (mgr, sub, ws, quit, use(),
# handle()) and is compiled with -Wall -Wextra against the public
# headers.  (An example calling zcp_chunk_release() with one argument
# went out in zcp_subscriber_create(3) once: a reader's copy would not
# compile.)
set -u
src=${top_srcdir:-.}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
flags="${ZCP_TEST_CFLAGS:-}"

n=0
for page in "$src"/man/*.3; do
	grep -q '^\.SH EXAMPLES' "$page" || continue
	# Blocks between .EX and .EE inside EXAMPLES; \- is -, \e is \.
	awk '/^\.SH/ { ex = ($0 ~ /^\.SH EXAMPLES/) }
	     ex && /^\.EX/ { on = 1; k++; next }
	     ex && /^\.EE/ { on = 0; next }
	     on { print > (dir "/block" k ".txt") }' dir="$tmp" "$page"
	for b in "$tmp"/block*.txt; do
		[ -f "$b" ] || continue
		n=$((n + 1))
		base=$(basename "$page")
		{
			cat <<'EOC'
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <zerocp/zerocp.h>
void use(const void *p, uint64_t n);
void handle(const zcp_waitset_event *e);
int example(zcp_mempool_manager *mgr, zcp_subscriber *sub, zcp_waitset *ws, zcp_trigger *quit);
int example(zcp_mempool_manager *mgr, zcp_subscriber *sub, zcp_waitset *ws, zcp_trigger *quit)
{
	(void)mgr; (void)sub; (void)ws; (void)quit;
	{ /* an example may declare these names itself */
EOC
			sed 's/\\-/-/g; s/\\e/\\/g' "$b"
			printf '\t}\n\treturn 0;\n}\n'
		} > "$tmp/ex.c"
		# Warnings the example's shape causes (a block that never
		# reaches the final return, a label) are not the point: errors
		# and implicit declarations are.
		# (Only compiled: -fsyntax-only, so use() and handle() need
		# no bodies.)
		if ${CC:-cc} -std=c11 $flags -Wall -Wextra -Werror=implicit-function-declaration \
			-Wno-unused-label -Wno-unreachable-code -I"$src/include" \
			-fsyntax-only "$tmp/ex.c" 2> "$tmp/cc.log"; then
			echo "ok $n - $base: example $(basename "$b" .txt | tr -d block) compiles"
		else
			echo "not ok $n - $base: example $(basename "$b" .txt | tr -d block) compiles"
			sed 's/^/# /' "$tmp/cc.log"
		fi
		rm -f "$b"
	done
done
if [ "$n" -eq 0 ]; then
	n=1
	echo "not ok 1 - found no example in $src/man/*.3"
fi
echo "1..$n"
