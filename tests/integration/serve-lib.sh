# Helpers of the tests of `orchestrator serve`, sourced by
# tests/integration/serve-*.sh after (and on top of) lib.sh.
#
# - serve_start [ARGS...] starts the daemon in the background on a free
#   loopback port (--listen 127.0.0.1:0) with the temp dir's database
#   ($DB), buckets ($T/buckets) and workflow folder ($WF, made here), plus
#   ARGS; its stderr goes to $T/serve-N.log (N counts the starts). It
#   reads the port from the "listening on" line and waits until /healthz
#   answers 200, both bounded (SERVE_START_TIMEOUT seconds, default 15).
#   It sets SERVE_PID, SERVE_PORT, SERVE_LOG and URL; the environment of
#   the call (ORCH_API_TOKEN, secrets) is the daemon's.
# - serve_stop [SIGNAL] sends SIGNAL (default TERM) and waits at most
#   SERVE_STOP_TIMEOUT seconds (default 20) for the exit, then kills it;
#   SERVE_RC gets the exit code (137 when it had to be killed).
# - serve_kill: SIGKILL, no questions asked.
# - The daemon is killed when the test exits, whatever happens.
# - req METHOD PATH [CURL ARGS...]: one request, bounded; CODE gets the
#   status ("000" when there was no answer), $T/body the body (BODY its
#   text), $T/headers the headers. The API token ($API_TOKEN, when set)
#   goes along unless NOAUTH=1.
# - header NAME: a header of the last answer (case-insensitive).
# - py_service_start NAME SCRIPT: starts tests/integration/SCRIPT, a
#   Python server taking LOG PORTFILE, with $T/NAME.jsonl and
#   $T/NAME.port, its stderr in $T/NAME.err; waits (bounded) for its port;
#   sets PY_PID and PY_PORT. The caller stops it.
# - sink_start: starts tests/integration/sink.py (its environment is the
#   sink's: SINK_DELAY_MS) recording to $T/sink.jsonl; sets SINK_PID and
#   SP (its port); it is killed when the test exits.
# - test_clock_init: the daemons of this test read the time from
#   $T/clock (ORCH_TEST_CLOCK_FILE); clock MINUTES SECONDS then sets it
#   to T0 (2030-01-01T00:00:00Z, in ms) + that; MIN is a minute in ms.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v curl >/dev/null || skip "curl is not installed"

WF=$T/wf
mkdir -p "$WF"
SERVE_PID=
SERVE_PORT=
SERVE_LOG=
SERVE_STARTS=0
SERVE_RC=
URL=
CODE=
BODY=
API_TOKEN=${API_TOKEN:-}

# The port in the daemon's "listening on" line.
SERVE_PORT_SED='s/^orchestrator: listening on http:\/\/127\.0\.0\.1:'
SERVE_PORT_SED=$SERVE_PORT_SED'\([0-9][0-9]*\) .*/\1/p'

# test_clock_init: see above.
test_clock_init() {
	export ORCH_TEST_CLOCK_FILE=$T/clock
	T0=1893456000000
	MIN=60000
}

# clock MINUTES SECONDS: see above.
clock() {
	echo $((T0 + $1 * MIN + $2 * 1000)) >"$ORCH_TEST_CLOCK_FILE.tmp"
	mv "$ORCH_TEST_CLOCK_FILE.tmp" "$ORCH_TEST_CLOCK_FILE"
}

# Kills the daemon (if any) before lib.sh's cleanup.
serve_cleanup() {
	if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
		kill -9 "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
	fi
	SERVE_PID=
}
SINK_PID=
trap 'serve_cleanup; [ -z "$SINK_PID" ] || kill "$SINK_PID" 2>/dev/null; lib_cleanup' EXIT

# py_service_start NAME SCRIPT: see above.
py_service_start() {
	local i
	python3 "$TOP_SRCDIR/tests/integration/$2" "$T/$1.jsonl" \
	    "$T/$1.port" 2>"$T/$1.err" &
	PY_PID=$!
	for i in $(seq 1 100); do
		[ -s "$T/$1.port" ] && break
		sleep 0.05
	done
	PY_PORT=$(cat "$T/$1.port" 2>/dev/null)
	[ -n "$PY_PORT" ] ||
		hard_error "the $1 did not start: $(cat "$T/$1.err")"
}

# sink_start: see above.
sink_start() {
	py_service_start sink sink.py
	SINK_PID=$PY_PID
	SP=$PY_PORT
}

# serve_start [ARGS...]: see above. Returns 1 (and counts a failure) when
# the daemon does not come up.
serve_start() {
	local i port=
	SERVE_STARTS=$((SERVE_STARTS + 1))
	SERVE_LOG=$T/serve-$SERVE_STARTS.log
	"$ORCH_BIN" serve --workflows "$WF" --db "$DB" \
	    --buckets "$T/buckets" --listen 127.0.0.1:0 "$@" \
	    2>"$SERVE_LOG" &
	SERVE_PID=$!
	for i in $(seq 1 $((${SERVE_START_TIMEOUT:-15} * 20))); do
		port=$(sed -n "$SERVE_PORT_SED" "$SERVE_LOG" | head -n 1)
		[ -n "$port" ] && break
		if ! kill -0 "$SERVE_PID" 2>/dev/null; then
			wait "$SERVE_PID" 2>/dev/null
			fail "serve start #$SERVE_STARTS: the daemon exited" \
			    "with $? before listening; its log:" \
			    "$(head -c 2000 "$SERVE_LOG")"
			SERVE_PID=
			return 1
		fi
		sleep 0.05
	done
	if [ -z "$port" ]; then
		fail "serve start #$SERVE_STARTS: no \"listening on\" line" \
		    "within ${SERVE_START_TIMEOUT:-15} s; log:" \
		    "$(head -c 2000 "$SERVE_LOG")"
		serve_cleanup
		return 1
	fi
	SERVE_PORT=$port
	URL=http://127.0.0.1:$port
	for i in $(seq 1 $((${SERVE_START_TIMEOUT:-15} * 10))); do
		req GET /healthz
		[ "$CODE" = 200 ] && return 0
		sleep 0.1
	done
	fail "serve start #$SERVE_STARTS: /healthz answers $CODE, not 200"
	return 1
}

# serve_stop [SIGNAL]: see above.
serve_stop() {
	local sig=${1:-TERM} i
	SERVE_RC=
	[ -n "$SERVE_PID" ] || return 0
	kill -s "$sig" "$SERVE_PID" 2>/dev/null
	for i in $(seq 1 $((${SERVE_STOP_TIMEOUT:-20} * 20))); do
		kill -0 "$SERVE_PID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$SERVE_PID" 2>/dev/null; then
		kill -9 "$SERVE_PID" 2>/dev/null
	fi
	wait "$SERVE_PID" 2>/dev/null
	SERVE_RC=$?
	SERVE_PID=
}

serve_kill() {
	serve_stop KILL
}

# req METHOD PATH [CURL ARGS...]: see above.
req() {
	local method=$1 path=$2 auth=()
	shift 2
	if [ -n "$API_TOKEN" ] && [ -z "${NOAUTH:-}" ]; then
		auth=(-H "Authorization: Bearer $API_TOKEN")
	fi
	: >"$T/body"
	: >"$T/headers"
	CODE=$(curl -s -X "$method" --max-time "${REQ_TIMEOUT:-20}" \
	    -o "$T/body" -D "$T/headers" -w '%{http_code}' \
	    "${auth[@]}" "$@" "$URL$path" 2>/dev/null)
	[ -n "$CODE" ] || CODE=000
	BODY=$(cat "$T/body")
	LAST_CMD="$method $path $*"
	LAST_RC=$CODE
	LAST_SHOWN=
	cp "$T/body" "$OUT"
	cp "$T/headers" "$ERR"
}

# header NAME: the value of a header of the last answer.
header() {
	tr -d '\r' <"$T/headers" | awk -v n="$1" '
	    BEGIN { n = tolower(n) }
	    { i = index($0, ":") }
	    i > 0 && tolower(substr($0, 1, i - 1)) == n {
		v = substr($0, i + 1); sub(/^[ \t]+/, "", v); print v; exit }'
}

# expect_code DESCRIPTION CODE: the last answer's status.
expect_code() {
	expect_eq "$1: status" "$2" "$CODE"
}

# expect_error DESCRIPTION STATUS ERROR_CODE: the last answer is that
# status with {"error": {"code": ERROR_CODE, "message": non-empty}}.
expect_error() {
	expect_eq "$1: status" "$2" "$CODE"
	expect_eq "$1: error code" "$3" \
	    "$(json "$T/body" 'd["error"]["code"]' 2>&1)"
	expect_eq "$1: a message" True \
	    "$(json "$T/body" 'str(len(d["error"]["message"]) > 0)' 2>&1)"
}

# body EXPR: a Python expression over the last answer's JSON body.
body() {
	json "$T/body" "$1" 2>&1
}

# wait_final RUN_ID [SECONDS]: waits (bounded, default 20 s) until the run
# is final in the daemon's view; prints its state.
wait_final() {
	local id=$1 s state=
	for s in $(seq 1 $((${2:-20} * 10))); do
		state=$(curl -s --max-time 5 \
		    ${API_TOKEN:+-H "Authorization: Bearer $API_TOKEN"} \
		    "$URL/runs/$id" | json - 'd["state"]' 2>/dev/null)
		case "$state" in
		succeeded|failed|cancelled) break ;;
		esac
		sleep 0.1
	done
	echo "$state"
}

# count_runs [WORKFLOW]: how many runs the daemon lists.
count_runs() {
	curl -s --max-time 10 \
	    ${API_TOKEN:+-H "Authorization: Bearer $API_TOKEN"} \
	    "$URL/runs?limit=1000${1:+&workflow=$1}" |
	    json - 'len(d["runs"] if isinstance(d, dict) else d)' 2>/dev/null
}
