#!/bin/bash
# test_breakglass.sh — break-glass grants against the real daemon
# (/v1/breakglass, tenancyctl breakglass): an operator's request is
# pending and changes nothing; a different admin approves it and the
# operator's token acts as admin until the grant expires, on its own; the
# requester approving their own request is 403; a raised token decides no
# grants and creates no tokens; deny; a pending request lapses; grants
# survive a restart; each step is logged.
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_require_cmd curl
tnd_setup
tnd_daemon_start

json() {
	printf '%s' "$TND_BODY" | tnd_json "$@"
}

# make_token NAME BODY — a registry token; its secret in $TND_TMP/NAME.token.
make_token() {
	tnd_curl POST /v1/tokens --data-binary "$2"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "create token $1"
	(umask 077 && json /token >"$TND_TMP/$1.token")
}

# request TOKEN_FILE BODY — POST /v1/breakglass; 201 expected; id in $GRANT.
request() {
	tnd_curl_as "$1" POST /v1/breakglass --data-binary "$2"
	[ "$TND_HTTP_STATUS" = 201 ] || printf 'body: %s\n' "$TND_BODY" >&2
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "break-glass request"
	GRANT=$(json /id)
}

# admin_action TOKEN_FILE — an admin-only write: an override of acme-corp's limits.
admin_action() {
	tnd_curl_as "$1" POST /v1/overrides --data-binary '{"tenant":"acme-corp","read":500,"ttlSeconds":60}'
}

OP=$TND_OPERATOR_TOKEN_FILE
tnd_curl PUT /v1/tenants/acme-corp -H 'Content-Type: application/json' --data-binary \
	'{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"acme-corp"},"spec":{"plan":"business"}}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT acme-corp"
make_token admin2 '{"name":"admin2","role":"admin"}'
make_token auditor '{"name":"aud","role":"auditor"}'
make_token tenant '{"name":"acme-reader","role":"tenant","tenant":"acme-corp"}'

tnd_step "who may request"
for who in "$TND_VIEWER_TOKEN_FILE" "$TND_TMP/auditor.token" "$TND_TMP/tenant.token"; do
	tnd_curl_as "$who" POST /v1/breakglass --data-binary '{"reason":"x"}'
	tnd_assert_problem 403 forbidden "request by $(basename "$who")"
done
tnd_curl_as - POST /v1/breakglass --data-binary '{"reason":"x"}'
tnd_assert_problem 401 unauthorized "request without a token"
for body in '{}' '{"reason":""}' '{"reason":"x","ttlSeconds":0}' '{"reason":"x","ttlSeconds":86401}' \
	'{"reason":"x","state":"approved"}' '{"reason":"x","approvedBy":"admin"}' '{"reason":"x","expiresAt":"2099-01-01T00:00:00Z"}' \
	'{"reason":"x","requester":"admin"}' '{"reason":"x","id":"bg-1"}'; do
	tnd_curl_as "$OP" POST /v1/breakglass --data-binary "$body"
	tnd_assert_problem 422 validation-failed "request body $body"
done

tnd_step "a pending request changes nothing"
admin_action "$OP"
tnd_assert_problem 403 forbidden "operator before the request"
request "$OP" '{"reason":"INC-42: the pager says the override is needed","ttlSeconds":3}'
main=$GRANT
tnd_assert_match "$main" '^bg-[0-9]{13}-[0-9a-f]{8}$' "grant id"
tnd_assert_eq "pending operator file:operator admin 3 null" \
	"$(json /state) $(json /requester) $(json /requesterToken) $(json /role) $(json /ttlSeconds) $(json /decidedBy)" "pending grant"
admin_action "$OP"
tnd_assert_problem 403 forbidden "operator while pending"

tnd_step "the requester may not approve, an operator may not, a tenant token not either"
tnd_curl_as "$OP" POST "/v1/breakglass/$main/approve"
tnd_assert_problem 403 forbidden "operator approves (role)"
tnd_curl_as "$TND_TMP/tenant.token" POST "/v1/breakglass/$main/approve"
tnd_assert_problem 403 forbidden "tenant token approves"
request "$TND_ADMIN_TOKEN_FILE" '{"reason":"an admin asks too"}'
self=$GRANT
tnd_curl POST "/v1/breakglass/$self/approve"
tnd_assert_problem 403 forbidden "self-approval"
tnd_curl GET "/v1/breakglass/$self"
tnd_assert_eq pending "$(json /state)" "still pending after the refused self-approval"
tnd_curl POST "/v1/breakglass/$main/approve" --data-binary '{"state":"approved"}'
tnd_assert_problem 422 validation-failed "an approval sets nothing"
tnd_curl POST /v1/breakglass/bg-0000000000000-00000000/approve
tnd_assert_problem 404 not-found "unknown grant"

tnd_step "a different admin approves: the operator acts as admin"
tnd_curl_as "$TND_TMP/admin2.token" POST "/v1/breakglass/$main/approve"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "approve by admin2"
tnd_assert_eq "approved admin2" "$(json /state) $(json /decidedBy)" "approved grant"
admin_action "$OP"
tnd_assert_eq 201 "$TND_HTTP_STATUS" "operator acts as admin"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "by operator (operator) as admin under break-glass grant $main" "elevated request logged"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" POST /v1/overrides --data-binary '{"tenant":"acme-corp","read":5,"ttlSeconds":5}'
tnd_assert_problem 403 forbidden "other tokens are not raised"
# a raised token decides no grants and makes no tokens
tnd_curl_as "$OP" POST "/v1/breakglass/$self/approve"
tnd_assert_problem 403 forbidden "raised operator approves"
tnd_curl_as "$OP" POST /v1/tokens --data-binary '{"name":"persist","role":"admin"}'
tnd_assert_problem 403 forbidden "raised operator creates a token"
tnd_curl_as "$TND_TMP/admin2.token" POST "/v1/breakglass/$main/approve"
tnd_assert_problem 409 conflict "approved twice"

tnd_step "the grant expires on its own"
sleep 3.2
admin_action "$OP"
tnd_assert_problem 403 forbidden "operator after expiry"
tnd_curl_as "$TND_TMP/auditor.token" GET /v1/breakglass
tnd_assert_eq 200 "$TND_HTTP_STATUS" "auditor lists"
tnd_assert_contains "$(json -e /items /id /state)" "$main	expired" "listed as expired"
tnd_curl_as "$TND_TMP/auditor.token" GET '/v1/breakglass?state=expired'
tnd_assert_eq "$main" "$(json -e /items /id)" "state filter"

tnd_step "deny"
request "$OP" '{"reason":"second try"}'
denied=$GRANT
tnd_curl_as "$TND_TMP/admin2.token" POST "/v1/breakglass/$denied/deny"
tnd_assert_eq "200 denied admin2" "$TND_HTTP_STATUS $(json /state) $(json /decidedBy)" "deny"
tnd_curl POST "/v1/breakglass/$denied/approve"
tnd_assert_problem 409 conflict "approve after deny"
admin_action "$OP"
tnd_assert_problem 403 forbidden "operator after deny"

tnd_step "a pending request lapses"
request "$OP" '{"reason":"forgotten","ttlSeconds":1}'
lapsed=$GRANT
sleep 1.2
tnd_curl GET "/v1/breakglass/$lapsed"
tnd_assert_eq expired "$(json /state)" "lapsed request"
tnd_curl POST "/v1/breakglass/$lapsed/approve"
tnd_assert_problem 409 conflict "approve a lapsed request"

tnd_step "an approved grant survives a restart"
make_token op2 '{"name":"op2","role":"operator"}'
request "$TND_TMP/op2.token" '{"reason":"long incident","ttlSeconds":600}'
long=$GRANT
tnd_curl POST "/v1/breakglass/$long/approve"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "approve by the file admin"
tnd_daemon_stop
tnd_daemon_restart
admin_action "$TND_TMP/op2.token"
tnd_assert_eq 201 "$TND_HTTP_STATUS" "op2 acts as admin after restart"
admin_action "$OP"
tnd_assert_problem 403 forbidden "the operator's expired grant stays expired"
# revoking the token ends what its grant allowed
tnd_curl GET /v1/tokens
op2_id=$(json -e /items /id /name | awk -F'\t' '$2 == "op2" { print $1 }')
tnd_curl DELETE "/v1/tokens/$op2_id"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "revoke op2"
admin_action "$TND_TMP/op2.token"
tnd_assert_problem 401 unauthorized "a revoked token with a grant"

tnd_step "every step is logged"
log=$(cat "$TND_DAEMON_LOG")
tnd_assert_contains "$log" "breakglass.request allowed by operator (operator) on $main" "request logged"
tnd_assert_contains "$log" "breakglass.approve denied by admin (admin) on $self" "refused self-approval logged"
tnd_assert_contains "$log" "breakglass.approve allowed by admin2 (admin) on $main" "approval logged"
tnd_assert_contains "$log" "breakglass.deny allowed by admin2 (admin) on $denied" "denial logged"

tnd_step "tenancyctl breakglass request|list|approve|deny"
export TENANCYD_URL=$TND_URL
unset TENANCYD_TOKEN
ctl() {
	tnd_run "$top_builddir/tenancyctl" "$@"
}
ctl --token-file "$OP" breakglass request --reason "via the CLI" --ttl 120
tnd_assert_rc 0 "breakglass request"
tnd_assert_match "$TND_OUT" '^breakglass/bg-[0-9-]+[0-9a-f]+ requested \(pending, requested by operator, expires ' "request output"
cli_grant=$(printf '%s' "$TND_OUT" | sed -n 's|^breakglass/\([^ ]*\) .*|\1|p')
ctl --token-file "$OP" breakglass approve "$cli_grant"
tnd_assert_rc 1 "an operator cannot approve"
ctl --token-file "$TND_ADMIN_TOKEN_FILE" breakglass list --state pending
tnd_assert_rc 0 "breakglass list"
tnd_assert_match "$TND_OUT" "^$cli_grant +operator +pending +120 " "list row"
ctl --token-file "$TND_ADMIN_TOKEN_FILE" breakglass approve "$cli_grant"
tnd_assert_rc 0 "breakglass approve"
tnd_assert_match "$TND_OUT" "^breakglass/$cli_grant approved \(approved, requested by operator" "approve output"
ctl --token-file "$OP" breakglass request --reason "another"
other=$(printf '%s' "$TND_OUT" | sed -n 's|^breakglass/\([^ ]*\) .*|\1|p')
ctl --token-file "$TND_TMP/admin2.token" breakglass deny "$other"
tnd_assert_rc 0 "breakglass deny"
tnd_assert_match "$TND_OUT" "^breakglass/$other denied \(denied" "deny output"
ctl --token-file "$OP" breakglass request
tnd_assert_rc 2 "request without --reason"
ctl --token-file "$OP" breakglass approve
tnd_assert_rc 2 "approve without an id"

tnd_daemon_stop
tnd_pass
