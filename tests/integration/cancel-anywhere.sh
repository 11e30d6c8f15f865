#!/usr/bin/env bash
# Cancel from anywhere: a run executed by another live process (a server,
# or `orchestrator run` in another terminal) is cancelled by a request in
# the store that the process running it takes within a second.
# - `orchestrator cancel ID` on the database file while a server runs it:
#   the run ends cancelled, the command says so;
# - a run of `orchestrator run` cancelled from another command: that
#   command exits 1;
# - POST /runs/ID/cancel on a server for a run `orchestrator run` holds:
#   202 "requested", and the holder stops it.
. "$(dirname "$0")/serve-lib.sh"

# The nap is a step in flight, held by the process executing it: its
# timeout_ms, shorter than the wait, makes the wait an ordinary attempt
# rather than a durable sleep in the store.
cat >"$WF/napper.json" <<'JSON'
{ "name": "napper",
  "trigger": { "webhook": { "path": "/hooks/napper" } },
  "steps": [ { "name": "nap", "uses": "wait", "with": { "ms": 60000, "durable": false },
    "timeout_ms": 59000 } ] }
JSON
J=(-H 'Content-Type: application/json')

# state ID: the run's state in the store.
state() {
	orch show "$1" --json 2>/dev/null | json - 'd["state"]' 2>/dev/null
}
# wait_state ID STATE: bounded (10 s).
wait_state() {
	local i
	for i in $(seq 1 100); do
		[ "$(state "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

serve_start --log-level info || finish
req POST /hooks/napper "${J[@]}" -d '{}'
id=$(body 'd["run_id"]')
expect_true "the server runs it" wait_state "$id" running
T0=$(date +%s%N)
expect_exit 0 orch cancel "$id"
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
expect_contains "cancel: the command says the run was cancelled" "$(out)" \
    "run $id cancelled"
expect_contains "cancel: it says another process runs it" "$(err)" \
    "executed by another process; cancel requested"
expect_eq "cancel: the store says cancelled" cancelled "$(state "$id")"
expect_true "cancel: within 3 s of the request ($MS ms)" [ "$MS" -lt 3000 ]
expect_contains "cancel: the server logged whose request it took" \
    "$(cat "$SERVE_LOG")" "run $id cancelled by a request from another"
serve_stop

# run_in_background N: orchestrator run of napper, its output in
# $T/runN.*; sets RUNPID and rid (its run, once running; bounded).
run_in_background() {
	local i
	"$ORCH_BIN" run "$WF/napper.json" --db "$DB" >"$T/run$1.out" \
	    2>"$T/run$1.err" &
	RUNPID=$!
	rid=
	for i in $(seq 1 100); do
		rid=$(orch runs --json --state running 2>/dev/null |
		    json - 'd["id"]' 2>/dev/null)
		[ -n "$rid" ] && break
		sleep 0.1
	done
}

# orchestrator run in the background, cancelled from another command.
run_in_background 1
expect_ne "orchestrator run started its run" "" "$rid"
expect_exit 0 orch cancel "$rid"
rc=
for i in $(seq 1 100); do
	if ! kill -0 "$RUNPID" 2>/dev/null; then
		wait "$RUNPID"
		rc=$?
		break
	fi
	sleep 0.1
done
expect_eq "orchestrator run exits 1 when its run is cancelled" 1 "$rc"
expect_contains "orchestrator run says why" "$(cat "$T/run1.err")" \
    "cancelled"

# The API of a server, for a run that orchestrator run holds: 202.
run_in_background 2
serve_start || finish
req POST "/runs/$rid/cancel"
expect_code "API cancel of a run another process holds" 202
expect_eq "API cancel: requested" requested "$(body 'd["cancel"]')"
expect_true "API cancel: the holder stops it" wait_state "$rid" cancelled
for i in $(seq 1 100); do
	kill -0 "$RUNPID" 2>/dev/null || break
	sleep 0.1
done
expect_eq "the holder exited" 1 "$(kill -0 "$RUNPID" 2>/dev/null; echo $?)"
wait "$RUNPID" 2>/dev/null

# A finished run cannot be cancelled, nor can a run that does not exist.
expect_exit 1 orch cancel "$id"
expect_contains "cancel of a cancelled run says so" "$(err)" \
    "is already cancelled"
finish
