"""``python -m gradlint.docs [--check] [--out DIR]``: write (or check) docs/rules/*.md."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from . import render_all

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "docs" / "rules"


def stale_files(out: Path) -> List[str]:
    """Names of generated files that are missing, differ, or no longer belong."""
    wanted = render_all()
    problems = [name for name, text in wanted.items()
                if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text]
    if out.is_dir():
        problems += sorted(p.name for p in out.glob("GL*.md") if p.name not in wanted)
    return sorted(problems)


def write_all(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    wanted = render_all()
    for old in out.glob("GL*.md"):
        if old.name not in wanted:
            old.unlink()
    for name, text in wanted.items():
        with open(out / name, "w", encoding="utf-8", newline="\n") as handle:  # LF on every OS
            handle.write(text)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gradlint.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the files are out of date")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder (default: docs/rules)")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out)
        for name in stale:
            print(f"{args.out / name} is out of date; run `python -m gradlint.docs`", file=sys.stderr)
        return 1 if stale else 0
    write_all(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
