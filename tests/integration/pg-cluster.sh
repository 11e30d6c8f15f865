#!/usr/bin/env bash
# Three nodes on one PostgreSQL database (SPEC section 3, issue 9): three
# `orchestrator serve` daemons on different ports share the database this
# test starts (pg-lib.sh); a client spreads async webhooks over all three;
# one node is killed with SIGKILL while its runs are mid-way. Then:
# - every acknowledged run completes, exactly once in the store;
# - the dead node's runs are taken over by the live ones within the lease
#   time (ORCH_LEASE_MS, small here), resuming at their current step;
# - no step that had completed is executed again (a step's success is
#   written once per visit): only the steps in flight at the kill run
#   twice, and those never wrote a success.
# CLUSTER_TRIGGERS (default 300) webhooks; the kill comes after half.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-240}
export ORC_TEST_TIMEOUT
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/serve-lib.sh"
. "$HERE/pg-lib.sh"

pg_need_support
N=${CLUSTER_TRIGGERS:-300}
LEASE_MS=2000
export ORCH_LEASE_MS=$LEASE_MS

PORTS=()
trap 'pg_nodes_cleanup; serve_cleanup; pg_cleanup; lib_cleanup' EXIT

pg_start || finish
DB=$ORCH_TEST_PG_URL

# Four steps, the second waits: a kill finds runs mid-way.
cat >"$WF/spread.json" <<'JSON'
{
  "name": "spread",
  "trigger": { "webhook": { "path": "/hooks/spread", "mode": "async" } },
  "input": { "type": "object", "required": ["n"] },
  "steps": [
    { "name": "decode", "uses": "json.decode" },
    { "name": "nap", "uses": "wait", "with": { "ms": 1200, "durable": false } },
    { "name": "shape", "uses": "transform",
      "with": { "n": "{{input.n}}", "run": "{{run.id}}" } },
    { "name": "encode", "uses": "json.encode" }
  ]
}
JSON

for k in 1 2 3; do
	serve_start --log-level info || finish
	PIDS+=("$SERVE_PID")
	PORTS+=("$SERVE_PORT")
	SERVE_PID=
done
expect_eq "three nodes up" 3 "${#PIDS[@]}"
VICTIM=${PIDS[1]}

# The client: round-robin over the three nodes; records each 202's run id
# with the node that acknowledged it. After N/2 acks it kills node 2 and
# records the time; triggers meant for it then go to the next node, as a
# load balancer would send them. Right after the kill, before it sends
# more, the dead node's unfinished runs are read as the kill left them
# (the live nodes take them over within a second: on a slow build the
# rest of the client's triggers take longer than that).
snapshot_at_kill() {
	local i
	for i in $(seq 1 1200); do
		[ -e "$T/kill-now" ] && break
		sleep 0.05
	done
	kill -9 "$VICTIM" 2>/dev/null
	date +%s.%N >"$T/killed_at"
	wait "$VICTIM" 2>/dev/null
	pg_sql "SELECT id FROM runs WHERE lease_owner LIKE '%:$VICTIM:%' AND \
	    state IN ('queued', 'running', 'retrying', 'waiting')" >"$T/orphans.txt"
	: >"$T/killed"
}
snapshot_at_kill &
SNAP=$!
timeout 120 python3 - "$N" "$VICTIM" "${PORTS[@]}" <<'PY' \
    >"$T/client.out" 2>&1
import http.client, json, os, signal, sys, time
n, victim = int(sys.argv[1]), int(sys.argv[2])
ports = [int(p) for p in sys.argv[3:]]
conns = {}
alive = list(ports)
acked, killed_at = [], None
for i in range(n):
    for attempt in range(len(ports)):
        port = alive[(i + attempt) % len(alive)]
        try:
            c = conns.get(port) or http.client.HTTPConnection("127.0.0.1",
                port, timeout=10)
            conns[port] = c
            c.request("POST", "/hooks/spread", json.dumps({"n": i}),
                {"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
        except Exception:
            conns.pop(port, None)
            if port in alive and len(alive) > 1 and killed_at is not None:
                alive.remove(port)
            continue
        if r.status == 202:
            acked.append((json.loads(data)["run_id"], port))
        break
    if killed_at is None and len(acked) >= n // 2:
        open("kill-now", "w").close()
        for _ in range(1200):
            if os.path.exists("killed"):
                break
            time.sleep(0.01)
        killed_at = float(open("killed_at").read())
        alive.remove(ports[1])
        conns.pop(ports[1], None)
with open("acked.txt", "w") as f:
    f.write("".join("%s %d\n" % a for a in acked))
print("acked %d of %d; per node %s" % (len(acked), n,
    {p: sum(1 for a in acked if a[1] == p) for p in ports}))
PY
crc=$?
cat "$T/client.out"
expect_eq "the client ran" 0 "$crc"
killed_at=$(cat "$T/killed_at" 2>/dev/null)
acked=$(grep -c . "$T/acked.txt" 2>/dev/null)
expect_eq "every trigger was acknowledged by a node" "$N" "${acked:-0}"
for p in "${PORTS[@]}"; do
	expect_true "node :$p acknowledged some" \
	    grep -q " $p\$" "$T/acked.txt"
done
wait "$SNAP" 2>/dev/null

# The dead node's unfinished runs, as the kill left them.
victim_owner="%:$VICTIM:%"
orphans=$(grep -c . "$T/orphans.txt")
echo "the dead node held $orphans unfinished runs"
expect_true "the kill left the dead node's runs mid-way ($orphans)" \
    test "$orphans" -gt 0

# Taken over: no unfinished run is still the dead node's.
takeover=
for i in $(seq 1 300); do
	left=$(pg_sql "SELECT count(*) FROM runs WHERE lease_owner LIKE \
	    '$victim_owner' AND state IN ('queued', 'running', 'retrying', 'waiting')")
	if [ "$left" = 0 ]; then
		takeover=$(python3 -c "import time; print(int((time.time() - \
		    $killed_at) * 1000))")
		break
	fi
	sleep 0.05
done
echo "taken over $takeover ms after the kill (lease $LEASE_MS ms)"
expect_ne "the dead node's runs were taken over" "" "$takeover"
expect_true "within the lease time ($takeover ms <= $LEASE_MS ms)" \
    test "${takeover:-999999}" -le "$LEASE_MS"
expect_true "a live node logged the takeover" \
    grep -q "took over" "$T"/serve-*.log

# Everything ends.
for i in $(seq 1 600); do
	left=$(pg_sql "SELECT count(*) FROM runs WHERE state IN ('queued', \
	    'running', 'retrying', 'waiting')")
	[ "$left" = 0 ] && break
	sleep 0.1
done
expect_eq "no run is left unfinished" 0 "$left"

pg_sql "SELECT id, state FROM runs" >"$T/runs.txt"
python3 - "$T/acked.txt" "$T/runs.txt" <<'PY' >"$T/verdict"
import sys
acked = [l.split()[0] for l in open(sys.argv[1]) if l.strip()]
runs = dict(l.strip().split("|") for l in open(sys.argv[2]) if l.strip())
print("acked=%d lost=%d not-succeeded=%d stored=%d" % (len(acked),
    sum(a not in runs for a in acked),
    sum(runs.get(a) not in (None, "succeeded") for a in acked), len(runs)))
PY
v=$(cat "$T/verdict")
echo "$v"
expect_eq "every acknowledged run succeeded, exactly once in the store" \
    "acked=$N lost=0 not-succeeded=0 stored=$N" "$v"
# Transitions store events as codes (orchestrator/store-row.h): 1 created,
# 3 step_succeeded, 17 resumed.
expect_eq "each run was created once" 0 "$(pg_sql "SELECT count(*) FROM \
    (SELECT run_id FROM transitions WHERE event = '1' GROUP BY 1 \
    HAVING count(*) > 1) d")"
expect_eq "no completed step ran again (one success per visit)" 0 \
    "$(pg_sql "SELECT count(*) FROM (SELECT run_id, seq FROM transitions \
    WHERE event = '3' GROUP BY 1, 2 HAVING count(*) > 1) d")"
resumed=$(pg_sql "SELECT count(DISTINCT run_id) FROM transitions WHERE \
    event = '17'")
echo "runs resumed by another node: $resumed"
expect_true "only the dead node's runs resumed ($resumed <= $orphans)" \
    test "${resumed:-0}" -le "$orphans"
expect_eq "the counters agree with the rows" "$N" \
    "$(pg_sql "SELECT n FROM run_counts WHERE workflow = 'spread' AND \
    state = 'succeeded'")"
expect_exit 0 orch runs --workflow spread --limit 1000 --json
expect_eq "orchestrator runs lists them all" "$N" \
    "$(grep -c '"succeeded"' "$OUT")"
finish
