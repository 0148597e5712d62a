"""Output formats: ``text`` (flake8's lines), ``json``, ``sarif`` (2.1.0) and ``github``
(workflow annotations). Each writer takes the sorted findings and the run's counts.

``text`` and ``github`` are read by people (in a terminal, in a CI log), so the summary
and statistics follow the findings on stdout; ``json`` and ``sarif`` are documents, so
stdout carries the document alone and the summary goes to stderr.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, TextIO

from ..finding import Finding

FORMATS = ("text", "json", "sarif", "github")
DOCUMENT_FORMATS = ("json", "sarif")


@dataclass(frozen=True)
class Run:
    """What one ``gradlint check`` found."""

    findings: List[Finding]
    files_checked: int
    fixed: Optional[int] = None   # with --fix: how many problems were fixed


Writer = Callable[[Run, TextIO, bool], None]


def writer(name: str) -> Writer:
    from . import github, json_format, sarif, text

    writers: Dict[str, Writer] = {
        "text": text.write,
        "json": json_format.write,
        "sarif": sarif.write,
        "github": github.write,
    }
    return writers[name]
