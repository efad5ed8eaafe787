# shellcheck shell=bash disable=SC2119
# (SC2119: lib functions with optional arguments)
#
# tests/integration/reconcile_lib.sh — helpers for the reconcile engine's
# integration tests (test_reconcile*.sh): manifests, waiting for workflows
# and phases, metrics, editing the reconcile section of a running daemon's
# config, a daemon started from a config file of the test's own, and the
# embedded data plane seen from outside.  Sources lib.sh (whose helpers and
# variables it uses); source only this file:
#
#     . "$top_srcdir/tests/integration/reconcile_lib.sh"
#
# Every wait polls with a deadline (TND_RECONCILE_TIMEOUT seconds, default
# 60; generous, so sanitizer builds on a loaded CI machine pass) and fails the
# test naming what it waited for and what it saw last.

# shellcheck source=tests/integration/lib.sh
. "$top_srcdir/tests/integration/lib.sh"

RCL_TIMEOUT=${TND_RECONCILE_TIMEOUT:-60}

# rcl_json POINTER... — tnd_json on the last response body.
rcl_json() {
	printf '%s' "$TND_BODY" | tnd_json "$@"
}

# rcl_now_ms — the wall clock in milliseconds.
rcl_now_ms() {
	date +%s%3N
}

# rcl_time_ms RFC3339 — "2026-11-28T12:49:35.771Z" as milliseconds since the epoch.
rcl_time_ms() {
	date -u -d "$1" +%s%3N
}

# rcl_manifest ID PLAN ISOLATION [STATE [LABEL-VALUE]] — a manifest as JSON.
rcl_manifest() {
	local id=$1 plan=$2 isolation=$3 state=${4:-active} label=${5:-}
	printf '{"apiVersion":"tenancy/v1","kind":"Tenant","metadata":{"id":"%s"%s},' "$id" \
		"${label:+,\"labels\":{\"rev\":\"$label\"\}}"
	printf '"spec":{"plan":"%s","isolation":"%s","state":"%s"}}' "$plan" "$isolation" "$state"
}

# rcl_apply ID PLAN ISOLATION [STATE [LABEL-VALUE]] — PUT the manifest (admin).
rcl_apply() {
	tnd_curl PUT "/v1/tenants/$1" -H 'Content-Type: application/json' --data-binary "$(rcl_manifest "$@")"
}

# rcl_tenant ID — GET the tenant into $TND_BODY; fails unless 200.
rcl_tenant() {
	tnd_curl GET "/v1/tenants/$1"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/tenants/$1"
}

# _rcl_settled_now — true when the tenant in $TND_BODY is settled: the
# observed version is the version, the phase is the desired state, and no
# condition is left.
_rcl_settled_now() {
	local version observed phase state conditions
	version=$(rcl_json /metadata/version)
	observed=$(rcl_json /status/observedVersion)
	phase=$(rcl_json /status/phase)
	state=$(rcl_json /spec/state)
	conditions=$(rcl_json -l /status/conditions)
	[ "$version" = "$observed" ] && [ "${phase,,}" = "${state,,}" ] && [ "$conditions" = 0 ]
}

# rcl_wait_settled ID [SECONDS] — until the tenant is settled (see above);
# leaves the tenant in $TND_BODY.  Fails on timeout or on a ReconcileFailed
# condition (nothing settles that by itself).
rcl_wait_settled() {
	local id=$1 deadline=$(($(date +%s) + ${2:-$RCL_TIMEOUT}))
	while :; do
		rcl_tenant "$id"
		_rcl_settled_now && return 0
		if [ "$(rcl_json /status/conditions/0/type 2>/dev/null)" = ReconcileFailed ]; then
			tnd_fail "tenant $id: reconcile failed: $(rcl_json /status/conditions/0/message)"
		fi
		[ "$(date +%s)" -lt "$deadline" ] ||
			tnd_fail "tenant $id not settled after ${2:-$RCL_TIMEOUT} s: $TND_BODY"
		sleep 0.05
	done
}

# rcl_wait_phase ID PHASE [SECONDS] — until the tenant is settled in PHASE.
rcl_wait_phase() {
	rcl_wait_settled "$1" "${3:-}"
	tnd_assert_eq "$2" "$(rcl_json /status/phase)" "phase of tenant $1"
}

# rcl_workflows TENANT — GET /v1/workflows?tenant=TENANT (every one, oldest
# first) into $TND_BODY.
rcl_workflows() {
	tnd_curl GET "/v1/workflows?tenant=$1&limit=1000"
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/workflows?tenant=$1"
}

# rcl_latest_workflow TENANT — print the id of the tenant's newest workflow.
rcl_latest_workflow() {
	rcl_workflows "$1"
	rcl_json -e /items /id | tail -n 1
}

# rcl_wait_workflow ID STATE [SECONDS] — until workflow ID is in STATE;
# leaves it in $TND_BODY.  Any other terminal state fails at once.
rcl_wait_workflow() {
	local id=$1 want=$2 deadline=$(($(date +%s) + ${3:-$RCL_TIMEOUT})) state
	while :; do
		tnd_curl GET "/v1/workflows/$id"
		tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/workflows/$id"
		state=$(rcl_json /state)
		[ "$state" = "$want" ] && return 0
		case $state in
		Succeeded | Failed | Superseded)
			tnd_fail "workflow $id ended $state, expected $want: $TND_BODY"
			;;
		esac
		[ "$(date +%s)" -lt "$deadline" ] ||
			tnd_fail "workflow $id not $want after ${3:-$RCL_TIMEOUT} s: $TND_BODY"
		sleep 0.05
	done
}

# rcl_metric NAME [LABELS] — print the value of a /metrics sample: with
# LABELS (as written between the braces) that series, else the sum of all of
# NAME's series; 0 when there is none yet.
rcl_metric() {
	tnd_curl GET /metrics
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /metrics"
	printf '%s\n' "$TND_BODY" | awk -v name="$1" -v labels="${2-}" '
		BEGIN { sum = 0 }
		/^#/ { next }
		{
			series = $1
			base = series; sub(/\{.*/, "", base)
			if (base != name) next
			if (labels != "" && series != name "{" labels "}") next
			sum += $2
		}
		END { printf "%.0f\n", sum }'
}

# rcl_set_reconcile CONFIG KEY VALUE — set reconcile.KEY in CONFIG (the
# `reconcile: { ... };` group must exist) and SIGHUP the daemon; fails unless
# it took the new config.
rcl_set_reconcile() {
	local config=$1 key=$2 value=$3 tmp
	tmp=$config.rcl-tmp
	awk -v key="$key" -v value="$value" '
		/^reconcile: *\{/ { inside = 1; print; print "  " key " = " value ";"; next }
		inside && $0 ~ "^[ \t]*" key "[ \t]*=" { next }
		inside && /^\};/ { inside = 0 }
		{ print }' "$config" >"$tmp" || tnd_hard_error "cannot edit $config"
	grep -q "^  $key = $value;" "$tmp" || tnd_hard_error "$config has no reconcile group"
	# keep the file's mode: the daemon checks it
	cat "$tmp" >"$config"
	rm -f "$tmp"
	tnd_daemon_reload || tnd_fail "the daemon rejected reconcile.$key = $value"
}

# rcl_prepare_state DIR — a state dir with the --dev tokens (admin, operator,
# viewer) and a credentials key, for a daemon started from a config file of
# the test's own: `tenancyd --dev -t` makes them.  The config it generated
# (embedded data plane, API on a free port) is kept as DIR/dev.conf, for a
# test to start from.
rcl_prepare_state() {
	TND_STATE=$1
	TND_DAEMON_LOG=$TND_TMP/daemon.log
	: >"$TND_DAEMON_LOG"
	tnd_run "$top_builddir/tenancyd" --dev --state-dir "$TND_STATE" --listen 127.0.0.1:0 -t
	tnd_assert_rc 0 "tenancyd --dev -t (preparing $TND_STATE)"
	[ -s "$TND_STATE/credentials.key" ] || tnd_hard_error "tenancyd --dev -t wrote no credentials key"
	mv "$TND_STATE/tenancyd.conf" "$TND_STATE/dev.conf"
}

# rcl_config_head [WORKERS] — print the daemon, api and reconcile sections of
# a config for $TND_STATE (prepared by rcl_prepare_state) on a free port, with
# fast retries and a one-second resync; the caller adds plugins, regions and
# plans.
rcl_config_head() {
	cat <<-EOF
		daemon: {
		  state_dir = "$TND_STATE";
		  log_file = "-";
		  log_level = "info";
		  workers = ${1:-2};
		};
		api: {
		  listen = "127.0.0.1:0";
		  tokens_file = "$TND_STATE/tokens";
		};
		reconcile: {
		  credentials_key_file = "$TND_STATE/credentials.key";
		  resync_interval = 1;
		  retry_base_ms = 50;
		  retry_cap_ms = 400;
		  max_attempts = 4;
		  step_timeout = 30;
		};
	EOF
}

# rcl_workers — print the pids of the running daemon's worker processes.
rcl_workers() {
	[ -n "$TND_PID" ] || return 0
	pgrep -P "$TND_PID" -f tenancyd-worker
}

# --- the embedded data plane ---------------------------------------------------------

# rcl_sql DB SQL — run SQL on a SQLite file with a busy timeout (workers may
# hold a lock for a moment); prints rows as a|b|c.
rcl_sql() {
	sqlite3 -batch -noheader -cmd '.timeout 10000' "$1" "$2" ||
		tnd_fail "sqlite3 $1: $2"
}

# rcl_embedded_login DIR ISOLATION TENANT PASSWORD [SQL...] — connect as the
# tenant through the embedded data plane's own door (embedded_open_as) and
# run SQL; sets TND_RC, TND_OUT, TND_ERR (see embedded_login.c for the exit
# statuses).  The password goes through stdin, never the command line.
rcl_embedded_login() {
	local dir=$1 isolation=$2 tenant=$3 password=$4
	shift 4
	tnd_run "$top_builddir/tests/integration/embedded_login" "$dir" "$isolation" "$tenant" "$@" \
		<<<"$password"
}
