#!/usr/bin/env bash
# The dashboard and runs that wait (issue 18), in tmux: the runs table and
# the run view say what a run waits for; W shows only the waiting runs; a
# on a run that waits for its time, or that does not wait, says so at once;
# on a run that waits for a signal it takes a JSON body (a typo keeps the
# prompt open and says what is wrong), asks, and sends it. On the database
# the signalled run goes on in the dashboard's process; with --url the
# server delivers it. Either way the run succeeds, the body as the step's
# output.
. "$(dirname "$0")/serve-lib.sh"
. "$TOP_SRCDIR/tests/integration/dashboard-lib.sh"
export LANG=C.UTF-8 LC_ALL=C.UTF-8

cat >"$WF/approve.json" <<'JSON'
{ "name": "approve",
  "trigger": { "webhook": { "path": "/hooks/approve" } },
  "steps": [
    { "name": "ask", "uses": "wait.signal", "with": { "timeout_ms": 600000 } },
    { "name": "done", "uses": "json.encode" } ] }
JSON
cat >"$WF/nap.json" <<'JSON'
{ "name": "nap",
  "steps": [ { "name": "nap", "uses": "wait", "with": { "ms": 600000 } } ] }
JSON

# field ID EXPR: a field of the run's document in the store.
field() {
	orch show "$1" --json 2>/dev/null | json - "$2" 2>/dev/null
}
state() { field "$1" 'd["state"]'; }
# ask_output ID: the output of the run's step ask.
ask_output() {
	field "$1" '[s["output"] for s in d["steps"] if s["name"] == "ask"][0]'
}
# started WORKFLOW: the newest run of the workflow, once it waits.
started() {
	local id
	id=$(orch runs --workflow "$1" --limit 1 --json | json - 'd["id"]')
	wait_eq 10 waiting state "$id" && echo "$id"
}

# On the database: a run waiting for a signal, then one sleeping.
orch run "$WF/approve.json" >/dev/null 2>&1
asked=$(started approve)
orch run "$WF/nap.json" >/dev/null 2>&1
napping=$(started nap)
expect_true "the two runs wait" test -n "$asked" -a -n "$napping"

dash_start "env TERM=screen NO_COLOR=1 '$ORCH_BIN' dashboard --db '$DB' \
    --interval 200ms"
expect_true "the table's last column says what runs wait for" wait_screen \
    "ERROR / WAITING FOR"
expect_true "a run waits for a signal" wait_screen \
    "$asked  approve   waiting    ask     1"
expect_true "the table names the step, not the request" wait_screen \
    "a signal to step ask, until 20"
expect_true "a run waits for its time" wait_screen \
    "its time: step nap sleeps until 20"
tm send-keys -t dash W
expect_true "W: only waiting runs" wait_screen "state=waiting"

# The newest first: the sleeping run, then the one asking.
tm send-keys -t dash a
expect_true "a on a sleeping run says so at once" wait_screen \
    "run $napping waits for its time: step nap sleeps until"
tm send-keys -t dash Enter
expect_true "the run view says what it waits for" wait_screen \
    "waiting for: its time: step nap sleeps until 20"
tm send-keys -t dash Escape j Enter
expect_true "the other run's view names the request" wait_screen \
    "waiting for: a signal to step ask (POST /runs/$asked/signals/ask)"
tm send-keys -t dash a
expect_true "a opens a prompt for the body, {} by default" wait_screen \
    "signal to step ask of run $asked, JSON body: {}_"
tm send-keys -t dash C-u '{"ok": tru' Enter
expect_true "a typo is named and the prompt stays" wait_screen \
    "JSON body: {\"ok\": tru_  not JSON:"
tm send-keys -t dash 'e}' Enter
expect_true "then it asks first" wait_screen \
    "send {\"ok\": true} to step ask of run $asked? (y/n)"
tm send-keys -t dash y
expect_true "y sends it" wait_screen "run $asked: signal to step ask sent"
expect_true "the run goes on in the dashboard and succeeds" \
    wait_eq 10 succeeded state "$asked"
expect_eq "the body is the step's output" '{"ok": true}' \
    "$(ask_output "$asked")"
expect_true "the run view follows it" wait_screen \
    "run $asked  approve  succeeded  [following]"
tm send-keys -t dash a
expect_true "a on a finished run says so at once" wait_screen \
    "run $asked is succeeded: it waits for no signal"
tm send-keys -t dash Escape q
expect_true "q quits" gone
tm kill-session -t dash

# Through a server: the default body, sent by the server.
serve_start || finish
req POST /hooks/approve -H 'Content-Type: application/json' -d '{}'
remote=$(json "$T/body" 'd["run_id"]')
expect_true "a run waits on the server" wait_eq 10 waiting state "$remote"
dash_start "env TERM=screen NO_COLOR=1 '$ORCH_BIN' dashboard --url '$URL' \
    --interval 200ms"
tm send-keys -t dash W
expect_true "--url: the run and what it waits for" wait_screen \
    "$remote  approve   waiting    ask     1"
expect_true "--url: W filters" wait_screen "state=waiting"
tm send-keys -t dash a
expect_true "--url: a opens the prompt" wait_screen \
    "signal to step ask of run $remote, JSON body: {}_"
tm send-keys -t dash Enter
expect_true "--url: it asks first" wait_screen \
    "send {} to step ask of run $remote? (y/n)"
tm send-keys -t dash n
expect_true "--url: n sends nothing" wait_screen "no signal sent"
expect_eq "--url: the run still waits" waiting "$(state "$remote")"
tm send-keys -t dash a Enter y
expect_true "--url: y sends it" wait_screen \
    "run $remote: signal to step ask sent"
expect_true "--url: the run succeeds" wait_eq 10 succeeded state "$remote"
expect_eq "--url: {} is the step's output" '{}' "$(ask_output "$remote")"
tm send-keys -t dash q
expect_true "--url: q quits" gone

finish
