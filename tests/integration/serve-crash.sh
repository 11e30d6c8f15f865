#!/usr/bin/env bash
# An acknowledged run is never lost (SPEC section 3), through the server:
# a concurrent client sends a few thousand async webhooks and records the
# run id of every 202; the daemon is killed with SIGKILL while they are in
# flight (runs in their steps, requests on the wire), restarted on the same
# database, and must finish every run it acknowledged.
#
# CRASH_TRIGGERS (default 3000) triggers from CRASH_CLIENTS (default 16)
# keep-alive connections; the kill comes once two thirds are acked.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-240}
export ORC_TEST_TIMEOUT
. "$(dirname "$0")/serve-lib.sh"

N=${CRASH_TRIGGERS:-3000}
C=${CRASH_CLIENTS:-16}

# Four steps with a short wait, so that runs are mid-way at the kill.
cat >"$WF/crashy.json" <<'JSON'
{
  "name": "crashy",
  "trigger": { "webhook": { "path": "/hooks/crashy", "mode": "async" } },
  "input": { "type": "object", "required": ["n"] },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "nap", "uses": "wait", "with": { "ms": 300, "durable": false } },
    { "name": "shape", "uses": "transform",
      "with": { "n": "{{input.n}}", "run": "{{run.id}}" } },
    { "name": "encode", "uses": "json.encode" }
  ]
}
JSON

serve_start || finish

# The client: C threads share the N triggers; every 202's run id goes to
# acked.txt. Once 2N/3 are acked it kills the daemon (SIGKILL) and records
# how many runs were acked at that moment. Requests after the kill fail
# (connection refused or reset): not acked, so not owed.
timeout 120 python3 - "$SERVE_PORT" "$SERVE_PID" "$N" "$C" <<'PY' \
    >"$T/client.out" 2>&1
import http.client, json, os, signal, sys, threading, time
port, pid, n, c = (int(a) for a in sys.argv[1:5])
lock = threading.Lock()
state = {"next": 0, "acked": [], "errors": 0, "other": {}, "killed": None}

def take():
    with lock:
        if state["next"] >= n:
            return None
        state["next"] += 1
        return state["next"]

def worker():
    conn = None
    while True:
        i = take()
        if i is None:
            break
        body = json.dumps({"n": i})
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port,
                    timeout=10)
            conn.request("POST", "/hooks/crashy", body,
                {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
        except Exception:
            with lock:
                state["errors"] += 1
            if conn is not None:
                conn.close()
            conn = None
            continue
        with lock:
            if r.status == 202:
                state["acked"].append(json.loads(data)["run_id"])
                if (state["killed"] is None and
                        len(state["acked"]) >= 2 * n // 3):
                    os.kill(pid, signal.SIGKILL)
                    state["killed"] = len(state["acked"])
            else:
                state["other"][r.status] = state["other"].get(r.status,
                    0) + 1

t0 = time.time()
threads = [threading.Thread(target=worker) for _ in range(c)]
for t in threads:
    t.start()
for t in threads:
    t.join()
with open("acked.txt", "w") as f:
    f.write("".join(i + "\n" for i in state["acked"]))
print("sent %d in %.1f s: %d acked (%d at the kill), %d errors, other %s"
      % (n, time.time() - t0, len(state["acked"]), state["killed"] or 0,
         state["errors"], state["other"]))
PY
crc=$?
cat "$T/client.out"
expect_eq "the client ran" 0 "$crc"
serve_stop KILL
expect_eq "the daemon died of SIGKILL" 137 "$SERVE_RC"
acked=$(grep -c . "$T/acked.txt" 2>/dev/null)
acked=${acked:-0}
expect_true "two thirds of the triggers were acked ($acked)" \
    test "$acked" -ge $((2 * N / 3))
expect_eq "every acked run id is distinct" "$acked" \
    "$(sort -u "$T/acked.txt" | grep -c .)"

# The runs' states in the database (the CLI reads it directly).
states() {
	orch runs --json --workflow crashy --limit 1000000 2>/dev/null |
	    python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l)["state"] for l in sys.stdin
    if l.strip())
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))'
}
before=$(states)
echo "after the kill: $before"
expect_true "the kill left runs unfinished ($before)" \
    grep -Eq 'running|queued|retrying|waiting' <<<"$before"

# Restart on the same database: it resumes, and everything ends.
serve_start --log-level info || finish
expect_true "the restart says it resumed runs" \
    grep -Eq 'resumed [0-9]+ unfinished' "$SERVE_LOG"
t0=$(date +%s)
for i in $(seq 1 600); do
	now=$(states)
	grep -Eq 'running|queued|retrying|waiting' <<<"$now" || break
	sleep 0.1
done
echo "after the restart ($(( $(date +%s) - t0 )) s): $now"

# Every acked run exists and succeeded.
orch runs --json --workflow crashy --limit 1000000 >"$T/runs.jsonl"
python3 - "$T/acked.txt" "$T/runs.jsonl" <<'PY' >"$T/verdict"
import json, sys
acked = [l.strip() for l in open(sys.argv[1]) if l.strip()]
runs = {}
for l in open(sys.argv[2]):
    if l.strip():
        r = json.loads(l)
        runs[r["id"]] = r["state"]
lost = [i for i in acked if i not in runs]
done = [i for i in acked if runs.get(i) == "succeeded"]
bad = [(i, runs[i]) for i in acked if i in runs and runs[i] != "succeeded"]
print("acked=%d completed=%d lost=%d not-succeeded=%d stored=%d "
      "stored-not-succeeded=%d" % (len(acked), len(done), len(lost),
      len(bad), len(runs), sum(s != "succeeded" for s in runs.values())))
print("lost: %s" % lost[:10])
print("not succeeded: %s" % bad[:10])
PY
cat "$T/verdict"
v=$(head -n 1 "$T/verdict")
expect_contains "no acked run is lost" "$v" "lost=0 "
expect_contains "every acked run succeeded" "$v" "completed=$acked "
expect_contains "every stored run succeeded (unacked ones too)" "$v" \
    "stored-not-succeeded=0"
# One spot check of an output: the run's own id and input.
id=$(head -n 1 "$T/acked.txt")
req GET "/runs/$id"
expect_contains "a resumed run's output names it" \
    "$(body 'str(d["output"])')" "$id"
serve_stop TERM
expect_eq "SIGTERM after the recovery: exit 0" 0 "$SERVE_RC"
finish
