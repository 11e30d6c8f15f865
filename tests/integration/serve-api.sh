#!/usr/bin/env bash
# The HTTP API of `orchestrator serve` (SPEC section 6), driven with curl
# against the real daemon on a free loopback port: async and sync
# webhooks, Prefer: wait, the error codes (each provoked for real; 503 is
# in serve-signals.sh), webhook signatures, idempotency keys, 429 under a
# concurrency limit, long polls, Server-Sent Events, retry and cancel,
# /workflows, /healthz, /metrics and the API token.
. "$(dirname "$0")/serve-lib.sh"

API_TOKEN=api-token-$$
SECRET=hook-secret-$$

# Fast async webhook with an input schema and a small body limit.
cat >"$WF/echo.json" <<'JSON'
{
  "name": "echo",
  "description": "Echo n with the run id",
  "trigger": { "webhook": { "path": "/hooks/echo", "mode": "async",
    "max_body_bytes": 2048 } },
  "input": { "type": "object", "required": ["n"],
    "properties": { "n": { "type": "integer", "minimum": 0 } } },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "shape", "uses": "transform",
      "with": { "n": "{{input.n}}", "run": "{{run.id}}" } }
  ]
}
JSON
# The same in sync mode.
cat >"$WF/echo-sync.json" <<'JSON'
{
  "name": "echo-sync",
  "trigger": { "webhook": { "path": "/hooks/echo-sync", "mode": "sync",
    "sync_timeout_ms": 10000 } },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "shape", "uses": "transform", "with": { "n": "{{input.n}}" } }
  ]
}
JSON
# Sync, but slower than its sync timeout.
cat >"$WF/slow-sync.json" <<'JSON'
{
  "name": "slow-sync",
  "trigger": { "webhook": { "path": "/hooks/slow-sync", "mode": "sync",
    "sync_timeout_ms": 300 } },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "nap", "uses": "wait", "with": { "ms": 1500, "durable": false } },
    { "name": "shape", "uses": "transform", "with": { "n": "{{input.n}}" } }
  ]
}
JSON
# Async and slow: long polls, events, cancel, retry.
cat >"$WF/slow.json" <<'JSON'
{
  "name": "slow",
  "trigger": { "webhook": { "path": "/hooks/slow", "mode": "async" } },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "nap", "uses": "wait", "with": { "ms": 1500, "durable": false } },
    { "name": "shape", "uses": "transform", "with": { "n": "{{input.n}}" } }
  ]
}
JSON
# Sync, and every run fails (its output misses a required key).
cat >"$WF/broken-output.json" <<'JSON'
{
  "name": "broken-output",
  "trigger": { "webhook": { "path": "/hooks/broken-output",
    "mode": "sync" } },
  "output": { "type": "object", "required": ["missing"] },
  "steps": [
    { "name": "decode", "uses": "json.decode" }
  ]
}
JSON
# Async, and every run fails at its step "stuck" (a timeout, no retry).
cat >"$WF/timeout.json" <<'JSON'
{
  "name": "timeout",
  "trigger": { "webhook": { "path": "/hooks/timeout", "mode": "async" } },
  "defaults": { "retry": { "max_attempts": 1 } },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "stuck", "uses": "wait", "with": { "ms": 2000, "durable": false },
      "timeout_ms": 50 }
  ]
}
JSON
# Signed webhooks.
cat >"$WF/signed.json" <<'JSON'
{
  "name": "signed",
  "trigger": { "webhook": { "path": "/hooks/signed", "mode": "async",
    "secret_env": "SERVE_TEST_SECRET" } },
  "steps": [ { "name": "decode", "uses": "json.decode" } ]
}
JSON
# One run at a time, each 3 s long.
cat >"$WF/limited.json" <<'JSON'
{
  "name": "limited",
  "trigger": { "webhook": { "path": "/hooks/limited", "mode": "async" } },
  "concurrency": 1,
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "nap", "uses": "wait", "with": { "ms": 3000, "durable": false } }
  ]
}
JSON
# No webhook: started by hand.
cat >"$WF/manual.json" <<'JSON'
{
  "name": "manual",
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "shape", "uses": "transform", "with": { "n": "{{input.n}}" } }
  ]
}
JSON

ORCH_API_TOKEN=$API_TOKEN SERVE_TEST_SECRET=$SECRET \
    serve_start --max-queue 1 --max-body 65536 || finish
expect_contains "the daemon tells its port and workflow count" \
    "$(cat "$SERVE_LOG")" \
    "listening on http://127.0.0.1:$SERVE_PORT (9 workflows)"

J=(-H 'Content-Type: application/json')

# A second daemon on the same address: the address named, --listen
# suggested.
expect_exit 1 timeout 10 "$ORCH_BIN" serve --workflows "$WF" \
    --db "$T/second.db" --listen "127.0.0.1:$SERVE_PORT"
expect_contains "a busy port: the address and what to do" "$(err)" \
    "cannot listen on 127.0.0.1:$SERVE_PORT: the address is in use"
expect_contains "a busy port: --listen suggested" "$(err)" \
    "pick another address with --listen ADDR:PORT"

# --- Async webhook.
req POST /hooks/echo "${J[@]}" -d '{"n": 7}'
expect_code "async webhook" 202
run1=$(body 'd["run_id"]')
expect_eq "async: a 26-character run id" 26 "${#run1}"
status_url=$(body 'd["status_url"]')
expect_contains "async: status_url names the run" "$status_url" "/runs/$run1"
expect_contains "async: Location is the status url" "$(header Location)" \
    "/runs/$run1"
expect_eq "async: Run-Id names the run" "$run1" "$(header Run-Id)"
expect_contains "async: JSON answer" "$(header Content-Type)" \
    application/json
expect_eq "async: the run succeeds" succeeded "$(wait_final "$run1")"
req GET "/runs/$run1"
expect_code "GET /runs/ID" 200
expect_eq "the run's output" 7 "$(body 'str(d["output"]["n"])')"
expect_eq "the run id in the output" "$run1" "$(body 'd["output"]["run"]')"
expect_eq "the run's steps" '["decode", "shape"]' \
    "$(body '[s["name"] for s in d["steps"]]')"
expect_eq "the run's transitions end in succeeded" succeeded \
    "$(body 'd["transitions"][-1]["to"]')"
expect_eq "the run's trigger: the webhook and its path" "webhook /hooks/echo" \
    "$(body 'd["trigger"]["source"] + " " + d["trigger"]["path"]')"
expect_eq "the trigger keeps no credentials" "content-type user-agent" \
    "$(body '" ".join(sorted(d["trigger"]["headers"]))')"
# The status URL as given works (absolute or relative).
case $status_url in
http*) su=$status_url ;;
*) su=$URL$status_url ;;
esac
expect_eq "the status url answers" succeeded "$(curl -s --max-time 5 \
    -H "Authorization: Bearer $API_TOKEN" "$su" | json - 'd["state"]')"

# --- Sync webhook.
req POST /hooks/echo-sync "${J[@]}" -d '{"n": 8}'
expect_code "sync webhook" 200
expect_eq "sync: the body is the output" 8 "$(body 'str(d["n"])')"
sync1=$(header Run-Id)
expect_eq "sync: Run-Id names the run" 26 "${#sync1}"
expect_eq "sync: Location is the run's" "/runs/$sync1" "$(header Location)"
expect_eq "sync: Run-Id is the run that answered" 8 "$(curl -s \
    --max-time 5 -H "Authorization: Bearer $API_TOKEN" "$URL/runs/$sync1" |
    json - 'str(d["output"]["n"])')"

# JSON posted with curl's default type (-d without -H sends a form type)
# is read as JSON; a body that is a real form stays a form.
req POST /hooks/echo-sync -d '{"n": 14}'
expect_code "JSON sent as a form" 200
expect_eq "JSON sent as a form: read as JSON" 14 "$(body 'str(d["n"])')"
req POST /hooks/echo-sync -d 'n=15&m=a%20b'
expect_code "a real form" 200
expect_eq "a real form: read as a form" 15 "$(body 'd["n"]')"
# A form that misses the input schema: the 422 says how to send JSON.
req POST /hooks/echo -d 'n=15'
expect_error "a form against an integer schema" 422 invalid_input
expect_contains "... the 422 hints at Content-Type" \
    "$(body 'd["error"]["message"]')" \
    "read as a form, as its Content-Type says; send JSON with"

# Past sync_timeout_ms: the async answer, and the run goes on.
t0=$(date +%s%N)
req POST /hooks/slow-sync "${J[@]}" -d '{"n": 9}'
t1=$(date +%s%N)
expect_code "sync past its timeout" 202
ms=$(((t1 - t0) / 1000000))
expect_true "sync past its timeout: answered after ~300 ms, not 1500 ($ms)" \
    test "$ms" -ge 250 -a "$ms" -lt 1400
slow1=$(body 'd["run_id"]')
expect_eq "sync past its timeout: the run goes on" succeeded \
    "$(wait_final "$slow1")"

# A failing sync run: 500 with the run id.
req POST /hooks/broken-output "${J[@]}" -d '{"n": 1}'
expect_error "sync run that fails" 500 run_failed
failed1=$(body 'd["run_id"]')
expect_eq "sync failure: the run id" 26 "${#failed1}"
expect_eq "sync failure: Run-Id" "$failed1" "$(header Run-Id)"
expect_eq "sync failure: the run is failed" failed "$(wait_final "$failed1")"

# --- Prefer: wait=N on an async trigger.
req POST /hooks/echo "${J[@]}" -H 'Prefer: wait=5' -d '{"n": 10}'
expect_code "Prefer: wait on a fast run" 200
expect_eq "Prefer: wait: the output" 10 "$(body 'str(d["n"])')"
t0=$(date +%s%N)
req POST /hooks/slow "${J[@]}" -H 'Prefer: wait=1' -d '{"n": 11}'
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
expect_code "Prefer: wait=1 on a 1.5 s run" 202
expect_true "Prefer: wait=1: answered after ~1 s ($ms ms)" \
    test "$ms" -ge 900 -a "$ms" -lt 1450
slow2=$(body 'd["run_id"]')
expect_eq "Prefer: wait=1: the run goes on" succeeded "$(wait_final "$slow2")"

# --- Long poll.
req POST /hooks/slow "${J[@]}" -d '{"n": 12}'
slow3=$(body 'd["run_id"]')
t0=$(date +%s%N)
req GET "/runs/$slow3?wait=200"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
expect_code "long poll that times out" 200
expect_ne "long poll of 200 ms: not final yet" succeeded "$(body 'd["state"]')"
expect_true "long poll of 200 ms: ~200 ms ($ms)" \
    test "$ms" -ge 150 -a "$ms" -lt 1200
t0=$(date +%s%N)
req GET "/runs/$slow3?wait=10000"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
expect_code "long poll until the end" 200
expect_eq "long poll: final" succeeded "$(body 'd["state"]')"
expect_true "long poll: answered when the run ended, not at 10 s ($ms)" \
    test "$ms" -lt 5000
expect_eq "long poll: the output" 12 "$(body 'str(d["output"]["n"])')"

# --- Server-Sent Events.
req POST /hooks/slow "${J[@]}" -d '{"n": 13}'
slow4=$(body 'd["run_id"]')
t0=$(date +%s%N)
curl -s -N --max-time 10 -D "$T/sse.headers" \
    -H "Authorization: Bearer $API_TOKEN" \
    "$URL/runs/$slow4/events" >"$T/sse" 2>/dev/null
sse_rc=$?
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
sse=$(cat "$T/sse")
expect_contains "SSE: text/event-stream" "$(tr -d '\r' <"$T/sse.headers")" \
    "text/event-stream"
expect_contains "SSE: data lines" "$sse" "data:"
expect_contains "SSE: the step nap" "$sse" '"nap"'
expect_contains "SSE: the final state" "$sse" "succeeded"
expect_eq "SSE: the stream ends with the run, not at curl's 10 s ($ms ms)" \
    0 "$sse_rc"
# Each data line is JSON.
expect_eq "SSE: every data line is JSON" ok "$(sed -n 's/^data: *//p' \
    "$T/sse" | python3 -c '
import json, sys
n = 0
for l in sys.stdin:
    try:
        json.loads(l)
    except ValueError:
        sys.exit("not JSON: data: %s" % l.strip())
    n += 1
print("ok" if n >= 2 else "only %d" % n)' 2>&1)"

# --- Cancel and retry.
req POST /hooks/slow "${J[@]}" -d '{"n": 14}'
slow5=$(body 'd["run_id"]')
req POST "/runs/$slow5/cancel"
expect_code "cancel a running run" 200
expect_eq "cancel: the answer is the run" "$slow5" "$(body 'd["id"]')"
expect_eq "cancel: the run ends cancelled" cancelled "$(wait_final "$slow5")"
req POST "/runs/$slow5/cancel"
expect_error "cancel a cancelled run" 409 conflict
req POST "/runs/$slow5/retry" "${J[@]}" -d '{}'
expect_code "retry a cancelled run" 200
expect_eq "retry: the answer is the run" "$slow5" "$(body 'd["id"]')"
expect_eq "retry: the run now succeeds" succeeded "$(wait_final "$slow5")"
req POST "/runs/$slow5/retry" "${J[@]}" -d '{}'
expect_error "retry a succeeded run" 409 conflict
# Retry from a step with an edited input.
req POST "/runs/$failed1/retry" "${J[@]}" \
    -d '{"from_step": "decode", "input": {"missing": 1}}'
expect_code "retry with an edited input" 200
expect_eq "retry with an input that fits the output: succeeds" succeeded \
    "$(wait_final "$failed1")"
# A run that failed after its last step has no failed step to retry from.
req POST /hooks/broken-output "${J[@]}" -d '{"n": 2}'
f2=$(body 'd["run_id"]')
req POST "/runs/$f2/retry" "${J[@]}" -d '{}'
expect_error "retry of a run failed by its output, without from_step" \
    409 conflict
# Bulk: two runs failed at a step, redriven by filter.
req POST /hooks/timeout "${J[@]}" -d '{"n": 2}'
t2=$(body 'd["run_id"]')
req POST /hooks/timeout "${J[@]}" -d '{"n": 3}'
t3=$(body 'd["run_id"]')
expect_eq "a step that times out fails its run" failed "$(wait_final "$t2")"
expect_eq "... the other one too" failed "$(wait_final "$t3")"
req POST "/runs/retry?workflow=timeout&state=failed"
expect_code "bulk retry" 200
expect_eq "bulk retry: answers how many (2)" True \
    "$(body 'str(2 in [v for v in d.values() if type(v) is int])')"
sleep 0.3
wait_final "$t2" >/dev/null
wait_final "$t3" >/dev/null
req GET "/runs/$t3"
expect_eq "bulk retry: the run ran again (and failed again)" True \
    "$(body 'str(len([t for t in d["transitions"]
    if t["to"] == "failed"]) >= 2)')"

# --- Listing.
req GET "/runs?workflow=echo&limit=2"
expect_code "GET /runs" 200
expect_eq "GET /runs: filtered and limited" '["echo", "echo"]' \
    "$(body '[r["workflow"] for r in (d["runs"] if type(d) is dict else d)]')"
expect_eq "GET /runs: newest first" True "$(body '
str([r["id"] for r in (d["runs"] if type(d) is dict else d)] ==
    sorted([r["id"] for r in (d["runs"] if type(d) is dict else d)],
    reverse=True))')"
req GET "/runs?state=cancelled"
expect_eq "GET /runs?state=cancelled: none left" 0 \
    "$(body 'len(d["runs"] if type(d) is dict else d)')"

# --- Idempotency.
before=$(count_runs echo)
req POST /hooks/echo "${J[@]}" -H 'Idempotency-Key: key-1' -d '{"n": 20}'
expect_code "first keyed trigger" 202
k1=$(body 'd["run_id"]')
expect_eq "first keyed trigger: not a replay" "" \
    "$(header Idempotent-Replayed)"
req POST /hooks/echo "${J[@]}" -H 'Idempotency-Key: key-1' -d '{"n": 21}'
expect_code "repeated key" 202
expect_eq "repeated key: the first run" "$k1" "$(body 'd["run_id"]')"
expect_eq "repeated key: Idempotent-Replayed" true \
    "$(header Idempotent-Replayed)"
wait_final "$k1" >/dev/null
req POST /hooks/echo "${J[@]}" -H 'Idempotency-Key: key-1' -d '{"n": 22}'
expect_eq "repeated key after the end: the first run" "$k1" \
    "$(body 'd["run_id"]')"
expect_eq "a repeated key creates nothing" $((before + 1)) \
    "$(count_runs echo)"
req GET "/runs/$k1"
expect_eq "the keyed run kept the first input" 20 \
    "$(body 'str(d["output"]["n"])')"
# Two at once with a new key: the key is read off the loop, then the
# second finds the first's run in memory.
pids=
for i in 1 2 3; do
	curl -s --max-time 10 -X POST "${J[@]}" -H 'Idempotency-Key: key-2' \
	    -d "{\"n\": 2$i}" "$URL/hooks/echo" >"$T/k2-$i.json" &
	pids="$pids $!"
done
wait $pids
expect_eq "three at once with one key: one run" 1 "$(for i in 1 2 3; do
	json "$T/k2-$i.json" 'd["run_id"]'; done 2>&1 | sort -u | wc -l)"

# --- Signatures.
sig=$(printf '%s' '{"n": 30}' | openssl dgst -sha256 -hmac "$SECRET" |
    sed 's/^.* //')
req POST /hooks/signed "${J[@]}" -H "X-Signature-256: sha256=$sig" \
    --data-binary '{"n": 30}'
expect_code "a good signature" 202
req POST /hooks/signed "${J[@]}" -H "X-Signature-256: sha256=$sig" \
    --data-binary '{"n": 31}'
expect_error "a signature of another body" 401 unauthorized
req POST /hooks/signed "${J[@]}" --data-binary '{"n": 30}'
expect_error "no signature" 401 unauthorized
req POST /hooks/signed "${J[@]}" -H "X-Signature-256: sha256=zz" \
    --data-binary '{"n": 30}'
expect_error "a malformed signature" 401 unauthorized
expect_eq "refused signatures create nothing" 1 "$(count_runs signed)"

# --- The API token.
NOAUTH=1 req GET /runs
expect_error "GET /runs without the token" 401 unauthorized
NOAUTH=1 req GET /runs -H 'Authorization: Bearer wrong'
expect_error "GET /runs with a wrong token" 401 unauthorized
NOAUTH=1 req GET "/runs/$run1"
expect_error "GET /runs/ID without the token" 401 unauthorized
NOAUTH=1 req GET /workflows
expect_error "GET /workflows without the token" 401 unauthorized
NOAUTH=1 req POST /workflows/manual/runs "${J[@]}" -d '{"n": 1}'
expect_error "POST /workflows/NAME/runs without the token" 401 unauthorized
NOAUTH=1 req POST "/runs/$run1/retry" "${J[@]}" -d '{}'
expect_error "retry without the token" 401 unauthorized
NOAUTH=1 req POST /hooks/echo "${J[@]}" -d '{"n": 40}'
expect_code "webhooks need no token" 202

# --- Start by hand.
req POST /workflows/manual/runs "${J[@]}" -d '{"n": 41}'
expect_code "POST /workflows/NAME/runs" 202
m1=$(body 'd["run_id"]')
expect_eq "the manual run succeeds" succeeded "$(wait_final "$m1")"
req POST /workflows/manual/runs "${J[@]}" -H 'Prefer: wait=5' -d '{"n": 42}'
expect_code "POST /workflows/NAME/runs with Prefer: wait" 200
expect_eq "... answers the output" 42 "$(body 'str(d["n"])')"
m2=$(header Run-Id)
expect_eq "... and the run in Run-Id" 26 "${#m2}"
expect_eq "... and in Location" "/runs/$m2" "$(header Location)"

# --- Error codes.
req POST /hooks/echo "${J[@]}" -d '{"n": '
expect_error "truncated JSON" 400 bad_json
req POST /hooks/echo "${J[@]}" -d '{"n": -1}'
expect_error "input below its minimum" 422 invalid_input
expect_not_contains "a JSON body's 422 has no form hint" \
    "$(body 'd["error"]["message"]')" "read as a form"
expect_contains "422 names the path" "$(body 'd["error"]["message"]')" "n"
req POST /hooks/echo "${J[@]}" -d '{"m": 1}'
expect_error "input without a required key" 422 invalid_input
expect_contains "422 names the key" "$(body 'd["error"]["message"]')" "n"
head -c 4096 /dev/zero | tr '\0' ' ' >"$T/big.json"
printf '{"n": 1}' >>"$T/big.json"
req POST /hooks/echo "${J[@]}" --data-binary "@$T/big.json"
expect_error "body over max_body_bytes" 413 payload_too_large
# Over the server's --max-body, and a request that is not HTTP: libevent
# refuses them before our handlers run; the answer is our JSON all the same.
head -c 100000 /dev/zero | tr '\0' ' ' >"$T/huge.json"
req POST /hooks/echo "${J[@]}" --data-binary "@$T/huge.json"
expect_error "body over --max-body" 413 payload_too_large
expect_contains "413: JSON" "$(header Content-Type)" application/json
expect_contains "413: names --max-body and its value" \
    "$(body 'd["error"]["message"]')" "--max-body of 65536 bytes"
head -c 3000000 /dev/zero | tr '\0' ' ' >"$T/huge.json"
req POST /hooks/echo "${J[@]}" --data-binary "@$T/huge.json"
expect_error "body over --max-body, sent after 100-continue" 413 \
    payload_too_large
expect_eq "a request that is not HTTP: a JSON 400" bad_request \
    "$(python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"NOT HTTP AT ALL\r\n\r\n")
a = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    a += b
print(a.decode().split("\r\n\r\n", 1)[1])' "$SERVE_PORT" |
    json - 'd["error"]["code"]')"
req GET /healthz
expect_code "healthy after refused requests" 200
req POST /hooks/echo -H 'Content-Type: image/png' --data-binary '{"n": 1}'
expect_error "image/png" 415 unsupported_media_type
req POST /hooks/nowhere "${J[@]}" -d '{"n": 1}'
expect_error "unknown webhook" 404 not_found
req GET /runs/01ARZ3NDEKTSV4RRFFQ69G5FAV
expect_error "unknown run" 404 not_found
req POST /runs/01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel
expect_error "cancel an unknown run" 404 not_found
req GET /workflows/nothing
expect_error "unknown workflow" 404 not_found
req POST /workflows/nothing/runs "${J[@]}" -d '{}'
expect_error "start an unknown workflow" 404 not_found
req GET /nowhere
expect_error "unknown path" 404 not_found
req GET /hooks/echo
expect_error "GET on a webhook" 405 method_not_allowed
req DELETE /runs
expect_error "DELETE /runs" 405 method_not_allowed
req PUT /healthz
expect_error "PUT /healthz" 405 method_not_allowed
expect_eq "none of the refused triggers made a run" $((before + 3)) \
    "$(count_runs echo)"

# --- 429 under a concurrency limit (1 running, --max-queue 1 waiting).
req POST /hooks/limited "${J[@]}" -d '{"n": 1}'
expect_code "limited: the first runs" 202
l1=$(body 'd["run_id"]')
req POST /hooks/limited "${J[@]}" -d '{"n": 2}'
expect_code "limited: the second waits" 202
l2=$(body 'd["run_id"]')
req POST /hooks/limited "${J[@]}" -d '{"n": 3}'
expect_error "limited: the third is refused" 429 too_many_requests
expect_true "429 with a Retry-After in seconds ($(header Retry-After))" \
    grep -Eiq '^Retry-After: *[0-9]+' "$T/headers"
expect_eq "429 creates nothing" 2 "$(count_runs limited)"
req GET "/runs/$l2"
expect_eq "limited: the second is queued" queued "$(body 'd["state"]')"
req GET /metrics
expect_true "metrics: the queue depth shows the waiting run" \
    grep -Eq '^[a-z_]*queue[a-z_]*(\{[^}]*\})? +1(\.0*)?$' "$T/body"
expect_eq "limited: the first ends" succeeded "$(wait_final "$l1")"
req POST /hooks/limited "${J[@]}" -d '{"n": 4}'
expect_code "limited: room again once the first ended" 202
l3=$(body 'd["run_id"]')

# --- /workflows, /healthz, /metrics.
req GET /workflows
expect_code "GET /workflows" 200
expect_eq "GET /workflows: the 9 names" \
    "$(printf '%s' '["broken-output", "echo", "echo-sync", "limited", ' \
    '"manual", "signed", "slow", "slow-sync", "timeout"]')" \
    "$(body 'sorted(w["name"] for w in
    (d["workflows"] if type(d) is dict else d))')"
req GET /workflows/echo
expect_code "GET /workflows/NAME" 200
expect_eq "GET /workflows/NAME: the description" "Echo n with the run id" \
    "$(body 'd["description"]')"
expect_eq "GET /workflows/NAME: the input schema" '["n"]' \
    "$(body 'd["input"]["required"]')"
expect_eq "GET /workflows/NAME: the definition's steps" \
    '[["decode", "json.decode"], ["shape", "transform"]]' \
    "$(body '[[s["name"], s["uses"]] for s in d["definition"]["steps"]]')"
# show --workflow: the same from the server, and from the folder.
ORCH_API_TOKEN=$API_TOKEN expect_exit 0 orch show --workflow echo --url "$URL"
expect_contains "show --workflow --url: the trigger" "$(out)" \
    "webhook POST /hooks/echo (async)"
expect_contains "show --workflow --url: a step row" "$(out)" \
    "2  shape   transform"
expect_exit 0 orch show --workflow echo --workflows "$WF" --json
expect_eq "show --workflow --json: the file's steps" 2 \
    "$(json "$OUT" 'len(d["steps"])')"
expect_exit 1 orch show --workflow nothing --workflows "$WF"
expect_contains "show --workflow: an unknown one is named" "$(err)" \
    "no workflow nothing in $WF"
req GET /healthz
expect_code "GET /healthz" 200
req GET /metrics
expect_code "GET /metrics" 200
expect_contains "metrics: Prometheus text" "$(header Content-Type)" \
    "text/plain"
m=$BODY
expect_contains "metrics: TYPE lines" "$m" "# TYPE "
expect_true "metrics: runs by state (succeeded)" \
    grep -Eq '^[a-z_]*runs[a-z_]*\{[^}]*state="succeeded"[^}]*\} +[1-9]' \
    "$T/body"
expect_true "metrics: runs by state (failed)" \
    grep -Eq '^[a-z_]*runs[a-z_]*\{[^}]*state="failed"[^}]*\} +[1-9]' \
    "$T/body"
expect_true "metrics: a step duration histogram" \
    grep -Eq '^[a-z_]*step[a-z_]*_bucket\{[^}]*le="\+Inf"[^}]*\} +[1-9]' \
    "$T/body"
expect_true "metrics: retries" grep -Eq '^[a-z_]*retr[a-z_]* +[0-9]' \
    "$T/body"
expect_true "metrics: HTTP answers by code (429 counted)" \
    grep -Eq '^[a-z_]*http[a-z_]*\{[^}]*code="429"[^}]*\} +[1-9]' "$T/body"
[ "$FAILED" -eq 0 ] || { echo "metrics were:"; sed 's/^/    | /' "$T/body"; }

# --- The access log: one line per request with the run id.
serve_stop TERM
expect_eq "SIGTERM: exit 0" 0 "$SERVE_RC"
expect_true "access log: the async trigger with its status and run id" \
    grep -E "POST.*/hooks/echo.*202.*$run1|$run1.*202" "$SERVE_LOG"
finish
