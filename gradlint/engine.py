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

from .cache import Cache
from .facts import FileFacts
from .finding import Finding
from .noqa import apply_noqa
from .notebook import SUFFIX as NOTEBOOK_SUFFIX, read_notebook
from .positions import anchor_ranges
from .fixes import FixNote
from .rules import implemented, run_reports
from .selection import Selection
from .source import SourceError, decode, describe_syntax_error, may_matter, read_bytes, read_source


def lint_module(module: cst.Module, path: str, codes: Sequence[str], fixes: str = "") -> List[Finding]:
    """Rules over an already parsed module (the flake8 plugin and ``--fix`` reuse the parse).

    ``fixes="build"`` puts each finding's fix in ``Finding.fix`` (a ``gradlint.fixes.Fix`` or
    ``NotFixable``, bound to this parse); ``fixes="notes"`` puts a picklable ``FixNote``
    there, for reports. By default no fix is built.
    """
    return report_findings(FileFacts.build(module, path), path, codes, fixes)


def report_findings(facts: FileFacts, path: str, codes: Sequence[str], fixes: str = "") -> List[Finding]:
    """The selected rules over a file's facts, as findings at their positions."""
    module = facts.module
    reports = list(run_reports(facts, codes))
    if not reports:
        return []
    ranges = anchor_ranges(module, [report.node for _, report in reports])
    findings = set()
    for code, report in reports:
        line, col, end_line, end_col = ranges.get(report.node, (1, 1, None, None))
        fix = None
        if fixes and report.fix is not None:
            fix = report.fix() if fixes == "build" else _note(report.fix)
        findings.add(Finding(path, line, col, code, report.message, fix, help=report.help,
                             end_line=end_line, end_col=end_col))
    return sorted(findings)


def _note(builder) -> Optional[FixNote]:
    """A fix's note for reports. A failing builder costs the report its fix note, never the
    finding: linting must not depend on the fixer."""
    try:
        return FixNote.of(builder())
    except Exception:
        return None


def lint_source(text: str, path: str = "<string>", selection: Optional[Selection] = None,
                fixes: str = "") -> List[Finding]:
    """Lint Python source text. Raises libcst.ParserSyntaxError on a syntax error."""
    codes = (selection or Selection()).codes(implemented())
    if not codes or not may_matter(text):
        return []
    return lint_module(cst.parse_module(text), path, codes, fixes)


def lint_text(text: str, path: str, selection: Optional[Selection] = None, fixes: str = "") -> List[Finding]:
    """Lint source text as the command line does: a syntax error becomes one E999
    finding, and findings silenced by a ``# noqa`` comment are dropped."""
    try:
        findings = lint_source(text, path, selection, fixes)
    except cst.ParserSyntaxError as exc:
        line, col, message = describe_syntax_error(text, exc)
        return [Finding(path, line, col, "E999", message)]
    except RecursionError:
        return [Finding(path, 1, 1, "E999", "SyntaxError: too deeply nested to parse")]
    return apply_noqa(findings, text)


def lint_file(path: str, selection: Optional[Selection] = None, fixes: str = "",
              data: Optional[bytes] = None) -> List[Finding]:
    """Lint one file (a notebook cell by cell); a file that cannot be linted yields one
    E902/E999 finding. ``data``: the file's bytes, when the caller has read them already."""
    try:
        if path.endswith(NOTEBOOK_SUFFIX):
            if fixes == "notes":  # notes that hold for --fix on a notebook
                from .notebook_fix import lint_notebook

                return lint_notebook(path, selection, data)
            notebook = read_notebook(path, data)
            return notebook.map_findings(lint_text(notebook.text, path, selection, fixes))
        text = read_source(path) if data is None else decode(data)
    except SourceError as exc:
        return [Finding(path, 1, 1, "E902", exc.reason)]
    return lint_text(text, path, selection, fixes)


class LintCrash(Exception):
    """An internal error while linting one file (a bug in gradlint, not in the file)."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(path, detail)
        self.path = path
        self.detail = detail

    def __str__(self) -> str:
        return f"internal error while linting {self.path}:\n{self.detail}"


def _lint_one(args) -> List[Finding]:
    path, selection, fixes, cache_dir = args
    if cache_dir is None:
        return lint_file(path, selection, fixes)
    cache = Cache(cache_dir)
    try:
        data = read_bytes(path)
    except SourceError:
        return lint_file(path, selection, fixes)
    key = cache.key(path, data, (selection or Selection()).codes(implemented()), fixes)
    cached = cache.get(path, key)
    if cached is not None:
        return cached
    findings = lint_file(path, selection, fixes, data)
    cache.put(path, key, findings)
    return findings


class _Guarded:
    """``func(task)`` with any exception turned into a LintCrash naming the file (a bug in
    gradlint: reported with its traceback, exit status 2). Picklable for the process pool."""

    def __init__(self, func) -> None:
        self.func = func

    def __call__(self, task):
        try:
            return self.func(task)
        except Exception:
            raise LintCrash(task[0], traceback.format_exc()) from None


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def map_files(func, tasks: Sequence[tuple], jobs: int = 0, progress=None) -> list:
    """``func(task)`` for each task (its first item is the file's path), in a process pool when
    it pays; results in the order of ``tasks``. A crash raises ``LintCrash``."""
    run = _Guarded(func)
    jobs = jobs or default_jobs()
    results = []
    if jobs <= 1 or len(tasks) < 8:
        for task in tasks:
            results.append(run(task))
            if progress:
                progress(task[0])
    else:
        # Largest files first, in small chunks: a few big files (timm has 5,000-line ones)
        # must not leave the other workers idle at the end.
        order = sorted(range(len(tasks)), key=lambda i: -_size(tasks[i][0]))
        chunk = max(1, min(4, len(tasks) // (jobs * 8)))
        results = [None] * len(tasks)
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for i, result in zip(order, pool.map(run, [tasks[i] for i in order], chunksize=chunk)):
                results[i] = result
                if progress:
                    progress(tasks[i][0])
    return results


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def lint_paths(files: Iterable[str], selection: Optional[Selection] = None, jobs: int = 0,
               progress=None, selection_for: Optional[Callable[[str], Selection]] = None,
               fixes: str = "", cache_dir: Optional[str] = None) -> List[Finding]:
    """Lint many files with the project view (facts across files); findings come back sorted.

    ``selection_for(path)``, when given, picks each file's rules (configuration and
    per-file ignores). ``fixes="notes"`` attaches each finding's ``FixNote``. Notebooks
    are linted on their own (no other file imports them).
    """
    from .project.lint import lint_files

    selection = selection or Selection()
    pick = selection_for or (lambda path: selection)
    files = list(files)
    notebooks = [f for f in files if f.endswith(NOTEBOOK_SUFFIX)]
    python = [f for f in files if not f.endswith(NOTEBOOK_SUFFIX)]
    out = lint_files(python, pick, fixes, progress)
    tasks = [(f, pick(f), fixes, cache_dir) for f in notebooks]
    out.extend(f for result in map_files(_lint_one, tasks, jobs, progress) for f in result)
    return sorted(out)
