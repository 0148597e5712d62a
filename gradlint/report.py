"""Turning findings into what the user reads."""

from __future__ import annotations

from collections import Counter
from typing import List, TextIO

from .finding import Finding


def summary(findings: List[Finding], checked: int) -> str:
    problems = [f for f in findings if not f.is_error]
    errors = [f for f in findings if f.is_error]
    files = len({f.path for f in problems})
    checked_text = f"{checked} file{'s' if checked != 1 else ''} checked"
    if problems:
        text = (f"Found {len(problems)} problem{'s' if len(problems) != 1 else ''} in {files} "
                f"file{'s' if files != 1 else ''} ({checked_text})")
    else:
        text = f"No problems found ({checked_text})"
    if errors:
        n = len({f.path for f in errors})
        text += f"; {n} file{'s' if n != 1 else ''} could not be linted"
    return text + "."


def write_text(findings: List[Finding], out: TextIO) -> None:
    for finding in findings:
        out.write(finding.format() + "\n")


_ERROR_NAMES = {"E902": "file-not-readable", "E999": "syntax-error"}


def statistics(findings: List[Finding]) -> List[str]:
    """``--statistics``: one ``count  CODE name`` line per code, most frequent first."""
    from .catalog import CATALOG

    counts = Counter(f.code for f in findings)
    lines = []
    for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        name = CATALOG[code].name if code in CATALOG else _ERROR_NAMES.get(code, "")
        lines.append(f"{count:<5} {code} {name}".rstrip())
    return lines
