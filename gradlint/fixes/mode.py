"""Fixes for GL1xx (train/eval mode).

- GL102 (safe): ``model.eval`` -> ``model.eval()``; the statement meant the call.
- GL101 (unsafe): ``model.eval()`` before the inference region (see ``regions``). Unsafe:
  the outputs change (dropout off, batch-norm running statistics used).
- GL103 (unsafe): ``model.train()`` where the training loop's next training step begins.
  Unsafe: training results change.
"""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst

from . import Edit, Fix, NotFixable
from .cst_tools import code_of, is_dotted, lead, path_to, statement
from .regions import eval_edit, place


def call_method(event) -> Union[Fix, NotFixable]:
    """GL102: the bare attribute becomes the call it was meant to be."""
    node = event.node
    if not isinstance(node, cst.Expr) or not isinstance(node.value, cst.Attribute):
        return NotFixable("not a bare attribute statement")
    text = code_of(node.value)

    def called(updated: cst.Expr) -> cst.Expr:
        return updated.with_changes(value=cst.Call(func=updated.value))

    return Fix((Edit(node, called),), f"call `{text}()`", safe=True)


def eval_before_region(facts, event) -> Union[Fix, NotFixable]:
    """GL101: ``model.eval()`` before the region, restoring the previous mode where needed."""
    placement = place(facts, event)
    if isinstance(placement, NotFixable):
        return placement
    what = f"call `{placement.model}.eval()` before the {event.regions[0].label}"
    if placement.restore:
        what += " and restore the previous mode after it"
    return Fix((eval_edit(facts, placement),), what, safe=False)


# -- GL103 ---------------------------------------------------------------------------------------
_TRAINING_METHODS = frozenset({"backward", "step", "zero_grad"})


class _Trains(cst.CSTVisitor):
    """Does a statement run a training step: backward / step / zero_grad, a local function that
    trains, or a training forward of the model?"""

    def __init__(self, facts, fn, key: Optional[str]) -> None:
        self.facts, self.fn, self.key = facts, fn, key
        self.found = False

    def visit_Call(self, node: cst.Call) -> Optional[bool]:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _TRAINING_METHODS:
            self.found = True
        elif isinstance(func, cst.Name):
            callee = self.facts.scopes.lookup(func.value, self.fn)
            if getattr(callee, "trains", False):
                self.found = True
        event = self.facts.events.forward_calls.get(node)
        if event is not None and not event.regions and event.key == self.key \
                and self.facts.resolve_grad(event.fn, event.grad) != frozenset({"off"}):
            self.found = True  # a forward that can be backpropagated (not an evaluation under no_grad)
        return not self.found


def _trains(facts, fn, key, stmt) -> bool:
    visitor = _Trains(facts, fn, key)
    stmt.visit(visitor)
    return visitor.found


def train_where_training_resumes(facts, setter: cst.Call, event) -> Union[Fix, NotFixable]:
    """GL103: ``model.train()`` before the first training statement after the one that switched
    to eval in the training loop's body, else at the start of the loop body (next iteration)."""
    loops = [loop for loop in facts.setter_loops(setter) if loop.trains]
    if not loops:
        return NotFixable("the training loop is not known")
    loop = next(loop for loop in loops if not any(other is not loop and other.inside(loop) for other in loops))
    body = getattr(loop.node, "body", None)
    if not isinstance(body, cst.IndentedBlock):
        return NotFixable("the training loop is written on one line")
    func = setter.func
    if isinstance(func, cst.Attribute) and func.attr.value in ("eval", "train") and is_dotted(func.value):
        model = code_of(func.value)
    elif event.fn is loop.fn and is_dotted(event.node.func):
        model = code_of(event.node.func)
    else:
        return NotFixable("the model's name in the training loop is not known")
    stmts = list(body.body)
    holder = next((i for i, s in enumerate(stmts) if _contains(s, setter)), None)
    if holder is None:
        return NotFixable("the eval call is not in the training loop's body")
    later = next((i for i in range(holder + 1, len(stmts)) if _trains(facts, loop.fn, event.key, stmts[i])), None)
    if later is None:
        if holder == 0:
            return NotFixable("the loop body starts with the eval call")
        later = 0
    target = stmts[later]
    new = statement(f"{model}.train()")

    def insert(updated: cst.BaseStatement):
        if later == 0:  # the top of the loop body: the comments above stay with their statement
            return cst.FlattenSentinel([new, updated])
        first, rest = lead(new, updated)
        return cst.FlattenSentinel([first, rest])

    where = "at the start of each iteration of the training loop" if later == 0 else "where training resumes"
    return Fix((Edit(target, insert),), f"call `{model}.train()` {where}", safe=False)


def _contains(stmt: cst.CSTNode, target: cst.CSTNode) -> bool:
    return path_to(stmt, target) is not None
