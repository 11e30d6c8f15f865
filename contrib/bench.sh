#!/usr/bin/env bash
# The webhook benchmark (`make bench`): accepted async webhooks per second,
# each one durably committed before its 202 (synchronous=FULL), with the
# p50 and p99 answer times, from wrk with 64 connections.
#
#   contrib/bench.sh              the binary in orchestrator/ ($ORCH_BIN)
#   BENCH_DURATION=30s BENCH_CONNECTIONS=128 contrib/bench.sh
#
# The daemon runs with --access-log off on a fresh database in a temp dir
# (BENCH_DIR, else under $TMPDIR or /tmp; a tmpfs would make fsync free,
# so it says so) with one async webhook workflow of one json.decode step.
# After a warm-up, wrk posts a small JSON body; then the daemon is stopped
# and the runs in the database are counted against the 202s: every
# accepted webhook must be stored. wrk comes from Debian
# (contrib/setup.sh bench installs it when missing).
set -u

cd "$(dirname "$0")/.."
top=$(pwd)
bin=${ORCH_BIN:-$top/orchestrator/orchestrator}
duration=${BENCH_DURATION:-10s}
conns=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}

die() {
	echo "bench: $*" >&2
	exit 1
}

[ -x "$bin" ] || die "$bin: no binary (build it first: make)"
command -v wrk >/dev/null ||
	die "wrk is not installed (contrib/setup.sh bench installs it)"
command -v curl >/dev/null || die "curl is not installed"

dir=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/orc-bench-XXXXXX")} ||
	die "cannot make a temp dir"
mkdir -p "$dir/wf"
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf -- "$dir"
}
trap cleanup EXIT
fs=$(df -PT "$dir" 2>/dev/null | awk 'NR == 2 { print $2 }')
case $fs in
tmpfs|ramfs) echo "bench: warning: $dir is on $fs: fsync costs nothing" ;;
esac

cat >"$dir/wf/bench.json" <<'JSON'
{
  "name": "bench",
  "trigger": { "webhook": { "path": "/hooks/bench", "mode": "async" } },
  "steps": [ { "name": "decode", "uses": "json.decode" } ]
}
JSON

# Counts the 202s per thread; prints them, the rate and the percentiles.
cat >"$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"order":"A-1042","customer":"acme","items":[{"sku":"X1","qty":2}]}'
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	accepted = 0
	other = 0
end

function response(status, headers, body)
	if status == 202 then
		accepted = accepted + 1
	else
		other = other + 1
	end
end

function done(summary, latency, requests)
	local a, o = 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("accepted")
		o = o + t:get("other")
	end
	local secs = summary.duration / 1e6
	io.write(string.format("BENCH accepted=%d other=%d errors=%d " ..
	    "seconds=%.2f rate=%.0f p50_ms=%.2f p99_ms=%.2f\n", a, o,
	    summary.errors.connect + summary.errors.read +
	    summary.errors.write + summary.errors.timeout, secs, a / secs,
	    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA

# Runs always durable: no ORCH_SYNCHRONOUS from the caller's environment.
unset ORCH_SYNCHRONOUS ORCH_API_TOKEN
"$bin" serve --workflows "$dir/wf" --db "$dir/orch.db" \
	--buckets "$dir/buckets" --listen 127.0.0.1:0 --access-log off \
	--log-level warn 2>"$dir/serve.log" &
pid=$!
port=
port_sed='s/^orchestrator: listening on http:\/\/127\.0\.0\.1:'
port_sed=$port_sed'\([0-9][0-9]*\) .*/\1/p'
for i in $(seq 1 200); do
	port=$(sed -n "$port_sed" "$dir/serve.log" | head -n 1)
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || die "the daemon exited: $(cat "$dir/serve.log")"
	sleep 0.05
done
[ -n "$port" ] || die "the daemon did not say its port: $(cat "$dir/serve.log")"
url=http://127.0.0.1:$port
for i in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ] &&
		break
	sleep 0.1
done

echo "bench: orchestrator serve on $url, database $dir/orch.db ($fs)," \
    "$(nproc) cpus"
echo "bench: warm-up (3 s)"
wrk -t"$threads" -c"$conns" -d3s -s "$dir/post.lua" "$url/hooks/bench" \
	>"$dir/warmup.txt" 2>&1 || die "wrk failed: $(cat "$dir/warmup.txt")"
# The runs stored so far (the warm-up's), once its last commits are done.
count_runs() {
	if command -v sqlite3 >/dev/null; then
		sqlite3 "$dir/orch.db" "SELECT count(*) FROM runs"
	else
		"$bin" runs --db "$dir/orch.db" --json --limit 100000000 |
		    grep -c '^{'
	fi
}
sleep 0.5
warm=$(count_runs)

echo "bench: wrk -t$threads -c$conns -d$duration --latency"
wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$dir/post.lua" \
	"$url/hooks/bench" >"$dir/wrk.txt" 2>&1 ||
	die "wrk failed: $(cat "$dir/wrk.txt")"
sed -n '/Latency Distribution/,/requests in/p' "$dir/wrk.txt"
line=$(grep '^BENCH ' "$dir/wrk.txt")
[ -n "$line" ] || die "no result from wrk: $(cat "$dir/wrk.txt")"
val() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<" $line"; }
accepted=$(val accepted)

# Stop (drain) the daemon, then count what is stored.
kill -TERM "$pid"
for i in $(seq 1 600); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.05
done
wait "$pid"
rc=$?
pid=
stored=$(($(count_runs) - warm))

echo
echo "accepted webhooks/s: $(val rate)" \
    "($accepted accepted in $(val seconds) s, $conns connections)"
echo "answer time: p50 $(val p50_ms) ms, p99 $(val p99_ms) ms"
echo "non-202 answers: $(val other), socket errors: $(val errors)"
echo "daemon exit code after SIGTERM: $rc"
# A request cut off by wrk's end may be stored without its 202 counted:
# at most one per connection.
if [ "$stored" -ge "$accepted" ] && [ "$stored" -le $((accepted + conns)) ]
then
	echo "durable acks: ok ($stored runs stored for $accepted 202s)"
else
	echo "durable acks: FAILED ($stored runs stored for $accepted 202s)"
	exit 1
fi
[ "$rc" -eq 0 ] || exit 1
