#!/bin/sh
# SPDX-License-Identifier: MIT
# The waitset example of README.md ("### Waiting") compiles against the
# build tree and runs: a child's three samples and its "quit" trigger wake
# the waitset; nothing is left in /dev/shm.
set -u
echo "1..4"
src=${top_srcdir:-.}
bld=${top_builddir:-.}
tmp=$(mktemp -d) || exit 1
name="ztrws$$"
trap 'rm -rf "$tmp"; rm -f /dev/shm/zerocp_${name}_mgmt /dev/shm/zerocp_${name}_data' EXIT
awk '/^### Waiting/{sec=1} sec&&/^```c$/{on=1;next} on&&/^```$/{exit} on{print}' \
	"$src/README.md" > "$tmp/waitset.c"
if [ -s "$tmp/waitset.c" ]; then echo "ok 1 - example extracted"; else echo "not ok 1 - example extracted"; fi
lib="$bld/lib/.libs/libzerocp.a"
[ -f "$lib" ] || lib="$bld/lib/.libs/libzerocp_impl.a"
flags="${ZCP_TEST_CFLAGS:-} ${ZCP_TEST_LDFLAGS:-}"
libs="${ZCP_TEST_LIBS:--lpthread -lrt}"
# POSIX 2008 for fork/waitpid/nanosleep under -std=c11.
if ${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror $flags -I"$src/include" \
	"$tmp/waitset.c" "$lib" $libs -o "$tmp/waitset" 2>"$tmp/cc.log"; then
	echo "ok 2 - example compiles with -Wall -Wextra -Werror"
else
	echo "not ok 2 - example compiles with -Wall -Wextra -Werror"
	sed 's/^/# /' "$tmp/cc.log"
fi
if timeout 30 "$tmp/waitset" "$name" > "$tmp/out" 2>&1; then
	echo "ok 3 - example exits 0"
else
	echo "not ok 3 - example exits 0"
fi
sed 's/^/# /' "$tmp/out"
want=$(printf 'got 1\ngot 2\ngot 3\nquit after 3 samples')
if [ "$(cat "$tmp/out")" = "$want" ] && [ ! -e "/dev/shm/zerocp_${name}_mgmt" ]; then
	echo "ok 4 - three samples, then quit; segments removed"
else
	echo "not ok 4 - three samples, then quit; segments removed"
fi
