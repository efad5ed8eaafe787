#!/bin/bash
# test_api_errors.sh — the management API's contract (docs/api.md) against
# the real daemon: every error row of the problem table (status,
# application/problem+json, type URN, errors[].path), If-Match,
# Idempotency-Key (also under 8 concurrent requests), X-Request-Id into the
# lineage, ETag/If-None-Match/HEAD, no-op re-apply, lifecycle sugar and
# DELETE, search filters and cursor paging over 250 tenants, a
# tenant-scoped token, the body limit after SIGHUP, the workflow and
# credentials routes, and the system routes.
#
# tenancyd --dev reconciles asynchronously (docs/reconcile.md): a write
# answers with the phase it found and a Reconciling condition naming the
# workflow; the phase follows when the workflow is done.  The tests check
# the immediate answer where it is the contract, and wait for the engine
# (tnd_wait_settled) before they look at a phase.
# shellcheck disable=SC2016,SC2119 # awk programs in single quotes; lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_require_cmd curl sha256sum
tnd_setup
tnd_daemon_start

# --- helpers -----------------------------------------------------------------

# manifest ID [SPEC-MEMBERS [METADATA-MEMBERS]] — a JSON manifest; the extra
# members are JSON text spliced into spec / metadata.  The plan is business
# unless SPEC-MEMBERS names one.
manifest() {
	local spec='"plan":"business"'${2:+,$2}
	case ${2:-} in *'"plan"'*) spec=$2 ;; esac
	printf '{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"%s"%s},"spec":{%s}}' \
		"$1" "${3:+,$3}" "$spec"
}

# put ID STATUS BODY [curl options...] — PUT a JSON manifest as admin; the
# answer must have that status.
put() {
	local id=$1 status=$2 body=$3
	shift 3
	tnd_curl PUT "/v1/tenants/$id" -H 'Content-Type: application/json' --data-binary "$body" "$@"
	[ "$TND_HTTP_STATUS" = "$status" ] || printf 'body: %s\n' "$TND_BODY" >&2
	tnd_assert_eq "$status" "$TND_HTTP_STATUS" "PUT $id"
}

# post ID ACTION [curl options...]
post() {
	local id=$1 action=$2
	shift 2
	tnd_curl POST "/v1/tenants/$id/$action" "$@"
}

json() {
	printf '%s' "$TND_BODY" | tnd_json "$@"
}

# version_of ID — metadata.version of tenant ID (via GET; called as $(...) it
# leaves the caller's TND_BODY alone).
version_of() {
	tnd_curl GET "/v1/tenants/$1"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET $1"
	json /metadata/version
}

# lineage_length ID — how many versions /versions lists.
lineage_length() {
	tnd_curl GET "/v1/tenants/$1/versions?limit=1000"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET $1/versions"
	json -l /items
}

# errors_paths — the errors[].path of the last problem, sorted, one a line.
error_paths() {
	json -e /errors /path | LC_ALL=C sort
}

# sorted_allow — the Allow header of the last response as a sorted list.
sorted_allow() {
	tnd_header Allow | tr -d ' ' | tr ',' '\n' | LC_ALL=C sort | tr '\n' ' '
}

uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'

tnd_step "fixtures: a write answers at once, the engine settles the tenant after"
put acme 201 "$(manifest acme '' '"labels":{"tier":"gold"}')" -H 'X-Request-Id: itest-rid-create-acme'
# born Draft, nothing observed yet, and the workflow that will activate it
tnd_assert_eq "Draft active 1 0" \
	"$(json /status/phase) $(json /spec/state) $(json /metadata/version) $(json /status/observedVersion)" \
	"the 201 of an active tenant"
tnd_assert_eq "1 Reconciling True activate" \
	"$(json -l /status/conditions) $(json /status/conditions/0/type) $(json /status/conditions/0/status) $(json /status/conditions/0/reason)" \
	"the 201 carries a Reconciling condition"
acme_wf=$(json /status/conditions/0/workflow)
tnd_assert_match "$acme_wf" '^wf-[0-9]{13}-[0-9a-f]{8}$' "the condition names its workflow"
tnd_curl GET "/v1/workflows/$acme_wf"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET the workflow of the condition"
tnd_assert_eq "acme activate 1 active itest-rid-create-acme" \
	"$(json /tenantId) $(json /kind) $(json /targetVersion) $(json /targetState) $(json /requestId)" \
	"the workflow realizes version 1 for the request"
tnd_wait_settled acme
tnd_assert_eq "Active 1 0" "$(json /status/phase) $(json /status/observedVersion) $(json -l /status/conditions)" \
	"acme once settled: Active, observed, no conditions"
tnd_curl GET "/v1/workflows/$acme_wf"
tnd_assert_eq "Succeeded 1" "$(json /state) $(json /step)" "the workflow is done"
tnd_curl GET /v1/tenants/acme/transitions
# created by the caller; activated by the engine, under the caller's request id
tnd_assert_eq "null	Draft	1	admin	itest-rid-create-acme	created
Draft	Active	1	tenancyd	itest-rid-create-acme	activate" \
	"$(json -e /items /from /to /version /actor /requestId /reason)" "acme's transitions"
put drafty 201 "$(manifest drafty '"state":"draft"')"
# a draft owns no resources: settled at once, no workflow
tnd_assert_eq "Draft 1 1 0" \
	"$(json /status/phase) $(json /metadata/version) $(json /status/observedVersion) $(json -l /status/conditions)" \
	"the 201 of a draft tenant is settled"
tnd_curl GET /v1/workflows?tenant=drafty
tnd_assert_eq 0 "$(json -l /items)" "a draft needs no workflow"

# --- 401 ---------------------------------------------------------------------------

tnd_step "401 without a token, with a bad token"
tnd_curl_as - GET /v1/tenants
tnd_assert_problem 401 unauthorized "GET /v1/tenants without a token"
tnd_assert_match "$(tnd_header WWW-Authenticate)" '^Bearer( |$)' "WWW-Authenticate without a token"
printf 'tnd_not-a-token-this-server-ever-issued\n' >"$TND_TMP/bad.token"
tnd_curl_as "$TND_TMP/bad.token" GET /v1/tenants/acme
tnd_assert_problem 401 unauthorized "GET with a bad token"
tnd_assert_match "$(tnd_header WWW-Authenticate)" '^Bearer( |$)' "WWW-Authenticate with a bad token"
tnd_curl_as - PUT /v1/tenants/acme -H 'Content-Type: application/json' --data-binary "$(manifest acme)"
tnd_assert_problem 401 unauthorized "PUT without a token"
tnd_curl_as - GET /v1/tenants -H 'Authorization: Basic YWRtaW46YWRtaW4='
tnd_assert_problem 401 unauthorized "Basic instead of Bearer"
tnd_curl_as - GET /metrics
tnd_assert_problem 401 unauthorized "/metrics without a token"

# --- 403 ---------------------------------------------------------------------------

tnd_step "403 for a viewer's writes"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" PUT /v1/tenants/acme -H 'Content-Type: application/json' \
	--data-binary "$(manifest acme '' '"labels":{"tier":"silver"}')"
tnd_assert_problem 403 forbidden "viewer PUT"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" POST /v1/tenants/acme/suspend
tnd_assert_problem 403 forbidden "viewer POST suspend"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" DELETE /v1/tenants/drafty
tnd_assert_problem 403 forbidden "viewer DELETE"
tnd_curl GET /v1/tenants/acme
tnd_assert_eq "1 Active" "$(json /metadata/version) $(json /status/phase)" "acme untouched by the viewer"
tnd_curl GET /v1/tenants/drafty
tnd_assert_eq "1 Draft" "$(json /metadata/version) $(json /status/phase)" "drafty untouched by the viewer"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" GET /v1/tenants/acme
tnd_assert_eq 200 "$TND_HTTP_STATUS" "viewer may read"

# --- 404 ---------------------------------------------------------------------------

tnd_step "404 for unknown routes, tenants and versions"
tnd_curl GET /v1/nothing-here
tnd_assert_problem 404 not-found "unknown route"
tnd_curl GET /v2/tenants
tnd_assert_problem 404 not-found "unknown API version"
tnd_curl GET /v1/tenants/acme/versions/1/extra
tnd_assert_problem 404 not-found "path below a version"
tnd_curl GET /v1/tenants/no-such-tenant
tnd_assert_problem 404 not-found "unknown tenant"
tnd_curl GET /v1/tenants/no-such-tenant/versions
tnd_assert_problem 404 not-found "versions of an unknown tenant"
tnd_curl GET /v1/tenants/no-such-tenant/transitions
tnd_assert_problem 404 not-found "transitions of an unknown tenant"
tnd_curl GET /v1/tenants/acme/versions/2
tnd_assert_problem 404 not-found "unknown version"
tnd_curl GET /v1/tenants/acme/versions/0
tnd_assert_problem 404 not-found "version 0"
tnd_curl GET /v1/tenants/acme/versions/one
tnd_assert_problem 404 not-found "version not a number"
post no-such-tenant suspend
tnd_assert_problem 404 not-found "suspend of an unknown tenant"
tnd_curl DELETE /v1/tenants/no-such-tenant
tnd_assert_problem 404 not-found "DELETE of an unknown tenant"

# --- 405 ---------------------------------------------------------------------------

tnd_step "405 with Allow"
tnd_curl POST /v1/tenants/x
tnd_assert_problem 405 method-not-allowed "POST /v1/tenants/x"
tnd_assert_eq "DELETE GET HEAD PUT " "$(sorted_allow)" "Allow of /v1/tenants/{id}"
tnd_curl PATCH /v1/tenants/x -H 'Content-Type: application/json' --data-binary '{}'
tnd_assert_problem 405 method-not-allowed "PATCH /v1/tenants/x"
tnd_assert_eq "DELETE GET HEAD PUT " "$(sorted_allow)" "Allow after PATCH"
tnd_curl DELETE /v1/plans
tnd_assert_problem 405 method-not-allowed "DELETE /v1/plans"
tnd_assert_eq "GET HEAD " "$(sorted_allow)" "Allow of /v1/plans"
tnd_curl GET /v1/tenants/acme/suspend
tnd_assert_problem 405 method-not-allowed "GET of a lifecycle action"
tnd_assert_eq "POST " "$(sorted_allow)" "Allow of /suspend"
tnd_curl_as - DELETE /v1/tenants
tnd_assert_problem 405 method-not-allowed "405 comes before authentication"
tnd_assert_eq "GET HEAD " "$(sorted_allow)" "Allow of /v1/tenants"

# --- 400 ---------------------------------------------------------------------------

tnd_step "400 for malformed documents"
# bad_doc WHAT CONTENT-TYPE FILE REASON-FRAGMENT — PUT FILE to /v1/tenants/bad-doc
bad_doc() {
	tnd_curl PUT /v1/tenants/bad-doc -H "Content-Type: $2" --data-binary "@$3"
	tnd_assert_problem 400 malformed-document "$1"
	tnd_assert_contains "$(json -e /errors /reason)" "$4" "$1: errors[].reason"
}
printf '{"apiVersion":"tenancy/v1","kind":"Tenant",' >"$TND_TMP/truncated.json"
bad_doc "truncated JSON" application/json "$TND_TMP/truncated.json" "line 1"
printf 'apiVersion: tenancy/v1\nkind: [Tenant\nmetadata: {id: bad-doc}\n' >"$TND_TMP/broken.yaml"
bad_doc "malformed YAML" application/yaml "$TND_TMP/broken.yaml" "line "
manifest bad-doc | sed 's/"kind":"Tenant"/"kind":"Tenant","kind":"Tenant"/' >"$TND_TMP/dup.json"
bad_doc "duplicate JSON key" application/json "$TND_TMP/dup.json" "duplicate"
printf 'apiVersion: tenancy/v1\nkind: Tenant\nmetadata: {id: bad-doc}\nspec: {plan: free}\nkind: Tenant\n' >"$TND_TMP/dup.yaml"
bad_doc "duplicate YAML key" application/yaml "$TND_TMP/dup.yaml" "duplicate key 'kind'"
{
	printf '{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"bad-doc","labels":'
	for _ in $(seq 100); do printf '{"a":'; done
	printf '1'
	for _ in $(seq 100); do printf '}'; done
	printf '},"spec":{"plan":"free"}}'
} >"$TND_TMP/deep.json"
bad_doc "100-deep JSON" application/json "$TND_TMP/deep.json" "deeper than"
{
	printf 'apiVersion: tenancy/v1\nkind: Tenant\nmetadata: {id: bad-doc}\nspec:\n'
	for i in $(seq 100); do printf '%*sk%d:\n' "$((i * 2))" '' "$i"; done
	printf '%*sleaf: 1\n' 202 ''
} >"$TND_TMP/deep.yaml"
bad_doc "100-deep YAML" application/yaml "$TND_TMP/deep.yaml" "deeper than"
printf '{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"bad-doc","displayName":"Caf\xe9 \xff"},"spec":{"plan":"free"}}' \
	>"$TND_TMP/badutf8.json"
[ "$(grep -c $'\xff' "$TND_TMP/badutf8.json")" = 1 ] || tnd_hard_error "could not write raw bytes"
bad_doc "invalid UTF-8 (JSON)" application/json "$TND_TMP/badutf8.json" "invalid UTF-8"
printf 'apiVersion: tenancy/v1\nkind: Tenant\nmetadata: {id: bad-doc, displayName: "\xc3\x28"}\nspec: {plan: free}\n' \
	>"$TND_TMP/badutf8.yaml"
bad_doc "invalid UTF-8 (YAML)" application/yaml "$TND_TMP/badutf8.yaml" "line 3: invalid UTF-8"
printf 'apiVersion: tenancy/v1\nkind: Tenant\nmetadata:\n  id: bad-doc\n  labels: &l {a: b}\nspec: {plan: free}\nx: *l\n' \
	>"$TND_TMP/alias.yaml"
bad_doc "YAML alias" application/yaml "$TND_TMP/alias.yaml" "aliases are not supported"
printf 'apiVersion: tenancy/v1\nkind: !!python/object Tenant\nmetadata: {id: bad-doc}\nspec: {plan: free}\n' \
	>"$TND_TMP/tag.yaml"
bad_doc "YAML custom tag" application/yaml "$TND_TMP/tag.yaml" "is not supported"
printf 'apiVersion: tenancy/v1\nkind: Tenant\nmetadata: {id: bad-doc}\nspec: {plan: free}\n---\napiVersion: tenancy/v1\n' \
	>"$TND_TMP/two.yaml"
tnd_curl PUT /v1/tenants/bad-doc -H 'Content-Type: application/yaml' --data-binary "@$TND_TMP/two.yaml"
tnd_assert_problem 400 malformed-document "two YAML documents in one PUT"
: >"$TND_TMP/empty"
bad_doc "empty body" application/json "$TND_TMP/empty" ""
tnd_curl GET /v1/tenants/bad-doc
tnd_assert_problem 404 not-found "no malformed document created a tenant"

tnd_step "400 for bad query parameters"
for query in limit=0 limit=1001 limit=ten limit=-1 limit= cursor=%21%21%21 cursor=Rm9vX0Jhcg state=bogus phase=gone \
	label=novalue "label=a%3Db%20c" "label=k=v&label=k=v&label=k=v&label=k=v&label=k=v&label=k=v&label=k=v&label=k=v&label=k=v"; do
	tnd_curl GET "/v1/tenants?$query"
	tnd_assert_problem 400 bad-request "GET /v1/tenants?$query"
done
for query in after=-1 after=x limit=0; do
	tnd_curl GET "/v1/tenants/acme/versions?$query"
	tnd_assert_problem 400 bad-request "GET versions?$query"
	tnd_curl GET "/v1/tenants/acme/transitions?$query"
	tnd_assert_problem 400 bad-request "GET transitions?$query"
done
tnd_curl PUT /v1/tenants/acme -H 'Content-Type: application/json' --data-binary "$(manifest acme)" \
	-H "Idempotency-Key: $(printf 'k%.0s' $(seq 256))"
tnd_assert_problem 400 bad-request "Idempotency-Key of 256 characters"

# --- 415 ---------------------------------------------------------------------------

tnd_step "415 for other content types"
tnd_curl PUT /v1/tenants/media -H 'Content-Type: text/plain' --data-binary "$(manifest media)"
tnd_assert_problem 415 unsupported-media-type "text/plain"
tnd_curl PUT /v1/tenants/media -H 'Content-Type:' --data-binary "$(manifest media)"
tnd_assert_problem 415 unsupported-media-type "no Content-Type"
tnd_curl PUT /v1/tenants/media -H 'Content-Type: application/jsonx' --data-binary "$(manifest media)"
tnd_assert_problem 415 unsupported-media-type "application/jsonx"
tnd_curl PUT /v1/tenants/media -H 'Content-Type: Application/JSON; charset=utf-8' --data-binary "$(manifest media)"
tnd_assert_eq 201 "$TND_HTTP_STATUS" "Application/JSON with parameters is JSON"
printf 'apiVersion: tenancy/v1\nkind: Tenant\nmetadata: {id: media-yaml}\nspec: {plan: free}\n' >"$TND_TMP/media.yaml"
for type in application/yaml application/x-yaml text/yaml; do
	tnd_curl PUT /v1/tenants/media-yaml -H "Content-Type: $type" --data-binary "@$TND_TMP/media.yaml"
	case $type in
	application/yaml) tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT as $type" ;;
	*) tnd_assert_eq 200 "$TND_HTTP_STATUS" "PUT as $type" ;;
	esac
done

# --- 422 ---------------------------------------------------------------------------

tnd_step "422 lists every problem of a manifest"
cat >"$TND_TMP/invalid.json" <<'EOF'
{"apiVersion": "tenancy/v1", "kind": "Tenant",
 "metadata": {"id": "Not_An_Id", "nickname": "x", "labels": {"tier": "has space"}},
 "spec": {"plan": "platinum", "isolation": 7, "state": "deleted",
          "placement": {"residency": "eu", "allowedRegions": ["eu-west-1", "mars-1"]},
          "quotas": {"computeUnits": "four"}},
 "status": {"phase": "Active"}}
EOF
tnd_curl PUT /v1/tenants/not-an-id -H 'Content-Type: application/json' --data-binary "@$TND_TMP/invalid.json"
tnd_assert_problem 422 validation-failed "invalid manifest"
tnd_assert_eq "metadata.id
metadata.labels.tier
metadata.nickname
spec.isolation
spec.placement.allowedRegions[1]
spec.plan
spec.quotas.computeUnits
spec.state
status" "$(error_paths)" "errors[].path of the invalid manifest"
tnd_assert_eq 9 "$(json -l /errors)" "number of errors"
tnd_assert_contains "$(json /detail)" "9 problem" "detail counts the problems"
tnd_assert_contains "$(json -e /errors /path /reason | grep '^metadata.nickname')" "unknown field" "unknown field reason"
tnd_assert_contains "$(json -e /errors /path /reason | grep '^spec.plan')" "platinum" "unknown plan reason"
tnd_assert_contains "$(json -e /errors /path /reason | grep '^spec.placement')" "mars-1" "unknown region reason"
tnd_assert_contains "$(json -e /errors /path /reason | grep '^status')" "server-owned" "status reason"

put not-the-same 422 "$(manifest other-id)"
tnd_assert_problem 422 validation-failed "metadata.id differs from the URL"
tnd_assert_eq "metadata.id" "$(error_paths)" "path of the id mismatch"
tnd_curl GET /v1/tenants/other-id
tnd_assert_problem 404 not-found "the mismatching manifest created nothing"
tnd_curl PUT /v1/tenants/no-kind -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"tenancy/v2","metadata":{"id":"no-kind"},"spec":{}}'
tnd_assert_problem 422 validation-failed "wrong apiVersion, no kind, no plan"
tnd_assert_eq "apiVersion
kind
spec.plan" "$(error_paths)" "paths of missing and wrong top-level fields"
tnd_curl PUT /v1/tenants/bad-place -H 'Content-Type: application/json' \
	--data-binary "$(manifest bad-place '"placement":{"residency":"us","allowedRegions":["eu-west-1"]}')"
tnd_assert_eq 422 "$TND_HTTP_STATUS" "allowedRegions outside the residency"
tnd_curl GET /v1/tenants/bad-place
tnd_assert_problem 404 not-found "an unplaceable manifest created nothing"

# --- 409 ---------------------------------------------------------------------------

tnd_step "409 for illegal transitions"
post drafty suspend
tnd_assert_problem 409 invalid-transition "suspend a Draft tenant"
tnd_assert_contains "$(json /detail)" "Draft" "409 names the current phase"
tnd_assert_contains "$(json /detail)" "Suspended" "409 names the requested phase"
put drafty 409 "$(manifest drafty '"state":"archived"')"
tnd_assert_problem 409 invalid-transition "apply state archived to a Draft tenant"
tnd_assert_contains "$(json /detail)" "from Draft to Archived" "409 of an apply names both phases"
tnd_curl DELETE /v1/tenants/acme
tnd_assert_problem 409 invalid-transition "DELETE an Active tenant"
tnd_assert_contains "$(json /detail)" "from Active to Deleted" "409 of DELETE names both phases"
tnd_assert_eq 1 "$(version_of drafty)" "failed transitions made no version"

tnd_step "409 for a deleted tenant (ids are never reused)"
put doomed 201 "$(manifest doomed '"state":"draft"')"
tnd_curl DELETE /v1/tenants/doomed
tnd_assert_eq 200 "$TND_HTTP_STATUS" "DELETE a Draft tenant"
tnd_assert_eq Deleted "$(json /status/phase)" "DELETE answers with the tombstone"
put doomed 409 "$(manifest doomed)"
tnd_assert_problem 409 tenant-deleted "PUT onto a deleted tenant"
tnd_assert_contains "$(json /detail)" "never reused" "tenant-deleted detail"
put doomed 409 "$(manifest doomed '"state":"draft"')"
tnd_assert_problem 409 tenant-deleted "PUT of the same draft manifest onto a deleted tenant"
tnd_curl DELETE /v1/tenants/doomed
tnd_assert_problem 409 tenant-deleted "DELETE a deleted tenant"
post doomed resume
tnd_assert_problem 409 tenant-deleted "resume a deleted tenant"

tnd_step "409 for isolation, residency and region changes (migrations)"
put acme 409 "$(manifest acme '"isolation":"dedicated"' '"labels":{"tier":"gold"}')"
tnd_assert_problem 409 migration-required "isolation change"
tnd_assert_contains "$(json /detail)" "dedicated" "migration detail names the target isolation"
put acme 409 "$(manifest acme '"placement":{"residency":"us"}' '"labels":{"tier":"gold"}')"
tnd_assert_problem 409 migration-required "residency change"
put acme 409 "$(manifest acme '"placement":{"residency":"eu","allowedRegions":["eu-central-1"]}' '"labels":{"tier":"gold"}')"
tnd_assert_problem 409 migration-required "allowedRegions excluding the placed region"
tnd_assert_contains "$(json /detail)" "eu-west-1" "the detail names the placed region"
tnd_assert_eq 1 "$(version_of acme)" "refused migrations made no version"

# --- 412 ---------------------------------------------------------------------------

tnd_step "412 If-Match"
put acme 412 "$(manifest acme '' '"labels":{"tier":"platinum"}')" -H 'If-Match: "7"'
tnd_assert_problem 412 precondition-failed "PUT with a stale If-Match"
post acme suspend -H 'If-Match: "7"'
tnd_assert_problem 412 precondition-failed "POST suspend with a stale If-Match"
put doomed2 201 "$(manifest doomed2 '"state":"draft"')"
tnd_curl DELETE /v1/tenants/doomed2 -H 'If-Match: "2"'
tnd_assert_problem 412 precondition-failed "DELETE with a stale If-Match"
tnd_curl DELETE /v1/tenants/doomed2 -H 'If-Match: W/"1"'
tnd_assert_problem 412 precondition-failed "a weak ETag never matches"
put ghost 412 "$(manifest ghost)" -H 'If-Match: "1"'
tnd_assert_problem 412 precondition-failed "If-Match on a tenant that does not exist"
put ghost 412 "$(manifest ghost)" -H 'If-Match: *'
tnd_assert_problem 412 precondition-failed "If-Match: * on a tenant that does not exist"
tnd_curl GET /v1/tenants/ghost
tnd_assert_problem 404 not-found "412 created nothing"
tnd_assert_eq 1 "$(version_of acme)" "412s made no version"
put acme 200 "$(manifest acme '' '"labels":{"tier":"platinum"}')" -H 'If-Match: "5", "1"'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "If-Match list containing the current ETag"
tnd_assert_eq 2 "$(json /metadata/version)" "version after a conditional PUT"
tnd_assert_eq '"2"' "$(tnd_header ETag)" "ETag of the conditional PUT"
tnd_curl DELETE /v1/tenants/doomed2 -H 'If-Match: *'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "DELETE with If-Match: *"

# --- Idempotency-Key --------------------------------------------------------------

tnd_step "Idempotency-Key: same key and body replay the first response"
body=$(manifest idem '' '"labels":{"run":"one"}')
put idem 201 "$body" -H 'Idempotency-Key: idem-create-1'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "first keyed PUT"
first_body=$TND_BODY first_etag=$(tnd_header ETag) first_location=$(tnd_header Location)
put idem 201 "$body" -H 'Idempotency-Key: idem-create-1'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "replayed status"
tnd_assert_eq "$first_body" "$TND_BODY" "replayed body"
tnd_assert_eq "$first_etag" "$(tnd_header ETag)" "replayed ETag"
tnd_assert_eq "$first_location" "$(tnd_header Location)" "replayed Location"
tnd_assert_eq 1 "$(lineage_length idem)" "versions after a replay"
body2=$(manifest idem '' '"labels":{"run":"two"}')
put idem 422 "$body2" -H 'Idempotency-Key: idem-create-1'
tnd_assert_problem 422 idempotency-key-reused "same key, other body"
post idem suspend -H 'Idempotency-Key: idem-create-1'
tnd_assert_problem 422 idempotency-key-reused "same key, other method and path"
tnd_assert_eq 1 "$(lineage_length idem)" "versions after the refused reuse"
tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" PUT /v1/tenants/idem -H 'Content-Type: application/json' \
	--data-binary "$body2" -H 'Idempotency-Key: idem-create-1'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "the same key under another token is another key"
tnd_assert_eq 2 "$(json /metadata/version)" "the operator's keyed PUT made version 2"

tnd_step "Idempotency-Key: error responses are not stored"
body3=$(manifest idem '' '"labels":{"run":"three"}')
put idem 412 "$body3" -H 'Idempotency-Key: idem-412' -H 'If-Match: "1"'
tnd_assert_problem 412 precondition-failed "keyed PUT with a stale If-Match"
put idem 200 "$body3" -H 'Idempotency-Key: idem-412' -H 'If-Match: "2"'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "the same key after an error applies"
tnd_assert_eq 3 "$(json /metadata/version)" "version of the retried keyed PUT"

tnd_step "Idempotency-Key: lifecycle actions replay too"
post idem suspend -H 'Idempotency-Key: idem-suspend'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "keyed suspend"
tnd_assert_eq 4 "$(json /metadata/version)" "keyed suspend version"
post idem resume
tnd_assert_eq 5 "$(json /metadata/version)" "resume"
post idem suspend -H 'Idempotency-Key: idem-suspend'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "replayed keyed suspend"
tnd_assert_eq "4 suspended" "$(json /metadata/version) $(json /spec/state)" "a replay answers what the first request got"
tnd_wait_settled idem
tnd_assert_eq "5 active Active" "$(json /metadata/version) $(json /spec/state) $(json /status/phase)" \
	"a replay changes nothing"
tnd_assert_eq 5 "$(lineage_length idem)" "versions after the replayed suspend"

tnd_step "Idempotency-Key: 8 concurrent requests with one key"
(umask 077 && printf 'Authorization: Bearer %s\n' "$(head -n 1 "$TND_ADMIN_TOKEN_FILE")" >"$TND_TMP/admin.auth")
body=$(manifest idem '' '"labels":{"run":"concurrent"}')
pids=()
for i in 1 2 3 4 5 6 7 8; do
	curl -sS -o "$TND_TMP/conc.$i.body" -D "$TND_TMP/conc.$i.headers" -w '%{http_code}' -X PUT \
		-H "@$TND_TMP/admin.auth" -H 'Content-Type: application/json' -H 'Idempotency-Key: idem-concurrent' \
		--data-binary "$body" "$TND_URL/v1/tenants/idem" >"$TND_TMP/conc.$i.status" &
	pids+=($!)
done
# not a bare `wait`: that would wait for the daemon too
wait "${pids[@]}"
for i in 1 2 3 4 5 6 7 8; do
	tnd_assert_eq 200 "$(cat "$TND_TMP/conc.$i.status")" "status of concurrent request $i"
	tnd_assert_eq "$(cat "$TND_TMP/conc.1.body")" "$(cat "$TND_TMP/conc.$i.body")" "body of concurrent request $i"
	tnd_assert_eq '"6"' "$(tr -d '\r' <"$TND_TMP/conc.$i.headers" | sed -n 's/^[Ee][Tt][Aa][Gg]: *//p')" \
		"ETag of concurrent request $i"
done
tnd_assert_eq 6 "$(lineage_length idem)" "exactly one version from 8 concurrent keyed requests"
pids=()
for i in 1 2 3 4 5 6 7 8; do
	curl -sS -o "$TND_TMP/conc.$i.body" -w '%{http_code}' -X PUT \
		-H "@$TND_TMP/admin.auth" -H 'Content-Type: application/json' -H 'Idempotency-Key: idem-concurrent-create' \
		--data-binary "$(manifest idem-conc)" "$TND_URL/v1/tenants/idem-conc" >"$TND_TMP/conc.$i.status" &
	pids+=($!)
done
wait "${pids[@]}"
for i in 1 2 3 4 5 6 7 8; do
	tnd_assert_eq 201 "$(cat "$TND_TMP/conc.$i.status")" "status of concurrent create $i"
	tnd_assert_eq "$(cat "$TND_TMP/conc.1.body")" "$(cat "$TND_TMP/conc.$i.body")" "body of concurrent create $i"
done
tnd_assert_eq 1 "$(lineage_length idem-conc)" "one version from 8 concurrent keyed creates"

# --- X-Request-Id -------------------------------------------------------------------

tnd_step "X-Request-Id: echoed, generated, carried into the lineage"
tnd_curl GET /v1/tenants/acme -H 'X-Request-Id: itest.rid:echo-1_A'
tnd_assert_eq 'itest.rid:echo-1_A' "$(tnd_header X-Request-Id)" "a valid request id is echoed"
tnd_curl GET /v1/tenants/acme
tnd_assert_match "$(tnd_header X-Request-Id)" "$uuid_re" "a generated request id is a UUID"
generated=$(tnd_header X-Request-Id)
tnd_curl GET /v1/tenants/acme
[ "$(tnd_header X-Request-Id)" != "$generated" ] || tnd_fail "two requests got the same generated id"
for bad in 'has space' 'semi;colon' "$(printf 'r%.0s' $(seq 129))" 'slash/y'; do
	tnd_curl GET /v1/tenants/acme -H "X-Request-Id: $bad"
	tnd_assert_match "$(tnd_header X-Request-Id)" "$uuid_re" "request id '$bad' is replaced by a UUID"
done
tnd_curl GET /v1/tenants/acme -H "X-Request-Id: $(printf 'r%.0s' $(seq 128))"
tnd_assert_eq "$(printf 'r%.0s' $(seq 128))" "$(tnd_header X-Request-Id)" "128 characters are echoed"
tnd_curl GET /v1/nothing -H 'X-Request-Id: itest-rid-404'
tnd_assert_problem 404 not-found "404 with a request id"
tnd_assert_eq itest-rid-404 "$(json /requestId)" "problem carries the request id"
put acme 200 "$(manifest acme '' '"labels":{"tier":"rid"}')" -H 'X-Request-Id: itest-rid-apply-3'
tnd_assert_eq 3 "$(json /metadata/version)" "acme version 3"
post acme suspend -H 'X-Request-Id: itest-rid-suspend-4'
tnd_curl GET /v1/tenants/acme/versions/3
tnd_assert_eq itest-rid-apply-3 "$(json /requestId)" "requestId of version 3"
tnd_assert_eq admin "$(json /actor)" "actor of version 3"
tnd_curl GET /v1/tenants/acme/versions
tnd_assert_eq itest-rid-suspend-4 "$(json /items/3/requestId)" "requestId of version 4 in the list"
# the engine records the phase change when the suspend workflow is done, as
# actor tenancyd, under the request id of the request that asked for it
tnd_wait_settled acme
tnd_curl GET /v1/tenants/acme/transitions
tnd_assert_eq "Active	Suspended	4	tenancyd	itest-rid-suspend-4	suspend" \
	"$(json -e /items /from /to /version /actor /requestId /reason | tail -n 1)" "the transition carries the request id"
tnd_assert_eq "null	Draft	1	admin	itest-rid-create-acme	created" \
	"$(json -e /items /from /to /version /actor /requestId /reason | head -n 1)" \
	"the creation carries the caller's request id"
post acme resume

# --- ETag, If-None-Match, HEAD --------------------------------------------------------

tnd_step "ETag, If-None-Match and HEAD"
tnd_curl GET /v1/tenants/acme
version=$(json /metadata/version)
tnd_assert_eq "\"$version\"" "$(tnd_header ETag)" "ETag is the version"
tnd_assert_eq application/json "$(tnd_header Content-Type)" "Content-Type of a tenant"
tnd_curl GET /v1/tenants/acme -H "If-None-Match: \"$version\""
tnd_assert_eq 304 "$TND_HTTP_STATUS" "If-None-Match with the current ETag"
tnd_assert_eq "" "$TND_BODY" "304 has no body"
tnd_assert_eq "\"$version\"" "$(tnd_header ETag)" "304 carries the ETag"
tnd_assert_eq no-store "$(tnd_header Cache-Control)" "304 carries the Cache-Control a 200 would"
tnd_assert_match "$(tnd_header X-Request-Id)" '.' "304 carries X-Request-Id"
tnd_curl GET /v1/tenants/acme -H 'If-None-Match: *'
tnd_assert_eq 304 "$TND_HTTP_STATUS" "If-None-Match: *"
tnd_curl GET /v1/tenants/acme -H "If-None-Match: \"$((version - 1))\""
tnd_assert_eq 200 "$TND_HTTP_STATUS" "If-None-Match with an old ETag"
get_body=$TND_BODY
tnd_curl HEAD /v1/tenants/acme --head
tnd_assert_eq 200 "$TND_HTTP_STATUS" "HEAD of a tenant"
tnd_assert_eq "\"$version\"" "$(tnd_header ETag)" "HEAD ETag"
tnd_assert_eq "${#get_body}" "$(tnd_header Content-Length)" "HEAD Content-Length is the GET body's"
for path in /v1/tenants /v1/plans /v1/regions /v1/tenants/acme/versions /healthz; do
	tnd_curl HEAD "$path" --head
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "HEAD $path"
done
tnd_curl HEAD /v1/tenants/no-such-tenant --head
tnd_assert_eq 404 "$TND_HTTP_STATUS" "HEAD of an unknown tenant"

# --- no-op re-apply ----------------------------------------------------------------------

tnd_step "re-applying the same manifest (JSON, reordered JSON, YAML) is a no-op"
put calm 201 "$(manifest calm '"placement":{"residency":"eu","allowedRegions":["eu-west-1","eu-central-1"]}' \
	'"displayName":"Calm Co","labels":{"tier":"gold","team":"core"}')"
put calm 200 "$(manifest calm '"placement":{"residency":"eu","allowedRegions":["eu-west-1","eu-central-1"]}' \
	'"displayName":"Calm Co","labels":{"tier":"gold","team":"core"}')"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "identical re-apply"
tnd_assert_eq 1 "$(json /metadata/version)" "identical re-apply keeps version 1"
put calm 200 '{"spec":{"placement":{"allowedRegions":["eu-west-1","eu-central-1"],"residency":"eu"},"plan":"business"},
 "metadata":{"labels":{"team":"core","tier":"gold"},"displayName":"Calm Co","id":"calm"},"kind":"Tenant","apiVersion":"tenancy/v1"}'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "reordered re-apply"
tnd_assert_eq 1 "$(json /metadata/version)" "reordered re-apply keeps version 1"
cat >"$TND_TMP/calm.yaml" <<'EOF'
# the same tenant, as YAML
apiVersion: tenancy/v1
kind: Tenant
metadata:
  id: calm
  displayName: Calm Co
  labels:
    team: core
    tier: gold
spec:
  plan: business
  placement:
    residency: eu
    allowedRegions: [eu-west-1, eu-central-1]
EOF
tnd_curl PUT /v1/tenants/calm -H 'Content-Type: application/yaml' --data-binary "@$TND_TMP/calm.yaml"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "YAML re-apply"
tnd_assert_eq 1 "$(json /metadata/version)" "YAML re-apply keeps version 1"
put calm 200 "$(manifest calm '"isolation":"shared","state":"active","placement":{"residency":"eu","allowedRegions":["eu-west-1","eu-central-1"]}' \
	'"displayName":"Calm Co","labels":{"tier":"gold","team":"core"}')"
tnd_assert_eq 1 "$(json /metadata/version)" "spelling out the defaults keeps version 1"
tnd_assert_eq 1 "$(lineage_length calm)" "calm has one version"
sed 's/Calm Co/Calm Company/' "$TND_TMP/calm.yaml" >"$TND_TMP/calm2.yaml"
tnd_curl PUT /v1/tenants/calm -H 'Content-Type: application/yaml' --data-binary "@$TND_TMP/calm2.yaml"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "a real change"
tnd_assert_eq 2 "$(json /metadata/version)" "a real change makes version 2"
tnd_assert_eq "Calm Company" "$(json /metadata/displayName)" "the change is applied"

# --- lifecycle -------------------------------------------------------------------------

tnd_step "lifecycle sugar, DELETE and /transitions"
# immediate WHAT — the answer of the last write: the phase it found, the
# new desired state and version, and the Reconciling condition's reason
immediate() {
	tnd_assert_eq "$1" "$(json /status/phase) $(json /spec/state) $(json /metadata/version) $(json /status/conditions/0/type) $(json /status/conditions/0/reason)" \
		"$2"
}
put cycle 201 "$(manifest cycle '"state":"draft"')"
tnd_assert_eq "Draft 1" "$(json /status/phase) $(json /status/observedVersion)" "born Draft, and settled"
put cycle 200 "$(manifest cycle '"state":"active"')" -H 'X-Request-Id: cycle-activate'
immediate "Draft active 2 Reconciling activate" "the answer to an activating apply"
tnd_wait_settled cycle
tnd_assert_eq "Active 2" "$(json /status/phase) $(json /status/observedVersion)" "activated by apply"
post cycle suspend -H 'X-Request-Id: cycle-suspend'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "suspend"
immediate "Active suspended 3 Reconciling suspend" "the answer to suspend"
tnd_wait_settled cycle
tnd_assert_eq "Suspended suspended 3" "$(json /status/phase) $(json /spec/state) $(json /metadata/version)" "after suspend"
post cycle suspend
tnd_assert_eq 200 "$TND_HTTP_STATUS" "suspend again"
tnd_assert_eq "3 Suspended 0" "$(json /metadata/version) $(json /status/phase) $(json -l /status/conditions)" \
	"suspending a Suspended tenant makes no version and no workflow"
post cycle resume -H 'X-Request-Id: cycle-resume'
immediate "Suspended active 4 Reconciling resume" "the answer to resume"
tnd_wait_settled cycle
tnd_assert_eq "Active active 4" "$(json /status/phase) $(json /spec/state) $(json /metadata/version)" "after resume"
post cycle archive -H 'X-Request-Id: cycle-archive'
immediate "Active archived 5 Reconciling archive" "the answer to archive"
tnd_wait_settled cycle
tnd_assert_eq "Archived archived 5" "$(json /status/phase) $(json /spec/state) $(json /metadata/version)" "after archive"
post cycle resume
tnd_assert_problem 409 invalid-transition "resume an Archived tenant"
tnd_assert_contains "$(json /detail)" "Archived" "resume 409 names the phase"
post cycle suspend
tnd_assert_problem 409 invalid-transition "suspend an Archived tenant"
tnd_curl DELETE /v1/tenants/cycle -H 'X-Request-Id: cycle-delete'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "DELETE an Archived tenant"
# its resources are destroyed by a workflow: the phase follows
immediate "Archived deleted 6 Reconciling delete" "the answer to DELETE"
tnd_wait_settled cycle
tnd_assert_eq "Deleted 6" "$(json /status/phase) $(json /metadata/version)" "after DELETE"
tnd_curl GET /v1/tenants/cycle
tnd_assert_eq "200 Deleted" "$TND_HTTP_STATUS $(json /status/phase)" "the tombstone is still readable"
tnd_curl GET /v1/tenants/cycle/versions/4
tnd_assert_eq "active cycle-resume" "$(json /manifest/spec/state) $(json /requestId)" "version 4 of the lineage"
tnd_curl GET /v1/tenants/cycle/versions/3
tnd_assert_eq "suspended business shared" \
	"$(json /manifest/spec/state) $(json /manifest/spec/plan) $(json /manifest/spec/isolation)" \
	"a lifecycle version changes only spec.state"
tnd_curl GET /v1/tenants/cycle/transitions
# each phase change after the creation is recorded by the engine (actor
# tenancyd, the workflow's kind as reason) with the request id of the write
tnd_assert_eq "null	Draft	1	admin	created
Draft	Active	2	tenancyd	activate	cycle-activate
Active	Suspended	3	tenancyd	suspend	cycle-suspend
Suspended	Active	4	tenancyd	resume	cycle-resume
Active	Archived	5	tenancyd	archive	cycle-archive
Archived	Deleted	6	tenancyd	delete	cycle-delete" \
	"$(json -e /items /from /to /version /actor /reason /requestId | sed '1s/\t[^\t]*$//')" "transitions of cycle"
tnd_assert_eq null "$(json /next)" "one page of transitions"
tnd_assert_eq "$(json -e /items /seq | LC_ALL=C sort -n)" "$(json -e /items /seq)" "transition seqs increase"
tnd_curl GET /v1/tenants/cycle/transitions?limit=2
tnd_assert_eq 2 "$(json -l /items)" "a page of 2 transitions"
next=$(json /next)
tnd_curl GET "/v1/tenants/cycle/transitions?limit=2&after=$next"
tnd_assert_eq "Active Suspended" "$(json /items/0/from) $(json /items/0/to)" "the second page of transitions"
tnd_curl GET "/v1/tenants/cycle/versions?limit=4"
tnd_assert_eq "1 2 3 4 " "$(json -e /items /version | tr '\n' ' ')" "a page of versions"
tnd_curl GET "/v1/tenants/cycle/versions?after=$(json /next)"
tnd_assert_eq "5 6 " "$(json -e /items /version | tr '\n' ' ')" "the next page of versions"
tnd_curl GET /v1/tenants
tnd_assert_not_contains "$(json -e /items /metadata/id)" cycle "a deleted tenant is not listed"
tnd_curl GET '/v1/tenants?state=Deleted'
tnd_assert_eq "cycle doomed doomed2 " "$(json -e /items /metadata/id | tr '\n' ' ')" "state=Deleted lists tombstones"

# --- search and paging -----------------------------------------------------------------

tnd_step "create 250 tenants for search"
# s-NNN: plan by NNN%3, isolation dedicated for every 5th business, region
# us-east-1 for every 7th, labels color (NNN%4) and size (NNN%5), draft for
# every 10th.
plans=(free business enterprise)
colors=(red green blue gray)
sizes=(xs s m l xl)
: >"$TND_TMP/search.expect"
for n in $(seq 0 249); do
	id=$(printf 's-%03d' "$n")
	plan=${plans[n % 3]}
	spec="\"plan\":\"$plan\""
	isolation=shared
	[ "$plan" = enterprise ] && isolation=dedicated
	if [ "$plan" = business ] && [ $((n % 5)) = 0 ]; then
		isolation=dedicated
		spec="$spec,\"isolation\":\"dedicated\""
	fi
	region=eu-west-1
	if [ $((n % 7)) = 0 ] && [ "$plan" != free ]; then
		region=us-east-1
		spec="$spec,\"placement\":{\"residency\":\"us\",\"allowedRegions\":[\"us-east-1\"]}"
	fi
	state=Active
	if [ $((n % 10)) = 0 ]; then
		state=Draft
		spec="$spec,\"state\":\"draft\""
	fi
	labels="\"labels\":{\"batch\":\"search\",\"color\":\"${colors[n % 4]}\",\"size\":\"${sizes[n % 5]}\"}"
	put "$id" 201 "$(manifest "$id" "$spec" "$labels")"
	printf '%s %s %s %s %s %s %s\n' "$id" "$state" "$plan" "$isolation" "$region" "${colors[n % 4]}" \
		"${sizes[n % 5]}" >>"$TND_TMP/search.expect"
done
# the search is by phase: wait until the engine has activated them all
tnd_wait_all_settled label=batch=search 120
tnd_assert_eq 250 "$TND_SETTLED_COUNT" "settled search tenants"
tnd_curl GET /v1/tenants/s-014
tnd_assert_eq "enterprise dedicated us-east-1" \
	"$(json /spec/plan) $(json /status/placement/isolation) $(json /status/placement/region)" "placement of s-014"

# search QUERY — all ids of label batch=search matching QUERY (one page of 1000).
search() {
	tnd_curl GET "/v1/tenants?label=batch=search&limit=1000${1:+&$1}"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "search $1"
	tnd_assert_eq null "$(json /nextCursor)" "search $1 fits one page"
	json -e /items /metadata/id
}
# expect AWK-CONDITION — the ids of search.expect matching it ($2 state ... $7 size).
expect() {
	awk "$1 { print \$1 }" "$TND_TMP/search.expect"
}

tnd_step "search filters"
tnd_assert_eq "$(expect '$2 != "Deleted"')" "$(search '')" "label batch=search"
tnd_assert_eq 250 "$(search '' | wc -l)" "number of search tenants"
tnd_assert_eq "$(expect '$2 == "Draft"')" "$(search state=draft)" "state=draft"
tnd_assert_eq "$(expect '$2 == "Active"')" "$(search state=ACTIVE)" "state=ACTIVE (any case)"
tnd_assert_eq "$(expect '$2 == "Active"')" "$(search phase=active)" "phase=active"
tnd_assert_eq "" "$(search state=suspended)" "state=suspended"
tnd_assert_eq "$(expect '$4 == "dedicated"')" "$(search isolation=dedicated)" "isolation=dedicated"
tnd_assert_eq "$(expect '$5 == "us-east-1"')" "$(search region=us-east-1)" "region=us-east-1"
tnd_assert_eq "$(expect '$3 == "enterprise"')" "$(search plan=enterprise)" "plan=enterprise"
tnd_assert_eq "$(expect '$6 == "red" && $7 == "m"')" "$(search 'label=color=red&label=size=m')" "two labels"
tnd_assert_eq "$(expect '$3 == "business" && $4 == "dedicated" && $2 == "Draft" && $6 == "gray"')" \
	"$(search 'plan=business&isolation=dedicated&state=draft&label=color=gray')" "four filters together"
tnd_assert_eq "" "$(search 'label=color=purple')" "a label value nobody has"
tnd_assert_eq "" "$(search 'plan=no-such-plan')" "an unknown plan finds nothing"

tnd_step "cursor paging: 250 tenants in pages of 100"
: >"$TND_TMP/paged"
cursor='' pages=0
while :; do
	tnd_curl GET "/v1/tenants?label=batch=search&limit=100${cursor:+&cursor=$cursor}"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "page $pages"
	json -e /items /metadata/id >>"$TND_TMP/paged"
	pages=$((pages + 1))
	cursor=$(json /nextCursor)
	if [ "$pages" = 1 ]; then
		# tenants created meanwhile, before and after the cursor, must not
		# make a page repeat or skip an older tenant
		put s-000-late 201 "$(manifest s-000-late '' '"labels":{"batch":"search"}')"
		put s-999-late 201 "$(manifest s-999-late '' '"labels":{"batch":"search"}')"
	fi
	[ "$cursor" != null ] || break
	[ "$pages" -lt 10 ] || tnd_fail "more than 10 pages"
done
tnd_assert_eq 3 "$pages" "pages for 251 tenants after the first page"
tnd_assert_eq "$( (awk '{ print $1 }' "$TND_TMP/search.expect"; echo s-999-late) | tr '\n' ' ')" \
	"$(tr '\n' ' ' <"$TND_TMP/paged")" "every tenant exactly once, in id order, across the pages"
tnd_curl GET "/v1/tenants?label=batch=search&limit=251"
tnd_assert_eq 251 "$(json -l /items)" "limit=251"
tnd_assert_eq "s-000 s-000-late s-001" "$(json -e /items /metadata/id | head -n 3 | tr '\n' ' ' | sed 's/ $//')" \
	"a tenant created before the cursor shows up in a fresh listing"
tnd_assert_eq s-249 "$(json /items/250/metadata/id)" "the last item of a page of 251"
tnd_assert_match "$(json /nextCursor)" '^[A-Za-z0-9_-]+$' "a full page has a cursor"
tnd_curl GET "/v1/tenants?label=batch=search&limit=251&cursor=$(json /nextCursor)"
tnd_assert_eq "s-999-late" "$(json -e /items /metadata/id)" "the page after it"
tnd_assert_eq null "$(json /nextCursor)" "the last page has no cursor"

# --- the body limit -----------------------------------------------------------------------

tnd_step "413 over the body limit"
# over the default 1 MiB: a manifest padded with a YAML comment
{
	printf 'apiVersion: tenancy/v1\nkind: Tenant\nmetadata: {id: big}\nspec: {plan: free}\n'
	head -c 1200000 /dev/zero | tr '\0' '#'
	printf '\n'
} >"$TND_TMP/big.yaml"
tnd_curl PUT /v1/tenants/big -H 'Content-Type: application/yaml' --data-binary "@$TND_TMP/big.yaml"
tnd_assert_problem 413 payload-too-large "1.2 MB body"
tnd_curl PUT /v1/tenants/big -H 'Content-Type: application/yaml' -H 'Transfer-Encoding: chunked' \
	--data-binary "@$TND_TMP/big.yaml"
tnd_assert_problem 413 payload-too-large "1.2 MB chunked body (no Content-Length)"
sed -i 's/^api: {$/api: {\n  max_body_bytes = 2048;/' "$TND_STATE/tenancyd.conf"
grep -q 'max_body_bytes = 2048;' "$TND_STATE/tenancyd.conf" || tnd_hard_error "could not edit the config"
tnd_daemon_reload || tnd_fail "the daemon rejected api.max_body_bytes = 2048"
{
	printf 'apiVersion: tenancy/v1\nkind: Tenant\nmetadata: {id: medium}\nspec: {plan: free}\n# '
	head -c 2100 /dev/zero | tr '\0' 'x'
	printf '\n'
} >"$TND_TMP/medium.yaml"
tnd_curl PUT /v1/tenants/medium -H 'Content-Type: application/yaml' --data-binary "@$TND_TMP/medium.yaml"
tnd_assert_problem 413 payload-too-large "2.2 kB body over a limit of 2048"
tnd_assert_contains "$(json /detail)" 2048 "413 names the limit"
tnd_curl PUT /v1/tenants/medium -H 'Content-Type: application/yaml' -H 'Transfer-Encoding: chunked' \
	--data-binary "@$TND_TMP/medium.yaml"
tnd_assert_problem 413 payload-too-large "2.2 kB chunked body over a limit of 2048"
head -c 1900 "$TND_TMP/medium.yaml" >"$TND_TMP/small.yaml"
printf '\n' >>"$TND_TMP/small.yaml"
tnd_curl PUT /v1/tenants/medium -H 'Content-Type: application/yaml' --data-binary "@$TND_TMP/small.yaml"
tnd_assert_eq 201 "$TND_HTTP_STATUS" "1.9 kB body under the limit"
tnd_curl GET /v1/tenants/big
tnd_assert_problem 404 not-found "no oversized body created a tenant"
sed -i '/max_body_bytes = 2048;/d' "$TND_STATE/tenancyd.conf"
tnd_daemon_reload || tnd_fail "the daemon rejected the restored config"
sed 's/id: medium/id: medium2/' "$TND_TMP/medium.yaml" >"$TND_TMP/medium2.yaml"
tnd_curl PUT /v1/tenants/medium2 -H 'Content-Type: application/yaml' --data-binary "@$TND_TMP/medium2.yaml"
tnd_assert_eq 201 "$TND_HTTP_STATUS" "2.2 kB body after the limit is back to 1 MiB"

# --- a tenant-scoped token ---------------------------------------------------------------

tnd_step "a tenant-scoped token"
put zulu-tenant 201 "$(manifest zulu-tenant)"
tnd_wait_settled zulu-tenant # listed with ?state=active below
tenant_token=tnd_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
[ ${#tenant_token} = 47 ] || tnd_hard_error "generated token has ${#tenant_token} characters"
printf 'zulu-reader tenant sha256:%s zulu-tenant\n' "$(printf '%s' "$tenant_token" | sha256sum | cut -d' ' -f1)" \
	>>"$TND_STATE/tokens"
(umask 077 && printf '%s\n' "$tenant_token" >"$TND_TMP/tenant.token")
tnd_daemon_reload || tnd_fail "the daemon rejected the tokens file with a tenant token"
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/tenants/zulu-tenant
tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET of its own tenant"
tnd_assert_eq zulu-tenant "$(json /metadata/id)" "its own tenant"
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/tenants/zulu-tenant/versions
tnd_assert_eq 200 "$TND_HTTP_STATUS" "its own versions"
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/tenants/zulu-tenant/versions/1
tnd_assert_eq 200 "$TND_HTTP_STATUS" "its own version 1"
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/tenants/zulu-tenant/transitions
tnd_assert_eq 200 "$TND_HTTP_STATUS" "its own transitions"
for path in /v1/tenants/acme /v1/tenants/acme/versions /v1/tenants/acme/versions/1 /v1/tenants/acme/transitions \
	/v1/tenants/no-such-tenant; do
	tnd_curl_as "$TND_TMP/tenant.token" GET "$path"
	tnd_assert_problem 404 not-found "tenant token: GET $path"
done
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/tenants/acme
other_detail=$(json /detail | sed 's/acme/X/')
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/tenants/no-such-tenant
tnd_assert_eq "$(json /detail | sed 's/no-such-tenant/X/')" "$other_detail" "another tenant looks like no tenant"
for limit in "" "?limit=1" "?limit=7" "?state=active" "?label=batch=search"; do
	tnd_curl_as "$TND_TMP/tenant.token" GET "/v1/tenants$limit"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "tenant token: list$limit"
	case $limit in
	*batch*) tnd_assert_eq "" "$(json -e /items /metadata/id)" "tenant token: list$limit shows nothing" ;;
	*) tnd_assert_eq zulu-tenant "$(json -e /items /metadata/id)" "tenant token: list$limit shows only itself" ;;
	esac
	tnd_assert_eq null "$(json /nextCursor)" "tenant token: list$limit has no next page"
done
tnd_curl_as "$TND_TMP/tenant.token" PUT /v1/tenants/zulu-tenant -H 'Content-Type: application/json' \
	--data-binary "$(manifest zulu-tenant '' '"labels":{"hacked":"yes"}')"
tnd_assert_problem 403 forbidden "tenant token: PUT its own tenant"
tnd_curl_as "$TND_TMP/tenant.token" POST /v1/tenants/zulu-tenant/suspend
tnd_assert_problem 403 forbidden "tenant token: suspend its own tenant"
tnd_curl_as "$TND_TMP/tenant.token" DELETE /v1/tenants/zulu-tenant
tnd_assert_problem 403 forbidden "tenant token: DELETE its own tenant"
tnd_curl_as "$TND_TMP/tenant.token" GET /metrics
tnd_assert_problem 403 forbidden "tenant token: /metrics"
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/plans
tnd_assert_eq 200 "$TND_HTTP_STATUS" "tenant token: plans"
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/regions
tnd_assert_eq 200 "$TND_HTTP_STATUS" "tenant token: regions"
tnd_assert_eq 1 "$(version_of zulu-tenant)" "the tenant token changed nothing"

# --- workflows and credentials ------------------------------------------------------------

tnd_step "GET /v1/workflows: filters, paging, errors"
tnd_curl GET /v1/workflows?tenant=cycle
tnd_assert_eq 200 "$TND_HTTP_STATUS" "workflows of cycle"
# one per version that changed the data plane, oldest first; version 1 was a draft
tnd_assert_eq "activate	2	active	Succeeded
suspend	3	suspended	Succeeded
resume	4	active	Succeeded
archive	5	archived	Succeeded
delete	6	deleted	Succeeded" "$(json -e /items /kind /targetVersion /targetState /state)" "cycle's workflows"
tnd_assert_eq "cycle-activate cycle-suspend cycle-resume cycle-archive cycle-delete " \
	"$(json -e /items /requestId | tr '\n' ' ')" "each workflow carries the request id of its write"
tnd_assert_eq null "$(json /nextCursor)" "one page"
cycle_wfs=$(json -e /items /id)
: >"$TND_TMP/wf.paged"
cursor='' pages=0
while :; do
	tnd_curl GET "/v1/workflows?tenant=cycle&limit=2${cursor:+&cursor=$cursor}"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "workflows page $pages"
	json -e /items /id >>"$TND_TMP/wf.paged"
	pages=$((pages + 1))
	cursor=$(json /nextCursor)
	[ "$cursor" != null ] || break
	[ "$pages" -lt 10 ] || tnd_fail "more than 10 pages of workflows"
done
tnd_assert_eq 3 "$pages" "5 workflows in pages of 2"
tnd_assert_eq "$cycle_wfs" "$(cat "$TND_TMP/wf.paged")" "the pages hold every workflow once, in order"
tnd_curl GET "/v1/workflows?tenant=cycle&state=Succeeded&limit=1000"
tnd_assert_eq 5 "$(json -l /items)" "state=Succeeded"
tnd_curl GET "/v1/workflows?tenant=cycle&state=Failed"
tnd_assert_eq 0 "$(json -l /items)" "state=Failed"
for query in state=bogus state=failed limit=0 limit=1001 limit=x cursor=nope; do
	tnd_curl GET "/v1/workflows?$query"
	tnd_assert_problem 400 bad-request "GET /v1/workflows?$query"
done
tnd_curl GET /v1/workflows/wf-0000000000000-00000000
tnd_assert_problem 404 not-found "an unknown workflow"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" GET "/v1/workflows/$acme_wf"
tnd_assert_eq "200 acme" "$TND_HTTP_STATUS $(json /tenantId)" "a viewer may read workflows"

tnd_step "POST /v1/workflows/{id}/retry"
tnd_curl POST "/v1/workflows/$acme_wf/retry"
tnd_assert_problem 409 conflict "retry of a Succeeded workflow"
tnd_assert_contains "$(json /detail)" "only a Failed workflow can be retried" "the 409 says why"
tnd_curl_as "$TND_OPERATOR_TOKEN_FILE" POST "/v1/workflows/$acme_wf/retry"
tnd_assert_problem 409 conflict "an operator may retry, but not a Succeeded workflow"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" POST "/v1/workflows/$acme_wf/retry"
tnd_assert_problem 403 forbidden "a viewer may not retry"
tnd_curl POST /v1/workflows/wf-0000000000000-00000000/retry
tnd_assert_problem 404 not-found "retry of an unknown workflow"
tnd_curl GET "/v1/workflows/$acme_wf"
tnd_assert_eq "Succeeded 0" "$(json /state) $(json /attempts)" "refused retries changed nothing"

tnd_step "a tenant token sees its own workflows only"
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/workflows
tnd_assert_eq 200 "$TND_HTTP_STATUS" "tenant token: workflows"
tnd_assert_eq zulu-tenant "$(json -e /items /tenantId | sort -u)" "tenant token: only its own workflows"
tnd_curl_as "$TND_TMP/tenant.token" GET /v1/workflows?tenant=acme
tnd_assert_problem 404 not-found "tenant token: workflows of another tenant"
tnd_curl_as "$TND_TMP/tenant.token" GET "/v1/workflows/$acme_wf"
tnd_assert_problem 404 not-found "tenant token: a workflow of another tenant"

tnd_step "GET /v1/tenants/{id}/credentials is for admins"
tnd_curl GET /v1/tenants/acme/credentials
tnd_assert_eq 200 "$TND_HTTP_STATUS" "credentials as admin"
tnd_assert_eq "acme t_acme" "$(json /tenantId) $(json /username)" "tenant and username"
tnd_assert_match "$(json /password)" '^[A-Za-z0-9+/=_-]{20,}$' "a generated password"
tnd_assert_match "$(json /keyId)" '^[0-9a-f]+$' "the sealing key's id"
acme_password=$(json /password)
tnd_curl GET /v1/tenants/acme/credentials
tnd_assert_eq "$acme_password" "$(json /password)" "the password is stable"
tnd_curl GET /v1/tenants/zulu-tenant/credentials
[ "$(json /password)" != "$acme_password" ] || tnd_fail "two tenants got the same password"
for token in "$TND_OPERATOR_TOKEN_FILE" "$TND_VIEWER_TOKEN_FILE" "$TND_TMP/tenant.token"; do
	tnd_curl_as "$token" GET /v1/tenants/zulu-tenant/credentials
	tnd_assert_problem 403 forbidden "credentials with $(basename "$token")"
	tnd_assert_not_contains "$TND_BODY" password "a refusal shows no password"
done
tnd_curl GET /v1/tenants/drafty/credentials
tnd_assert_problem 404 not-found "a draft tenant has no credentials"
tnd_curl GET /v1/tenants/cycle/credentials
tnd_assert_problem 404 not-found "a deleted tenant's credentials are gone"
tnd_curl GET /v1/tenants/no-such-tenant/credentials
tnd_assert_problem 404 not-found "credentials of an unknown tenant"
tnd_assert_not_contains "$(cat "$TND_DAEMON_LOG")" "$acme_password" "the password in the daemon's log"

# --- system routes and the catalogue -------------------------------------------------------

tnd_step "healthz, readyz, metrics"
tnd_curl_as - GET /healthz
tnd_assert_eq 200 "$TND_HTTP_STATUS" "/healthz without a token"
tnd_assert_eq ok "$(json /status)" "/healthz body"
tnd_assert_eq application/json "$(tnd_header Content-Type)" "/healthz Content-Type"
tnd_curl_as - GET /readyz
tnd_assert_eq 200 "$TND_HTTP_STATUS" "/readyz without a token"
tnd_assert_eq ready "$(json /status)" "/readyz body"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" GET /metrics
tnd_assert_eq 200 "$TND_HTTP_STATUS" "/metrics as viewer"
tnd_assert_match "$(tnd_header Content-Type)" '^text/plain; version=0\.0\.4' "/metrics Content-Type"
tnd_assert_match "$TND_BODY" '^# TYPE tenancyd_http_requests_total counter$' "metrics TYPE line"
tnd_assert_match "$TND_BODY" '^tenancyd_http_requests_total\{method="PUT",code="201"\} [0-9]+' "PUT 201 counter"
tnd_assert_match "$TND_BODY" '^tenancyd_http_requests_total\{method="GET",code="404"\} [0-9]+' "GET 404 counter"
puts=$(printf '%s\n' "$TND_BODY" | sed -n 's/^tenancyd_http_requests_total{method="PUT",code="201"} //p')
[ "$puts" -ge 250 ] || tnd_fail "PUT 201 counter is $puts, expected at least 250"
tnd_assert_match "$TND_BODY" '^tenancyd_http_request_duration_seconds_bucket\{method="GET",le="\+Inf"\} [0-9]+' \
	"request duration histogram"

tnd_step "plans and regions"
tnd_curl GET /v1/plans
tnd_assert_eq 200 "$TND_HTTP_STATUS" "/v1/plans"
tnd_assert_eq "free business enterprise " "$(json -e /items /code | tr '\n' ' ')" "plan codes"
tnd_assert_eq '["shared","dedicated"]	shared	eu	4	16	Business, shared or dedicated' \
	"$(json -e /items /isolation /defaultIsolation /defaultResidency /quotas/computeUnits /maxQuotas/computeUnits \
		/description | sed -n 2p)" "the business plan"
tnd_assert_eq '1	1	60	1	2	5	120	1' "$(json -e /items /quotas/computeUnits /quotas/storageGb \
	/quotas/eventsPerMinute /quotas/concurrentOperations /maxQuotas/computeUnits /maxQuotas/storageGb \
	/maxQuotas/eventsPerMinute /maxQuotas/concurrentOperations | head -n 1)" "the free plan's quotas"
tnd_curl GET /v1/regions
tnd_assert_eq 200 "$TND_HTTP_STATUS" "/v1/regions"
tnd_assert_eq "eu-west-1	eu	true	eu-central-1
eu-central-1	eu	true	eu-west-1
us-east-1	us	true	us-west-2
us-west-2	us	true	us-east-1
ap-southeast-1	apac	true	null" "$(json -e /items /name /residency /enabled /standby)" "regions"
tnd_assert_not_contains "$TND_BODY" data_plane "regions hide data-plane settings"
tnd_assert_not_contains "$TND_BODY" dataPlane "regions hide data-plane settings"

tnd_step "the daemon stops cleanly"
tnd_daemon_stop
tnd_pass
