#!/usr/bin/env bash
# Request bytes held in memory (issue 24, item 1): --max-body bounds one
# body, --max-inflight-bytes the bytes of all requests held at once. 60
# connections each announce a 4 MiB body and send all of it but 64 KiB,
# one after the other, and stay open, with a 64 MiB bound: the first ones
# are held, the later ones are answered 503 "overloaded" with Retry-After
# (JSON, as every error), /healthz stays 200, the daemon's VmRSS stays
# under a bound (without the bound it holds 240 MiB), /metrics counts the
# bytes held, and once the clients close the count is back to 0, memory
# returns, and a webhook is accepted again.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-120}
export ORC_TEST_TIMEOUT
. "$(dirname "$0")/serve-lib.sh"

CONNS=${CONNS:-60}
LIMIT=$((64 * 1024 * 1024))
# VmRSS may grow by the bound, the buffers' slack and little more.
RSS_GROWTH_KB=${RSS_GROWTH_KB:-$((112 * 1024))}
# AddressSanitizer's allocator keeps freed memory in quarantine (and the
# build has no jemalloc): memory bounds say nothing there.
SANITIZED=
ldd "$ORCH_BIN" 2>/dev/null | grep -q libasan && SANITIZED=1

cat >"$WF/mem.json" <<'JSON'
{ "name": "mem",
  "trigger": { "webhook": { "path": "/hooks/mem", "mode": "async" } },
  "steps": [ { "name": "decode", "uses": "json.decode" } ] }
JSON

# A bad option is a usage error; a bad variable stops serve, naming it.
expect_exit 2 "$ORCH_BIN" serve --max-inflight-bytes 100
expect_contains "--max-inflight-bytes too small" "$(err)" \
    "--max-inflight-bytes: expected at least 65536 bytes"
ORCH_MAX_INFLIGHT_BYTES=lots expect_exit 1 "$ORCH_BIN" serve
expect_contains "ORCH_MAX_INFLIGHT_BYTES not a number" "$(err)" \
    'ORCH_MAX_INFLIGHT_BYTES "lots" is not a number from 65536'

serve_start --max-inflight-bytes "$LIMIT" --max-body $((8 * 1024 * 1024)) \
    --read-timeout-ms 60000 --access-log off || finish

rss() {
	awk '/^VmRSS/ { print $2 }' "/proc/$SERVE_PID/status" 2>/dev/null
}
# metric NAME: its value in /metrics.
metric() {
	curl -s --max-time 5 "$URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}
req POST /hooks/mem -H 'Content-Type: application/json' -d '{"warm": 1}'
expect_code "a webhook before the pressure" 202
rss0=$(rss)

# The clients, in one Python process: each connection sends its headers
# and most of its body, then looks for an answer for 0.2 s; the held ones
# stay open until the file "release" appears. Prints one line per
# connection ("held" or "STATUS CODE RETRY-AFTER"), then "peak KB".
rm -f "$T/release"
python3 - "$SERVE_PORT" "$CONNS" "$SERVE_PID" "$T/release" \
    >"$T/clients.out" 2>&1 <<'PY' &
import json, os, select, socket, sys, time
port, n, pid, release = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], \
    sys.argv[4]
size = 4 * 1024 * 1024
def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS"):
            return int(l.split()[1])
    return 0
def answer(s, wait):
    r, _, _ = select.select([s], [], [], wait)
    if not r:
        return None
    data = b""
    s.settimeout(2)
    try:
        while b"\r\n\r\n" not in data or len(data) < 200:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except OSError:
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1] if lines and " " in lines[0] else "?"
    retry = "-"
    for l in lines[1:]:
        if l.lower().startswith("retry-after:"):
            retry = l.split(":", 1)[1].strip()
    try:
        code = json.loads(body)["error"]["code"]
    except Exception:
        code = "not-json"
    return "%s %s %s" % (status, code, retry)
held, peak, t0 = [], 0, time.time()
chunk = b"x" * 65536
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /hooks/mem HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % size)
    sent, got = 0, None
    try:
        while sent < size - 65536 and got is None:
            s.sendall(chunk)
            sent += len(chunk)
            if sent % (1024 * 1024) == 0:
                got = answer(s, 0)
    except OSError:
        pass
    if got is None:
        got = answer(s, 0.2)
    print(got if got is not None else "held", flush=True)
    if got is None:
        held.append(s)
    else:
        s.close()
    peak = max(peak, rss())
    if time.time() - t0 > 40:
        break
for _ in range(20):
    peak = max(peak, rss())
    time.sleep(0.05)
print("peak %d" % peak, flush=True)
for _ in range(600):
    if os.path.exists(release):
        break
    time.sleep(0.05)
for s in held:
    s.close()
PY
CLIENTS=$!

for i in $(seq 1 600); do
	grep -q '^peak ' "$T/clients.out" 2>/dev/null && break
	sleep 0.1
done
cat "$T/clients.out"
nheld=$(grep -c '^held$' "$T/clients.out")
nrefused=$(grep -c '^503 overloaded 1$' "$T/clients.out")
peak=$(awk '$1 == "peak" { print $2 }' "$T/clients.out")
echo "held $nheld, refused $nrefused; VmRSS $rss0 KB before, peak $peak KB"
expect_eq "every connection is held or refused with 503" "$CONNS" \
    "$((nheld + nrefused))"
expect_true "the first ones are held (12 to 16 of 4 MiB in 64 MiB)" \
    test "$nheld" -ge 12 -a "$nheld" -le 16
expect_true "the later ones get 503 overloaded, JSON, Retry-After 1" \
    test "$nrefused" -ge $((CONNS - 16))
expect_eq "the first connection is held" held "$(head -n 1 "$T/clients.out")"
if [ -z "$SANITIZED" ]; then
	expect_true "VmRSS grows by at most $RSS_GROWTH_KB KB ($rss0 -> $peak)" \
	    test "$((peak - rss0))" -le "$RSS_GROWTH_KB"
else
	echo "note: an ASan build: VmRSS is not checked"
fi
v=$(metric orchestrator_http_inflight_bytes)
echo "inflight bytes under pressure: $v"
expect_true "/metrics: the bytes held are within the bound ($v)" \
    test "${v:-0}" -gt $((LIMIT / 2)) -a "${v:-0}" -le "$LIMIT"
expect_eq "/metrics: the refusals are counted" "$nrefused" \
    "$(metric orchestrator_http_inflight_refused_total)"
req GET /healthz
expect_code "/healthz under the pressure" 200

# The pressure ends: the bytes are released, memory returns.
touch "$T/release"
wait "$CLIENTS"
for i in $(seq 1 50); do
	[ "$(metric orchestrator_http_inflight_bytes)" -lt 4096 ] && break
	sleep 0.1
done
v=$(metric orchestrator_http_inflight_bytes)
expect_true "/metrics: the bytes held go back to about nothing ($v)" \
    test "$v" -lt 4096
req POST /hooks/mem -H 'Content-Type: application/json' -d '{"after": 1}'
expect_code "a webhook after the pressure" 202
back=
t0=$(date +%s%N)
for i in $(seq 1 50); do
	[ -n "$SANITIZED" ] && break
	# Small requests keep the allocator going, as traffic would.
	req GET /healthz
	back=$(rss)
	[ "$((back - rss0))" -le $((24 * 1024)) ] && break
	sleep 0.5
done
echo "VmRSS after the clients closed: $back KB," \
    "$((($(date +%s%N) - t0) / 1000000)) ms after the count went back"
[ -n "$SANITIZED" ] ||
	expect_true "VmRSS comes back within 24 MiB ($rss0 -> $peak -> $back)" \
	    test "$((back - rss0))" -le $((24 * 1024))
serve_stop TERM
expect_eq "the daemon stops cleanly" 0 "$SERVE_RC"
finish
