"""``--fix`` for notebooks, and fix notes that say what ``--fix`` will do in one.

The code cells are fixed as one text with a boundary line between cells
(``NotebookFile.fix_source``), by the same fixer as Python files; a fix whose edits span a
boundary is refused before it is applied, and the fixed text is written back into the cells
(``NotebookFile.with_fixed_source``). Lint runs read notebooks the same way, so a finding is
offered as fixable only where ``--fix`` will fix it; otherwise its note says why not.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import libcst as cst

from .parsing import parse
from .autofix import FixResult, Refuse, fix_text, unified_diff, write_atomic
from .engine import lint_module, lint_text
from .finding import Finding
from .fixes import Fix, FixNote
from .noqa import apply_noqa
from .notebook import NotebookFile, NotebookFixError, NotebookSource, read_notebook
from .positions import node_spans
from .rules import implemented
from .selection import Selection
from .source import SourceError, may_matter, read_bytes

SPANS_CELLS = "in a notebook this fix would span cells"


def refusals(cells: Sequence[Optional[int]]) -> Refuse:
    """A ``fix_text`` refusal for the joined text whose line N lies in cell ``cells[N - 1]``
    (None: a boundary line): a fix whose claimed lines are not all in one cell."""

    def refuse(module: cst.Module, fixes: List[Fix]) -> Dict[int, str]:
        spans = node_spans(module, [n for fix in fixes for e in fix.edits for n in e.claimed])
        out: Dict[int, str] = {}
        for fix in fixes:
            touched = set()
            for edit in fix.edits:
                for node in edit.claimed:
                    start, end = spans.get(node, (0, 0))
                    touched.update(cells[line - 1] if 0 < line <= len(cells) else None
                                   for line in range(start, end + 1))
            if None in touched or len(touched) != 1:
                out[id(fix)] = SPANS_CELLS
        return out

    return refuse


def _source_map(where: Sequence[Optional[Tuple[int, int]]], text: str) -> NotebookSource:
    """Line -> (cell, line in cell) for the joined text; a boundary line maps to the next cell."""
    lines: List[Tuple[int, int]] = []
    for index, place in enumerate(where):
        if place is None:
            place = next((w for w in where[index + 1:] if w is not None), lines[-1] if lines else (1, 1))
        lines.append(place)
    return NotebookSource(text, lines)


def _lint_with_notes(text: str, path: str, selection: Optional[Selection], refuse: Refuse,
                     problem: Optional[str]) -> List[Finding]:
    codes = (selection or Selection()).codes(implemented())
    if not codes or not may_matter(text):
        return []
    try:
        module = parse(text)
    except (cst.ParserSyntaxError, RecursionError):
        return lint_text(text, path, selection)  # the E999 finding
    try:
        built = lint_module(module, path, codes, fixes="build")
    except Exception:  # a fix builder failed: linting must not depend on the fixer
        return lint_text(text, path, selection, fixes="notes")
    kept = apply_noqa(built, text)
    refused = refuse(module, [f.fix for f in kept if isinstance(f.fix, Fix)])

    def note(fix) -> Optional[FixNote]:
        if isinstance(fix, Fix) and problem:
            return FixNote("unavailable", f"--fix does not rewrite this notebook: {problem}")
        if isinstance(fix, Fix) and id(fix) in refused:
            return FixNote("unavailable", refused[id(fix)])
        return FixNote.of(fix)

    return [dataclasses.replace(f, fix=note(f.fix)) for f in kept]


CANNOT_REWRITE = "--fix cannot rewrite this notebook"


def _read(path: str, data: Optional[bytes]) -> Tuple[bytes, NotebookSource, Optional[NotebookFile]]:
    """The bytes, the notebook as the reader sees it, and as the writer does (None when the
    writer cannot take what the reader accepted); ``SourceError`` (E902) when it is not one."""
    if data is None:
        data = read_bytes(path)
    source = read_notebook(path, data)  # the reader's own checks come first
    try:
        return data, source, NotebookFile(data)
    except Exception:
        return data, source, None


def _unavailable(findings: List[Finding], reason: str) -> List[Finding]:
    return [dataclasses.replace(f, fix=FixNote("unavailable", reason))
            if getattr(f.fix, "applicability", "") in ("safe", "unsafe") else f for f in findings]


def lint_notebook(path: str, selection: Optional[Selection] = None, data: Optional[bytes] = None) -> List[Finding]:
    """A notebook's findings with fix notes that hold for ``--fix`` on it."""
    try:
        data, source, notebook = _read(path, data)
    except SourceError as exc:
        return [Finding(path, 1, 1, "E902", exc.reason)]
    if notebook is None:
        return _unavailable(source.map_findings(lint_text(source.text, path, selection, fixes="notes")),
                            CANNOT_REWRITE)
    if not notebook.is_python:
        return []
    text, where = notebook.fix_source()
    cells = [w[0] if w is not None else None for w in where]
    findings = _lint_with_notes(text, path, selection, refusals(cells), notebook.layout_problem())
    return _source_map(where, text).map_findings(findings)


@dataclass
class NotebookFixed:
    data: Optional[bytes]        # the fixed notebook, None when nothing changed
    findings: List[Finding]      # what remains, as a lint of the result reports it
    fixed: int = 0


def fix_notebook_data(path: str, data: bytes, selection: Optional[Selection] = None,
                      unsafe: bool = False) -> NotebookFixed:
    """Fix a notebook's code cells; metadata, outputs and the JSON layout are kept."""
    try:
        data, _, notebook = _read(path, data)
    except SourceError as exc:
        return NotebookFixed(None, [Finding(path, 1, 1, "E902", exc.reason)])
    if notebook is None or notebook.layout_problem() is not None:
        return NotebookFixed(None, lint_notebook(path, selection, data))
    text, where = notebook.fix_source()
    new_text, remaining, fixed = fix_text(text, path, selection, unsafe,
                                          refuse=refusals([w[0] if w else None for w in where]))
    if new_text == text or any(f.is_error for f in remaining):
        return NotebookFixed(None, lint_notebook(path, selection, data))
    try:
        new_data = notebook.with_fixed_source(new_text)
    except NotebookFixError as exc:  # a safety net: refusals keep fixes inside their cells
        return NotebookFixed(None, _unavailable(lint_notebook(path, selection, data), f"not applied: {exc}"))
    return NotebookFixed(new_data, lint_notebook(path, selection, new_data), fixed)


def fix_notebook(path: str, selection: Optional[Selection] = None, unsafe: bool = False,
                 write: bool = True) -> FixResult:
    """``--fix`` / ``--diff`` for one notebook file (written atomically, as Python files are)."""
    try:
        data = read_bytes(path)
    except SourceError as exc:
        return FixResult(path, [Finding(path, 1, 1, "E902", exc.reason)])
    result = fix_notebook_data(path, data, selection, unsafe)
    if result.data is None:
        return FixResult(path, result.findings)
    bom = data.startswith(b"\xef\xbb\xbf")
    before, after = data.decode("utf-8-sig"), result.data.decode("utf-8-sig")
    if write:
        write_atomic(path, after, "utf-8-sig" if bom else "utf-8")
    return FixResult(path, result.findings, result.fixed, unified_diff(path, before, after))
