#!/bin/bash
# SPDX-License-Identifier: MIT
# The bash completion (completion/zerocp) offers every subcommand that
# `zerocp --help` lists, and for each subcommand exactly the long options
# of the usage lines of its own --help, and --help (so neither can drift
# from the other).  TAP.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
zerocp=$top_builddir/tools/zerocp
if ! command -v bash > /dev/null || [ ! -x "$zerocp" ]; then
	echo "1..0 # SKIP no bash or no tools/zerocp"
	exit 0
fi
# shellcheck source=/dev/null
. "$top_srcdir/completion/zerocp"
complete_words() { # WORD... : the completions of the last word
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	_zerocp
	printf '%s\n' "${COMPREPLY[@]}" | sort -u
}
cmds=$("$zerocp" --help | sed -n '/^Commands:/,/^$/p' | awk 'NF >= 2 && $1 != "Commands:" { print $1 }')
n=$(printf '%s\n' $cmds | wc -l)
echo "1..$((n + 1))"
offered=$(complete_words zerocp "")
missing=$(comm -23 <(printf '%s\n' $cmds | sort -u) <(printf '%s\n' "$offered"))
if [ -n "$cmds" ] && [ -z "$missing" ]; then
	echo "ok 1 - completion offers all $n subcommands of zerocp --help"
else
	echo "not ok 1 - completion offers all $n subcommands of zerocp --help"
	echo "# missing: $missing"
fi
i=1
for c in $cmds; do
	i=$((i + 1))
	want=$( ("$zerocp" "$c" --help 2>&1 | sed -n '/^Usage:/,/^$/p' | grep -o -- '--[a-z][a-z-]*'
		echo --help) | sort -u)
	got=$(complete_words zerocp "$c" "--" | grep -- '^--')
	diff=$(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got"))
	if [ -z "$diff" ]; then
		echo "ok $i - zerocp $c: the completion's long options are those of its --help"
	else
		echo "not ok $i - zerocp $c: the completion's long options are those of its --help"
		printf '%s\n' "$diff" | sed 's/^/# /'
	fi
done
