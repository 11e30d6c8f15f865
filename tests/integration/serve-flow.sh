#!/usr/bin/env bash
# Flow control through the webhook interface (SPEC section 1): per-key
# concurrency never exceeded, measured at a local sink that sees each run
# start and end; a rate limit held within 10 % over 3 s; on_limit reject
# answering 429 with Retry-After; a debounce absorbing a burst into one run
# with the last payload (every answer carries that run's id, the absorbed
# ones "Debounced: true"); priority order among the runs waiting for a
# slot.
. "$(dirname "$0")/serve-lib.sh"

J=(-H 'Content-Type: application/json')

# The sink: records "TIME BODY" per POST, answers 200 {}.
cat >"$T/sink.py" <<'PY'
import http.server, sys, time, threading
log = open(sys.argv[1], "a", buffering=1)
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode()
        with lock:
            log.write("%.6f %s\n" % (time.time(), body.replace("\n", " ")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
: >"$T/sink.log"
python3 "$T/sink.py" "$T/sink.log" "$T/sink.port" &
SINK_PID=$!
trap 'kill $SINK_PID 2>/dev/null; serve_cleanup; lib_cleanup' EXIT
for i in $(seq 1 50); do
	[ -s "$T/sink.port" ] && break
	sleep 0.1
done
SINK=http://127.0.0.1:$(cat "$T/sink.port")

# flowwf NAME FLOW_KEYS PRE_STEPS: a webhook workflow whose run tells the
# sink when it starts and ends ({"w", "k", "p", "n", "ev", "run"}).
flowwf() {
	cat >"$WF/$1.json" <<JSON
{
  "name": "$1",
  "trigger": { "webhook": { "path": "/hooks/$1", "mode": "async" } },
  $2
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "start", "uses": "http.request",
      "with": { "method": "POST", "url": "$SINK/ev",
        "body": { "w": "$1", "k": "{{trigger.k}}", "p": "{{trigger.p}}",
          "n": "{{trigger.n}}", "ev": "start", "run": "{{run.id}}" } } },
    { "name": "nap", "uses": "wait", "with": { "ms": ${3:-0}, "durable": false } },
    { "name": "end", "uses": "http.request",
      "with": { "method": "POST", "url": "$SINK/ev",
        "body": { "w": "$1", "k": "{{trigger.k}}", "ev": "end",
          "run": "{{run.id}}" } } }
  ]
}
JSON
}

flowwf keyed '"concurrency_key": "{{input.k}}", "concurrency": 2,' 200
flowwf limited '"rate_limit": { "per_second": 10, "burst": 1 },' 0
flowwf strict '"rate_limit": { "per_second": 1, "burst": 1,
    "on_limit": "reject" },' 0
flowwf bounce '"debounce": { "key": "{{input.k}}", "wait_ms": 2000,
    "max_wait_ms": 5000 },' 0
flowwf ranked '"concurrency": 1, "priority": "{{input.p}}",' 1500
flowwf held '"concurrency": 1,' 3000

serve_start || finish

# wait_sink WORKFLOW EV N: waits (at most 20 s) for N such sink events.
wait_sink() {
	local i n
	for i in $(seq 1 200); do
		n=$(sinkpy "sum(1 for t, e in ev if e['w'] == '$1' and
		    e['ev'] == '$2')")
		[ "$n" -ge "$3" ] && break
		sleep 0.1
	done
	expect_eq "$1: $3 runs reached $2" "$3" "$n"
}

# sinkpy CODE: a Python expression over the sink's events, a list ev of
# (time, dict) in arrival order; or statements that set r.
sinkpy() {
	python3 -c '
import json, sys
ev = []
for line in open(sys.argv[1]):
    t, body = line.split(" ", 1)
    ev.append((float(t), json.loads(body)))
code = sys.argv[2].strip()
try:
    print(eval(code))
except SyntaxError:
    g = {"ev": ev}
    exec(code, g)
    print(g["r"])' "$T/sink.log" "$1"
}

# Per-key concurrency: 8 runs of each of two keys, 2 at a time per key.
for n in 1 2 3 4 5 6 7 8; do
	for k in a b; do
		curl -s -o /dev/null -X POST "${J[@]}" \
		    -d "{\"k\": \"$k\", \"n\": $n, \"p\": 0}" "$URL/hooks/keyed" &
	done
done
wait_jobs() { local j; for j in $(jobs -p); do [ "$j" = "$SINK_PID" ] ||
    [ "$j" = "$SERVE_PID" ] || wait "$j"; done; }
wait_jobs
wait_sink keyed end 16
max=$(sinkpy '
m = {}
cur = {}
for t, e in ev:
    if e["w"] != "keyed": continue
    cur[e["k"]] = cur.get(e["k"], 0) + (1 if e["ev"] == "start" else -1)
    m[e["k"]] = max(m.get(e["k"], 0), cur[e["k"]])
r = " ".join("%s=%d" % kv for kv in sorted(m.items()))')
expect_eq "per key at most 2 at once, and 2 reached" "a=2 b=2" "$max"
both=$(sinkpy '
cur = 0; m = 0
for t, e in ev:
    if e["w"] != "keyed": continue
    cur += 1 if e["ev"] == "start" else -1
    m = max(m, cur)
r = m')
expect_eq "the keys run side by side" 4 "$both"

# Rate limit 10/s, burst 1: 31 triggers start over about 3 s.
for n in $(seq 1 31); do
	curl -s -o /dev/null -X POST "${J[@]}" -d "{\"k\": \"-\", \"n\": $n, \"p\": 0}" \
	    "$URL/hooks/limited" &
done
wait_jobs
wait_sink limited start 31
rate=$(sinkpy '
ts = sorted(t for t, e in ev if e["w"] == "limited" and e["ev"] == "start")
r = "%.2f" % ((len(ts) - 1) / (ts[-1] - ts[0]))')
expect_true "rate limit 10/s held within 10 % (got $rate/s)" \
    python3 -c "import sys; sys.exit(not 9.0 <= $rate <= 11.0)"

# on_limit reject: the second trigger in the same second gets 429.
req POST /hooks/strict "${J[@]}" -d '{"k": "-", "n": 1, "p": 0}'
expect_eq "strict: the first is accepted" 202 "$CODE"
req POST /hooks/strict "${J[@]}" -d '{"k": "-", "n": 2, "p": 0}'
expect_eq "strict: over the limit is refused" 429 "$CODE"
expect_ne "strict: Retry-After is set" "" "$(header Retry-After)"

# Debounce: a burst of 5 becomes one run with the last payload.
ids=""
deb=""
for n in 1 2 3 4 5; do
	req POST /hooks/bounce "${J[@]}" -d "{\"k\": \"x\", \"n\": $n, \"p\": 0}"
	ids="$ids $(json "$T/body" 'd["run_id"]')"
	deb="$deb $(header Debounced)"
done
set -- $ids
req GET "/runs/$1"
expect_contains "debounce: the run says what it waits for" \
    "$(body 'd["waiting_for"]')" "its debounce window, until 20"
expect_eq "debounce: every answer names the absorbing run" \
    "$1 $1 $1 $1 $1" "$(echo $ids)"
expect_eq "debounce: the absorbed answers say so" \
    "true true true true" "$(echo $deb)"
wait_sink bounce end 1
sleep 0.8
expect_eq "debounce: one run" 1 \
    "$(sinkpy 'sum(1 for t, e in ev if e["w"] == "bounce" and e["ev"] == "start")')"
expect_eq "debounce: the last payload wins" "5 $1" \
    "$(sinkpy '[(e["n"], e["run"]) for t, e in ev if e["w"] == "bounce" and e["ev"] == "start"][0]' | tr -d "()',")"

# Why a run waits: the second of a workflow with one slot says so, in
# the API and in show.
req POST /hooks/held "${J[@]}" -d '{"k": "-", "p": 0, "n": 1}'
wait_sink held start 1
req POST /hooks/held "${J[@]}" -d '{"k": "-", "p": 0, "n": 2}'
second=$(body 'd["run_id"]')
sleep 0.3
req GET "/runs/$second"
expect_eq "a queued run says why it waits" \
    "a slot: its concurrency limit is reached, 1 of 1 running" \
    "$(body 'd["waiting_for"]')"
expect_exit 0 orch show "$second"
expect_contains "show prints why it waits" "$(out)" \
    "waiting    for a slot: its concurrency limit is reached"
wait_sink held end 2
req GET "/runs/$second"
expect_eq "a finished run waits for nothing" None \
    "$(body 'str(d["waiting_for"])')"

# Priority: one run holds the only slot; the others start by priority.
req POST /hooks/ranked "${J[@]}" -d '{"k": "-", "p": 0, "n": 0}'
wait_sink ranked start 1
for p in 1 5 3 9 5; do
	req POST /hooks/ranked "${J[@]}" -d "{\"k\": \"-\", \"p\": $p, \"n\": $p}"
done
wait_sink ranked end 6
order=$(sinkpy '" ".join(str(e["p"]) for t, e in ev if e["w"] == "ranked" and e["ev"] == "start")')
expect_eq "priority: higher first, ties in arrival order" "0 9 5 5 3 1" \
    "$order"

serve_stop
expect_eq "serve exits 0" 0 "$SERVE_RC"
finish
