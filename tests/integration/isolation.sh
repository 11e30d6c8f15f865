#!/usr/bin/env bash
# User code on worker processes (serve --workers): hostile Lua scripts
# (patterns that backtrack inside C, loops under pcall, a comparator that
# never returns, a finaliser, a memory bomb) run while a plain workflow is
# triggered in a loop. The plain acks keep a p99 under 20 ms, every
# hostile run fails within its timeout_ms plus 200 ms with an error that
# names the cause, Lua still gives the right output after 20 killed
# workers, a worker killed by a signal fails only its call, ctx.log is
# bounded, 1,000 steps waiting on ctx.fetch share two workers, and SIGTERM
# with a stuck step exits within --grace-ms.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-300}
export ORC_TEST_TIMEOUT
. "$(dirname "$0")/serve-lib.sh"

SINK_DELAY_MS=200 sink_start

# The store in memory when the machine has it: the acks' p99 below is
# about what scripts cost the loop, not about how fast this disk syncs.
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	SHM_DIR=$(mktemp -d /dev/shm/orc-isolation-XXXXXX)
	DB=$SHM_DIR/orch.db
	trap 'kill "$SINK_PID" 2>/dev/null; serve_cleanup; rm -rf "$SHM_DIR"; lib_cleanup' EXIT
fi

J=(-H 'Content-Type: application/json')
ONCE='"defaults": { "retry": { "max_attempts": 1 } }'

# lua_workflow NAME TIMEOUT_MS SCRIPT: a workflow of one lua step.
lua_workflow() {
	printf '%s\n' "$3" >"$WF/$1.lua"
	cat >"$WF/$1.json" <<JSON
{ "name": "$1", "trigger": { "webhook": { "path": "/hooks/$1" } }, $ONCE,
  "concurrency": 2000, "allow": { "hosts": ["127.0.0.1:$SP"] },
  "steps": [ { "name": "s", "uses": "lua", "script": "$1.lua",
    "timeout_ms": $2, "memory_mb": 32 } ] }
JSON
}

lua_workflow plain 5000 'return function(input) return { n = input.n, twice = 2 * input.n } end'
lua_workflow gsub 500 'return function() local s = string.rep("a", 100000) return { n = #s:gsub("a*a*a*a*a*b", "") } end'
lua_workflow find 500 'return function() return (("a"):rep(32)):find(("a?"):rep(32) .. ("a"):rep(32)) end'
lua_workflow match 500 'return function() return string.rep("x", 60000):match(".-.-.-.-y") end'
lua_workflow pcallloop 500 'return function() while true do pcall(function() while true do end end) end end'
lua_workflow sortloop 500 'return function() table.sort({5, 3, 1, 4, 2}, function() while true do end end) end'
lua_workflow finaliser 500 'return function() setmetatable({}, {__gc = function() while true do end end}) local t = {} for i = 1, 1e6 do t[i] = {} end end'
lua_workflow membomb 2000 'return function() local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 4096) .. i end end'
lua_workflow gcstop 500 'return function() collectgarbage("stop") local t = {} for i = 1, 1e9 do t[i] = {} end end'
lua_workflow busy 20000 'return function() local s = string.rep("a", 100000) return { n = #s:gsub("a*a*a*a*a*b", "") } end'
lua_workflow chatty 5000 'return function(input, ctx) for i = 1, 5000 do ctx.log("error", "chatty line %d", i) end return 1 end'
lua_workflow waiter 10000 "return function(input, ctx) local r = ctx.fetch('http://127.0.0.1:$SP/w') return r.status end"

serve_start --workers 2 --grace-ms 1000 --access-log off || exit 1

# post NAME BODY: an async trigger; prints the run id.
post() {
	curl -s --max-time 10 -X POST "${J[@]}" -d "$2" "$URL/hooks/$1" |
	    json - 'd["run_id"]' 2>/dev/null
}

# last_attempt ID: "STATE DURATION_MS ERROR" of a run's last transition.
last_attempt() {
	curl -s --max-time 10 "$URL/runs/$1" | json - \
	    '"%s %s %s" % (d["state"], d["transitions"][-1]["duration_ms"], d.get("error") or "")' \
	    2>/dev/null
}

# acks N: N plain triggers, 10 ms apart, on one kept-alive connection;
# prints "P99_MS MAX_MS ACCEPTED".
acks() {
	python3 - "$URL" "$1" <<'PY'
import http.client, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
lat, ok = [], 0
for i in range(int(sys.argv[2])):
    t = time.monotonic()
    c.request("POST", "/hooks/plain", body='{"n": 1}',
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    lat.append((time.monotonic() - t) * 1000)
    ok += r.status == 202
    time.sleep(0.01)
lat.sort()
print("%.1f %.1f %d" % (lat[int(len(lat) * 0.99) - 1], lat[-1], ok))
PY
}

# The acks alone first, then while the hostile runs go on.
read -r BASE99 BASEMAX _ <<<"$(acks 300)"
acks 400 >"$T/acks.txt" &
ACKS_PID=$!
declare -A hostile
for name in gsub find match pcallloop sortloop finaliser membomb gcstop; do
	hostile[$name]=$(post "$name" '{}')
done
wait "$ACKS_PID"
read -r P99 MAX ACCEPTED <"$T/acks.txt"

# Each hostile run fails with its cause, within timeout_ms + 200 ms.
check_hostile() {	# NAME TIMEOUT_MS CAUSE
	local id=${hostile[$1]} state dur err
	expect_eq "$1: failed" failed "$(wait_final "$id" 30)"
	read -r state dur err <<<"$(last_attempt "$id")"
	expect_contains "$1: the error names the cause" "$err" "$3"
	expect_true "$1: failed within $2 + 200 ms (took $dur ms)" \
	    [ "${dur:-99999}" -le $(($2 + 200)) ]
}
check_hostile gsub 500 "timed out after 500 ms"
check_hostile find 500 "timed out after 500 ms"
check_hostile match 500 "timed out after 500 ms"
check_hostile pcallloop 500 "time"
check_hostile sortloop 500 "time"
check_hostile finaliser 500 "finalisers (__gc) are not available"
check_hostile membomb 2000 "memory limit of 32 MiB exceeded"
check_hostile gcstop 500 "collectgarbage"

# The plain acks: all accepted, and no stall. On a quiet machine the p99
# stays under 20 ms (a stuck loop would make it 500 ms); beside other
# tests (make -j) it may be noisier, so it is held to 20 ms or three
# times what the same acks saw without hostile scripts, whichever is more.
expect_eq "plain acks: all accepted" 400 "$ACCEPTED"
LIMIT=$(awk -v b="$BASE99" 'BEGIN { l = 3 * b; if (l < 20) l = 20; print l }')
expect_true "plain acks' p99 ${P99} ms (alone ${BASE99} ms) under $LIMIT ms while scripts misbehave" \
    awk -v p="$P99" -v l="$LIMIT" 'BEGIN { exit !(p < l) }'
expect_true "plain acks: the slowest ${MAX} ms, never a script's 500 ms" \
    awk -v p="$MAX" 'BEGIN { exit !(p < 400) }'

# 20 workers killed at their deadline, two at a time (calls that end
# together share a kill); then Lua still answers right.
kills() {
	curl -s --max-time 10 "$URL/metrics" |
	    sed -n 's/^orchestrator_worker_kills_total{reason="deadline"} //p'
}
KILLS0=$(kills)
for i in $(seq 1 10); do
	A=$(post gsub '{}')
	B=$(post gsub '{}')
	wait_final "$A" 30 >/dev/null
	wait_final "$B" 30 >/dev/null
	sleep 0.3	# past the grace, so that both kills happened
done
KILLS=$(kills)
expect_true "20 more workers were killed at a deadline ($KILLS0 -> $KILLS)" \
    [ "${KILLS:-0}" -ge $((${KILLS0:-0} + 20)) ]
req GET /metrics
expect_contains "/metrics has the worker queue depth" "$BODY" \
    "orchestrator_worker_queue_depth 0"
expect_contains "/metrics has the loop lag" "$BODY" \
    "orchestrator_loop_lag_seconds_count"
req POST /hooks/plain "${J[@]}" -H 'Prefer: wait=10' -d '{"n": 21}'
expect_code "plain after 20 killed workers" 200
expect_eq "plain's output after 20 killed workers" 42 "$(body 'd["twice"]')"

# A worker killed by a signal fails the call it runs, and only that one.
BUSY=$(post busy '{}')
sleep 0.5
for pid in $(pgrep -P "$SERVE_PID" -f __worker); do
	kill -ABRT "$pid"
done
expect_eq "busy: failed" failed "$(wait_final "$BUSY" 30)"
read -r _ _ BUSY_ERR <<<"$(last_attempt "$BUSY")"
expect_contains "busy: the error names the signal" "$BUSY_ERR" \
    "killed by signal 6"
req POST /hooks/plain "${J[@]}" -H 'Prefer: wait=10' -d '{"n": 2}'
expect_eq "plain after a crash" 4 "$(body 'd["twice"]')"

# ctx.log: 1,000 lines a run, then one line that says what was dropped.
CHATTY=$(post chatty '{}')
expect_eq "chatty: succeeded" succeeded "$(wait_final "$CHATTY" 30)"
expect_eq "chatty: 1000 lines kept" 1000 \
    "$(grep -c "run $CHATTY step s: chatty line" "$SERVE_LOG")"
expect_eq "chatty: one line says 4000 were dropped" 1 \
    "$(grep -c "run $CHATTY step s: 4000 more log lines dropped" "$SERVE_LOG")"

# 1,000 steps that each wait 200 ms on ctx.fetch share two workers: one
# after another they would take 100 s.
succeeded() {	# WORKFLOW: its succeeded runs, as the daemon lists them
	curl -s --max-time 10 \
	    "$URL/runs?limit=1000&workflow=$1&state=succeeded" |
	    json - 'len(d["runs"] if isinstance(d, dict) else d)' 2>/dev/null
}
T0=$(date +%s%N)
python3 - "$URL" <<'PY'
import http.client, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
for i in range(1000):
    c.request("POST", "/hooks/waiter", body="{}",
              headers={"Content-Type": "application/json"})
    c.getresponse().read()
PY
for i in $(seq 1 600); do
	[ "$(succeeded waiter)" = 1000 ] && break
	sleep 0.1
done
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
expect_eq "waiter: 1000 runs succeeded" 1000 "$(succeeded waiter)"
expect_true "waiter: 1000 fetches of 200 ms on 2 workers took $MS ms" \
    [ "$MS" -lt 30000 ]

# SIGTERM with a step stuck in C: the daemon exits within --grace-ms.
lua_workflow stuck 60000 'return function() local s = string.rep("a", 100000) return { n = #s:gsub("a*a*a*a*a*b", "") } end'
kill -HUP "$SERVE_PID"
sleep 0.5
STUCK=$(post stuck '{}')
expect_ne "stuck: accepted" "" "$STUCK"
sleep 0.5
T0=$(date +%s%N)
serve_stop TERM
MS=$(( ($(date +%s%N) - T0) / 1000000 ))
expect_eq "SIGTERM with a stuck step: exit 0" 0 "$SERVE_RC"
expect_true "SIGTERM with a stuck step: out within the 1 s grace (+1 s), $MS ms" \
    [ "$MS" -lt 2000 ]
expect_eq "no worker is left behind" "" \
    "$(pgrep -f "$T/.*__worker" 2>/dev/null; pgrep -P "$SERVE_PID" 2>/dev/null)"

finish
