"""Line and column of the few nodes that become findings.

libcst's PositionProvider computes a range for every node of a module, which costs
several parses' worth of time. A finding needs the start of a handful of nodes, so this
runs libcst's code generator once with a state that only counts lines and columns and
records the nodes asked for (where each starts and ends). It runs only for files that have
findings.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from typing import Dict, Iterable, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState

_NULL = nullcontext()


class _AnchorState(CodegenState):
    def __init__(self, module: cst.Module, targets: set):
        super().__init__(default_indent=module.default_indent,
                         default_newline=module.default_newline)
        self.line = 1
        self.col = 0
        self.targets = targets
        self.found: Dict[cst.CSTNode, Tuple[int, int]] = {}
        self.ends: Dict[cst.CSTNode, Tuple[int, int]] = {}
        self._pending: Dict[cst.CSTNode, Tuple[int, int]] = {}

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        # "\n", "\r\n" and a lone "\r" (old Mac files) each end a line, as Python reads them
        newlines = value.count("\n") + value.count("\r") - value.count("\r\n")
        if newlines:
            self.line += newlines
            self.col = len(value) - max(value.rfind("\n"), value.rfind("\r")) - 1
        else:
            self.col += len(value)

    def before_codegen(self, node: cst.CSTNode) -> None:
        if node in self.targets:
            self._pending[node] = (self.line, self.col)

    def after_codegen(self, node: cst.CSTNode) -> None:
        pending = self._pending.pop(node, None)
        if pending is not None and node not in self.found:
            self.found[node] = pending
            self.ends[node] = (self.line, self.col)

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        if node in self.targets:
            return self._record(node, start_node, end_node)
        return _NULL

    @contextmanager
    def _record(self, node, start_node, end_node):
        for child in (start_node, end_node):
            if child is not None:
                self.targets.add(child)
        start = (self.line, self.col)
        yield
        end = (self.line, self.col)
        if start_node is not None and start_node in self.found:
            start = self.found[start_node]
        if end_node is not None and end_node in self.ends:
            end = self.ends[end_node]
        self.found[node] = start
        self.ends[node] = end


def anchor_positions(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> Dict[cst.CSTNode, Tuple[int, int]]:
    """Map each node to its (1-based line, 1-based column) start, flake8 style."""
    targets = set(nodes)
    if not targets:
        return {}
    state = _AnchorState(module, set(targets))
    module._codegen(state)
    return {n: (line, col + 1) for n, (line, col) in state.found.items() if n in targets}


def anchor_ranges(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> Dict[cst.CSTNode, Tuple[int, int, int, int]]:
    """Map each node to (line, column, end line, end column), 1-based; the end column is the
    one just after the node's last character (SARIF's and ruff's convention)."""
    targets = set(nodes)
    if not targets:
        return {}
    state = _AnchorState(module, set(targets))
    module._codegen(state)
    out = {}
    for node in targets:
        if node in state.found:
            (line, col), (end_line, end_col) = state.found[node], state.ends.get(node, state.found[node])
            out[node] = (line, col + 1, end_line, end_col + 1)
    return out


class _SpanState(_AnchorState):
    """Counts lines like ``_AnchorState`` and records the first and last line of each target."""

    def __init__(self, module: cst.Module, targets: set):
        super().__init__(module, targets)
        self.spans: Dict[cst.CSTNode, Tuple[int, int]] = {}
        self._starts: Dict[cst.CSTNode, int] = {}

    def before_codegen(self, node: cst.CSTNode) -> None:
        if node in self.targets:
            self._starts[node] = self.line

    def after_codegen(self, node: cst.CSTNode) -> None:
        start = self._starts.pop(node, None)
        if start is not None and node not in self.spans:
            end = self.line if self.col > 0 else self.line - 1  # a statement ends with its newline
            self.spans[node] = (start, max(start, end))

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        return _NULL


def node_spans(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> Dict[cst.CSTNode, Tuple[int, int]]:
    """Map each node to the (first, last) 1-based lines its code occupies, comments and blank
    lines that lead a statement included. For autofix: which lines a fix rewrites."""
    targets = set(nodes)
    if not targets:
        return {}
    state = _SpanState(module, targets)
    module._codegen(state)
    return state.spans
