#!/usr/bin/env bash
# Signals of `orchestrator serve` (SPEC sections 1, 3, 6): SIGHUP reloads
# the workflow folder (a broken file keeps its old definition serving, a
# new file is picked up, a run keeps the definition it started with);
# SIGTERM drains (503 to new requests, the steps in flight finish within
# --grace-ms, exit 0) and what the drain left unfinished resumes at the
# next start.
. "$(dirname "$0")/serve-lib.sh"

J=(-H 'Content-Type: application/json')

# hello: fast, answers its version. napper: a 2 s nap between two steps.
hello() {	# hello VERSION
	cat <<JSON
{
  "name": "hello",
  "trigger": { "webhook": { "path": "/hooks/hello", "mode": "sync" } },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "shape", "uses": "transform", "with": { "v": $1 } }
  ]
}
JSON
}
napper() {	# napper VERSION
	cat <<JSON
{
  "name": "napper",
  "trigger": { "webhook": { "path": "/hooks/napper", "mode": "async" } },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "nap", "uses": "wait", "with": { "ms": 2000, "durable": false } },
    { "name": "shape", "uses": "transform",
      "with": { "v": $1, "n": "{{input.n}}" } }
  ]
}
JSON
}
hello 1 >"$WF/hello.json"
napper 1 >"$WF/napper.json"

# wait_log PATTERN: waits (at most 10 s) for an extended regexp in the
# daemon's log.
wait_log() {
	local i
	for i in $(seq 1 100); do
		grep -Eq "$1" "$SERVE_LOG" && return 0
		sleep 0.1
	done
	return 1
}

# wait_log_count PATTERN N: waits (at most 10 s) for N lines of the
# daemon's log to match a basic regexp.
wait_log_count() {
	local i
	for i in $(seq 1 100); do
		[ "$(grep -c "$1" "$SERVE_LOG")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# state_of RUN_ID and def_of RUN_ID: from the database, through the CLI.
state_of() { orch show "$1" --json 2>/dev/null | json - 'd["state"]'; }
def_of() { orch show "$1" --json 2>/dev/null | json - 'd["definition"]'; }

# A file with napper's webhook path, later in name order: refused at the
# start naming both files, and napper keeps its path.
cat >"$WF/stolen.json" <<'JSON'
{
  "name": "stolen",
  "trigger": { "webhook": { "path": "/hooks/napper", "mode": "sync" } },
  "steps": [ { "name": "decode", "uses": "json.decode" } ]
}
JSON

serve_start --grace-ms 10000 --log-level info || finish

expect_true "serve: a webhook path used twice refuses the later file" \
    grep -Eq '/stolen.json:3:[0-9]+: webhook path "/hooks/napper" already '\
'used by [^ ]*/napper.json \(workflow napper\)' "$SERVE_LOG"
rm "$WF/stolen.json"

req POST /hooks/hello "${J[@]}" -d '{}'
expect_code "hello v1" 200
expect_eq "hello v1 answers 1" 1 "$(body 'str(d["v"])')"

# A run pinned to napper v1, in its nap while the folder changes.
req POST /hooks/napper "${J[@]}" -d '{"n": 1}'
expect_code "napper v1 run" 202
pinned=$(body 'd["run_id"]')
def1=$(def_of "$pinned")
expect_eq "the run is pinned to a definition hash" 64 "${#def1}"

# --- SIGHUP: hello broken, napper v2, a new workflow.
printf '{ "name": "hello", "steps": [ { "name": ' >"$WF/hello.json"
napper 2 >"$WF/napper.json"
cat >"$WF/added.json" <<'JSON'
{
  "name": "added",
  "trigger": { "webhook": { "path": "/hooks/added", "mode": "sync" } },
  "steps": [ { "name": "decode", "uses": "json.decode" } ]
}
JSON
kill -HUP "$SERVE_PID"
expect_true "SIGHUP: one line says what loaded and what was rejected" \
    wait_log 'orchestrator: reloaded .*: 3 workflows serve; rejected: '\
'[^ ]*/hello.json \(kept the previous definition of hello\)$'
expect_eq "SIGHUP: no internal names in the log" "" \
    "$(grep -o 'serve_reload' "$SERVE_LOG")"
expect_true "SIGHUP: the broken file is reported by name" \
    grep -q 'hello.json' "$SERVE_LOG"
expect_true "SIGHUP: the daemon lives on" kill -0 "$SERVE_PID"

req POST /hooks/hello "${J[@]}" -d '{}'
expect_code "hello after a broken reload" 200
expect_eq "hello keeps its old definition" 1 "$(body 'str(d["v"])')"
req POST /hooks/added "${J[@]}" -d '{"x": 5}'
expect_code "the new workflow serves" 200
expect_eq "the new workflow's output" 5 "$(body 'str(d["x"])')"
req GET /workflows
expect_eq "GET /workflows after the reload" '["added", "hello", "napper"]' \
    "$(body 'sorted(w["name"] for w in
    (d["workflows"] if type(d) is dict else d))')"

# The pinned run ends on v1, a new run runs v2.
req POST /hooks/napper "${J[@]}" -d '{"n": 2}'
fresh=$(body 'd["run_id"]')
req GET "/runs/$pinned?wait=10000"
expect_eq "the pinned run succeeds" succeeded "$(body 'd["state"]')"
expect_eq "the pinned run kept v1" 1 "$(body 'str(d["output"]["v"])')"
expect_eq "the pinned run's definition is unchanged" "$def1" \
    "$(def_of "$pinned")"
req GET "/runs/$fresh?wait=10000"
expect_eq "the new run succeeds" succeeded "$(body 'd["state"]')"
expect_eq "the new run runs v2" 2 "$(body 'str(d["output"]["v"])')"
def2=$(def_of "$fresh")
expect_eq "the new run has a definition hash" 64 "${#def2}"
expect_ne "the new run is pinned to the new definition" "$def1" "$def2"

# Fixing the broken file and reloading again picks it up.
hello 3 >"$WF/hello.json"
kill -HUP "$SERVE_PID"
sleep 0.3
expect_true "the second reload is logged, nothing rejected" \
    wait_log 'reloaded .*: 3 workflows serve; rejected: none$'
req POST /hooks/hello "${J[@]}" -d '{}'
expect_eq "hello fixed: v3" 3 "$(body 'str(d["v"])')"

# A new file that takes hello's path (or an API endpoint's) at a reload:
# refused, naming both files, and hello keeps serving its path.
cat >"$WF/thief.json" <<'JSON'
{
  "name": "thief",
  "trigger": { "webhook": { "path": "/hooks/hello", "mode": "sync" } },
  "steps": [ { "name": "decode", "uses": "json.decode" } ]
}
JSON
sed 's|"/hooks/napper"|"/runs/retry"|; s|"napper"|"thief2"|' \
    "$WF/napper.json" >"$WF/thief2.json"
kill -HUP "$SERVE_PID"
expect_true "SIGHUP: files that take a path are rejected" \
    wait_log 'reloaded .*: 3 workflows serve; rejected: [^ ]*/thief.json, '\
'[^ ]*/thief2.json$'
expect_true "SIGHUP: the path used twice is reported naming both files" \
    grep -Eq '/thief.json:3:[0-9]+: webhook path "/hooks/hello" already '\
'used by [^ ]*/hello.json \(workflow hello\)' "$SERVE_LOG"
expect_true "SIGHUP: the path of the API is reported" \
    grep -q 'thief2.json:.*"/runs/retry" is the server.s own endpoint' \
    "$SERVE_LOG"
req POST /hooks/hello "${J[@]}" -d '{}'
expect_eq "hello still answers at its path" 3 "$(body 'str(d["v"])')"
req POST '/runs/retry?workflow=nosuch'
expect_code "the API keeps its path" 200
expect_eq "the API answers there" 0 "$(body 'str(d["retried"])')"
rm "$WF/thief.json" "$WF/thief2.json"

# hello broken again while added takes its path: the previous hello is
# not kept (it would share the path), added answers there, and a line
# says why; both files as before serve as before.
printf '{ "name": "hello", "steps": [ { "name": ' >"$WF/hello.json"
sed -i 's|"/hooks/added"|"/hooks/hello"|' "$WF/added.json"
kill -HUP "$SERVE_PID"
expect_true "SIGHUP: a kept definition gives way to a file with its path" \
    wait_log 'reloaded .*: 2 workflows serve; rejected: [^ ]*/hello.json$'
expect_true "SIGHUP: the line says why hello was not kept" \
    grep -q 'hello.json: webhook path "/hooks/hello" now used by [^ ]*/'\
'added.json; the previous definition of hello is not kept' "$SERVE_LOG"
req POST /hooks/hello "${J[@]}" -d '{"x": 7}'
expect_eq "the file that loaded answers at the path" 7 \
    "$(body 'str(d["x"])')"
hello 3 >"$WF/hello.json"
sed -i 's|"/hooks/hello"|"/hooks/added"|' "$WF/added.json"
n0=$(grep -c 'rejected: none$' "$SERVE_LOG")
kill -HUP "$SERVE_PID"
expect_true "SIGHUP: both files back" wait_log_count 'rejected: none$' \
    $((n0 + 1))
expect_true "SIGHUP: and 3 workflows serve" \
    wait_log 'reloaded .*: 3 workflows serve; rejected: none$'
req POST /hooks/hello "${J[@]}" -d '{}'
expect_eq "hello answers at its path again" 3 "$(body 'str(d["v"])')"

# --- SIGTERM with a long grace: the step in flight finishes.
req POST /hooks/napper "${J[@]}" -d '{"n": 3}'
drained=$(body 'd["run_id"]')
sleep 0.5	# into its nap
t0=$(date +%s%N)
kill -TERM "$SERVE_PID"
sleep 0.2
req POST /hooks/hello "${J[@]}" -d '{}'
expect_error "a webhook while draining" 503 shutting_down
req GET /runs
expect_error "the API while draining" 503 shutting_down
serve_stop TERM
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
expect_eq "SIGTERM: exit 0" 0 "$SERVE_RC"
expect_true "SIGTERM: waited for the nap in flight (~1.5 s, took $ms ms)" \
    test "$ms" -ge 1000 -a "$ms" -lt 9000
s=$(state_of "$drained")
expect_true "the drained run succeeded or waits to resume ($s)" \
    test "$s" = succeeded -o "$s" = running -o "$s" = queued
# Its nap finished: the stored steps hold it.
expect_eq "the nap in flight completed before the exit" True \
    "$(orch show "$drained" --json | json - 'str("nap" in
    [s["name"] for s in d["steps"] if s["finished_at"]])')"

# --- SIGTERM with a short grace: the step in flight is left to resume.
serve_start --grace-ms 200 --log-level info || finish
expect_true "the restart resumes or finds nothing to do" kill -0 "$SERVE_PID"
req GET "/runs/$drained?wait=10000"
expect_eq "the drained run ends after the restart" succeeded \
    "$(body 'd["state"]')"
expect_eq "the drained run's output" 3 "$(body 'str(d["output"]["n"])')"
req POST /hooks/napper "${J[@]}" -d '{"n": 4}'
cut=$(body 'd["run_id"]')
sleep 0.5
t0=$(date +%s%N)
serve_stop TERM
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
expect_eq "SIGTERM (grace 200 ms): exit 0" 0 "$SERVE_RC"
expect_true "SIGTERM (grace 200 ms): did not wait for the nap ($ms ms)" \
    test "$ms" -lt 1300
expect_eq "the cut run is not final" running "$(state_of "$cut")"
expect_true "the grace period's end is logged" \
    grep -q 'still in flight' "$SERVE_LOG"

# A new definition meanwhile: the cut run must keep v2.
napper 5 >"$WF/napper.json"
serve_start --log-level info || finish
expect_true "the restart logs the resumed run" wait_log 'resumed [0-9]+'
req GET "/runs/$cut?wait=10000"
expect_eq "the cut run resumes and succeeds" succeeded "$(body 'd["state"]')"
expect_eq "the cut run's output" 4 "$(body 'str(d["output"]["n"])')"
expect_eq "the cut run finished on v2, not v5" 2 \
    "$(body 'str(d["output"]["v"])')"
expect_eq "the cut run kept its definition" "$def2" "$(def_of "$cut")"
serve_stop TERM
expect_eq "last SIGTERM: exit 0" 0 "$SERVE_RC"
finish
