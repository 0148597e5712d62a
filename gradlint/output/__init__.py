"""Output formats: ``text`` (flake8's lines), ``full`` (ruff's: the lines with source context
and a help line), ``json``, ``sarif`` (2.1.0) and ``github`` (workflow annotations). Each
writer takes the run: its sorted findings and counts.

``text``, ``full`` and ``github`` are read by people (in a terminal, in a CI log), so the
summary and statistics follow the findings on stdout; ``json`` and ``sarif`` are documents,
so stdout carries the document alone and the summary goes to stderr.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, TextIO

from ..finding import Finding
from ..notebook import SUFFIX as NOTEBOOK_SUFFIX, cell_sources

FORMATS = ("text", "full", "json", "sarif", "github")
DOCUMENT_FORMATS = ("json", "sarif")


class SourceLines:
    """The lines a finding points into (a file's, or a notebook cell's), read on demand, once
    per file. ``texts`` holds what was not read from disk (stdin), by path."""

    def __init__(self, texts: Optional[Dict[str, str]] = None) -> None:
        self._texts = dict(texts or {})
        self._lines: Dict[tuple, Optional[List[str]]] = {}

    def lines(self, finding: Finding) -> Optional[List[str]]:
        key = (finding.path, finding.cell)
        if key not in self._lines:
            self._lines.update(self._read(finding.path))
            self._lines.setdefault(key, None)
        return self._lines[key]

    def _read(self, path: str) -> Dict[tuple, Optional[List[str]]]:
        try:
            if path in self._texts:
                text = self._texts[path]
                data = text.encode("utf-8")
            else:
                with open(path, "rb") as handle:
                    data = handle.read()
                text = None
            if path.endswith(NOTEBOOK_SUFFIX):
                return {(path, cell): source.splitlines() for cell, source in cell_sources(data).items()}
            if text is None:
                from ..source import decode

                text = decode(data)
            return {(path, None): text.splitlines()}
        except Exception:  # context is a courtesy: a file that changed or vanished shows none
            return {}


@dataclass(frozen=True)
class Run:
    """What one ``gradlint check`` found."""

    findings: List[Finding]
    files_checked: int
    fixed: Optional[int] = None   # with --fix: how many problems were fixed
    docs_url: Optional[str] = None  # ``docs-url``: the rule pages' URL template
    sources: SourceLines = field(default_factory=SourceLines)
    unsafe_fixes: bool = False    # unsafe fixes count as available (--unsafe-fixes)


Writer = Callable[[Run, TextIO, bool], None]


def writer(name: str) -> Writer:
    from . import full, github, json_format, sarif, text

    writers: Dict[str, Writer] = {
        "text": text.write,
        "full": full.write,
        "json": json_format.write,
        "sarif": sarif.write,
        "github": github.write,
    }
    return writers[name]
