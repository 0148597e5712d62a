"""Statements of a source file: where each starts and which object it is about.

Both sides use this (stdlib ``ast`` only): the parent maps a finding's anchor line to
its statement, the child maps the line events and call sites it records to the same
statement, so a call on a continuation line still meets the anchor on the first line.
The child also asks which object a watched statement is about (``model`` in
``model.eval``, ``total`` in ``total += loss``) to measure that object's state.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass
from typing import Dict, Optional

_BODIES = ("body", "orelse", "handlers", "finalbody", "cases")


@dataclass(frozen=True)
class Subject:
    """What a statement is about: ``expr`` (a name/attribute chain or None), how, and which attribute."""

    expr: Optional[ast.expr]
    shape: str  # bare-attr, call, compare, augassign, assign, setattr, setitem, with, other
    attr: Optional[str] = None

    @property
    def text(self) -> str:
        return ast.unparse(self.expr) if self.expr is not None and hasattr(ast, "unparse") else ""


class StatementIndex:
    """Line -> first line of the innermost statement (or compound-statement header) holding it."""

    def __init__(self, source: str):
        self._start: Dict[int, int] = {}
        self._stmt: Dict[int, ast.stmt] = {}
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return
        self._visit(tree.body)

    def _visit(self, stmts) -> None:
        for stmt in stmts:
            children = [c for name in _BODIES for c in (getattr(stmt, name, None) or [])
                        if isinstance(c, ast.stmt)]
            # match/case and except handlers hold their statements one level down
            for name in ("handlers", "cases"):
                for holder in getattr(stmt, name, None) or []:
                    children.extend(c for c in holder.body if isinstance(c, ast.stmt))
            end = stmt.end_lineno or stmt.lineno
            if children:
                end = min(end, min(c.lineno for c in children) - 1)
            for line in range(stmt.lineno, max(stmt.lineno, end) + 1):
                self._start[line] = stmt.lineno
            self._stmt[stmt.lineno] = stmt
            for name in _BODIES:
                self._visit([c for c in getattr(stmt, name, None) or [] if isinstance(c, ast.stmt)])
            for name in ("handlers", "cases"):
                for holder in getattr(stmt, name, None) or []:
                    self._visit(holder.body)

    def start(self, line: int) -> int:
        return self._start.get(line, line)

    def statement(self, line: int) -> Optional[ast.stmt]:
        return self._stmt.get(self.start(line))

    def subject(self, line: int) -> Optional[Subject]:
        stmt = self.statement(line)
        return subject_of(stmt) if stmt is not None else None


def _chain(expr: ast.expr) -> Optional[ast.expr]:
    """``expr`` if it is a name/attribute/constant-subscript chain we can look up safely."""
    node = expr
    while True:
        if isinstance(node, ast.Name):
            return expr
        if isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            node = node.value
        else:
            return None


def subject_of(stmt: ast.stmt) -> Subject:
    if isinstance(stmt, ast.Expr):
        value = stmt.value
        if isinstance(value, ast.Attribute):
            return Subject(_chain(value.value), "bare-attr", value.attr)
        if isinstance(value, ast.Call):
            func = value.func
            if isinstance(func, ast.Attribute):
                return Subject(_chain(func.value), "call", func.attr)
            return Subject(None, "call", func.id if isinstance(func, ast.Name) else None)
        if isinstance(value, ast.Compare) and isinstance(value.left, ast.Attribute):
            return Subject(_chain(value.left.value), "compare", value.left.attr)
        return Subject(None, "other")
    if isinstance(stmt, (ast.AugAssign, ast.Assign, ast.AnnAssign)):
        target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
        if isinstance(stmt, ast.AugAssign):
            if isinstance(target, ast.Subscript):
                return Subject(_chain(target.value), "augassign")
            return Subject(_chain(target), "augassign")
        if isinstance(target, ast.Attribute):
            return Subject(_chain(target.value), "setattr", target.attr)
        if isinstance(target, ast.Subscript):
            return Subject(_chain(target.value), "setitem")
        if isinstance(target, ast.Name):
            return Subject(target, "assign")
        return Subject(None, "assign")
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return Subject(None, "with")
    return Subject(None, "other")


MISSING = object()


def resolve(expr: Optional[ast.expr], frame) -> object:
    """The value of a name/attribute chain in ``frame``, or MISSING. Never calls anything but getattr."""
    if expr is None:
        return MISSING
    try:
        if isinstance(expr, ast.Name):
            for scope in (frame.f_locals, frame.f_globals, vars(builtins)):
                if expr.id in scope:
                    return scope[expr.id]
            return MISSING
        if isinstance(expr, ast.Attribute):
            owner = resolve(expr.value, frame)
            return MISSING if owner is MISSING else getattr(owner, expr.attr, MISSING)
        if isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Constant):
            owner = resolve(expr.value, frame)
            if isinstance(owner, (list, tuple, dict)):
                return owner[expr.slice.value]
            if owner is not MISSING and hasattr(owner, "__getitem__") and type(owner).__name__ in (
                    "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"):
                return owner[expr.slice.value]
    except Exception:  # noqa: BLE001 - a lookup that fails is simply not measured
        return MISSING
    return MISSING
