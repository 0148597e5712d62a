"""Linting: read, prefilter, parse once, build facts once, run the selected rules.

``lint_source`` is the whole pipeline for one text; ``lint_text`` turns a syntax error
into a per-file finding (E999) and applies ``# noqa`` comments; ``lint_file`` adds reading
(E902 unreadable/undecodable); ``lint_paths`` spreads files over a process pool.
"""

from __future__ import annotations

import os
import traceback
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, List, Optional, Sequence

import libcst as cst

from .facts import FileFacts
from .finding import Finding
from .noqa import apply_noqa
from .notebook import SUFFIX as NOTEBOOK_SUFFIX, read_notebook
from .positions import anchor_positions
from .rules import implemented, run_rules
from .selection import Selection
from .source import SourceError, describe_syntax_error, may_matter, read_source


def lint_module(module: cst.Module, path: str, codes: Sequence[str]) -> List[Finding]:
    """Rules over an already parsed module (the flake8 plugin and ``--fix`` reuse the parse)."""
    facts = FileFacts.build(module, path)
    reports = list(run_rules(facts, codes))
    if not reports:
        return []
    positions = anchor_positions(module, [node for node, _, _ in reports])
    findings = set()
    for node, code, message in reports:
        line, col = positions.get(node, (1, 1))
        findings.add(Finding(path, line, col, code, message))
    return sorted(findings)


def lint_source(text: str, path: str = "<string>", selection: Optional[Selection] = None) -> List[Finding]:
    """Lint Python source text. Raises libcst.ParserSyntaxError on a syntax error."""
    codes = (selection or Selection()).codes(implemented())
    if not codes or not may_matter(text):
        return []
    return lint_module(cst.parse_module(text), path, codes)


def lint_text(text: str, path: str, selection: Optional[Selection] = None) -> List[Finding]:
    """Lint source text as the command line does: a syntax error becomes one E999
    finding, and findings silenced by a ``# noqa`` comment are dropped."""
    try:
        findings = lint_source(text, path, selection)
    except cst.ParserSyntaxError as exc:
        line, col, message = describe_syntax_error(text, exc)
        return [Finding(path, line, col, "E999", message)]
    except RecursionError:
        return [Finding(path, 1, 1, "E999", "SyntaxError: too deeply nested to parse")]
    return apply_noqa(findings, text)


def lint_file(path: str, selection: Optional[Selection] = None) -> List[Finding]:
    """Lint one file (a notebook cell by cell); a file that cannot be linted yields one
    E902/E999 finding."""
    try:
        if path.endswith(NOTEBOOK_SUFFIX):
            notebook = read_notebook(path)
            return notebook.map_findings(lint_text(notebook.text, path, selection))
        text = read_source(path)
    except SourceError as exc:
        return [Finding(path, 1, 1, "E902", exc.reason)]
    return lint_text(text, path, selection)


class LintCrash(Exception):
    """An internal error while linting one file (a bug in gradlint, not in the file)."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(path, detail)
        self.path = path
        self.detail = detail

    def __str__(self) -> str:
        return f"internal error while linting {self.path}:\n{self.detail}"


def _lint_one(args) -> List[Finding]:
    path, selection = args
    try:
        return lint_file(path, selection)
    except Exception:  # a bug in gradlint: reported with its traceback, exit status 2
        raise LintCrash(path, traceback.format_exc()) from None


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def lint_paths(files: Iterable[str], selection: Optional[Selection] = None, jobs: int = 0,
               progress=None, selection_for: Optional[Callable[[str], Selection]] = None) -> List[Finding]:
    """Lint many files, in parallel when it pays; findings come back sorted.

    ``selection_for(path)``, when given, picks each file's rules (configuration and
    per-file ignores); it runs in this process. A crash raises ``LintCrash``.
    """
    files = list(files)
    selection = selection or Selection()
    tasks = [(f, selection_for(f) if selection_for else selection) for f in files]
    jobs = jobs or default_jobs()
    findings: List[Finding] = []
    if jobs <= 1 or len(files) < 8:
        for task in tasks:
            findings.extend(_lint_one(task))
            if progress:
                progress(task[0])
    else:
        chunk = max(1, min(16, len(files) // (jobs * 4)))
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for path, result in zip(files, pool.map(_lint_one, tasks, chunksize=chunk)):
                findings.extend(result)
                if progress:
                    progress(path)
    return sorted(findings)
