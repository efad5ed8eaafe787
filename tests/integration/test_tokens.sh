#!/bin/bash
# test_tokens.sh — API tokens kept in the registry (POST/GET/DELETE
# /v1/tokens, tenancyctl tokens) against the real daemon: the secret is
# shown once and never listed or logged, only its hash is stored, a new
# token authenticates with its role at once, a revoked one fails on the
# very next request, an expired one fails on its own, tenant-scoped
# tokens read only their tenant, validation and conflicts, tokens survive
# a restart (revocations too), and the tokens file keeps working beside.
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_require_cmd curl
tnd_setup
tnd_daemon_start

json() {
	printf '%s' "$TND_BODY" | tnd_json "$@"
}

# make_token NAME BODY — POST /v1/tokens as admin; must answer 201; the
# secret goes to $TND_TMP/NAME.token (0600), the id to $TOKEN_ID.
make_token() {
	local name=$1 body=$2
	tnd_curl POST /v1/tokens -H 'Content-Type: application/json' --data-binary "$body"
	[ "$TND_HTTP_STATUS" = 201 ] || printf 'body: %s\n' "$TND_BODY" >&2
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "create token $name"
	(umask 077 && json /token >"$TND_TMP/$name.token")
	TOKEN_ID=$(json /id)
}

manifest() {
	printf '{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"%s"},"spec":{"plan":"business"}}' "$1"
}

tnd_step "tenants to read"
for id in acme-corp globex; do
	tnd_curl PUT "/v1/tenants/$id" -H 'Content-Type: application/json' --data-binary "$(manifest $id)"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT $id"
done

tnd_step "create: the secret once, in the tokens file's format"
make_token ci '{"name":"ci","role":"viewer"}'
ci_id=$TOKEN_ID
secret=$(cat "$TND_TMP/ci.token")
tnd_assert_match "$secret" '^tnd_[A-Za-z0-9_-]{43}$' "secret format"
tnd_assert_match "$ci_id" '^tok-[0-9]{13}-[0-9a-f]{8}$' "token id"
tnd_assert_eq "ci viewer active null null" "$(json /name) $(json /role) $(json /state) $(json /expiresAt) $(json /revokedAt)" "created token"
tnd_assert_eq admin "$(json /createdBy)" "createdBy"
tnd_assert_eq "/v1/tokens/$ci_id" "$(tnd_header Location)" "Location"
tnd_assert_eq no-store "$(tnd_header Cache-Control)" "the secret is not cached"
tnd_assert_not_contains "$TND_BODY" '"hash"' "no hash in the create answer"
hash=$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)

tnd_step "it authenticates at once, with its role"
tnd_curl_as "$TND_TMP/ci.token" GET /v1/tenants
tnd_assert_eq 200 "$TND_HTTP_STATUS" "viewer token reads"
tnd_curl_as "$TND_TMP/ci.token" POST /v1/tenants/acme-corp/suspend
tnd_assert_problem 403 forbidden "viewer token may not suspend"
tnd_curl_as "$TND_TMP/ci.token" POST /v1/tokens --data-binary '{"name":"x","role":"admin"}'
tnd_assert_problem 403 forbidden "viewer token may not create tokens"

tnd_step "list: never the secret or its hash"
tnd_curl GET /v1/tokens
tnd_assert_eq 200 "$TND_HTTP_STATUS" "list"
tnd_assert_eq "$ci_id	ci	viewer	active" "$(json -e /items /id /name /role /state)" "listed"
tnd_assert_not_contains "$TND_BODY" "$secret" "list shows no secret"
tnd_assert_not_contains "$TND_BODY" "$hash" "list shows no hash"
tnd_assert_not_contains "$TND_BODY" '"token"' "list has no token member"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" GET /v1/tokens
tnd_assert_problem 403 forbidden "a viewer may not list tokens"

tnd_step "tenant-scoped tokens read their own tenant only"
make_token acme '{"name":"acme-reader","role":"tenant","tenant":"acme-corp"}'
tnd_assert_eq "tenant acme-corp" "$(json /role) $(json /tenant)" "tenant token"
tnd_curl_as "$TND_TMP/acme.token" GET /v1/tenants/acme-corp
tnd_assert_eq 200 "$TND_HTTP_STATUS" "own tenant"
tnd_curl_as "$TND_TMP/acme.token" GET /v1/tenants/globex
tnd_assert_problem 404 not-found "another tenant is not found"
tnd_curl_as "$TND_TMP/acme.token" GET /v1/tenants
tnd_assert_eq acme-corp "$(json -e /items /metadata/id)" "the list shows only its own tenant"

tnd_step "validation and conflicts"
for body in '{"role":"viewer"}' '{"name":"a b","role":"viewer"}' '{"name":"x","role":"root"}' \
	'{"name":"x","role":"tenant"}' '{"name":"x","role":"viewer","tenant":"acme-corp"}' \
	'{"name":"x","role":"viewer","ttlSeconds":0}' '{"name":"x","role":"viewer","ttlSeconds":"60"}'; do
	tnd_curl POST /v1/tokens --data-binary "$body"
	tnd_assert_problem 422 validation-failed "token body $body"
done
tnd_curl POST /v1/tokens --data-binary 'not json'
tnd_assert_problem 400 malformed-document "not JSON"
# a name the tokens file or a live registry token has
tnd_curl POST /v1/tokens --data-binary '{"name":"admin","role":"viewer"}'
tnd_assert_problem 409 conflict "name of a tokens-file token"
tnd_curl POST /v1/tokens --data-binary '{"name":"ci","role":"viewer"}'
tnd_assert_problem 409 conflict "name of a live token"

tnd_step "revoke: 401 on the very next request"
tnd_curl DELETE "/v1/tokens/$ci_id"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "revoke"
tnd_assert_eq "revoked admin" "$(json /state) $(json /revokedBy)" "revoked token"
tnd_curl_as "$TND_TMP/ci.token" GET /v1/tenants
tnd_assert_problem 401 unauthorized "revoked token"
tnd_curl DELETE "/v1/tokens/$ci_id"
tnd_assert_problem 409 conflict "revoked twice"
tnd_curl DELETE /v1/tokens/tok-0000000000000-00000000
tnd_assert_problem 404 not-found "unknown token"
tnd_curl GET /v1/tokens
tnd_assert_not_contains "$TND_BODY" "$ci_id" "revoked tokens are not listed by default"
tnd_curl GET '/v1/tokens?all=true'
tnd_assert_contains "$(json -e /items /id /state)" "$ci_id	revoked" "listed with ?all=true"
# its name is free again
make_token ci2 '{"name":"ci","role":"auditor"}'
tnd_curl_as "$TND_TMP/ci2.token" GET /v1/overrides
tnd_assert_eq 200 "$TND_HTTP_STATUS" "the new auditor token reads overrides"

tnd_step "expiry: the token fails on its own"
make_token short '{"name":"short","role":"viewer","ttlSeconds":1}'
short_id=$TOKEN_ID
tnd_assert_match "$(json /expiresAt)" '^20[0-9-]+T' "expiresAt set"
tnd_curl_as "$TND_TMP/short.token" GET /v1/plans
tnd_assert_eq 200 "$TND_HTTP_STATUS" "before expiry"
sleep 1.2
tnd_curl_as "$TND_TMP/short.token" GET /v1/plans
tnd_assert_problem 401 unauthorized "after expiry"
tnd_curl GET '/v1/tokens?all=true'
tnd_assert_contains "$(json -e /items /id /state)" "$short_id	expired" "listed as expired"

tnd_step "secrets are never logged"
tnd_assert_not_contains "$(cat "$TND_DAEMON_LOG")" "$secret" "the daemon log holds no secret"
tnd_assert_not_contains "$(cat "$TND_DAEMON_LOG")" "$hash" "the daemon log holds no hash"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "token.create allowed by admin" "creation logged"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "token.revoke allowed by admin (admin) on $ci_id" "revocation logged"

tnd_step "restart: tokens and revocations survive, the index is reloaded"
tnd_daemon_stop
tnd_daemon_restart
tnd_curl_as "$TND_TMP/acme.token" GET /v1/tenants/acme-corp
tnd_assert_eq 200 "$TND_HTTP_STATUS" "tenant token after restart"
tnd_curl_as "$TND_TMP/ci.token" GET /v1/tenants
tnd_assert_problem 401 unauthorized "revoked token after restart"
tnd_curl_as "$TND_TMP/short.token" GET /v1/plans
tnd_assert_problem 401 unauthorized "expired token after restart"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" GET /v1/tenants
tnd_assert_eq 200 "$TND_HTTP_STATUS" "tokens-file viewer still works"

tnd_step "tenancyctl tokens create|list|revoke"
export TENANCYD_URL=$TND_URL
export TENANCYD_TOKEN_FILE=$TND_ADMIN_TOKEN_FILE
unset TENANCYD_TOKEN
tnd_run "$top_builddir/tenancyctl" tokens create --name from-cli --role tenant --tenant globex --ttl 3600
tnd_assert_rc 0 "tokens create"
tnd_assert_match "$TND_OUT" '^tnd_[A-Za-z0-9_-]{43}$' "stdout is the secret alone"
tnd_assert_contains "$TND_ERR" "shown only this once" "the warning on stderr"
(umask 077 && printf '%s\n' "$TND_OUT" >"$TND_TMP/cli.token")
cli_id=$(printf '%s' "$TND_ERR" | sed -n 's|^token/\(tok-[^ ]*\) created.*|\1|p')
tnd_curl_as "$TND_TMP/cli.token" GET /v1/tenants/globex
tnd_assert_eq 200 "$TND_HTTP_STATUS" "the CLI's token works"
tnd_run "$top_builddir/tenancyctl" tokens list
tnd_assert_rc 0 "tokens list"
tnd_assert_match "$TND_OUT" "^$cli_id +from-cli +tenant +globex +active " "list row"
tnd_assert_not_contains "$TND_OUT" "$(cat "$TND_TMP/cli.token")" "list shows no secret"
tnd_run "$top_builddir/tenancyctl" tokens revoke "$cli_id"
tnd_assert_rc 0 "tokens revoke"
tnd_assert_eq "token/$cli_id revoked" "$TND_OUT" "revoke output"
tnd_curl_as "$TND_TMP/cli.token" GET /v1/tenants/globex
tnd_assert_problem 401 unauthorized "revoked through the CLI"
tnd_run "$top_builddir/tenancyctl" tokens create --name x
tnd_assert_rc 2 "create without --role"
tnd_run "$top_builddir/tenancyctl" tokens revoke
tnd_assert_rc 2 "revoke without an id"
tnd_run "$top_builddir/tenancyctl" tokens frobnicate
tnd_assert_rc 2 "unknown subcommand"
tnd_run "$top_builddir/tenancyctl" --token-file "$TND_VIEWER_TOKEN_FILE" tokens create --name y --role admin
tnd_assert_rc 1 "a viewer may not create tokens"
tnd_assert_contains "$TND_ERR" "403" "403 shown"

tnd_daemon_stop
tnd_pass
