#!/bin/bash
# test_audit.sh — the signed, hash-chained audit trail against the real
# daemon (tenancyd --dev, with workers): every mutating route leaves a
# record (successes, rejections, denials), lifecycle transitions and
# workflow steps are recorded, only auditors and admins read the trail,
# `tenancyctl audit verify/list/export/public-key` work, a record checked
# with openssl alone, an audit write that fails rolls the change back with
# 503 and leaves no gap, and on copies of the registry each kind of
# tampering done with the sqlite3 CLI (edit, delete, insert, reorder,
# truncate with or without a rewritten head, re-sign with another key) is
# reported at the right seq by a daemon started on the copy.  Then a key
# rotation: a new signing key with the old public key in audit.verify_keys.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_require_cmd curl
tnd_require_cmd sqlite3
tnd_require_cmd openssl

tnd_setup
tnd_daemon_start

: >"$TND_TMP/empty.conf"
export TENANCYCTL_CONFIG=$TND_TMP/empty.conf
unset TENANCYD_TOKEN
auditor_token_file=$TND_STATE/auditor.token
main_state=$TND_STATE
main_url=$TND_URL

ctl_as() {
	local token_file=$1
	shift
	TENANCYD_URL=$TND_URL TENANCYD_TOKEN_FILE=$token_file tnd_run "$top_builddir/tenancyctl" "$@"
}

# The records of the last `audit export` as "seq action outcome tenant" lines.
exported() {
	printf '[%s]' "$(printf '%s\n' "$TND_OUT" | paste -sd,)" | tnd_json -e "" /seq /action /outcome /tenantId
}

manifest() { # id state [rev label]
	printf '{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"%s","labels":{"rev":"%s"}},"spec":{"plan":"business","state":"%s"}}' \
		"$1" "${3:-1}" "$2"
}

tnd_step "every mutating route leaves a record"
tnd_curl PUT /v1/tenants/acme -H 'Content-Type: application/json' --data "$(manifest acme active)"
tnd_assert_eq 201 "$TND_HTTP_STATUS" "create acme"
tnd_wait_settled acme
tnd_curl PUT /v1/tenants/acme -H 'Content-Type: application/json' --data "$(manifest acme active 2)"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "update acme"
tnd_curl PUT /v1/tenants/bad -H 'Content-Type: application/json' --data '{"apiVersion":"tenancy/v1","kind":"Tenant"}'
tnd_assert_problem 422 validation-failed "invalid manifest"
tnd_curl PUT /v1/tenants/drafty -H 'Content-Type: application/json' --data "$(manifest drafty draft)"
tnd_assert_eq 201 "$TND_HTTP_STATUS" "create drafty"
tnd_curl POST /v1/tenants/drafty/suspend
tnd_assert_problem 409 invalid-transition "suspend a Draft"
tnd_wait_settled acme
tnd_curl POST /v1/tenants/acme/suspend
tnd_assert_eq 200 "$TND_HTTP_STATUS" "suspend acme"
tnd_wait_settled acme
tnd_curl POST /v1/tenants/acme/resume
tnd_assert_eq 200 "$TND_HTTP_STATUS" "resume acme"
tnd_wait_settled acme
tnd_curl POST /v1/tenants/acme/archive
tnd_assert_eq 200 "$TND_HTTP_STATUS" "archive acme"
tnd_wait_settled acme
tnd_curl DELETE /v1/tenants/acme
tnd_assert_eq 200 "$TND_HTTP_STATUS" "delete acme"
tnd_wait_settled acme
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" POST /v1/tenants/drafty/archive
tnd_assert_problem 403 forbidden "a viewer archives"
wf=$(printf '%s' "$(curl -sS -H "Authorization: Bearer $(cat "$TND_ADMIN_TOKEN_FILE")" "$TND_URL/v1/workflows?tenant=acme")" |
	tnd_json /items/0/id)
tnd_curl POST "/v1/workflows/$wf/retry"
tnd_assert_problem 409 conflict "retry a finished workflow"
# overrides, tokens and break-glass: successes and refusals
tnd_curl POST /v1/overrides -H 'Content-Type: application/json' \
	--data '{"tenant":"drafty","read":50,"ttlSeconds":60,"reason":"audit test"}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "override for drafty"
tnd_curl POST /v1/tokens -H 'Content-Type: application/json' --data '{"name":"audit-probe","role":"viewer"}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "create a token"
probe=$(printf '%s' "$TND_BODY" | tnd_json /id)
tnd_curl DELETE "/v1/tokens/$probe"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "revoke the token"
tnd_curl DELETE "/v1/tokens/$probe"
tnd_assert_problem 409 conflict "revoke it again"
tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" POST /v1/breakglass -H 'Content-Type: application/json' \
	--data '{"reason":"audit test","ttlSeconds":60}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "request break-glass"
grant=$(printf '%s' "$TND_BODY" | tnd_json /id)
tnd_curl POST "/v1/breakglass/$grant/deny"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "deny the grant"

ctl_as "$auditor_token_file" audit export
tnd_assert_rc 0 "audit export"
records=$(exported)
for want in "tenant.apply	succeeded	acme" "tenant.apply	rejected	bad" "tenant.apply	succeeded	drafty" \
	"tenant.suspend	rejected	drafty" "tenant.suspend	succeeded	acme" "tenant.resume	succeeded	acme" \
	"tenant.archive	succeeded	acme" "tenant.delete	succeeded	acme" "tenant.archive	denied	drafty" \
	"workflow.retry	rejected	" "tenant.transition	succeeded	acme" "workflow.step	succeeded	acme" \
	"override.create	succeeded	drafty" "token.create	succeeded	" "token.revoke	succeeded	" \
	"token.revoke	rejected	" "breakglass.request	succeeded	" "breakglass.deny	succeeded	"; do
	tnd_assert_match "$records" "^[0-9]+	$want" "a record '$want'"
done
# a 409 names the reason; transitions name both phases
ctl_as "$auditor_token_file" -o json audit list --tenant drafty --outcome rejected
tnd_assert_contains "$TND_OUT" "409 invalid-transition" "the reason of a rejected suspend"
ctl_as "$auditor_token_file" audit list --tenant acme --action tenant.transition
tnd_assert_match "$TND_OUT" "Archived -> Deleted" "the Archived to Deleted transition"
tnd_assert_match "$TND_OUT" "Draft -> Active" "the Draft to Active transition"

tnd_step "who may read the trail"
tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" GET /v1/audit/verify
tnd_assert_problem 403 forbidden "an operator verifies"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" GET /v1/audit
tnd_assert_problem 403 forbidden "a viewer searches"
tnd_curl GET /v1/audit/verify
tnd_assert_eq 200 "$TND_HTTP_STATUS" "an admin verifies"
tnd_assert_eq true "$(printf '%s' "$TND_BODY" | tnd_json /ok)" "verify ok"
tnd_curl_as "$auditor_token_file" GET "/v1/audit?limit=2&action=tenant.apply"
tnd_assert_eq 2 "$(printf '%s' "$TND_BODY" | tnd_json -l /items)" "a page of 2"
cursor=$(printf '%s' "$TND_BODY" | tnd_json /nextCursor)
tnd_curl_as "$auditor_token_file" GET "/v1/audit?limit=2&action=tenant.apply&cursor=$cursor"
first_next=$(printf '%s' "$TND_BODY" | tnd_json /items/0/seq)
[ "$first_next" -gt "$cursor" ] || tnd_fail "the next page starts after the cursor ($first_next <= $cursor)"
tnd_curl_as "$auditor_token_file" GET "/v1/audit?after=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z"
tnd_assert_eq 0 "$(printf '%s' "$TND_BODY" | tnd_json -l /items)" "nothing in 2000"
tnd_curl_as "$auditor_token_file" GET "/v1/audit?after=yesterday"
tnd_assert_problem 400 bad-request "a bad time"

tnd_step "tenancyctl audit verify, and a record checked with openssl alone"
ctl_as "$auditor_token_file" audit verify
tnd_assert_rc 0 "audit verify"
tnd_assert_contains "$TND_OUT" "audit trail OK" "verify output"
ctl_as "$auditor_token_file" audit public-key
tnd_assert_rc 0 "audit public-key"
printf '%s\n' "$TND_OUT" >"$TND_TMP/audit.pub"
# the canonical form of record 1, rebuilt by SQLite from the stored row (docs/audit.md)
sqlite3 "$TND_STATE/registry.db" "SELECT json_object('action', action, 'actor', actor, 'correlationId',
	correlation_id, 'keyId', key_id, 'newState', new_state, 'outcome', outcome, 'prevHash', prev_hash,
	'previousState', previous_state, 'reason', reason, 'requestId', request_id, 'seq', seq, 'target', target,
	'tenantId', tenant_id, 'time', strftime('%Y-%m-%dT%H:%M:%S', time_ms / 1000, 'unixepoch') ||
	printf('.%03dZ', time_ms % 1000), 'v', '1') FROM audit_log WHERE seq = 1" | tr -d '\n' >"$TND_TMP/canonical"
openssl dgst -sha256 -binary "$TND_TMP/canonical" >"$TND_TMP/hash.bin"
tnd_assert_eq "$(sqlite3 "$TND_STATE/registry.db" "SELECT hash FROM audit_log WHERE seq = 1")" \
	"$(od -An -tx1 -v "$TND_TMP/hash.bin" | tr -d ' \n')" "record 1's hash recomputed with openssl"
sqlite3 "$TND_STATE/registry.db" "SELECT signature FROM audit_log WHERE seq = 1" | openssl base64 -d -A >"$TND_TMP/sig.bin"
openssl pkeyutl -verify -pubin -inkey "$TND_TMP/audit.pub" -rawin -in "$TND_TMP/hash.bin" -sigfile "$TND_TMP/sig.bin" \
	>/dev/null || tnd_fail "openssl does not verify record 1's signature"

tnd_step "offline verification of an export, with the public key alone"
ctl_as "$auditor_token_file" audit export
printf '%s\n' "$TND_OUT" >"$TND_TMP/export.jsonl"
ctl_as "$auditor_token_file" -o json audit verify
anchor="$(printf '%s' "$TND_OUT" | tnd_json /head/seq):$(printf '%s' "$TND_OUT" | tnd_json /head/hash)"
# no server needed: a URL nothing listens on
TENANCYD_URL=http://127.0.0.1:1 tnd_run "$top_builddir/tenancyctl" audit verify --export "$TND_TMP/export.jsonl" \
	--key "$TND_TMP/audit.pub" --anchor "$anchor"
tnd_assert_rc 0 "offline verify of the export"
tnd_assert_contains "$TND_OUT" "audit export OK" "offline verify output"
sed -e '3s/"actor":"[^"]*"/"actor":"mallory"/' "$TND_TMP/export.jsonl" >"$TND_TMP/edited.jsonl"
tnd_run "$top_builddir/tenancyctl" audit verify --export "$TND_TMP/edited.jsonl" --key "$TND_TMP/audit.pub"
tnd_assert_rc 1 "offline verify of an edited export"
tnd_assert_contains "$TND_OUT" "BROKEN at seq 3:" "the edited record"
head -n -2 "$TND_TMP/export.jsonl" >"$TND_TMP/cut.jsonl"
tnd_run "$top_builddir/tenancyctl" audit verify --export "$TND_TMP/cut.jsonl" --key "$TND_TMP/audit.pub" \
	--anchor "$anchor"
tnd_assert_rc 1 "offline verify of a cut export against the anchor"
tnd_assert_contains "$TND_OUT" "truncated" "the cut export"

tnd_step "an audit write that fails rolls the change back (503) and leaves no gap"
tnd_curl GET /v1/tenants/drafty
version=$(printf '%s' "$TND_BODY" | tnd_json /metadata/version)
head_before=$(sqlite3 "$TND_STATE/registry.db" "SELECT seq FROM audit_head")
sqlite3 "$TND_STATE/registry.db" "CREATE TRIGGER test_audit_fail BEFORE INSERT ON audit_log
	BEGIN SELECT RAISE(ABORT, 'audit disabled by test_audit.sh'); END;"
tnd_curl PUT /v1/tenants/drafty -H 'Content-Type: application/json' --data "$(manifest drafty draft 2)"
tnd_assert_problem 503 storage-unavailable "an update whose audit record cannot be written"
tnd_curl PUT /v1/tenants/newbie -H 'Content-Type: application/json' --data "$(manifest newbie draft)"
tnd_assert_problem 503 storage-unavailable "a create whose audit record cannot be written"
tnd_curl POST /v1/tenants/drafty/suspend
tnd_assert_problem 503 audit-unavailable "a rejection that cannot be audited"
sqlite3 "$TND_STATE/registry.db" "DROP TRIGGER test_audit_fail"
tnd_curl GET /v1/tenants/drafty
tnd_assert_eq "$version" "$(printf '%s' "$TND_BODY" | tnd_json /metadata/version)" "drafty's version after the 503"
tnd_assert_eq 1 "$(printf '%s' "$TND_BODY" | tnd_json /metadata/labels/rev)" "drafty's labels after the 503"
tnd_curl GET /v1/tenants/newbie
tnd_assert_problem 404 not-found "the create that was rolled back"
tnd_curl PUT /v1/tenants/drafty -H 'Content-Type: application/json' --data "$(manifest drafty draft 2)"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "the update once the trail works again"
tnd_assert_eq $((head_before + 1)) "$(sqlite3 "$TND_STATE/registry.db" "SELECT seq FROM audit_head")" \
	"the next record takes the next seq"
ctl_as "$auditor_token_file" audit verify
tnd_assert_rc 0 "audit verify after the failed writes"
tnd_daemon_stop

# --- tampering, each on its own copy ---------------------------------------------------

n=$(sqlite3 "$main_state/registry.db" "SELECT seq FROM audit_head")
[ "$n" -ge 12 ] || tnd_fail "expected at least 12 records, the head is $n"
openssl genpkey -algorithm ed25519 -out "$TND_TMP/mallory.pem" 2>/dev/null || tnd_fail "openssl genpkey"
mallory_id=$(openssl pkey -in "$TND_TMP/mallory.pem" -pubout -outform DER | tail -c 32 | openssl dgst -sha256 -r |
	cut -c1-16)

# canonical_sql SEQ — SQL printing record SEQ's canonical form (as above)
canonical_sql() {
	echo "SELECT json_object('action', action, 'actor', actor, 'correlationId', correlation_id, 'keyId', key_id,
		'newState', new_state, 'outcome', outcome, 'prevHash', prev_hash, 'previousState', previous_state,
		'reason', reason, 'requestId', request_id, 'seq', seq, 'target', target, 'tenantId', tenant_id,
		'time', strftime('%Y-%m-%dT%H:%M:%S', time_ms / 1000, 'unixepoch') || printf('.%03dZ', time_ms % 1000),
		'v', '1') FROM audit_log WHERE seq = $1"
}

# resign DB SEQ — recompute record SEQ's hash and sign it with mallory's key
resign() {
	local db=$1 seq=$2 hash sig
	sqlite3 "$db" "$(canonical_sql "$seq")" | tr -d '\n' >"$TND_TMP/forged"
	openssl dgst -sha256 -binary "$TND_TMP/forged" >"$TND_TMP/forged.hash"
	hash=$(od -An -tx1 -v "$TND_TMP/forged.hash" | tr -d ' \n')
	sig=$(openssl pkeyutl -sign -inkey "$TND_TMP/mallory.pem" -rawin -in "$TND_TMP/forged.hash" | openssl base64 -A)
	sqlite3 "$db" "UPDATE audit_log SET hash = '$hash', signature = '$sig' WHERE seq = $seq"
}

# on_copy NAME SQL... — copy the registry, run the SQL on the copy (a line
# "resign SEQ" re-signs record SEQ with mallory's key), start a daemon on it
# (registry-only: nothing runs that writes) and run `audit verify` there.
on_copy() {
	local name=$1 copy=$TND_TMP/$1 statement
	shift
	tnd_step "tampering: $name"
	mkdir -m 700 "$copy"
	cp -p "$main_state/audit.key" "$copy/"
	sqlite3 "$main_state/registry.db" ".backup '$copy/registry.db'"
	for statement in "$@"; do
		case $statement in
		resign\ *) resign "$copy/registry.db" "${statement#resign }" ;;
		*) sqlite3 "$copy/registry.db" "$statement" || tnd_fail "$name: $statement" ;;
		esac
	done
	TND_STATE=$copy
	TND_DAEMON_LOG=$TND_TMP/$name.log
	_tnd_daemon_spawn --dev --registry-only --state-dir "$copy" --listen 127.0.0.1:0
	ctl_as "$copy/auditor.token" audit verify
	tnd_curl_as "$copy/auditor.token" GET /v1/audit/verify
}

# tampered NAME EXPECTED-SEQ REASON-PART SQL... — verify must fail at
# EXPECTED-SEQ, naming REASON-PART, in tenancyctl and in the API.
tampered() {
	local name=$1 want=$2 reason=$3
	shift 3
	on_copy "$name" "$@"
	tnd_assert_rc 1 "$name: verify exits 1"
	tnd_assert_contains "$TND_OUT" "BROKEN at seq $want:" "$name: the first bad seq"
	tnd_assert_contains "$TND_OUT" "$reason" "$name: the reason"
	tnd_assert_eq "$want" "$(printf '%s' "$TND_BODY" | tnd_json /firstBadSeq)" "$name: firstBadSeq from the API"
	tnd_daemon_stop
}

on_copy control
tnd_assert_rc 0 "an untouched copy verifies"
tnd_daemon_stop

tampered edit 3 "altered" "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"
tampered edit-outcome 5 "altered" "UPDATE audit_log SET outcome = 'succeeded' WHERE seq = 5 AND outcome <> 'succeeded'" \
	"UPDATE audit_log SET outcome = 'failed' WHERE seq = 5 AND outcome = 'succeeded'"
tampered delete 3 "missing" "DELETE FROM audit_log WHERE seq = 3"
tampered insert 3 "altered" "UPDATE audit_log SET seq = -seq WHERE seq >= 3" \
	"UPDATE audit_log SET seq = 1 - seq WHERE seq < 0" \
	"INSERT INTO audit_log SELECT 3, time_ms, tenant_id, 'mallory', action, target, previous_state, new_state,
		outcome, reason, request_id, correlation_id, key_id, prev_hash, hash, signature FROM audit_log WHERE seq = 2"
tampered append $((n + 1)) "record $((n + 1))" \
	"INSERT INTO audit_log SELECT $((n + 1)), time_ms, tenant_id, actor, action, target, previous_state, new_state,
		outcome, reason, request_id, correlation_id, key_id, (SELECT hash FROM audit_head), hash, signature
		FROM audit_log WHERE seq = 2"
tampered reorder 3 "altered" "UPDATE audit_log SET seq = -3 WHERE seq = 3" \
	"UPDATE audit_log SET seq = 3 WHERE seq = 4" "UPDATE audit_log SET seq = 4 WHERE seq = -3"
tampered truncate $((n - 1)) "truncated" "DELETE FROM audit_log WHERE seq > $((n - 2))"
tampered truncate-and-move-head $((n - 2)) "chain head" "DELETE FROM audit_log WHERE seq > $((n - 2))" \
	"UPDATE audit_head SET seq = $((n - 2)), hash = (SELECT hash FROM audit_log WHERE seq = $((n - 2)))"
tampered truncate-and-drop-head $((n - 2)) "head is missing" "DELETE FROM audit_log WHERE seq > $((n - 2))" \
	"DELETE FROM audit_head"
tampered resign 3 "invalid signature" "UPDATE audit_log SET actor = 'mallory' WHERE seq = 3" "resign 3"
tampered resign-own-key-id 3 "unknown key" \
	"UPDATE audit_log SET actor = 'mallory', key_id = '$mallory_id' WHERE seq = 3" "resign 3"
# a daemon refuses to extend a trail whose head is gone: the evidence stays
on_copy refuse-to-extend "DELETE FROM audit_head"
tnd_curl PUT /v1/tenants/another -H 'Content-Type: application/json' --data "$(manifest another draft)"
tnd_assert_eq 503 "$TND_HTTP_STATUS" "a write on a trail without a head"
tnd_daemon_stop

tnd_step "an unsafe signing key is refused"
chmod 644 "$TND_TMP/control/audit.key"
tnd_run "$top_builddir/tenancyd" -t -c "$TND_TMP/control/tenancyd.conf"
tnd_assert_rc 1 "tenancyd -t with a 0644 audit key"
tnd_assert_contains "$TND_ERR$TND_OUT" "audit.signing_key_file" "the refusal names the setting"
chmod 600 "$TND_TMP/control/audit.key"

tnd_step "key rotation: a new signing key, the old public key in audit.verify_keys"
rot=$TND_TMP/rotated
on_copy rotated
tnd_assert_rc 0 "the copy to rotate verifies"
tnd_daemon_stop
openssl pkey -in "$rot/audit.key" -pubout -out "$rot/old-audit.pub"
openssl genpkey -algorithm ed25519 -out "$rot/audit-2.key" 2>/dev/null
chmod 600 "$rot/audit-2.key"
sed -i "s|signing_key_file = \"$rot/audit.key\";|signing_key_file = \"audit-2.key\"; verify_keys = [ \"old-audit.pub\" ];|" \
	"$rot/tenancyd.conf"
grep -q 'verify_keys' "$rot/tenancyd.conf" || tnd_fail "could not write the rotated config"
TND_DAEMON_LOG=$TND_TMP/rotated-2.log
tnd_daemon_start_config "$rot/tenancyd.conf"
TND_ADMIN_TOKEN_FILE=$rot/admin.token
tnd_curl PUT /v1/tenants/rotated -H 'Content-Type: application/json' --data "$(manifest rotated draft)"
tnd_assert_eq 201 "$TND_HTTP_STATUS" "a write signed with the new key"
ctl_as "$rot/auditor.token" audit verify
tnd_assert_rc 0 "old and new records verify after the rotation"
ctl_as "$rot/auditor.token" -o json audit public-key
tnd_assert_eq 2 "$(printf '%s' "$TND_OUT" | tnd_json -l /verifyKeys)" "two keys accepted"
tnd_daemon_stop

tnd_pass
