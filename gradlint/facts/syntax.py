"""Small readings of libcst nodes that several parts of the interpreter need."""

from __future__ import annotations

from typing import List, Optional

import libcst as cst


def const_bool(node: Optional[cst.CSTNode]) -> Optional[bool]:
    if type(node) is cst.Name and node.value in ("True", "False"):
        return node.value == "True"
    if type(node) is cst.Integer:
        return node.value not in ("0",)
    if type(node) is cst.Float:
        return float(node.value) != 0.0
    return None


def identifiers(node: cst.CSTNode) -> List[str]:
    """Names, attributes and string subscripts in an expression (for intent words)."""
    out: List[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if type(n) is cst.Name:
            out.append(n.value)
        elif type(n) is cst.Attribute:
            out.append(n.attr.value)
            stack.append(n.value)
        elif type(n) is cst.Call:
            stack.append(n.func)
            stack.extend(a.value for a in n.args if a.keyword is None)
        elif type(n) is cst.Subscript:
            stack.append(n.value)
            for el in n.slice:
                if type(el.slice) is cst.Index:
                    stack.append(el.slice.value)
        elif type(n) is cst.SimpleString:
            out.append(n.raw_value)
        elif isinstance(n, (cst.List, cst.Tuple)):
            stack.extend(e.value for e in n.elements)
    return out


def arg_of(args, index: int, name: Optional[str] = None):
    """The (Arg, Value) for positional ``index`` or keyword ``name``, else None."""
    if name is not None:
        for a, v in args:
            if a.keyword is not None and a.keyword.value == name:
                return a, v
    positional = [(a, v) for a, v in args if a.keyword is None and not a.star]
    if 0 <= index < len(positional):
        return positional[index]
    return None
