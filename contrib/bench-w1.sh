#!/usr/bin/env bash
# Workload W1 (`make bench`): a webhook with a small order -> json.decode
# -> a Lua step that totals it (contrib/bench-w1/process.lua) -> json.encode
# -> http.request POST to a sink on 127.0.0.1 (tests/bench/bench-sink) that
# answers 200, with durable commits (synchronous=FULL) and the workflow's
# concurrency high enough not to limit.
#
#   contrib/bench-w1.sh                  the binary in orchestrator/
#   BENCH_WORKERS=0 contrib/bench-w1.sh  Lua on the event loop (unsafe; to
#                                        compare with the worker processes)
#   BENCH_RATE=1000 BENCH_SECONDS=10 BENCH_MAX_SECONDS=10 contrib/bench-w1.sh
#   ORCH_BIN=/tmp/orch-before contrib/bench-w1.sh   another build (A/B)
#
# Two phases, each with the CPU the daemon and its Lua workers used per
# completed run (the sink and the load generators share the two cores, so
# only the daemon's processes are counted), then the same per thread (the
# loop, orc-store, orc-fetch, orc-io, the Lua workers together) with the
# context switches of each and the store's commits, per run:
# 1. open loop: a Python asyncio client posts BENCH_RATE orders a second
#    for BENCH_SECONDS, each at its scheduled time, the time in the order
#    (sent_at_us); the sink records when each publish arrives: p50 and p99
#    trigger to publish.
# 2. closed loop: wrk with 64 connections for BENCH_MAX_SECONDS; runs per
#    second are publishes received per second, backlog drained.
set -u

cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
# The load generators share contrib/hookpost.py.
export PYTHONPATH="$top/contrib${PYTHONPATH:+:$PYTHONPATH}"
bin=${ORCH_BIN:-$top/orchestrator/orchestrator}
sink=$top/tests/bench/bench-sink
rate=${BENCH_RATE:-1000}
secs=${BENCH_SECONDS:-10}
max_secs=${BENCH_MAX_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-64}

BENCH_NAME=bench-w1
pid=
svc=
. "$top/contrib/bench-lib.sh"
bench_need python3 curl wrk
bench_need_sink
bench_workdir

"$sink" --port 0 --record "$dir/published.jsonl" 2>"$dir/sink.log" &
svc=$!
sport=$(waitport "$dir/sink.log" bench-sink "$svc") ||
	die "the sink did not start: $(cat "$dir/sink.log")"
sed "s/127\.0\.0\.1:9999/127.0.0.1:$sport/g" \
    "$top/contrib/bench-w1/orders.json" >"$dir/wf/orders.json"
cp "$top/contrib/bench-w1/process.lua" "$dir/wf/"

bench_serve --buckets "$dir/buckets"
# cpu: the CPU seconds the daemon and its worker processes used so far.
cpu() {
	local p t=0
	for p in "$pid" $(pgrep -P "$pid"); do
		t=$(awk -v t="$(getconf CLK_TCK)" -v s="$t" \
		    '{ printf "%.2f", s + ($14 + $15) / t }' "/proc/$p/stat" \
		    2>/dev/null || echo "$t")
	done
	echo "$t"
}
# workers_cpu: the same for the worker processes alone.
workers_cpu() {
	local p t=0
	for p in $(pgrep -P "$pid"); do
		t=$(awk -v t="$(getconf CLK_TCK)" -v s="$t" \
		    '{ printf "%.2f", s + ($14 + $15) / t }' "/proc/$p/stat" \
		    2>/dev/null || echo "$t")
	done
	echo "$t"
}
# threads FILE: each thread's CPU ticks and context switches, by name (the
# main thread is the loop; the worker processes count as one), and the
# store's commits so far.
threads() {
	local t p
	{
		for t in /proc/"$pid"/task/*; do
			if [ "${t##*/}" = "$pid" ]; then
				echo "loop $(thread_stat "$t")"
			else
				echo "$(cat "$t/comm") $(thread_stat "$t")"
			fi
		done
		for p in $(pgrep -P "$pid"); do
			echo "lua-workers $(thread_stat "/proc/$p")"
		done
		curl -s "$url/metrics" | awk '
		    /^orchestrator_store_commits_total/ { print "commits", $2, 0 }'
	} >"$1" 2>/dev/null
}
# thread_stat DIR: the CPU ticks and context switches of /proc/PID[/task/TID].
thread_stat() {
	awk '{ printf "%d ", $14 + $15 }' "$1/stat"
	awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s }' \
	    "$1/status"
}
published() {
	wc -l <"$dir/published.jsonl"
}
# settle N: waits until N publishes arrived and the count stops growing
# (bounded: 150 s).
settle() {
	local last=-1 now i same=0
	for i in $(seq 1 600); do
		now=$(published)
		if [ "$now" -eq "$last" ]; then same=$((same + 1)); else same=0; fi
		[ "$same" -ge 4 ] && [ "$now" -ge "$1" ] && return 0
		[ "$same" -ge 8 ] && return 0
		last=$now
		sleep 0.25
	done
}

echo "bench-w1: lua workers: ${BENCH_WORKERS:-default (one per core)}," \
    "synchronous=FULL, database on $(df -PT "$dir" | awk 'NR == 2 { print $2 }'), $(nproc) cpus"

# The open-loop client: RATE orders a second for SECS seconds, each sent
# at its scheduled time with that time in sent_at_us.
cat >"$dir/open.py" <<'PY'
import asyncio, json, sys, time
from hookpost import post_json

port, rate, secs, conns = (int(sys.argv[1]), int(sys.argv[2]),
                           float(sys.argv[3]), int(sys.argv[4]))
n = int(rate * secs)
free = asyncio.Queue()
codes = {}
ITEMS = [{"sku": "A-%d" % i, "price": 9.99 + i, "qty": 1 + i % 3}
         for i in range(5)]

async def send(i, at):
    r, w = await free.get()
    b = json.dumps({"id": i, "customer": "acme",
                    "sent_at_us": int(at * 1e6), "items": ITEMS}).encode()
    try:
        st = str(await post_json(r, w, b"/hooks/orders", b))
        codes[st] = codes.get(st, 0) + 1
    finally:
        free.put_nowait((r, w))

async def main():
    for _ in range(conns):
        free.put_nowait(await asyncio.open_connection("127.0.0.1", port))
    t0 = time.time() + 0.1
    tasks = []
    for i in range(n):
        at = t0 + i / rate
        d = at - time.time()
        if d > 0:
            await asyncio.sleep(d)
        tasks.append(asyncio.ensure_future(send(i, at)))
    await asyncio.gather(*tasks)
    print(json.dumps(codes))

asyncio.run(main())
PY

# wrk: unique order ids per thread and request.
cat >"$dir/closed.lua" <<'LUA'
local n, tid, counter = 0, 0, 1
function setup(thread)
	thread:set("tid", counter)
	counter = counter + 1
end
function request()
	n = n + 1
	local body = '{"id":' .. (tid * 100000000 + n) .. ',"customer":"acme",' ..
	    '"sent_at_us":0,"items":[' ..
	    '{"sku":"A-0","price":9.99,"qty":1},{"sku":"A-1","price":10.99,"qty":2},' ..
	    '{"sku":"A-2","price":11.99,"qty":3},{"sku":"A-3","price":12.99,"qty":1},' ..
	    '{"sku":"A-4","price":13.99,"qty":2}]}'
	return wrk.format("POST", "/hooks/orders",
	    { ["Content-Type"] = "application/json" }, body)
end
LUA

# Warm-up: the workers, their states, the compiled script.
python3 "$dir/open.py" "$port" 200 1 8 >/dev/null || die "the client failed"
settle 200
base=$(published)

echo "bench-w1: open loop, $rate runs/s for $secs s"
c0=$(cpu)
w0=$(workers_cpu)
threads "$dir/thr0"
python3 "$dir/open.py" "$port" "$rate" "$secs" "$conns" >"$dir/open.txt" ||
	die "the client failed"
settle $((base + rate * secs))
c1=$(cpu)
w1=$(workers_cpu)
threads "$dir/thr1"
open_n=$(($(published) - base))
base=$(published)

echo "bench-w1: closed loop, wrk -t2 -c$conns -d${max_secs}s"
wrk -t2 -c"$conns" -d"${max_secs}s" -s "$dir/closed.lua" \
	"$url/hooks/orders" >"$dir/wrk.txt" 2>&1 ||
	die "wrk failed: $(cat "$dir/wrk.txt")"
settle 0
c2=$(cpu)
w2=$(workers_cpu)
threads "$dir/thr2"
closed_n=$(($(published) - base))

python3 - "$dir/published.jsonl" "$dir/open.txt" "$rate" "$secs" \
    "$open_n" "$closed_n" "$c0 $c1 $c2" "$w0 $w1 $w2" "$dir/thr" \
    "$(getconf CLK_TCK)" <<'PY'
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
codes = open(sys.argv[2]).read().strip()
rate, secs = int(sys.argv[3]), float(sys.argv[4])
open_n, closed_n = int(sys.argv[5]), int(sys.argv[6])
c = [float(x) for x in sys.argv[7].split()]
w = [float(x) for x in sys.argv[8].split()]
lat, closed_t = [], []
for r in rows:
    b = r["body"]
    if b.get("sent_at_us", 0) > 0 and b["id"] < 100000000:
        lat.append(r["time"] - b["sent_at_us"] / 1e6)
    elif b.get("sent_at_us") == 0:
        closed_t.append(r["time"])
lat = sorted(lat[-int(rate * secs):])

def pct(p):
    return lat[min(len(lat) - 1, int(len(lat) * p / 100))] * 1000 if lat else 0

def per_run(a, b, n):
    return (b - a) * 1000 / n if n else 0

def threads(i):
    d = {}
    for line in open("%s%d" % (sys.argv[9], i)):
        f = line.split()
        if len(f) == 3:
            t, s = d.get(f[0], (0, 0))
            d[f[0]] = (t + int(f[1]), s + int(f[2]))
    return d

def per_thread(i, n):
    a, b, tck = threads(i), threads(i + 1), float(sys.argv[10])
    out = []
    for k in sorted(b):
        if k == "commits" or k not in a:
            continue
        ms = (b[k][0] - a[k][0]) * 1000 / tck / n if n else 0
        sw = (b[k][1] - a[k][1]) / n if n else 0
        if ms >= 0.0005 or sw >= 0.005:
            out.append("%s %.3f ms, %.2f switches" % (k, ms, sw))
    print("  per run and thread: " + "; ".join(out))
    if "commits" in a and "commits" in b and n:
        print("  commits per run: %.2f"
              % ((b["commits"][0] - a["commits"][0]) / n))

print()
print("W1 open loop, %d runs/s for %.0f s: %d published (answers %s)"
      % (rate, secs, open_n, codes))
print("  trigger to publish: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
      % (pct(50), pct(99), pct(100)))
print("  CPU per run: %.3f ms (daemon %.3f, lua workers %.3f)"
      % (per_run(c[0], c[1], open_n), per_run(c[0] - w[0], c[1] - w[1],
         open_n), per_run(w[0], w[1], open_n)))
per_thread(0, open_n)
span = max(closed_t) - min(closed_t) if len(closed_t) > 1 else 0
print("W1 closed loop, 64 connections: %d published, %.0f runs/s"
      % (closed_n, closed_n / span if span else 0))
print("  CPU per run: %.3f ms (daemon %.3f, lua workers %.3f)"
      % (per_run(c[1], c[2], closed_n), per_run(c[1] - w[1], c[2] - w[2],
         closed_n), per_run(w[1], w[2], closed_n)))
per_thread(1, closed_n)
PY
kill -TERM "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
