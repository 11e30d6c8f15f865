#!/usr/bin/env bash
# Bytes a run takes in the SQLite store, per table and index: runs the
# end-to-end benchmark (contrib/bench-e2e.sh: the background-task example,
# six steps, at a fixed rate then at full speed) on a fresh database, then
# divides what SQLite's dbstat says each b-tree holds (pages, and the
# payload in them) by the runs stored. Then the examples that run without
# a service (workflows/ with an input in workflows/inputs/), each run
# BYTES_RUNS times with `orchestrator run`: the pages that BYTES_RUNS more
# runs add, per run (a few hundred runs leave the tables' first pages too
# large a share of the file). Results go to contrib/BENCHMARKS.md by hand.
#
#   contrib/bytes-per-run.sh           BENCH_RATE=500 BENCH_SECONDS=6
#   ORCH_BIN=old/orchestrator contrib/bytes-per-run.sh   another build
#   BYTES_RUNS=0 contrib/bytes-per-run.sh                the e2e part only
set -u
cd "$(dirname "$0")/.." || exit 1
command -v sqlite3 >/dev/null ||
    { echo "bytes-per-run: sqlite3 is not installed" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/orc-bytes-XXXXXX") || exit 1
trap 'rm -rf -- "$dir"' EXIT
BENCH_DIR=$dir KEEP=1 BENCH_RATE=${BENCH_RATE:-500} \
    BENCH_SECONDS=${BENCH_SECONDS:-6} \
    BENCH_MAX_SECONDS=${BENCH_MAX_SECONDS:-2} contrib/bench-e2e.sh \
    >"$dir/bench.txt" 2>&1 ||
    { cat "$dir/bench.txt"; exit 1; }
db=$dir/orch.db
runs=$(sqlite3 "$db" 'SELECT count(*) FROM runs')
[ "$runs" -gt 0 ] || { echo "no runs stored" >&2; exit 1; }
echo "$runs runs, $(($(stat -c %s "$db") / runs)) bytes a run in the file"
sqlite3 -column -header "$db" "SELECT name AS btree,
    sum(pgsize) / $runs AS bytes_a_run, sum(payload) / $runs AS payload
    FROM dbstat GROUP BY name HAVING sum(payload) > 0 ORDER BY 2 DESC"
sqlite3 -column -header "$db" "SELECT name AS step,
    avg(length(output)) AS output_bytes FROM steps GROUP BY name"

# pages DB: the bytes of the pages dbstat counts in DB's b-trees.
pages() {
	sqlite3 "$1" 'SELECT sum(pgsize) FROM dbstat'
}
# example NAME N: runs workflows/NAME.json N times on $dir/NAME.db; 1
# when a run fails (an example that needs a service, as order-pricing).
example() {
	local i
	for i in $(seq 1 "$2"); do
		"$bin" run "workflows/$1.json" --db "$dir/$1.db" \
		    --buckets "$dir/buckets" \
		    --input "workflows/inputs/$1.json" >/dev/null 2>&1 ||
			{ echo "$1: a run failed (needs a service?): skipped"; \
			return 1; }
	done
}
bin=${ORCH_BIN:-orchestrator/orchestrator}
n=${BYTES_RUNS:-100}
[ "$n" -gt 0 ] || exit 0
for f in workflows/inputs/*.json; do
	w=$(basename "$f" .json)
	[ "$w" = background-task ] && continue
	example "$w" "$n" || continue
	p0=$(pages "$dir/$w.db")
	example "$w" "$n" || continue
	p1=$(pages "$dir/$w.db")
	echo "$w: $(((p1 - p0) / n)) bytes a run (the pages of $n more runs)"
done
