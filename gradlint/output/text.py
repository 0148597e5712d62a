"""flake8's ``path:line:col: CODE message`` lines, coloured only on a terminal.

Colour follows https://no-color.org: never when ``NO_COLOR`` is set to anything but the
empty string, never when the stream is not a terminal (a pipe, a file, CI capture) or
``TERM`` is ``dumb``.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional, TextIO

from ..catalog import CATALOG
from ..finding import Finding

BOLD, DIM, RED, YELLOW, CYAN, RESET = "\033[1m", "\033[2m", "\033[31m", "\033[33m", "\033[36m", "\033[0m"


def use_color(stream: TextIO, environ: Optional[Mapping[str, str]] = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR", "") != "" or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed stream
        return False


def severity_tint(code: str) -> str:
    info = CATALOG.get(code)
    return YELLOW if info is not None and info.severity == "warning" else RED


def format_finding(finding: Finding, color: bool = False) -> str:
    if not color:
        return finding.format()
    tint = severity_tint(finding.code)
    sep = f"{CYAN}:{RESET}"
    where = sep.join([f"{BOLD}{finding.path}{RESET}"]
                     + ([f"cell {finding.cell}"] if finding.cell is not None else [])
                     + [str(finding.line), str(finding.col)])
    return f"{where}{sep} {BOLD}{tint}{finding.code}{RESET} {finding.message}"


def write(run, out: TextIO, color: bool = False) -> None:
    for finding in run.findings:
        out.write(format_finding(finding, color) + "\n")
