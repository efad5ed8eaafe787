# shellcheck shell=bash disable=SC2034
# (the TND_* variables are set here for the scripts that source this file)
#
# tests/integration/lib.sh — helpers shared by the integration tests, which
# start the real tenancyd and drive it over HTTP.  Source it from a bash
# script that `make check` runs (AM_TESTS_ENVIRONMENT exports $top_builddir
# and $top_srcdir):
#
#     #!/bin/bash
#     set -u
#     . "$top_srcdir/tests/integration/lib.sh"
#     tnd_setup                      # scratch dir $TND_TMP; cleanup on any exit
#     tnd_daemon_start               # tenancyd --dev on 127.0.0.1:<free port>
#     tnd_curl GET /v1/tenants       # body in $TND_BODY, status in $TND_HTTP_STATUS
#     tnd_assert_eq 200 "$TND_HTTP_STATUS" "list status"
#     tnd_run "$top_builddir/tenancyctl" list    # $TND_RC, $TND_OUT, $TND_ERR
#     tnd_assert_rc 0 "tenancyctl list"
#     tnd_daemon_stop                # SIGTERM; the daemon must exit 0
#     tnd_pass
#
# What the helpers set:
#   TND_TMP            scratch directory (removed on exit unless TND_KEEP=1)
#   TND_STATE          the daemon's state dir ($TND_TMP/state)
#   TND_URL            http://127.0.0.1:<port>, read from $TND_STATE/api.url
#   TND_PID            the daemon's pid while it runs
#   TND_ADMIN_TOKEN_FILE, TND_OPERATOR_TOKEN_FILE, TND_VIEWER_TOKEN_FILE
#   TND_DAEMON_LOG     the daemon's stdout and stderr (restarts append to it)
#   TND_HEADERS        the response headers of the last tnd_curl (CRs removed)
#
# Besides tnd_daemon_start: tnd_daemon_restart (same state dir, e.g. after
# tnd_daemon_kill), tnd_daemon_start_config (tenancyd -f -c FILE),
# tnd_daemon_kill (SIGKILL) and tnd_daemon_reload (SIGHUP, wait for the
# verdict).  tnd_curl_as - ... sends no token; tnd_header reads a response
# header; tnd_assert_problem checks an RFC 9457 answer.  tnd_wait_settled,
# tnd_wait_phase and tnd_wait_all_settled wait for the reconcile engine
# after a write.
#
# Exit statuses follow automake: 0 pass, 1 fail, 77 skip, 99 hard error.
# Tunables: TND_START_TIMEOUT (seconds to wait for readiness, default 30),
# TND_STOP_TIMEOUT (seconds to wait after SIGTERM, default 30),
# TND_SETTLE_TIMEOUT (seconds to wait for a tenant to settle, default 60).
#
# Nothing here needs more than bash and coreutils: readiness is probed
# through bash's /dev/tcp; only tnd_curl needs the curl program (call
# `tnd_require_cmd curl` first in a test that uses it).

TND_TMP=
TND_STATE=
TND_URL=
TND_PID=
TND_DAEMON_LOG=
TND_RC=
TND_OUT=
TND_ERR=
TND_BODY=
TND_HTTP_STATUS=
TND_HEADERS=
TND_STEP=
TND_SETTLED_COUNT=
_tnd_progress=

# --- outcomes ----------------------------------------------------------------

# tnd_step "what the next checks are about" — shown in the log, and in failures.
tnd_step() {
	TND_STEP=$1
	echo "== $1"
}

# tnd_fail "message" — report, show the context, exit 1 (cleanup runs).
tnd_fail() {
	echo "FAIL${TND_STEP:+ [$TND_STEP]}: $1" >&2
	if [ -n "$TND_DAEMON_LOG" ] && [ -f "$TND_DAEMON_LOG" ]; then
		echo "--- last lines of the daemon log ($TND_DAEMON_LOG):" >&2
		tail -n 20 "$TND_DAEMON_LOG" >&2
	fi
	exit 1
}

# tnd_skip "reason" — exit 77, which automake reports as SKIP.
tnd_skip() {
	echo "SKIP: $1" >&2
	exit 77
}

# tnd_hard_error "reason" — the test could not even be set up: exit 99.
tnd_hard_error() {
	echo "ERROR: $1" >&2
	exit 99
}

tnd_pass() {
	echo "PASS"
	exit 0
}

# tnd_require_cmd NAME... — skip unless every program is on $PATH.
tnd_require_cmd() {
	local cmd
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null 2>&1 || tnd_skip "needs the program $cmd"
	done
}

# --- setup and cleanup ---------------------------------------------------------

tnd_cleanup() {
	local status=$?
	trap - EXIT
	if [ -n "$TND_PID" ] && kill -0 "$TND_PID" 2>/dev/null; then
		# a failing test still must not leave a daemon behind
		kill -TERM "$TND_PID" 2>/dev/null
		if ! _tnd_wait_gone "$TND_PID" "${TND_STOP_TIMEOUT:-30}"; then
			echo "daemon $TND_PID ignored SIGTERM; sending SIGKILL" >&2
			kill -KILL "$TND_PID" 2>/dev/null
		fi
		wait "$TND_PID" 2>/dev/null
		TND_PID=
	fi
	# background clients a failing test left behind (they write into $TND_TMP)
	# shellcheck disable=SC2046
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	if [ -n "$TND_TMP" ] && [ -d "$TND_TMP" ]; then
		if [ "${TND_KEEP:-0}" = 1 ]; then
			echo "kept $TND_TMP" >&2
		else
			rm -rf "$TND_TMP"
		fi
	fi
	exit "$status"
}

# tnd_setup — check the environment, make $TND_TMP, arrange cleanup.
tnd_setup() {
	if [ -z "${top_builddir:-}" ] || [ -z "${top_srcdir:-}" ]; then
		tnd_hard_error "top_builddir and top_srcdir must be set (run through make check)"
	fi
	TND_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tnd-it-XXXXXX") || tnd_hard_error "mktemp failed"
	chmod 700 "$TND_TMP"
	trap tnd_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	# the daemon is on loopback; a proxy from the environment must not intercept
	unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
}

# --- the daemon ------------------------------------------------------------------

# _tnd_wait_gone PID SECONDS — true once PID has exited (polls every 0.1 s).
_tnd_wait_gone() {
	local pid=$1 ticks=$(($2 * 10))
	while kill -0 "$pid" 2>/dev/null; do
		# an exited child stays a zombie until `wait` reaps it: that is gone too
		grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && return 0
		ticks=$((ticks - 1))
		[ "$ticks" -gt 0 ] || return 1
		sleep 0.1
	done
	return 0
}

# tnd_http_status PATH — print the HTTP status of GET PATH on $TND_URL, or
# nothing if the daemon does not answer.  Needs no curl: bash's /dev/tcp.
tnd_http_status() {
	local hostport=${TND_URL#http://} line
	local host=${hostport%:*} port=${hostport##*:}
	(
		exec 3<>"/dev/tcp/$host/$port" || exit 1
		printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$1" "$hostport" >&3
		IFS=' ' read -r -t 5 _ line _ <&3 && echo "${line%$'\r'}"
	) 2>/dev/null
}

# _tnd_daemon_spawn TENANCYD-ARGS... — start tenancyd in the background on
# $TND_STATE (which its config must name); return once /readyz answers 200.
_tnd_daemon_spawn() {
	local ticks=$((${TND_START_TIMEOUT:-30} * 10)) status=
	[ -x "$top_builddir/tenancyd" ] || tnd_hard_error "$top_builddir/tenancyd is not built"
	[ -n "$TND_STATE" ] || tnd_hard_error "_tnd_daemon_spawn: TND_STATE is not set"
	[ -z "$TND_PID" ] || tnd_fail "a daemon ($TND_PID) is still running"
	TND_DAEMON_LOG=${TND_DAEMON_LOG:-$TND_TMP/daemon.log}
	# a stale api.url from an earlier run would name a dead port
	rm -f "$TND_STATE/api.url"
	"$top_builddir/tenancyd" "$@" >>"$TND_DAEMON_LOG" 2>&1 </dev/null &
	TND_PID=$!
	# port 0: the daemon writes its real URL to api.url once it listens
	while [ ! -s "$TND_STATE/api.url" ]; do
		kill -0 "$TND_PID" 2>/dev/null || tnd_fail "tenancyd exited during start-up"
		ticks=$((ticks - 1))
		[ "$ticks" -gt 0 ] || tnd_fail "no $TND_STATE/api.url after ${TND_START_TIMEOUT:-30} s"
		sleep 0.1
	done
	TND_URL=$(head -n 1 "$TND_STATE/api.url")
	case $TND_URL in
	http://127.0.0.1:[0-9]*) ;;
	*) tnd_fail "unexpected URL in api.url: '$TND_URL'" ;;
	esac
	while status=$(tnd_http_status /readyz); [ "$status" != 200 ]; do
		kill -0 "$TND_PID" 2>/dev/null || tnd_fail "tenancyd exited before it was ready"
		ticks=$((ticks - 1))
		[ "$ticks" -gt 0 ] || tnd_fail "/readyz still says '${status:-no answer}' after ${TND_START_TIMEOUT:-30} s"
		sleep 0.1
	done
	TND_ADMIN_TOKEN_FILE=$TND_STATE/admin.token
	TND_OPERATOR_TOKEN_FILE=$TND_STATE/operator.token
	TND_VIEWER_TOKEN_FILE=$TND_STATE/viewer.token
	[ -s "$TND_ADMIN_TOKEN_FILE" ] || tnd_fail "no admin token in $TND_ADMIN_TOKEN_FILE"
	echo "tenancyd $TND_PID ready at $TND_URL (state $TND_STATE)"
}

# tnd_daemon_start [tenancyd options...] — start `tenancyd --dev` with a fresh
# state dir on a free port; return once /readyz answers 200.
tnd_daemon_start() {
	TND_STATE=$TND_TMP/state
	TND_DAEMON_LOG=$TND_TMP/daemon.log
	rm -rf "$TND_STATE"
	: >"$TND_DAEMON_LOG"
	_tnd_daemon_spawn --dev --state-dir "$TND_STATE" --listen 127.0.0.1:0 "$@"
}

# tnd_daemon_restart [tenancyd options...] — start `tenancyd --dev` again on
# the state dir of the last start (after tnd_daemon_stop or tnd_daemon_kill);
# the port is a new one, $TND_URL follows it.
tnd_daemon_restart() {
	if [ -z "$TND_STATE" ] || [ ! -d "$TND_STATE" ]; then
		tnd_fail "tnd_daemon_restart: no state dir to restart on"
	fi
	_tnd_daemon_spawn --dev --state-dir "$TND_STATE" --listen 127.0.0.1:0 "$@"
}

# tnd_daemon_start_config CONFIG [tenancyd options...] — start `tenancyd -f
# -c CONFIG`.  Set TND_STATE to the config's daemon.state_dir first (it must
# hold the tokens of a --dev state dir, e.g. one made by `tenancyd --dev -t`),
# and use api.listen = "127.0.0.1:0".
tnd_daemon_start_config() {
	local config=$1
	shift
	_tnd_daemon_spawn -f -c "$config" "$@"
}

# _tnd_children PID — the pids of PID's child processes (its workers), one a line.
_tnd_children() {
	local stat line fields
	for stat in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$stat" || continue
		# "pid (comm) state ppid ...": comm may hold spaces and parentheses
		read -r -a fields <<<"${line##*) }"
		[ "${fields[1]}" = "$1" ] && echo "${line%% *}"
	done
}

# _tnd_workers_gone WHEN PID... — fail unless every PID (the workers of a
# daemon that is gone) exits within TND_STOP_TIMEOUT seconds.
_tnd_workers_gone() {
	local when=$1 child
	shift
	for child in "$@"; do
		_tnd_wait_gone "$child" "${TND_STOP_TIMEOUT:-30}" ||
			tnd_fail "worker process $child still runs ${TND_STOP_TIMEOUT:-30} s $when"
	done
}

# tnd_daemon_kill — SIGKILL the daemon (a crash: no drain, no cleanup) and
# reap it; its workers must notice and exit (they are told by the kernel).
tnd_daemon_kill() {
	local children
	[ -n "$TND_PID" ] || tnd_fail "tnd_daemon_kill: no daemon running"
	children=$(_tnd_children "$TND_PID")
	kill -KILL "$TND_PID" 2>/dev/null
	wait "$TND_PID" 2>/dev/null
	TND_PID=
	# shellcheck disable=SC2086 # one pid a word
	_tnd_workers_gone "after tenancyd was killed" $children
}

# tnd_daemon_stop — SIGTERM, wait, and require exit status 0 (a clean drain)
# and that the workers the daemon spawned are gone too.
tnd_daemon_stop() {
	local pid=$TND_PID status children
	[ -n "$pid" ] || tnd_fail "tnd_daemon_stop: no daemon running"
	children=$(_tnd_children "$pid")
	kill -TERM "$pid" || tnd_fail "cannot signal tenancyd $pid"
	_tnd_wait_gone "$pid" "${TND_STOP_TIMEOUT:-30}" ||
		tnd_fail "tenancyd $pid still runs ${TND_STOP_TIMEOUT:-30} s after SIGTERM"
	wait "$pid"
	status=$?
	TND_PID=
	[ "$status" -eq 0 ] || tnd_fail "tenancyd exited with status $status after SIGTERM (expected 0)"
	# shellcheck disable=SC2086 # one pid a word
	_tnd_workers_gone "after tenancyd stopped" $children
}

# tnd_daemon_reload [LOG] — SIGHUP the daemon and wait until it logged the
# outcome to LOG (default $TND_DAEMON_LOG): return 0 if the new config is in
# force, 1 if the daemon rejected it (the old one stays).
tnd_daemon_reload() {
	local log=${1:-$TND_DAEMON_LOG} before ticks=$((${TND_START_TIMEOUT:-30} * 10)) outcome
	[ -n "$TND_PID" ] || tnd_fail "tnd_daemon_reload: no daemon running"
	before=$(grep -c -e 'configuration reloaded from' -e 'reload rejected' "$log" 2>/dev/null)
	kill -HUP "$TND_PID" || tnd_fail "cannot signal tenancyd $TND_PID"
	while :; do
		outcome=$(grep -e 'configuration reloaded from' -e 'reload rejected' "$log" 2>/dev/null |
			tail -n +$((before + 1)) | head -n 1)
		[ -z "$outcome" ] || break
		kill -0 "$TND_PID" 2>/dev/null || tnd_fail "tenancyd exited on SIGHUP"
		ticks=$((ticks - 1))
		[ "$ticks" -gt 0 ] || tnd_fail "no reload outcome in $log ${TND_START_TIMEOUT:-30} s after SIGHUP"
		sleep 0.05
	done
	case $outcome in
	*'configuration reloaded from'*) return 0 ;;
	*) return 1 ;;
	esac
}

# --- running things ---------------------------------------------------------------

# tnd_run COMMAND [ARGS...] — run it; set TND_RC, TND_OUT (stdout), TND_ERR
# (stderr).  Redirect stdin at the call site: tnd_run cmd <file.
tnd_run() {
	if "$@" >"$TND_TMP/run.out" 2>"$TND_TMP/run.err"; then
		TND_RC=0
	else
		TND_RC=$?
	fi
	TND_OUT=$(cat "$TND_TMP/run.out")
	TND_ERR=$(cat "$TND_TMP/run.err")
}

# tnd_curl_as TOKEN_FILE METHOD PATH [curl options...] — one request with that
# token (TOKEN_FILE "-": no Authorization header); the body goes to $TND_BODY,
# the status to $TND_HTTP_STATUS, the headers to $TND_HEADERS (see tnd_header).
tnd_curl_as() {
	local token_file=$1 method=$2 path=$3
	local auth=(-H "@$TND_TMP/curl.auth")
	shift 3
	if [ "$token_file" = - ]; then
		auth=()
	else
		# the header goes through a private file: a token on a command line is visible in ps
		(umask 077 && printf 'Authorization: Bearer %s\n' "$(head -n 1 "$token_file")" >"$TND_TMP/curl.auth")
	fi
	# curl leaves -o's file alone when a response has no body (304, HEAD)
	rm -f "$TND_TMP/curl.body" "$TND_TMP/curl.headers"
	TND_HTTP_STATUS=$(curl -sS -o "$TND_TMP/curl.body" -D "$TND_TMP/curl.headers" -w '%{http_code}' \
		-X "$method" "${auth[@]}" "$@" "$TND_URL$path") ||
		tnd_fail "curl $method $path failed"
	TND_BODY=
	[ ! -f "$TND_TMP/curl.body" ] || TND_BODY=$(cat "$TND_TMP/curl.body")
	TND_HEADERS=$(tr -d '\r' <"$TND_TMP/curl.headers")
}

# tnd_header NAME — print the value of header NAME (any case) of the last
# tnd_curl response; nothing if it has none.
tnd_header() {
	printf '%s\n' "$TND_HEADERS" | awk -v name="$1" '
		BEGIN { name = tolower(name) ":" }
		tolower(substr($0, 1, length(name))) == name {
			value = substr($0, length(name) + 1)
			sub(/^[ \t]+/, "", value)
			sub(/[ \t]+$/, "", value)
			found = value
		}
		END { if (found != "") print found }'
}

# tnd_curl METHOD PATH [curl options...] — as tnd_curl_as, with the admin token.
tnd_curl() {
	tnd_curl_as "$TND_ADMIN_TOKEN_FILE" "$@"
}

# tnd_json [-l] POINTER — read JSON on stdin and print the value at the RFC
# 6901 pointer (-l: its length); with no argument only check it is JSON.
# tnd_json -e ARRAY [MEMBER...] prints a line per array element; -s first
# reads a stream of JSON texts (see jsonq.c).
tnd_json() {
	"$top_builddir/tests/integration/jsonq" "$@"
}

# --- waiting for the reconcile engine ------------------------------------------------
#
# With isolation plugins configured (tenancyd --dev has three), a write is
# answered at once and a workflow then brings the data plane and the phase
# along (docs/reconcile.md): right after PUT the phase is still the old one
# and status.conditions holds a Reconciling condition.  A test that needs
# the phase after a write waits for it with these helpers.  They use the
# admin token and leave the tenant's last document in $TND_BODY.
# Tunable: TND_SETTLE_TIMEOUT (seconds, default 60).

# _tnd_tenant_progress ID — GET the tenant; set _tnd_progress to "version
# observedVersion phase desired-phase" and fail the test if a
# ReconcileFailed condition is there (showing the conditions).
_tnd_tenant_progress() {
	local id=$1 version observed phase state
	tnd_curl GET "/v1/tenants/$id"
	[ "$TND_HTTP_STATUS" = 200 ] ||
		tnd_fail "GET /v1/tenants/$id answered $TND_HTTP_STATUS while waiting for it: $TND_BODY"
	IFS=$'\t' read -r version observed phase state < <(printf '[%s]' "$TND_BODY" |
		tnd_json -e "" /metadata/version /status/observedVersion /status/phase /spec/state) ||
		tnd_fail "tenant $id: no version, observedVersion, phase or state in $TND_BODY"
	# the phase is capitalized ("Active"), the desired state is not ("active")
	_tnd_progress="$version $observed $phase ${state^}"
	if printf '%s' "$TND_BODY" | tnd_json -e /status/conditions /type | grep -qx ReconcileFailed; then
		echo "tenant $id (version, observed, phase, desired: $_tnd_progress) has failed to reconcile:" >&2
		printf '%s' "$TND_BODY" | tnd_json /status/conditions >&2
		echo >&2
		tnd_fail "tenant $id: ReconcileFailed"
	fi
}

# _tnd_wait_tenant ID TIMEOUT_S WHAT TEST — poll tenant ID every 50 ms until
# the shell condition TEST (which may use $version $observed $phase
# $desired) holds; fail after TIMEOUT_S naming WHAT.
_tnd_wait_tenant() {
	local id=$1 timeout=$2 what=$3 test=$4 deadline version observed phase desired
	deadline=$(($(date +%s%3N) + timeout * 1000))
	while :; do
		_tnd_tenant_progress "$id"
		read -r version observed phase desired <<<"$_tnd_progress"
		eval "$test" && return 0
		if [ "$(date +%s%3N)" -ge "$deadline" ]; then
			echo "tenant $id after ${timeout} s: version $version, observedVersion $observed, phase $phase," \
				"desired $desired; conditions:" >&2
			printf '%s' "$TND_BODY" | tnd_json /status/conditions >&2
			echo >&2
			tnd_fail "tenant $id is not $what after ${timeout} s"
		fi
		sleep 0.05
	done
}

# tnd_wait_settled ID [TIMEOUT_S] — wait until tenant ID is settled: its
# observedVersion is its version and its phase its desired state.  Fails the
# test with the tenant's conditions on a ReconcileFailed condition or on
# timeout.  $TND_BODY is then the settled tenant.
tnd_wait_settled() {
	# shellcheck disable=SC2016 # evaluated in _tnd_wait_tenant
	_tnd_wait_tenant "$1" "${2:-${TND_SETTLE_TIMEOUT:-60}}" settled \
		'[ "$observed" = "$version" ] && [ "$phase" = "$desired" ]'
}

# tnd_wait_phase ID PHASE [TIMEOUT_S] — wait until tenant ID's phase is PHASE
# (e.g. Active); fails like tnd_wait_settled.  $TND_BODY is then the tenant.
tnd_wait_phase() {
	# shellcheck disable=SC2016 # evaluated in _tnd_wait_tenant
	_tnd_wait_tenant "$1" "${3:-${TND_SETTLE_TIMEOUT:-60}}" "in phase $2" "[ \"\$phase\" = '$2' ]"
}

# tnd_wait_all_settled [QUERY [TIMEOUT_S]] — wait until every tenant that
# GET /v1/tenants?QUERY lists (all pages; e.g. "label=batch=x", or
# "state=deleted" for tombstones) is settled.  Fails the test naming the
# tenants with a ReconcileFailed condition as soon as there are any, or the
# unsettled ones on timeout.  Sets TND_SETTLED_COUNT to the number listed.
tnd_wait_all_settled() {
	local query=${1:-} timeout=${2:-${TND_SETTLE_TIMEOUT:-60}} deadline cursor failed unsettled
	deadline=$(($(date +%s%3N) + timeout * 1000))
	while :; do
		: >"$TND_TMP/settle.rows"
		cursor=
		while :; do
			tnd_curl GET "/v1/tenants?limit=1000${query:+&$query}${cursor:+&cursor=$cursor}"
			[ "$TND_HTTP_STATUS" = 200 ] || tnd_fail "GET /v1/tenants?$query answered $TND_HTTP_STATUS: $TND_BODY"
			# id version observed phase desired conditions-types
			printf '%s' "$TND_BODY" | tnd_json -e /items /metadata/id /metadata/version /status/observedVersion \
				/status/phase /spec/state /status/conditions >>"$TND_TMP/settle.rows" ||
				tnd_fail "GET /v1/tenants?$query: items without version, status or state"
			cursor=$(printf '%s' "$TND_BODY" | tnd_json /nextCursor)
			[ "$cursor" != null ] || break
		done
		TND_SETTLED_COUNT=$(wc -l <"$TND_TMP/settle.rows")
		failed=$(awk -F'\t' 'index($6, "\"ReconcileFailed\"") { print $1 ": " $6 }' "$TND_TMP/settle.rows")
		[ -z "$failed" ] || tnd_fail "tenants failed to reconcile:
$failed"
		# settled: observedVersion is the version and the phase the desired state
		unsettled=$(awk -F'\t' '{ d = toupper(substr($5, 1, 1)) substr($5, 2) }
			$3 != $2 || $4 != d { print $1 " (version " $2 ", observed " $3 ", phase " $4 ", desired " d ")" }' \
			"$TND_TMP/settle.rows")
		[ -n "$unsettled" ] || return 0
		if [ "$(date +%s%3N)" -ge "$deadline" ]; then
			printf '%s\n' "$unsettled" | head -n 20 >&2
			tnd_fail "$(printf '%s\n' "$unsettled" | wc -l) of $TND_SETTLED_COUNT tenants are not settled after $timeout s"
		fi
		sleep 0.2
	done
}

# --- assertions: each prints what was expected and what came ---------------------

_tnd_show_run() {
	[ -n "$TND_RC" ] || return 0
	echo "--- last command: exit status $TND_RC" >&2
	echo "--- stdout:" >&2
	printf '%s\n' "$TND_OUT" | head -n 40 >&2
	echo "--- stderr:" >&2
	printf '%s\n' "$TND_ERR" | head -n 40 >&2
}

# tnd_assert_eq EXPECTED ACTUAL WHAT
tnd_assert_eq() {
	[ "$1" = "$2" ] && return 0
	printf 'expected %s to be:\n  %s\ngot:\n  %s\n' "$3" "$1" "$2" >&2
	_tnd_show_run
	tnd_fail "$3"
}

# tnd_assert_contains HAYSTACK NEEDLE WHAT — fixed-string match.
tnd_assert_contains() {
	case $1 in *"$2"*) return 0 ;; esac
	printf 'expected %s to contain:\n  %s\ngot:\n%s\n' "$3" "$2" "$1" >&2
	_tnd_show_run
	tnd_fail "$3"
}

# tnd_assert_not_contains HAYSTACK NEEDLE WHAT
tnd_assert_not_contains() {
	case $1 in *"$2"*) ;; *) return 0 ;; esac
	printf 'expected %s NOT to contain:\n  %s\ngot:\n%s\n' "$3" "$2" "$1" >&2
	_tnd_show_run
	tnd_fail "$3"
}

# tnd_assert_match TEXT EXTENDED-REGEX WHAT — some line of TEXT matches.
tnd_assert_match() {
	printf '%s\n' "$1" | grep -Eq -- "$2" && return 0
	printf 'expected a line of %s to match:\n  %s\ngot:\n%s\n' "$3" "$2" "$1" >&2
	_tnd_show_run
	tnd_fail "$3"
}

# tnd_assert_problem STATUS TYPE WHAT — the last tnd_curl answered with an RFC
# 9457 problem: that status, Content-Type application/problem+json, "type"
# urn:tenancyd:problem:TYPE, a matching "status" member, and the request id
# of the X-Request-Id header in "requestId".
tnd_assert_problem() {
	local status=$1 type=$2 what=$3 rid
	if [ "$TND_HTTP_STATUS" != "$status" ]; then
		printf 'body: %s\n' "$TND_BODY" >&2
		tnd_assert_eq "$status" "$TND_HTTP_STATUS" "$what: HTTP status"
	fi
	tnd_assert_eq application/problem+json "$(tnd_header Content-Type)" "$what: Content-Type"
	tnd_assert_eq "urn:tenancyd:problem:$type" "$(printf '%s' "$TND_BODY" | tnd_json /type)" "$what: problem type"
	tnd_assert_eq "$status" "$(printf '%s' "$TND_BODY" | tnd_json /status)" "$what: problem status"
	rid=$(tnd_header X-Request-Id)
	[ -n "$rid" ] || tnd_fail "$what: no X-Request-Id header"
	tnd_assert_eq "$rid" "$(printf '%s' "$TND_BODY" | tnd_json /requestId)" "$what: problem requestId"
}

# tnd_assert_rc EXPECTED WHAT — the exit status of the last tnd_run.
tnd_assert_rc() {
	[ "$TND_RC" = "$1" ] && return 0
	printf 'expected %s to exit with %s, got %s\n' "$2" "$1" "$TND_RC" >&2
	_tnd_show_run
	tnd_fail "$2"
}
