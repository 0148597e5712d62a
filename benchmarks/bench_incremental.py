"""Time `gradlint PATH` re-run after a one-file edit in a large project (the cache warm).

    python benchmarks/bench_incremental.py [PROJECT] [--files 2800] [--imports 2] [--edits 3]

Without PROJECT, the synthetic project of ``bench_server.py`` is written to a temporary
folder: --files copies of the fixtures in packages of 100, each module importing the
--imports modules before it (so an edit reaches its importers). The command line runs as a
user runs it (`python -m gradlint --exit-zero .` from the project root, its cache in
`.gradlint_cache/`): once cold, once warm with nothing changed, then --edits times after
appending a statement to one module in the middle of the tree. Each edited run's output is
compared with a `--no-cache` run of the same tree. Prints the times; the target (issue 12)
is a one-file-edit re-run of at most 3 s on 2,800 files.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import synthetic_project  # noqa: E402


def run(project: Path, *extra: str) -> tuple:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gradlint", "--exit-zero", *extra, "."], cwd=project,
                          capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"gradlint failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return took, proc.stdout


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", nargs="?")
    parser.add_argument("--files", type=int, default=2800)
    parser.add_argument("--imports", type=int, default=2)
    parser.add_argument("--edits", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        if args.project:
            project = Path(scratch) / "project"
            shutil.copytree(args.project, project, ignore=shutil.ignore_patterns(".gradlint_cache"))
        else:
            project = synthetic_project(Path(scratch), args.files, args.imports)
        (project / ".git").mkdir(exist_ok=True)  # a clone's root, as users have
        files = sorted(p for p in project.rglob("*.py") if p.name != "__init__.py")
        target = files[len(files) // 2]
        cold, _ = run(project)
        warm, _ = run(project)
        edited = []
        for n in range(args.edits):
            with target.open("a", encoding="utf-8") as handle:
                handle.write(f"\nedited_{n} = {n}\n")
            took, out = run(project)
            edited.append(took)
            _, fresh = run(project, "--no-cache")
            if out != fresh:
                raise SystemExit("the cached run's findings differ from a --no-cache run's")
    print(f"{len(files)} files ({target.relative_to(project)} edited): cold {cold:.2f} s, warm {warm:.2f} s, "
          f"after a one-file edit median {statistics.median(edited):.2f} s, worst {max(edited):.2f} s "
          f"({len(edited)} edits; findings equal to --no-cache)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
