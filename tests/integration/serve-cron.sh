#!/usr/bin/env bash
# Cron triggers of `orchestrator serve` (SPEC section 1), on the test clock
# (ORCH_TEST_CLOCK_FILE: the scheduler's "now" is the number in that file):
# fires at the right minutes with the cron trigger, overlap skip and queue,
# catch-up none, one and all across a restart, no second fire after a
# restart at the same clock, a changed schedule on SIGHUP, the skipped
# fires in /metrics and `orchestrator schedules`, and validate catching a
# bad schedule or timezone at its line and column.
. "$(dirname "$0")/serve-lib.sh"

test_clock_init

# cronwf NAME CRON [STEP_MS] [EXTRA]: a workflow with that cron trigger.
cronwf() {
	cat >"$WF/$1.json" <<JSON
{
  "name": "$1",
  "trigger": { "cron": $2 },
  ${4:-}
  "steps": [
    { "name": "nap", "uses": "wait", "with": { "ms": ${3:-0}, "durable": false } },
    { "name": "shape", "uses": "transform",
      "with": { "at": "{{trigger.scheduled_at}}" } }
  ]
}
JSON
}

# nruns WORKFLOW [STATE]: how many runs it has.
nruns() {
	local st=()
	[ -n "${2:-}" ] && st=(--state "$2")
	orch runs --workflow "$1" "${st[@]}" --limit 1000 --json 2>/dev/null |
	    wc -l
}

# wait_runs WORKFLOW N: waits (at most 10 s) until it has N runs.
wait_runs() {
	local i
	for i in $(seq 1 100); do
		[ "$(nruns "$1")" -ge "$2" ] && break
		sleep 0.1
	done
	expect_eq "$1 has $2 runs" "$2" "$(nruns "$1")"
}

# wait_runs_in WORKFLOW N STATE: waits (at most 10 s) for N runs in STATE.
wait_runs_in() {
	local i
	for i in $(seq 1 100); do
		[ "$(nruns "$1" "$3")" -ge "$2" ] && break
		sleep 0.1
	done
	expect_eq "$1 has $2 runs $3" "$2" "$(nruns "$1" "$3")"
}

# trigger_of RUN_ID: the run's stored trigger record, as JSON.
trigger_of() {
	orch show "$1" --json | json - 'd["trigger"]'
}

# sched WORKFLOW EXPR: a field of its row in `schedules --json`.
sched() {
	"$ORCH_BIN" schedules --db "$DB" --json >"$T/sched.jsonl" 2>"$ERR"
	jsonl "$T/sched.jsonl" "[r for r in d if r['workflow'] == '$1'][0]$2"
}

cronwf every '{ "schedule": "* * * * *", "overlap": "allow" }'
cronwf slow '{ "schedule": "*/2 * * * *", "timezone": "Europe/Paris" }' 30000
cronwf queued '{ "schedule": "*/2 * * * *", "overlap": "queue" }' 30000 \
    '"concurrency": 1,'
cronwf cnone '{ "schedule": "* * * * *", "catch_up": "none" }'
cronwf cone '{ "schedule": "* * * * *", "catch_up": "one" }'
cronwf call '{ "schedule": "* * * * *", "catch_up": "all" }'

# validate: the schedule and the timezone are parsed at load time.
cronwf badexpr '{ "schedule": "61 * * * *" }'
mv "$WF/badexpr.json" "$T/badexpr.json"
cronwf badtz '{ "schedule": "0 * * * *", "timezone": "Mars/Olympus" }'
mv "$WF/badtz.json" "$T/badtz.json"
expect_exit 1 orch validate "$T/badexpr.json"
expect_contains "a bad field is reported at its place" "$(err)" \
    "badexpr.json:3:26: trigger.cron.schedule: "
expect_contains "the message names the field" "$(err)" "minute 61"
expect_exit 1 orch validate "$T/badtz.json"
expect_contains "an unknown timezone is reported" "$(err)" \
    "trigger.cron.timezone: "
expect_exit 0 orch validate "$WF/slow.json"

# 00:00:30: scheduled, nothing fired.
clock 0 30
serve_start --grace-ms 300 || finish
expect_eq "every: next fire at 00:01" $((T0 + MIN)) "$(sched every "['next_at']")"
expect_eq "slow: next fire at 00:02 Paris" \
    "Europe/Paris $((T0 + 2 * MIN))" \
    "$(sched slow "['timezone']") $(sched slow "['next_at']")"
sleep 0.3
expect_eq "no fire before its minute" 0 "$(nruns every)"

# 00:01: every fires, with the cron trigger.
clock 1 0
wait_runs every 1
id=$(orch runs --workflow every --json --limit 1 | json - 'd["id"]')
expect_eq "the run's trigger is cron" \
    "{\"source\": \"cron\", \"scheduled_at\": $((T0 + MIN))}" \
    "$(trigger_of "$id")"
wait_runs_in every 1 succeeded
orch show "$id" --json >"$T/show.json"
expect_eq "{{trigger.scheduled_at}} is the fire's minute" $((T0 + MIN)) \
    "$(json "$T/show.json" 'd["output"]["at"]')"
expect_eq "slow did not fire at 00:01" 0 "$(nruns slow)"

# 00:02: every and the */2 ones fire.
clock 2 0
wait_runs every 2
wait_runs slow 1
wait_runs queued 1
clock 3 0
wait_runs every 3
# 00:04: slow's run still naps: skipped; queued's fire is held until
# the run before it ends (not a run waiting for a slot).
clock 4 0
wait_runs every 4
sleep 0.6
expect_eq "overlap skip: no second slow run" 1 "$(nruns slow)"
expect_eq "overlap skip is counted" 1 "$(sched slow "['skipped']")"
expect_eq "overlap queue: no second run while the first goes on" 1 \
    "$(nruns queued)"
first=$(orch runs --workflow queued --json --limit 1 | json - 'd["id"]')
req POST "/runs/$first/cancel"
expect_code "overlap queue: the first run is cancelled" 200
wait_runs queued 2
second=$(orch runs --workflow queued --json --limit 1 | json - 'd["id"]')
expect_eq "overlap queue: the held fire starts once the first ended" \
    "{\"source\": \"cron\", \"scheduled_at\": $((T0 + 4 * MIN))}" \
    "$(trigger_of "$second")"
for w in cnone cone call; do
	wait_runs $w 4
done

# A restart at the same clock fires nothing again.
serve_stop
serve_start --grace-ms 300 || finish
sleep 0.5
expect_eq "no second fire after a restart" 4 "$(nruns every)"
expect_eq "call has no second fire" 4 "$(nruns call)"
expect_eq "every: next fire still 00:05" $((T0 + 5 * MIN)) \
    "$(sched every "['next_at']")"
serve_stop

# Down from 00:04 to 00:10:30: fires 00:05 .. 00:10 are due, 00:10 on
# time.
clock 10 30
serve_start --grace-ms 300 || finish
wait_runs call 10
wait_runs cnone 5
wait_runs cone 5
sleep 0.5
expect_eq "catch_up none: only the on-time fire" 5 "$(nruns cnone)"
expect_eq "catch_up none: missed fires counted" 5 \
    "$(sched cnone "['skipped']")"
expect_eq "catch_up one: one run for the missed fires" 5 "$(nruns cone)"
expect_eq "catch_up one: nothing skipped" 0 "$(sched cone "['skipped']")"
expect_eq "catch_up all: one run per fire" 10 "$(nruns call)"
expect_eq "catch_up all: fired" 10 "$(sched call "['fired']")"
expect_eq "catch_up all: last fire 00:10" $((T0 + 10 * MIN)) \
    "$(sched call "['last_fire_at']")"
expect_eq "next fire after the catch-up" $((T0 + 11 * MIN)) \
    "$(sched cnone "['next_at']")"
orch runs --workflow call --limit 100 --json >"$T/call.jsonl"
ids=$(jsonl "$T/call.jsonl" '" ".join(r["id"] for r in d)')
at=""
for id in $ids; do
	at="$at $(trigger_of "$id" | json - 'd["scheduled_at"]')"
done
sorted=$(echo $at | tr ' ' '\n' | sort -n | tr '\n' ' ')
expect_eq "catch_up all: each minute once" \
    "$(for i in $(seq 1 10); do printf '%s ' $((T0 + i * MIN)); done)" \
    "$sorted"

# /metrics and `orchestrator schedules`.
req GET /metrics
expect_contains "skipped fires in /metrics" "$BODY" \
    'orchestrator_schedule_skipped_total{workflow="cnone"} 5'
expect_contains "overlap skips in /metrics" "$BODY" \
    'orchestrator_schedule_skipped_total{workflow="slow"} '
expect_contains "fires in /metrics" "$BODY" \
    'orchestrator_schedule_fired_total{workflow="call"} 10'
expect_exit 0 orch schedules --db "$DB"
expect_contains "schedules: the header" "$(out)" \
    "WORKFLOW  SCHEDULE     TIMEZONE      NEXT FIRE"
expect_contains "schedules: a row" "$(out)" \
    "cnone     * * * * *    UTC           2030-01-01T00:11:00.000Z  "
expect_contains "schedules: the timezone" "$(out)" \
    "slow      */2 * * * *  Europe/Paris  2030-01-01T00:12:00.000Z"
cp "$OUT" "$T/schedules-db.txt"
# The same through the server (GET /schedules).
expect_exit 0 orch schedules --url "$URL"
expect_eq "schedules --url prints what the database shows" \
    "$(cat "$T/schedules-db.txt")" "$(out)"
expect_exit 0 orch schedules --db "$DB" --json
cp "$OUT" "$T/schedules-db.json"
expect_exit 0 orch schedules --url "$URL" --json
expect_eq "schedules --url --json: the database's rows" \
    "$(cat "$T/schedules-db.json")" "$(out)"

# SIGHUP with a changed expression: rescheduled from now.
cronwf every '{ "schedule": "*/15 * * * *" }'
rm -f "$WF/call.json"
kill -HUP "$SERVE_PID"
for i in $(seq 1 50); do
	[ "$(sched every "['schedule']")" = "*/15 * * * *" ] && break
	sleep 0.1
done
expect_eq "reload: the new expression" "*/15 * * * *" \
    "$(sched every "['schedule']")"
expect_eq "reload: rescheduled to 00:15" $((T0 + 15 * MIN)) \
    "$(sched every "['next_at']")"
expect_eq "reload: counters kept" 5 "$(sched every "['fired']")"
expect_eq "reload: a removed cron trigger is unscheduled" 0 \
    "$(sched call "['next_at']")"
clock 11 0
wait_runs cnone 6
expect_eq "reload: every waits for 00:15" 5 "$(nruns every)"
serve_stop
expect_eq "serve exits 0" 0 "$SERVE_RC"
finish
