"""Fixes for GL3xx (freezing).

- GL301 (safe): the optimizer gets ``(p for p in model.parameters() if p.requires_grad)``
  (``[...]`` for ``list(model.parameters())``; inside param-group dicts too). Only where
  the parameters are frozen *before* the optimizer is built: filtering at construction
  cannot drop parameters frozen later, so there the finding stays, marked not fixable.
- GL302 (safe): ``module.requires_grad = X`` -> ``module.requires_grad_(X)``;
  ``p.require_grad = X`` -> ``p.requires_grad = X``; ``p.requires_grad == X`` -> ``= X``.
  The module fix is unsafe when the file reads ``module.requires_grad`` elsewhere, since
  that attribute no longer exists afterwards.
"""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst

from ..facts.names import key_of
from . import Edit, Fix, NotFixable
from .cst_tools import code_of, expression


# -- GL301 ---------------------------------------------------------------------------------------
def _under(key: str, owner: str) -> bool:
    return key == owner or key.startswith(owner + ".")


def _frozen_before(build, owner: str, parts) -> bool:
    """Every frozen part is frozen when the optimizer is built: earlier in the same function,
    or (for ``self``) in the class's ``__init__``, which runs before any other method."""
    fn = build.fn
    inits = []
    if fn.cls is not None and (owner == "self" or owner.startswith("self.")):
        inits = [c.methods["__init__"] for c in fn.cls.all_classes() if "__init__" in c.methods]
    for part in parts:
        if any(_under(part, k) for k in build.frozen_before):
            continue
        if fn.name != "__init__" and any(any(_under(part, k) for k in init.freezes) for init in inits):
            continue
        return False
    return True


def _trainable(expr: cst.BaseExpression, owners) -> Optional[cst.BaseExpression]:
    """``expr`` with the parameters of ``owners`` filtered, or None when it holds none."""
    if isinstance(expr, cst.Call):
        func = expr.func
        if isinstance(func, cst.Attribute) and func.attr.value == "parameters" and not expr.args \
                and key_of(func.value) in owners:
            return expression(f"(p for p in {code_of(expr)} if p.requires_grad)")
        if isinstance(func, cst.Name) and func.value == "list" and len(expr.args) == 1 \
                and not expr.args[0].keyword and not expr.args[0].star:
            inner = _trainable(expr.args[0].value, owners)
            if isinstance(inner, cst.GeneratorExp):
                return cst.ListComp(elt=inner.elt, for_in=inner.for_in)
        return None
    if isinstance(expr, (cst.List, cst.Tuple)):
        changed = False
        elements = []
        for el in expr.elements:
            new = _trainable(el.value, owners) if isinstance(el, cst.Element) else None
            if new is not None:
                changed = True
                el = el.with_changes(value=new)
            elements.append(el)
        return expr.with_changes(elements=elements) if changed else None
    if isinstance(expr, cst.Dict):
        changed = False
        elements = []
        for el in expr.elements:
            if isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString) \
                    and el.key.raw_value == "params":
                new = _trainable(el.value, owners)
                if new is not None:
                    changed = True
                    el = el.with_changes(value=new)
            elements.append(el)
        return expr.with_changes(elements=elements) if changed else None
    return None


def _params_arg(call: cst.Call) -> Optional[cst.Arg]:
    for i, arg in enumerate(call.args):
        if arg.star:
            return None
        if (arg.keyword is None and i == 0) or (arg.keyword is not None and arg.keyword.value == "params"):
            return arg
    return None


def trainable_params(build, frozen_parts) -> Union[Fix, NotFixable]:
    """GL301. ``frozen_parts``: owner key -> its frozen parts (the unfiltered sources)."""
    owners = {owner for owner, parts in frozen_parts.items() if _frozen_before(build, owner, parts)}
    if not owners:
        return NotFixable("the parameters are frozen after the optimizer is built: filtering them there "
                          "changes nothing; build the optimizer after freezing")
    if len(owners) < len(frozen_parts):
        return NotFixable("some parameters are frozen after the optimizer is built")
    arg = _params_arg(build.node)
    if arg is None:
        return NotFixable("the optimizer's parameters are not passed as an argument")
    new = _trainable(arg.value, owners)
    if new is None:
        return NotFixable("the parameters come from a variable; filter them where they are collected")
    shown = ", ".join(f"(p for p in {o}.parameters() if p.requires_grad)" for o in sorted(owners))
    return Fix((Edit(arg.value, lambda updated: new),), f"pass only trainable parameters: `{shown}`", safe=True)


# -- GL302 ---------------------------------------------------------------------------------------
def compare_to_assign(event) -> Union[Fix, NotFixable]:
    node = event.node
    if not (isinstance(node, cst.Expr) and isinstance(node.value, cst.Comparison)
            and len(node.value.comparisons) == 1):
        return NotFixable("not a single comparison")
    comparison = node.value
    left, right = comparison.left, comparison.comparisons[0].comparator

    def assign(updated: cst.Expr) -> cst.Assign:
        return cst.Assign(targets=[cst.AssignTarget(target=left)], value=right, semicolon=updated.semicolon)

    return Fix((Edit(node, assign),), f"assign: `{code_of(left)} = {code_of(right)}`", safe=True)


def respell(event) -> Union[Fix, NotFixable]:
    node = event.node
    if not isinstance(node, cst.Assign):
        return NotFixable("not a plain assignment")
    index = next((i for i, t in enumerate(node.targets) if isinstance(t.target, cst.Attribute)
                  and t.target.value is event.target and t.target.attr.value == event.attr), None)
    if index is None:
        return NotFixable("the attribute is not an assignment target")

    def spelled(updated: cst.Assign) -> cst.Assign:
        targets = list(updated.targets)
        attr = targets[index].target
        targets[index] = targets[index].with_changes(
            target=attr.with_changes(attr=attr.attr.with_changes(value="requires_grad")))
        return updated.with_changes(targets=targets)

    return Fix((Edit(node, spelled),), f"write `{code_of(event.target)}.requires_grad`", safe=True)


class _Reads(cst.CSTVisitor):
    def __init__(self, text: str, skip: cst.CSTNode) -> None:
        self.text, self.skip, self.found = text, skip, False

    def visit_Assign(self, node: cst.Assign) -> Optional[bool]:
        return node is not self.skip

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if node.attr.value == "requires_grad" and code_of(node.value) == self.text:
            self.found = True


def module_requires_grad_(facts, event) -> Union[Fix, NotFixable]:
    node = event.node
    if not isinstance(node, cst.Assign) or len(node.targets) != 1:
        return NotFixable("not a single-target assignment")
    target = code_of(event.target)
    reads = _Reads(target, node)
    facts.module.visit(reads)

    def method(updated: cst.Assign) -> cst.Expr:
        attr = updated.targets[0].target
        call = cst.Call(func=attr.with_changes(attr=cst.Name("requires_grad_")), args=[cst.Arg(updated.value)])
        return cst.Expr(value=call, semicolon=updated.semicolon)

    flag = code_of(node.value)
    return Fix((Edit(node, method),), f"call `{target}.requires_grad_({flag})`", safe=not reads.found)


def frozen_parts_by_owner(build, parts_of) -> dict:
    """owner -> frozen parts, for the optimizer's unfiltered sources (``parts_of(fn, owner)``)."""
    out = {}
    for owner, filtered in build.sources:
        if filtered or not owner:
            continue
        parts = parts_of(build.fn, owner)
        if parts:
            out[owner] = parts
    return out
