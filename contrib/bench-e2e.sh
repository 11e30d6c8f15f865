#!/usr/bin/env bash
# The end-to-end benchmark (`make bench`): the background-task example as
# shipped (webhook -> json.decode -> http.request lookup -> lua -> json.encode
# -> bucket.put -> http.request callback), with tests/bench/bench-sink (C,
# libevent) as both the lookup service and the callback sink, on one fresh
# database with durable commits (synchronous=FULL).
#
#   contrib/bench-e2e.sh                   the binary in orchestrator/
#   BENCH_RATE=1000 BENCH_SECONDS=10 BENCH_MAX_SECONDS=10 contrib/bench-e2e.sh
#   BENCH_SYNCHRONOUS=OFF contrib/bench-e2e.sh   what fsync costs (not durable)
#   BENCH_BUCKETS=/dev/shm/b contrib/bench-e2e.sh  the bucket elsewhere
#   BENCH_WORKERS=0 contrib/bench-e2e.sh   Lua on the event loop (unsafe;
#       to compare with the worker processes of the default)
#   BENCH_SERVICE=python contrib/bench-e2e.sh  contrib/example-service.py
#       as the services (the walk-through's; it takes 60-250 us of CPU a
#       run from the daemon's two cores, and varies with its batching)
#
# Two phases:
# 1. fixed rate: a Python asyncio client posts BENCH_RATE webhooks a second
#    for BENCH_SECONDS, each at its scheduled time (a late send counts from
#    its schedule, so a stall is not hidden); the order id carries the
#    request's number, the client keeps the send times and the sink its
#    arrival times: latency is trigger to publish received, p50 and p99.
# 2. maximum: wrk posts as fast as 64 connections allow for
#    BENCH_MAX_SECONDS; runs per second is callbacks received per second
#    at the sink from the first to the last (the backlog drained).
# Both processes share the machine with the daemon: on 2 cores the service
# (lookups and callbacks, two requests a run) and the clients take CPU the
# daemon would otherwise have; the numbers are for the whole system.
set -u

cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
# The load generators share contrib/hookpost.py.
export PYTHONPATH="$top/contrib${PYTHONPATH:+:$PYTHONPATH}"
bin=${ORCH_BIN:-$top/orchestrator/orchestrator}
rate=${BENCH_RATE:-1000}
secs=${BENCH_SECONDS:-10}
max_secs=${BENCH_MAX_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-64}

BENCH_NAME=bench-e2e
pid=
svc=
. "$top/contrib/bench-lib.sh"
bench_need python3 curl wrk

bench_workdir
fs=$(df -PT "$dir" 2>/dev/null | awk 'NR == 2 { print $2 }')
case $fs in
tmpfs|ramfs) echo "bench-e2e: warning: $dir is on $fs: fsync costs nothing" ;;
esac

sink=$top/tests/bench/bench-sink
if [ "${BENCH_SERVICE:-c}" = python ] || [ ! -x "$sink" ]; then
	[ "${BENCH_SERVICE:-c}" = python ] ||
		echo "bench-e2e: no $sink (make tests/bench/bench-sink):" \
		    "the Python example service plays the services"
	python3 "$top/contrib/example-service.py" --quiet --port 0 \
		--record "$dir/callbacks.jsonl" 2>"$dir/service.log" &
	svc=$!
	sname=example-service
else
	"$sink" --port 0 --record "$dir/callbacks.jsonl" \
		2>"$dir/service.log" &
	svc=$!
	sname=bench-sink
fi
sport=$(waitport "$dir/service.log" "$sname" "$svc") ||
	die "the service did not start: $(cat "$dir/service.log")"
for f in background-task.json background_task.lua; do
	sed "s/127\.0\.0\.1:9100/127.0.0.1:$sport/g" "$top/workflows/$f" \
	    >"$dir/wf/$f"
done

bench_serve --buckets "${BENCH_BUCKETS:-$dir/buckets}"
# cpu PID: the CPU seconds a process has used so far.
cpu() {
	awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' \
	    "/proc/$1/stat" 2>/dev/null || echo 0
}
# cpu_note PHASE: what the daemon and the service used since the last note.
d_last=0
s_last=0
cpu_note() {
	local d s
	d=$(cpu "$pid")
	s=$(cpu "$svc")
	echo "bench-e2e: $1: CPU seconds: daemon" \
	    "$(python3 -c "print('%.2f' % ($d - $d_last))"), service" \
	    "$(python3 -c "print('%.2f' % ($s - $s_last))")"
	d_last=$d
	s_last=$s
}
# stat_cpu: the machine's busy and idle (with iowait) clock ticks so far.
# At full load this machine left 10-18 % idle: its scheduler often wakes
# a thread on the waker's CPU while the other one idles (see README).
stat_cpu() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat
}
# The buckets' folder, or the nearest one above it that exists yet.
bdir=${BENCH_BUCKETS:-$dir}
while [ ! -e "$bdir" ] && [ "$bdir" != / ] && [ "$bdir" != . ]; do
	bdir=$(dirname "$bdir")
done
bfs=$(df -PT "$bdir" 2>/dev/null | awk 'NR == 2 { print $2 }')
echo "bench-e2e: lua workers: ${BENCH_WORKERS:-default (one per core)}"
echo "bench-e2e: synchronous=${ORCH_SYNCHRONOUS:-FULL}, buckets in" \
    "${BENCH_BUCKETS:-$dir/buckets} ($bfs)"
# ext4 without a journal (some cloud images) skips the inodes freed in the
# last minute or more when it makes a file, scanning past each of them: a
# run soon after many files were deleted (another run's buckets) is slower.
bdev=$(df -P "$bdir" 2>/dev/null | awk 'NR == 2 { print $1 }')
journal=
for j in /proc/fs/jbd2/"${bdev##*/}"-*; do
	[ -e "$j" ] && journal=yes
done
if [ "$bfs" = ext4 ] && [ -d /proc/fs/jbd2 ] && [ -z "$journal" ]; then
	echo "bench-e2e: note: the buckets' ext4 has no journal: runs started" \
	    "within a minute or so of deleting many files are slower"
fi
echo "bench-e2e: orchestrator serve on $url, $sname on" \
    "127.0.0.1:$sport, database $dir/orch.db ($fs), $(nproc) cpus"

# The fixed-rate client: posts RATE webhooks a second for SECS seconds,
# prints "i scheduled_time status" lines.
cat >"$dir/load.py" <<'PY'
import asyncio, sys, time
from hookpost import post_json

port, rate, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
cb = sys.argv[4]
prefix = sys.argv[5]
n = int(rate * secs)
free = asyncio.Queue()
res = []

def body(i):
    return ('{"order":"%s%d","customer":"acme","callback":"%s","items":['
            '{"sku":"widget","qty":3,"price_cents":1250},'
            '{"sku":"gadget","qty":1,"price_cents":4999}]}'
            % (prefix, i, cb)).encode()

async def send(i, at):
    r, w = await free.get()
    b = body(i)
    try:
        st = await post_json(r, w, b"/hooks/background-task", b)
        res.append((i, at, st, time.time() - at))
    finally:
        free.put_nowait((r, w))

async def main():
    for _ in range(int(sys.argv[6])):
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
    for i, at, st, ack in res:
        print(i, "%.6f" % at, st, "%.6f" % ack)

asyncio.run(main())
PY

# wrk for the maximum: unique order ids per thread and request.
cat >"$dir/max.lua" <<LUA
local n = 0
local tid = 0
local counter = 1
function setup(thread)
	thread:set("tid", counter)
	counter = counter + 1
end
function init(args)
	n = 0
end
function request()
	n = n + 1
	local body = '{"order":"m' .. tid .. '-' .. n .. '",' ..
	    '"customer":"acme",' ..
	    '"callback":"http://127.0.0.1:$sport/callback","items":[' ..
	    '{"sku":"widget","qty":3,"price_cents":1250},' ..
	    '{"sku":"gadget","qty":1,"price_cents":4999}]}'
	return wrk.format("POST", "/hooks/background-task",
	    { ["Content-Type"] = "application/json" }, body)
end
LUA

# callbacks_settle [N]: waits until the sink's file has N lines and stops
# growing for a second (a commit or a disk stall can pause the callbacks
# for a fraction of one), or for 10 s without N (bounded: 150 s).
callbacks_settle() {
	local last=-1 now i same=0
	for i in $(seq 1 600); do
		now=$(wc -l <"$dir/callbacks.jsonl")
		if [ "$now" -eq "$last" ]; then same=$((same + 1)); else same=0; fi
		[ "$same" -ge 4 ] && [ "$now" -ge "${1:-0}" ] && return 0
		[ "$same" -ge 4 ] && [ "$i" -gt 40 ] && return 0
		last=$now
		sleep 0.25
	done
}

echo "bench-e2e: warm-up (1 s at 200 runs/s)"
python3 "$dir/load.py" "$port" 200 1 "http://127.0.0.1:$sport/callback" \
	w- 8 >"$dir/warm.txt" || die "the client failed"
callbacks_settle 200
cpu_note "warm-up" >/dev/null

echo "bench-e2e: fixed rate, $rate runs/s for $secs s"
python3 "$dir/load.py" "$port" "$rate" "$secs" \
	"http://127.0.0.1:$sport/callback" f- "$conns" >"$dir/fixed.txt" ||
	die "the client failed"
callbacks_settle "$(wc -l <"$dir/fixed.txt")"
cpu_note "fixed rate ($secs s)"

echo "bench-e2e: maximum, wrk -t2 -c$conns -d${max_secs}s"
idle0=$(stat_cpu)
wrk -t2 -c"$conns" -d"${max_secs}s" -s "$dir/max.lua" \
	"$url/hooks/background-task" >"$dir/wrk.txt" 2>&1 ||
	die "wrk failed: $(cat "$dir/wrk.txt")"
idle1=$(stat_cpu)
callbacks_settle
cpu_note "maximum (${max_secs} s and the drain)"
echo "$idle0 $idle1" | awk '{ b = $3 - $1; i = $4 - $2; if (b + i > 0)
	printf "bench-e2e: maximum: the CPUs were idle %.0f %% of the " \
	    "time while wrk ran\n", 100 * i / (b + i) }'

python3 - "$dir/fixed.txt" "$dir/callbacks.jsonl" "$dir/wrk.txt" <<'PY'
import json, sys

sent = {}
acks = []
codes = {}
for line in open(sys.argv[1]):
    i, at, st, ack = line.split()
    sent["f-" + i] = float(at)
    codes[st] = codes.get(st, 0) + 1
    acks.append(float(ack))
arrive = {}
maxt = []
for line in open(sys.argv[2]):
    r = json.loads(line)
    o = r["body"]["result"]["order"]
    if o.startswith("f-"):
        arrive[o] = r["time"]
    elif o.startswith("m"):
        maxt.append(r["time"])

def pct(a, p):
    a = sorted(a)
    return a[min(len(a) - 1, int(len(a) * p / 100))] * 1000 if a else 0

lat = [arrive[k] - sent[k] for k in sent if k in arrive]
print()
print("fixed rate: %d webhooks sent (answers %s), %d callbacks received"
      % (len(sent), codes, len(lat)))
print("  trigger to publish: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
      % (pct(lat, 50), pct(lat, 99), pct(lat, 100)))
print("  webhook answer (202): p50 %.1f ms, p99 %.1f ms"
      % (pct(acks, 50), pct(acks, 99)))
wrk = open(sys.argv[3]).read()
req = [l for l in wrk.splitlines() if "requests in" in l]
non2 = [l for l in wrk.splitlines() if "Non-2xx" in l]
if maxt:
    span = max(maxt) - min(maxt)
    print("maximum: %d runs published in %.2f s: %.0f runs/s end to end"
          % (len(maxt), span, len(maxt) / span if span > 0 else 0))
print("  wrk: %s %s" % (req[0].strip() if req else "?",
                        non2[0].strip() if non2 else ""))
PY

# How the commits grouped the changes (8 a run: created, started, 6 steps).
curl -s "$url/metrics" | awk '
	/^orchestrator_store_commits_total / { c = $2 }
	/^orchestrator_store_changes_total / { n = $2 }
	END { if (c > 0) printf "store: %d changes in %d commits, " \
	    "%.1f a commit\n", n, c, n / c }'

kill -TERM "$pid"
for i in $(seq 1 600); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
wait "$pid"
rc=$?
pid=
echo "daemon exit code after SIGTERM: $rc"
[ "$rc" -eq 0 ] || exit 1
