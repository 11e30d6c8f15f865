#!/usr/bin/env bash
# The README's quick start runs as written: every command of its console
# block ("With the server running, from a second terminal") is run
# against a daemon serving a copy of workflows/, and what it prints must
# be what the README shows, run ids and hashes aside (the README's ids
# stand for the ones this run makes).
. "$(dirname "$0")/serve-lib.sh"

command -v python3 >/dev/null || skip "python3 is not installed"
cp -r "$TOP_SRCDIR/workflows" "$T/workflows"
rm -f "$WF"/*.json
cp "$T"/workflows/*.json "$T"/workflows/*.lua "$WF/"
cd "$T" || hard_error "cannot enter $T"
serve_start || finish

python3 - "$TOP_SRCDIR/README.md" "127.0.0.1:$SERVE_PORT" "$ORCH_BIN" \
    >"$T/readme.out" 2>&1 <<'PY'
import re, subprocess, sys

readme, addr, binary = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(readme).read()
start = text.index("With the server running, from a second terminal:")
block = text[text.index("```console\n", start) + 11:]
block = block[:block.index("```")]

# Commands ("$ " and continuation lines) and what the README shows after
# each.
cmds, cmd, out = [], None, []
lines = block.split("\n")
i = 0
while i < len(lines):
    line = lines[i]
    if line.startswith("$ "):
        if cmd is not None:
            cmds.append((cmd, out))
        cmd, out = line[2:], []
        while cmd.endswith("\\"):
            i += 1
            cmd = cmd[:-1] + " " + lines[i].strip()
        cmd = re.sub(r"\s+#.*$", "", cmd)
    elif line.strip():
        out.append(line)
    i += 1
cmds.append((cmd, out))

ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
SHA = re.compile(r'"sha256":"[0-9a-f.]+"')

def norm(s):
    return SHA.sub('"sha256":"SHA"', ULID.sub("ID", s)).strip()

first_id = None
bad = 0
for cmd, want in cmds:
    run = cmd.replace("localhost:8080", addr)
    run = run.replace("orchestrator/orchestrator", binary)
    if first_id is not None:
        run = ULID.sub(first_id, run)
    # A stream does not end by itself: read a moment of it.
    if "/events" in run:
        run = "timeout 2 " + run + " || true"
    p = subprocess.run(run, shell=True, capture_output=True, text=True,
                       timeout=30)
    got = p.stdout
    if first_id is None:
        m = ULID.search(got)
        first_id = m.group(0) if m else None
    if p.returncode != 0:
        print("FAILED (exit %d): %s\n%s" % (p.returncode, cmd, p.stderr))
        bad += 1
    elif want and norm(got) != norm("\n".join(want)):
        print("DIFFERS: %s\n  README: %s\n  got:    %s"
              % (cmd, norm("\n".join(want)), norm(got)))
        bad += 1
    else:
        print("ok: %s" % cmd)
print("commands: %d, problems: %d" % (len(cmds), bad))
sys.exit(1 if bad else 0)
PY
rc=$?
cat "$T/readme.out"
expect_eq "the README's quick start runs as written and prints what it shows" \
    0 "$rc"
expect_true "the README's quick start has its commands" \
    grep -q "^commands: [5-9]" "$T/readme.out"
finish
