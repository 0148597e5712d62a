"""Rule registry: each rule is a small function over a file's facts.

A rule yields ``(node, message)`` pairs; the engine turns nodes into positions. Rules
never parse or walk the tree: everything they need is in ``FileFacts``.
"""

from __future__ import annotations

from typing import Callable, Dict, Iterable, Iterator, List, Tuple

import libcst as cst

from ..catalog import CATALOG

Report = Tuple[cst.CSTNode, str]
Check = Callable[[object], Iterable[Report]]

CHECKS: Dict[str, Check] = {}


def rule(code: str) -> Callable[[Check], Check]:
    if code not in CATALOG:
        raise ValueError(f"{code} is not in the catalog")

    def register(check: Check) -> Check:
        CHECKS[code] = check
        return check

    return register


def run_rules(facts, codes: Iterable[str]) -> Iterator[Tuple[cst.CSTNode, str, str]]:
    for code in codes:
        check = CHECKS.get(code)
        if check is None:
            continue
        for node, message in check(facts):
            yield node, code, message


def implemented() -> List[str]:
    return sorted(CHECKS)


def code_of(node: cst.CSTNode) -> str:
    """Source text of a small node, for messages."""
    return cst.Module([]).code_for_node(node)


from . import freezing, gradmode, history, leaf, mode  # noqa: E402,F401  (registration)
