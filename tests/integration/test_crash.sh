#!/bin/bash
# test_crash.sh — durability across kill -9 (DESIGN.md, "Transaction rule":
# a caller that received 2xx can rely on the change surviving kill -9 and
# restart).
#
# Four writers apply manifests over HTTP without pause: new tenants, and
# new versions (a changing label) of tenants of their own.  Each records a
# write only once curl exited 0 with a 2xx status: the tenant id, the
# version the response names, the X-Request-Id it sent, and the label value.
# Meanwhile the daemon is killed with SIGKILL at a random moment (0.2-1.5 s
# after it is ready) and restarted on the same state dir, again and again.
# Then, on the last restart, every acknowledged write must be there: the
# tenant exists, its metadata.version is at least the highest acknowledged
# one, /versions lists every acknowledged version with its request id and
# label, and every tenant's lineage is exactly 1..metadata.version.  The
# reconcile engine was killed mid-workflow too: after the last restart every
# tenant must settle (the orchestrator resumes its workflows from their
# checkpoints, the controller's resync starts what is missing), no workflow
# may have failed, and every tenant's data-plane role must exist.  Each kill
# must also take the daemon's workers with it.  Finally, with the daemon
# stopped, SQLite's integrity and foreign key checks.
#
# TND_CRASH_CYCLES sets the number of kills (default 12).
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_require_cmd curl sqlite3
tnd_setup
tnd_daemon_start

cycles=${TND_CRASH_CYCLES:-12}
writers=4
hot_per_writer=6   # tenants each writer keeps updating
min_acks=200

(umask 077 && printf 'Authorization: Bearer %s\n' "$(head -n 1 "$TND_ADMIN_TOKEN_FILE")" >"$TND_TMP/admin.auth")

# writer W — apply until $TND_TMP/stop exists; odd requests create
# crash-wW-NNNNN, even ones update crash-hot-W-K.  Acknowledged writes go to
# acks.W as "id version request-id label"; any answer that is neither 2xx
# nor "no answer" (000: the daemon is down or died mid-request) to odd.W.
writer() {
	local w=$1 i=0 url='' id rid code rc version body
	local out=$TND_TMP/writer.$w.body
	: >"$TND_TMP/acks.$w"
	: >"$TND_TMP/odd.$w"
	while [ ! -e "$TND_TMP/stop" ]; do
		if [ -z "$url" ]; then
			url=$(head -n 1 "$TND_STATE/api.url" 2>/dev/null)
			[ -n "$url" ] || { sleep 0.02; continue; }
		fi
		i=$((i + 1))
		if [ $((i % 2)) = 1 ]; then
			id=$(printf 'crash-w%d-%05d' "$w" "$i")
		else
			id=crash-hot-$w-$(((i / 2) % hot_per_writer))
		fi
		rid=crash-w$w-r$i
		body='{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"'$id'","labels":{"writer":"w'$w'","seq":"'$i'"}},"spec":{"plan":"free"}}'
		rm -f "$out"
		code=$(curl -s -o "$out" -w '%{http_code}' --max-time 20 -X PUT -H "@$TND_TMP/admin.auth" \
			-H 'Content-Type: application/json' -H "X-Request-Id: $rid" --data-binary "$body" \
			"$url/v1/tenants/$id")
		rc=$?
		case $rc/$code in
		0/2[0-9][0-9])
			# acknowledged: curl read the whole response (Content-Length) and
			# the status is 2xx; the version is the one the response names
			if [[ $(cat "$out") =~ \"metadata\":\{\"id\":\"$id\",\"labels\":\{[^}]*\},\"version\":([0-9]+) ]]; then
				version=${BASH_REMATCH[1]}
				printf '%s %s %s %s\n' "$id" "$version" "$rid" "$i" >>"$TND_TMP/acks.$w"
			else
				printf '%s %s %s: 2xx without a version: %s\n' "$id" "$rid" "$code" "$(head -c 300 "$out")" \
					>>"$TND_TMP/odd.$w"
			fi
			;;
		*/000)
			# no answer: the daemon is down, restarting, or died mid-request;
			# the next request looks up the (new) port again
			url=
			sleep 0.02
			;;
		*)
			printf '%s %s: curl exit %s, status %s: %s\n' "$id" "$rid" "$rc" "$code" "$(head -c 300 "$out" 2>/dev/null)" \
				>>"$TND_TMP/odd.$w"
			;;
		esac
	done
}

# acks_count — acknowledged writes so far.
acks_count() {
	cat "$TND_TMP"/acks.* 2>/dev/null | wc -l
}

tnd_step "writers apply while the daemon is killed $cycles times"
writer_pids=()
for w in $(seq 1 "$writers"); do
	writer "$w" &
	writer_pids+=($!)
done
per_cycle=
for cycle in $(seq 1 "$cycles"); do
	before=$(acks_count)
	ms=$((200 + RANDOM % 1301))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	tnd_daemon_kill
	after=$(acks_count)
	per_cycle="$per_cycle $((after - before))"
	echo "cycle $cycle: SIGKILL after $ms ms, $((after - before)) writes acknowledged in this run"
	tnd_daemon_restart >/dev/null
done
# a last stretch on the last restart, then stop the writers
sleep 0.5
touch "$TND_TMP/stop"
wait "${writer_pids[@]}"
cat "$TND_TMP"/acks.* >"$TND_TMP/acks"
cat "$TND_TMP"/odd.* >"$TND_TMP/odd"
if [ -s "$TND_TMP/odd" ]; then
	head -n 20 "$TND_TMP/odd" >&2
	tnd_fail "$(wc -l <"$TND_TMP/odd") answer(s) were neither 2xx nor no answer"
fi
n_acks=$(wc -l <"$TND_TMP/acks")
echo "acknowledged writes per run:$per_cycle; total $n_acks"
[ "$n_acks" -ge "$min_acks" ] || tnd_fail "only $n_acks acknowledged writes; the test needs at least $min_acks"

tnd_step "every acknowledged write survived"
# every tenant with its head version, page by page
: >"$TND_TMP/heads"
cursor=
while :; do
	tnd_curl GET "/v1/tenants?limit=1000${cursor:+&cursor=$cursor}"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "list tenants"
	printf '%s' "$TND_BODY" | tnd_json -e /items /metadata/id /metadata/version >>"$TND_TMP/heads" ||
		tnd_fail "tenant list is not what it should be"
	cursor=$(printf '%s' "$TND_BODY" | tnd_json /nextCursor)
	[ "$cursor" != null ] || break
done
n_tenants=$(wc -l <"$TND_TMP/heads")
# the lineage of every tenant: one curl, one connection, all the bodies
awk -v url="$TND_URL" '{ printf "url = \"%s/v1/tenants/%s/versions?limit=1000\"\n", url, $1 }' "$TND_TMP/heads" \
	>"$TND_TMP/versions.curl"
curl -sS -H "@$TND_TMP/admin.auth" -K "$TND_TMP/versions.curl" >"$TND_TMP/versions.json" ||
	tnd_fail "curl of the lineages failed"
tnd_assert_eq "$n_tenants" "$(tnd_json -s -l /items <"$TND_TMP/versions.json" | wc -l)" \
	"one lineage document per tenant"
tnd_assert_eq null "$(tnd_json -s /next <"$TND_TMP/versions.json" | sort -u)" "every lineage fits one page"
tnd_json -s -e /items /manifest/metadata/id /version /requestId /manifest/metadata/labels/seq \
	<"$TND_TMP/versions.json" >"$TND_TMP/versions" || tnd_fail "a lineage item lacks id, version, requestId or label"
n_versions=$(wc -l <"$TND_TMP/versions")

# heads: id head-version; versions: id version request-id label; acks: id
# version request-id label.  Print one line per problem.
awk '
	FILENAME == ARGV[1] { head[$1] = $2; next }
	FILENAME == ARGV[2] {
		key = $1 " " $2
		if (key in lineage)
			print "duplicate lineage entry " key
		lineage[key] = $3 " " $4
		count[$1]++
		next
	}
	{
		id = $1; version = $2
		if (!(id in head)) {
			print "acknowledged " id " version " version " (" $3 "): the tenant does not exist"
			next
		}
		if (head[id] < version)
			print "acknowledged " id " version " version ": metadata.version is only " head[id]
		key = id " " version
		if (!(key in lineage))
			print "acknowledged " id " version " version " (" $3 "): not in /versions"
		else if (lineage[key] != $3 " " $4)
			print "acknowledged " id " version " version " as \"" $3 " " $4 "\", /versions has \"" lineage[key] "\""
	}
	END {
		for (id in head) {
			for (v = 1; v <= head[id]; v++)
				if (!((id " " v) in lineage))
					print id ": version " v " of " head[id] " is missing from /versions"
			if (count[id] != head[id])
				print id ": /versions lists " count[id] " versions, metadata.version is " head[id]
		}
	}' "$TND_TMP/heads" "$TND_TMP/versions" "$TND_TMP/acks" >"$TND_TMP/problems"
if [ -s "$TND_TMP/problems" ]; then
	head -n 30 "$TND_TMP/problems" >&2
	tnd_fail "$(wc -l <"$TND_TMP/problems") durability problem(s) after $cycles kill -9 cycles"
fi
creates=$(awk '$1 !~ /^crash-hot-/' "$TND_TMP/acks" | wc -l)
echo "checked $n_acks acknowledged writes ($creates creates, $((n_acks - creates)) updates) against" \
	"$n_tenants tenants and $n_versions versions after $cycles kill -9 restarts"
tnd_assert_eq "$writers" "$(awk '$1 ~ /^crash-hot-/ { split($1, p, "-"); print p[3] }' "$TND_TMP/acks" | sort -u | wc -l)" \
	"every writer had acknowledged updates"

tnd_step "every tenant is reconciled after the last restart"
start=$(date +%s%3N)
tnd_wait_all_settled "" 300
tnd_assert_eq "$n_tenants" "$TND_SETTLED_COUNT" "settled tenants"
echo "all $n_tenants tenants settled $(($(date +%s%3N) - start)) ms after the checks began"
tnd_curl GET '/v1/workflows?state=Failed&limit=1000'
tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/workflows?state=Failed"
tnd_assert_eq 0 "$(printf '%s' "$TND_BODY" | tnd_json -l /items)" "failed workflows: $TND_BODY"
tnd_curl GET '/v1/workflows?state=Running&limit=1000'
tnd_assert_eq 0 "$(printf '%s' "$TND_BODY" | tnd_json -l /items)" "running workflows of settled tenants"
# what the data plane reported: every tenant has its own role
: >"$TND_TMP/roles"
cursor=
while :; do
	tnd_curl GET "/v1/tenants?limit=1000${cursor:+&cursor=$cursor}"
	printf '%s' "$TND_BODY" | tnd_json -e /items /metadata/id /status/placement/resources/role >>"$TND_TMP/roles" ||
		tnd_fail "a settled tenant has no status.placement.resources.role"
	cursor=$(printf '%s' "$TND_BODY" | tnd_json /nextCursor)
	[ "$cursor" != null ] || break
done
tnd_assert_eq "" "$(awk -F'\t' '{ want = "t_" $1; gsub("-", "_", want) } $2 != want' "$TND_TMP/roles")" \
	"tenants whose role is not t_<id>"

tnd_step "the registry is intact"
tnd_daemon_stop
tnd_run sqlite3 "$TND_STATE/registry.db" 'PRAGMA integrity_check'
tnd_assert_rc 0 "sqlite3 integrity_check"
tnd_assert_eq ok "$TND_OUT" "PRAGMA integrity_check"
tnd_run sqlite3 "$TND_STATE/registry.db" 'PRAGMA foreign_key_check'
tnd_assert_eq "0 " "$TND_RC $TND_OUT" "PRAGMA foreign_key_check"
tnd_run sqlite3 "$TND_STATE/registry.db" 'SELECT count(*) FROM tenant_versions'
tnd_assert_eq "$n_versions" "$TND_OUT" "versions in the database and through the API"
tnd_pass
