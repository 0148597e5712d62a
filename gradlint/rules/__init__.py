"""Rule registry: each rule is a small function over a file's facts.

A rule yields ``(node, message)`` pairs, or a ``Report`` that also carries a fix builder
(see ``gradlint.fixes``); the engine turns nodes into positions. Rules never parse or
walk the tree: everything they need is in ``FileFacts``.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

import libcst as cst

from ..catalog import CATALOG


class Report(NamedTuple):
    """A finding of one rule: the anchor node, the message, and (optionally) a zero-argument
    builder of its fix, called only when fixes are wanted."""

    node: cst.CSTNode
    message: str
    fix: Optional[Callable[[], object]] = None


Check = Callable[[object], Iterable[Tuple]]

CHECKS: Dict[str, Check] = {}


def rule(code: str) -> Callable[[Check], Check]:
    if code not in CATALOG:
        raise ValueError(f"{code} is not in the catalog")

    def register(check: Check) -> Check:
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


def code_of(node: cst.CSTNode) -> str:
    """Source text of a small node, for messages."""
    return cst.Module([]).code_for_node(node)


from . import freezing, gradmode, history, leaf, mode  # noqa: E402,F401  (registration)
