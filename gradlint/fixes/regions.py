"""Where GL101's ``model.eval()`` and GL201's ``torch.no_grad()`` go for an inference region.

An evaluation *function* gets ``model.eval()`` as its first statement (after the docstring)
and ``@torch.no_grad()`` as its innermost decorator: the decorator leaves the body's
formatting untouched and covers every return path. Any other region (a loop over test
data, a comprehension, a single call on test data) is the statement that holds it: the
eval call goes just before it and the ``with torch.no_grad():`` around it.

The previous mode is restored (``was_training = model.training`` ... ``model.train(was_training)``,
in ``try/finally`` when the region can return early) where the code after the region may
rely on training mode: the region runs inside a training loop, the function is called
from one (directly or through its callers), or its callers are not all in this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

import libcst as cst

from . import Edit, NotFixable
from .cst_tools import (code_of, docstring_count, enclosing_statement, expression, is_dotted, lead, root_name,
                        names_in, scan_names, statement, strip_blank_lead, torch_ref, with_block, fresh_name)


@dataclass
class Placement:
    model: str                                  # the model's expression, as written at the call
    function: Optional[cst.FunctionDef] = None  # an evaluation function
    stmt: Optional[cst.BaseStatement] = None    # or the statement that holds the region
    restore: bool = False


def place(facts, event) -> Union[Placement, NotFixable]:
    """Where an inference fix goes for a model call, or why it must not be written there.

    The preconditions, checked before anything is written: the called object is known to
    be a module (``known_module``), the fix names the model itself (the receiver of
    ``model.generate(...)``, never ``model.generate``), and the region neither trains nor
    turns gradients back on (``trains_or_enables_grad``).
    """
    if not known_module(facts, event):
        return NotFixable(f"`{event.key or 'the callee'}` is not known to be an nn.Module here (only its name "
                          f"or use says so)")
    target = model_expression(event)
    if target is None:
        return NotFixable("the model is not called through a name")
    model = code_of(target)
    root = root_name(target)
    region = event.regions[0]
    fn = event.fn
    restore = facts.in_training_loop(event.loops) or (not fn.is_module_level and (
        fn.escapes or not fn.callsites or facts.runs_in_training_loop(fn)))
    if region.kind == "function":
        node = region.node
        if not isinstance(node, cst.FunctionDef) or not isinstance(node.body, cst.IndentedBlock):
            return NotFixable("the evaluation function is written on one line")
        if root in fn.locals and root not in fn.params:
            return NotFixable(f"`{root}` is bound inside the evaluation function")
        placement = Placement(model, function=node, restore=restore)
    elif region.kind == "branch":  # the branch's own first statement, not the `if` that holds it
        if not isinstance(region.block, cst.IndentedBlock):
            return NotFixable("the branch is written on one line")
        if root in scan_names(list(region.block.body)).bound:
            return NotFixable(f"`{root}` is bound inside the branch")
        placement = Placement(model, stmt=region.block.body[0], restore=restore)
    else:
        found = enclosing_statement(fn.node, region.node)
        if found is None:
            return NotFixable("the region is not a statement of its own")
        _, stmt = found
        if root in scan_names([stmt]).bound:
            return NotFixable(f"`{root}` is bound inside the region")
        placement = Placement(model, stmt=stmt, restore=restore)
    why = trains_or_enables_grad(facts, fn, placement.function or placement.stmt)
    if why:
        return NotFixable(f"the {region.label} {why}: it is not only inference")
    return placement


def known_module(facts, event) -> bool:
    """The inference fixes' precondition on the model: the called object is known to be an
    ``nn.Module`` from evidence (how it was built or loaded, what every caller in the file
    passes), not from its name. The one place to point at stronger evidence as the facts
    gain it."""
    from ..rules.common import is_model_call  # the rules import this module

    return is_model_call(facts, event)


def model_expression(event) -> Optional[cst.BaseExpression]:
    """The model in the call's callee: ``model`` in ``model(x)``, ``self.net`` in
    ``self.net(x)``, ``generator`` in ``generator.generate(x)``: the dotted part of the
    callee that names the event's model, or None."""
    expr = event.node.func
    while is_dotted(expr):
        if event.key is not None and code_of(expr) == event.key:
            return expr
        if not isinstance(expr, cst.Attribute):
            return None
        expr = expr.value
    return None


_TRAINING_CALLS = {"backward": "runs `backward()`", "step": "runs an optimizer step (`step()`)",
                   "zero_grad": "resets gradients (`zero_grad()`)"}
_GRAD_ON = frozenset({"torch.enable_grad"})


class _Trains(cst.CSTVisitor):
    """The first thing in a region that trains or turns gradients back on, as a phrase."""

    def __init__(self, facts, fn) -> None:
        self.facts, self.fn = facts, fn
        self.why: Optional[str] = None

    def visit_Call(self, node: cst.Call) -> Optional[bool]:
        func = node.func
        qual = self.facts.scopes.imports.qualname(func) or ""
        if isinstance(func, cst.Attribute) and func.attr.value in _TRAINING_CALLS:
            self.why = _TRAINING_CALLS[func.attr.value]
        elif qual in ("torch.autograd.grad", "torch.autograd.backward"):
            self.why = f"computes gradients (`{code_of(func)}`)"
        elif qual in _GRAD_ON:
            self.why = f"turns gradients back on (`{code_of(func)}`)"
        elif qual == "torch.set_grad_enabled" and not _is_false(node):
            self.why = f"may turn gradients back on (`{code_of(node)}`)"
        elif isinstance(func, cst.Attribute) and func.attr.value == "requires_grad_" and not _is_false(node):
            self.why = "makes a tensor require grad (`requires_grad_()`)"
        elif isinstance(func, cst.Name):
            callee = self.facts.scopes.lookup(func.value, self.fn)
            if getattr(callee, "trains", False):
                self.why = f"calls `{func.value}`, which trains"
        return self.why is None

    def visit_Attribute(self, node: cst.Attribute) -> Optional[bool]:
        if node.attr.value == "grad" and self.why is None:
            self.why = f"reads `{code_of(node)}`"
        return self.why is None

    def visit_Decorator(self, node: cst.Decorator) -> Optional[bool]:
        target = node.decorator.func if isinstance(node.decorator, cst.Call) else node.decorator
        if (self.facts.scopes.imports.qualname(target) or "") in _GRAD_ON:
            self.why = f"turns gradients back on (`@{code_of(node.decorator)}`)"
        return self.why is None


def _is_false(call: cst.Call) -> bool:
    return len(call.args) == 1 and isinstance(call.args[0].value, cst.Name) and call.args[0].value.value == "False"


def trains_or_enables_grad(facts, fn, node: cst.CSTNode) -> Optional[str]:
    """Why ``node`` (an evaluation function or the statement holding a region) is more than
    inference: it runs ``backward()`` or an optimizer step, calls a local function that
    trains, computes or reads gradients, or turns them back on; None when it does none."""
    visitor = _Trains(facts, fn)
    node.visit(visitor)
    return visitor.why


def _used_names(facts, placement: Placement) -> set:
    scope = placement.function if placement.function is not None else facts.module
    return names_in(scope)


def eval_edit(facts, placement: Placement) -> Edit:
    """``model.eval()`` before the region, restoring the previous mode after it when needed."""
    model = placement.model
    flag = fresh_name(_used_names(facts, placement), "was_training") if placement.restore else ""
    before = ([statement(f"{flag} = {model}.training")] if flag else []) + [statement(f"{model}.eval()")]
    after = statement(f"{model}.train({flag})") if flag else None

    if placement.function is not None:
        block = placement.function.body
        count = len(block.body) - docstring_count(block.body)

        def replace_body(updated: cst.IndentedBlock) -> cst.IndentedBlock:
            body = list(updated.body)
            head, tail = body[:len(body) - count], body[len(body) - count:]
            return updated.with_changes(body=head + before + _restored(tail, after, model))

        return Edit(block, replace_body, claims=tuple(block.body[len(block.body) - count:]))

    def replace_stmt(updated: cst.BaseStatement):
        first, rest = lead(before[0], updated)
        return cst.FlattenSentinel([first] + before[1:] + _restored([rest], after, model))

    return Edit(placement.stmt, replace_stmt)


def _restored(stmts: Sequence[cst.BaseStatement], after: Optional[cst.BaseStatement],
              model: str = "") -> List[cst.BaseStatement]:
    """``stmts`` then ``after``; in ``try/finally`` when they can return before reaching it. A
    final ``return`` whose value cannot involve the model keeps its place after the restore."""
    stmts = list(stmts)
    if after is None:
        return stmts
    last = stmts[-1]
    plain_return = (isinstance(last, cst.SimpleStatementLine) and len(last.body) == 1
                    and isinstance(last.body[0], cst.Return) and _inert(last.body[0], model))
    rest = stmts[:-1] if plain_return else stmts
    if scan_names(rest).exits:
        body = [strip_blank_lead(stmts[0])] + stmts[1:]
        return [cst.Try(body=cst.IndentedBlock(body=body), finalbody=cst.Finally(body=cst.IndentedBlock(body=[after])),
                        leading_lines=())]
    return rest + [after] + ([last] if plain_return else [])


_INERT_CALLS = frozenset({"len", "float", "int", "round", "abs", "min", "max", "sum", "str", "bool", "tuple",
                          "list", "dict"})


class _Inert(cst.CSTVisitor):
    def __init__(self, model_root: str) -> None:
        self.model_root = model_root
        self.inert = True

    def visit_Call(self, node: cst.Call) -> None:
        if not (isinstance(node.func, cst.Name) and node.func.value in _INERT_CALLS):
            self.inert = False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.model_root:
            self.inert = False


def _inert(node: cst.CSTNode, model: str) -> bool:
    """Computing ``node`` neither names the model nor calls anything but a few builtins."""
    visitor = _Inert(model.split(".")[0])
    node.visit(visitor)
    return visitor.inert


def no_grad_edit(facts, placement: Placement) -> Union[Edit, NotFixable]:
    """``@torch.no_grad()`` on an evaluation function, or ``with torch.no_grad():`` around the
    region's statement."""
    ref, _ = torch_ref(facts.module, "no_grad")
    if placement.function is not None:
        function = placement.function
        if function.asynchronous is not None:
            return NotFixable("`torch.no_grad()` does not decorate coroutines")

        def decorate(updated: cst.FunctionDef) -> cst.FunctionDef:
            decorator = cst.Decorator(decorator=expression(f"{ref}()"))
            return updated.with_changes(decorators=list(updated.decorators) + [decorator])

        return Edit(function, decorate, claims=(function.name,))

    def wrap(updated: cst.BaseStatement) -> cst.With:
        return with_block(expression(f"{ref}()"), [updated])

    return Edit(placement.stmt, wrap)


def no_grad_imports(facts) -> tuple:
    return torch_ref(facts.module, "no_grad")[1]
