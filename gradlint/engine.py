"""Linting: read, prefilter, parse once, build facts once, run the selected rules.

``lint_source`` is the whole pipeline for one text; ``lint_text`` is the same for one file's
text as the command line needs it: nothing about the text can break it, every problem is a
finding of its own (E999 a syntax error, E903 a file gradlint cannot analyse), and ``# noqa``
comments apply; ``lint_file`` adds reading (E902: unreadable, undecodable or not a regular
file; E903: over ``max-file-size``); ``lint_paths`` lints Python files with the project
view (``gradlint.project.lint``) and notebooks over a ``WorkerPool``, where a file that
crashes its worker costs only its own E903.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import libcst as cst

from .parsing import parse
from .cache import Cache, findings_key, load_findings, store_findings
from .facts import FileFacts
from .finding import Finding
from .noqa import apply_noqa
from .notebook import SUFFIX as NOTEBOOK_SUFFIX, read_notebook
from .positions import anchor_ranges
from .fixes import FixNote, NotFixable
from .fixes.cst_tools import memoized
from .rules import implemented, run_reports
from .selection import Selection
from .source import (MAX_FILE_SIZE, PythonRejects, SourceError, decode, deep_problem, describe_syntax_error,
                     may_matter, nesting, python_parse, read_bytes, too_large)
from .workers import Failure, WorkerPool, default_jobs, run_deep  # noqa: F401  (default_jobs: re-exported)

TOO_DEEP = "gradlint could not analyse this file: it nests too deeply for gradlint's analysis"


def lint_module(module: cst.Module, path: str, codes: Sequence[str], fixes: str = "",
                build: Optional[Callable[[cst.Module], FileFacts]] = None) -> List[Finding]:
    """Rules over an already parsed module (the flake8 plugin and ``--fix`` reuse the parse).

    ``fixes="build"`` puts each finding's fix in ``Finding.fix`` (a ``gradlint.fixes.Fix`` or
    ``NotFixable``, bound to this parse); ``fixes="notes"`` puts a picklable ``FixNote``
    there, for reports. By default no fix is built. A module nested too deeply for the
    analysis, even on a large stack, gives one E903 finding instead of a RecursionError.
    ``build(module)``, when given, makes the facts (with a project view: ``--fix``).
    """
    try:
        return in_room(False, _lint_module, module, path, codes, fixes, build)
    except SourceError as exc:
        return [Finding(path, 1, 1, exc.code, exc.reason)]


def _lint_module(module: cst.Module, path: str, codes: Sequence[str], fixes: str, build=None) -> List[Finding]:
    return report_findings(build(module) if build else FileFacts.build(module, path), path, codes, fixes)


def report_findings(facts: FileFacts, path: str, codes: Sequence[str], fixes: str = "") -> List[Finding]:
    """The selected rules over a file's facts (built alone or with the project view), as
    findings at their positions, with their fixes when asked."""
    module = facts.module
    reports = list(run_reports(facts, codes))
    if not reports:
        return []
    ranges = anchor_ranges(module, [report.node for _, report in reports])
    findings = set()
    with memoized():  # the fix builders of one file share their walks over it
        for code, report in reports:
            line, col, end_line, end_col = ranges.get(report.node, (1, 1, None, None))
            fix = None
            if fixes and report.fix is not None:
                fix = _built(report.fix)
                if fixes != "build":
                    fix = FixNote.of(fix)
            findings.add(Finding(path, line, col, code, report.message, fix, help=report.help,
                                 end_line=end_line, end_col=end_col))
    return sorted(findings)


def _built(builder):
    """A fix from its builder. A builder that fails costs the finding its fix, never the
    finding or the run: linting must not depend on the fixer."""
    try:
        return builder()
    except RecursionError:
        return NotFixable("the code is nested too deeply to build this fix")
    except Exception as exc:  # noqa: BLE001 - a bug in a fix builder
        return NotFixable(f"gradlint could not build this fix ({type(exc).__name__}: {exc}); please report it")


def in_room(deep: bool, func: Callable, *args):
    """``func(*args)`` with room for deep nesting: on a large stack (``run_deep``) when
    ``deep``, or when the ordinary stack ran out. ``func`` must be safe to call twice. A
    RecursionError even there is an E903 ``SourceError``."""
    if not deep:
        try:
            return func(*args)
        except RecursionError:
            pass
    try:
        return run_deep(func, *args)
    except RecursionError:
        raise SourceError(TOO_DEEP, "E903") from None


def screen(text: str, path: str) -> Tuple[Optional[List[Finding]], bool]:
    """What is decided before libcst sees ``text``: (the file's findings when that is all
    there is to it, else None; whether it must be parsed on a large stack).

    A file nested beyond what Python's own parser accepts is an E999 without reaching
    libcst (whose native parser can crash on it), one Python accepts but gradlint cannot
    follow an E903. A file the prefilter skips is still checked for syntax (E999).
    """
    deep = nesting(text).deep
    if deep:
        problem = deep_problem(text)
        if problem is not None:
            code, line, col, message = problem
            return [Finding(path, line, col, code, message)], deep
    if not may_matter(text):
        return in_room(deep, syntax_only, text, path), deep
    return None, deep


def syntax_only(text: str, path: str) -> List[Finding]:
    """E999 for a file no rule can fire on: Python's verdict, confirmed by libcst when Python
    rejects it (libcst knows syntax newer than the running interpreter)."""
    try:
        python_parse(text)
        return []
    except PythonRejects as err:
        rejected = err
    if not rejected.nesting:
        try:
            parse(text)
            return []
        except cst.ParserSyntaxError:
            pass
    return [Finding(path, rejected.line, rejected.col, "E999", rejected.message)]


def lint_source(text: str, path: str = "<string>", selection: Optional[Selection] = None,
                fixes: str = "") -> List[Finding]:
    """Lint Python source text. Raises libcst.ParserSyntaxError on a syntax error; no
    screening (``lint_text`` is the entry point for files)."""
    codes = (selection or Selection()).codes(implemented())
    if not codes or not may_matter(text):
        return []
    return lint_module(parse(text), path, codes, fixes)


def _parse_and_lint(text: str, path: str, codes: Sequence[str], fixes: str) -> List[Finding]:
    try:
        module = parse(text)
    except cst.ParserSyntaxError as exc:
        line, col, message = describe_syntax_error(text, exc)
        return [Finding(path, line, col, "E999", message)]
    return _lint_module(module, path, codes, fixes)


def lint_text(text: str, path: str, selection: Optional[Selection] = None, fixes: str = "") -> List[Finding]:
    """Lint source text as the command line does: a syntax error becomes one E999
    finding, a file too deep for gradlint one E903, and findings silenced by a ``# noqa``
    comment are dropped."""
    codes = (selection or Selection()).codes(implemented())
    if not codes:
        return []
    try:
        done, deep = screen(text, path)
        if done is not None:
            return done
        findings = in_room(deep, _parse_and_lint, text, path, codes, fixes)
    except SourceError as exc:
        return [Finding(path, 1, 1, exc.code, exc.reason)]
    return apply_noqa(findings, text)


def lint_file(path: str, selection: Optional[Selection] = None, fixes: str = "",
              data: Optional[bytes] = None, max_size: Optional[int] = MAX_FILE_SIZE) -> List[Finding]:
    """Lint one file (a notebook cell by cell); a file that cannot be linted yields one
    E902/E903/E999 finding. ``data``: the file's bytes, when the caller has read them
    already. ``max_size``: the largest file (a notebook: its code) linted, None for no limit."""
    try:
        if path.endswith(NOTEBOOK_SUFFIX):
            if fixes == "notes":  # notes that hold for --fix on a notebook
                from .notebook_fix import lint_notebook

                return lint_notebook(path, selection, data)
            notebook = read_notebook(path, data, max_size)
            return notebook.map_findings(lint_text(notebook.text, path, selection, fixes))
        if data is None:
            data = read_bytes(path, max_size)
        elif max_size is not None and len(data) > max_size:
            raise too_large(len(data), max_size)
        text = decode(data)
    except SourceError as exc:
        return [Finding(path, 1, 1, exc.code, exc.reason)]
    return lint_text(text, path, selection, fixes)


class LintCrash(Exception):
    """An internal error while linting one file. No longer raised by ``lint_paths`` (such a
    file is an E903 finding and the run goes on); kept for the callers that catch it."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(path, detail)
        self.path = path
        self.detail = detail

    def __str__(self) -> str:
        return f"internal error while linting {self.path}:\n{self.detail}"


def _lint_one(args) -> List[Finding]:
    path, selection, fixes, cache_dir, max_size = args
    if cache_dir is None:
        return lint_file(path, selection, fixes, max_size=max_size)
    try:
        data = read_bytes(path, max_size) if not path.endswith(NOTEBOOK_SUFFIX) else None
    except SourceError:
        return lint_file(path, selection, fixes, max_size=max_size)
    if data is None:  # notebooks: the limit is on their code, not on the JSON read here
        return lint_file(path, selection, fixes, max_size=max_size)
    cache = Cache.at(cache_dir)
    key = findings_key(path, data, (selection or Selection()).codes(implemented()), fixes)
    cached = load_findings(cache, path, key)
    if cached is not None:
        return cached
    findings = lint_file(path, selection, fixes, data, max_size)
    store_findings(cache, key, findings)
    return findings


def failed_file(path: str, failure: Failure) -> Finding:
    """The E903 finding that stands for a file whose analysis crashed or raised."""
    return Finding(path, 1, 1, "E903", f"gradlint could not analyse this file: {failure.reason}")


def map_files(func, tasks: Sequence[tuple], jobs: int = 0, progress=None,
              failed: Optional[Callable[[tuple, Failure], object]] = None, pool: Optional[WorkerPool] = None) -> list:
    """``func(task)`` for each task (its first item is the file's path) on a ``WorkerPool``
    (``pool``, or one for this call); results in the order of ``tasks``, the largest files
    first. A task that crashed or raised gives ``failed(task, failure)``: by default the
    file's E903 finding, in a list."""
    failed = failed or (lambda task, failure: [failed_file(task[0], failure)])
    report = (lambda task: progress(task[0])) if progress else None
    if pool is None:
        with WorkerPool(jobs) as own:
            results = own.map(func, tasks, report, cost=_size_of_task)
    else:
        results = pool.map(func, tasks, report, cost=_size_of_task)
    return [failed(task, r) if isinstance(r, Failure) else r for task, r in zip(tasks, results)]


def _size_of_task(task: tuple) -> int:
    return _size(task[0])


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def lint_paths(files: Iterable[str], selection: Optional[Selection] = None, jobs: int = 0,
               progress=None, selection_for: Optional[Callable[[str], Selection]] = None,
               fixes: str = "", cache_dir: Optional[str] = None,
               max_file_size: Optional[int] = MAX_FILE_SIZE) -> List[Finding]:
    """Lint many files; findings come back sorted. Python files go through the project view
    (facts across files, ``gradlint.project.lint``); notebooks, which no file imports, are
    linted on their own, in parallel when it pays.

    ``selection_for(path)``, when given, picks each file's rules (configuration and
    per-file ignores); it runs in this process. ``fixes="notes"`` attaches each finding's
    ``FixNote``. With ``cache_dir``, unchanged results come from the cache
    (``gradlint.cache``). ``max_file_size``: files larger are an E903 (None: no limit). A file
    whose analysis crashes or raises is an E903 finding; every other file is reported.
    """
    from .project.lint import lint_files

    selection = selection or Selection()
    pick = selection_for or (lambda path: selection)
    files = list(files)
    notebooks = [f for f in files if f.endswith(NOTEBOOK_SUFFIX)]
    python = [f for f in files if not f.endswith(NOTEBOOK_SUFFIX)]
    out = lint_files(python, pick, fixes, progress, cache_dir=cache_dir, max_file_size=max_file_size, jobs=jobs)
    tasks = [(f, pick(f), fixes, cache_dir, max_file_size) for f in notebooks]
    out.extend(f for result in map_files(_lint_one, tasks, jobs, progress) for f in result)
    return sorted(out)
