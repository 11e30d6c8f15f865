#!/usr/bin/env bash
# The background-task example end to end on `orchestrator serve`, against
# contrib/example-service.py as the lookup service and the callback sink:
# a webhook (async, and with Prefer: wait) leads to the result in the
# bucket and the callback with the right body; the service failing with
# 500, with 429 and Retry-After, and closing connections is retried, the
# Retry-After observed; an unknown customer (404) fails the run at once and
# on_failure writes the dead letter; a callback host outside allow.hosts is
# refused with the rule named; a secret used by a Lua step's ctx.fetch
# reaches the service but neither the log, the database nor `show`.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/serve-lib.sh"
. "$here/service-lib.sh"

HOOK=/hooks/background-task
SECRET=tok-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

# post_order ORDER CUSTOMER [CALLBACK] [CURL ARGS...]: posts an order of
# two lines (3 x 1250 + 1 x 4999 cents) to the webhook.
post_order() {
	local order=$1 customer=$2 cb=${3:-$SVC_URL/callback}
	shift 3 2>/dev/null || shift $#
	req POST "$HOOK" -H 'Content-Type: application/json' "$@" \
	    --data "{\"order\":\"$order\",\"customer\":\"$customer\",
	    \"callback\":\"$cb\",\"items\":[
	    {\"sku\":\"widget\",\"qty\":3,\"price_cents\":1250},
	    {\"sku\":\"gadget\",\"qty\":1,\"price_cents\":4999}]}"
}

# run_json ID EXPR: a Python expression over GET /runs/ID.
run_json() {
	curl -s --max-time 10 "$URL/runs/$1" | json - "$2"
}

# attempts ID STEP: the attempts the run made of STEP, from its timeline.
attempts() {
	run_json "$1" "max([t['attempt'] for t in d['transitions']
	    if t['step'] == '$2'] or [0])"
}

# callback EXPR: a Python expression over the callback of run $RUN (its
# last one; None when there is none) as recorded by the service.
callback() {
	jsonl "$SVC_RECORD" "([(lambda r: $1)(r) for r in d
	    if isinstance(r['body'], dict) and
	    r['body'].get('run_id') == '$RUN'] or [None])[-1]" |
	    sed 's/^null$/None/'
}

# stats EXPR: a Python expression over the service's GET /stats.
stats() {
	curl -s --max-time 5 "$SVC_URL/stats" | json - "$1"
}

svc_start || finish
: >"$SVC_RECORD"
svc_copy_example background-task "$WF"

# A second workflow for the secret: only Lua can read one (ctx.env), and
# it sends it in a header of its ctx.fetch.
cat >"$WF/secret-call.json" <<EOF
{
  "name": "secret-call",
  "trigger": { "webhook": { "path": "/hooks/secret-call" } },
  "secrets": ["EXAMPLE_TOKEN"],
  "allow": { "hosts": ["127.0.0.1:$SVC_PORT"] },
  "steps": [
    { "name": "call", "uses": "lua", "script": "secret_call.lua" },
    { "name": "echo", "uses": "transform" }
  ]
}
EOF
cat >"$WF/secret_call.lua" <<EOF
return function(input, ctx)
  local r, e = ctx.fetch("$SVC_URL/callback", { method = "POST",
    headers = { Authorization = "Bearer " .. ctx.env("EXAMPLE_TOKEN"),
      ["Content-Type"] = "application/json" },
    body = ctx.json.encode({ run_id = ctx.run_id }) })
  if r == nil then error(ctx.retryable(e)) end
  return { status = r.status, run_id = ctx.run_id }
end
EOF

EXAMPLE_TOKEN=$SECRET serve_start --log-level debug || finish

# 1. Async: 202 and a run; the result lands in the bucket and the
# callback gets it, with the step's idempotency key.
post_order A-1 acme
expect_code "async webhook" 202
RUN=$(body 'd["run_id"]')
expect_eq "the async run succeeds" succeeded "$(wait_final "$RUN")"
res=$T/buckets/results/orders/$RUN.json
expect_file "the result is in the results bucket" "$res"
expect_eq "the stored result has the total (8749 - 10%)" 7875 \
    "$(json "$res" 'd["total_cents"]')"
expect_eq "the stored result names the customer" "Acme Corporation" \
    "$(json "$res" 'd["customer"]["name"]')"
expect_eq "the callback was received once" 1 \
    "$(jsonl "$SVC_RECORD" "len([r for r in d
    if isinstance(r['body'], dict) and r['body'].get('run_id') == '$RUN'])")"
expect_eq "the callback has the result" 7875 \
    "$(callback "r['body']['result']['total_cents']")"
expect_eq "the callback says where it is stored" "orders/$RUN.json" \
    "$(callback "r['body']['stored']['key']")"
expect_eq "the callback's sha256 is the stored file's" \
    "$(sha256sum "$res" | cut -d' ' -f1)" \
    "$(callback "r['body']['stored']['sha256']")"
expect_eq "the callback carries the step's idempotency key" True \
    "$(callback "str(r['idempotency_key'].startswith('$RUN:notify:'))")"
expect_eq "the callback is JSON" application/json \
    "$(callback "r['content_type']")"
expect_eq "the run's output is the callback's answer" 200 \
    "$(run_json "$RUN" 'd["output"]["status"]')"

# 2. Prefer: wait answers with the output.
post_order A-2 globex "" -H 'Prefer: wait=10'
expect_code "webhook with Prefer: wait" 200
expect_eq "the output is the callback's answer" True \
    "$(body 'str(d["body"]["received"])')"

# 3. The lookup fails twice with 500, then answers: three attempts.
before=$(stats 'd["sent"]["500"]')
svc_control '{"fail_500": 2, "fail_on": "/customers"}'
post_order A-3 acme
RUN=$(body 'd["run_id"]')
expect_eq "a run through two 500s succeeds" succeeded "$(wait_final "$RUN")"
expect_eq "the service sent two 500s" $((before + 2)) \
    "$(stats 'd["sent"]["500"]')"
expect_eq "the lookup took three attempts" 3 "$(attempts "$RUN" lookup)"
expect_eq "its callback arrived" 7875 \
    "$(callback "r['body']['result']['total_cents']")"

# 4. The callback answers 429 with Retry-After: 1 once: the retry waits
# about a second although the step's backoff is 250 ms.
svc_control '{"fail_429": 1, "retry_after": 1, "fail_on": "/callback"}'
post_order A-4 acme
RUN=$(body 'd["run_id"]')
expect_eq "a run through a 429 succeeds" succeeded "$(wait_final "$RUN")"
expect_eq "the notify step took two attempts" 2 "$(attempts "$RUN" notify)"
gap=$(stats "[e[0] for e in d['log'] if e[2] == '/callback'][-2:]" |
    python3 -c 'import json, sys
a = json.load(sys.stdin)
print("%.3f" % (a[1] - a[0]))')
expect_eq "the retry came after Retry-After (1 s <= $gap s < 3 s)" True \
    "$(python3 -c "print(1.0 <= $gap < 3.0)")"
expect_eq "the 429 is in the service's log" 429 \
    "$(stats "[e[3] for e in d['log'] if e[2] == '/callback'][-2]")"

# 5. The lookup service hangs up twice without an answer: retried.
before=$(stats 'd["sent"]["close"]')
svc_control '{"close": 2, "fail_on": "/customers"}'
post_order A-5 initech
RUN=$(body 'd["run_id"]')
expect_eq "a run through two closed connections succeeds" succeeded \
    "$(wait_final "$RUN")"
expect_eq "the service closed two connections" $((before + 2)) \
    "$(stats 'd["sent"]["close"]')"
# curl itself retries a request once when a reused connection turns out
# closed, so two hang-ups cost the step one or two more attempts.
n=$(attempts "$RUN" lookup)
expect_eq "the lookup took 2 or 3 attempts (closed), not $n" True \
    "$(python3 -c "print($n in (2, 3))")"
expect_eq "no discount for initech" 8749 \
    "$(callback "r['body']['result']['total_cents']")"
svc_control '{"close": 0, "fail_on": ""}'

# 6. An unknown customer: 404 is not retried; the run fails and its
# on_failure writes the dead letter. With Prefer: wait, a 500 answer.
post_order A-6 nobody "" -H 'Prefer: wait=10'
expect_error "unknown customer" 500 run_failed
RUN=$(body 'd["run_id"]')
expect_contains "the error names the 404" "$(body 'd["error"]["message"]')" \
    "404"
expect_eq "the run failed" failed "$(wait_final "$RUN")"
expect_eq "the lookup was tried once" 1 "$(attempts "$RUN" lookup)"
dead=$T/buckets/dead-letters/background-task/$RUN.json
for i in $(seq 1 50); do
	[ -f "$dead" ] && break
	sleep 0.1
done
expect_file "on_failure wrote the dead letter" "$dead"
expect_eq "the dead letter names the failed step" lookup \
    "$(json "$dead" 'd["step"]')"
expect_contains "the dead letter has the error" \
    "$(json "$dead" 'd["error"]')" "/customers/nobody"
expect_eq "the dead letter has the input" nobody \
    "$(json "$dead" 'd["input"]["customer"]')"
expect_eq "the run says on_failure succeeded" succeeded \
    "$(run_json "$RUN" 'd.get("on_failure")')"
expect_eq "no callback for the failed run" None "$(callback 'r')"

# 7. A callback host outside allow.hosts: refused for good, the rule named.
post_order A-7 acme "http://127.0.0.2:$SVC_PORT/callback"
RUN=$(body 'd["run_id"]')
expect_eq "the run with a foreign callback fails" failed \
    "$(wait_final "$RUN")"
msg=$(run_json "$RUN" 'd["error"]')
expect_contains "the error names the rule" "$msg" "allow.hosts"
expect_contains "the error names the host" "$msg" "127.0.0.2"
expect_eq "the refused step ran once" 1 "$(attempts "$RUN" notify)"
expect_eq "nothing reached another host" None "$(callback 'r')"
post_order A-8 acme "http://localhost:$SVC_PORT/callback"
RUN=$(body 'd["run_id"]')
expect_eq "localhost is not 127.0.0.1 for allow.hosts" failed \
    "$(wait_final "$RUN")"

# 8. The secret: used (the service saw it) but neither logged nor stored.
req POST /hooks/secret-call -H 'Content-Type: application/json' \
    -H 'Prefer: wait=10' --data '{"x": 1}'
expect_code "the secret-call run" 200
RUN=$(body 'd["run_id"]')
expect_eq "the service received the secret" "Bearer $SECRET" \
    "$(jsonl "$SVC_RECORD" "[r['authorization'] for r in d
    if r['authorization']][-1]")"
expect_eq "its run succeeded" succeeded "$(wait_final "$RUN")"
req GET "/runs/$RUN"
expect_not_contains "GET /runs/ID has no secret" "$BODY" "$SECRET"
serve_stop
expect_eq "the daemon drained" 0 "$SERVE_RC"
expect_exit 0 orch show "$RUN" --json
expect_not_contains "show --json has no secret" "$(out)" "$SECRET"
expect_exit 0 orch show "$RUN"
expect_not_contains "show has no secret" "$(out)" "$SECRET"
expect_eq "the daemon's log has no secret" 0 \
    "$(grep -c -a -F "$SECRET" "$SERVE_LOG")"
expect_ne "the daemon's log is not empty (debug)" 0 \
    "$(wc -l <"$SERVE_LOG")"
expect_eq "the database files have no secret" "" \
    "$(grep -l -a -F "$SECRET" "$DB"* 2>/dev/null)"
expect_eq "the buckets have no secret" "" \
    "$(grep -r -l -a -F "$SECRET" "$T/buckets" 2>/dev/null)"

finish
