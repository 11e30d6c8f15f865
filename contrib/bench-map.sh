#!/usr/bin/env bash
# Fan-out at scale (`make bench`): items per second and the daemon's peak
# memory for maps, with durable commits (synchronous=FULL).
#
#   contrib/bench-map.sh
#   BENCH_ITEMS=100000 BENCH_HTTP_ITEMS=20000 BENCH_RUNS=200 \
#   BENCH_RUN_ITEMS=500 contrib/bench-map.sh
#
# Three phases, each on a fresh daemon, timed from the trigger to the map's
# run being final, with the daemon's CPU per item and its peak resident
# memory (VmHWM):
# 1. one run whose map has BENCH_ITEMS items of a transform step
#    (max_concurrency 64);
# 2. one run whose map POSTs each of BENCH_HTTP_ITEMS items to a local sink
#    (tests/bench/bench-sink) with http.request (max_concurrency 64);
# 3. BENCH_RUNS runs at once, each a map of BENCH_RUN_ITEMS transform items.
set -u

cd "$(dirname "$0")/.." || exit 1
top=$(pwd)
bin=${ORCH_BIN:-$top/orchestrator/orchestrator}
sink=$top/tests/bench/bench-sink
items=${BENCH_ITEMS:-100000}
http_items=${BENCH_HTTP_ITEMS:-20000}
runs=${BENCH_RUNS:-200}
run_items=${BENCH_RUN_ITEMS:-500}
max_secs=${BENCH_MAX_SECONDS:-300}

BENCH_NAME=bench-map
pid=
svc=
. "$top/contrib/bench-lib.sh"
bench_need python3 curl sqlite3
bench_need_sink
bench_workdir

"$sink" --port 0 --record /dev/null 2>"$dir/sink.log" &
svc=$!
sport=$(waitport "$dir/sink.log" bench-sink "$svc") ||
	die "the sink did not start: $(cat "$dir/sink.log")"

cat >"$dir/wf/pure.json" <<EOF
{ "name": "pure", "trigger": { "webhook": { "path": "/hooks/pure" } },
  "steps": [ { "name": "each", "uses": "map",
    "with": { "items": "{{input.items}}", "max_concurrency": 64,
              "max_items": 1000000 },
    "steps": [ { "name": "t", "uses": "transform",
      "with": { "n": "{{item}}", "i": "{{item_index}}" } } ] } ] }
EOF
cat >"$dir/wf/posts.json" <<EOF
{ "name": "posts", "trigger": { "webhook": { "path": "/hooks/posts" } },
  "allow": { "hosts": ["127.0.0.1:$sport"] },
  "steps": [ { "name": "each", "uses": "map",
    "with": { "items": "{{input.items}}", "max_concurrency": 64,
              "max_items": 1000000 },
    "steps": [ { "name": "post", "uses": "http.request",
      "with": { "method": "POST",
                "url": "http://127.0.0.1:$sport/publish" } } ] } ] }
EOF

# cpu: the CPU seconds the daemon used so far.
cpu() {
	awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / t }' \
	    "/proc/$pid/stat"
}
# hwm: the daemon's peak resident memory, in MB.
hwm() {
	awk '/^VmHWM/ { printf "%d", $2 / 1024 }' "/proc/$pid/status"
}
# array N: a JSON array of N numbers, in a file.
array() {
	python3 -c "import json, sys; print(json.dumps(list(range($1))))"
}
# finished WORKFLOW: how many of its runs are final.
finished() {
	sqlite3 -cmd ".timeout 5000" "$dir/orch.db" "SELECT count(*) FROM runs
	    WHERE workflow = '$1' AND finished_at > 0" 2>/dev/null || echo 0
}
# wait_final WORKFLOW N: waits until N of its runs are final (bounded).
wait_final() {
	local end=$(($(date +%s) + max_secs))
	while [ "$(finished "$1")" -lt "$2" ]; do
		[ "$(date +%s)" -lt "$end" ] ||
			die "$1: not done after $max_secs s"
		kill -0 "$pid" 2>/dev/null ||
			die "the daemon died: $(tail -5 "$dir/serve.log")"
		sleep 0.2
	done
}
# phase NAME WORKFLOW RUNS ITEMS: posts RUNS runs of ITEMS items each,
# waits for them all, prints the line.
phase() {
	local name=$1 wf=$2 n=$3 k=$4 c0 t0 t1 c1 i failed
	rm -f "$dir/orch.db"*
	bench_serve --buckets "$dir/buckets"
	printf '{"items": %s}' "$(array "$k")" >"$dir/in.json"
	c0=$(cpu)
	t0=$(date +%s%N)
	for i in $(seq 1 "$n"); do
		curl -s -o /dev/null -H 'Content-Type: application/json' \
		    --data-binary @"$dir/in.json" "$url/hooks/$wf" ||
			die "$wf: the trigger failed"
	done
	wait_final "$wf" "$n"
	t1=$(date +%s%N)
	c1=$(cpu)
	failed=$(sqlite3 "$dir/orch.db" "SELECT count(*) FROM runs WHERE
	    state <> 'succeeded'")
	[ "$failed" -eq 0 ] || die "$name: $failed runs did not succeed"
	awk -v name="$name" -v n="$n" -v k="$k" -v ns=$((t1 - t0)) \
	    -v cpu="$(awk -v a="$c0" -v b="$c1" 'BEGIN { print b - a }')" \
	    -v mb="$(hwm)" 'BEGIN {
		s = ns / 1e9; items = n * k
		printf "%-34s %8d items  %6.1f s  %7.0f items/s  " \
		    "%.3f ms CPU/item  peak RSS %d MB\n", name, items, s,
		    items / s, cpu * 1000 / items, mb }'
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
}

echo "bench-map: maps of child runs, synchronous=FULL, 64 items at once"
phase "one map of transform items" pure 1 "$items"
phase "one map of http.request items" posts 1 "$http_items"
phase "$runs maps of $run_items transform items" pure "$runs" "$run_items"
