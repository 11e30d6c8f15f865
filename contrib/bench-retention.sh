#!/usr/bin/env bash
# What retention costs the webhooks (issue 20: their p99 at 1,000 runs/s
# within 10 % of it with retention off): contrib/bench-e2e.sh's open-loop
# phase (the background-task example, each webhook sent at its scheduled
# time) with ORCH_RETENTION=forever (nothing deleted) and =1s (each run
# deleted a second after it finishes: the daemon deletes as fast as runs
# come, as a 30-day retention does after 30 days), alternating, BENCH_PAIRS
# pairs. Prints each run's p99 of the webhooks' 202s and the runs left in
# its store, then the median p99 of each setting and their ratio.
#
#   contrib/bench-retention.sh    BENCH_RATE=1000 BENCH_SECONDS=10
#   BENCH_PAIRS=5 contrib/bench-retention.sh
set -u
cd "$(dirname "$0")/.." || exit 1
pairs=${BENCH_PAIRS:-3}
out=$(mktemp -d "${TMPDIR:-/tmp}/orc-retention-XXXXXX") || exit 1
trap 'rm -rf -- "$out"' EXIT

# one SETTING N: a bench-e2e run with ORCH_RETENTION=SETTING; appends
# "SETTING P99" to $out/p99.
one() {
	local d=$out/$1-$2 p99 left=?
	BENCH_DIR=$d KEEP=1 ORCH_RETENTION=$1 BENCH_RATE=${BENCH_RATE:-1000} \
	    BENCH_SECONDS=${BENCH_SECONDS:-10} BENCH_MAX_SECONDS=1 \
	    contrib/bench-e2e.sh >"$out/$1-$2.txt" 2>&1 ||
		{ cat "$out/$1-$2.txt"; exit 1; }
	p99=$(sed -n 's/.*webhook answer (202): p50 [0-9.]* ms, p99 '`
	    `'\([0-9.]*\) ms.*/\1/p' "$out/$1-$2.txt")
	[ -n "$p99" ] || { cat "$out/$1-$2.txt"; exit 1; }
	command -v sqlite3 >/dev/null &&
		left=$(sqlite3 "$d/orch.db" 'SELECT count(*) FROM runs')
	echo "bench-retention: pair $2, retention $1: webhook p99 $p99 ms," \
	    "$left runs left in the store"
	echo "$1 $p99" >>"$out/p99"
	rm -rf -- "$d"
}

# Each pair in the other order than the one before: neither setting
# always runs first (after the last run's files were deleted).
for i in $(seq 1 "$pairs"); do
	if [ $((i % 2)) -eq 1 ]; then
		one forever "$i"
		one 1s "$i"
	else
		one 1s "$i"
		one forever "$i"
	fi
done
python3 - "$out/p99" <<'PY'
import statistics, sys

p = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    p.setdefault(k, []).append(float(v))
f, r = statistics.median(p["forever"]), statistics.median(p["1s"])
print("bench-retention: median webhook p99: forever %.1f ms, 1s %.1f ms "
      "(%+.0f %%)" % (f, r, 100 * (r - f) / f if f > 0 else 0))
PY
