"""Choosing the fixes that can go together, and applying them in one transformer pass."""

from __future__ import annotations

from typing import Dict, Iterable, List, Sequence, Set, Tuple

import libcst as cst

from ..positions import node_spans
from . import Edit, Fix
from .cst_tools import add_imports


def choose(fixes: Sequence[Fix], module: cst.Module, blocked_lines: Set[int]) -> Tuple[List[Fix], List[Fix]]:
    """(the fixes of one pass, the fixes never to apply), in the order given.

    A fix is left for a later pass when it edits a node another fix edits or claims a line
    another fix claims; it is never applied when it claims a line in ``blocked_lines`` (a
    line whose finding ``# noqa`` silenced) or a node the module does not hold.
    """
    spans = node_spans(module, [n for fix in fixes for e in fix.edits for n in e.claimed])
    chosen: List[Fix] = []
    blocked: List[Fix] = []
    nodes: Set[int] = set()
    taken: List[Tuple[int, int]] = []
    for fix in fixes:
        claimed = [spans.get(n) for e in fix.edits for n in e.claimed]
        if not claimed or any(s is None for s in claimed) or \
                any(line in blocked_lines for start, end in claimed for line in range(start, end + 1)):
            blocked.append(fix)
            continue
        if any(id(e.node) in nodes for e in fix.edits):
            continue
        if any(start <= t_end and t_start <= end for start, end in claimed for t_start, t_end in taken):
            continue
        chosen.append(fix)
        nodes.update(id(e.node) for e in fix.edits)
        taken.extend(claimed)
    return chosen, blocked


class _Apply(cst.CSTTransformer):
    def __init__(self, edits: Iterable[Edit]) -> None:
        super().__init__()
        self.edits: Dict[cst.CSTNode, Edit] = {e.node: e for e in edits}

    def on_leave(self, original_node, updated_node):
        edit = self.edits.get(original_node)
        if edit is None:
            return updated_node
        return edit.replace(updated_node)


def apply_fixes(module: cst.Module, fixes: Sequence[Fix]) -> cst.Module:
    """The module with every edit of ``fixes`` applied, and the imports they need added."""
    if not fixes:
        return module
    new = module.visit(_Apply(e for fix in fixes for e in fix.edits))
    imports = [name for fix in fixes for name in fix.imports]
    return add_imports(new, imports) if imports else new
