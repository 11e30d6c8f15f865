#!/usr/bin/env bash
# A step that takes its process down every time is not resumed forever:
# after ORCH_CRASH_RESUMES crashes in it (here 1) the next take-over fails
# the run and says why. Restarts that drained first (SIGTERM) are not
# crashes: a run cut by any number of them resumes. The same holds for a
# failed run's on_failure: it fails, and the run is done.
. "$(dirname "$0")/serve-lib.sh"

J=(-H 'Content-Type: application/json')
export ORCH_CRASH_RESUMES=1

# A long nap: the run is in its step whenever the daemon goes away.
cat >"$WF/napper.json" <<'JSON'
{
  "name": "napper",
  "trigger": { "webhook": { "path": "/hooks/napper", "mode": "async" } },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "nap", "uses": "wait", "with": { "ms": 600000, "durable": false } }
  ]
}
JSON

# A step that fails at once, and an on_failure that naps.
cat >"$WF/doomed.json" <<'JSON'
{
  "name": "doomed",
  "trigger": { "webhook": { "path": "/hooks/doomed", "mode": "async" } },
  "steps": [
    { "name": "bad", "uses": "transform", "with": { "v": "{{input.none}}" } }
  ],
  "on_failure": { "uses": "wait", "with": { "ms": 600000, "durable": false } }
}
JSON

# show_is ID EXPR WANT: waits (at most 10 s) until EXPR over the run's
# `show --json` is WANT.
show_is() {
	local i
	for i in $(seq 1 100); do
		[ "$(orch show "$1" --json 2>/dev/null | json - "$2")" = "$3" ] &&
		    return 0
		sleep 0.1
	done
	return 1
}
# in_nap ID: the run is running its nap; in_dead ID: its on_failure.
in_nap() { show_is "$1" 'd["state"] + " " + str(d["step"])' "running nap"; }
in_dead() {
	show_is "$1" 'd["state"] + " " + str(d.get("on_failure"))' \
	    "failed pending"
}
state_of() { orch show "$1" --json 2>/dev/null | json - 'd["state"]'; }
# restart SIGNAL: stops the server with SIGNAL and starts it again.
restart() {
	serve_stop "$1"
	serve_start --grace-ms 100 --log-level info || finish
}
# events ID [FROM]: the run's transition events from the FROM-th on.
events() {
	orch show "$1" --json |
	    json - '" ".join(t["event"] for t in d["transitions"]['"${2:-0}"':])'
}

serve_start --grace-ms 100 --log-level info || finish
req POST /hooks/napper "${J[@]}" -d '{}'
expect_code "the trigger" 202
id=$(body 'd["run_id"]')
expect_true "the run is in its nap" in_nap "$id"

# Two restarts that drain: the run resumes after each.
for i in 1 2; do
	serve_stop TERM
	expect_eq "restart $i: SIGTERM exits 0" 0 "$SERVE_RC"
	serve_start --grace-ms 100 --log-level info || finish
	expect_true "restart $i: the run resumes" in_nap "$id"
	expect_true "restart $i: the log says so" \
	    grep -q "run $id resumes at step nap" "$SERVE_LOG"
done

# One crash is resumed (ORCH_CRASH_RESUMES=1).
serve_stop KILL
expect_eq "crash 1: SIGKILL" 137 "$SERVE_RC"
serve_start --grace-ms 100 --log-level info || finish
expect_true "crash 1: the run resumes" in_nap "$id"

# The second crash in the same step: the run fails at the take-over.
restart KILL
req GET "/runs/$id?wait=10000"
expect_eq "crash 2: the run failed" failed "$(body 'd["state"]')"
expect_contains "crash 2: the error says why" "$(body 'd["error"]')" \
    "step nap: the process running it died 2 times before it finished"
expect_true "crash 2: the log says so" \
    grep -q "run $id: step nap: the process running it died" "$SERVE_LOG"
orch show "$id" >"$T/show.txt" 2>&1
expect_contains "show names the crashes" "$(cat "$T/show.txt")" \
    "ORCH_CRASH_RESUMES=1"
# The history: two drains (stopped, resumed), a crash (resumed), failed.
expect_eq "the transitions" \
    "created started step_succeeded stopped resumed stopped resumed resumed failed" \
    "$(events "$id")"

# Another run is not affected: it starts and naps.
req POST /hooks/napper "${J[@]}" -d '{}'
other=$(body 'd["run_id"]')
expect_true "a new run naps" in_nap "$other"

# on_failure: a restart and a crash are resumed, the second crash is not.
req POST /hooks/doomed "${J[@]}" -d '{}'
dead=$(body 'd["run_id"]')
expect_true "the failed run runs on_failure" in_dead "$dead"
restart TERM
expect_true "restart: on_failure runs again" in_dead "$dead"
restart KILL
expect_true "crash 1: on_failure runs again" in_dead "$dead"
restart KILL
req GET "/runs/$dead?wait=10000"
expect_eq "crash 2: on_failure failed" failed "$(body 'd["on_failure"]')"
expect_eq "the on_failure transitions" \
    "failed stopped resumed resumed on_failure_failed" \
    "$(events "$dead" 2)"
expect_contains "the last one says why" \
    "$(orch show "$dead" --json | json - 'd["transitions"][-1]["error"]')" \
    "on_failure: the process running it died 2 times before it finished"
serve_stop TERM
expect_eq "SIGTERM: exit 0" 0 "$SERVE_RC"
finish
