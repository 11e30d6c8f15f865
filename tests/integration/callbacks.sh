#!/usr/bin/env bash
# Callbacks with task tokens (wait_for_callback): the step hands
# {{callback.url}} to a service (contrib/example-service.py's /jobs) and
# the run waits until POST /callbacks/TOKEN, whose body is the step's
# output, with no API token while the server requires one; a second
# callback is 409, a token the server did not make 404 touching nothing;
# /fail fails the step, retried or not as its body says, and a retry hands
# out a new token; a callback before the step's own request finished is
# 409 with Retry-After; /heartbeat pushes the step's timeout on, and past
# it the step fails; Idempotency-Key on a signal and a callback; a
# callback after a SIGKILL; the document-scan example against the
# service, which calls back by itself.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/serve-lib.sh"
. "$here/service-lib.sh"

svc_start --quiet || finish
# cbwf NAME TIMEOUT_MS MAX_ATTEMPTS: a workflow whose step "ask" posts a
# job with its callback URL and waits for the callback.
cbwf() {
	cat >"$WF/$1.json" <<JSON
{ "name": "$1",
  "trigger": { "webhook": { "path": "/hooks/$1" } },
  "allow": { "hosts": ["127.0.0.1:$SVC_PORT"] },
  "steps": [
    { "name": "ask", "uses": "http.request", "wait_for_callback": true,
      "timeout_ms": $2, "retry": { "max_attempts": $3, "backoff_ms": 10 },
      "with": { "method": "POST", "url": "$SVC_URL/jobs",
        "body": { "callback_url": "{{callback.url}}", "after_ms": 3600000,
                  "result": { "run": "{{run.id}}",
                              "attempt": "{{run.attempt}}" } },
        "expect_status": 202 } },
    { "name": "done", "uses": "json.encode" } ] }
JSON
}
cbwf cb 60000 3
cbwf short 2500 1
cat >"$WF/approve.json" <<'JSON'
{ "name": "approve",
  "trigger": { "webhook": { "path": "/hooks/approve" } },
  "steps": [ { "name": "ask", "uses": "wait.signal" } ] }
JSON
J=(-H 'Content-Type: application/json')
export ORCH_API_TOKEN=s3cret
API_TOKEN=s3cret

field() {
	orch show "$1" --json 2>/dev/null | json - "$2" 2>/dev/null
}
state() { field "$1" 'd["state"]'; }
ntrans() { field "$1" 'len(d["transitions"])'; }
trigger() {
	req POST "/hooks/$1" "${J[@]}" -d "${2:-{\}}"
	json "$T/body" 'd["run_id"]'
}
# cb_path RUN [ATTEMPT]: the path of the callback URL the run's step
# handed to the service (its latest job, or that attempt's), which must be
# on this server.
cb_path() {
	local url
	url=$(svc_job_callback "$@") || return 1
	case $url in
	"$URL/callbacks/"*) echo "${url#"$URL"}" ;;
	*) echo "not a callback URL of $URL: $url" >&2; return 1 ;;
	esac
}
# has_job RUN: yes once the service got the run's job.
has_job() {
	cb_path "$1" >/dev/null 2>&1 && echo yes
}
# cb PATH [CURL ARGS...]: a callback, without the API token.
cb() {
	local path=$1
	shift
	NOAUTH=1 req POST "$path" "$@"
}

serve_start --log-level info || finish
req GET /runs
expect_code "the API wants its token" 200
NOAUTH=1 req GET /runs
expect_code "and refuses a request without it" 401

# The step's work is done; the run waits for the callback, and says so.
id=$(trigger cb)
expect_true "the run waits" wait_eq 10 waiting state "$id"
expect_contains "for a callback" "$(field "$id" 'd["waiting_for"]')" \
    "a callback to step ask"
p=$(cb_path "$id")
expect_ne "the step handed out a callback URL on this server" "" "$p"

# Tokens this server did not make: 404, and the run is untouched.
n=$(ntrans "$id")
cb "/callbacks/AAAA${p:15}" "${J[@]}" -d '{}'
expect_error "a tampered token" 404 not_found
cb "/callbacks/nonsense" "${J[@]}" -d '{}'
expect_error "an unknown token" 404 not_found
cb "/callbacks/AAAA${p:15}/fail" "${J[@]}" -d '{"error": "x"}'
expect_error "a tampered token's /fail" 404 not_found
expect_eq "nothing changed" "waiting $n" "$(state "$id") $(ntrans "$id")"

# The callback's body is the step's output; it needs no API token.
cb "$p" "${J[@]}" -d '{"approved": true, "by": "svc"}'
expect_code "the callback" 200
expect_eq "answered with the run" "$id" "$(json "$T/body" 'd["id"]')"
tok=${p#/callbacks/}
expect_eq "the access log keeps no whole token" 0 \
    "$(grep -c "$tok" "$SERVE_LOG")"
expect_contains "but its start" "$(cat "$SERVE_LOG")" \
    "path=\"/callbacks/${tok:0:8}\" status=200"
expect_true "the run goes on and succeeds" wait_eq 10 succeeded state "$id"
expect_eq "the step's output is the callback's body" \
    '{"approved": true, "by": "svc"}' \
    "$(field "$id" '[s["output"] for s in d["steps"] if s["name"] == "ask"][0]')"
# A replay takes the recorded callback as the step's output, waiting for
# none and posting no job.
jobs=$(grep -c '"/jobs"' "$SVC_RECORD")
expect_exit 0 orch replay "$id" --file "$WF/cb.json"
expect_eq "a replay's output is the recorded callback's" \
    '"{\"approved\":true,\"by\":\"svc\"}"' "$(out)"
expect_eq "and it posted no job" "$jobs" "$(grep -c '"/jobs"' "$SVC_RECORD")"
n=$(ntrans "$id")
cb "$p" "${J[@]}" -d '{"again": true}'
expect_error "a second callback" 409 conflict
cb "$p/heartbeat"
expect_error "a heartbeat after it" 409 conflict
expect_eq "the run is as it was" "succeeded $n" "$(state "$id") $(ntrans "$id")"

# /fail, not retryable: the step fails for good with the service's words.
id=$(trigger cb)
expect_true "another run waits" wait_eq 10 waiting state "$id"
p=$(cb_path "$id")
cb "$p/fail" "${J[@]}" -d '{"errror": "typo"}'
expect_error "a /fail without error" 400 bad_request
cb "$p/fail" "${J[@]}" -d '{"error": "card declined"}'
expect_code "/fail" 200
expect_true "the run fails" wait_eq 10 failed state "$id"
expect_eq "its error is the service's" \
    "step ask: the callback says: card declined" "$(field "$id" 'd["error"]')"
expect_eq "after one attempt" 1 "$(field "$id" 'd["attempt"]')"

# /fail, retryable: the step runs again, with a new token; the old one
# is refused.
id=$(trigger cb)
expect_true "a third run waits" wait_eq 10 waiting state "$id"
p1=$(cb_path "$id" 1)
cb "$p1/fail" "${J[@]}" -d '{"error": "busy", "retryable": true}'
expect_code "a retryable /fail" 200
expect_true "the step is tried again" wait_eq 10 2 field "$id" 'd["attempt"]'
expect_true "and waits again" wait_eq 10 waiting state "$id"
p2=$(cb_path "$id" 2)
expect_ne "the second attempt has its own token" "$p1" "$p2"
cb "$p1" "${J[@]}" -d '{}'
expect_error "the first attempt's token" 409 conflict
cb "$p2" "${J[@]}" -d '{"second": true}'
expect_code "the second attempt's callback" 200
expect_true "the run succeeds" wait_eq 10 succeeded state "$id"

# A callback before the step's own request has finished: 409 with
# Retry-After; once it has, the callback goes through.
svc_control '{"delay_ms": 1500}'
id=$(trigger cb)
expect_true "the job is posted" wait_eq 10 yes has_job "$id"
p=$(cb_path "$id")
cb "$p" "${J[@]}" -d '{"early": true}'
expect_error "a callback before the step's request ended" 409 conflict
expect_eq "says to try again soon" 1 "$(header Retry-After)"
svc_control '{"delay_ms": 0}'
expect_true "the run waits once the request ends" wait_eq 10 waiting \
    state "$id"
cb "$p" "${J[@]}" -d '{"early": false}'
expect_code "the callback then" 200
expect_true "that run succeeds" wait_eq 10 succeeded state "$id"

# A heartbeat pushes the step's timeout (2.5 s) on; without one it fails.
id=$(trigger short)
expect_true "a short one waits" wait_eq 10 waiting state "$id"
p=$(cb_path "$id")
for i in 1 2 3; do
	sleep 1.2
	cb "$p/heartbeat"
	expect_code "heartbeat $i" 200
done
expect_eq "past its timeout, kept waiting by heartbeats" waiting \
    "$(state "$id")"
cb "$p" "${J[@]}" -d '{"late": "but alive"}'
expect_code "its callback" 200
expect_true "it succeeds" wait_eq 10 succeeded state "$id"
id=$(trigger short)
expect_true "the step times out" wait_eq 10 failed state "$id"
expect_contains "saying so" "$(field "$id" 'd["error"]')" \
    "step ask timed out after"
expect_contains "waiting for a callback" "$(field "$id" 'd["error"]')" \
    "waiting for a callback"

# Idempotency-Key: a repeat of a signal or callback answers as the first
# did, even after a restart; another body under the key is 409.
sid=$(trigger approve)
expect_true "a run waits for a signal" wait_eq 10 waiting state "$sid"
K=(-H 'Idempotency-Key: sig-1')
req POST "/runs/$sid/signals/ask" "${J[@]}" "${K[@]}" -d '{"n": 1}'
expect_code "a keyed signal" 200
req POST "/runs/$sid/signals/ask" "${J[@]}" "${K[@]}" -d '{"n": 1}'
expect_code "its repeat" 200
expect_eq "is a replay" true "$(header Idempotent-Replayed)"
expect_eq "of the same run" "$sid" "$(json "$T/body" 'd["id"]')"
req POST "/runs/$sid/signals/ask" "${J[@]}" "${K[@]}" -d '{"n": 2}'
expect_error "the key with another body" 409 conflict
req POST "/runs/$sid/signals/ask" "${J[@]}" -d '{"n": 1}'
expect_error "the same signal without the key" 409 conflict
cid=$(trigger cb)
expect_true "a run waits for a callback" wait_eq 10 waiting state "$cid"
cp_=$(cb_path "$cid")
K=(-H 'Idempotency-Key: cb-1')
cb "$cp_" "${J[@]}" "${K[@]}" -d '{"n": 1}'
expect_code "a keyed callback" 200
cb "$cp_" "${J[@]}" "${K[@]}" -d '{"n": 1}'
expect_code "its repeat" 200
expect_eq "is a replay" true "$(header Idempotent-Replayed)"
cb "$cp_" "${J[@]}" "${K[@]}" -d '{"n": 2}'
expect_error "the key with another body" 409 conflict
expect_true "the run succeeded once" wait_eq 10 succeeded state "$cid"

# After a SIGKILL the callback still finds its run.
id=$(trigger cb)
expect_true "a run waits before the kill" wait_eq 10 waiting state "$id"
p=$(cb_path "$id")
serve_kill
serve_start --log-level info || finish
cb "$p" "${J[@]}" -d '{"after": "kill"}'
expect_code "a callback after a SIGKILL" 200
expect_true "that run succeeds" wait_eq 10 succeeded state "$id"
cb "$cp_" "${J[@]}" -H 'Idempotency-Key: cb-1' -d '{"n": 1}'
expect_eq "a keyed repeat after the restart is still a replay" "200 true" \
    "$CODE $(header Idempotent-Replayed)"

# The example: the service calls back by itself, 2 s later.
svc_copy_example document-scan "$WF"
serve_stop
serve_start --log-level info || finish
id=$(trigger document-scan '{"document": "invoice-7.pdf"}')
expect_true "document-scan waits" wait_eq 10 waiting state "$id"
expect_true "and succeeds once called back" wait_eq 15 succeeded state "$id"
expect_file "the result is stored" "$T/buckets/results/scans/$id.json"
expect_contains "with the service's result" \
    "$(cat "$T/buckets/results/scans/$id.json")" '"document":"invoice-7.pdf"'

finish
