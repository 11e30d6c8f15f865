#!/usr/bin/env bash
# Callbacks on PostgreSQL: two nodes share the database (pg-lib.sh); a
# run started on one hands out a callback URL under ORCH_PUBLIC_URL, and
# the other node takes its callback, its heartbeat and its /fail (the
# secret that signs tokens is the database's), and answers a repeat with
# the same Idempotency-Key as the first node did. Skipped without the
# PostgreSQL binaries or support in the build.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-180}
export ORC_TEST_TIMEOUT
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/serve-lib.sh"
. "$HERE/pg-lib.sh"
. "$HERE/service-lib.sh"
trap 'svc_cleanup; pg_nodes_cleanup; serve_cleanup; pg_cleanup; lib_cleanup' \
    EXIT

pg_need_support
pg_start || finish
DB=$ORCH_TEST_PG_URL
svc_start --quiet || finish
cat >"$WF/cb.json" <<JSON
{ "name": "cb",
  "trigger": { "webhook": { "path": "/hooks/cb" } },
  "allow": { "hosts": ["127.0.0.1:$SVC_PORT"] },
  "steps": [
    { "name": "ask", "uses": "http.request", "wait_for_callback": true,
      "timeout_ms": 60000, "retry": { "max_attempts": 1 },
      "with": { "method": "POST", "url": "$SVC_URL/jobs",
        "body": { "callback_url": "{{callback.url}}", "after_ms": 3600000,
                  "result": { "run": "{{run.id}}",
                              "attempt": "{{run.attempt}}" } },
        "expect_status": 202 } } ] }
JSON
J=(-H 'Content-Type: application/json')
state() { orch show "$1" --json 2>/dev/null | json - 'd["state"]'; }
# start: a run on node A; prints its id once it waits.
start() {
	URL=$A req POST /hooks/cb "${J[@]}" -d '{}'
	json "$T/body" 'd["run_id"]'
}
# path RUN: its callback URL's path, under the public URL.
path() {
	local url
	url=$(svc_job_callback "$1") || return 1
	echo "${url#http://lb.example:8080}"
}

# repeat_on_a PATH: node B's keyed callback again, to node A; prints the
# status and Idempotent-Replayed.
repeat_on_a() {
	URL=$A req POST "$1" "${J[@]}" -H 'Idempotency-Key: k1' \
	    -d '{"via": "B"}'
	echo "$CODE $(header Idempotent-Replayed)"
}

ORCH_PUBLIC_URL=http://lb.example:8080/ serve_start || finish
A=$URL
PIDS+=("$SERVE_PID")
SERVE_PID=
serve_start || finish
B=$URL

id=$(start)
expect_true "a run on node A waits" wait_eq 15 waiting state "$id"
url=$(svc_job_callback "$id")
expect_contains "its callback URL is under ORCH_PUBLIC_URL" "$url" \
    "http://lb.example:8080/callbacks/"
p=$(path "$id")
URL=$B req POST "$p/heartbeat"
expect_code "node B takes its heartbeat" 200
URL=$B req POST "$p" "${J[@]}" -H 'Idempotency-Key: k1' -d '{"via": "B"}'
expect_code "node B takes its callback" 200
expect_true "the run succeeds" wait_eq 15 succeeded state "$id"
expect_eq "with the callback's body" '{"via": "B"}' \
    "$(orch show "$id" --json | json - 'd["output"]')"
expect_true "node A answers the keyed repeat as B did" wait_eq 10 \
    "200 true" repeat_on_a "$p"
URL=$A req POST "$p" "${J[@]}" -d '{"via": "A"}'
expect_error "node A refuses a second callback" 409 conflict

id=$(start)
expect_true "another run waits" wait_eq 15 waiting state "$id"
p=$(path "$id")
URL=$B req POST "$p/fail" "${J[@]}" -d '{"error": "no"}'
expect_code "node B takes its /fail" 200
expect_true "that run fails" wait_eq 15 failed state "$id"
finish
