#!/usr/bin/env bash
# The flow-control benchmark (`make bench`): accepted async webhooks per
# second on a workflow with a concurrency_key (and "concurrency" per key)
# and a rate_limit configured, against the same workflow without them, on
# one daemon and one database. The limits are set high enough never to
# hold a run back, so the difference is the cost of the checks themselves
# (the target: under 5 %). The two are measured alternately, BENCH_ROUNDS
# times each (default 3), and the medians compared.
#
#   contrib/bench-flow.sh         the binary in orchestrator/ ($ORCH_BIN)
#   BENCH_DURATION=10s BENCH_ROUNDS=5 contrib/bench-flow.sh
set -u

cd "$(dirname "$0")/.."
top=$(pwd)
bin=${ORCH_BIN:-$top/orchestrator/orchestrator}
duration=${BENCH_DURATION:-5s}
rounds=${BENCH_ROUNDS:-3}
conns=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}

die() {
	echo "bench-flow: $*" >&2
	exit 1
}

[ -x "$bin" ] || die "$bin: no binary (build it first: make)"
command -v wrk >/dev/null ||
	die "wrk is not installed (contrib/setup.sh bench installs it)"
command -v curl >/dev/null || die "curl is not installed"

dir=$(mktemp -d "${TMPDIR:-/tmp}/orc-bench-flow-XXXXXX") ||
	die "cannot make a temp dir"
mkdir -p "$dir/wf"
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf -- "$dir"
}
trap cleanup EXIT

cat >"$dir/wf/plain.json" <<'JSON'
{
  "name": "plain",
  "trigger": { "webhook": { "path": "/hooks/plain", "mode": "async" } },
  "steps": [ { "name": "decode", "uses": "json.decode" } ]
}
JSON
cat >"$dir/wf/flow.json" <<'JSON'
{
  "name": "flow",
  "trigger": { "webhook": { "path": "/hooks/flow", "mode": "async" } },
  "concurrency_key": "{{input.customer}}",
  "concurrency": 100000,
  "rate_limit": { "per_second": 10000000, "burst": 10000000,
    "key": "{{input.customer}}" },
  "steps": [ { "name": "decode", "uses": "json.decode" } ]
}
JSON

# Prints "BENCH rate=N" from wrk's summary; the body names 16 customers.
cat >"$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
	n = n + 1
	local body = '{"order":"A-' .. n .. '","customer":"c' .. (n % 16) ..
	    '","items":[{"sku":"X1","qty":2}]}'
	return wrk.format(nil, nil, nil, body)
end
done = function(summary, latency, requests)
	local ok = summary.requests - summary.errors.status
	io.write(string.format("BENCH rate=%.0f\n",
	    ok / (summary.duration / 1e6)))
end
LUA

unset ORCH_SYNCHRONOUS ORCH_API_TOKEN
"$bin" serve --workflows "$dir/wf" --db "$dir/orch.db" \
	--buckets "$dir/buckets" --listen 127.0.0.1:0 --access-log off \
	--max-queue 100000000 --log-level warn 2>"$dir/serve.log" &
pid=$!
port=
port_sed='s/^orchestrator: listening on http:\/\/127\.0\.0\.1:'
port_sed=$port_sed'\([0-9][0-9]*\) .*/\1/p'
for i in $(seq 1 200); do
	port=$(sed -n "$port_sed" "$dir/serve.log" | head -n 1)
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null ||
		die "the daemon exited: $(cat "$dir/serve.log")"
	sleep 0.05
done
[ -n "$port" ] || die "the daemon did not say its port"
url=http://127.0.0.1:$port

# bench WORKFLOW: one wrk run, prints the accepted rate.
bench() {
	wrk -t"$threads" -c"$conns" -d"$duration" -s "$dir/post.lua" \
	    "$url/hooks/$1" >"$dir/wrk.txt" 2>&1 ||
		die "wrk failed: $(cat "$dir/wrk.txt")"
	sed -n 's/^BENCH rate=\([0-9]*\).*/\1/p' "$dir/wrk.txt"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 }
    END { print a[int((NR + 1) / 2)] }'; }

echo "bench-flow: warm-up"
bench plain >/dev/null
bench flow >/dev/null
plain=""
flow=""
for r in $(seq 1 "$rounds"); do
	p=$(bench plain)
	f=$(bench flow)
	echo "bench-flow: round $r: plain $p/s, flow $f/s"
	plain="$plain $p"
	flow="$flow $f"
done
p=$(echo "$plain" | median)
f=$(echo "$flow" | median)
cost=$(awk -v p="$p" -v f="$f" 'BEGIN { printf "%.1f", (p - f) * 100 / p }')
echo
echo "accepted webhooks/s without flow control: $p (median of $rounds)"
echo "with concurrency_key + rate_limit: $f (median of $rounds)"
echo "cost of the flow-control checks: $cost % (target: under 5 %)"
grep -E "level=(error|warn)" "$dir/serve.log" | head -n 5
