"""Fixes for GL401 (``.grad`` of a non-leaf); all unsafe, since each changes which tensor
holds the gradient (and the factory fixes change the random draws).

- A copy of a fresh leaf (``torch.randn(..., requires_grad=True).to(device)`` / ``.cuda()`` /
  ``.double()``): the copy's device or dtype moves into the factory, so the name holds the leaf.
- A name rebound to a computed value of itself inside a loop (``w = w - lr * g``, manual
  gradient descent): the new value becomes a fresh leaf, ``(w - lr * g).detach().requires_grad_()``.
  ``retain_grad()`` there would keep a graph that grows with every step.
- Any other name assigned a computed tensor (arithmetic, a module's output):
  ``y.retain_grad()`` right after the assignment, so backward keeps ``y.grad``.
"""

from __future__ import annotations

from typing import List, Tuple, Union

import libcst as cst

from ..facts import torchapi
from . import Edit, Fix, NotFixable
from .cst_tools import code_of, enclosing_statement, expression, path_to, scan_names, statement, torch_ref

_DTYPES = {"float64", "double", "float16", "half", "bfloat16", "float32", "float", "int64", "long", "int32"}


def _kwarg(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(keyword=cst.Name(name), value=value,
                   equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                         whitespace_after=cst.SimpleWhitespace("")),
                   comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))


def _moved_kwargs(facts, conversion: cst.Call, factory: cst.Call, imports: list
                  ) -> Union[List[Tuple[str, cst.BaseExpression]], str]:
    """(keyword, value) pairs that make the factory produce what the conversion produced, or why
    not; modules the new code needs go into ``imports``."""
    method = conversion.func.attr.value
    table = facts.scopes.imports
    if method in torchapi.DTYPE_METHODS:
        if conversion.args:
            return "the conversion takes arguments"
        dtype = torchapi.DTYPE_METHODS[method]
        base = factory.func.value if isinstance(factory.func, cst.Attribute) else None
        if base is not None and table.qualname(base) == "torch":
            return [("dtype", expression(f"{code_of(base)}.{dtype}"))]
        ref, needed = torch_ref(facts.module, dtype)
        imports.extend(needed)
        return [("dtype", expression(ref))]
    if method == "cuda":
        if len(conversion.args) > 1 or (conversion.args and conversion.args[0].keyword is not None):
            return "`.cuda()` takes keyword arguments here"
        return [("device", conversion.args[0].value if conversion.args else cst.SimpleString('"cuda"'))]
    if method == "to":
        pairs = []
        for arg in conversion.args:
            if arg.star:
                return "`.to()` takes starred arguments"
            if arg.keyword is not None:
                if arg.keyword.value not in ("device", "dtype"):
                    return f"`.to()` takes `{arg.keyword.value}=`"
                pairs.append((arg.keyword.value, arg.value))
                continue
            qual = table.qualname(arg.value) or ""
            is_dtype = qual.startswith("torch.") and qual.rsplit(".", 1)[-1] in _DTYPES
            pairs.append(("dtype" if is_dtype else "device", arg.value))
        if not pairs or len({k for k, _ in pairs}) != len(pairs):
            return "`.to()` arguments are not a device and a dtype"
        return pairs
    return f"`.{method}()` cannot move into the factory"


def _into_factory(facts, event, conversion: cst.Call) -> Union[Fix, NotFixable, None]:
    func = conversion.func
    if not isinstance(func, cst.Attribute) or not isinstance(func.value, cst.Call):
        return None
    factory = func.value
    if facts.scopes.imports.qualname(factory.func) not in torchapi.TENSOR_FACTORIES:
        return None
    keywords = [a.keyword.value for a in factory.args if a.keyword is not None]
    if "requires_grad" not in keywords:
        return None
    imports: list = []
    pairs = _moved_kwargs(facts, conversion, factory, imports)
    if isinstance(pairs, str):
        return NotFixable(pairs)
    if any(k in keywords for k, _ in pairs):
        return NotFixable("the factory already sets the same argument")
    where = keywords.index("requires_grad") + sum(1 for a in factory.args if a.keyword is None)
    args = list(factory.args)
    new_call = factory.with_changes(args=args[:where] + [_kwarg(k, v) for k, v in pairs] + args[where:])
    shown = ", ".join(f"{k}={code_of(v)}" for k, v in pairs)
    return Fix((Edit(conversion, lambda updated: new_call),),
               f"create `{event.name}` as a leaf with `{shown}` in the factory", safe=False, imports=tuple(imports))


def keep_grad(facts, event) -> Union[Fix, NotFixable]:
    fact = event.fact
    origin = fact.origin
    if origin is None:
        return NotFixable("where the tensor is computed is not known")
    if isinstance(origin, cst.Call):
        moved = _into_factory(facts, event, origin)
        if moved is not None:
            return moved
    name = event.name
    if "." in name:
        return NotFixable("the tensor is an attribute")
    found = enclosing_statement(event.fn.node, origin)
    if found is None:
        return NotFixable("the tensor is not computed in a statement of its own")
    _, stmt = found
    assign = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 else None
    if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1 and assign.value is origin
            and isinstance(assign.targets[0].target, cst.Name) and assign.targets[0].target.value == name):
        return NotFixable(f"`{name}` is not assigned the computed value directly")
    path = path_to(event.fn.node, stmt) or []
    in_loop = any(isinstance(n, (cst.For, cst.While)) for n in path)
    if in_loop and name in scan_names([origin]).all:
        value = origin if isinstance(origin, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) \
            else origin.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        fresh = expression(f"{code_of(value)}.detach().requires_grad_()")
        return Fix((Edit(origin, lambda updated: fresh),),
                   f"make each new `{name}` a leaf: `.detach().requires_grad_()`", safe=False)
    retain = statement(f"{name}.retain_grad()")
    return Fix((Edit(stmt, lambda updated: cst.FlattenSentinel([updated, retain])),),
               f"call `{name}.retain_grad()` after it is computed", safe=False)
