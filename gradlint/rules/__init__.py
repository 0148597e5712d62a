"""The rules: one module per rule (``gl101.py`` ... ), each holding everything about it.

A rule module has its check (a small function over a file's facts, registered with
``@rule``), its fix builders, its documentation page (``DOC``) and the runtime effect the
verifier measures (``@effect`` / ``@scan`` from ``gradlint.verify.effects``). Shared
readings of the facts live in ``common``; shared fix machinery in ``gradlint.fixes``.

A check yields ``(node, message)`` pairs, or a ``Report`` that also carries a fix builder
(see ``gradlint.fixes``) and a help line; the engine turns nodes into positions. Checks never parse or
walk the tree: everything they need is in ``FileFacts``.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

import libcst as cst

from ..catalog import RuleInfo


class Report(NamedTuple):
    """A finding of one rule: the anchor node, a short message (what is wrong, with its
    evidence), optionally a zero-argument builder of its fix (called only when fixes are
    wanted) and a help line (what to do about it), shown apart from the message as ruff does."""

    node: cst.CSTNode
    message: str
    fix: Optional[Callable[[], object]] = None
    help: str = ""


Check = Callable[[object], Iterable[Tuple]]

CHECKS: Dict[str, Check] = {}
INFOS: Dict[str, RuleInfo] = {}


def rule(code: str, name: str, severity: str, summary: str) -> Callable[[Check], Check]:
    """Register a rule's check under its stable public code (never renumbered)."""
    if code in INFOS:
        raise ValueError(f"{code} is registered twice")

    def register(check: Check) -> Check:
        INFOS[code] = RuleInfo(code, name, severity, summary)
        CHECKS[code] = check
        return check

    return register


def run_reports(facts, codes: Iterable[str]) -> Iterator[Tuple[str, Report]]:
    """``(code, Report)`` for every finding of the selected rules."""
    for code in codes:
        check = CHECKS.get(code)
        if check is None:
            continue
        for item in check(facts):
            yield code, item if isinstance(item, Report) else Report(*item)


def run_rules(facts, codes: Iterable[str]) -> Iterator[Tuple[cst.CSTNode, str, str]]:
    """``(node, code, message)`` for every finding of the selected rules."""
    for code, report in run_reports(facts, codes):
        yield report.node, code, report.message


def implemented() -> List[str]:
    return sorted(CHECKS)


MODULES = {}
for _info in pkgutil.iter_modules(__path__):
    if _info.name.startswith("gl") and _info.name[2:].isdigit():
        MODULES[_info.name.upper()] = importlib.import_module(f"{__name__}.{_info.name}")
