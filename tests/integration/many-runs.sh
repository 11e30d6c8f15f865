#!/usr/bin/env bash
# 1,000 concurrent runs whose http.request waits 200 ms on a local server
# (contrib/example-service.py --delay-ms 200) all finish in well under 10 s
# with a bounded number of threads: requests in flight are multiplexed on
# the daemon's event loop (curl multi), not a thread each. The daemon's
# Threads: in /proc/PID/status is sampled through the burst; the address
# is numeric, so no resolver thread is expected either.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/serve-lib.sh"
. "$here/service-lib.sh"

N=${MANY_RUNS:-1000}
LIMIT_S=${MANY_RUNS_LIMIT_S:-5}
MAX_THREADS=${MANY_RUNS_MAX_THREADS:-8}

[ -r /proc/self/status ] || skip "no /proc to count threads"

svc_start --quiet --delay-ms 200 || finish
cat >"$WF/many.json" <<EOF
{
  "name": "many",
  "trigger": { "webhook": { "path": "/hooks/many", "mode": "async" } },
  "concurrency": $((N * 2)),
  "allow": { "hosts": ["127.0.0.1:$SVC_PORT"] },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "slow", "uses": "http.request",
      "with": { "url": "$SVC_URL/customers/acme", "timeout_ms": 8000 },
      "retry": { "max_attempts": 1 } }
  ]
}
EOF
serve_start --access-log off || finish


threads() {
	awk '/^Threads:/ { print $2 }' "/proc/$SERVE_PID/status" 2>/dev/null
}
idle=$(threads)
expect_ne "the daemon's threads can be counted" "" "$idle"

start=$(date +%s.%N)
python3 "$here/post-hooks.py" 127.0.0.1 "$SERVE_PORT" /hooks/many "$N" \
    >"$T/posted" 2>&1 &
poster=$!

# Until every run is final (bounded: 30 s), sample the threads and count
# the runs that succeeded from the metrics.
max=$idle
inflight=0
# metric NAME: one value of GET /metrics.
metric() {
	curl -s --max-time 5 "$URL/metrics" | awk -v m="$1" '
	    $1 == m { n = $2 } END { print n + 0 }'
}
runs_in() {
	metric "orchestrator_runs{state=\"$1\"}"
}
for i in $(seq 1 600); do
	t=$(threads)
	[ -n "$t" ] && [ "$t" -gt "$max" ] && max=$t
	c=$(metric orchestrator_step_calls_in_flight)
	[ "$c" -gt "$inflight" ] && inflight=$c
	if ! kill -0 "$poster" 2>/dev/null; then
		[ $(($(runs_in succeeded) + $(runs_in failed))) -ge "$N" ] &&
		    break
	fi
	sleep 0.05
done
end=$(date +%s.%N)
wait "$poster"
expect_eq "the poster got $N 202s" "$N" "$(cat "$T/posted")"
elapsed=$(python3 -c "print('%.2f' % ($end - $start))")
echo "# $N runs finished in $elapsed s; threads: $idle idle, $max at" \
    "most; step calls in flight: $inflight at most"

expect_eq "all $N runs succeeded" "$N" "$(runs_in succeeded)"
expect_eq "no run failed" 0 "$(runs_in failed)"
expect_eq "the service answered $N slow requests" "$N" \
    "$(curl -s "$SVC_URL/stats" | json - 'd["requests"]["/customers"]')"
expect_eq "they finished in under $LIMIT_S s (took $elapsed s)" True \
    "$(python3 -c "print($elapsed < $LIMIT_S)")"
expect_eq "hundreds of requests were in flight at once (saw $inflight)" \
    True "$([ "$inflight" -ge $((N / 10)) ] && echo True || echo False)"
expect_eq "at most $MAX_THREADS threads during the burst (saw $max)" True \
    "$([ "$max" -le "$MAX_THREADS" ] && echo True || echo False)"
# Cross-check with the store: the runs are durable and succeeded.
expect_eq "the store lists $N succeeded runs" "$N" \
    "$(count_runs many)"
serve_stop
expect_eq "the daemon drained" 0 "$SERVE_RC"

finish
