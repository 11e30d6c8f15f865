#!/usr/bin/env bash
# Runs that wait (issue: waiting runs): a wait.signal step waits for
# POST /runs/ID/signals/STEP, whose body is its output; 404 for an unknown
# run, 409 for another step or a second signal; a signal after a SIGKILL;
# a wait.signal past its timeout fails; the wait step is a durable timer
# that wakes at its time across a SIGKILL, near (in memory) or far (in the
# store alone, taken back when due); a waiting run is cancelled; and
# `orchestrator signal` delivers a signal from the command line, through a
# server or on the database file.
. "$(dirname "$0")/serve-lib.sh"

# A run that waits for a signal to its step "ask" (a minute at most).
cp "$TOP_SRCDIR/tests/data/waiting/approve.json" "$WF/"
cat >"$WF/impatient.json" <<'JSON'
{ "name": "impatient",
  "trigger": { "webhook": { "path": "/hooks/impatient" } },
  "steps": [
    { "name": "ask", "uses": "wait.signal", "with": { "timeout_ms": 800 } }
  ] }
JSON
cat >"$WF/sleepy.json" <<'JSON'
{ "name": "sleepy",
  "trigger": { "webhook": { "path": "/hooks/sleepy" } },
  "steps": [
    { "name": "nap", "uses": "wait", "with": { "ms": "{{input.ms}}" } },
    { "name": "up", "uses": "json.encode" } ] }
JSON
cat >"$WF/early.json" <<'JSON'
{ "name": "early",
  "trigger": { "webhook": { "path": "/hooks/early" } },
  "steps": [
    { "name": "nap", "uses": "wait", "with": { "until": "2020-01-01T00:00:00Z" } }
  ] }
JSON
J=(-H 'Content-Type: application/json')

# field ID EXPR: a field of the run's document in the store.
field() {
	orch show "$1" --json 2>/dev/null | json - "$2" 2>/dev/null
}
state() { field "$1" 'd["state"]'; }
# trigger HOOK BODY: starts a run, prints its id.
trigger() {
	req POST "/hooks/$1" "${J[@]}" -d "$2"
	json "$T/body" 'd["run_id"]'
}

serve_start --log-level info || finish

# A run waits for a signal, and says so.
id=$(trigger approve '{"order": 7}')
expect_true "the run waits" wait_eq 10 waiting state "$id"
expect_contains "it says for what" "$(field "$id" 'd["waiting_for"]')" \
    "a signal to step ask (POST /runs/$id/signals/ask)"
expect_exit 0 orch runs --state waiting
expect_contains "runs --state waiting lists it" "$(out)" "$id"
req GET /metrics
expect_contains "/metrics counts waiting runs" "$BODY" \
    'orchestrator_runs{state="waiting"} 1'

# Refused signals change nothing.
req POST /runs/01NOSUCHRUN0000000000000000/signals/ask "${J[@]}" -d '{}'
expect_code "a signal to an unknown run" 404
req POST "/runs/$id/signals/other" "${J[@]}" -d '{}'
expect_code "a signal to another step" 409
expect_contains "409 names the step it waits on" "$BODY" \
    "waits for a signal on step ask, not on other"
req POST "/runs/$id/signals/ask" "${J[@]}" -d '{"ok": '
expect_code "a signal that is not JSON" 400
expect_eq "still waiting" waiting "$(state "$id")"

# The signal's body is the step's output; a second one is refused.
req POST "/runs/$id/signals/ask" "${J[@]}" -d '{"approved": true}'
expect_code "the signal" 200
expect_true "the run goes on and succeeds" wait_eq 10 succeeded state "$id"
expect_eq "the step's output is the signal" '{"approved": true}' \
    "$(field "$id" '[s["output"] for s in d["steps"] if s["name"] == "ask"][0]')"
req POST "/runs/$id/signals/ask" "${J[@]}" -d '{}'
expect_code "a second signal" 409

# Past its timeout, a wait.signal fails, saying so.
id2=$(trigger impatient '{}')
expect_true "an unsignalled wait fails" wait_eq 10 failed state "$id2"
expect_contains "its error says it timed out" "$(field "$id2" 'd["error"]')" \
    "step ask timed out after"

# A wait "until" a past time wakes at once.
id3=$(trigger early '{}')
expect_true "a past due time wakes at once" wait_eq 10 succeeded state "$id3"

# SIGKILL with a run waiting for a signal, one sleeping near (in memory)
# and one sleeping far (in the store alone), one waiting to be cancelled,
# and one whose signal was just answered.
ids=$(trigger approve '{"order": 8}')
near=$(trigger sleepy '{"ms": 2500}')
far=$(trigger sleepy '{"ms": 11500}')
gone=$(trigger approve '{"order": 9}')
took_it=$(trigger approve '{"order": 12}')
expect_true "they wait" wait_eq 10 waiting state "$far"
expect_true "the last one waits too" wait_eq 10 waiting state "$took_it"
req POST "/runs/$took_it/signals/ask" "${J[@]}" -d '{"before": "kill"}'
expect_code "a signal right before a SIGKILL" 200
serve_kill
serve_start --log-level info || finish
req POST "/runs/$ids/signals/ask" "${J[@]}" -d '{"after": "kill"}'
expect_code "a signal after a SIGKILL" 200
expect_true "that run succeeds" wait_eq 10 succeeded state "$ids"
expect_true "the run signalled before the kill succeeds" \
    wait_eq 10 succeeded state "$took_it"
expect_eq "with the signal it was answered for" '{"before": "kill"}' \
    "$(field "$took_it" '[s["output"] for s in d["steps"] if s["name"] == "ask"][0]')"
req POST "/runs/$gone/cancel"
expect_code "a waiting run is cancelled" 200
expect_eq "it is cancelled" cancelled "$(state "$gone")"
expect_true "the near sleeper wakes" wait_eq 10 succeeded state "$near"
took=$(field "$near" 'd["finished_at"] - d["created_at"]')
expect_true "at its time, not 2.5 s after the restart ($took ms)" \
    test "$took" -ge 2500 -a "$took" -lt 4500
expect_true "the far sleeper wakes" wait_eq 15 succeeded state "$far"
took=$(field "$far" 'd["finished_at"] - d["created_at"]')
expect_true "at its time too ($took ms)" \
    test "$took" -ge 11500 -a "$took" -lt 14000

# A cancelled waiting run is redriven: it waits again, and takes a signal.
expect_exit 0 orch retry "$gone" --url "$URL"
expect_true "the redriven run waits again" wait_eq 10 waiting state "$gone"
req POST "/runs/$gone/signals/ask" "${J[@]}" -d '{"again": true}'
expect_code "its signal" 200
expect_true "it succeeds" wait_eq 10 succeeded state "$gone"

# A reload (SIGHUP) that changes the workflow leaves a waiting run on the
# definition it started with.
id6=$(trigger approve '{"order": 13}')
expect_true "a run waits before the reload" wait_eq 10 waiting state "$id6"
sed 's/"name": "done", "uses": "json.encode"/"name": "done2", "uses": "json.encode"/' \
    "$WF/approve.json" >"$T/approve2.json" && mv "$T/approve2.json" "$WF/approve.json"
kill -HUP "$SERVE_PID"
expect_true "the reload is done" wait_eq 10 1 \
    grep -c 'orchestrator: reloaded' "$SERVE_LOG"
req POST "/runs/$id6/signals/ask" "${J[@]}" -d '{}'
expect_code "its signal after the reload" 200
expect_true "it succeeds" wait_eq 10 succeeded state "$id6"
expect_eq "on its own definition (step done, not done2)" done \
    "$(field "$id6" 'd["steps"][-1]["name"]')"

# With an API token, a signal needs it, as the rest of the API does.
serve_stop
API_TOKEN=sekret ORCH_API_TOKEN=sekret serve_start || finish
id7=$(API_TOKEN=sekret trigger approve '{"order": 14}')
expect_true "a run waits" wait_eq 10 waiting state "$id7"
NOAUTH=1 req POST "/runs/$id7/signals/ask" "${J[@]}" -d '{}'
expect_code "a signal without the API token" 401
expect_eq "it changed nothing" waiting "$(state "$id7")"
API_TOKEN=sekret req POST "/runs/$id7/signals/ask" "${J[@]}" -d '{}'
expect_code "a signal with it" 200
serve_stop
serve_start --log-level info || finish

# orchestrator run of a run that starts a long wait: it says so, exit 0.
sed 's/"timeout_ms": 60000/"timeout_ms": 30000/' "$WF/approve.json" \
    >"$T/approve-run.json"
expect_exit 0 orch run "$T/approve-run.json"
expect_contains "run says the run waits" "$(err)" \
    "waits on step ask until"
expect_eq "and prints no output" "" "$(out)"

# From the command line: through the server, and on the database file.
id4=$(trigger approve '{"order": 10}')
expect_true "another run waits" wait_eq 10 waiting state "$id4"
expect_exit 0 orch signal "$id4" ask --url "$URL" --input - <<<'{"by": "cli"}'
expect_contains "signal --url says so" "$(out)" "signal to step ask delivered"
expect_true "it succeeds" wait_eq 10 succeeded state "$id4"
id5=$(trigger approve '{"order": 11}')
expect_true "one more waits" wait_eq 10 waiting state "$id5"
serve_stop
expect_exit 0 orch signal "$id5" ask --input - <<<'{"by": "db"}'
expect_eq "signal on the file runs it to its end here" \
    '"{\"by\":\"db\"}"' "$(out)"
expect_eq "and it succeeded" succeeded "$(state "$id5")"
expect_exit 1 orch signal "$id5" ask
expect_contains "a finished run takes no signal" "$(err)" \
    "run $id5 is succeeded: it waits for no signal"

finish
