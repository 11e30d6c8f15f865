#!/usr/bin/env bash
# Crash consistency under a steady load (SPEC section 3): clients send a
# steady stream of async webhooks to a five-step workflow whose fourth step
# publishes to a local sink (tests/integration/sink.py, which records every
# POST with its Idempotency-Key); meanwhile the daemon is killed with
# SIGKILL at random moments and restarted on the same database and port.
# At the end, with the daemon left to finish:
#
# - every run that got a 202 is in the store, succeeded, with exactly one
#   "succeeded" transition (exactly-once state);
# - its publish reached the sink at least once (at-least-once steps);
# - all its deliveries carry one Idempotency-Key, so the sink can
#   deduplicate them to exactly once.
#
# It prints acked, completed, lost (must be 0) and the duplicates seen.
# KILLS (default 3) kills; `make soak` runs KILLS=20. SOAK_CLIENTS
# (default 4) concurrent clients. Loopback only.
KILLS=${KILLS:-3}
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-$((90 + KILLS * 12))}
# Every kill is a crash: a run caught in the same step by more than three
# of them would be failed as a crash loop (serve-crashloop.sh tests that).
ORCH_CRASH_RESUMES=1000000
export ORC_TEST_TIMEOUT KILLS ORCH_CRASH_RESUMES
. "$(dirname "$0")/serve-lib.sh"

C=${SOAK_CLIENTS:-4}

# The sink, and a fixed port for the daemon, so that the clients find it
# again after each restart.
python3 "$TOP_SRCDIR/tests/integration/sink.py" "$T/sink.jsonl" \
    "$T/sink.port" 2>"$T/sink.err" &
SINK_PID=$!
trap 'kill "$SINK_PID" 2>/dev/null; serve_cleanup; lib_cleanup' EXIT
for i in $(seq 1 100); do
	[ -s "$T/sink.port" ] && break
	sleep 0.05
done
SINK_PORT=$(cat "$T/sink.port" 2>/dev/null)
[ -n "$SINK_PORT" ] || hard_error "the sink did not start: $(cat "$T/sink.err")"
PORT=$(python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat >"$WF/soak.json" <<JSON
{
  "name": "soak",
  "trigger": { "webhook": { "path": "/hooks/soak", "mode": "async" } },
  "input": { "type": "object", "required": ["n"] },
  "defaults": {
    "retry": { "max_attempts": 50, "backoff_ms": 50, "backoff_max_ms": 500 },
    "timeout_ms": 5000
  },
  "allow": { "hosts": ["127.0.0.1:$SINK_PORT"] },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "nap", "uses": "wait", "with": { "ms": 150, "durable": false } },
    { "name": "shape", "uses": "transform",
      "with": { "n": "{{input.n}}", "run": "{{run.id}}" } },
    { "name": "publish", "uses": "http.request",
      "with": { "method": "POST",
        "url": "http://127.0.0.1:$SINK_PORT/publish/{{run.id}}" } },
    { "name": "done", "uses": "transform",
      "with": { "n": "{{steps.shape.n}}",
        "status": "{{steps.publish.status}}" } }
  ]
}
JSON

serve_start --listen "127.0.0.1:$PORT" || finish

# The clients: C threads send triggers until the file "stop" exists; each
# 202's run id goes to acked.txt as it comes. A request that gets no answer
# (the daemon is down or dies mid-request) is not acked, so not owed; the
# thread waits a little and goes on.
timeout $((ORC_TEST_TIMEOUT - 20)) python3 - "$PORT" "$C" <<'PY' \
    >"$T/client.out" 2>&1 &
import http.client, json, os, sys, threading, time
port, c = int(sys.argv[1]), int(sys.argv[2])
lock = threading.Lock()
acked = open("acked.txt", "a", buffering=1)
st = {"n": 0, "acked": 0, "errors": 0, "other": {}}

def worker():
    conn = None
    while not os.path.exists("stop"):
        with lock:
            st["n"] += 1
            i = st["n"]
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port,
                    timeout=10)
            conn.request("POST", "/hooks/soak", json.dumps({"n": i}),
                {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
        except Exception:
            with lock:
                st["errors"] += 1
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.05)
            continue
        with lock:
            if r.status == 202:
                acked.write(json.loads(data)["run_id"] + "\n")
                st["acked"] += 1
            else:
                st["other"][r.status] = st["other"].get(r.status, 0) + 1
        time.sleep(0.005)

threads = [threading.Thread(target=worker) for _ in range(c)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("client: sent %d, acked %d, no answer %d, other %s"
      % (st["n"], st["acked"], st["errors"], st["other"]))
PY
CLIENT_PID=$!

# The kills, at random moments 0.3 to 1.5 s after each start.
killed=0
for k in $(seq 1 "$KILLS"); do
	sleep "$(python3 -c 'import random; print(random.uniform(0.3, 1.5))')"
	serve_kill
	[ "$SERVE_RC" = 137 ] && killed=$((killed + 1))
	serve_start --listen "127.0.0.1:$PORT" || break
done
expect_eq "the daemon died of SIGKILL each time" "$KILLS" "$killed"
sleep 0.5
touch "$T/stop"
wait "$CLIENT_PID"
expect_eq "the clients ran" 0 "$?"
cat "$T/client.out"
acked=$(grep -c . "$T/acked.txt" 2>/dev/null)
acked=${acked:-0}
expect_true "some triggers were acked ($acked)" test "$acked" -gt 0
expect_eq "every acked run id is distinct" "$acked" \
    "$(sort -u "$T/acked.txt" | grep -c .)"

# Let the last daemon finish everything, then stop it cleanly so the
# database is quiet for the verdict.
for i in $(seq 1 600); do
	n=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM runs WHERE state
	    NOT IN ('succeeded', 'failed', 'cancelled')" 2>/dev/null)
	[ "$n" = 0 ] && break
	sleep 0.1
done
expect_eq "no run is left unfinished" 0 "$n"
serve_stop TERM
expect_eq "SIGTERM at the end: exit 0" 0 "$SERVE_RC"

# The verdict, from the store and the sink's log.
python3 - "$T/acked.txt" "$DB" "$T/sink.jsonl" <<'PY' >"$T/verdict" 2>&1
import collections, json, sqlite3, sys
acked = [l.strip() for l in open(sys.argv[1]) if l.strip()]
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[2], uri=True)
state = dict(db.execute("SELECT id, state FROM runs"))
# Transitions store states as codes (orchestrator/store-row.h): 3 succeeded.
wins = collections.Counter(r for (r,) in db.execute(
    "SELECT run_id FROM transitions WHERE to_state = 3"))
keys = collections.defaultdict(set)
posts = collections.Counter()
for l in open(sys.argv[3]):
    if not l.strip():
        continue
    p = json.loads(l)
    rid = p["path"].rsplit("/", 1)[-1]
    posts[rid] += 1
    keys[rid].add(p["key"])
lost = [i for i in acked if i not in state]
done = [i for i in acked if state.get(i) == "succeeded" and wins[i] == 1]
twice = [i for i in acked if wins[i] > 1]
unpub = [i for i in acked if posts[i] == 0]
badkey = [i for i in acked if posts[i] and (len(keys[i]) != 1 or
          None in keys[i] or not next(iter(keys[i])).startswith(i))]
dups = sum(posts[i] - 1 for i in acked if posts[i] > 1)
notok = sum(s != "succeeded" for s in state.values())
print("acked=%d completed=%d lost=%d succeeded-twice=%d unpublished=%d "
      "bad-keys=%d duplicates=%d stored=%d stored-not-succeeded=%d"
      % (len(acked), len(done), len(lost), len(twice), len(unpub),
         len(badkey), dups, len(state), notok))
for name, l in (("lost", lost), ("succeeded twice", twice),
                ("unpublished", unpub), ("bad keys", badkey)):
    if l:
        print("%s: %s" % (name, l[:5]))
PY
cat "$T/verdict"
v=$(head -n 1 "$T/verdict")
expect_contains "every acked run completed exactly once" "$v" \
    "completed=$acked "
expect_contains "no acked run is lost" "$v" "lost=0 "
expect_contains "no run succeeded twice" "$v" "succeeded-twice=0 "
expect_contains "every acked run's publish reached the sink" "$v" \
    "unpublished=0 "
expect_contains "each run's deliveries share one Idempotency-Key" "$v" \
    "bad-keys=0 "
expect_contains "every stored run succeeded (unacked ones too)" "$v" \
    "stored-not-succeeded=0"
finish
