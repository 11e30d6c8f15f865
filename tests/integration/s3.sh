#!/usr/bin/env bash
# bucket.put and bucket.get on an S3-compatible server (SPEC section 2,
# issue 5), through orchestrator run. The server is s3-server.py, started
# here on 127.0.0.1 with a free port: it verifies each request's AWS SigV4
# signature against the one known secret and the payload hash, so a wrong
# secret is refused as S3 would (s3rver from npm, which contrib/setup.sh
# installs into tests/.npm, accepts any V4 signature; when it is there a
# put and a get against it also run, for its real S3 answers).
#
# Checked: the object arrives with the exact bytes and content type;
# bucket.get reads it back (text and JSON); a 500 is retried; wrong
# credentials fail fatally with 403 SignatureDoesNotMatch; a credential
# variable not in "secrets", a bucket not in allow.buckets and an endpoint
# not in allow.hosts are refused before anything is sent; the secret's value
# appears nowhere in the database, the blob folder, the logs or show --json.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 is not installed"

SECRET="s3-test-SeCrEt-$$-$RANDOM"
export S3_TEST_KEY=AKIDTESTORCH S3_TEST_SECRET=$SECRET
export S3_OTHER_SECRET=not-declared-anywhere
export ORCH_LOG_LEVEL=debug

# start_server DIR [ARGS...]: the SigV4-checking server; sets SPID, PORT.
start_server() {
	local dir=$1 i
	shift
	mkdir -p "$dir"
	python3 "$TOP_SRCDIR/tests/integration/s3-server.py" --dir "$dir" \
	    --port-file "$dir/port" --bucket results --access-key \
	    AKIDTESTORCH --secret "$SECRET" "$@" >"$dir/log" 2>&1 &
	SPID=$!
	for i in $(seq 100); do
		[ -s "$dir/port" ] && break
		sleep 0.1
	done
	[ -s "$dir/port" ] || hard_error "the S3 server did not start"
	PORT=$(cat "$dir/port")
}
SPIDS=()
stop_servers() {
	local p
	for p in "${SPIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	lib_cleanup
}
trap stop_servers EXIT

start_server "$T/s3"
SPIDS+=("$SPID")
S3=$T/s3

# workflow FILE NAME SECRETS ALLOW_HOSTS ALLOW_BUCKETS BUCKET [EXTRA_WITH]
workflow() {
	cat >"$1" <<EOF
{
  "name": "$2",
  "secrets": $3,
  "allow": { "hosts": $4, "buckets": $5 },
  "defaults": { "retry": { "max_attempts": 3, "backoff_ms": 10 } },
  "steps": [
    { "name": "put", "uses": "bucket.put",
      "with": { "bucket": "$6", "endpoint": "http://127.0.0.1:$PORT",
                "key": "runs/{{run.id}} +x.json",
                "access_key_env": "S3_TEST_KEY",
                "secret_key_env": "S3_TEST_SECRET"${7:-} } },
    { "name": "get", "uses": "bucket.get",
      "with": { "bucket": "$6", "endpoint": "http://127.0.0.1:$PORT",
                "key": "runs/{{run.id}} +x.json",
                "access_key_env": "S3_TEST_KEY",
                "secret_key_env": "S3_TEST_SECRET" } }
  ]
}
EOF
}

SECRETS='["S3_TEST_KEY", "S3_TEST_SECRET"]'
HOSTS="[\"127.0.0.1:$PORT\"]"

# 1. A put and a get that succeed.
workflow ok.json s3-ok "$SECRETS" "$HOSTS" '["results"]' \
    "s3://results/pre/fix"
printf '{"order":"A-1","total":42.5,"note":"caf\xc3\xa9"}' >in.json
expect_exit 0 orch run ok.json --input in.json
cp "$OUT" ok.out
id=$(grep -oE 'run [0-9A-Z]{26}' "$ERR" | head -1 | cut -d' ' -f2)
[ -n "$id" ] || id=$(sqlite3 "$DB" "SELECT id FROM runs LIMIT 1" 2>/dev/null)
obj="$S3/results/pre/fix/runs/$id +x.json"
expect_file "the object arrived under the prefix" "$obj"
compact=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps(d, separators=(",", ":"), ensure_ascii=False))' in.json)
expect_eq "the object holds the exact bytes" "$compact" "$(cat "$obj")"
expect_eq "its content type is JSON" "application/json" \
    "$(cat "$obj.content-type")"
expect_eq "the server verified the signed PUT" 1 \
    "$(grep -c '^ok PUT /results/pre/fix/runs/' "$S3/log")"
expect_eq "the server verified the signed GET" 1 \
    "$(grep -c '^ok GET /results/pre/fix/runs/' "$S3/log")"
expect_eq "bucket.get reads the JSON back" "A-1 42.5" \
    "$(json ok.out 'd["json"]["order"] + " " + str(d["json"]["total"])')"
expect_eq "bucket.get gives the bytes as text" "$(cat "$obj")" \
    "$(json ok.out 'd["body"]')"
expect_eq "bucket.get counts the bytes" "$(wc -c <"$obj" | tr -d ' ')" \
    "$(json ok.out 'd["bytes"]')"
expect_eq "the key has no base64 flag" "False" \
    "$(json ok.out 'str("body_base64" in d)')"
expect_exit 0 orch show "$id" --json
cp "$OUT" show.json
expect_eq "bucket.put's output has the ETag (MD5 of the bytes)" \
    "$(md5sum <"$obj" | cut -d' ' -f1)" \
    "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
def find(v):
    if isinstance(v, dict):
        if "etag" in v:
            return v["etag"]
        for x in v.values():
            r = find(x)
            if r: return r
    if isinstance(v, list):
        for x in v:
            r = find(x)
            if r: return r
print(find(d))' show.json)"
expect_eq "the run succeeded" succeeded "$(json show.json 'd.get("state")')"

# 2. A string input is stored as its bytes, as text.
printf '"plain text, not JSON"' >strin.json
workflow str.json s3-str "$SECRETS" "$HOSTS" '["results"]' \
    "s3://results" ', "content_type": "text/x-test"'
expect_exit 0 orch run str.json --input strin.json
sid=$(sqlite3 "$DB" "SELECT id FROM runs WHERE workflow = 's3-str'" \
    2>/dev/null)
expect_eq "a string input is stored as its bytes" "plain text, not JSON" \
    "$(cat "$S3/results/runs/$sid +x.json" 2>/dev/null)"
expect_eq "content_type is sent" "text/x-test" \
    "$(cat "$S3/results/runs/$sid +x.json.content-type" 2>/dev/null)"

# 3. A 500 is retried, then the put succeeds.
PORT1=$PORT
start_server "$T/s3b" --fail-500 2
SPIDS+=("$SPID")
workflow retry.json s3-retry "$SECRETS" "[\"127.0.0.1:$PORT\"]" \
    '["results"]' "s3://results"
expect_exit 0 orch run retry.json --input in.json
expect_eq "two 500s were answered, then the put went through" "2 1" \
    "$(grep -c 'refused PUT.*500 InternalError' "$T/s3b/log")\
 $(grep -c '^ok PUT' "$T/s3b/log")"
PORT=$PORT1

# 4. Wrong credentials: fatal, with S3's code, after one attempt.
S3_TEST_SECRET=wrong-$SECRET expect_exit 1 orch run ok.json --input in.json
expect_contains "a wrong secret fails with 403 and S3's code" "$(err)" \
    "403 Forbidden: SignatureDoesNotMatch"
expect_eq "a 403 is not retried" 1 \
    "$(grep -c 'SignatureDoesNotMatch' "$S3/log")"
S3_TEST_KEY=AKIDUNKNOWN expect_exit 1 orch run ok.json --input in.json
expect_contains "an unknown key fails with InvalidAccessKeyId" "$(err)" \
    "InvalidAccessKeyId"

# 5. Refusals before anything is sent.
before=$(wc -l <"$S3/log")
workflow nosecret.json s3-nosecret '["S3_TEST_KEY"]' "$HOSTS" \
    '["results"]' "s3://results"
expect_exit 1 orch run nosecret.json --input in.json
expect_contains "a credential not in secrets is refused" "$(err)" \
    "secret S3_TEST_SECRET is not in the workflow's secrets"
workflow nobucket.json s3-nobucket "$SECRETS" "$HOSTS" '["other"]' \
    "s3://results"
expect_exit 1 orch run nobucket.json --input in.json
expect_contains "a bucket not in allow.buckets is refused" "$(err)" \
    "results"
expect_contains "the refusal names the rule" "$(err)" "allow.buckets"
workflow nohost.json s3-nohost "$SECRETS" '["127.0.0.1:1"]' '["results"]' \
    "s3://results"
expect_exit 1 orch run nohost.json --input in.json
expect_contains "an endpoint not in allow.hosts is refused" "$(err)" \
    "allow.hosts"
expect_eq "nothing reached the server for the refusals" "$before" \
    "$(wc -l <"$S3/log")"

# 6. The secret's value is nowhere: store, blobs, logs, show.
for f in "$DB" "$DB-wal"; do
	[ -f "$f" ] || continue
	expect_eq "no secret in $(basename "$f")" 0 \
	    "$(grep -c -a -F "$SECRET" "$f")"
done
expect_eq "no secret in the run logs" 0 \
    "$(cat "$T"/err ok.out show.json | grep -c -F "$SECRET")"
expect_exit 0 orch run ok.json --input in.json
expect_eq "no secret in a debug log" 0 "$(grep -c -F "$SECRET" "$ERR")"
expect_exit 0 orch runs --json
expect_eq "no secret in runs --json" 0 "$(grep -c -F "$SECRET" "$OUT")"
for r in $(sqlite3 "$DB" "SELECT id FROM runs" 2>/dev/null); do
	orch show "$r" --json >>allshow.json 2>&1
done
expect_eq "no secret in any show --json" 0 \
    "$(grep -c -F "$SECRET" allshow.json)"
expect_eq "no secret in the S3 server's log" 0 \
    "$(grep -c -F "$SECRET" "$S3/log")"
if [ -d blobs ]; then
	expect_eq "no secret in blobs" 0 \
	    "$(grep -r -c -F "$SECRET" blobs | grep -vc ':0$')"
fi

# 7. s3rver, when contrib/setup.sh installed it: a put and a get against a
# real S3 implementation (its own credentials; it does not check V4
# signatures, hence the server above).
S3RVER=$TOP_SRCDIR/tests/.npm/node_modules/.bin/s3rver
if [ -x "$S3RVER" ] && command -v node >/dev/null; then
	RPORT=$(python3 -c 'import socket; s = socket.socket()
s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p s3rver
	"$S3RVER" -d s3rver -a 127.0.0.1 -p "$RPORT" --silent \
	    --configure-bucket results >s3rver.log 2>&1 &
	SPIDS+=("$!")
	for i in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$RPORT/" && break
		sleep 0.1
	done
	export S3_TEST_KEY=S3RVER S3_TEST_SECRET=S3RVER
	PORT=$RPORT
	workflow rver.json s3-rver "$SECRETS" "[\"127.0.0.1:$RPORT\"]" \
	    '["results"]' "s3://results/p"
	expect_exit 0 orch run rver.json --input in.json
	expect_eq "s3rver: bucket.get reads back what bucket.put wrote" "A-1" \
	    "$(json "$OUT" 'd["json"]["order"]')"
else
	echo "# s3rver is not installed (contrib/setup.sh installs it): skipped"
fi

finish
