"""Lint a large corpus and report what broke: crashes, per-file errors, the slowest files.

    python benchmarks/crash_corpus.py [PATH ...] [--no-torch] [--fix] [--jobs N] [--slowest 10]

Lints every ``.py`` of the installed torch package (found without importing it) and of
each PATH given, one file per task on gradlint's ``WorkerPool``, as ``gradlint PATH`` runs
them, and prints:
  crashes       files whose worker died or raised (E903 "the process analysing it ..." or
                "internal error"): bugs to fix, each named with its reason
  errors        per-file E902 / E903 / E999 findings, by code, with the first few files
  findings      GL findings, by rule
  slowest       the files that took longest, with their size and lines
``--fix`` also computes each file's ``--fix --unsafe-fixes`` result (nothing is written) and
reports files where fixing failed or where a second pass would change the result again.
Exit status 1 when anything crashed. Measurements belong here, not in tests.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections import Counter
from typing import List, Tuple

from gradlint.autofix import fix_text
from gradlint.discovery import discover
from gradlint.engine import lint_file
from gradlint.source import SourceError, read_source
from gradlint.workers import Failure, WorkerPool, default_jobs


def torch_folder() -> str:
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("torch is not installed here: pass folders to lint, or --no-torch")
    return list(spec.submodule_search_locations)[0]


def lint_timed(task: Tuple[str, bool]) -> dict:
    path, fix = task
    start = time.perf_counter()
    findings = lint_file(path, fixes="notes")
    out = {"seconds": time.perf_counter() - start, "findings": [(f.code, f.message) for f in findings]}
    if fix and not any(f.is_error for f in findings):
        try:
            text = read_source(path)
        except SourceError:
            return out
        new, remaining, fixed = fix_text(text, path, unsafe=True)
        again, _, refixed = fix_text(new, path, unsafe=True) if new != text else (new, [], 0)
        out["fix"] = {"changed": new != text, "fixed": fixed, "converged": again == new and refixed == 0,
                      "errors": [f.message for f in remaining if f.is_error]}
    return out


def _lines(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            return handle.read().count(b"\n")
    except OSError:
        return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--no-torch", action="store_true", help="do not add the installed torch package")
    parser.add_argument("--fix", action="store_true", help="also check --fix --unsafe-fixes on every file")
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--slowest", type=int, default=10)
    args = parser.parse_args(argv)
    roots = list(args.paths) + ([] if args.no_torch else [torch_folder()])
    files: List[str] = sorted(set(f for f in discover(roots) if f.endswith(".py")))
    print(f"{len(files)} files under {', '.join(roots)}; {args.jobs or default_jobs()} workers", flush=True)
    started = time.perf_counter()
    with WorkerPool(args.jobs) as pool:
        results = pool.map(lint_timed, [(f, args.fix) for f in files], cost=lambda t: os.path.getsize(t[0]))
    wall = time.perf_counter() - started

    crashes = [(f, r.reason) for f, r in zip(files, results) if isinstance(r, Failure)]
    done = [(f, r) for f, r in zip(files, results) if not isinstance(r, Failure)]
    errors: Counter = Counter()
    examples = {}
    rules: Counter = Counter()
    for path, result in done:
        for code, message in result["findings"]:
            if code.startswith("GL"):
                rules[code] += 1
            else:
                errors[code] += 1
                examples.setdefault(code, []).append(f"{path}: {message}")
                if "internal error" in message or "the process analysing it" in message:
                    crashes.append((path, message))
    print(f"\n{len(files)} files linted in {wall:.1f} s wall")
    print(f"crashes: {len(crashes)}")
    for path, reason in crashes:
        print(f"  {path}: {reason}")
    print(f"per-file errors: {sum(errors.values())} " + " ".join(f"{c}={n}" for c, n in sorted(errors.items())))
    for code in sorted(examples):
        for line in examples[code][:5]:
            print(f"  {code} {line}")
        if len(examples[code]) > 5:
            print(f"  ... and {len(examples[code]) - 5} more {code}")
    print(f"findings: {sum(rules.values())} " + " ".join(f"{c}={n}" for c, n in sorted(rules.items())))
    if args.fix:
        fixes = [(p, r["fix"]) for p, r in done if "fix" in r]
        changed = sum(1 for _, f in fixes if f["changed"])
        broken = [(p, f) for p, f in fixes if not f["converged"] or f["errors"]]
        print(f"fix --unsafe-fixes: {len(fixes)} files, {changed} changed, "
              f"{sum(f['fixed'] for _, f in fixes)} findings fixed, {len(broken)} not converged or failed")
        for path, f in broken:
            print(f"  {path}: converged={f['converged']} errors={f['errors']}")
    print(f"slowest {args.slowest}:")
    for path, result in sorted(done, key=lambda pr: -pr[1]["seconds"])[:args.slowest]:
        print(f"  {result['seconds']:7.2f} s  {os.path.getsize(path) / 1024:8.0f} KiB  {_lines(path):7d} lines  {path}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
