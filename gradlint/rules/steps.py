"""Readings of the facts that GL502 and GL503 share: backward calls, optimizer steps, gradient resets
and the loops around them.

A statement runs "every iteration" of a loop when it sits in the loop's body directly, or inside
``with`` / ``try`` blocks there, never under an ``if``, a nested loop or a ``match``. These
readings look at the syntax of one loop body at a time, and only for loops the events already
single out (a backward and a step inside).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set

import libcst as cst

from ..facts.names import key_of
from ..facts.scopes import _block_statements
from ..fixes.cst_tools import path_to

_CONDITIONAL = (cst.If, cst.IfExp, cst.For, cst.While, cst.Match, cst.BooleanOperation, cst.ExceptHandler,
                cst.ExceptStarHandler, cst.Lambda, cst.FunctionDef, cst.ClassDef, cst.ListComp, cst.GeneratorExp,
                cst.SetComp, cst.DictComp, cst.CompFor)


class Backward:
    """A backward call with its loops (``torch.autograd.grad`` excluded: it fills no ``.grad``)."""

    __slots__ = ("node", "fn", "loops")

    def __init__(self, node, fn, loops) -> None:
        self.node, self.fn, self.loops = node, fn, loops


def backwards(facts) -> List[Backward]:
    """Backward calls outside unit tests (a test trains to check something else than learning)."""
    imports = facts.scopes.imports
    out = []
    for event in facts.events.backwards.values():
        node = event.node
        if imports.qualname(node.func) == "torch.autograd.grad" or facts.is_test_function(event.fn):
            continue
        out.append(Backward(node, event.fn, facts.events.backward_loops.get(node, ())))
    return out


def every_iteration(loop, node: cst.CSTNode) -> bool:
    """``node`` runs on every pass through ``loop``'s body (see the module docstring). A statement that
    is just the call is found by walking statements; a call inside a larger statement, by its path."""
    todo = [(_block_statements(loop.node.body), True)]
    while todo:
        block, always = todo.pop()
        for stmt in block:
            if single_call(stmt) is node:
                return always
            if isinstance(stmt, (cst.Try, cst.TryStar)):  # body, else and finally run; handlers may not
                todo.extend((_block_statements(part.body), always) for part in (stmt, stmt.orelse, stmt.finalbody)
                            if part is not None)
                todo.extend((_block_statements(h.body), False) for h in stmt.handlers)
            else:
                todo.extend((b, always and isinstance(stmt, cst.With)) for b in _blocks(stmt))
    path = path_to(loop.node.body, node)
    return path is not None and not any(isinstance(n, _CONDITIONAL) for n in path[1:-1])


def single_call(stmt) -> Optional[cst.Call]:
    """The call a statement consists of (``optimizer.step()``), or None."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Expr) \
            and isinstance(stmt.body[0].value, cst.Call):
        return stmt.body[0].value
    return None


def call_statement(fn, call: cst.Call):
    """(the statements of the block, the index) of the statement that is exactly ``call``, found by
    walking statements only (never expressions); None when the call is part of a larger statement."""
    node = fn.node
    todo = [list(node.body) if isinstance(node, cst.Module) else _block_statements(node.body)]
    while todo:
        block = todo.pop()
        for i, stmt in enumerate(block):
            if single_call(stmt) is call:
                return block, i
            todo.extend(_blocks(stmt))
    return None


def _blocks(stmt) -> list:
    """The statement lists of a compound statement, each on its own (an ``if`` body and its ``else``
    are two blocks); function and class bodies excluded."""
    out = []
    if isinstance(stmt, cst.If):
        out.append(_block_statements(stmt.body))
        if isinstance(stmt.orelse, cst.If):
            out.extend(_blocks(stmt.orelse))
        elif isinstance(stmt.orelse, cst.Else):
            out.append(_block_statements(stmt.orelse.body))
    elif isinstance(stmt, (cst.For, cst.While, cst.With, cst.Try, cst.TryStar)):
        out.append(_block_statements(stmt.body))
        for part in (getattr(stmt, "orelse", None), getattr(stmt, "finalbody", None)):
            if part is not None:
                out.append(_block_statements(part.body))
        out.extend(_block_statements(h.body) for h in getattr(stmt, "handlers", ()))
    elif isinstance(stmt, cst.Match):
        out.extend(_block_statements(case.body) for case in stmt.cases)
    return out


def steps_in(facts, fn, loop) -> list:
    """Optimizer steps whose innermost loop is ``loop``."""
    return [s for s in facts.events.steps.values() if s.fn is fn and s.loops and s.loops[-1] is loop]


def inside(loops, loop) -> bool:
    return any(l is loop for l in loops)


def _resetting_functions(facts) -> Set[int]:
    """Functions that clear gradients, themselves or through the local functions they call."""
    memo = facts._memo
    key = ("gradlint.rules.steps", "resetting")
    if key in memo:
        return memo[key]
    found = {id(r.fn) for r in facts.events.resets.values()}
    calls: Dict[int, Set[int]] = {}
    for fn in facts.scopes.functions + [facts.scopes.module_fn]:
        for site in fn.callsites:
            calls.setdefault(id(site.caller), set()).add(id(fn))
    for site in facts.events.external_calls:
        if getattr(site.callee, "resets_grad", False):
            found.add(id(site.caller))
    changed = True
    while changed:
        changed = False
        for caller, callees in calls.items():
            if caller not in found and callees & found:
                found.add(caller)
                changed = True
    memo[key] = found
    return found


def resets_in(facts, fn, loop) -> bool:
    """Gradients may be cleared somewhere in ``loop`` (any depth): a reset there, a call there of a
    function that resets (this file's or another project file's), or a reset in a function defined
    inside the loop (an LBFGS closure)."""
    for reset in facts.events.resets.values():
        if reset.fn is fn and inside(reset.loops, loop):
            return True
        if reset.fn is not fn and _defined_in(reset.fn, fn, loop):
            return True
    resetting = _resetting_functions(facts)
    for callee in facts.scopes.functions:
        if id(callee) in resetting and any(site.caller is fn and inside(site.loops, loop)
                                           for site in callee.callsites):
            return True
    for site in facts.events.external_calls:
        if site.caller is fn and inside(site.loops, loop) and getattr(site.callee, "resets_grad", False):
            return True
    return False


def _defined_in(inner, fn, loop) -> bool:
    while inner is not None and not inner.is_module_level:
        if inner.parent is fn:
            return path_to(loop.node.body, inner.node) is not None
        inner = inner.parent
    return False


def fresh_in(value, loop) -> bool:
    """A value bound anew in every iteration of ``loop`` (an optimizer or model built inside it)."""
    bound = getattr(value, "bound_in", None) if value is not None else None
    return bound is not None and bound.inside(loop)


def handed_out(loop, key: Optional[str], known_calls) -> bool:
    """The optimizer passed to a call the analysis cannot see into (a library helper may clear it)."""
    if not key:
        return False
    finder = _PassedTo(key, known_calls)
    loop.node.body.visit(finder)
    return finder.found


_NOT_CLEARING = frozenset({"step", "unscale_", "update", "clip_grad_norm_", "clip_grad_value_", "append", "print",
                           "log", "info", "state_dict", "load_state_dict", "param_groups"})


class _PassedTo(cst.CSTVisitor):
    def __init__(self, key: str, known) -> None:
        self.key = key
        self.known = known
        self.found = False

    def visit_Call(self, node: cst.Call) -> None:
        if self.found or node in self.known:
            return
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        if name in _NOT_CLEARING:
            return
        if any(key_of(a.value) == self.key for a in node.args):
            self.found = True
