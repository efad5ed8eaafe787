#!/bin/sh
# test_plugin_guide_example.sh — the example plugin in docs/plugin-guide.md
# must keep compiling, warning-free, against the SDK headers, and export
# exactly one symbol, tnd_plugin_v1.  Vendors copy that example; a guide
# whose example has rotted is worse than none.
set -eu

srcdir=${top_srcdir:-.}
guide="$srcdir/docs/plugin-guide.md"
cc=${CC:-cc}
nm=${NM:-nm}
work=$(mktemp -d "${TMPDIR:-/tmp}/tnd-guide-XXXXXX")
trap 'rm -rf "$work"' EXIT

# the first ```c block after the "<!-- example: deny_actions.c" marker
awk '/<!-- example: deny_actions.c/ { found = 1; next }
     found && /^```c$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' "$guide" > "$work/deny_actions.c"
if [ ! -s "$work/deny_actions.c" ]; then
	echo "FAIL: no example block found in $guide" >&2
	exit 1
fi

# $cc may carry flags (e.g. "gcc -std=gnu11"), hence unquoted
$cc -std=c11 -Wall -Wextra -Werror -pedantic -O2 -fPIC -fvisibility=hidden \
	-I"$srcdir/include" -c "$work/deny_actions.c" -o "$work/deny_actions.o"
$cc -shared -o "$work/deny_actions.so" "$work/deny_actions.o"

exports=$($nm -D --defined-only "$work/deny_actions.so" | awk '{ print $NF }')
if [ "$exports" != "tnd_plugin_v1" ]; then
	echo "FAIL: the example exports: $exports (want only tnd_plugin_v1)" >&2
	exit 1
fi
echo "PASS: the plugin guide's example compiles and exports only tnd_plugin_v1"
