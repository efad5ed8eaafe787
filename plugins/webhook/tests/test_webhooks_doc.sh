#!/bin/sh
# test_webhooks_doc.sh — the shell recipe in docs/webhooks.md that verifies
# a signature with openssl must print the Standard Webhooks test vector's
# signature.  Receivers copy it; a recipe that has rotted is worse than none.
# Skipped (77) without the openssl command.
set -eu

srcdir=${top_srcdir:-.}
doc="$srcdir/docs/webhooks.md"
command -v openssl >/dev/null 2>&1 || { echo "no openssl command: skipped"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tnd-webhooks-doc-XXXXXX")
trap 'rm -rf "$work"' EXIT

# the first ```sh block after the marker
awk '/<!-- checked by plugins\/webhook\/tests\/test_webhooks_doc.sh -->/ { found = 1; next }
     found && /^```sh$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' "$doc" > "$work/recipe.sh"
if [ ! -s "$work/recipe.sh" ]; then
	echo "FAIL: no recipe found in $doc" >&2
	exit 1
fi
got=$(sh "$work/recipe.sh")
want='g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='
if [ "$got" != "$want" ]; then
	echo "FAIL: the recipe printed '$got', not '$want'" >&2
	exit 1
fi
# and the page states the same value in its table and in the recipe's comment
grep -q "v1,$want" "$doc"
grep -q "^# $want\$" "$work/recipe.sh"
echo "ok: docs/webhooks.md's openssl recipe reproduces the test vector"
