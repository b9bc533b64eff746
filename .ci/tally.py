#!/usr/bin/env python3
"""Counts results from meson's testlog.json files and extra result files.

Usage: tally.py [--require-no-skip SUITE ...] FILE...
A FILE ending in .json is a meson testlog (one JSON object per line); any
other FILE holds lines `PASS name` / `FAIL name` written by .ci/run itself.
Prints failed test names, each with the lines of its output that say what
failed (so a CI log alone explains a failure), then the closing line
`N passed, N failed`.
A skipped test in a suite named with --require-no-skip counts as failed:
in CI every broker test must really run.
"""
import json
import sys

args = sys.argv[1:]
strict = set()
files = []
while args:
    a = args.pop(0)
    if a == "--require-no-skip":
        strict.add(args.pop(0))
    else:
        files.append(a)


def evidence(t, limit=25):
    """The output lines of a failed meson test that name the failure, and
    the last few lines, indented."""
    # meson 1.0 names them stdout/stderr, later versions stdo/stde
    out = "\n".join(t.get(k) or "" for k in ("stdo", "stdout", "stde", "stderr"))
    lines = [l for l in out.splitlines() if l.strip()]
    keys = ("FAIL", "not ok", "ERROR", "error", "Sanitizer", "Assertion")
    picked = [l for l in lines if any(k in l for k in keys)][:limit]
    for l in lines[-8:]:
        if l not in picked:
            picked.append(l)
    return ["    | " + l[:300] for l in picked]


def suites_of(t):
    """The suites of a meson testlog record: its "suite" list, or (meson
    1.0 writes none) the ones in its name, "project:a+b / test"."""
    if t.get("suite"):
        return {s.split(":")[-1] for s in t["suite"]}
    head = t.get("name", "").split(" / ")[0]
    return set(head.split(":", 1)[-1].split("+")) if " / " in t.get("name", "") else set()


passed = failed = skipped = 0
failures = []
for f in files:
    try:
        lines = open(f, encoding="utf-8", errors="replace").read().splitlines()
    except OSError:
        failed += 1
        failures.append(f"(missing result file {f})")
        continue
    for line in lines:
        if not line.strip():
            continue
        if f.endswith(".json"):
            t = json.loads(line)
            name, res = t.get("name", "?"), t.get("result", "?")
            suites = suites_of(t)
            if res in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif res == "SKIP":
                if suites & strict:
                    failed += 1
                    failures.append(f"{name} (skipped, but must run)")
                else:
                    skipped += 1
            else:
                failed += 1
                failures.append(f"{name} ({res})")
                failures.extend(evidence(t))
        else:
            word, _, name = line.partition(" ")
            if word == "PASS":
                passed += 1
            else:
                failed += 1
                failures.append(name)

for n in failures:
    print(n if n.startswith("    | ") else f"failed: {n}")
tail = f", {skipped} skipped" if skipped else ""
print(f"{passed} passed, {failed} failed{tail}")
sys.exit(1 if failed else 0)
