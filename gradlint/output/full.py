"""``--output-format full``: each finding with the source lines around it, its anchor
underlined and its help line, as ruff's default output shows them::

    evaluate.py:10:15: GL101 `model` runs in training mode in this evaluation function `evaluate`
       |
     9 |     for x in loader:
    10 |         out = model(x)
       |               ^^^^^^^^ GL101
    11 |     return out
       |
       = help: call `model.eval()` first: its dropout and batch norm change the outputs

``[*]`` after the code marks a finding ``--fix`` fixes (with ``--unsafe-fixes``, unsafe
fixes too). Notebook findings show the lines of their cell.
"""

from __future__ import annotations

from typing import List, Optional, TextIO

from ..finding import Finding
from .text import BOLD, CYAN, RESET, severity_tint

CONTEXT = 1  # lines shown before and after the anchor


def _fixable(finding: Finding, unsafe: bool) -> bool:
    applicability = getattr(finding.fix, "applicability", "")
    return applicability == "safe" or (unsafe and applicability == "unsafe")


def _paint(text: str, style: str, color: bool) -> str:
    return f"{style}{text}{RESET}" if color and text else text


def render(finding: Finding, lines: Optional[List[str]], color: bool = False, unsafe: bool = False) -> str:
    """One finding as ``full`` prints it (no trailing newline)."""
    mark = " [*]" if _fixable(finding, unsafe) else ""
    tint = severity_tint(finding.code)
    head = (f"{_paint(finding.location, BOLD, color)}: {_paint(finding.code, BOLD + tint, color)}{mark} "
            f"{finding.message}")
    out = [head]
    width = 1
    if lines and 1 <= finding.line <= len(lines):
        first = max(1, finding.line - CONTEXT)
        last = min(len(lines), finding.line + CONTEXT)
        width = len(str(last))
        gutter = _paint(" " * width + " |", CYAN, color)
        out.append(gutter)
        for number in range(first, last + 1):
            text = lines[number - 1].rstrip("\r\n")
            out.append(f"{_paint(str(number).rjust(width) + ' |', CYAN, color)} {text}".rstrip())
            if number == finding.line:
                start = max(finding.col - 1, 0)
                if finding.end_line == finding.line and finding.end_col and finding.end_col > finding.col:
                    end = finding.end_col - 1
                else:  # the anchor goes on past this line (or its end is unknown): underline to the end
                    end = max(len(text), start + 1)
                indent = "".join(c if c == "\t" else " " for c in text[:start])  # tabs line up as in the source
                marker = indent + "^" * max(1, end - start)
                out.append(f"{gutter} {_paint(marker, tint, color)} {_paint(finding.code, tint, color)}")
        out.append(gutter)
    if finding.help:
        out.append(f"{' ' * width} {_paint('= help:', BOLD, color)} {finding.help}")
    return "\n".join(out)


def write(run, out: TextIO, color: bool = False) -> None:
    for finding in run.findings:
        lines = None if finding.is_error else run.sources.lines(finding)
        out.write(render(finding, lines, color, run.unsafe_fixes) + "\n\n")
