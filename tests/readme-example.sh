#!/bin/sh
# SPDX-License-Identifier: MIT
# The C example of README.md's API section compiles against the build tree
# and runs against a live manager.
set -u
echo "1..3"
src=${top_srcdir:-.}
bld=${top_builddir:-.}
tmp=$(mktemp -d) || exit 1
name="ztreadme$$"
trap 'rm -rf "$tmp"; rm -f /dev/shm/zerocp_${name}_mgmt /dev/shm/zerocp_${name}_data' EXIT
awk '/^## API/{api=1} api&&/^```c$/{on=1;next} on&&/^```$/{exit} on{print}' \
	"$src/README.md" > "$tmp/example.c"
if [ -s "$tmp/example.c" ]; then echo "ok 1 - example extracted"; else echo "not ok 1 - example extracted"; fi
lib="$bld/lib/.libs/libzerocp.a"
[ -f "$lib" ] || lib="$bld/lib/.libs/libzerocp_impl.a"
# The build's own flags: a sanitizer build's library needs its runtime.
flags="${ZCP_TEST_CFLAGS:-} ${ZCP_TEST_LDFLAGS:-}"
libs="${ZCP_TEST_LIBS:--lpthread -lrt}"
if ${CC:-cc} -std=c11 -Wall -Wextra -Werror $flags -I"$src/include" "$tmp/example.c" "$lib" \
	$libs -o "$tmp/example" 2>"$tmp/cc.log"; then
	echo "ok 2 - example compiles with -Wall -Wextra -Werror"
else
	echo "not ok 2 - example compiles with -Wall -Wextra -Werror"
	sed 's/^/# /' "$tmp/cc.log"
fi
# A server for it: a tiny creator built from the same library.
cat > "$tmp/server.c" <<'EOC'
#include <unistd.h>
#include <zerocp/zerocp.h>
int main(int argc, char **argv)
{
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;
	zcp_mempool_config_add_entry(cfg, 256, 100);
	if (zcp_mempool_manager_create(argv[1], cfg, &m))
		return 1;
	(void)argc;
	if (write(1, "r", 1) != 1)
		return 1;
	char c;
	if (read(0, &c, 1) < 0)
		return 1;
	return zcp_mempool_manager_destroy(m) != 0;
}
EOC
${CC:-cc} -std=c11 $flags -I"$src/include" "$tmp/server.c" "$lib" $libs -o "$tmp/server" 2>>"$tmp/cc.log"
mkfifo "$tmp/in"
"$tmp/server" "$name" < "$tmp/in" > "$tmp/ready" &
spid=$!
exec 3>"$tmp/in"
for i in $(seq 50); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
if "$tmp/example" "$name" > "$tmp/out" 2>&1 && grep -q "Hello from client!" "$tmp/out" &&
	grep -q "Pool 0: chunk_size=256, total=100, used=1, free=99" "$tmp/out"; then
	echo "ok 3 - example runs: writes, prints the seed's stats line"
else
	echo "not ok 3 - example runs"
	sed 's/^/# /' "$tmp/out"
fi
exec 3>&-
wait $spid
# The verdicts are the TAP lines above.
exit 0
