"""Turning findings into what the user reads."""

from __future__ import annotations

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
