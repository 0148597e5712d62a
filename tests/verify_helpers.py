"""Running the verifier over small programs written inside the tests."""

import textwrap
from pathlib import Path
from typing import Dict, List

from gradlint.selection import Selection
from gradlint.verify.fixtures import verify_fixtures


def write_programs(root: Path, programs: Dict[str, str]) -> List[Path]:
    paths = []
    for rel, source in programs.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
        paths.append(path)
    return paths


def verify_programs(root: Path, programs: Dict[str, str], device: str = "cpu", timeout: float = 60.0):
    """Rows of the verify table for each program, by its path relative to ``root``."""
    paths = write_programs(root, programs)
    rows = verify_fixtures(str(root), [str(p) for p in paths], Selection(), device=device, jobs=2,
                           timeout=timeout)
    by_name: Dict[str, list] = {}
    for row in rows:
        by_name.setdefault(row.fixture, []).append(row)
    return by_name


def line_of(source: str, needle: str) -> int:
    for number, line in enumerate(textwrap.dedent(source).lstrip().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the program")
