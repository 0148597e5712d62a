"""Moving a conversion into the tensor factory: ``torch.randn(..., requires_grad=True).to(d)``
becomes ``torch.randn(..., device=d, requires_grad=True)``, a leaf made where it lives (GL401, GL402)."""

from __future__ import annotations

from typing import List, Tuple, Union

import libcst as cst

from ..facts import torchapi
from . import Edit, Fix, NotFixable
from .cst_tools import code_of, expression, torch_ref

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


def into_factory(facts, name: str, conversion: cst.Call, safe: bool) -> Union[Fix, NotFixable, None]:
    """``factory(..., requires_grad=True).<conversion>`` made by the factory itself, or None when
    ``conversion`` is not such a chain."""
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
               f"create `{name}` as a leaf with `{shown}` in the factory", safe=safe, imports=tuple(imports))
