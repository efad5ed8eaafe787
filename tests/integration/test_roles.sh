#!/bin/bash
# test_roles.sh — the role × route matrix: every route core/api_router.c
# knows, called with every kind of caller against the real daemon, and
# the status each must get.  One table, read top to bottom; a failing run
# prints every cell that differs, not just the first.
#
# Columns (callers):
#   admin, operator, viewer   the tokens file of tenancyd --dev
#   auditor                   a registry token made through POST /v1/tokens
#   tenant-own                a tenant-scoped token (registry) of acme-corp,
#                             asking about acme-corp
#   tenant-other              the same token asking about globex: 404, never
#                             403, so other tenants' ids do not leak
#   none                      no Authorization header: 401
#   raised                    an operator token (registry) holding an
#                             approved break-glass grant: the admin column,
#                             except that it creates no tokens and decides
#                             no grants (403), and it runs after the admin
#                             cell, so the token {K} is revoked already (409)
#
# Placeholders in PATH, resolved per column:
#   {T}  acme-corp (globex in the tenant-other column)
#   {W}  a workflow of {T}
#   {K}  a throw-away registry token (revoked by the admin cell)
#   {H}  a webhook subscription; {H2} another (deleted by the admin cell,
#        so the raised cell gets 404)
#   {D}  a delivery id that does not exist (no notifier runs here): an
#        allowed role gets 404, past the role gate
#   {G}  {G2}  pending break-glass requests of a token that is no column
#        (approved / denied by the admin cell, so no column is raised)
# BODY names a request body (see body_for); "-" sends none.
#
# Tenant writes use ?dryRun=true: every gate runs (authentication, role,
# tenant scope, policy, lifecycle), nothing is written, so each cell sees
# the same registry.  Where a write cannot succeed on purpose, an allowed
# role gets the next judge's status (409: retrying a workflow that has not
# failed), which still proves it passed the role gate.
# shellcheck disable=SC2016
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_require_cmd curl
tnd_setup
tnd_daemon_start

COLUMNS="admin operator auditor viewer tenant-own tenant-other none raised"

# Every route of core/api_router.c's api_routes[], in its order.
#
# METHOD PATH                                  BODY       admin oper  audit view  t-own t-oth none  raised
read -r -d '' MATRIX <<'TABLE'
GET    /healthz                                -          200   200   200   200   200   200   200   200
GET    /readyz                                 -          200   200   200   200   200   200   200   200
GET    /metrics                                -          200   200   200   200   403   403   401   200
GET    /v1/plans                               -          200   200   200   200   200   200   401   200
GET    /v1/regions                             -          200   200   200   200   200   200   401   200
GET    /v1/tenants                             -          200   200   200   200   200   200   401   200
GET    /v1/tenants/{T}                         -          200   200   200   200   200   404   401   200
PUT    /v1/tenants/{T}?dryRun=true             manifest   200   200   403   403   403   403   401   200
DELETE /v1/tenants/m-draft?dryRun=true         -          200   200   403   403   403   403   401   200
GET    /v1/tenants/{T}/versions                -          200   200   200   200   200   404   401   200
GET    /v1/tenants/{T}/versions/1              -          200   200   200   200   200   404   401   200
GET    /v1/tenants/{T}/transitions             -          200   200   200   200   200   404   401   200
GET    /v1/tenants/{T}/quotas                  -          200   200   200   200   200   404   401   200
POST   /v1/tenants/{T}/suspend?dryRun=true     -          200   200   403   403   403   403   401   200
POST   /v1/tenants/m-suspended/resume?dryRun=true -       200   200   403   403   403   403   401   200
POST   /v1/tenants/{T}/archive?dryRun=true     -          200   200   403   403   403   403   401   200
GET    /v1/tenants/{T}/credentials             -          200   403   403   403   403   403   401   200
GET    /v1/workflows?tenant={T}                -          200   200   200   200   200   404   401   200
GET    /v1/workflows/{W}                       -          200   200   200   200   200   404   401   200
POST   /v1/workflows/{W}/retry                 -          409   409   403   403   403   403   401   409
POST   /v1/overrides                           override   201   403   403   403   403   403   401   201
GET    /v1/overrides                           -          200   200   200   403   403   403   401   200
POST   /v1/tokens                              token      201   403   403   403   403   403   401   403
GET    /v1/tokens                              -          200   200   200   403   403   403   401   200
DELETE /v1/tokens/{K}                          -          200   403   403   403   403   403   401   409
POST   /v1/breakglass                          breakglass 201   201   403   403   403   403   401   201
GET    /v1/breakglass                          -          200   200   200   403   403   403   401   200
GET    /v1/breakglass/{G}                      -          200   200   200   403   403   403   401   200
POST   /v1/breakglass/{G}/approve              -          200   403   403   403   403   403   401   403
POST   /v1/breakglass/{G2}/deny                -          200   403   403   403   403   403   401   403
GET    /v1/events?tenant={T}                   -          200   200   200   200   200   404   401   200
POST   /v1/webhooks                            webhook    201   403   403   403   403   403   401   201
GET    /v1/webhooks                            -          200   200   200   403   403   403   401   200
GET    /v1/webhooks/{H}                        -          200   200   200   403   403   403   401   200
DELETE /v1/webhooks/{H2}                       -          200   403   403   403   403   403   401   404
GET    /v1/deliveries?status=dead              -          200   200   200   403   403   403   401   200
POST   /v1/deliveries/requeue                  requeue    200   200   403   403   403   403   401   200
POST   /v1/deliveries/{D}/requeue              -          404   404   403   403   403   403   401   404
GET    /v1/audit                               -          200   403   200   403   403   403   401   200
GET    /v1/audit/verify                        -          200   403   200   403   403   403   401   200
GET    /v1/audit/public-key                    -          200   403   200   403   403   403   401   200
TABLE
# Routes added later get their rows above, in router order.  The audit
# routes are the handlers' own check: auditor and admin only (DESIGN.md §5),
# so an operator, above auditor in the order, is refused there.

json() {
	printf '%s' "$TND_BODY" | tnd_json "$@"
}

manifest() {
	printf '{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"%s"},"spec":{"plan":"business"%s}}' "$1" "${2:-}"
}

put() {
	tnd_curl PUT "/v1/tenants/$1" -H 'Content-Type: application/json' --data-binary "$(manifest "$@")"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT $1"
}

# make_token FILE BODY — a registry token; the secret into FILE, the id into $TOKEN_ID.
make_token() {
	tnd_curl POST /v1/tokens --data-binary "$2"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "create token $2"
	(umask 077 && json /token >"$1")
	TOKEN_ID=$(json /id)
}

tnd_step "fixtures: tenants, workflows, tokens, grants"
put acme-corp
put globex
put m-suspended
put m-draft ',"state":"draft"'
tnd_wait_settled acme-corp
tnd_wait_settled globex
tnd_wait_settled m-draft
tnd_wait_phase m-suspended Active
tnd_curl POST /v1/tenants/m-suspended/suspend
tnd_assert_eq 200 "$TND_HTTP_STATUS" "suspend m-suspended"
tnd_wait_phase m-suspended Suspended
wf_of() {
	tnd_curl GET "/v1/workflows?tenant=$1"
	json -e /items /id | head -n 1
}
WF_OWN=$(wf_of acme-corp)
WF_OTHER=$(wf_of globex)
[ -n "$WF_OWN" ] && [ -n "$WF_OTHER" ] || tnd_fail "no workflows to address"
make_token "$TND_TMP/auditor.token" '{"name":"m-auditor","role":"auditor"}'
make_token "$TND_TMP/tenant.token" '{"name":"m-tenant","role":"tenant","tenant":"acme-corp"}'
make_token "$TND_TMP/doomed.token" '{"name":"m-doomed","role":"viewer"}'
DOOMED=$TOKEN_ID
make_token "$TND_TMP/requester.token" '{"name":"m-requester","role":"operator"}'
grant() {
	tnd_curl_as "$TND_TMP/requester.token" POST /v1/breakglass --data-binary '{"reason":"matrix","ttlSeconds":600}'
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "break-glass request"
	json /id
}
GRANT=$(grant)
GRANT2=$(grant)
hook() {
	tnd_curl POST /v1/webhooks --data-binary '{"url":"http://127.0.0.1:9/matrix"}'
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "create a webhook subscription"
	json /id
}
HOOK=$(hook)
HOOK2=$(hook)
make_token "$TND_TMP/raised.token" '{"name":"m-raised","role":"operator"}'
tnd_curl_as "$TND_TMP/raised.token" POST /v1/breakglass --data-binary '{"reason":"matrix","ttlSeconds":600}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "break-glass request of m-raised"
tnd_curl POST "/v1/breakglass/$(json /id)/approve"
tnd_assert_eq 200 "$TND_HTTP_STATUS" "approve m-raised's grant"

token_for() {
	case $1 in
	admin) echo "$TND_ADMIN_TOKEN_FILE" ;;
	operator) echo "$TND_OPERATOR_TOKEN_FILE" ;;
	auditor) echo "$TND_TMP/auditor.token" ;;
	viewer) echo "$TND_VIEWER_TOKEN_FILE" ;;
	tenant-own | tenant-other) echo "$TND_TMP/tenant.token" ;;
	none) echo - ;;
	raised) echo "$TND_TMP/raised.token" ;;
	esac
}

# resolve PATH COLUMN
resolve() {
	local path=$1 tenant=acme-corp wf=$WF_OWN
	if [ "$2" = tenant-other ]; then
		tenant=globex
		wf=$WF_OTHER
	fi
	path=${path//\{T\}/$tenant}
	path=${path//\{W\}/$wf}
	path=${path//\{K\}/$DOOMED}
	path=${path//\{H2\}/$HOOK2}
	path=${path//\{H\}/$HOOK}
	path=${path//\{D\}/dlv-00000000000000000001-none}
	path=${path//\{G2\}/$GRANT2}
	path=${path//\{G\}/$GRANT}
	printf '%s' "$path"
}

# body_for NAME PATH — the request body a BODY name stands for.
body_for() {
	case $1 in
	manifest)
		local id=${2#/v1/tenants/}
		manifest "${id%%[/?]*}" ;;
	override) printf '{"tenant":"acme-corp","read":100,"ttlSeconds":60,"reason":"matrix"}' ;;
	token) printf '{"name":"m-made","role":"viewer"}' ;;
	breakglass) printf '{"reason":"matrix","ttlSeconds":60}' ;;
	webhook) printf '{"url":"http://127.0.0.1:9/made"}' ;;
	requeue) printf '{"subscription":"whk-none"}' ;;
	esac
}

tnd_step "the matrix"
failures=
rows=0
cells=0
while read -r method path body expected_line; do
	[ -n "$method" ] || continue
	read -r -a expected <<<"$expected_line"
	[ "${#expected[@]}" = 8 ] || tnd_hard_error "matrix row '$method $path' has ${#expected[@]} statuses, not 8"
	rows=$((rows + 1))
	i=0
	for column in $COLUMNS; do
		resolved=$(resolve "$path" "$column")
		args=()
		if [ "$body" != - ]; then
			args=(-H 'Content-Type: application/json' --data-binary "$(body_for "$body" "$resolved")")
		fi
		tnd_curl_as "$(token_for "$column")" "$method" "$resolved" "${args[@]}"
		cells=$((cells + 1))
		if [ "$TND_HTTP_STATUS" != "${expected[$i]}" ]; then
			failures+="$(printf '%-6s %-45s %-12s expected %s, got %s: %.160s' "$method" "$resolved" "$column" \
				"${expected[$i]}" "$TND_HTTP_STATUS" "$TND_BODY")"$'\n'
		fi
		i=$((i + 1))
	done
done <<<"$MATRIX"
echo "$rows routes × 8 callers = $cells cells"
if [ -n "$failures" ]; then
	printf '%s' "$failures" >&2
	tnd_fail "$(printf '%s' "$failures" | wc -l) of $cells cells differ"
fi

tnd_step "every route of the router is in the matrix"
router_routes=$(sed -n 's/^[[:space:]]*{ "\([A-Z]*\)", "\([^"]*\)".*/\1 \2/p' "$top_srcdir/core/api_router.c" |
	sed 's/{[a-z]*}/X/g' | sort -u)
matrix_routes=$(printf '%s\n' "$MATRIX" | awk '{ p = $2; sub(/\?.*/, "", p); print $1, p }' |
	sed -e 's/{[A-Z0-9]*}/X/g' -e 's|/v1/tenants/m-[a-z]*|/v1/tenants/X|' -e 's|/versions/1|/versions/X|' | sort -u)
missing=$(comm -23 <(printf '%s\n' "$router_routes") <(printf '%s\n' "$matrix_routes"))
[ -z "$missing" ] || tnd_fail "routes without a matrix row:
$missing"

tnd_step "nothing the dry runs touched has changed"
tnd_curl GET /v1/tenants/m-draft
tnd_assert_eq "Draft 1" "$(json /status/phase) $(json /metadata/version)" "m-draft untouched"
tnd_curl GET /v1/tenants/acme-corp
tnd_assert_eq "Active 1" "$(json /status/phase) $(json /metadata/version)" "acme-corp untouched"
tnd_curl GET /v1/tenants/m-suspended
tnd_assert_eq Suspended "$(json /status/phase)" "m-suspended untouched"

tnd_daemon_stop
tnd_pass
