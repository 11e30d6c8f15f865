#!/usr/bin/env bash
# Tracing (issue 21, item 7) against tests/integration/otlp-receiver.py, a
# local OTLP/HTTP receiver that records the documents posted to it, and
# sink.py, which records the headers of the requests steps make. With
# ORCH_OTLP_ENDPOINT set, a run exports documents of the OTLP JSON shape
# (resourceSpans -> scopeSpans -> spans, ids of 32 and 16 lower-case hex
# digits), a root span for the run (its trace id the run id's 128 bits),
# and a span per step attempt under it, a failed-then-retried attempt
# included; http.request and ctx.fetch send a traceparent naming their
# attempt's span (one the step sets itself wins). A webhook's traceparent
# puts the run's spans in the caller's trace, under the caller's span; a
# malformed one is ignored. With the receiver gone the daemon keeps
# serving and counts the spans it drops; without the variable nothing is
# exported and no traceparent is sent.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-150}
export ORC_TEST_TIMEOUT
. "$(dirname "$0")/serve-lib.sh"

RECV_PID=
# Stops the receiver, then what serve-lib stops.
tr_cleanup() {
	[ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
	serve_cleanup
	lib_cleanup
}
trap tr_cleanup EXIT

py_service_start receiver otlp-receiver.py
RECV_PID=$PY_PID
RP=$PY_PORT
touch "$T/receiver.jsonl"
sink_start
SINK=http://127.0.0.1:$SP
OWN_TP=00-11111111111111111111111111111111-2222222222222222-01
CALLER_TRACE=0af7651916cd43dd8448eb211c80319c
CALLER_SPAN=b7ad6b7169203331

cat >"$WF/flaky.lua" <<'LUA'
return function(input, ctx)
  if ctx.attempt == 1 then error("first attempt fails") end
  return input
end
LUA
cat >"$WF/fetch.lua" <<LUA
return function(input, ctx)
  local r, e = ctx.fetch("$SINK/lua/" .. ctx.run_id,
    { method = "POST", body = "x" })
  if r == nil then error(e) end
  return r.status
end
LUA
cat >"$WF/slow.json" <<JSON
{ "name": "slow",
  "trigger": { "webhook": { "path": "/hooks/slow" } },
  "steps": [
    { "name": "first", "uses": "json.encode" },
    { "name": "nap", "uses": "wait", "with": { "ms": 2500, "durable": false } },
    { "name": "last", "uses": "json.decode" } ] }
JSON
cat >"$WF/traced.json" <<JSON
{ "name": "traced",
  "trigger": { "webhook": { "path": "/hooks/traced" } },
  "allow": { "hosts": ["127.0.0.1:$SP"] },
  "steps": [
    { "name": "flaky", "uses": "lua", "script": "flaky.lua",
      "retry": { "max_attempts": 3, "backoff_ms": 20, "jitter": false } },
    { "name": "call", "uses": "http.request",
      "with": { "method": "POST", "url": "$SINK/call/{{run.id}}" } },
    { "name": "own", "uses": "http.request",
      "with": { "method": "POST", "url": "$SINK/own/{{run.id}}",
        "headers": { "traceparent": "$OWN_TP" } } },
    { "name": "fetch", "uses": "lua", "script": "fetch.lua" } ] }
JSON

# spans EXPR [RUN_ID]: a Python expression over the spans received so
# far: S is the list of spans, each with "a" (its attributes as a dict)
# added; D the recorded posts; hexid(RUN_ID) the run id's 128 bits in hex;
# with RUN_ID, S_run its spans and run its run span.
spans() {
	timeout "$ORC_CMD_TIMEOUT" python3 -c '
import json, sys
A = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
def hexid(r):
    n = 0
    for c in r.upper():
        n = n * 32 + A.index(c)
    return "%032x" % n
def val(v):
    return v.get("stringValue", v.get("intValue"))
D = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
S = []
for p in D:
    for rs in p.get("doc", {}).get("resourceSpans", []):
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                s["a"] = dict((x["key"], val(x["value"]))
                    for x in s.get("attributes", []))
                S.append(s)
try:
    if len(sys.argv) > 3:
        S_run = [s for s in S
            if s["a"].get("orchestrator.run_id") == sys.argv[3]]
        run = [s for s in S_run
            if "orchestrator.attempt" not in s["a"]][0]
    v = eval(sys.argv[2])
except Exception as e:
    sys.exit("spans: %s: %s" % (type(e).__name__, e))
print(v if isinstance(v, (str, bool)) else json.dumps(v))
' "$T/receiver.jsonl" "$@" 2>&1
}

# wait_span RUN_ID NAME: waits (bounded) until a span NAME of the run
# arrived (the run's span is named after its workflow).
wait_span() {
	local i
	for i in $(seq 1 100); do
		[ "$(spans "sum(1 for s in S if s['a'].get('orchestrator.run_id') == '$1' and s['name'] == '$2')")" -ge 1 ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_run_span RUN_ID: waits (bounded) until the run's span arrived.
wait_run_span() {
	wait_span "$1" traced
}

# sink_tp PATH: the traceparent headers the sink got at PATH, joined.
sink_tp() {
	jsonl "$T/sink.jsonl" "\",\".join(v for l in d if l[\"path\"] == \"$1\" for k, v in l[\"headers\"] if k.lower() == \"traceparent\")"
}

# metric NAME: its value in /metrics.
metric() {
	curl -s --max-time 5 "$URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

# trigger [CURL ARGS...]: one webhook, waiting for the output; sets RUN.
trigger() {
	req POST /hooks/traced -H 'Content-Type: application/json' \
	    -H 'Prefer: wait=20' -d '{"n":1}' "$@"
	RUN=$(header Run-Id)
}

export ORCH_OTLP_ENDPOINT=http://127.0.0.1:$RP
serve_start || finish

# --- One run: the shape, the ids, the parents, an attempt per span.
trigger
expect_code "a traced run succeeds" 200
wait_run_span "$RUN" || fail "no run span for $RUN within 10 s"
expect_eq "every post goes to /v1/traces as JSON" "[]" \
    "$(spans '[p for p in D if p["path"] != "/v1/traces" or p["type"] != "application/json" or "doc" not in p]')"
expect_eq "every document is resourceSpans -> scopeSpans -> spans" True \
    "$(spans 'all(len(p["doc"]["resourceSpans"]) > 0 and all(len(rs["scopeSpans"]) > 0 and all(len(ss["spans"]) > 0 for ss in rs["scopeSpans"]) for rs in p["doc"]["resourceSpans"]) for p in D)')"
expect_eq "the resource names the service" True \
    "$(spans 'all(rs["resource"]["attributes"][0] == {"key": "service.name", "value": {"stringValue": "orchestrator"}} for p in D for rs in p["doc"]["resourceSpans"])')"
HEX='lambda v, n: isinstance(v, str) and len(v) == n and all(c in "0123456789abcdef" for c in v)'
expect_eq "trace ids are 32 hex digits, span ids 16" True \
    "$(spans "(lambda h: all(h(s['traceId'], 32) and h(s['spanId'], 16) and h(s.get('parentSpanId', '0' * 16), 16) for s in S))($HEX)")"
expect_eq "times are strings of ns, the end after the start" True \
    "$(spans 'all(isinstance(s["startTimeUnixNano"], str) and int(s["endTimeUnixNano"]) >= int(s["startTimeUnixNano"]) > 1600000000 * 10**9 for s in S)')"
# r1 EXPR: EXPR over the spans of run $RUN (S_run) and its run span (run).
r1() {
	spans "$1" "$RUN"
}
expect_eq "the run span: its trace id is the run id" "$(spans "hexid('$RUN')")" \
    "$(r1 'run["traceId"]')"
expect_eq "the run span is a root" False "$(r1 '"parentSpanId" in run')"
expect_eq "the run span's status" "succeeded/1/1" \
    "$(r1 'run["a"]["orchestrator.status"] + "/" + str(run["status"]["code"]) + "/" + str(run["kind"])')"
expect_eq "the run span's workflow" traced \
    "$(r1 'run["a"]["orchestrator.workflow"]')"
expect_eq "one span per attempt, in the run's trace, under the run's span" \
    '["call", "fetch", "flaky", "flaky", "own"]' \
    "$(r1 'sorted(s["name"] for s in S_run if s is not run and s["traceId"] == run["traceId"] and s.get("parentSpanId") == run["spanId"])')"
expect_eq "no other span of the run" 6 "$(r1 'len(S_run)')"
expect_eq "the failed attempt, then the retried one" \
    '[["1", "failed", 2], ["2", "succeeded", 1]]' \
    "$(r1 'sorted([s["a"]["orchestrator.attempt"], s["a"]["orchestrator.status"], s["status"]["code"]] for s in S_run if s["name"] == "flaky")')"
expect_contains "the failed attempt's error" \
    "$(r1 '[s["a"].get("orchestrator.error", "") for s in S_run if s["name"] == "flaky" and s["a"]["orchestrator.attempt"] == "1"][0]')" \
    "first attempt fails"
expect_eq "span ids differ" 6 "$(r1 'len(set(s["spanId"] for s in S_run))')"

# --- The requests the steps made carry their attempt's span.
expect_eq "http.request sends its attempt's traceparent" \
    "$(r1 '"00-%s-%s-01" % (run["traceId"], [s["spanId"] for s in S_run if s["name"] == "call"][0])')" \
    "$(sink_tp "/call/$RUN")"
expect_eq "a traceparent the step sets wins (and is sent once)" "$OWN_TP" \
    "$(sink_tp "/own/$RUN")"
expect_eq "ctx.fetch sends its attempt's traceparent" \
    "$(r1 '"00-%s-%s-01" % (run["traceId"], [s["spanId"] for s in S_run if s["name"] == "fetch"][0])')" \
    "$(sink_tp "/lua/$RUN")"

# --- A webhook's traceparent: the run joins the caller's trace.
trigger -H "traceparent: 00-$CALLER_TRACE-$CALLER_SPAN-01"
expect_code "a run with a traceparent succeeds" 200
wait_run_span "$RUN" || fail "no run span for $RUN within 10 s"
expect_eq "every span of the run is in the caller's trace" \
    "[\"$CALLER_TRACE\"]" \
    "$(r1 'sorted(set(s["traceId"] for s in S_run))')"
expect_eq "the run span is a child of the caller's span" \
    "$CALLER_SPAN/2" "$(r1 'run.get("parentSpanId", "") + "/" + str(run["kind"])')"
expect_eq "the steps stay under the run's span" 5 \
    "$(r1 'sum(1 for s in S_run if s.get("parentSpanId") == run["spanId"])')"
expect_eq "its requests carry the caller's trace id" "$CALLER_TRACE" \
    "$(sink_tp "/call/$RUN" | cut -d- -f2)"

# --- A malformed traceparent is ignored: the run's own trace.
trigger -H "traceparent: 00-${CALLER_TRACE^^}-$CALLER_SPAN-01"
expect_code "a run with a bad traceparent succeeds" 200
wait_run_span "$RUN" || fail "no run span for $RUN within 10 s"
expect_eq "a bad traceparent: the trace id is the run id" \
    "$(spans "hexid('$RUN')")" "$(r1 'run["traceId"]')"
expect_eq "a bad traceparent: the run span is a root" False \
    "$(r1 '"parentSpanId" in run')"
exported=$(metric orchestrator_trace_spans_exported_total)
expect_true "spans exported are counted ($exported)" \
    test "${exported:-0}" -ge 18
expect_eq "nothing dropped while the receiver answers" 0 \
    "$(metric orchestrator_trace_spans_dropped_total)"

# --- A crash mid-run: the process that resumes it goes on in the same
# trace, under the same run span, the caller's traceparent kept.
req POST /hooks/slow -H 'Content-Type: application/json' -d '{"n":1}' \
    -H "traceparent: 00-$CALLER_TRACE-$CALLER_SPAN-01"
expect_code "the slow run is accepted" 202
RUN=$(header Run-Id)
wait_span "$RUN" first || fail "no span of the first step within 10 s"
serve_kill
serve_start || finish
wait_span "$RUN" slow || fail "no run span of the resumed run within 10 s"
expect_eq "the resumed run's spans: the first step before the crash," \
    '["first", "last", "nap", "slow"]' "$(r1 'sorted(s["name"] for s in S_run)')"
expect_eq "all in the caller's trace" "[\"$CALLER_TRACE\"]" \
    "$(r1 'sorted(set(s["traceId"] for s in S_run))')"
expect_eq "before and after the crash, under the one run span" 3 \
    "$(r1 'sum(1 for s in S_run if s.get("parentSpanId") == run["spanId"])')"
expect_eq "the run span, from the new process, under the caller's" \
    "$CALLER_SPAN" "$(r1 'run.get("parentSpanId", "")')"

# --- A drain sends the spans still queued (the timer has not fired).
trigger
expect_code "a run just before SIGTERM succeeds" 200
serve_stop
expect_eq "the drain sent the run's span" 1 \
    "$(spans "sum(1 for s in S if s['a'].get('orchestrator.run_id') == '$RUN' and s['name'] == 'traced')")"
expect_eq "the daemon exits 0 after it" 0 "$SERVE_RC"
serve_start || finish

# --- The receiver goes away: the daemon keeps serving, drops, counts.
kill "$RECV_PID" 2>/dev/null
wait "$RECV_PID" 2>/dev/null
RECV_PID=
ok=0
for i in 1 2 3 4 5; do
	trigger
	[ "$CODE" = 200 ] && ok=$((ok + 1))
done
expect_eq "runs succeed with the receiver down" 5 "$ok"
dropped=0
for i in $(seq 1 60); do
	dropped=$(metric orchestrator_trace_spans_dropped_total)
	[ "${dropped:-0}" -ge 30 ] && break
	sleep 0.1
done
expect_true "the spans of those runs are dropped and counted ($dropped)" \
    test "${dropped:-0}" -ge 30
req GET /healthz
expect_code "healthy with the receiver down" 200
expect_contains "the log says that export fails" "$(cat "$SERVE_LOG")" \
    "spans are dropped"
expect_eq "said once, not once a post" 1 \
    "$(grep -c 'spans are dropped' "$SERVE_LOG")"
serve_stop

# --- Tracing off: no traceparent, nothing counted.
unset ORCH_OTLP_ENDPOINT
serve_start || finish
trigger
expect_code "an untraced run succeeds" 200
expect_eq "no traceparent without ORCH_OTLP_ENDPOINT" "" \
    "$(sink_tp "/call/$RUN")"
expect_eq "nothing exported without ORCH_OTLP_ENDPOINT" 0 \
    "$(metric orchestrator_trace_spans_exported_total)"
serve_stop
finish
