#!/usr/bin/env bash
# Bytes a run takes in the SQLite store, per table and index: runs the
# end-to-end benchmark (contrib/bench-e2e.sh: the background-task example,
# six steps, at a fixed rate then at full speed) on a fresh database, then
# divides what SQLite's dbstat says each b-tree holds (pages, and the
# payload in them) by the runs stored. Results go to contrib/BENCHMARKS.md
# by hand.
#
#   contrib/bytes-per-run.sh           BENCH_RATE=500 BENCH_SECONDS=6
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
