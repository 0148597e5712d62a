"""Time gradlint over a folder against a bare libcst parse of the same files.

    python benchmarks/bench_lint.py PATH [--repeat 3] [--jobs N]

Prints, for the same set of *.py files (read into memory first):
  parse        a single-process loop of libcst.parse_module: the floor every
               libcst-based linter pays (design.md measured peers against it)
  lint-1       gradlint's full pipeline (import graph, prefilter, parse, facts, project
               summaries, rules, positions) in one process, no cache
  lint-N       the same over N worker processes, as `gradlint PATH` runs it
and the ratios to `parse`. Medians of --repeat runs. Targets belong here, not in tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import libcst as cst

from gradlint.discovery import discover
from gradlint.engine import default_jobs, lint_paths
from gradlint.source import SourceError, read_source


def _median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=0)
    args = parser.parse_args(argv)

    files = list(discover([args.path]))
    texts = []
    for path in files:
        try:
            texts.append(read_source(path))
        except SourceError:
            pass
    lines = sum(t.count("\n") for t in texts)

    def bare_parse():
        for text in texts:
            try:
                cst.parse_module(text)
            except cst.ParserSyntaxError:
                pass

    def lint_serial():
        lint_paths(files, jobs=1)

    jobs = args.jobs or default_jobs()
    parse = _median_seconds(bare_parse, args.repeat)
    serial = _median_seconds(lint_serial, args.repeat)
    parallel = _median_seconds(lambda: lint_paths(files, jobs=jobs), args.repeat)
    findings = lint_paths(files, jobs=jobs)

    print(f"{len(files)} files, {lines} lines, {len(findings)} findings; median of {args.repeat} runs")
    print(f"{'parse':<10}{parse:8.2f} s   1.00x  (bare libcst.parse_module, 1 process)")
    print(f"{'lint-1':<10}{serial:8.2f} s   {serial / parse:4.2f}x  (gradlint, 1 process)")
    print(f"{'lint-' + str(jobs):<10}{parallel:8.2f} s   {parallel / parse:4.2f}x  (gradlint, {jobs} processes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
