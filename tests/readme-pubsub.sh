#!/bin/sh
# SPDX-License-Identifier: MIT
# The publish/subscribe example of README.md compiles against the build tree
# and runs: one publisher and two subscribers in separate processes, every
# sample delivered in order to both, nothing left in use or in /dev/shm.
set -u
echo "1..5"
src=${top_srcdir:-.}
bld=${top_builddir:-.}
tmp=$(mktemp -d) || exit 1
name="ztrps$$"
trap 'rm -rf "$tmp"; rm -f /dev/shm/zerocp_${name}_mgmt /dev/shm/zerocp_${name}_data' EXIT
awk '/^## Publish\/subscribe/{sec=1} sec&&/^```c$/{on=1;next} on&&/^```$/{exit} on{print}' \
	"$src/README.md" > "$tmp/pubsub.c"
if [ -s "$tmp/pubsub.c" ]; then echo "ok 1 - example extracted"; else echo "not ok 1 - example extracted"; fi
lib="$bld/lib/.libs/libzerocp.a"
[ -f "$lib" ] || lib="$bld/lib/.libs/libzerocp_impl.a"
flags="${ZCP_TEST_CFLAGS:-} ${ZCP_TEST_LDFLAGS:-}"
libs="${ZCP_TEST_LIBS:--lpthread -lrt}"
# POSIX 2008 for fork/pipe/nanosleep under -std=c11.
if ${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror $flags -I"$src/include" \
	"$tmp/pubsub.c" "$lib" $libs -o "$tmp/pubsub" 2>"$tmp/cc.log"; then
	echo "ok 2 - example compiles with -Wall -Wextra -Werror"
else
	echo "not ok 2 - example compiles with -Wall -Wextra -Werror"
	sed 's/^/# /' "$tmp/cc.log"
fi
if timeout 30 "$tmp/pubsub" "$name" > "$tmp/out" 2>&1; then
	echo "ok 3 - example exits 0"
else
	echo "not ok 3 - example exits 0"
fi
sed 's/^/# /' "$tmp/out"
want=$(printf '#%d "hello %d"\n' 0 0 1 1 2 2 3 3 4 4)
bad=0
for id in 1 2; do
	got=$(sed -n "s/^subscriber $id: //p" "$tmp/out")
	[ "$got" = "$want" ] || bad=1
done
if [ $bad = 0 ]; then
	echo "ok 4 - both subscribers got the five samples in order"
else
	echo "not ok 4 - both subscribers got the five samples in order"
fi
if grep -q "^all delivered; chunks in use: 0$" "$tmp/out" &&
	[ ! -e "/dev/shm/zerocp_${name}_mgmt" ]; then
	echo "ok 5 - every chunk back, segments removed"
else
	echo "not ok 5 - every chunk back, segments removed"
fi
