#!/usr/bin/env bash
# Overload and slow clients (issue 7). A burst far above a workflow's
# capacity (concurrency 2, --max-queue 20) from many connections at once
# must get 429s with Retry-After, not a crash, an error or unbounded memory
# (VmRSS stays under a bound); every 202 it gave is honoured; afterwards
# the throughput is back (new triggers are accepted and finish).
#
# Then slow clients: slowloris connections sending their headers (and
# others their body) one byte a second must not starve normal requests,
# which keep being answered at once, and must be cut off by the server's
# deadline for reading a whole request (--read-timeout-ms, READ_MS here),
# though each sends a byte well within the idle timeout.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-200}
export ORC_TEST_TIMEOUT
. "$(dirname "$0")/serve-lib.sh"

BURST=${BURST:-3000}
READ_MS=${READ_MS:-4000}
SLOW_LIMIT=${SLOW_LIMIT:-15}

cat >"$WF/narrow.json" <<'JSON'
{ "name": "narrow",
  "trigger": { "webhook": { "path": "/hooks/narrow", "mode": "async" } },
  "concurrency": 2,
  "steps": [ { "name": "decode", "uses": "json.decode" },
    { "name": "nap", "uses": "wait", "with": { "ms": 50, "durable": false } },
    { "name": "pad", "uses": "transform",
      "with": { "n": "{{input.n}}", "pad": "{{input.pad}}" } } ] }
JSON

serve_start --max-queue 20 --access-log off --read-timeout-ms "$READ_MS" ||
    finish

rss() {
	awk '/^VmRSS/ { print $2 }' "/proc/$SERVE_PID/status" 2>/dev/null
}
rss0=$(rss)

# The burst: 200 connections, BURST triggers of 8 KiB each, all at once.
# It samples the daemon's VmRSS as it goes and keeps the highest.
timeout 120 python3 - "$SERVE_PORT" "$SERVE_PID" "$BURST" <<'PY' \
    >"$T/burst.out" 2>&1
import collections, http.client, json, sys, threading, time
port, pid, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
st = {"next": 0, "codes": collections.Counter(), "retry_after": 0,
      "acked": [], "peak": 0}
body = lambda i: json.dumps({"n": i, "pad": "x" * 8192})

def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS"):
            return int(l.split()[1])
    return 0

def worker():
    conn = None
    while True:
        with lock:
            if st["next"] >= n:
                return
            st["next"] += 1
            i = st["next"]
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port,
                                                  timeout=30)
            conn.request("POST", "/hooks/narrow", body(i),
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            code = r.status
        except Exception as e:
            code = "error " + type(e).__name__
            conn = None
        with lock:
            st["codes"][code] += 1
            if code == 429 and r.getheader("Retry-After"):
                st["retry_after"] += 1
            if code == 202:
                st["acked"].append(json.loads(data)["run_id"])
            if i % 50 == 0:
                st["peak"] = max(st["peak"], rss())

t0 = time.time()
ts = [threading.Thread(target=worker) for _ in range(200)]
for t in ts:
    t.start()
for t in ts:
    t.join()
with open("acked.txt", "w") as f:
    f.write("".join(i + "\n" for i in st["acked"]))
print("codes", json.dumps({str(k): v for k, v in st["codes"].items()}))
print("retry_after", st["retry_after"])
print("peak", st["peak"])
print("took %.1f s" % (time.time() - t0))
PY
cat "$T/burst.out"
codes=$(sed -n 's/^codes //p' "$T/burst.out")
n429=$(json - 'd.get("429", 0)' <<<"$codes")
n202=$(json - 'd.get("202", 0)' <<<"$codes")
other=$(json - 'sum(v for k, v in d.items() if k not in ("202", "429"))' \
    <<<"$codes")
peak=$(sed -n 's/^peak //p' "$T/burst.out")
expect_true "the burst got 429s ($n429)" test "${n429:-0}" -gt 0
expect_true "the burst got some 202s ($n202)" test "${n202:-0}" -gt 0
expect_eq "every answer was 202 or 429 ($codes)" 0 "$other"
expect_eq "every 429 has a Retry-After" "$n429" \
    "$(sed -n 's/^retry_after //p' "$T/burst.out")"
expect_true "the daemon survived the burst" kill -0 "$SERVE_PID"
echo "VmRSS: $rss0 kB before, $peak kB at the peak"
# AddressSanitizer keeps freed memory in quarantine (256 MB by default)
# and shadows the rest: the bound is for the daemon, not for ASan.
limit_kb=204800
[ "${ENABLE_ASAN:-no}" = yes ] && limit_kb=$((204800 + 400 * 1024))
expect_true "VmRSS stayed under $((limit_kb / 1024)) MB ($peak kB)" \
    test "${peak:-999999}" -lt "$limit_kb"

# Every acked run finishes; then new triggers are taken again.
for i in $(seq 1 300); do
	left=$(sqlite3 -readonly "$DB" "SELECT count(*) FROM runs WHERE state
	    NOT IN ('succeeded', 'failed', 'cancelled')" 2>/dev/null)
	[ "$left" = 0 ] && break
	sleep 0.1
done
expect_eq "every acked run of the burst finished" 0 "$left"
expect_eq "every acked run of the burst succeeded" "$n202" \
    "$(sqlite3 -readonly "$DB" "SELECT count(*) FROM runs WHERE
    workflow = 'narrow' AND state = 'succeeded'")"
ok=0
for i in $(seq 1 20); do
	req POST /hooks/narrow -H 'Content-Type: application/json' \
	    --data-binary "{\"n\": $i, \"pad\": \"\"}"
	[ "$CODE" = 202 ] && ok=$((ok + 1))
	sleep 0.03
done
expect_eq "after the burst, paced triggers are accepted" 20 "$ok"
expect_eq "and that one finishes" succeeded \
    "$(wait_final "$(body 'd["run_id"]')")"

# Slow clients: 50 connections that send headers one byte a second and
# 10 that send a body one byte a second. Normal requests are timed
# meanwhile; the slow ones must be closed by the server within SLOW_LIMIT.
timeout $((SLOW_LIMIT + 30)) python3 - "$SERVE_PORT" "$SLOW_LIMIT" \
    <<'PY' >"$T/slow.out" 2>&1 &
import socket, sys, threading, time
port, limit = int(sys.argv[1]), int(sys.argv[2])
res = {"cut": [], "open": 0}
lock = threading.Lock()

def slow(kind):
    s = socket.create_connection(("127.0.0.1", port), timeout=limit + 5)
    if kind == "headers":
        data = b"POST /hooks/narrow HTTP/1.1\r\nHost: x\r\nX-Slow: " + \
            b"a" * 10000
    else:
        s.sendall(b"POST /hooks/narrow HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\n"
                  b"Content-Length: 10000\r\n\r\n")
        data = b" " * 10000
    t0 = time.time()
    cut = False
    try:
        for b in data:
            s.sendall(bytes([b]))
            time.sleep(1)
            if time.time() - t0 > limit:
                break
    except OSError:
        cut = True
    if not cut:
        # Closed (or answered 4xx) by now, or still open: no answer.
        s.settimeout(1)
        try:
            got = s.recv(100)
            cut = got == b"" or got.startswith(b"HTTP/1.1 4")
        except socket.timeout:
            cut = False
        except OSError:
            cut = True
    with lock:
        if cut:
            res["cut"].append(round(time.time() - t0))
        else:
            res["open"] += 1

ts = [threading.Thread(target=slow, args=("headers",)) for _ in range(50)]
ts += [threading.Thread(target=slow, args=("body",)) for _ in range(10)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("cut %d after %s s; still open at %d s: %d" % (len(res["cut"]),
      sorted(set(res["cut"])), limit, res["open"]))
print("latest cut %d s" % max(res["cut"] or [limit]))
PY
SLOW_PID=$!
sleep 2
worst=0
for i in $(seq 1 20); do
	t0=$(date +%s%N)
	req GET /healthz
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ "$CODE" = 200 ] || ms=99999
	[ "$ms" -gt "$worst" ] && worst=$ms
	sleep 0.5
done
expect_true "normal requests answered within 1 s among slow clients \
(worst $worst ms)" test "$worst" -lt 1000
wait "$SLOW_PID"
cat "$T/slow.out"
expect_contains "every slow client was cut off within $SLOW_LIMIT s" \
    "$(cat "$T/slow.out")" "still open at $SLOW_LIMIT s: 0"
latest=$(sed -n 's/^latest cut \([0-9]*\) s$/\1/p' "$T/slow.out")
expect_true "at the read deadline ($READ_MS ms), not later (${latest:-?} s)" \
    test "${latest:-999}" -le $((READ_MS / 1000 + 2))
expect_true "the daemon survived the slow clients" kill -0 "$SERVE_PID"
serve_stop TERM
expect_eq "SIGTERM at the end: exit 0" 0 "$SERVE_RC"
finish
