#!/bin/bash
# test_ratelimit.sh — API rate limits against the real daemon: a tenant
# hammered at ten times its plan's read limit gets 429s (problem+json,
# Retry-After, RateLimit and RateLimit-Policy) while a second tenant,
# requested at the same time at half its limit, gets none; writes have
# their own bucket; an unknown tenant gets the api defaults; a token
# hammering past the per-token limit is refused while another token is
# not; a SIGHUP changing a plan's limit takes effect on the next request;
# the rejections metric counts every 429 by scope; GET /v1/plans shows the
# limits in force; admin overrides raise a tenant's limit at once, expire by
# themselves, are listed, logged and survive a restart.
#
# Counts come from ratelimit_client.py (python3; the test is skipped
# without it) and are printed, so a run's log shows the measured numbers.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_require_cmd curl python3
tnd_setup
tnd_daemon_start

client=$top_srcdir/tests/integration/ratelimit_client.py
conf=$TND_STATE/tenancyd.conf

# load TOKEN_FILE PATH RATE SECONDS [THREADS [COUNT]] — run the client, print
# and return its summary line
load() {
	local token=$1 path=$2
	shift 2
	python3 "$client" "$TND_URL" "$token" "$path" "$@" || tnd_fail "ratelimit_client.py $path failed"
}

# field SUMMARY NAME — a number from a summary line
field() {
	printf '%s\n' "$1" | sed -n "s/.*\\b$2=\\([0-9]*\\).*/\\1/p"
}

rejections() {
	tnd_curl GET /metrics
	printf '%s\n' "$TND_BODY" | awk -v scope="$1" '
		$1 == "tenancyd_ratelimit_rejections_total{scope=\"" scope "\"}" { print $2; found = 1 }
		END { if (!found) print 0 }'
}

tnd_step "without api.rate_limits nothing is limited and no headers are sent"
tnd_curl GET /v1/plans
tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/plans"
tnd_assert_eq "" "$(tnd_header RateLimit-Policy)" "no RateLimit-Policy without limits"

tnd_step "two tenants on plans with different limits"
for spec in limited:free roomy:business; do
	id=${spec%:*} plan=${spec#*:}
	tnd_curl PUT "/v1/tenants/$id" -H 'Content-Type: application/json' --data-binary \
		"{\"apiVersion\":\"tenancy/v1\",\"kind\":\"Tenant\",\"metadata\":{\"id\":\"$id\"},\"spec\":{\"plan\":\"$plan\"}}"
	tnd_assert_eq 201 "$TND_HTTP_STATUS" "PUT $id"
done
cp "$conf" "$TND_TMP/conf.orig"
# api defaults: 10000 reads and 2 writes per 10 s per tenant (a long window,
# so that slow curls on a loaded machine see no refill); tokens unlimited for
# now.  free: 20 reads/s, business: 40 reads/s.
sed -i -e 's|^  tokens_file = \(.*\)$|  tokens_file = \1\n  rate_limits: { window = 10; read = 10000; write = 2; plan_cache_ttl = 1; };|' \
	-e 's|^\(  { code = "free";.*\)$|\1\n    rate_limits: { read = 20; window = 1; };|' \
	-e 's|^\(  { code = "business";.*\)$|\1\n    rate_limits: { read = 40; window = 1; };|' "$conf"
cmp -s "$conf" "$TND_TMP/conf.orig" && tnd_hard_error "the sed expressions changed nothing"
tnd_daemon_reload || tnd_fail "the daemon rejected the rate-limit config"

tnd_curl GET /v1/plans
tnd_assert_eq "free	1	20	2
business	1	40	2
enterprise	10	10000	2" "$(printf '%s' "$TND_BODY" | tnd_json -e /items /code /rateLimits/window /rateLimits/read /rateLimits/write)" \
	"the plans' limits in GET /v1/plans"
tnd_curl GET /v1/tenants/roomy
tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET roomy"
tnd_assert_match "$(tnd_header RateLimit-Policy)" '^"tenant-read";q=40;w=1$' "roomy's policy is its plan's"
tnd_assert_match "$(tnd_header RateLimit)" '^"tenant-read";r=39;t=1$' "roomy's first request leaves 39"

tnd_step "limited hammered at 10x its limit while roomy runs at half of its own"
sleep 1.5 # both buckets full again
load "$TND_ADMIN_TOKEN_FILE" /v1/tenants/limited 200 3 4 >"$TND_TMP/hammer.out" &
hammer=$!
load "$TND_ADMIN_TOKEN_FILE" /v1/tenants/roomy 20 3 1 >"$TND_TMP/calm.out"
wait "$hammer" || tnd_fail "the hammering client failed"
hammered=$(cat "$TND_TMP/hammer.out")
calm=$(cat "$TND_TMP/calm.out")
echo "limited (20/s, sent ~200/s for 3 s): $hammered"
echo "roomy   (40/s, sent 20/s for 3 s):   $calm"
tnd_assert_eq 0 "$(field "$hammered" bad)" "every answer to limited has correct headers"
tnd_assert_eq 0 "$(field "$hammered" other)" "limited got only 200s and 429s"
ok=$(field "$hammered" ok)
limited=$(field "$hammered" limited)
[ "$limited" -ge 100 ] || tnd_fail "only $limited of the hammering requests were refused"
# a burst of 20, then 20 per second for 3 s (one more second of slack for pacing)
{ [ "$ok" -ge 40 ] && [ "$ok" -le 100 ]; } || tnd_fail "limited admitted $ok requests, want 40..100"
tnd_assert_eq 0 "$(field "$calm" limited)" "roomy was never refused"
tnd_assert_eq 0 "$(field "$calm" bad)" "every answer to roomy has correct headers"
[ "$(field "$calm" ok)" -ge 50 ] || tnd_fail "roomy's client sent too little: $calm"
tenant_rejections=$limited
tnd_assert_eq "$tenant_rejections" "$(rejections tenant)" "the tenant rejections metric"

tnd_step "a 429 is a problem with Retry-After and the refusing policy"
# a client keeps the bucket empty meanwhile, however slow each curl is
load "$TND_ADMIN_TOKEN_FILE" /v1/tenants/limited 200 2 2 >"$TND_TMP/keep-empty.out" &
hammer=$!
sleep 0.3
for _ in $(seq 1 20); do
	tnd_curl GET /v1/tenants/limited
	[ "$TND_HTTP_STATUS" = 429 ] && break
done
wait "$hammer" || tnd_fail "the client keeping the bucket empty failed"
tnd_assert_problem 429 rate-limited "the 429"
tnd_assert_match "$(tnd_header Retry-After)" '^[1-9][0-9]*$' "Retry-After in seconds"
tnd_assert_match "$(tnd_header RateLimit-Policy)" '^"tenant-read";q=20;w=1$' "the 429 names the plan's policy"
tnd_assert_match "$(tnd_header RateLimit)" '^"tenant-read";r=0;t=[0-9]+$' "nothing remains"
tenant_rejections=$((tenant_rejections + 1 + $(field "$(cat "$TND_TMP/keep-empty.out")" limited)))

tnd_step "writes have their own bucket; an unknown tenant gets the api defaults"
statuses=
for _ in 1 2 3 4; do
	tnd_curl DELETE /v1/tenants/ghost
	statuses="$statuses $TND_HTTP_STATUS"
done
tnd_assert_eq " 404 404 429 429" "$statuses" "two writes per 10 s for a tenant that does not exist"
tnd_assert_match "$(tnd_header RateLimit-Policy)" '^"tenant-write";q=2;w=10$' "the write policy"
tenant_rejections=$((tenant_rejections + 2))
tnd_curl GET /v1/tenants/roomy
tnd_assert_eq 200 "$TND_HTTP_STATUS" "reads of another tenant are unaffected by its writes"

tnd_step "per-token limits: one token refused, another not"
sed -i 's|rate_limits: { window = 10; read = 10000; write = 2;|rate_limits: { window = 10; read = 10000; write = 2; token = 60;|' "$conf"
tnd_daemon_reload || tnd_fail "the daemon rejected the token limit"
sleep 1.1
load "$TND_VIEWER_TOKEN_FILE" /v1/plans 300 2 4 >"$TND_TMP/viewer.out" &
hammer=$!
load "$TND_ADMIN_TOKEN_FILE" /v1/plans 10 2 1 >"$TND_TMP/admin.out"
wait "$hammer" || tnd_fail "the viewer's client failed"
viewer=$(cat "$TND_TMP/viewer.out")
admin=$(cat "$TND_TMP/admin.out")
echo "viewer token (60 per 10 s, sent ~300/s for 2 s): $viewer"
echo "admin token  (60 per 10 s, sent 10/s for 2 s):   $admin"
[ "$(field "$viewer" limited)" -ge 100 ] || tnd_fail "the viewer token was not limited: $viewer"
tnd_assert_eq 0 "$(field "$viewer" bad)" "every answer to the viewer has correct headers"
tnd_assert_match "$viewer" 'policy="token";q=60;w=10$' "a route without a tenant shows only the token policy"
tnd_assert_eq 0 "$(field "$admin" limited)" "the admin token was never refused"
tnd_assert_eq "$(field "$viewer" limited)" "$(rejections token)" "the token rejections metric"
tnd_assert_eq "$tenant_rejections" "$(rejections tenant)" "token refusals are not counted as tenant ones"

tnd_step "a reload lowering the plan's limit takes effect at once"
sed -i 's|^    rate_limits: { read = 20; window = 1; };|    rate_limits: { read = 5; window = 60; };|' "$conf"
tnd_daemon_reload || tnd_fail "the daemon rejected the lowered limit"
sleep 1.5 # limited's bucket full again
after=$(load "$TND_OPERATOR_TOKEN_FILE" /v1/tenants/limited 0 10 1 12)
echo "limited after the reload (5 per 60 s, 12 sent at once): $after"
tnd_assert_eq 5 "$(field "$after" ok)" "five admitted"
tnd_assert_eq 7 "$(field "$after" limited)" "the rest refused"
tnd_assert_match "$after" 'policy="tenant-read";q=5;w=60$' "the new policy is announced (by the last answer, a 429)"

tnd_step "overrides: admin only, validated, for tenants that exist"
override() { # TOKEN_FILE BODY
	tnd_curl_as "$1" POST /v1/overrides -H 'Content-Type: application/json' --data-binary "$2"
}
override "$TND_OPERATOR_TOKEN_FILE" '{"tenant":"limited","read":50,"ttlSeconds":60}'
tnd_assert_problem 403 forbidden "an operator may not override"
override "$TND_ADMIN_TOKEN_FILE" '{"tenant":"limited","read":-1,"colour":"red"}'
tnd_assert_problem 422 validation-failed "a bad override"
tnd_assert_eq "ttlSeconds	read	colour" "$(printf '%s' "$TND_BODY" | tnd_json -e /errors /path | sort -r | tr '\n' '\t' | sed 's/\t$//')" \
	"every problem of the override is named"
override "$TND_ADMIN_TOKEN_FILE" '{"tenant":"ghost","read":50,"ttlSeconds":60}'
tnd_assert_problem 404 not-found "an override of a tenant that does not exist"

tnd_step "an override raises a tenant's limit at once, and ends by itself"
override "$TND_ADMIN_TOKEN_FILE" '{"tenant":"limited","read":50,"window":1,"ttlSeconds":3,"reason":"load test"}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "POST /v1/overrides"
override_id=$(printf '%s' "$TND_BODY" | tnd_json /id)
tnd_assert_match "$override_id" '^ovr-[0-9]{13}-[0-9a-f]{8}$' "the override's id"
for pointer in /tenant:limited /limits/read:50 /limits/window:1 /actor:admin /reason:"load test"; do
	tnd_assert_eq "${pointer#*:}" "$(printf '%s' "$TND_BODY" | tnd_json "${pointer%%:*}")" "the override's ${pointer%%:*}"
done
tnd_curl GET /v1/tenants/limited
tnd_assert_eq 200 "$TND_HTTP_STATUS" "limited, overridden"
tnd_assert_match "$(tnd_header RateLimit-Policy)" '^"tenant-read";q=50;w=1, ' "the override's limit applies at once"
grep -q "override $override_id for tenant limited by admin: .*read.*:50.* until .* (load test)" \
	"$TND_DAEMON_LOG" || tnd_fail "the override was not logged"
tnd_curl_as "$TND_VIEWER_TOKEN_FILE" GET /v1/overrides
tnd_assert_problem 403 forbidden "a viewer may not list overrides"
tnd_curl GET "/v1/overrides?tenant=limited"
tnd_assert_eq "$override_id" "$(printf '%s' "$TND_BODY" | tnd_json -e /items /id)" "the active override is listed"
sleep 4
tnd_curl GET /v1/tenants/limited
tnd_assert_match "$(tnd_header RateLimit-Policy)" '^"tenant-read";q=5;w=60, ' "the plan's limit is back after expiry"
tnd_curl GET /v1/overrides
tnd_assert_eq 0 "$(printf '%s' "$TND_BODY" | tnd_json -l /items)" "no active override left"
tnd_curl GET "/v1/overrides?all=true"
tnd_assert_eq "$override_id" "$(printf '%s' "$TND_BODY" | tnd_json -e /items /id)" "the expired override stays as history"

tnd_step "a reload removing the limits lifts them"
cp "$TND_TMP/conf.orig" "$conf"
tnd_daemon_reload || tnd_fail "the daemon rejected the original config"
tnd_curl GET /v1/tenants/limited
tnd_assert_eq 200 "$TND_HTTP_STATUS" "limited is served again"
tnd_assert_eq "" "$(tnd_header RateLimit)" "no RateLimit header without limits"

tnd_step "an override is durable and limits even a tenant whose plan sets no limit"
override "$TND_ADMIN_TOKEN_FILE" '{"tenant":"roomy","write":1,"window":60,"ttlSeconds":600}'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "POST /v1/overrides for roomy"
tnd_daemon_stop
tnd_daemon_restart
statuses=
for _ in 1 2; do
	tnd_curl DELETE /v1/tenants/roomy
	statuses="$statuses $TND_HTTP_STATUS"
done
# the first DELETE is refused by the lifecycle (roomy is Active), the second by the override
tnd_assert_eq " 409 429" "$statuses" "one write per minute for roomy after a restart"
tnd_assert_match "$(tnd_header RateLimit-Policy)" '^"tenant-write";q=1;w=60$' "the override's policy"
tnd_curl GET /v1/tenants/roomy
tnd_assert_eq "" "$(tnd_header RateLimit-Policy)" "reads of roomy are not limited"

tnd_daemon_stop
tnd_pass
