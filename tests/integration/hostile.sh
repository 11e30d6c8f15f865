#!/usr/bin/env bash
# Hostile input against a live daemon (issue 7): bodies nested 100 000
# deep, huge numbers, invalid UTF-8, NUL bytes, duplicate keys, oversized
# headers, path traversal in bucket keys, bucket names and template values,
# CRLF header injection through templates into http.request, SQL
# metacharacters in every field, and Lua scripts that try to leave their
# sandbox. After each one the daemon must still answer /healthz; nothing
# may be written outside the bucket folder; no secret value may appear in
# an answer, the daemon's log or the database.
ORC_TEST_TIMEOUT=${ORC_TEST_TIMEOUT:-240}
export ORC_TEST_TIMEOUT
. "$(dirname "$0")/serve-lib.sh"

SECRET=hostile-SECRET-value-5f1c9a
HOOK_SECRET=hostile-HOOK-secret-77ab03
export HOSTILE_SECRET=$SECRET HOSTILE_HOOK_SECRET=$HOOK_SECRET

python3 "$TOP_SRCDIR/tests/integration/sink.py" "$T/sink.jsonl" \
    "$T/sink.port" 2>"$T/sink.err" &
SINK_PID=$!
trap 'kill "$SINK_PID" 2>/dev/null; serve_cleanup; lib_cleanup' EXIT
for i in $(seq 1 100); do
	[ -s "$T/sink.port" ] && break
	sleep 0.05
done
SP=$(cat "$T/sink.port" 2>/dev/null)
[ -n "$SP" ] || hard_error "the sink did not start: $(cat "$T/sink.err")"

SYNC='"mode": "sync", "sync_timeout_ms": 10000'
ONCE='"defaults": { "retry": { "max_attempts": 1 }, "timeout_ms": 5000 }'

# Decode and encode: the body's way in and out.
cat >"$WF/hbody.json" <<JSON
{ "name": "hbody",
  "trigger": { "webhook": { "path": "/hooks/hbody", $SYNC } }, $ONCE,
  "steps": [ { "name": "decode", "uses": "json.decode" },
    { "name": "encode", "uses": "json.encode" } ] }
JSON
# A bucket key and a bucket name from the input.
cat >"$WF/hbucket.json" <<JSON
{ "name": "hbucket",
  "trigger": { "webhook": { "path": "/hooks/hbucket", $SYNC } }, $ONCE,
  "steps": [ { "name": "decode", "uses": "json.decode" },
    { "name": "put", "uses": "bucket.put",
      "with": { "bucket": "{{input.b}}", "key": "k/{{input.name}}.json" } } ]
}
JSON
# A bucket key from the input, read back.
cat >"$WF/hbucketget.json" <<JSON
{ "name": "hbucketget",
  "trigger": { "webhook": { "path": "/hooks/hbucketget", $SYNC } }, $ONCE,
  "steps": [ { "name": "decode", "uses": "json.decode" },
    { "name": "get", "uses": "bucket.get",
      "with": { "bucket": "ok", "key": "{{input.key}}" } } ] }
JSON
# A folder of the bucket planted as a symbolic link to a folder outside.
mkdir -p "$T/buckets/ok/k" "$T/outside"
printf 'outside-SECRET-3e9d\n' >"$T/outside/secret.txt"
ln -s "$T/outside" "$T/buckets/ok/k/esc"
ln -s ../../outside "$T/buckets/ok/esc"

# A header, a URL path and a query from the input, to the sink.
cat >"$WF/hheader.json" <<JSON
{ "name": "hheader",
  "trigger": { "webhook": { "path": "/hooks/hheader", $SYNC } }, $ONCE,
  "allow": { "hosts": ["127.0.0.1:$SP"] },
  "steps": [ { "name": "decode", "uses": "json.decode" },
    { "name": "tell", "uses": "http.request",
      "with": { "method": "POST",
        "url": "http://127.0.0.1:$SP/t/{{input.name}}?q={{input.name}}",
        "headers": { "X-Name": "{{input.name}}" } } } ] }
JSON
# A signed webhook, and a Lua step that reads a secret but keeps it.
cat >"$WF/hsig.json" <<JSON
{ "name": "hsig",
  "trigger": { "webhook": { "path": "/hooks/hsig", $SYNC,
    "secret_env": "HOSTILE_HOOK_SECRET" } }, $ONCE,
  "secrets": ["HOSTILE_SECRET"],
  "steps": [ { "name": "decode", "uses": "json.decode" },
    { "name": "use", "uses": "lua", "script": "usesecret.lua" } ] }
JSON
cat >"$WF/usesecret.lua" <<'LUA'
return function(input, ctx)
  local s = ctx.env("HOSTILE_SECRET")
  return { has = s ~= nil, len = s and #s or 0 }
end
LUA
# The sandbox probes: each script returns what it managed to do.
cat >"$WF/hlua.json" <<JSON
{ "name": "hlua",
  "trigger": { "webhook": { "path": "/hooks/hlua", $SYNC } }, $ONCE,
  "steps": [ { "name": "probe", "uses": "lua", "script": "probe.lua",
    "timeout_ms": 3000 } ] }
JSON
cat >"$WF/probe.lua" <<'LUA'
-- Every escape hatch the sandbox must close; "got" lists the open ones.
return function(input, ctx)
  local got = {}
  local function try(name, f)
    local ok, v = pcall(f)
    if ok and v then got[#got + 1] = name end
  end
  try("io", function() return io ~= nil end)
  try("os.execute", function() return os.execute ~= nil end)
  try("os.getenv", function() return os.getenv ~= nil end)
  try("os.remove", function() return os.remove ~= nil end)
  try("debug", function() return debug ~= nil end)
  try("dofile", function() return dofile ~= nil end)
  try("loadfile", function() return loadfile ~= nil end)
  try("package", function() return package ~= nil end)
  try("collectgarbage", function() return collectgarbage ~= nil end)
  try("string.dump", function() return string.dump ~= nil end)
  try("(\"\").dump", function() return ("").dump ~= nil end)
  try("string metatable", function()
    local m = getmetatable("")
    return type(m) == "table" and rawget(m, "__index") ~= nil end)
  try("string poisoning", function()
    string.upper = function() return "pwned" end
    return ("a"):upper() == "pwned" end)
  try("binary load", function()
    return load("\27Lua\84\0\25\147\13\10\26\10\4\8\8") ~= nil end)
  try("load mode b", function()
    return load("return 1", "x", "b") ~= nil end)
  try("require ../x", function() return require("../x") ~= nil end)
  try("require /x", function() return require("/tmp/x") ~= nil end)
  try("require io", function() return require("io") ~= nil end)
  try("require debug", function() return require("debug") ~= nil end)
  try("env secret", function() return ctx.env("HOSTILE_SECRET") ~= nil end)
  try("globals outlive", function()
    local seen = rawget(_G, "hostile_mark")
    hostile_mark = true
    return seen end)
  return { got = got }
end
LUA
# A file outside the folder that require("../x") would reach.
printf 'return { escaped = true }\n' >"$T/x.lua"
# Memory and CPU bombs.
cat >"$WF/hbomb.json" <<JSON
{ "name": "hbomb",
  "trigger": { "webhook": { "path": "/hooks/hbomb", $SYNC } }, $ONCE,
  "steps": [ { "name": "bomb", "uses": "lua", "script": "bomb.lua",
    "timeout_ms": 2000 } ] }
JSON
cat >"$WF/bomb.lua" <<'LUA'
return function(input, ctx)
  if input.kind == "mem" then
    local t = {}
    for i = 1, 1e9 do t[i] = string.rep("x", 1024) .. i end
  elseif input.kind == "str" then
    local s = "x"
    while true do s = s .. s end
  elseif input.kind == "loop" then
    while true do end
  elseif input.kind == "deep" then
    local function f(n) return f(n + 1) + 1 end
    return f(1)
  end
  return {}
end
LUA

serve_start || finish
# Whatever the daemon writes from now on must stay in the buckets.
sleep 1.1
touch "$T/marker"

# healthy WHAT: the daemon is alive and answers /healthz 200.
healthy() {
	local code=$CODE body=$BODY
	cp "$T/body" "$T/body.keep"
	if ! kill -0 "$SERVE_PID" 2>/dev/null; then
		fail "$1: the daemon died; its log:" \
		    "$(tail -c 1500 "$SERVE_LOG")"
		serve_start
		return
	fi
	req GET /healthz
	expect_eq "$1: /healthz after it" 200 "$CODE"
	CODE=$code
	BODY=$body
	cp "$T/body.keep" "$T/body"
}

# answered WHAT: the last request got an HTTP answer.
answered() {
	expect_ne "$1: an answer (got $CODE)" 000 "$CODE"
	case "$CODE" in
	5??)	[ "$CODE" = 500 ] && [ -n "${SYNC_FAIL_OK:-}" ] ||
		    fail "$1: a server error $CODE: $(head -c 300 "$T/body")"
		;;
	esac
	healthy "$1"
}

JSONH=(-H 'Content-Type: application/json')

# --- Bodies -----------------------------------------------------------
python3 -c 'print("[" * 100000 + "]" * 100000)' >"$T/deep-arr"
python3 -c 'print("{\"a\":" * 100000 + "1" + "}" * 100000)' >"$T/deep-obj"
python3 -c 'print("[" * 100000)' >"$T/deep-open"
for f in deep-arr deep-obj deep-open; do
	req POST /hooks/hbody "${JSONH[@]}" --data-binary "@$T/$f"
	answered "$f nested 100 000 deep"
done
expect_error "nested 100 000 deep, unclosed" 400 bad_json
python3 -c 'print("a" + "[b]" * 100000 + "=1")' >"$T/deep-form"
req POST /hooks/hbody -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary "@$T/deep-form"
answered "a form key nested 100 000 deep"

for n in 1e999999 -1e999999 123456789012345678901234567890123456789 \
    -9223372036854775809 9223372036854775808 1e-999999 \
    "$(python3 -c 'print("9" * 100000)')"; do
	req POST /hooks/hbody "${JSONH[@]}" --data-binary "{\"n\": $n}"
	answered "the number ${n:0:40}"
done

printf '{"s": "\xff\xfe\xc0\xaf"}' >"$T/badutf8"
req POST /hooks/hbody "${JSONH[@]}" --data-binary "@$T/badutf8"
answered "invalid UTF-8 in JSON"
expect_code "invalid UTF-8 in JSON is refused" 400
req POST /hooks/hbody -H 'Content-Type: text/plain' \
    --data-binary "@$T/badutf8"
answered "invalid UTF-8 as text/plain"
printf 's=%%ff%%fe&t=%%c0%%af' >"$T/badform"
req POST /hooks/hbody -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary "@$T/badform"
answered "invalid UTF-8 in a form"

printf '{"s": "a\0b"}' >"$T/nul"
req POST /hooks/hbody "${JSONH[@]}" --data-binary "@$T/nul"
answered "a raw NUL in JSON"
req POST /hooks/hbody "${JSONH[@]}" --data-binary '{"s": "a\u0000b"}'
answered "an escaped NUL in JSON"
req POST /hooks/hbody -H 'Content-Type: text/plain' --data-binary "@$T/nul"
answered "a NUL in text/plain"
req POST /hooks/hbody -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary 'a%00b=1&c=d%00e'
answered "a NUL in a form"
# A run whose input or output holds a NUL must stay readable.
req GET "/runs?workflow=hbody&limit=1000"
expect_code "the runs list after NUL inputs (text/plain, form)" 200
req POST /hooks/hbody "${JSONH[@]}" --data-binary '{"a": 1, "a": 2}'
answered "duplicate keys"
req POST /hooks/hbody "${JSONH[@]}" --data-binary '{"\u0000": 1}'
answered "a NUL key"

# --- Headers ----------------------------------------------------------
big=$(head -c 1000000 /dev/zero | tr '\0' a)
printf 'X-Big: %s\r\n' "$big" >"$T/bighdr"
req POST /hooks/hbody "${JSONH[@]}" -H "@$T/bighdr" --data-binary '{}'
expect_eq "a 1 MB header is refused" 400 "$CODE"
healthy "a 1 MB header"
# An endless header: the daemon must cut it off, not buffer it all.
python3 - "$SERVE_PORT" "$SERVE_PID" >"$T/endless" 2>&1 <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"POST /hooks/hbody HTTP/1.1\r\nHost: x\r\nX-Big: ")
try:
    for i in range(100):
        s.sendall(b"a" * 1000000)
except OSError:
    pass
rss = [l.split()[1] for l in open("/proc/%s/status" % sys.argv[2])
       if l.startswith("VmRSS")][0]
print(rss)
PY
rss=$(tail -n 1 "$T/endless")
echo "VmRSS after a 100 MB header: $rss kB"
expect_true "a 100 MB header leaves the daemon under 100 MB ($rss kB)" \
    test "${rss:-999999}" -lt 102400
healthy "a 100 MB header"
python3 - "$SERVE_PORT" >"$T/manyheaders" 2>&1 <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
try:
    s.sendall(b"POST /hooks/hbody HTTP/1.1\r\nHost: x\r\n")
    for i in range(20000):
        s.sendall(b"X-H%d: v\r\n" % i)
    s.sendall(b"Content-Type: application/json\r\n"
              b"Content-Length: 2\r\n\r\n{}")
except OSError as e:
    print("send cut: %s" % e)
try:
    print((s.recv(100) or b"closed").split(b"\r\n")[0].decode())
except OSError as e:
    print("connection cut: %s" % e)
PY
echo "20 000 headers: $(cat "$T/manyheaders")"
healthy "20 000 headers"
printf 'Idempotency-Key: %s\r\n' "${big:0:60000}" >"$T/bighdr"
req POST /hooks/hbody "${JSONH[@]}" -H "@$T/bighdr" --data-binary '{}'
answered "a 60 kB Idempotency-Key"

# --- Paths --------------------------------------------------------------
for p in '/hooks/../runs' '/hooks/%2e%2e/%2e%2e/etc/passwd' \
    '/runs/..%2f..%2fetc%2fpasswd' '/workflows/..%2fhbody' \
    "/runs/$(printf 'x%.0s' $(seq 1 5000))" '/hooks/hbody%00x' \
    '/runs?workflow=%00&state=%ff'; do
	req GET "$p"
	answered "GET $p"
done

# --- Path traversal through bucket keys and names -----------------------
mkdir -p "$T/buckets"
for name in '../../../../escape' '..' 'a/../../../escape' \
    '/tmp/orc-hostile-abs' '..\\..\\escape' "$T/escape" 'a/./b' \
    'a\u0000b' 'a\nb'; do
	req POST /hooks/hbucket "${JSONH[@]}" \
	    --data-binary "{\"b\": \"ok\", \"name\": \"$name\"}"
	SYNC_FAIL_OK=1 answered "bucket key from $name"
done
for b in '..' '../..' '/tmp' '.' 'a/../..' ''; do
	req POST /hooks/hbucket "${JSONH[@]}" \
	    --data-binary "{\"b\": \"$b\", \"name\": \"x\"}"
	SYNC_FAIL_OK=1 answered "bucket name $b"
done
req POST /hooks/hbucket "${JSONH[@]}" --data-binary '{"b": "ok", "name": "x"}'
expect_code "a plain key is written" 200
expect_file "the plain key's file" "$T/buckets/ok/k/x.json"
# A folder of the key that is a symbolic link leads neither way out.
# through_link HOOK BODY WHAT NEEDLE: the step fails for good, naming
# the link, and shows nothing from outside.
through_link() {
	req POST "$1" "${JSONH[@]}" --data-binary "$2"
	SYNC_FAIL_OK=1 answered "$3 through a planted folder link"
	expect_code "$3 through a folder link fails" 500
	expect_contains "$3 names the link" "$BODY" "$4"
	expect_not_contains "$3 reveals nothing" "$BODY" outside-SECRET
}
through_link /hooks/hbucket '{"b": "ok", "name": "esc/x"}' bucket.put \
    'bucket \"ok\" key \"k/esc/x.json\": \"k/esc\" is a symbolic link'
expect_true "nothing written through the link" test ! -e "$T/outside/x.json"
for key in esc/secret.txt k/esc/secret.txt; do
	through_link /hooks/hbucketget "{\"key\": \"$key\"}" \
	    "bucket.get $key" 'is a symbolic link'
done
req POST /hooks/hbucketget "${JSONH[@]}" --data-binary '{"key": "k/x.json"}'
expect_code "bucket.get of a plain key" 200
# Nothing outside the bucket folder: the temp dir holds only what the
# test made, the database and its content-addressed blobs (large payloads,
# SPEC section 3), and no escape file exists anywhere we aimed at.
mine='body|headers|out|err|sink\.jsonl|serve-[0-9]+\.log|deep-.*|bighdr'
mine=$mine'|endless|body\.keep|badutf8|badform|nul|manyheaders'
mine=$mine'|orch\.db(-wal|-shm|-journal)?|blobs/[0-9a-f]+'
outside=$(cd "$T" && find . -path ./buckets -prune -o -newer "$T/marker" \
    -type f -print | grep -Ev "^\./($mine)\$")
expect_eq "no file written outside the buckets" "" "$outside"
expect_true "no /tmp/orc-hostile-abs.json" test ! -e /tmp/orc-hostile-abs.json
expect_true "no escape.json above the temp dir" \
    test ! -e "$(dirname "$T")/escape.json"

# --- Header injection through templates -----------------------------------
: >"$T/sink.jsonl"
for name in 'a\r\nX-Injected: 1' 'a\nX-Injected: 2' 'a\rX-Injected: 3' \
    'a\r\n\r\nPOST /smuggled HTTP/1.1\r\nX-Injected: 4' 'a%0d%0aX-Injected: 5' \
    'a\u0000X-Injected: 6'; do
	req POST /hooks/hheader "${JSONH[@]}" \
	    --data-binary "{\"name\": \"$name\"}"
	SYNC_FAIL_OK=1 answered "header injection $name"
done
req POST /hooks/hheader "${JSONH[@]}" --data-binary '{"name": "plain"}'
expect_code "a plain header value reaches the sink" 200
sleep 0.3
expect_eq "the sink got the plain request" 1 \
    "$(grep -c '"X-Name", "plain"' "$T/sink.jsonl")"
expect_eq "no injected header reached the sink" 0 \
    "$(grep -ic 'x-injected' <(jsonl "$T/sink.jsonl" \
    '"\n".join(k for r in d for k, v in r["headers"])'))"
expect_eq "no smuggled request reached the sink" 0 \
    "$(grep -c smuggled <(jsonl "$T/sink.jsonl" \
    '"\n".join(r["path"] for r in d)'))"

# --- SQL metacharacters in every field ------------------------------------
sqlv="x'); DROP TABLE runs; --\" OR 1=1 /*"
sqlq=$(python3 -c 'import sys, urllib.parse
print(urllib.parse.quote(sys.argv[1], safe=""))' "$sqlv")
sqlj=$(python3 -c 'import json, sys
print(json.dumps({sys.argv[1]: sys.argv[1], "k": [sys.argv[1]]}))' "$sqlv")
req POST /hooks/hbody "${JSONH[@]}" -H "Idempotency-Key: $sqlv" \
    -H "X-Request-Id: $sqlv" -H "User-Agent: $sqlv" --data-binary "$sqlj"
answered "SQL metacharacters in a body, its keys and headers"
expect_code "the SQL-laden body runs" 200
req POST /hooks/hbody "${JSONH[@]}" -H "Idempotency-Key: $sqlv" \
    --data-binary '{}'
answered "the same Idempotency-Key again"
for p in "/runs?workflow=$sqlq" "/runs?state=$sqlq" "/runs?before=$sqlq" \
    "/runs?limit=$sqlq" "/runs/$sqlq" "/workflows/$sqlq" \
    "/runs/retry?workflow=$sqlq&state=failed&since=$sqlq" \
    "/runs/$sqlq/retry" "/runs/$sqlq/cancel"; do
	case "$p" in
	*retry*|*cancel*) req POST "$p" ;;
	*) req GET "$p" ;;
	esac
	answered "SQL metacharacters in $p"
done
req GET "/runs?workflow=hbody&limit=1000"
expect_eq "the runs table is intact (hbody runs listed)" True \
    "$(body 'str(len(d["runs"]) > 5)')"
req GET "/runs?workflow=$sqlq"
expect_eq "a SQL workflow filter matches nothing" 0 \
    "$(body 'len(d["runs"])')"

# --- Lua sandbox ----------------------------------------------------------
req POST /hooks/hlua "${JSONH[@]}" --data-binary '{}'
answered "the sandbox probe"
expect_code "the sandbox probe ran" 200
expect_eq "no escape hatch is open" '' "$(body '" ".join(d["got"] or [])')"
req POST /hooks/hlua "${JSONH[@]}" --data-binary '{}'
expect_eq "no escape hatch is open, and globals do not outlive a run" \
    '' "$(body '" ".join(d["got"] or [])')"
for k in mem str loop deep; do
	req POST /hooks/hbomb "${JSONH[@]}" --data-binary "{\"kind\": \"$k\"}"
	SYNC_FAIL_OK=1 answered "the Lua $k bomb"
	expect_code "the Lua $k bomb fails its run" 500
done
req POST /hooks/hbomb "${JSONH[@]}" --data-binary '{"kind": "none"}'
expect_code "a harmless Lua run after the bombs" 200

# --- Secrets --------------------------------------------------------------
req POST /hooks/hsig "${JSONH[@]}" -H 'X-Signature-256: sha256=00' \
    --data-binary '{}'
expect_error "a bad signature" 401 unauthorized
sig=$(python3 -c 'import hashlib, hmac, sys
print(hmac.new(sys.argv[1].encode(), b"{}", hashlib.sha256).hexdigest())' \
    "$HOOK_SECRET")
req POST /hooks/hsig "${JSONH[@]}" -H "X-Signature-256: sha256=$sig" \
    --data-binary '{}'
expect_code "a good signature" 200
expect_eq "the step saw its secret" "True ${#SECRET}" \
    "$(body '"%s %d" % (d["has"], d["len"])')"
cat >"$T/leak.json" <<'JSON'
{ "name": "leak", "steps": [ { "name": "t", "uses": "transform",
  "with": { "a": "{{env.HOSTILE_SECRET}}",
    "b": "{{secrets.HOSTILE_SECRET}}" } } ] }
JSON
expect_exit 1 orch validate "$T/leak.json"
for p in /runs?limit=1000 /workflows /workflows/hsig /metrics; do
	req GET "$p"
	expect_not_contains "no secret in GET $p" "$BODY$(cat "$T/headers")" \
	    "$SECRET"
	expect_not_contains "no hook secret in GET $p" "$BODY" "$HOOK_SECRET"
done
serve_stop TERM
expect_eq "SIGTERM after all that: exit 0" 0 "$SERVE_RC"
for f in "$T"/serve-*.log "$DB" "$DB-wal"; do
	[ -e "$f" ] || continue
	expect_eq "no secret in $(basename "$f")" 0 \
	    "$(grep -ac -e "$SECRET" -e "$HOOK_SECRET" "$f")"
done
finish
