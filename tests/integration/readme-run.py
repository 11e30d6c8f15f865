#!/usr/bin/env python3
"""Runs the console examples of one part of the README as written.

  readme-run.py README FROM UNTIL [--sub TEXT NEW]... [--out TEXT NEW]...

Every ```console block of README between the line FROM and the line UNTIL
(the first of each after FROM) is run, command by command ("$ " lines and
their "\\" continuations, a trailing "# comment" dropped), in the current
directory with a shell, stdout and stderr together as a terminal shows
them. --sub replaces TEXT by NEW in the commands (the README's addresses
by the test's), --out replaces TEXT by NEW in what they print (back to
the README's). Every command must exit 0, and one with lines after it
must print them. It prints one line per command, 1 as its exit code on a
problem.

What differs from run to run is compared loosely, nothing else:

- run ids (ULIDs): each id the README shows stands for the one printed in
  its place, and later commands get the printed one;
- hashes: a sha256 value (the README may cut it short with "...") and any
  other run of 12 or more lower-case hex digits (a definition's hash);
- times: ISO 8601 timestamps, and durations and ages ("32ms", "+1.2s",
  "1m05s", "0 ms"); a duration under a millisecond prints as "-", so a
  lone "-" counts as one too;
- the word a cut-short table cell ends in before its "...": where the cut
  falls depends on the length of the addresses and ids before it;
- blank lines and the width of the space between columns.

A command reading an event stream (/events) is read for 2 seconds; every
other command has 30 seconds.
"""

import argparse
import difflib
import os
import re
import signal
import subprocess
import sys

TIMEOUT = 30
ULID = re.compile(r"\b[0-9A-HJKMNP-TV-Z]{26}\b")
LOOSE = [
    (re.compile(r'("sha256": ?)"[0-9a-f.]+"'), r'\1"SHA"'),
    (re.compile(r"\b[0-9a-f]{12,}\b"), "HASH"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\b"), "TIME"),
    (re.compile(r"\+?\b\d+(\.\d+)? ?(us|ms|s|m|h|d)(\d+[smh])?\b"), "DUR"),
    (re.compile(r"(?<!\S)-(?!\S)"), "DUR"),
    (re.compile(r"\w*\.\.\."), "..."),
    (re.compile(r"[ \t]+"), " "),
]


def blocks(text, start, until):
    """The console blocks between the lines start and until."""
    if start not in text or until not in text[text.find(start):]:
        sys.exit("readme-run: no part from %r to %r" % (start, until))
    text = text[text.index(start):]
    text = text[:text.index(until)]
    found = []
    for m in re.finditer(r"^```console\n(.*?)^```", text, re.S | re.M):
        found.append(m.group(1))
    return found


def commands(block):
    """The (command, lines shown after it) pairs of a console block."""
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
    if cmd is not None:
        cmds.append((cmd, out))
    return cmds


def norm(s):
    """The text with what differs from run to run made alike."""
    s = ULID.sub("ID", s)
    for pat, rep in LOOSE:
        s = pat.sub(rep, s)
    lines = [line.strip() for line in s.split("\n")]
    return "\n".join(line for line in lines if line)


def learn_ids(ids, want, got):
    """Maps each id the README shows to the one printed in its place."""
    shown = list(dict.fromkeys(ULID.findall(want)))
    printed = list(dict.fromkeys(ULID.findall(got)))
    for old, new in zip(shown, printed):
        ids.setdefault(old, new)


def shell(cmd):
    """Runs cmd with sh, bounded: (exit code or None, what it printed)."""
    # A session of its own, so that on a timeout every process of the
    # command goes, and none keeps the pipe open.
    p = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=TIMEOUT)
        return p.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        return None, out


def run_one(cmd, want, ids, args):
    """Runs one command; prints and returns whether it did as shown."""
    run = cmd
    for old, new in args.sub or []:
        run = run.replace(old, new)
    run = ULID.sub(lambda m: ids.get(m.group(0), m.group(0)), run)
    # A stream does not end by itself: read a moment of it.
    if "/events" in run:
        run = "timeout 2 " + run + " || true"
    rc, got = shell(run)
    for old, new in args.out or []:
        got = got.replace(old, new)
    want = "\n".join(want)
    learn_ids(ids, want, got)
    if rc is None:
        print("TIMED OUT after %d s: %s\n%s" % (TIMEOUT, cmd, got))
        return False
    if rc != 0:
        print("FAILED (exit %d): %s\n%s" % (rc, cmd, got))
        return False
    if want and norm(got) != norm(want):
        diff = difflib.unified_diff(norm(want).split("\n"),
                                    norm(got).split("\n"), "README", "got",
                                    n=1, lineterm="")
        print("DIFFERS: %s\n%s" % (cmd, "\n".join(diff)))
        return False
    print("ok: %s" % cmd)
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("readme")
    p.add_argument("start")
    p.add_argument("until")
    p.add_argument("--sub", nargs=2, action="append")
    p.add_argument("--out", nargs=2, action="append")
    args = p.parse_args()
    with open(args.readme) as f:
        text = f.read()
    ids, n, bad = {}, 0, 0
    for block in blocks(text, args.start, args.until):
        for cmd, want in commands(block):
            n += 1
            if not run_one(cmd, want, ids, args):
                bad += 1
    print("commands: %d, problems: %d" % (n, bad))
    sys.exit(1 if bad or n == 0 else 0)


if __name__ == "__main__":
    main()
