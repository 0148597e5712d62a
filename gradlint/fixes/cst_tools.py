"""Small libcst helpers the fix builders share: finding a node's statement, naming torch,
making statements, moving comments along with the statement they lead.

The walks over a tree that several fix builders of one file need (a node's parents, the
names used in a scope, its nodes by type) are computed once per tree inside ``memoized()``
(the engine builds every fix of a file inside it), so building N fixes in a long module
costs one walk, not N.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from ..facts.names import ImportTable, canonical
from ..facts.scopes import child_blocks
from ..facts.syntax import child_nodes, walk

Block = (cst.IndentedBlock, cst.Module)


def code_of(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


# -- walks, computed once per tree ------------------------------------------------------------------

_memo: Optional[Dict[Tuple[str, int], Tuple[cst.CSTNode, object]]] = None
_depth = 0


@contextmanager
def memoized() -> Iterator[None]:
    """Within it, ``parents``, ``names_in`` and ``by_type`` are computed once per tree; they
    are forgotten when the outermost ``memoized`` ends (the trees they hold can be large)."""
    global _memo, _depth
    if _depth == 0:
        _memo = {}
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            _memo = None


def _cached(kind: str, root: cst.CSTNode, compute: Callable[[cst.CSTNode], object]):
    if _memo is None:
        return compute(root)
    key = (kind, id(root))
    hit = _memo.get(key)
    if hit is None or hit[0] is not root:
        hit = (root, compute(root))
        _memo[key] = hit
    return hit[1]


def _parents_of(root: cst.CSTNode) -> Dict[int, cst.CSTNode]:
    parent: Dict[int, cst.CSTNode] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for child in child_nodes(node):
            parent[id(child)] = node
            stack.append(child)
    return parent


def parents(root: cst.CSTNode) -> Dict[int, cst.CSTNode]:
    """``id(node)`` -> its parent, for every node under ``root``."""
    return _cached("parents", root, _parents_of)


def names_in(root: cst.CSTNode) -> Set[str]:
    """Every name (``cst.Name``) used under ``root``, nested scopes included."""
    return _cached("names", root, lambda r: {n.value for n in by_type(r).get(cst.Name, ())})


def by_type(root: cst.CSTNode) -> Dict[type, List[cst.CSTNode]]:
    """The nodes under ``root`` (itself included), by their type."""
    def compute(r):
        found: Dict[type, List[cst.CSTNode]] = defaultdict(list)
        for node in walk(r):
            found[type(node)].append(node)
        return found
    return _cached("types", root, compute)


def path_to(root: cst.CSTNode, target: cst.CSTNode) -> Optional[List[cst.CSTNode]]:
    """The nodes from ``root`` down to ``target`` (both included), or None."""
    if target is root:
        return [root]
    up = parents(root)
    path = [target]
    while path[-1] is not root:
        parent = up.get(id(path[-1]))
        if parent is None:
            return None
        path.append(parent)
    return path[::-1]


def enclosing_statement(root: cst.CSTNode, target: cst.CSTNode) -> Optional[Tuple[cst.CSTNode, cst.CSTNode]]:
    """(block, statement): the innermost statement holding ``target`` that sits directly in an
    indented block or the module body (where statements can be inserted around it)."""
    path = path_to(root, target)
    if path is None:
        return None
    for parent, node in reversed(list(zip(path, path[1:]))):
        if isinstance(parent, Block) and isinstance(node, cst.BaseStatement):
            return parent, node
    if isinstance(target, cst.BaseStatement) and isinstance(root, Block) and any(s is target for s in root.body):
        return root, target
    return None


def statement(code: str) -> cst.BaseStatement:
    return cst.parse_statement(code if code.endswith("\n") else code + "\n")


def expression(code: str) -> cst.BaseExpression:
    return cst.parse_expression(code)


def call_statement(func: str, *args: str) -> cst.BaseStatement:
    return statement(f"{func}({', '.join(args)})")


def lead(first: cst.BaseStatement, old: cst.BaseStatement) -> Tuple[cst.BaseStatement, cst.BaseStatement]:
    """Move the comments and blank lines above ``old`` onto ``first``, which goes before it."""
    return (first.with_changes(leading_lines=old.leading_lines),
            old.with_changes(leading_lines=()))


def strip_blank_lead(stmt: cst.BaseStatement) -> cst.BaseStatement:
    """Drop blank lines (not comments) above the first statement of a new block."""
    lines = list(stmt.leading_lines)
    while lines and lines[0].comment is None:
        lines.pop(0)
    return stmt.with_changes(leading_lines=lines)


def with_block(item: cst.BaseExpression, body: Sequence[cst.BaseStatement],
               header: Optional[cst.TrailingWhitespace] = None) -> cst.With:
    """``with item:`` around ``body``; the first statement's comments go above the ``with``."""
    body = list(body)
    leading = body[0].leading_lines
    body[0] = strip_blank_lead(body[0].with_changes(leading_lines=()))
    block = cst.IndentedBlock(body=body, header=header or cst.TrailingWhitespace())
    return cst.With(items=[cst.WithItem(item=item)], body=block, leading_lines=leading)


def docstring_count(body: Sequence[cst.BaseStatement]) -> int:
    """1 when the block starts with a docstring (statements go after it), else 0."""
    if body and isinstance(body[0], cst.SimpleStatementLine) and len(body[0].body) == 1:
        small = body[0].body[0]
        if isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)):
            return 1
    return 0


class _Names(cst.CSTVisitor):
    def __init__(self) -> None:
        self.all: Set[str] = set()
        self.bound: Set[str] = set()
        self.exits = False   # return or yield outside nested functions
        self._depth = 0

    def visit_Name(self, node: cst.Name) -> None:
        self.all.add(node.value)

    def _bind(self, target: cst.CSTNode) -> None:
        if isinstance(target, cst.Name):
            self.bound.add(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for el in target.elements:
                self._bind(el.value)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind(node.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.bound.add(node.name.value)
        self._depth += 1

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._depth -= 1

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._depth += 1

    def leave_Lambda(self, node: cst.Lambda) -> None:
        self._depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.bound.add(node.name.value)

    def visit_Return(self, node: cst.Return) -> None:
        if self._depth == 0:
            self.exits = True

    def visit_Yield(self, node: cst.Yield) -> None:
        if self._depth == 0:
            self.exits = True


def scan_names(nodes: Iterable[cst.CSTNode]) -> _Names:
    """Names used and bound in ``nodes``, and whether they return or yield (nested functions aside)."""
    names = _Names()
    for node in nodes:
        node.visit(names)
    return names


def fresh_name(used: Set[str], base: str) -> str:
    if base not in used:
        return base
    n = 2
    while f"{base}_{n}" in used:
        n += 1
    return f"{base}_{n}"


def root_name(expr: cst.CSTNode) -> Optional[str]:
    """``self`` for ``self.model.encoder``; None when the expression is not a dotted name."""
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return expr.value if isinstance(expr, cst.Name) else None


def is_dotted(expr: cst.CSTNode) -> bool:
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return isinstance(expr, cst.Name)


def module_imports(module: cst.Module) -> ImportTable:
    """Imports at the module's top level (also under top-level ``if``/``try``): the names that
    new code anywhere in the file can use."""
    table = ImportTable()
    todo = list(module.body)
    while todo:
        stmt = todo.pop(0)
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    table.add(small)
        elif isinstance(stmt, (cst.If, cst.Try)):
            todo.extend(child_blocks(stmt))
    return table


def torch_ref(module: cst.Module, attr: str) -> Tuple[str, Tuple[str, ...]]:
    """Code that names ``torch.<attr>`` with this file's own imports, and the modules to import.

    ``import torch as T`` gives ``T.no_grad``; ``from torch import no_grad`` gives ``no_grad``;
    with neither, ``torch.no_grad`` and ``import torch`` must be added.
    """
    table = module_imports(module)
    wanted = f"torch.{attr}"
    if table.names.get("torch") == "torch":
        return f"torch.{attr}", ()
    for local, full in sorted(table.names.items()):
        if full == "torch":
            return f"{local}.{attr}", ()
    for local, full in sorted(table.names.items()):
        if canonical(full) == wanted:
            return local, ()
    return wanted, ("torch",)


def add_imports(module: cst.Module, names: Iterable[str]) -> cst.Module:
    """``import X`` after the last top-level import (after the docstring when there is none),
    for each X not imported under its own name yet."""
    table = module_imports(module)
    missing = [n for n in sorted(set(names)) if table.names.get(n) != n]
    if not missing:
        return module
    body = list(module.body)
    index = 0
    for i, stmt in enumerate(body):
        if isinstance(stmt, cst.SimpleStatementLine) and any(
                isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
            index = i + 1
    if index == 0:
        index = docstring_count(body)
    new = [statement(f"import {n}") for n in missing]
    return module.with_changes(body=body[:index] + new + body[index:])
