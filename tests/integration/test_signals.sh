#!/bin/bash
# test_signals.sh — how operators drive tenancyd: `tenancyd -t` on good and
# broken configs (exit status, "file:line: cause"), --list-plugins, usage
# errors; SIGHUP with a good change and with broken files (the old config
# stays); SIGUSR1 after log rotation; a second daemon on the same pid file;
# SIGTERM while requests are in flight (drain, exit 0, /readyz 503, the
# workers gone, the interrupted workflows resumed after a restart), and a
# drain cut short by drain_timeout.
# shellcheck disable=SC2119 # lib functions with optional arguments
set -u
. "$top_srcdir/tests/integration/lib.sh"

tnd_require_cmd curl
tnd_setup

tenancyd=$top_builddir/tenancyd

# now_ms — milliseconds on the wall clock.
now_ms() {
	date +%s%3N
}

json() {
	printf '%s' "$TND_BODY" | tnd_json "$@"
}

plan_codes() {
	tnd_curl GET /v1/plans
	tnd_assert_eq 200 "$TND_HTTP_STATUS" "GET /v1/plans"
	json -e /items /code | tr '\n' ' '
}

# --- tenancyd -t ----------------------------------------------------------------

tnd_step "tenancyd -t accepts the generated config"
# --dev with -t writes a dev state dir (tokens, tenancyd.conf) and checks it
tnd_run "$tenancyd" --dev --state-dir "$TND_TMP/check" --listen 127.0.0.1:0 -t
tnd_assert_rc 0 "tenancyd --dev -t"
good=$TND_TMP/check/tenancyd.conf
[ -f "$good" ] || tnd_fail "tenancyd --dev -t wrote no $good"
tnd_run "$tenancyd" -t -c "$good"
tnd_assert_rc 0 "tenancyd -t -c tenancyd.conf"
# the storage plugin and the three isolation plugins of the embedded data plane
tnd_assert_eq "$good: configuration ok (5 region(s), 3 plan(s), 4 plugin(s))" "$TND_OUT" "-t verdict"
tnd_assert_eq "" "$TND_ERR" "-t of a good config prints no warning"
tnd_run "$tenancyd" --test-config --config "$good"
tnd_assert_rc 0 "long options --test-config --config"

tnd_step "tenancyd -t names file:line and the cause"
# check_bad NAME SED-EXPR LINE-PATTERN CAUSE — break a copy of the good config
# with SED-EXPR; -t must exit 1 with "<file>:<line of LINE-PATTERN>: CAUSE".
check_bad() {
	local name=$1 expr=$2 pattern=$3 cause=$4 file=$TND_TMP/$1.conf line
	sed "$expr" "$good" >"$file"
	cmp -s "$good" "$file" && tnd_hard_error "$name: the sed expression changed nothing"
	line=$(grep -n -- "$pattern" "$file" | head -n 1 | cut -d: -f1)
	[ -n "$line" ] || tnd_hard_error "$name: no line matches $pattern"
	tnd_run "$tenancyd" -t -c "$file"
	tnd_assert_rc 1 "tenancyd -t on a config with $name"
	tnd_assert_contains "$TND_ERR" "$file:$line: $cause" "-t message for $name"
	tnd_assert_not_contains "$TND_OUT" "configuration ok" "-t verdict for $name"
}
check_bad syntax-error 's/workers = 2;/workers = = 2;/' 'workers = =' "syntax error"
check_bad unknown-key 's/workers = 2;/workers = 2;\n  bogus_key = 1;/' bogus_key "unknown setting 'daemon.bogus_key'"
check_bad unknown-section 's/^api: {$/apis: { listen = "127.0.0.1:0"; };\napi: {/' '^apis' "unknown setting 'apis'"
check_bad wrong-type 's/workers = 2;/workers = "two";/' 'workers = "two"' "'daemon.workers' must be an integer, not a string"
check_bad wrong-type-bool 's/enabled = true; standby = "eu-central-1"/enabled = "yes"; standby = "eu-central-1"/' \
	'enabled = "yes"' "'regions[0].enabled' must be a boolean"
check_bad out-of-range 's/workers = 2;/workers = 1000;/' 'workers = 1000' "'daemon.workers' is 1000, must be between 0 and 64"
check_bad small-body-limit 's/^api: {$/api: {\n  max_body_bytes = 10;/' max_body_bytes "'api.max_body_bytes' is 10, must be between 1024 and 67108864"
check_bad bad-listen 's/listen = "127.0.0.1:0"/listen = "localhost:80"/' 'listen = "localhost' "'api.listen' is 'localhost:80', want <IPv4 address>:<port>"
check_bad bad-log-level 's/log_level = "info"/log_level = "chatty"/' chatty "'daemon.log_level' is 'chatty', want error, warning, notice, info or debug"
check_bad missing-tokens 's|tokens_file = "[^"]*"|tokens_file = "no-such-tokens"|' tokens_file \
	"api.tokens_file: $TND_TMP/no-such-tokens: No such file or directory"
check_bad unknown-residency 's/default_residency = "eu"; *$/default_residency = "mars";/' mars \
	"default_residency 'mars' of plan 'free' is not the residency of any region (known: eu, us, apac)"
check_bad unknown-standby 's/standby = "eu-central-1"/standby = "eu-nowhere-1"/' eu-nowhere-1 \
	"standby region 'eu-nowhere-1' of region 'eu-west-1' is not defined in 'regions'"

# open tokens: the file holds the only credentials, so others may not read it
cp "$TND_TMP/check/tokens" "$TND_TMP/open-tokens"
chmod 644 "$TND_TMP/open-tokens"
sed "s|tokens_file = \"[^\"]*\"|tokens_file = \"$TND_TMP/open-tokens\"|" "$good" >"$TND_TMP/open.conf"
tnd_run "$tenancyd" -t -c "$TND_TMP/open.conf"
tnd_assert_rc 1 "tenancyd -t with a world-readable tokens file"
tnd_assert_match "$TND_ERR" "open.conf:[0-9]+: api.tokens_file: .*open-tokens" "the tokens file refusal names both files"
tnd_run "$tenancyd" -t -c "$TND_TMP/no-such.conf"
tnd_assert_rc 1 "tenancyd -t on a missing file"
tnd_assert_contains "$TND_ERR" "$TND_TMP/no-such.conf: No such file or directory" "missing config file"

tnd_step "--list-plugins and --version"
tnd_run "$tenancyd" -V
tnd_assert_rc 0 "tenancyd -V"
tnd_assert_match "$TND_OUT" '^tenancyd [0-9]+\.[0-9]+\.[0-9]+ \(plugin ABI [0-9]+\.[0-9]+\)$' "version line"
version=$(printf '%s\n' "$TND_OUT" | cut -d' ' -f2)
abi=$(printf '%s\n' "$TND_OUT" | sed 's/.*plugin ABI \([0-9.]*\)).*/\1/')
tnd_run "$tenancyd" --list-plugins -c "$good"
tnd_assert_rc 0 "tenancyd --list-plugins"
tnd_assert_match "$TND_OUT" '^NAME +KIND +VERSION +ABI +FILE$' "plugin table header"
tnd_assert_match "$TND_OUT" "^sqlite +storage +${version//./\\.} +${abi//./\\.} +/.*/sqlite\\.so\$" "the sqlite plugin's row"
for plugin in embedded_shared_schema embedded_dedicated_db embedded_hybrid; do
	tnd_assert_match "$TND_OUT" "^$plugin +isolation +${version//./\\.} +${abi//./\\.} +/.*/$plugin\\.so\$" \
		"the $plugin plugin's row"
done
tnd_assert_eq 5 "$(printf '%s\n' "$TND_OUT" | wc -l)" "four plugins configured, a header and four rows"
tnd_run "$tenancyd" --list-plugins -c "$TND_TMP/unknown-key.conf"
tnd_assert_rc 1 "--list-plugins with a broken config"
tnd_assert_contains "$TND_ERR" "unknown setting 'daemon.bogus_key'" "--list-plugins names the config error"

tnd_step "usage errors exit 2"
for args in "--bogus" "--listen 127.0.0.1:0" "--state-dir $TND_TMP/x" "extra-argument" "-c $good --dev" "-c"; do
	# shellcheck disable=SC2086 # split on purpose
	tnd_run "$tenancyd" $args
	tnd_assert_rc 2 "tenancyd $args"
	tnd_assert_contains "$TND_ERR" "tenancyd" "usage message for '$args'"
done
tnd_run "$tenancyd" --help
tnd_assert_rc 0 "tenancyd --help"
tnd_assert_contains "$TND_OUT" "Usage: tenancyd" "help text"
[ ! -e "$TND_TMP/x" ] || tnd_fail "a refused --state-dir was created"

# --- SIGHUP ---------------------------------------------------------------------------

tnd_daemon_start
conf=$TND_STATE/tenancyd.conf

tnd_step "SIGHUP with a good change"
tnd_assert_eq "free business enterprise " "$(plan_codes)" "plans before the reload"
cp "$conf" "$TND_TMP/conf.orig"
sed -i 's/^  { code = "enterprise";/  { code = "startup"; description = "Added by SIGHUP";\n    isolation = [ "shared" ]; default_isolation = "shared"; default_residency = "us";\n    quotas:     { compute_units = 2; storage_gb = 10; events_per_minute = 100; concurrent_operations = 1; };\n    max_quotas: { compute_units = 4; storage_gb = 20; events_per_minute = 200; concurrent_operations = 2; }; },\n&/' "$conf"
tnd_daemon_reload || tnd_fail "the daemon rejected a good config"
tnd_assert_eq "free business startup enterprise " "$(plan_codes)" "plans after the reload"
tnd_curl GET /v1/plans
tnd_assert_eq "Added by SIGHUP	us	2" "$(json -e /items /description /defaultResidency /quotas/computeUnits | sed -n 3p)" \
	"the new plan's details"
tnd_curl PUT /v1/tenants/sighup-co -H 'Content-Type: application/yaml' \
	--data-binary $'apiVersion: tenancy/v1\nkind: Tenant\nmetadata: {id: sighup-co}\nspec: {plan: startup}\n'
tnd_assert_eq 201 "$TND_HTTP_STATUS" "apply with the new plan"
tnd_assert_eq "us" "$(json /spec/placement/residency)" "the new plan's default residency"
kill -0 "$TND_PID" || tnd_fail "the daemon died on SIGHUP"
cp "$conf" "$TND_TMP/conf.good"

tnd_step "SIGHUP with a broken config keeps the old one"
# reload_bad NAME SED-EXPR LINE-PATTERN CAUSE
reload_bad() {
	local name=$1 line
	cp "$TND_TMP/conf.good" "$conf"
	sed -i "$2" "$conf"
	cmp -s "$TND_TMP/conf.good" "$conf" && tnd_hard_error "$name: the sed expression changed nothing"
	line=$(grep -n -- "$3" "$conf" | head -n 1 | cut -d: -f1)
	[ -n "$line" ] || tnd_hard_error "$name: no line matches $3"
	if tnd_daemon_reload; then
		tnd_fail "the daemon accepted a config with $name"
	fi
	tnd_assert_match "$(grep 'reload rejected' "$TND_DAEMON_LOG" | tail -n 1)" \
		"\"level\":\"error\".*the previous configuration stays in force: ${conf//./\\.}:$line: $4" \
		"the log names file:line and the cause of $name"
	kill -0 "$TND_PID" || tnd_fail "the daemon died on SIGHUP with $name"
	tnd_assert_eq "free business startup enterprise " "$(plan_codes)" "plans after the rejected $name"
}
reload_bad "a syntax error" 's/^  { code = "startup";/  { code = = "startup";/' 'code = = ' "syntax error"
reload_bad "an unknown key" 's/^api: {$/api: {\n  max_bodies = 5;/' max_bodies "unknown setting 'api.max_bodies'"
reload_bad "an out-of-range value" 's/^api: {$/api: {\n  drain_timeout = 601;/' drain_timeout \
	"'api.drain_timeout' is 601, must be between 0 and 600"
# the whole file is judged before anything changes: a good new plan next to an
# error must not slip in
reload_bad "a new plan and an error" \
	's/^  { code = "startup";/  { code = "half"; isolation = [ "shared" ]; default_isolation = "shared"; default_residency = "eu";\n    quotas: { compute_units = 1; storage_gb = 1; events_per_minute = 1; concurrent_operations = 1; };\n    max_quotas: { compute_units = 1; storage_gb = 1; events_per_minute = 1; concurrent_operations = 1; }; },\n&/; s/workers = 2;/workers = -1;/' \
	'workers = -1' "'daemon.workers' is -1"
cp "$TND_TMP/conf.good" "$conf"
# a broken tokens file: the old tokens stay in force
cp "$TND_STATE/tokens" "$TND_TMP/tokens.good"
printf 'broken-line-without-role\n' >>"$TND_STATE/tokens"
if tnd_daemon_reload; then
	tnd_fail "the daemon accepted a broken tokens file"
fi
tnd_assert_match "$(grep 'reload rejected' "$TND_DAEMON_LOG" | tail -n 1)" "${TND_STATE//./\\.}/tokens:[0-9]+: " \
	"the log names the tokens file and line"
tnd_curl GET /v1/tenants/sighup-co
tnd_assert_eq 200 "$TND_HTTP_STATUS" "the admin token still works after a rejected tokens file"
cp "$TND_TMP/tokens.good" "$TND_STATE/tokens"
tnd_daemon_reload || tnd_fail "the daemon rejected the restored config"
tnd_assert_eq "free business startup enterprise " "$(plan_codes)" "plans after the good reload"

# --- SIGUSR1 ----------------------------------------------------------------------------

tnd_step "SIGUSR1 reopens the log file after rotation"
# (a refused write is always logged at info; reads are logged at debug)
mkdir "$TND_TMP/logs"
log=$TND_TMP/logs/tenancyd.log
sed -i "s|log_file = \"-\";|log_file = \"$log\";|" "$conf"
grep -q "log_file = \"$log\"" "$conf" || tnd_hard_error "could not set daemon.log_file"
tnd_daemon_reload "$log" || tnd_fail "the daemon rejected daemon.log_file"
tnd_curl DELETE /v1/nothing -H 'X-Request-Id: usr1-before-rotation'
tnd_assert_contains "$(cat "$log")" usr1-before-rotation "a request logged to the new log file"
mv "$log" "$log.1"
tnd_curl DELETE /v1/nothing -H 'X-Request-Id: usr1-after-move'
tnd_assert_contains "$(cat "$log.1")" usr1-after-move "before SIGUSR1 the moved file still gets the lines"
[ ! -e "$log" ] || tnd_fail "$log exists before SIGUSR1"
kill -USR1 "$TND_PID"
ticks=100
until [ -s "$log" ] && grep -q 'SIGUSR1: log file reopened' "$log"; do
	ticks=$((ticks - 1))
	[ "$ticks" -gt 0 ] || tnd_fail "no 'log file reopened' in a new $log after SIGUSR1"
	sleep 0.05
done
tnd_curl DELETE /v1/nothing -H 'X-Request-Id: usr1-after-reopen'
tnd_assert_contains "$(cat "$log")" usr1-after-reopen "after SIGUSR1 lines go to the new file"
tnd_assert_not_contains "$(cat "$log.1")" usr1-after-reopen "the rotated file gets no more lines"
tnd_assert_not_contains "$(cat "$log.1")" 'SIGUSR1' "the reopen notice is in the new file only"
printf '%s\n' "$(tail -n 3 "$log")" | tnd_json -s || tnd_fail "the new log file is not JSON lines"
tnd_assert_eq 640 "$(stat -c %a "$log")" "mode of the reopened log file"
kill -0 "$TND_PID" || tnd_fail "the daemon died on SIGUSR1"

tnd_step "a second daemon on the same pid file or state dir fails, the first keeps running"
tnd_daemon_stop
pidfile=$TND_TMP/run/tenancyd.pid
mkdir "$TND_TMP/run"
cp "$TND_TMP/conf.good" "$TND_TMP/pid.conf"
sed -i "s|^daemon: {\$|daemon: {\n  pid_file = \"$pidfile\";|" "$TND_TMP/pid.conf"
tnd_daemon_start_config "$TND_TMP/pid.conf"
tnd_assert_eq "$TND_PID" "$(cat "$pidfile")" "the pid file names the daemon"
first_url=$TND_URL
# same pid file, another state dir: the pid file refuses it
sed "s|^  state_dir = .*|  state_dir = \"$TND_TMP/state2\";|" "$TND_TMP/pid.conf" >"$TND_TMP/pid2.conf"
grep -q "state2" "$TND_TMP/pid2.conf" || tnd_hard_error "could not point pid2.conf at another state dir"
tnd_run timeout 20 "$tenancyd" -f -c "$TND_TMP/pid2.conf"
tnd_assert_rc 1 "a second daemon (foreground) on the same pid file"
tnd_assert_contains "$TND_ERR" "another tenancyd holds $pidfile (pid $TND_PID)" "the second daemon says why"
tnd_run timeout 20 "$tenancyd" -c "$TND_TMP/pid2.conf"
tnd_assert_rc 1 "a second daemon (detaching) on the same pid file"
tnd_assert_contains "$TND_ERR" "another tenancyd holds $pidfile (pid $TND_PID)" "the detaching second daemon says why"
# same state dir: refused before it touches anything there
tnd_run timeout 20 "$tenancyd" -f -c "$TND_TMP/pid.conf"
tnd_assert_rc 1 "a second daemon on the same state dir"
tnd_assert_contains "$TND_ERR" "another tenancyd (pid $TND_PID) is using the state directory $TND_STATE" \
	"the second daemon names the state dir's holder"
before=$(cat "$TND_STATE/tenancyd.conf" "$TND_STATE/tokens" "$TND_STATE/admin.token" | sha256sum)
tnd_run timeout 20 "$tenancyd" --dev --state-dir "$TND_STATE" --listen 127.0.0.1:0
tnd_assert_rc 1 "a second --dev server on the same state dir"
tnd_assert_contains "$TND_ERR" "is using the state directory" "the second --dev server says why"
tnd_assert_eq "$before" "$(cat "$TND_STATE/tenancyd.conf" "$TND_STATE/tokens" "$TND_STATE/admin.token" | sha256sum)" \
	"the second --dev server rewrote neither config nor tokens"
tnd_assert_eq "$TND_PID" "$(cat "$pidfile")" "the pid file still names the first daemon"
tnd_assert_eq "$first_url" "$(head -n 1 "$TND_STATE/api.url")" "api.url still names the first daemon"
tnd_assert_eq 200 "$(tnd_http_status /readyz)" "the first daemon still serves"
tnd_daemon_stop
[ ! -e "$pidfile" ] || tnd_fail "the pid file is left behind after a clean stop"

# --- SIGTERM -------------------------------------------------------------------------------

# slow_manifest ID — a YAML manifest of about 3 kB (a comment pads it), which
# curl --limit-rate 500 takes about six seconds to upload.
slow_manifest() {
	printf 'apiVersion: tenancy/v1\nkind: Tenant\nmetadata: {id: %s, labels: {batch: drain}}\nspec: {plan: free}\n# ' "$1"
	head -c 3000 /dev/zero | tr '\0' '.'
	printf '\n'
}

# start_apply N ID RATE — PUT ID in the background (pid in pids[N]); the status
# goes to apply.N.code, curl's exit status to apply.N.rc, the body to apply.N.body.
start_apply() {
	local n=$1 id=$2 rate=$3
	slow_manifest "$id" >"$TND_TMP/apply.$n.yaml"
	(
		curl -sS -o "$TND_TMP/apply.$n.body" -w '%{http_code}' --max-time 60 --limit-rate "$rate" -X PUT \
			-H "@$TND_TMP/admin.auth" -H 'Content-Type: application/yaml' --data-binary "@$TND_TMP/apply.$n.yaml" \
			"$TND_URL/v1/tenants/$id" >"$TND_TMP/apply.$n.code" 2>"$TND_TMP/apply.$n.err"
		echo $? >"$TND_TMP/apply.$n.rc"
	) &
	pids[n]=$!
}

# await_connections N — wait until the daemon has accepted N connections
# that are still open, so the applies are all in flight before the signal
# however slowly this machine started them.  From /proc/net/tcp: the
# established connections on the daemon's port, and its listening socket's
# accept queue (rx_queue of a LISTEN line), which must be empty.
await_connections() {
	local port ticks=1200 n queued
	port=$(printf '%04X' "${TND_URL##*:}")
	while :; do
		n=$(awk -v port=":$port" 'substr($2, length($2) - 4) == port && $4 == "01"' /proc/net/tcp | wc -l)
		queued=$(awk -v port=":$port" 'substr($2, length($2) - 4) == port && $4 == "0A" { split($5, q, ":"); print q[2] }' \
			/proc/net/tcp)
		[ "$n" -lt "$1" ] || [ "$queued" != 00000000 ] || return 0
		ticks=$((ticks - 1))
		[ "$ticks" -gt 0 ] || tnd_fail "only $n of $1 connections to the daemon (accept queue $queued) after 60 s"
		sleep 0.05
	done
}

# sigterm_and_time — SIGTERM the daemon, wait for it; set exit_status and
# drain_ms (time from the signal to the exit).
sigterm_and_time() {
	local start workers
	workers=$(_tnd_children "$TND_PID")
	[ -n "$workers" ] || tnd_fail "tenancyd $TND_PID runs no worker processes"
	start=$(now_ms)
	kill -TERM "$TND_PID"
	_tnd_wait_gone "$TND_PID" 60 || tnd_fail "tenancyd still runs 60 s after SIGTERM"
	drain_ms=$(($(now_ms) - start))
	wait "$TND_PID"
	exit_status=$?
	TND_PID=
	# shellcheck disable=SC2086 # one pid a word
	_tnd_workers_gone "after the drain" $workers
}

tnd_step "SIGTERM drains 50 in-flight applies and exits 0"
tnd_daemon_restart
# room for a slow machine: the uploads take up to 6 s
sed -i 's/^api: {$/api: {\n  drain_timeout = 30;/' "$conf"
tnd_daemon_reload || tnd_fail "the daemon rejected api.drain_timeout = 30"
(umask 077 && printf 'Authorization: Bearer %s\n' "$(head -n 1 "$TND_ADMIN_TOKEN_FILE")" >"$TND_TMP/admin.auth")
# /readyz over one keep-alive connection, 50 times a second, from before the
# signal until the daemon closes the connection
curl -s --rate 50/s --fail-early -o /dev/null -w '%{http_code}\n' "$TND_URL/readyz?probe=[1-1500]" \
	>"$TND_TMP/readyz.codes" 2>/dev/null &
readyz_pid=$!
pids=()
for n in $(seq 1 50); do
	# 3.5 to 6 s of upload each: they finish one after another during the drain
	start_apply "$n" "$(printf 'drain-%02d' "$n")" $((500 + (n % 5) * 100))
done
await_connections 51 # the applies and the /readyz probe
# accepted is not yet counted in flight: MHD has to read the request line
sleep 0.5
sigterm_and_time
tnd_assert_eq 0 "$exit_status" "exit status after draining"
echo "SIGTERM to exit: $drain_ms ms (drain_timeout 30 s)"
[ "$drain_ms" -le 32000 ] || tnd_fail "the drain took $drain_ms ms, more than drain_timeout (30 s) allows"
wait "${pids[@]}"
kill "$readyz_pid" 2>/dev/null
wait "$readyz_pid" 2>/dev/null
answered=0 created=0
: >"$TND_TMP/drain.created"
for n in $(seq 1 50); do
	code=$(cat "$TND_TMP/apply.$n.code") rc=$(cat "$TND_TMP/apply.$n.rc")
	[ "$code" = 000 ] && continue
	answered=$((answered + 1))
	# a request that got a response got all of it
	[ "$rc" = 0 ] || tnd_fail "apply $n: status $code but curl exit $rc ($(cat "$TND_TMP/apply.$n.err"))"
	tnd_json </"$TND_TMP/apply.$n.body" || tnd_fail "apply $n: the body of its $code is not complete JSON"
	tnd_assert_eq 201 "$code" "status of in-flight apply $n"
	created=$((created + 1))
	tnd_json /metadata/id <"$TND_TMP/apply.$n.body" >>"$TND_TMP/drain.created"
done
echo "in-flight applies: $answered of 50 answered, $created created"
tnd_assert_eq 50 "$answered" "every apply in flight before SIGTERM was answered"
tnd_assert_contains "$(cat "$TND_DAEMON_LOG")" "SIGTERM: draining" "the drain is logged"
tnd_assert_not_contains "$(cat "$TND_DAEMON_LOG")" "drain timeout" "no request was cut off"
codes=$(tr '\n' ' ' <"$TND_TMP/readyz.codes")
tnd_assert_match "$codes" '^200 ' "/readyz answered 200 before SIGTERM"
case $codes in
*503*)
	# once draining, /readyz says so and never goes back to 200
	tnd_assert_match "$codes" '^(200 )+(503 )+(000 )*$' "/readyz: 200 until the drain, then 503"
	echo "/readyz during the drain: $(grep -c '^503$' "$TND_TMP/readyz.codes") x 503" ;;
*)
	echo "note: no /readyz probe landed in the drain window (codes: $(sort "$TND_TMP/readyz.codes" | uniq -c | tr '\n' ' '))" ;;
esac

tnd_step "after the drain every acknowledged apply is there, and is reconciled"
tnd_daemon_restart
tnd_curl GET '/v1/tenants?label=batch=drain&limit=1000'
tnd_assert_eq "$(sort "$TND_TMP/drain.created")" "$(json -e /items /metadata/id)" "tenants after the restart"
# workflows the stop interrupted resume from their checkpoints
tnd_wait_all_settled label=batch=drain
tnd_assert_eq "$created" "$TND_SETTLED_COUNT" "settled drain tenants"

tnd_step "drain_timeout cuts off what is still running, and the exit is still 0"
sed -i 's/^api: {$/api: {\n  drain_timeout = 1;/' "$conf"
tnd_daemon_reload || tnd_fail "the daemon rejected api.drain_timeout = 1"
pids=()
for n in 1 2 3 4 5; do
	start_apply "$n" "$(printf 'cut-%02d' "$n")" 300 # about 10 s
done
await_connections 5
sleep 0.5
sigterm_and_time
tnd_assert_eq 0 "$exit_status" "exit status after a drain timeout"
echo "SIGTERM to exit with drain_timeout 1 s and 5 slow uploads: $drain_ms ms"
[ "$drain_ms" -ge 900 ] || tnd_fail "the daemon exited after $drain_ms ms, before drain_timeout"
[ "$drain_ms" -le 4000 ] || tnd_fail "the daemon took $drain_ms ms to exit with drain_timeout 1 s"
tnd_assert_match "$(cat "$TND_DAEMON_LOG")" 'drain timeout: 5 request\(s\) still in flight are cut off' \
	"the cut-off requests are logged"
wait "${pids[@]}"
for n in 1 2 3 4 5; do
	code=$(cat "$TND_TMP/apply.$n.code")
	case $code in
	2*) tnd_fail "cut-off apply $n got $code" ;;
	000) ;;
	*)
		tnd_assert_eq 0 "$(cat "$TND_TMP/apply.$n.rc")" "cut-off apply $n: a response is complete"
		tnd_json </"$TND_TMP/apply.$n.body" || tnd_fail "cut-off apply $n: incomplete $code" ;;
	esac
done
tnd_daemon_restart
tnd_curl GET '/v1/tenants?label=batch=drain&limit=1000'
tnd_assert_not_contains "$(json -e /items /metadata/id)" cut- "no cut-off apply was applied"
tnd_daemon_stop
tnd_pass
