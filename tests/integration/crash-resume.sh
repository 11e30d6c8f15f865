#!/usr/bin/env bash
# Crash consistency of the CLI engine: runs are killed with SIGKILL in the
# middle of their steps (twice: the first processes, then the process that
# resumes them), and a last `orchestrator resume` finishes them. Every run
# must succeed exactly once, and no step whose completion was committed may
# run again. The evidence is the engine's debug log: "step ... started" when
# an attempt starts, "seq N committed" once a step's completion is durable.
set -u
ORCH_BIN=${ORCH_BIN:-/work/main/orchestrator/orchestrator}
dir=$(mktemp -d /tmp/orc-crash-XXXXXX)
trap '[ "${KEEP:-}" ] || rm -rf "$dir"' EXIT
cd "$dir"
export ORCH_DB=$dir/o.db ORCH_BUCKETS=$dir/buckets ORCH_LOG_LEVEL=debug
n=8

cat > wf.json <<'JSON'
{
  "name": "crashy",
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "first-wait", "uses": "wait", "with": { "ms": 1000, "durable": false } },
    { "name": "shape", "uses": "transform", "with": { "n": "{{input.n}}", "run": "{{run.id}}" } },
    { "name": "second-wait", "uses": "wait", "with": { "ms": 1000, "durable": false } },
    { "name": "publish", "uses": "bucket.put", "with": { "bucket": "out", "key": "{{input.n}}.json" } }
  ]
}
JSON

# Round 1: n processes, each one run, killed mid-way.
pids=()
for i in $(seq 1 $n); do
	echo "{\"n\": $i}" > "in$i.json"
	"$ORCH_BIN" run wf.json --input "in$i.json" \
		>/dev/null 2>"round1-$i.log" &
	pids+=($!)
done
# Kill once a few step completions are committed (at most 10 s).
wait_for() {	# wait_for PATTERN COUNT GLOB: the glob is expanded on each
	local pat=$1 count=$2 i	# try, as background jobs create files late
	for i in $(seq 1 200); do
		[ "$(cat $3 2>/dev/null | grep -c "$pat")" -ge "$count" ] && return 0
		sleep 0.05
	done
	return 1
}
wait_for 'seq 1 committed' 4 'round1-*.log'
kill -9 "${pids[@]}" 2>/dev/null
wait 2>/dev/null
cat round1-*.log > round1.log

# Round 2: resume, killed mid-way too.
"$ORCH_BIN" resume 2>round2.log &
pid=$!
wait_for 'resumes at step' 1 round2.log
kill -9 $pid 2>/dev/null
wait 2>/dev/null

# Round 3: resume to the end.
timeout 30 "$ORCH_BIN" resume 2>round3.log
rc=$?

python3 - "$rc" "$n" <<'PY'
import json, re, subprocess, sys, os
rc, n = int(sys.argv[1]), int(sys.argv[2])
passed = failed = 0
def check(ok, what):
    global passed, failed
    if ok: passed += 1
    else:
        failed += 1
        print("FAIL:", what)
start = re.compile(r'run (\w+) step (\S+) seq (\d+) attempt (\d+) started')
commit = re.compile(r'run (\w+) seq (\d+) committed')
logs = {}
for r in ("round1.log", "round2.log", "round3.log"):
    text = open(r).read()
    logs[r] = ([(m[0], int(m[2])) for m in start.findall(text)],
               set((m[0], int(m[1])) for m in commit.findall(text)))
check(rc == 0, "final resume exit code %d" % rc)
out = subprocess.run([os.environ.get("ORCH_BIN", "orchestrator"), "runs",
    "--json", "--limit", "100"], capture_output=True, text=True).stdout
runs = [json.loads(l) for l in out.splitlines() if l.strip()]
# A run acknowledged ("accepted": committed) before the kill must exist.
acked = set(re.findall(r'run (\w+) accepted', open("round1.log").read()))
ids = set(r["id"] for r in runs)
check(len(acked) > 0, "no run was acknowledged before the kill")
check(acked <= ids, "acknowledged runs lost: %s" % sorted(acked - ids))
check(all(r["state"] == "succeeded" for r in runs),
      "states: %s" % [r["state"] for r in runs])
files = os.listdir("buckets/out") if os.path.isdir("buckets/out") else []
check(len([f for f in files if f.endswith(".json")]) == len(runs),
      "bucket files: %s" % files)
# The test means something only if the kills landed mid-run.
c1 = logs["round1.log"][1]
check(len(c1) > 0, "round 1 committed no step before the kill")
resumed = len(logs["round2.log"][0]) + len(logs["round3.log"][0])
check(resumed > 0, "the kill left nothing to resume")
# No step committed in an earlier round starts again later.
committed = set()
for r in ("round1.log", "round2.log", "round3.log"):
    starts, commits = logs[r]
    again = [s for s in starts if s in committed]
    check(not again, "%s re-ran committed steps %s" % (r, again[:5]))
    committed |= commits
# Each run's step rows are one per visit, in order.
for r in runs:
    show = json.loads(subprocess.run([os.environ.get("ORCH_BIN",
        "orchestrator"), "show", r["id"], "--json"], capture_output=True,
        text=True).stdout)
    seqs = [s["seq"] for s in show["steps"]]
    check(seqs == list(range(5)), "run %s step rows %s" % (r["id"], seqs))
print("crash-resume: %d acknowledged, %d stored, %d succeeded, %d step "
      "commits before the first kill, %d attempts after it" % (len(acked),
      len(runs), sum(r["state"] == "succeeded" for r in runs), len(c1),
      resumed))
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
PY
