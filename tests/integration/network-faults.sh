#!/usr/bin/env bash
# Network faults in steps (issue 7), against tests/integration/faulty-sink.py
# on loopback: a peer that resets connections, hangs, trickles its answer a
# byte at a time, sends garbage, or sends a body far above the cap. Each
# http.request step (timeout_ms 500, 3 attempts, a short backoff) retries
# as classified (the attempts are counted in `show --json` and at the
# sink), the run ends failed, or succeeded where the peer recovers (reset
# twice, then OK), and the error names the cause; Lua's ctx.fetch gets nil
# and a message within its timeout. The daemon stays healthy, and its
# memory (VmRSS) stays flat across hundreds of runs of the huge and trickle
# modes. Failing DNS: a second daemon in a network namespace of its own,
# with only loopback (unshare -n, as root), so a name lookup fails at once
# and no query can leave the machine; skipped with a note where that
# cannot be had.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-150}
export ORC_TEST_TIMEOUT
. "$(dirname "$0")/serve-lib.sh"

SINK_PID=
DNS_PID=
# Stops the sink and the namespaced daemon (if any), then the rest.
nf_cleanup() {
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
	if [ -n "$DNS_PID" ] && kill -0 "$DNS_PID" 2>/dev/null; then
		kill -9 "$DNS_PID" 2>/dev/null
		wait "$DNS_PID" 2>/dev/null
	fi
	serve_cleanup
	lib_cleanup
}
trap nf_cleanup EXIT

python3 "$TOP_SRCDIR/tests/integration/faulty-sink.py" "$T/sink.port" \
    2>"$T/sink.err" &
SINK_PID=$!
for i in $(seq 1 100); do
	[ -s "$T/sink.port" ] && break
	sleep 0.05
done
SP=$(cat "$T/sink.port" 2>/dev/null)
[ -n "$SP" ] || hard_error "the sink did not start: $(cat "$T/sink.err")"
SINK=http://127.0.0.1:$SP

RETRY='"retry": { "max_attempts": 3, "backoff_ms": 50,
    "backoff_max_ms": 100, "jitter": false }'
ONCE='"retry": { "max_attempts": 1 }'

# workflow NAME PATH RETRY [CONCURRENCY]: a workflow started by hand whose
# one step, "call", GETs the sink at PATH/RUN_ID with a 500 ms timeout.
workflow() {
	cat >"$WF/$1.json" <<JSON
{ "name": "$1",${4:+ \"concurrency\": $4,}
  "defaults": { $3, "timeout_ms": 10000 },
  "allow": { "hosts": ["127.0.0.1:$SP"] },
  "steps": [ { "name": "call", "uses": "http.request",
    "with": { "method": "GET", "url": "$SINK/$2/{{run.id}}",
      "timeout_ms": 500 } } ] }
JSON
}
workflow nf-reset reset "$RETRY"
workflow nf-hang hang "$RETRY"
workflow nf-trickle trickle "$RETRY"
workflow nf-garbage garbage "$RETRY"
workflow nf-huge huge "$RETRY"
workflow nf-stream stream "$RETRY"
workflow nf-flaky flaky/2 "$RETRY"
workflow nf-flaky-out flaky/5 "$RETRY"
# For the memory loops: one attempt each.
workflow nf-mem-huge huge "$ONCE"
workflow nf-mem-trickle trickle "$ONCE"
workflow nf-mem-stream stream "$ONCE" 4

# Lua's ctx.fetch against the hanging and the resetting peer: it must come
# back with nil and a message, within its own timeout.
cat >"$WF/nf-lua.json" <<JSON
{ "name": "nf-lua", "defaults": { $ONCE, "timeout_ms": 10000 },
  "allow": { "hosts": ["127.0.0.1:$SP"] },
  "steps": [ { "name": "probe", "uses": "lua", "script": "nf-probe.lua",
    "timeout_ms": 5000 } ] }
JSON
cat >"$WF/nf-probe.lua" <<LUA
return function(input, ctx)
  local out = {}
  for _, mode in ipairs({ "hang", "reset", "garbage" }) do
    local r, e = ctx.fetch("$SINK/" .. mode .. "/" .. ctx.run_id,
      { timeout_ms = 500 })
    out[mode] = { is_nil = r == nil, message = e or "" }
  end
  return out
end
LUA

serve_start || finish

# start WORKFLOW: starts a run by hand; RUN gets its id.
start() {
	req POST "/workflows/$1/runs" -H 'Content-Type: application/json' \
	    -d '{}'
	RUN=$(body 'd["run_id"]')
	[ "$CODE" = 202 ] || fail "start $1: got $CODE: $BODY"
}

# healthy WHAT: the daemon is alive and answers /healthz 200.
healthy() {
	if ! kill -0 "$SERVE_PID" 2>/dev/null; then
		fail "$1: the daemon died; its log: $(tail -c 1500 "$SERVE_LOG")"
		serve_start || finish
		return
	fi
	req GET /healthz
	expect_eq "$1: /healthz" 200 "$CODE"
}

# sink_seen PATH: the requests the sink got at PATH.
sink_seen() {
	curl -s --max-time 5 "$SINK/stats" | json - "d['paths'].get('$1', 0)"
}

# shown ID EXPR: a Python expression over `show ID --json`.
shown() {
	orch show "$1" --json | json - "$2"
}

# --- One run per mode, all at once (each ends within a few seconds).
declare -A RUNS
for m in reset hang trickle garbage huge stream flaky flaky-out; do
	start "nf-$m"
	RUNS[$m]=$RUN
done
start nf-lua
LUA_RUN=$RUN
t0=$(date +%s%N)

# check_mode MODE STATE ATTEMPTS CAUSE SINK_PATH: the run of MODE ended in
# STATE after ATTEMPTS attempts of "call" (2 retried between them when 3),
# its error naming CAUSE, and the sink saw ATTEMPTS requests.
check_mode() {
	local m=$1 id=${RUNS[$1]} state
	state=$(wait_final "$id" 20)
	expect_eq "$m: the run ends $2" "$2" "$state"
	orch show "$id" --json >"$T/show-$m.json"
	expect_eq "$m: $3 attempts of call in show --json" "$3" \
	    "$(json "$T/show-$m.json" 'max([t["attempt"]
	    for t in d["transitions"] if t["step"] == "call"] or [0])')"
	expect_eq "$m: $(($3 - 1)) retried transitions" $(($3 - 1)) \
	    "$(json "$T/show-$m.json" 'len([t for t in d["transitions"]
	    if t["event"] == "retried"])')"
	expect_eq "$m: the sink saw $3 requests" "$3" "$(sink_seen "$5")"
	if [ "$2" = failed ]; then
		expect_contains "$m: the error names the cause" \
		    "$(json "$T/show-$m.json" 'd["error"]')" "$4"
		expect_contains "$m: the error names the URL" \
		    "$(json "$T/show-$m.json" 'd["error"]')" \
		    "http.request GET $SINK/"
		# Every attempt's own failure is in the timeline.
		expect_eq "$m: each attempt's error names the cause" "$3" \
		    "$(json "$T/show-$m.json" 'len([t for t in
		    d["transitions"] if t["step"] == "call" and
		    "'"$4"'" in (t.get("error") or "")])')"
	fi
}

check_mode reset failed 3 "Connection reset by peer" "/reset/${RUNS[reset]}"
check_mode hang failed 3 "no complete answer within 500 ms" \
    "/hang/${RUNS[hang]}"
check_mode trickle failed 3 "no complete answer within 500 ms" \
    "/trickle/${RUNS[trickle]}"
check_mode garbage failed 3 "HTTP/0.9" "/garbage/${RUNS[garbage]}"
# A body over the cap is not retried: it would be as large again.
check_mode huge failed 1 "response over 16777216 bytes" \
    "/huge/${RUNS[huge]}"
check_mode stream failed 1 "response over 16777216 bytes" \
    "/stream/${RUNS[stream]}"
check_mode flaky succeeded 3 "" "/flaky/2/${RUNS[flaky]}"
expect_eq "flaky: the output is the third answer" 3 \
    "$(json "$T/show-flaky.json" 'd["output"]["body"]["seen"]')"
# Succeeded after two failed attempts: no error on the run, in show, runs,
# the API or the dashboard; the attempts' errors stay in the timeline.
FL=${RUNS[flaky]}
expect_eq "flaky: show --json has no error" null \
    "$(json "$T/show-flaky.json" 'd["error"]')"
expect_eq "flaky: the failed attempts' errors stay in the timeline" 2 \
    "$(json "$T/show-flaky.json" 'len([t for t in d["transitions"]
    if "reset by peer" in (t.get("error") or "")])')"
expect_exit 0 orch show "$FL"
expect_not_contains "flaky: show prints no error" "$(out)" "error      "
expect_contains "flaky: show's timeline has the attempts' errors" "$(out)" \
    "step call: http.request GET $SINK/flaky/2/"
expect_exit 0 orch runs --workflow nf-flaky
expect_eq "flaky: runs prints no error" "-" \
    "$(awk -v id="$FL" '$1 == id { print $NF }' "$OUT")"
req GET "/runs/$FL"
expect_eq "flaky: GET /runs/ID has no error" null "$(body 'd["error"]')"
expect_exit 0 env COLUMNS=200 "$ORCH_BIN" dashboard --once --db "$DB"
expect_contains "flaky-out: the dashboard shows its error" \
    "$(grep "nf-flaky-out " "$OUT")" "step call: http.request"
expect_contains "flaky: the dashboard lists the run" "$(out)" "nf-flaky "
expect_not_contains "flaky: the dashboard shows no error" \
    "$(grep "nf-flaky " "$OUT")" "step call: http.request"
check_mode flaky-out failed 3 "Connection reset by peer" \
    "/flaky/5/${RUNS[flaky-out]}"
# The hanging and trickling attempts were cut at their 500 ms, not left
# to run; the resets, the garbage and the huge answers failed at once.
for m in hang trickle; do
	expect_eq "$m: each attempt ended at 500 ms" "3" \
	    "$(json "$T/show-$m.json" 'len([t for t in d["transitions"]
	    if t["step"] == "call" and t.get("error") and
	    450 <= t["duration_ms"] < 1500])')"
done
expect_eq "huge: its one attempt failed within 400 ms" "1" \
    "$(json "$T/show-huge.json" 'len([t for t in d["transitions"]
    if t["step"] == "call" and t.get("error") and
    t["duration_ms"] < 400])')"
for m in reset garbage flaky-out; do
	expect_eq "$m: each attempt failed within 400 ms" "3" \
	    "$(json "$T/show-$m.json" 'len([t for t in d["transitions"]
	    if t["step"] == "call" and t.get("error") and
	    t["duration_ms"] < 400])')"
done
healthy "after one run of each mode"

# --- ctx.fetch: nil and a message, within the timeout.
expect_eq "lua: the run succeeds" succeeded "$(wait_final "$LUA_RUN" 20)"
orch show "$LUA_RUN" --json >"$T/show-lua.json"
lua_out() { json "$T/show-lua.json" "d['output']$1"; }
for m in hang reset garbage; do
	expect_eq "lua $m: ctx.fetch returns nil" true \
	    "$(lua_out "['$m']['is_nil']")"
done
msg=$(lua_out "['hang']['message']")
expect_contains "lua hang: the message tells the timeout" "$msg" \
    "fetch $SINK/hang/$LUA_RUN: timed out after"
ms=$(printf '%s' "$msg" | sed -n 's/.*timed out after \([0-9]*\) ms.*/\1/p')
expect_true "lua hang: it came back at the 500 ms timeout ($ms ms)" \
    test "${ms:-0}" -ge 490 -a "${ms:-99999}" -lt 1500
expect_contains "lua reset: the message names the reset" \
    "$(lua_out "['reset']['message']")" "Connection reset by peer"
expect_contains "lua garbage: the message names the bad answer" \
    "$(lua_out "['garbage']['message']")" "HTTP/0.9"
healthy "after ctx.fetch"

# --- Memory across many runs of the huge and trickle modes.
# rss: the daemon's VmRSS in kB.
rss() {
	awk '/^VmRSS/ { print $2 }' "/proc/$SERVE_PID/status" 2>/dev/null
}

# many WORKFLOW N: starts N runs over one kept-alive connection; prints
# how many got 202.
many() {
	timeout 60 python3 -c '
import http.client, sys
port, wf, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
ok = 0
for i in range(n):
    c.request("POST", "/workflows/%s/runs" % wf, body=b"{}",
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    ok += r.status == 202
print(ok)
' "$SERVE_PORT" "$1" "$2"
}

# settled WORKFLOW N [SECONDS]: waits (bounded) until N runs of WORKFLOW
# have failed; prints how many did. It keeps the highest VmRSS seen in
# $T/peak.
settled() {
	local i n=0 r
	for i in $(seq 1 $((${3:-30} * 5))); do
		r=$(rss)
		[ -n "$r" ] && [ "$r" -gt "$(cat "$T/peak")" ] &&
		    echo "$r" >"$T/peak"
		n=$(count_runs_state "$1" failed)
		[ "${n:-0}" -ge "$2" ] && break
		sleep 0.2
	done
	echo "${n:-0}"
}

# count_runs_state WORKFLOW STATE: how many runs of WORKFLOW are in STATE.
count_runs_state() {
	curl -s --max-time 10 \
	    "$URL/runs?limit=1000&workflow=$1&state=$2" |
	    json - 'len(d["runs"] if isinstance(d, dict) else d)' 2>/dev/null
}

# fds: the daemon's open file descriptors.
fds() {
	find "/proc/$SERVE_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null |
	    wc -l
}

# round N_HUGE N_TRICKLE N_STREAM: starts that many runs of each memory
# workflow and waits until all of them (those before too) have failed.
TOTAL_HUGE=0
TOTAL_TRICKLE=0
TOTAL_STREAM=0
round() {
	TOTAL_HUGE=$((TOTAL_HUGE + $1))
	TOTAL_TRICKLE=$((TOTAL_TRICKLE + $2))
	TOTAL_STREAM=$((TOTAL_STREAM + $3))
	if [ "$1" -gt 0 ]; then
		expect_eq "$1 huge runs accepted" "$1" \
		    "$(many nf-mem-huge "$1")"
		expect_eq "$2 trickle runs accepted" "$2" \
		    "$(many nf-mem-trickle "$2")"
		expect_eq "all $TOTAL_HUGE huge runs failed" "$TOTAL_HUGE" \
		    "$(settled nf-mem-huge "$TOTAL_HUGE")"
		expect_eq "all $TOTAL_TRICKLE trickle runs failed" \
		    "$TOTAL_TRICKLE" "$(settled nf-mem-trickle "$TOTAL_TRICKLE")"
	fi
	if [ "$3" -gt 0 ]; then
		expect_eq "$3 streamed runs accepted" "$3" \
		    "$(many nf-mem-stream "$3")"
		expect_eq "all $TOTAL_STREAM streamed runs failed" \
		    "$TOTAL_STREAM" "$(settled nf-mem-stream "$TOTAL_STREAM" 40)"
	fi
	sleep 0.5
}

echo 0 >"$T/peak"
# Huge (refused at its Content-Length) and trickle: no big buffer is ever
# taken, so VmRSS must stay flat. A warm-up first: the caches, the pools
# and the allocator's arenas settle.
round 20 20 0
rss0=$(rss)
fds0=$(fds)
round 200 200 0
rss1=$(rss)
round 200 200 0
rss2=$(rss)
echo "VmRSS: $rss0 kB after the warm-up, $rss1 kB after 400 more runs," \
    "$rss2 kB after 400 more"
# Under AddressSanitizer freed memory sits in quarantine (up to 256 MB)
# and the RSS says nothing about the daemon: the memory bounds are checked
# by the plain build's run of this same test (CI runs both).
if [ "${ENABLE_ASAN:-no}" = yes ]; then
	echo "ASan build: memory bounds not checked here (quarantine)"
	mem_check() { :; }
else
	mem_check() { expect_true "$@"; }
fi
mem_check "VmRSS grew by under 8 MB over 800 runs ($rss0 -> $rss2 kB)" \
    test "$((${rss2:-999999} - ${rss0:-0}))" -lt 8192
mem_check "VmRSS is flat in the second round ($rss1 -> $rss2 kB)" \
    test "$((${rss2:-999999} - ${rss1:-0}))" -lt 4096
# Streamed bodies: each one buffered up to the 16 MiB cap, four at once
# (the workflow's concurrency). The allocator may keep a few of those
# buffers, but no more than what can be in flight, and the peak stays
# well under what 40 bodies would take.
round 0 0 8
rss3=$(rss)
echo "$rss3" >"$T/peak"
round 0 0 32
rss4=$(rss)
peak=$(cat "$T/peak")
fds4=$(fds)
echo "VmRSS: $rss3 kB before 32 streamed runs, $rss4 kB after," \
    "$peak kB at the peak; fds $fds0 -> $fds4"
mem_check "VmRSS after the streamed runs: under 4 x 16 MiB + 8 MB more \
($rss3 -> $rss4 kB)" \
    test "$((${rss4:-999999} - ${rss3:-0}))" -lt $((4 * 16384 + 8192))
mem_check "the VmRSS peak stays under 200 MB ($peak kB)" \
    test "${peak:-999999}" -lt 204800
expect_true "no file descriptor leaked ($fds0 -> $fds4)" \
    test "${fds4:-999}" -le "$((${fds0:-0} + 4))"
expect_eq "every trickle run timed out" "" \
    "$(curl -s --max-time 10 \
    "$URL/runs?limit=1000&workflow=nf-mem-trickle" |
    json - '" ".join(sorted(set(r["id"] for r in d["runs"]
    if "no complete answer within 500 ms" not in (r.get("error") or ""))))' \
    2>&1 | head -c 300)"
expect_eq "every huge run's error names the cap" "" \
    "$(curl -s --max-time 10 "$URL/runs?limit=1000&workflow=nf-mem-huge" |
    json - '" ".join(sorted(set(r["id"] for r in d["runs"]
    if "response over 16777216 bytes" not in (r.get("error") or ""))))' \
    2>&1 | head -c 300)"
healthy "after the memory loops"

# --- DNS that fails, in a network namespace with only loopback.
dns_test() {
	local port='' nsd nsus i id state
	if ! command -v unshare >/dev/null ||
	    ! command -v nsenter >/dev/null || ! command -v ip >/dev/null; then
		echo "note: DNS part skipped: unshare, nsenter or ip missing"
		return 0
	fi
	[ "$(id -u)" = 0 ] || {
		echo "note: DNS part skipped: it needs root for unshare -n"
		return 0
	}
	timeout 5 unshare -n true 2>/dev/null || {
		echo "note: DNS part skipped: unshare -n does not work here"
		return 0
	}
	mkdir -p "$T/wf-dns"
	# The name is reserved (RFC 2606 .invalid) and looked up only in
	# the namespace, where no DNS server can be reached.
	cat >"$T/wf-dns/nf-dns.json" <<JSON
{ "name": "nf-dns", "defaults": { $RETRY, "timeout_ms": 10000 },
  "allow": { "hosts": ["no-such-host.invalid"] },
  "steps": [ { "name": "call", "uses": "http.request",
    "with": { "method": "GET", "url": "http://no-such-host.invalid/x",
      "timeout_ms": 500 } } ] }
JSON
	# shellcheck disable=SC2016
	unshare -n sh -c 'ip link set lo up && exec "$@"' sh \
	    "$ORCH_BIN" serve --workflows "$T/wf-dns" --db "$T/dns.db" \
	    --buckets "$T/buckets" --listen 127.0.0.1:0 2>"$T/dns.log" &
	DNS_PID=$!
	for i in $(seq 1 200); do
		port=$(sed -n "$SERVE_PORT_SED" "$T/dns.log" | head -n 1)
		[ -n "$port" ] && break
		kill -0 "$DNS_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ -z "$port" ]; then
		fail "dns: the namespaced daemon did not listen: " \
		    "$(head -c 1500 "$T/dns.log")"
		return 0
	fi
	# Never trigger the lookup unless the daemon truly is in a network
	# namespace of its own.
	nsd=$(readlink "/proc/$DNS_PID/ns/net")
	nsus=$(readlink /proc/self/ns/net)
	if [ -z "$nsd" ] || [ "$nsd" = "$nsus" ]; then
		fail "dns: the daemon is not in a namespace of its own" \
		    "($nsd, ours $nsus): no lookup made"
		return 0
	fi
	pass "dns: the daemon runs in its own network namespace"
	# ns_curl ARGS...: curl inside the daemon's namespace.
	ns_curl() {
		nsenter --net="/proc/$DNS_PID/ns/net" curl -s --max-time 10 \
		    "$@"
	}
	expect_eq "dns: /healthz in the namespace" 200 \
	    "$(ns_curl -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$port/healthz")"
	id=$(ns_curl -X POST -H 'Content-Type: application/json' -d '{}' \
	    "http://127.0.0.1:$port/workflows/nf-dns/runs" |
	    json - 'd["run_id"]')
	for i in $(seq 1 100); do
		state=$(ns_curl "http://127.0.0.1:$port/runs/$id" |
		    json - 'd["state"]' 2>/dev/null)
		case "$state" in
		succeeded|failed|cancelled) break ;;
		esac
		sleep 0.1
	done
	expect_eq "dns: the run fails" failed "$state"
	"$ORCH_BIN" show --db "$T/dns.db" "$id" --json >"$T/show-dns.json"
	expect_eq "dns: 3 attempts (retryable)" 3 \
	    "$(json "$T/show-dns.json" 'max([t["attempt"]
	    for t in d["transitions"] if t["step"] == "call"] or [0])')"
	expect_eq "dns: 2 retried transitions" 2 \
	    "$(json "$T/show-dns.json" 'len([t for t in d["transitions"]
	    if t["event"] == "retried"])')"
	expect_contains "dns: the error names the resolution failure" \
	    "$(json "$T/show-dns.json" 'd["error"]')" \
	    "Could not resolve host: no-such-host.invalid"
	# No server to wait for: each attempt fails at once.
	expect_eq "dns: each attempt failed within 400 ms" 3 \
	    "$(json "$T/show-dns.json" 'len([t for t in d["transitions"]
	    if t["step"] == "call" and t.get("error") and
	    t["duration_ms"] < 400])')"
	expect_eq "dns: /healthz after it" 200 \
	    "$(ns_curl -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$port/healthz")"
	kill "$DNS_PID" 2>/dev/null
	wait "$DNS_PID" 2>/dev/null
	DNS_PID=
}
dns_test

healthy "at the end"
echo "took $((($(date +%s%N) - t0) / 1000000)) ms after the first runs"
serve_stop
expect_eq "the daemon stops cleanly" 0 "$SERVE_RC"
finish
