#!/usr/bin/env bash
# Storage faults (issue 7): while the store cannot commit, /healthz answers
# 503 and no webhook is answered 202 for a run that is not durably in the
# database; when the fault clears the daemon recovers by itself, and every
# acked run is there after a SIGKILL and a restart. The faults:
#
# - the database locked by another process (BEGIN EXCLUSIVE held);
# - a full disk (a small tmpfs, filled up; skipped without mount rights);
# - the database's file system remounted read-only (skipped likewise);
# - a corrupted or truncated database file: a clear error at start,
#   naming the file, and exit 1.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-240}
export ORC_TEST_TIMEOUT
. "$(dirname "$0")/serve-lib.sh"

# A short busy timeout so that a lock shows within a second.
export ORCH_BUSY_TIMEOUT_MS=200

cat >"$WF/sf.json" <<'JSON'
{ "name": "sf",
  "trigger": { "webhook": { "path": "/hooks/sf", "mode": "async" } },
  "steps": [ { "name": "decode", "uses": "json.decode" },
    { "name": "shape", "uses": "transform", "with": { "n": "{{input.n}}" } } ] }
JSON

MNT=
cleanup_mnt() {
	if [ -n "$MNT" ]; then
		mountpoint -q "$MNT" && umount -l "$MNT"
		MNT=
	fi
}
trap 'serve_cleanup; cleanup_mnt; lib_cleanup' EXIT

# fire FROM TO: sends triggers n=FROM..TO, 2 s each at most, in the
# background; each 202's run id goes to acked.txt. Sets FIRE_PID.
fire() {
	python3 - "$SERVE_PORT" "$1" "$2" <<'PY' >>"$T/fire.out" 2>&1 &
import http.client, json, sys, threading
port, a, b = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out = open("acked.txt", "a", buffering=1)
codes = {}
def one(i):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        c.request("POST", "/hooks/sf", json.dumps({"n": i}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        d = r.read()
        code = r.status
        if code == 202:
            out.write(json.loads(d)["run_id"] + "\n")
    except Exception as e:
        code = type(e).__name__
    codes[code] = codes.get(code, 0) + 1
ts = [threading.Thread(target=one, args=(i,)) for i in range(a, b + 1)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print("triggers %d-%d: %s" % (a, b, codes))
PY
	FIRE_PID=$!
}

# health_is CODE SECONDS: /healthz answers CODE within SECONDS.
health_is() {
	local i
	for i in $(seq 1 $(($2 * 10))); do
		req GET /healthz
		[ "$CODE" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# acked_in_db: every acked run id is in the database (read directly).
acked_in_db() {
	python3 - "$T/acked.txt" "$1" <<'PY'
import sqlite3, sys
acked = [l.strip() for l in open(sys.argv[1]) if l.strip()]
db = sqlite3.connect("file:%s?mode=ro" % sys.argv[2], uri=True)
have = set(r for (r,) in db.execute("SELECT id FROM runs"))
lost = [i for i in acked if i not in have]
print("acked=%d lost=%d %s" % (len(acked), len(lost), lost[:5]))
PY
}

# fault_cycle NAME DB START CLEAR: with the daemon on DB, runs START (a
# command that makes the fault), fires triggers, checks 503 and the acks,
# runs CLEAR, checks the recovery, kills and restarts, checks the acks.
fault_cycle() {
	local name=$1 db=$2 start=$3 clear=$4 acked0 v
	: >"$T/acked.txt"
	: >"$T/fire.out"
	DB=$db serve_start || return
	fire 1 5
	wait "$FIRE_PID"
	expect_eq "$name: 5 triggers acked before the fault" 5 \
	    "$(grep -c . "$T/acked.txt")"
	$start
	fire 6 25
	expect_true "$name: /healthz goes 503 during the fault" health_is 503 10
	# A webhook now is refused at once, not held with its body.
	t0=$(date +%s%N)
	REQ_TIMEOUT=5 req POST /hooks/sf -H 'Content-Type: application/json' \
	    --data-binary '{"n": -1}'
	ms=$((($(date +%s%N) - t0) / 1000000))
	expect_error "$name: a webhook during the fault" 503 store_unavailable
	expect_eq "$name: its Retry-After" 1 "$(header Retry-After)"
	expect_true "$name: refused within a second (took $ms ms)" \
	    test "$ms" -lt 1000
	acked0=$(grep -c . "$T/acked.txt")
	echo "$name: $((acked0 - 5)) acked while the fault holds"
	$clear
	expect_true "$name: /healthz is 200 again once it clears" \
	    health_is 200 20
	wait "$FIRE_PID"
	cat "$T/fire.out"
	# Everything acked must be durable: SIGKILL, then read the file.
	serve_kill
	v=$(acked_in_db "$db")
	echo "$name: $v"
	expect_contains "$name: no acked run is lost" "$v" "lost=0 "
	DB=$db serve_start || return
	expect_true "$name: a trigger after the restart is acked" \
	    req_ok
	serve_stop TERM
}

req_ok() {
	req POST /hooks/sf -H 'Content-Type: application/json' \
	    --data-binary '{"n": 0}'
	[ "$CODE" = 202 ]
}

# A missing WAL. After a clean stop (SIGTERM) the WAL is checkpointed into
# the database, so removing it loses nothing. After a SIGKILL the WAL holds
# the last commits: it is part of the database, and removing it loses them
# (README, Guarantees); the daemon must still start on a consistent file.
: >"$T/acked.txt"
: >"$T/fire.out"
WALDB=$T/wal.db
DB=$WALDB serve_start || finish
fire 1 10
wait "$FIRE_PID"
serve_stop TERM
rm -f "$WALDB-wal" "$WALDB-shm"
v=$(acked_in_db "$WALDB")
echo "wal, clean stop: $v"
expect_contains "wal: after a clean stop, no acked run is lost" "$v" \
    "acked=10 lost=0 "
DB=$WALDB serve_start || finish
fire 11 20
wait "$FIRE_PID"
serve_kill
rm -f "$WALDB-wal" "$WALDB-shm"
expect_eq "wal: after a SIGKILL without its WAL, the file is consistent" ok \
    "$(sqlite3 "$WALDB" 'PRAGMA integrity_check')"
DB=$WALDB serve_start || finish
expect_true "wal: the daemon starts and takes triggers again" req_ok
serve_stop TERM

# 1. The database locked by another process.
LOCK_PID=
lock_start() {
	python3 -c '
import sqlite3, sys, time, os
db = sqlite3.connect(sys.argv[1], timeout=10, isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[1] + ".locked", "w").close()
while not os.path.exists(sys.argv[1] + ".unlock"):
    time.sleep(0.05)
db.execute("COMMIT")
' "$DB" &
	LOCK_PID=$!
	for i in $(seq 1 100); do
		[ -e "$DB.locked" ] && break
		sleep 0.05
	done
	expect_true "lock: the other process holds the lock" \
	    test -e "$DB.locked"
}
lock_clear() {
	touch "$DB.unlock"
	wait "$LOCK_PID"
}
fault_cycle lock "$DB" lock_start lock_clear

# 2 and 3 need a file system of our own: a small tmpfs.
MNT=$T/mnt
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=4m tmpfs "$MNT" 2>/dev/null; then
	MNT=
	echo "no tmpfs mount (not root, or no rights): full and read-only" \
	    "disk skipped"
else
	full_start() {
		dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null
		expect_true "full: the disk is full" \
		    test "$(df --output=avail "$MNT" | tail -n 1)" -lt 64
	}
	full_clear() {
		rm -f "$MNT/filler"
	}
	fault_cycle full "$MNT/full.db" full_start full_clear
	rm -f "$MNT"/full.db*

	# A file system cannot go read-only under open files, so the
	# read-only database is met at start: a clear error, exit 1.
	DB=$MNT/ro.db serve_start && req_ok
	serve_stop TERM
	if mount -o remount,ro "$MNT"; then
		expect_exit 1 "$ORCH_BIN" serve --workflows "$WF" \
		    --db "$MNT/ro.db" --listen 127.0.0.1:0
		expect_contains "ro: the error names the file" "$(err)" ro.db
		echo "ro: $(err)"
		mount -o remount,rw "$MNT"
	fi
	cleanup_mnt
fi

# 5. The database file moved away, back, then removed while serving
# (issue 24, item 4): within a couple of seconds /healthz and webhooks
# answer 503, one line says what happened; moved back, it serves again;
# removed and replaced by another file, it stays refusing.
GONE=$T/gone.db
wait_line() {	# wait_line PATTERN SECONDS: in the daemon's log
	local i
	for i in $(seq 1 $(($2 * 10))); do
		grep -q "$1" "$SERVE_LOG" && return 0
		sleep 0.1
	done
	return 1
}
DB=$GONE serve_start || finish
expect_true "gone: a trigger before is acked" req_ok
mv "$GONE" "$GONE.aside"
expect_true "gone: /healthz goes 503 once the file is moved away" \
    health_is 503 5
REQ_TIMEOUT=5 req POST /hooks/sf -H 'Content-Type: application/json' \
    --data-binary '{"n": 1}'
expect_error "gone: a webhook is refused" 503 store_unavailable
expect_true "gone: one line says what happened" \
    wait_line "the database $GONE was removed while in use: webhooks" 3
sleep 1.5
expect_eq "gone: the line is said once" 1 \
    "$(grep -c "the database $GONE was removed" "$SERVE_LOG")"
expect_contains "gone: the line says what to do" "$(cat "$SERVE_LOG")" \
    "Move the file back to its path"
mv "$GONE.aside" "$GONE"
expect_true "gone: /healthz is 200 once the file is back" health_is 200 5
expect_true "gone: the way back is said" \
    wait_line "the database $GONE is back" 3
expect_true "gone: a trigger is acked again" req_ok
rm "$GONE"
expect_true "gone: /healthz goes 503 once the file is removed" \
    health_is 503 5
cp "$DB" "$GONE"
sleep 2
req GET /healthz
expect_code "gone: another file at the path does not bring it back" 503
expect_false_req() { ! req_ok; }
expect_true "gone: webhooks stay refused" expect_false_req
serve_kill

# 4. A corrupted database file and a truncated one: a clear error.
head -c 65536 /dev/urandom >"$T/garbage.db"
expect_exit 1 "$ORCH_BIN" serve --workflows "$WF" --db "$T/garbage.db" \
    --listen 127.0.0.1:0
expect_contains "a garbage database: the error names the file" "$(err)" \
    "garbage.db"
expect_eq "a garbage database: one line" 1 "$(grep -c . "$ERR")"
cp "$DB" "$T/trunc.db"
rm -f "$T/trunc.db-wal"
size=$(stat -c %s "$T/trunc.db")
printf 'SQLite format 3\0' | dd of="$T/hdr.db" 2>/dev/null
head -c 4096 "$T/trunc.db" >"$T/hdr.db"
head -c 100 /dev/urandom >>"$T/hdr.db"
dd if=/dev/urandom of="$T/trunc.db" bs=1 seek=4096 count=$((size - 4096)) \
    conv=notrunc 2>/dev/null
for f in trunc.db hdr.db; do
	# timeout itself in the background, not run_cmd's subshell: a
	# signal to timeout reaches the daemon, one to the subshell did not
	# (the daemon then lived on until the timeout).
	timeout -k 5 "$ORC_CMD_TIMEOUT" "$ORCH_BIN" serve --workflows "$WF" \
	    --db "$T/$f" --listen 127.0.0.1:0 >"$OUT" 2>"$ERR" &
	pid=$!
	sleep 3
	if kill -0 "$pid" 2>/dev/null; then
		# SQLite finds a damaged page when it reads it: the daemon
		# may start, but must answer with an error, not die.
		echo "$f: the daemon started on a damaged database"
		port=$(sed -n "$SERVE_PORT_SED" "$ERR" | head -n 1)
		c=$(curl -s -o "$T/dmg" -w '%{http_code}' --max-time 10 \
		    "http://127.0.0.1:$port/runs?limit=1000")
		echo "$f: GET /runs: $c $(head -c 300 "$T/dmg")"
		expect_true "$f: the daemon is alive after reading it" \
		    kill -0 "$pid"
		kill "$pid"
		wait "$pid"
	else
		wait "$pid"
		expect_ne "$f: a damaged database: exit non-zero" 0 "$?"
	fi
	expect_contains "$f: an error names the file" "$(cat "$ERR" "$T/dmg" \
	    2>/dev/null)" "$f"
done
finish
