#!/bin/bash
# test_mass_assignment.sh — a client can never set what the server owns:
# every server-owned member of a tenant's GET document (status,
# metadata.version, metadata.createdAt, metadata.updatedAt, and others)
# is refused by PUT (422 naming it), alone or all together, in JSON and
# YAML, and nothing is stored; a token's id, hash, secret, state and
# times, and a break-glass grant's state, requester, role and decision
# are refused by their endpoints (422), and neither can be replaced with
# PUT (405).
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_require_cmd curl
tnd_setup
tnd_daemon_start

json() {
	printf '%s' "$TND_BODY" | tnd_json "$@"
}

MANIFEST='{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"acme-corp"},"spec":{"plan":"business"}}'

# put_expect STATUS BODY WHAT [content-type]
put_expect() {
	tnd_curl PUT /v1/tenants/acme-corp -H "Content-Type: ${4:-application/json}" --data-binary "$2"
	if [ "$1" = 422 ]; then
		tnd_assert_problem 422 validation-failed "$3"
	else
		tnd_assert_eq "$1" "$TND_HTTP_STATUS" "$3"
	fi
}

tnd_step "a tenant and its GET document"
put_expect 201 "$MANIFEST" "create"
tnd_wait_settled acme-corp
tnd_curl GET /v1/tenants/acme-corp
doc=$TND_BODY
tnd_assert_eq 1 "$(json /metadata/version)" "version"

tnd_step "the whole GET document sent back is refused, every server-owned member named"
put_expect 422 "$doc" "PUT of the GET document"
paths=$(json -e /errors /path | sort)
tnd_assert_eq "metadata.createdAt
metadata.updatedAt
metadata.version
status" "$paths" "the refused members"
tnd_assert_contains "$(json -e /errors /reason)" "server-owned field; remove it" "the reason says why"
X
printf '%s' "$doc" | tnd_json -l "" >"$TND_TMP/n"
tnd_assert_eq 5 "$(cat "$TND_TMP/n")" "members of the GET document"

tnd_step "each server-owned member alone"
m='{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"acme-corp"%s},"spec":{"plan":"business"%s}%s}'
for case in \
	'status|||,"status":{"phase":"Deleted"}' \
	'status|||,"status":{"observedVersion":99}' \
	'metadata.version||,"version":99|' \
	'metadata.createdAt||,"createdAt":"2000-01-01T00:00:00Z"|' \
	'metadata.updatedAt||,"updatedAt":"2000-01-01T00:00:00Z"|' \
	'metadata.uid||,"uid":"x"|' \
	'version|||,"version":99' \
	'createdAt|||,"createdAt":"2000-01-01T00:00:00Z"' \
	'phase|||,"phase":"Active"' \
	'lineage|||,"lineage":[]' \
	'spec.observedVersion|,"observedVersion":99||' \
	'spec.phase|,"phase":"Active"||' \
	'spec.status|,"status":{}||' \
	'spec.region|,"region":"us-east-1"||' \
	'spec.resources|,"resources":{}||'; do
	IFS='|' read -r path spec meta top <<<"$case"
	# shellcheck disable=SC2059 # the format is ours
	put_expect 422 "$(printf "$m" "$meta" "$spec" "$top")" "PUT with $path"
	tnd_assert_contains "$(json -e /errors /path)" "$path" "the error names $path"
done

tnd_step "the same in YAML"
put_expect 422 'apiVersion: tenancy/v1
kind: Tenant
metadata: {id: acme-corp, version: 42}
spec: {plan: business}
status: {phase: Deleted}' "YAML with server-owned members" application/yaml
tnd_assert_eq "metadata.version
status" "$(json -e /errors /path | sort)" "YAML: the refused members"

tnd_step "nothing was stored"
tnd_curl GET /v1/tenants/acme-corp
tnd_assert_eq "1 Active" "$(json /metadata/version) $(json /status/phase)" "version and phase unchanged"
tnd_assert_eq "$(printf '%s' "$doc" | tnd_json /metadata/createdAt)" "$(json /metadata/createdAt)" "createdAt unchanged"
tnd_curl GET /v1/tenants/acme-corp/versions
tnd_assert_eq 1 "$(json -l /items)" "one version in the lineage"
put_expect 200 "$MANIFEST" "the plain manifest is still unchanged"
tnd_assert_eq 1 "$(json /metadata/version)" "re-apply: version 1"

tnd_step "tokens: the client sets name, role, tenant and lifetime only"
tnd_curl GET '/v1/tokens?all=true'
before=$(json -l /items)
for member in '"id":"tok-1"' '"hash":"0000000000000000000000000000000000000000000000000000000000000000"' \
	'"token":"tnd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"' '"secret":"x"' '"state":"active"' \
	'"createdAt":"2000-01-01T00:00:00Z"' '"createdBy":"root"' '"expiresAt":"2099-01-01T00:00:00Z"' \
	'"revokedAt":null' '"revokedBy":"x"' '"subject":"file:admin"'; do
	tnd_curl POST /v1/tokens --data-binary "{\"name\":\"mass\",\"role\":\"viewer\",$member}"
	tnd_assert_problem 422 validation-failed "token with $member"
	tnd_assert_eq "${member%%\":*}\"" "\"$(json /errors/0/path)\"" "the error names ${member%%:*}"
done
tnd_curl GET '/v1/tokens?all=true'
tnd_assert_eq "$before" "$(json -l /items)" "no token was made"
tnd_curl POST /v1/tokens --data-binary '{"name":"mass","role":"viewer"}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "the same without server-owned members"
tok=$(json /id)
tnd_curl PUT "/v1/tokens/$tok" --data-binary '{"role":"admin"}'
tnd_assert_eq 405 "$TND_HTTP_STATUS" "a token cannot be replaced"
tnd_curl GET '/v1/tokens'
tnd_assert_contains "$(json -e /items /id /role)" "$tok	viewer" "its role is still viewer"

tnd_step "break-glass: the client sets reason and lifetime only"
for member in '"id":"bg-1"' '"state":"approved"' '"role":"operator"' '"requester":"admin"' \
	'"requesterToken":"file:admin"' '"decidedBy":"admin"' '"decidedAt":"2000-01-01T00:00:00Z"' \
	'"expiresAt":"2099-01-01T00:00:00Z"' '"requestedAt":"2000-01-01T00:00:00Z"'; do
	tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" POST /v1/breakglass --data-binary "{\"reason\":\"x\",$member}"
	tnd_assert_problem 422 validation-failed "break-glass request with $member"
done
tnd_curl GET /v1/breakglass
tnd_assert_eq 0 "$(json -l /items)" "no grant was made"
tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" POST /v1/breakglass --data-binary '{"reason":"x","ttlSeconds":60}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "a plain request"
grant=$(json /id)
for body in '{"ttlSeconds":86400}' '{"expiresAt":"2099-01-01T00:00:00Z"}' '{"state":"approved"}' '{"decidedBy":"x"}'; do
	tnd_curl POST "/v1/breakglass/$grant/approve" --data-binary "$body"
	tnd_assert_problem 422 validation-failed "approval with $body"
done
tnd_curl PUT "/v1/breakglass/$grant" --data-binary '{"state":"approved"}'
tnd_assert_eq 405 "$TND_HTTP_STATUS" "a grant cannot be replaced"
tnd_curl GET "/v1/breakglass/$grant"
tnd_assert_eq "pending 60" "$(json /state) $(json /ttlSeconds)" "the grant is untouched"

tnd_daemon_stop
tnd_pass
