#!/bin/sh
# SPDX-License-Identifier: MIT
# The event-loop example of README.md ("#### Event loops") compiles
# against the build tree and runs: another process's three samples make
# the waitset's descriptor readable in epoll; nothing is left in /dev/shm
# (segments or FIFO).
set -u
src=${top_srcdir:-.}
bld=${top_builddir:-.}
if [ "$(uname -s)" != Linux ]; then
	echo "1..0 # SKIP epoll is Linux's"
	exit 0
fi
echo "1..4"
tmp=$(mktemp -d) || exit 1
name="ztrfd$$"
trap 'rm -rf "$tmp"; rm -f /dev/shm/zerocp_${name}_mgmt /dev/shm/zerocp_${name}_data /dev/shm/zerocp_${name}.fd.*' EXIT
awk '/^#### Event loops/{sec=1} sec&&/^```c$/{on=1;next} on&&/^```$/{exit} on{print}' \
	"$src/README.md" > "$tmp/fd.c"
if [ -s "$tmp/fd.c" ]; then echo "ok 1 - example extracted"; else echo "not ok 1 - example extracted"; fi
lib="$bld/lib/.libs/libzerocp.a"
[ -f "$lib" ] || lib="$bld/lib/.libs/libzerocp_impl.a"
flags="${ZCP_TEST_CFLAGS:-} ${ZCP_TEST_LDFLAGS:-}"
libs="${ZCP_TEST_LIBS:--lpthread -lrt}"
if ${CC:-cc} -std=c11 -Wall -Wextra -Werror $flags -I"$src/include" \
	"$tmp/fd.c" "$lib" $libs -o "$tmp/fd" 2>"$tmp/cc.log"; then
	echo "ok 2 - example compiles with -Wall -Wextra -Werror"
else
	echo "not ok 2 - example compiles with -Wall -Wextra -Werror"
	sed 's/^/# /' "$tmp/cc.log"
fi
if timeout 30 "$tmp/fd" "$name" > "$tmp/out" 2>&1; then
	echo "ok 3 - example exits 0"
else
	echo "not ok 3 - example exits 0"
fi
sed 's/^/# /' "$tmp/out"
want=$(printf 'got 1\ngot 2\ngot 3')
left=$(ls /dev/shm 2>/dev/null | grep -c "^zerocp_${name}[._]")
if [ "$(cat "$tmp/out")" = "$want" ] && [ "$left" -eq 0 ]; then
	echo "ok 4 - three samples through epoll; segments and FIFO removed"
else
	echo "not ok 4 - three samples through epoll; segments and FIFO removed ($left left)"
fi
