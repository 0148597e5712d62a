"""Rewrite the expected fixed texts in tests/data/ from the fixtures: ``python tests/update_fixed.py``.

``tests/data/fixed/<CODE>/<fixture>`` is what ``gradlint --fix`` makes of a bad fixture,
``tests/data/fixed-unsafe/<CODE>/<fixture>`` what ``--fix --unsafe-fixes`` makes of it when
that differs from the safe result; a fixture the mode leaves unchanged has no file there. Review the diff before committing:
these files are the autofix tests' ground truth (tests/test_autofix_fixtures.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gradlint.autofix import fix_text  # noqa: E402

DATA = ROOT / "tests" / "data"
MODES = {"fixed": False, "fixed-unsafe": True}


def fixture_path(path: Path) -> str:
    """The name the fixture is linted under (as in the fixture tests)."""
    return str(ROOT / "fixtures" / path.parent.name / path.name)


def main() -> int:
    written = removed = 0
    for path in sorted((ROOT / "fixtures").glob("GL*/bad_*.py")):
        text = path.read_text(encoding="utf-8")
        safe_result = text
        for folder, unsafe in MODES.items():
            target = DATA / folder / path.parent.name / path.name
            new, _, _ = fix_text(text, fixture_path(path), unsafe=unsafe)
            if not unsafe:
                safe_result = new
            if new != (safe_result if unsafe else text):
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "w", encoding="utf-8", newline="") as handle:
                    handle.write(new)
                written += 1
            elif target.exists():
                target.unlink()
                removed += 1
    print(f"{written} expected files written, {removed} removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
