#!/usr/bin/env bash
# Failure, dead letter and redrive (SPEC section 3) on the flaky-export
# example: its slow step times out on every attempt, is retried with
# backoff, and the run fails for good; on_failure writes the dead letter
# into the "dead-letters" bucket. Then: retry on an edited definition
# (--latest), retry errors, bulk retry, cancel of a finished run, and replay,
# which runs an edited definition without touching the database.
. "$(dirname "$0")/lib.sh"

wf=$TOP_SRCDIR/workflows/flaky-export.json
[ -f "$wf" ] || hard_error "no flaky-export example"
attempts=$(json "$wf" 'd["defaults"]["retry"]["max_attempts"]')
timeout_ms=$(json "$wf" '[s for s in d["steps"]
    if s["name"] == "slow-upstream"][0]["timeout_ms"]')
wait_ms=$(json "$wf" '[s for s in d["steps"]
    if s["name"] == "slow-upstream"][0]["with"]["ms"]')
[ "$wait_ms" -gt "$timeout_ms" ] ||
    hard_error "flaky-export's wait no longer outlasts its timeout"

# The fixed copy, in a folder of its own for --workflows: the wait is
# shorter than the timeout.
mkdir fixed
sed 's/"ms": '"$wait_ms"'/"ms": 10/' "$wf" > fixed/flaky-export.json
expect_eq "the fixed copy waits 10 ms" 10 \
    "$(json fixed/flaky-export.json '[s for s in d["steps"]
    if s["name"] == "slow-upstream"][0]["with"]["ms"]')"

# count_runs: how many runs the database holds.
count_runs() {
	orch runs --json --limit 100000 | grep -c '^{'
}

# The failing run.
expect_exit 1 orch run "$wf"
expect_eq "a failed run prints nothing on stdout" "" "$(out)"
run1=$(newest_run)
expect_eq "the run is stored" 26 "${#run1}"
msg="step slow-upstream timed out after $timeout_ms ms"
expect_contains "the failure is one line naming the run and the step" \
    "$(err)" "orchestrator run: run $run1 failed: $msg"

expect_exit 0 orch show "$run1"
expect_contains "show: failed at slow-upstream, attempt $attempts" "$(out)" \
    "state      failed at step slow-upstream (visit 1, attempt $attempts)"
expect_contains "show: on_failure succeeded" "$(out)" \
    "on_failure succeeded"
expect_exit 0 orch show "$run1" --json
cp "$OUT" show1.json
expect_eq "show --json: failed" failed "$(json show1.json 'd["state"]')"
expect_eq "show --json: $attempts attempts" "$attempts" \
    "$(json show1.json 'd["attempt"]')"
expect_eq "show --json: at the slow step" slow-upstream \
    "$(json show1.json 'd["step"]')"
expect_eq "show --json: the error" \
    "step slow-upstream timed out after $timeout_ms ms" \
    "$(json show1.json 'd["error"]')"
expect_eq "show --json: on_failure succeeded" succeeded \
    "$(json show1.json 'd["on_failure"]')"
# Every attempt but the last times out and is retried; the last fails the
# run; then on_failure runs.
want="created started step_succeeded"
for i in $(seq 2 "$attempts"); do
	want="$want step_timed_out retried"
done
want="$want failed on_failure_succeeded"
expect_eq "show --json: the timeline" "$want" \
    "$(json show1.json '" ".join(t["event"] for t in d["transitions"])')"
expect_eq "show --json: $((attempts - 1)) step_timed_out" \
    $((attempts - 1)) "$(json show1.json 'len([t for t in d["transitions"]
    if t["event"] == "step_timed_out"])')"
expect_eq "show --json: retrying between attempts" \
    $((attempts - 1)) "$(json show1.json 'len([t for t in d["transitions"]
    if t["to"] == "retrying"])')"
expect_eq "show --json: attempts 1..$attempts of the slow step" \
    "$(seq -s ' ' 1 "$attempts")" \
    "$(json show1.json '" ".join(str(t["attempt"]) for t in d["transitions"]
    if t["step"] == "slow-upstream" and t["event"] in
    ("step_timed_out", "failed"))')"
# Each attempt was cut at its timeout, not left to wait its 5 s.
expect_eq "show --json: attempts end at the timeout" true \
    "$(json show1.json 'all('"$timeout_ms"' <= t["duration_ms"] < '"$wait_ms"'
    for t in d["transitions"] if t["event"] in ("step_timed_out",
    "failed"))')"
expect_eq "show --json: only decode finished" decode \
    "$(json show1.json '" ".join(s["name"] for s in d["steps"])')"
def1=$(json show1.json 'd["definition"]')
expect_eq "show --json: pinned to the file's definition" \
    "$(sha256sum "$wf" | cut -d' ' -f1)" "$def1"

# The dead letter: in the dead-letters bucket, with the run and the error.
dead=$ORCH_BUCKETS/dead-letters/flaky-export/$run1.json
expect_file "the dead letter is written" "$dead"
expect_eq "dead letter: run_id" "$run1" "$(json "$dead" 'd["run_id"]')"
expect_eq "dead letter: workflow" flaky-export \
    "$(json "$dead" 'd["workflow"]')"
expect_eq "dead letter: step" slow-upstream "$(json "$dead" 'd["step"]')"
expect_eq "dead letter: error" \
    "step slow-upstream timed out after $timeout_ms ms" \
    "$(json "$dead" 'd["error"]')"
expect_eq "no export was written" "" \
    "$(ls "$ORCH_BUCKETS/exports" 2>/dev/null)"

# A finished run cannot be cancelled.
expect_exit 1 orch cancel "$run1"
expect_contains "cancel of a failed run: already" "$(err)" \
    "run $run1 is already failed"

# Retry on the edited definition: from the failed step (whose wait, no
# longer cut short by a timeout, is a durable one), succeeds.
expect_exit 0 orch retry "$run1" --latest --workflows "$T/fixed"
cp "$OUT" retry1.json
expect_eq "retry prints the output: the export's key" "$run1.json" \
    "$(json retry1.json 'd["key"]')"
expect_file "the export is written" "$ORCH_BUCKETS/exports/$run1.json"
expect_exit 0 orch show "$run1" --json
cp "$OUT" show1b.json
expect_eq "after retry: succeeded" succeeded "$(json show1b.json 'd["state"]')"
expect_eq "after retry: no error" null "$(json show1b.json 'd["error"]')"
def2=$(json show1b.json 'd["definition"]')
expect_ne "after retry: the definition changed" "$def1" "$def2"
expect_eq "after retry: the definition is the fixed file's" \
    "$(sha256sum fixed/flaky-export.json | cut -d' ' -f1)" "$def2"
expect_eq "after retry: the old timeline is kept, then the redrive" \
    "$want redriven started waiting step_succeeded succeeded" \
    "$(json show1b.json '" ".join(t["event"] for t in d["transitions"])')"
expect_eq "after retry: redriven at the failed step" slow-upstream \
    "$(json show1b.json '[t["step"] for t in d["transitions"]
    if t["event"] == "redriven"][0]')"
expect_eq "after retry: each step finished once" \
    "decode slow-upstream store" \
    "$(json show1b.json '" ".join(s["name"] for s in d["steps"])')"

# Retry of a succeeded run: refused, clearly.
expect_exit 1 orch retry "$run1"
refusal="orchestrator retry: run $run1 is succeeded; only failed or"
expect_eq "retry of a succeeded run: one clear line" \
    "$refusal cancelled runs can be retried" "$(err)"
expect_exit 1 orch cancel "$run1"
expect_contains "cancel of a succeeded run: already" "$(err)" \
    "run $run1 is already succeeded"
expect_exit 1 orch retry 01NOSUCHRUN0000000000000000
expect_contains "retry of an unknown run names it" "$(err)" \
    "run 01NOSUCHRUN0000000000000000 not found"

# Two more failed runs.
expect_exit 1 orch run "$wf"
run2=$(newest_run)
expect_exit 1 orch run "$wf"
run3=$(newest_run)
expect_ne "two runs, two ids" "$run2" "$run3"

# --from-step a step the run never reached: refused, nothing changes.
before=$(orch show "$run2" --json | json - 'len(d["transitions"])')
expect_exit 1 orch retry "$run2" --from-step nope --latest \
    --workflows "$T/fixed"
expect_contains "--from-step unknown: names the step" "$(err)" '"nope"'
expect_contains "--from-step unknown: names the run" "$(err)" "$run2"
expect_eq "--from-step unknown: the run is untouched" "$before" \
    "$(orch show "$run2" --json | json - 'len(d["transitions"])')"
expect_exit 1 orch retry "$run2" --latest --workflows "$T/no-such-folder"
expect_contains "--latest without the workflow: says where it looked" \
    "$(err)" "no-such-folder"

# Replay on the fixed definition: the output, and no new run.
n_before=$(count_runs)
expect_eq "three runs so far" 3 "$n_before"
t_before=$(orch show "$run2" --json | json - 'len(d["transitions"])')
expect_exit 0 orch replay "$run2" --file fixed/flaky-export.json
cp "$OUT" replay.json
expect_eq "replay prints the output" exports \
    "$(json replay.json 'd["bucket"]')"
expect_eq "replay adds no run" "$n_before" "$(count_runs)"
expect_eq "replay leaves the run alone" "$t_before" \
    "$(orch show "$run2" --json | json - 'len(d["transitions"])')"
expect_eq "the replayed run is still failed" failed \
    "$(orch show "$run2" --json | json - 'd["state"]')"
# Replay on the original definition fails like the run did, stores nothing.
expect_exit 1 orch replay "$run2" --file "$wf"
expect_eq "a failed replay adds no run" "$n_before" "$(count_runs)"

# Bulk: both failed runs, on the latest definition; the succeeded run is
# not touched.
t1=$(orch show "$run1" --json | json - 'len(d["transitions"])')
expect_exit 0 orch retry --workflow flaky-export --state failed --latest \
    --workflows "$T/fixed"
expect_contains "bulk retry: two runs" "$(err)" "retrying 2 runs"
for r in "$run2" "$run3"; do
	expect_eq "bulk retry: $r succeeded" succeeded \
	    "$(orch show "$r" --json | json - 'd["state"]')"
	expect_file "bulk retry: $r exported" "$ORCH_BUCKETS/exports/$r.json"
done
expect_eq "bulk retry: the succeeded run is untouched" "$t1" \
    "$(orch show "$run1" --json | json - 'len(d["transitions"])')"
expect_exit 0 orch runs --json --state failed
expect_eq "no failed run is left" "" "$(out)"
expect_exit 0 orch retry --workflow flaky-export --state failed
expect_contains "bulk retry with nothing to do" "$(err)" "retrying 0 runs"
expect_eq "still three runs" 3 "$(count_runs)"

finish
