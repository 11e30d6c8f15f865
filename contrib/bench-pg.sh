#!/usr/bin/env bash
# The scale-out benchmark (`make bench`, issue 9): the four-step example
# (workflows/order-report.json as shipped: json.decode -> lua -> json.encode
# -> bucket.put to a local bucket) on one, two and three `orchestrator
# serve` nodes sharing one PostgreSQL database, beside one node on SQLite.
#
#   contrib/bench-pg.sh                     the binary in orchestrator/
#   BENCH_DURATION=20 BENCH_NODES="1 3" contrib/bench-pg.sh
#   BENCH_CONNECTIONS=96 BENCH_SQLITE=no contrib/bench-pg.sh
#
# PostgreSQL is a throwaway cluster (tests/integration/pg-lib.sh: initdb in
# a temp folder, a loopback port, stopped and removed at the end) with
# fsync and synchronous_commit on: a 202 means the run is committed to
# disk, as with SQLite's synchronous=FULL. Each round gets a fresh
# database (or SQLite file) and starts its nodes on it; one wrk per node
# runs in parallel, the BENCH_CONNECTIONS (64) divided among them, first a
# warm-up (BENCH_WARMUP seconds, 3), then, once its runs are done, the
# measured window (BENCH_DURATION seconds, 10). Per round it reports:
# - accepted webhooks/s: the 202s in the window over wrk's duration;
# - completed runs/s: the runs that succeeded within the window (their
#   finished_at, read from the database) over its length;
# - p50 and p99 answer times over all nodes' requests (each wrk's latency
#   percentiles, merged weighted by its request count);
# - that every 202 has its run: the run ids answered are all in the
#   database and succeeded once the backlog drained, none twice.
# Everything (wrk, the daemon, PostgreSQL) shares this machine's cores: the
# figures are for the whole system, not for the daemon alone.
# Exits 77 when the PostgreSQL binaries or wrk are missing, 1 on a failure.
set -u

cd "$(dirname "$0")/.."
top=$(pwd)
bin=${ORCH_BIN:-$top/orchestrator/orchestrator}
duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-3}
conns=${BENCH_CONNECTIONS:-64}
node_counts=${BENCH_NODES:-1 2 3}
drain_max=${BENCH_DRAIN_TIMEOUT:-180}

# The whole benchmark runs under timeout(1) (BENCH_TIMEOUT seconds).
if [ -z "${BENCH_PG_UNDER_TIMEOUT:-}" ]; then
	export BENCH_PG_UNDER_TIMEOUT=1
	timeout -k 15 "${BENCH_TIMEOUT:-1200}" bash "$0" "$@"
	rc=$?
	[ $rc -eq 124 ] || [ $rc -eq 137 ] &&
	    echo "bench-pg: stopped after ${BENCH_TIMEOUT:-1200} s" >&2
	exit $rc
fi

die() {
	echo "bench-pg: $*" >&2
	exit 1
}

# What pg-lib.sh expects of tests/integration/lib.sh.
TEST_NAME=bench-pg
ORC_CMD_TIMEOUT=30
skip() {
	echo "bench-pg: skipped: $*"
	exit 77
}
fail() {
	echo "bench-pg: $*" >&2
}
hard_error() {
	die "$*"
}
lib_cleanup() {
	:
}

[ -x "$bin" ] || die "$bin: no binary (build it first: make)"
command -v wrk >/dev/null ||
	skip "wrk is not installed (contrib/setup.sh bench installs it)"
command -v curl >/dev/null || skip "curl is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"
if "$bin" runs --db postgresql://127.0.0.1:1/x 2>&1 |
    grep -q "built without PostgreSQL support"; then
	skip "$bin was built without PostgreSQL support"
fi
PG_FSYNC=on
. "$top/tests/integration/pg-lib.sh"

dir=$(mktemp -d "${TMPDIR:-/tmp}/orc-bench-pg-XXXXXX") ||
	die "cannot make a temp dir"
mkdir -p "$dir/wf"
# Kills the nodes still running (PIDS), stops PostgreSQL, removes the
# temp dir.
cleanup() {
	pg_nodes_cleanup
	PIDS=()
	pg_cleanup
	[ -n "${KEEP:-}" ] || rm -rf -- "$dir"
}
trap cleanup EXIT
trap 'exit 124' TERM INT

cp "$top/workflows/order-report.json" "$top/workflows/order_report.lua" \
    "$dir/wf/" || die "cannot copy the order-report example"

# The load: unique order ids (prefix from the command line, thread, count);
# each thread keeps the run ids of its 202s, written out by done() with
# the counts and 1,000 latency percentiles for the merge.
cat >"$dir/post.lua" <<'LUA'
local threads = {}
local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("tid", counter)
	table.insert(threads, thread)
end

function init(args)
	prefix = args[1] or "x"
	n = 0
	accepted = 0
	other = 0
	ids = {}
end

function request()
	n = n + 1
	local body = '{"id":"' .. prefix .. "-" .. tid .. "-" .. n ..
	    '","customer":"acme","items":[{"sku":"widget","qty":3},' ..
	    '{"sku":"gadget","qty":1}]}'
	return wrk.format("POST", "/hooks/order-report",
	    { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
	if status == 202 then
		accepted = accepted + 1
		ids[accepted] = string.match(body, '"run_id"%s*:%s*"([^"]+)"')
		    or "?"
	else
		other = other + 1
	end
end

function done(summary, latency, requests)
	local a, o, i, p = 0, 0
	local f = assert(io.open(wrk.ids_file, "w"))
	for _, t in ipairs(threads) do
		a = a + t:get("accepted")
		o = o + t:get("other")
		for _, id in ipairs(t:get("ids")) do
			f:write(id, "\n")
		end
	end
	f:close()
	io.write(string.format("BENCH accepted=%d other=%d errors=%d " ..
	    "requests=%d seconds=%.3f\n", a, o,
	    summary.errors.connect + summary.errors.read +
	    summary.errors.write + summary.errors.timeout,
	    summary.requests, summary.duration / 1e6))
	for i = 1, 1000 do
		p = (i - 0.5) / 10
		io.write(string.format("Q %.2f %d\n", p,
		    latency:percentile(p)))
	end
end
LUA

# q SQL: one value (or rows) from the round's database.
q() {
	if [ "$kind" = pg ]; then
		timeout 30 "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" \
		    -c "$1"
	else
		timeout 30 sqlite3 -cmd ".timeout 10000" "$db" "$1"
	fi
}

# ids_check FILE: "acked stored succeeded distinct" for the run ids in FILE.
ids_check() {
	local sql="SELECT count(*), count(r.id), coalesce(sum(CASE WHEN
	    r.state = 'succeeded' THEN 1 ELSE 0 END), 0),
	    count(DISTINCT a.id) FROM acked a LEFT JOIN runs r ON r.id = a.id"
	if [ "$kind" = pg ]; then
		timeout 60 "$PSQL" -X -q -A -t -F ' ' -v ON_ERROR_STOP=1 \
		    -d "$db" <<SQL
CREATE TEMP TABLE acked (id TEXT COLLATE "C");
\\copy acked FROM '$1'
$sql;
SQL
	else
		timeout 60 sqlite3 -separator ' ' "$db" <<SQL
.timeout 10000
CREATE TEMP TABLE acked (id TEXT);
.import '$1' acked
$sql;
SQL
	fi
}

live_sql="SELECT count(*) FROM runs WHERE state IN ('queued', 'running',
    'retrying')"

# drain: waits (bounded) until no run is queued or running.
drain() {
	local i left
	for i in $(seq 1 $((drain_max * 4))); do
		left=$(q "$live_sql") || left=?
		[ "$left" = 0 ] && return 0
		sleep 0.25
	done
	die "$label: $left runs still unfinished after $drain_max s"
}

# start_node K: starts node K on the round's database; appends its port.
start_node() {
	local log=$dir/serve-$label-$1.log p i
	: >"$log"
	"$bin" serve --workflows "$dir/wf" --db "$db" \
	    --buckets "${BENCH_BUCKETS:-$dir/buckets}" \
	    --listen 127.0.0.1:0 --access-log off --log-level warn \
	    2>"$log" &
	PIDS+=($!)
	for i in $(seq 1 300); do
		p=$(sed -n 's/^orchestrator: listening on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
		    "$log" | head -n 1)
		[ -n "$p" ] && break
		kill -0 "${PIDS[-1]}" 2>/dev/null ||
		    die "$label: node $1 exited: $(tail -n 5 "$log")"
		sleep 0.05
	done
	[ -n "$p" ] || die "$label: node $1 did not say its port"
	for i in $(seq 1 100); do
		[ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' \
		    "http://127.0.0.1:$p/healthz")" = 200 ] && break
		sleep 0.1
	done
	ports+=("$p")
}

# stop_nodes: SIGTERM to each node, SIGKILL after 30 s; fails on an exit
# code other than 0.
stop_nodes() {
	local p i rc bad=0
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		for i in $(seq 1 300); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$p" 2>/dev/null
		wait "$p"
		rc=$?
		[ "$rc" -eq 0 ] || bad=1
	done
	PIDS=()
	[ "$bad" -eq 0 ] || die "$label: a node exited with $rc"
}

# load PHASE SECONDS: one wrk per node in parallel, the connections
# divided; two wrk threads when there is one node, else one each.
load() {
	local k=0 c t p n=${#ports[@]} w=() rc=0
	for p in "${ports[@]}"; do
		c=$((conns / n + (k < conns % n ? 1 : 0)))
		t=$((n == 1 ? 2 : 1))
		sed "s|wrk.ids_file|\"$dir/ids-$label-$1-$k.txt\"|" \
		    "$dir/post.lua" >"$dir/post-$label-$1-$k.lua"
		timeout $(($2 + 60)) wrk -t"$t" -c"$c" -d"$2"s --timeout 10s \
		    -s "$dir/post-$label-$1-$k.lua" \
		    "http://127.0.0.1:$p/hooks/order-report" -- \
		    "$label-$1-$k" >"$dir/wrk-$label-$1-$k.txt" 2>&1 &
		w+=($!)
		k=$((k + 1))
	done
	for p in "${w[@]}"; do
		wait "$p" || rc=1
	done
	[ "$rc" -eq 0 ] || die "$label: wrk failed:" \
	    "$(cat "$dir"/wrk-"$label-$1"-*.txt)"
}

# merge PHASE: "accepted other errors seconds p50_ms p99_ms" over its wrks.
merge() {
	python3 - "$dir"/wrk-"$label-$1"-*.txt <<'PY'
import sys
acc = oth = err = 0
secs = 0.0
pool = []
for name in sys.argv[1:]:
    head = None
    qs = []
    for line in open(name):
        if line.startswith("BENCH "):
            head = dict(kv.split("=") for kv in line.split()[1:])
        elif line.startswith("Q "):
            qs.append(int(line.split()[2]))
    if head is None:
        sys.exit("no result in " + name)
    acc += int(head["accepted"])
    oth += int(head["other"])
    err += int(head["errors"])
    secs = max(secs, float(head["seconds"]))
    w = int(head["requests"]) / max(len(qs), 1)
    pool += [(v, w) for v in qs]
pool.sort()
total = sum(w for _, w in pool)
def pct(p):
    run = 0.0
    for v, w in pool:
        run += w
        if run >= total * p / 100:
            return v / 1000
    return pool[-1][0] / 1000 if pool else 0
print(acc, oth, err, "%.3f" % secs, "%.2f" % pct(50), "%.2f" % pct(99))
PY
}

# round LABEL NODES: one measurement; appends a line to the results.
round() {
	local n=$2 k warm line acked stored ok distinct t0 t1 done_runs backlog
	local acc oth err secs p50 p99
	label=$1
	ports=()
	if [ "$kind" = pg ]; then
		timeout 30 "$PSQL" -X -q -d "$ORCH_TEST_PG_URL" \
		    -c "CREATE DATABASE orc_bench_${label/-/_}" >/dev/null ||
		    die "$label: cannot create the database"
		db=${ORCH_TEST_PG_URL%/*}/orc_bench_${label/-/_}
	else
		db=$dir/orch-$label.db
	fi
	for k in $(seq 1 "$n"); do
		start_node "$k"
	done
	echo "bench-pg: $label: $n node(s) on ports ${ports[*]}," \
	    "warm-up $warmup s"
	load warm "$warmup"
	drain
	echo "bench-pg: $label: measuring $duration s"
	t0=$(date +%s%3N)
	load run "$duration"
	t1=$(date +%s%3N)
	done_runs=$(q "SELECT count(*) FROM runs WHERE state = 'succeeded'
	    AND finished_at >= $t0 AND finished_at < $t1") ||
	    die "$label: cannot count the runs"
	backlog=$(q "$live_sql")
	drain
	read -r acc oth err secs p50 p99 <<<"$(merge run)" ||
	    die "$label: no result from wrk"
	cat "$dir"/ids-"$label"-*.txt >"$dir/ids-$label.txt"
	warm=$(merge warm | cut -d' ' -f1)
	read -r acked stored ok distinct <<<"$(ids_check "$dir/ids-$label.txt")"
	total=$(q "SELECT count(*) FROM runs")
	stop_nodes
	[ "$acked" -eq $((acc + warm)) ] ||
	    die "$label: $acked run ids for $((acc + warm)) 202s"
	if [ "$stored" -ne "$acked" ] || [ "$ok" -ne "$acked" ] ||
	    [ "$distinct" -ne "$acked" ]; then
		die "$label: 202s without their run: $acked answered," \
		    "$stored stored, $ok succeeded, $distinct distinct"
	fi
	# A request cut off by wrk's end may be stored without its 202: at
	# most one per connection and phase.
	[ "$total" -le $((acked + 2 * conns)) ] ||
	    die "$label: $total runs stored for $acked 202s"
	echo "bench-pg: $label: $acked 202s, each with its run, succeeded" \
	    "($total runs stored); $oth other answers, $err socket errors;" \
	    "$backlog runs waiting at the window's end"
	results+=("$(printf '%-12s %5d %12.0f %12.0f %9s %9s' "$label" "$n" \
	    "$(python3 -c "print($acc / $secs)")" \
	    "$(python3 -c "print($done_runs * 1000 / ($t1 - $t0))")" \
	    "$p50" "$p99")")
}

results=()
echo "bench-pg: $(nproc) cpus shared by wrk, the nodes and the database;" \
    "$conns connections in all, ${duration} s windows"
if [ "${BENCH_SQLITE:-yes}" != no ]; then
	kind=sqlite
	unset ORCH_SYNCHRONOUS ORCH_API_TOKEN ORCH_DB
	round sqlite 1
fi
kind=pg
pg_start || die "PostgreSQL did not start"
fs=$(df -PT "$PG_DIR" 2>/dev/null | awk 'NR == 2 { print $2 }')
case $fs in
tmpfs|ramfs) echo "bench-pg: warning: $PG_DIR is on $fs: fsync is free" ;;
esac
echo "bench-pg: PostgreSQL $("$PSQL" -X -A -t -d "$ORCH_TEST_PG_URL" \
    -c 'SHOW server_version') in $PG_DIR ($fs), fsync" \
    "$("$PSQL" -X -A -t -d "$ORCH_TEST_PG_URL" -c 'SHOW fsync'),"\
    "synchronous_commit $("$PSQL" -X -A -t -d "$ORCH_TEST_PG_URL" \
    -c 'SHOW synchronous_commit')"
for n in $node_counts; do
	round "pg-$n" "$n"
done

echo
printf '%-12s %5s %12s %12s %9s %9s\n' backend nodes "accepted/s" \
    "completed/s" "p50 ms" "p99 ms"
printf '%s\n' "${results[@]}"
