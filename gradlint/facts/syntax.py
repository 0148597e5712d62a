"""Small readings of libcst nodes that several parts of the interpreter need."""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterator, List, Optional, Tuple

import libcst as cst

from .names import key_of


_FIELDS: Dict[type, Tuple[str, ...]] = {}


def child_nodes(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """A node's children, read from its fields (libcst's ``children`` runs a visitor per call)."""
    names = _FIELDS.get(type(node))
    if names is None:
        names = _FIELDS[type(node)] = tuple(f.name for f in dataclasses.fields(node))
    for name in names:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            yield value
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, cst.CSTNode):
                    yield item


def walk(root: cst.CSTNode, skip: frozenset = frozenset()) -> Iterator[cst.CSTNode]:
    """Every node under ``root`` (itself included), a node before its children; nodes of the
    types in ``skip`` (and what is under them) left out."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(child for child in child_nodes(node) if type(child) not in skip)


# Whitespace, comments and punctuation: more than half of a tree's nodes, never code.
TRIVIA = frozenset({cst.SimpleWhitespace, cst.ParenthesizedWhitespace, cst.Newline, cst.TrailingWhitespace,
                    cst.EmptyLine, cst.Comment, cst.Comma, cst.Dot, cst.AssignEqual, cst.Colon,
                    cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket,
                    cst.LeftCurlyBrace, cst.RightCurlyBrace})


def const_bool(node: Optional[cst.CSTNode]) -> Optional[bool]:
    if type(node) is cst.Name and node.value in ("True", "False"):
        return node.value == "True"
    if type(node) is cst.Integer:
        return node.value not in ("0",)
    if type(node) is cst.Float:
        return float(node.value) != 0.0
    return None


_SPLIT_METHODS = frozenset({"split", "rsplit", "splitlines"})


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
            func = n.func
            # `.split()` is str's (or a tensor's) method: it says nothing of a dataset split
            split = type(func) is cst.Attribute and func.attr.value in _SPLIT_METHODS
            stack.append(func.value if split else func)
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


def _literal(node: cst.CSTNode) -> Optional[str]:
    if type(node) is cst.Name and node.value in ("True", "False", "None"):
        return node.value
    if isinstance(node, (cst.SimpleString, cst.Integer)):
        return node.value
    return None


def condition(test: cst.BaseExpression) -> Optional[Tuple[str, bool]]:
    """A test on one variable as (what it asks, whether it asks it true): ``train``,
    ``not train``, ``train == True``, ``train is False``, ``mode == "train"``, ``mode != "train"``.
    None for anything else. Two ``if`` statements whose conditions ask the same thing with
    opposite answers are the two branches of one choice."""
    if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        inner = condition(test.expression)
        return (inner[0], not inner[1]) if inner is not None else None
    if type(test) in (cst.Name, cst.Attribute) and key_of(test) is not None:
        return key_of(test), True
    if type(test) is cst.Comparison and len(test.comparisons) == 1:
        op = type(test.comparisons[0].operator)
        subject = key_of(test.left) if type(test.left) in (cst.Name, cst.Attribute) else None
        value = _literal(test.comparisons[0].comparator)
        if subject is None or value is None or op not in (cst.Equal, cst.NotEqual, cst.Is, cst.IsNot):
            return None
        asks = op in (cst.Equal, cst.Is)
        if value in ("True", "False"):
            return subject, asks == (value == "True")
        return f"{subject} == {value}", asks
    return None
