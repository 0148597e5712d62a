"""Linting with the project view: every file of the analysis set once, in order, then the rules.

Each file of the analysis set (see ``view``) is read, parsed and analysed once, after the
files it imports, and its summary joins the view. The named files keep their facts; once
every summary is in, the call sites in other files are attached to their functions and the
rules run on them. Only PyTorch code gets GL findings (``ProjectView.pytorch_files``);
every named file still gets its E902 / E999.
"""

from __future__ import annotations

import os
from typing import Callable, Dict, List, Optional, Sequence

import libcst as cst

from ..engine import report_findings
from ..facts import FileFacts
from ..finding import Finding
from ..noqa import apply_noqa
from ..rules import implemented
from ..selection import Selection
from ..source import describe_syntax_error
from .summarize import summarize
from .view import ProjectView


def _parse(text: str):
    """(module, None) or (None, (line, col, message)) for a syntax error."""
    try:
        return cst.parse_module(text), None
    except cst.ParserSyntaxError as exc:
        return None, describe_syntax_error(text, exc)
    except RecursionError:
        return None, (1, 1, "SyntaxError: too deeply nested to parse")


def analyse(view: ProjectView, path: str, keep: bool, shown: str):
    """Parse and analyse one file of the analysis set; its summary joins the view.
    Returns its facts when ``keep`` (a named file), else None; a syntax error, as the finding."""
    text = view.text(path)
    if text is None:
        return None, None
    module, error = _parse(text)
    if module is None:
        return None, Finding(shown, error[0], error[1], "E999", error[2])
    facts = FileFacts.build(module, shown, project=view.context(path))
    view.add_summary(path, summarize(facts, view.ref_of(path), view.ref_of(path), view.scan(path)))
    return (facts if keep else None), None


def lint_project(view: ProjectView, files: Sequence[str], selection_for: Callable[[str], Selection],
                 fixes: str = "", progress=None) -> Dict[str, List[Finding]]:
    """Findings of each named Python file of one project (by the path as named)."""
    shown = {os.path.abspath(f): f for f in files}
    order = view.analysis_set(shown)
    relevant = view.relevant(order)
    kept: Dict[str, FileFacts] = {}
    results: Dict[str, List[Finding]] = {f: [] for f in files}
    for path in order:
        named = path in shown
        if view.text(path) is None:
            if named:
                results[shown[path]] = [Finding(shown[path], 1, 1, "E902", view.errors.get(path, "cannot read"))]
            continue
        if path not in relevant:
            if named:
                results[shown[path]] = _syntax_only(view.text(path), shown[path])
            continue
        facts, error = analyse(view, path, named, shown.get(path, path))
        if error is not None and named:
            results[shown[path]] = [error]
        if facts is not None:
            kept[path] = facts
        if named and progress:
            progress(shown[path])
    view.link_calls()
    pytorch = view.pytorch_files()
    for path, facts in kept.items():
        name = shown[path]
        codes = selection_for(name).codes(implemented())
        if path not in pytorch or not codes:
            continue
        view.attach_upward(path, facts)
        facts.forget_resolutions()
        results[name] = apply_noqa(report_findings(facts, name, codes, fixes), view.text(path))
    return results


def _syntax_only(text: str, shown: str) -> List[Finding]:
    """A file no rule can concern still reports a syntax error (E999)."""
    import ast

    try:
        ast.parse(text)
    except SyntaxError as err:
        return [Finding(shown, err.lineno or 1, err.offset or 1, "E999", f"SyntaxError: {err.msg}")]
    except (ValueError, RecursionError, MemoryError) as err:
        return [Finding(shown, 1, 1, "E999", f"SyntaxError: {err}")]
    return []


def lint_files(files: Sequence[str], selection_for: Optional[Callable[[str], Selection]] = None,
               fixes: str = "", progress=None, texts: Optional[Dict[str, str]] = None) -> List[Finding]:
    """Findings of Python files, each with the project view of its root."""
    from .layout import root_of

    selection_for = selection_for or (lambda path: Selection())
    by_root: Dict[str, List[str]] = {}
    for f in files:
        by_root.setdefault(root_of(f), []).append(f)
    out: List[Finding] = []
    for root, group in sorted(by_root.items()):
        view = ProjectView(root, {os.path.abspath(k): v for k, v in (texts or {}).items()})
        for findings in lint_project(view, group, selection_for, fixes, progress).values():
            out.extend(findings)
    return sorted(out)
