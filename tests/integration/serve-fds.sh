#!/usr/bin/env bash
# Out of file descriptors (issue 24, item 3). The daemon's open-files
# limit is lowered (prlimit) to a few dozen above what it holds, then
# CONNS idle connections are opened: it accepts until it runs out, and the
# rest wait in the listen backlog. The listener must then pause instead of
# retrying accept() in a busy loop: the daemon's CPU time over 2 s stays
# under CPU_LIMIT seconds, it says so in a few log lines (not one per
# attempt), and it closes waiting connections at once with its reserve
# descriptor rather than leaving every client hanging. Once the idle
# connections are closed it recovers by itself: /healthz answers 200.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-120}
export ORC_TEST_TIMEOUT
. "$(dirname "$0")/serve-lib.sh"

command -v prlimit >/dev/null || skip "prlimit is not installed"
CONNS=${CONNS:-300}
CPU_LIMIT=${CPU_LIMIT:-0.5}

# Idle connections must stay open while the test measures.
serve_start --read-timeout-ms 60000 || finish
nfd=$(ls "/proc/$SERVE_PID/fd" | wc -l)
limit=$((nfd + 40))
prlimit --pid "$SERVE_PID" --nofile="$limit:$limit" ||
    hard_error "prlimit could not lower the daemon's open-files limit"
echo "the daemon holds $nfd descriptors; limit lowered to $limit"

python3 - "$SERVE_PORT" "$SERVE_PID" "$CONNS" >"$T/fds.out" \
    2>"$T/fds.err" <<'PY'
import os, select, socket, sys, time
port, pid, conns = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])

def cpu():
    # utime and stime of the whole process, in seconds.
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

socks = []
for i in range(conns):
    socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
time.sleep(0.5)         # it accepts until it runs out
c0, t0 = cpu(), time.monotonic()
time.sleep(2)
used, took = cpu() - c0, time.monotonic() - t0
closed = 0
readable, _, _ = select.select(socks, [], [], 0)
for s in readable:
    try:
        closed += s.recv(1) == b""
    except OSError:
        closed += 1
print("%.3f %.2f %d" % (used, took, closed))
for s in socks:
    s.close()
PY
read -r used took closed <"$T/fds.out"
[ -n "$closed" ] || hard_error "the client failed: $(cat "$T/fds.err")"
echo "out of descriptors: $used s of CPU in $took s;" \
    "$closed waiting connections closed at once"
expect_true "the daemon's CPU over 2 s out of descriptors ($used s)" \
    python3 -c "import sys; sys.exit(not $used < $CPU_LIMIT)"
expect_true "waiting connections are closed, not left hanging ($closed)" \
    test "$closed" -ge 1
n=$(grep -c 'out of file descriptors' "$SERVE_LOG")
expect_true "it says so once per pause, not per accept ($n lines)" \
    test "$n" -ge 1 -a "$n" -le 30
expect_eq "no libevent accept() warnings" 0 \
    "$(grep -c 'Error from accept' "$SERVE_LOG")"

# The idle connections are closed: it recovers by itself.
REQ_TIMEOUT=2
for i in $(seq 1 50); do
	req GET /healthz
	[ "$CODE" = 200 ] && break
	sleep 0.1
done
expect_eq "/healthz after the connections closed" 200 "$CODE"
for i in 1 2 3; do
	req GET /healthz
	expect_eq "/healthz again ($i)" 200 "$CODE"
done
serve_stop TERM
expect_eq "SIGTERM afterwards: exit 0" 0 "$SERVE_RC"
finish
