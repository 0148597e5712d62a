"""Linting: read, prefilter, parse once, build facts once, run the selected rules.

``lint_source`` is the whole pipeline for one text; ``lint_file`` adds reading and turns
every failure into a per-file finding (E902 unreadable/undecodable, E999 syntax error);
``lint_paths`` spreads files over a process pool.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import Iterable, List, Optional, Sequence

import libcst as cst

from .facts import FileFacts
from .finding import Finding
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


def lint_file(path: str, selection: Optional[Selection] = None) -> List[Finding]:
    """Lint one file; a file that cannot be linted yields one E902/E999 finding."""
    try:
        text = read_source(path)
    except SourceError as exc:
        return [Finding(path, 1, 1, "E902", exc.reason)]
    try:
        return lint_source(text, path, selection)
    except cst.ParserSyntaxError as exc:
        line, col, message = describe_syntax_error(text, exc)
        return [Finding(path, line, col, "E999", message)]
    except RecursionError:
        return [Finding(path, 1, 1, "E999", "SyntaxError: too deeply nested to parse")]


def _lint_one(args) -> List[Finding]:
    path, selection = args
    return lint_file(path, selection)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def lint_paths(files: Iterable[str], selection: Optional[Selection] = None, jobs: int = 0,
               progress=None) -> List[Finding]:
    """Lint many files, in parallel when it pays; findings come back sorted."""
    files = list(files)
    selection = selection or Selection()
    jobs = jobs or default_jobs()
    findings: List[Finding] = []
    if jobs <= 1 or len(files) < 8:
        for path in files:
            findings.extend(lint_file(path, selection))
            if progress:
                progress(path)
    else:
        chunk = max(1, min(16, len(files) // (jobs * 4)))
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for path, result in zip(files, pool.map(_lint_one, [(f, selection) for f in files],
                                                     chunksize=chunk)):
                findings.extend(result)
                if progress:
                    progress(path)
    return sorted(findings)
