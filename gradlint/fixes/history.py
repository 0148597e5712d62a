"""Fix for GL501 (safe): accumulate ``loss.item()`` or ``loss.detach()`` instead of ``loss``.

``.item()`` when the accumulator is only ever used as a number in its scope (``float()``,
``print``, arithmetic, formatting, ``len``/``sum``...) and the value is a scalar (a loss, a
reduction); ``.detach()`` otherwise: it keeps every tensor method working and drops only
the graph. The scope is the accumulating function (the whole file for module-level code);
an attribute (``self.total``) may be read anywhere, so it gets ``.detach()``.
"""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst

from . import Edit, Fix, NotFixable
from .cst_tools import code_of, expression

# Calls whose argument may be a number as well as a tensor.
_NUMERIC_CALLS = frozenset({"float", "int", "round", "str", "repr", "print", "format", "abs", "len", "sum",
                            "min", "max", "sorted", "bool"})
# Methods of the accumulator that are the accumulation itself (lists and numbers).
_OWN_METHODS = frozenset({"append", "extend", "insert", "clear", "copy"})
_SCALAR_METHODS = frozenset({"mean", "sum", "norm", "item", "max", "min", "prod"})


class _Uses(cst.CSTVisitor):
    """Is ``name`` only used as a number (or a list of numbers) in a scope?"""

    def __init__(self, name: str) -> None:
        self.name = name
        self.numeric = True
        self.stack = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.FunctionDef, cst.Lambda, cst.ClassDef)) and self.stack:
            if _mentions(node, self.name):
                self.numeric = False  # read by a nested scope: anything may happen there
            return False
        if isinstance(node, (cst.Global, cst.Nonlocal)) and any(n.name.value == self.name for n in node.names):
            self.numeric = False
        if isinstance(node, cst.Name) and node.value == self.name and not self._label(node) \
                and not self._numeric_use():
            self.numeric = False
        self.stack.append(node)
        return self.numeric

    def on_leave(self, original_node: cst.CSTNode) -> None:
        if self.stack and self.stack[-1] is original_node:
            self.stack.pop()

    def _label(self, node: cst.Name) -> bool:
        """``obj.total`` or ``f(total=...)``: the same word, not the variable."""
        parent = self.stack[-1] if self.stack else None
        return (isinstance(parent, cst.Attribute) and parent.attr is node) or \
            (isinstance(parent, cst.Arg) and parent.keyword is node)

    def _numeric_use(self) -> bool:
        """Walk out from the name through the expressions that keep a number a number."""
        stack = self.stack
        itself = True  # the current expression is the accumulator (or one of its elements)
        for i in range(len(stack) - 1, -1, -1):
            parent = stack[i]
            if isinstance(parent, cst.Subscript) and itself:
                continue  # acc[i]: an element of a list of numbers
            if isinstance(parent, (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.ComparisonTarget)):
                itself = False
                continue
            if isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.FormattedStringExpression,
                                   cst.If, cst.While, cst.Assert, cst.IfExp, cst.BooleanOperation)):
                return True
            if isinstance(parent, cst.Attribute):
                return itself and parent.attr.value in _OWN_METHODS and i > 0 and isinstance(stack[i - 1], cst.Call)
            if isinstance(parent, cst.Arg):
                call = stack[i - 1] if i > 0 else None
                return isinstance(call, cst.Call) and isinstance(call.func, cst.Name) \
                    and call.func.value in _NUMERIC_CALLS
            return False
        return False


def _mentions(node: cst.CSTNode, name: str) -> bool:
    found = []

    class _Find(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            if n.value == name:
                found.append(n)

    node.visit(_Find())
    return bool(found)


def _scalar(expr: cst.BaseExpression, fn_node: cst.CSTNode) -> bool:
    """A loss or a reduction: the value ``.item()`` accepts."""
    if isinstance(expr, cst.Name):
        if "loss" in expr.value.lower():
            return True
        value = _assigned(fn_node, expr.value)
        return value is not None and _scalar(value, fn_node)
    if isinstance(expr, cst.Call):
        func = expr.func
        last = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        if isinstance(func, cst.Attribute) and last in _SCALAR_METHODS and not expr.args:
            return True
        return "loss" in last.lower() or last in ("criterion", "cross_entropy", "nll_loss")
    return False


def _assigned(scope: cst.CSTNode, name: str) -> Optional[cst.BaseExpression]:
    """The value of the one assignment ``name = value`` in the scope, when there is one."""
    values = []

    class _Find(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for t in node.targets:
                if isinstance(t.target, cst.Name) and t.target.value == name:
                    values.append(node.value)

    scope.visit(_Find())
    return values[0] if len(values) == 1 else None


def detach_accumulated(facts, event) -> Union[Fix, NotFixable]:
    added = event.added
    if added is None:
        return NotFixable("the accumulated value is not known")
    scope = event.fn.node
    use_item = "." not in event.name and _scalar(added, scope)
    if use_item:
        uses = _Uses(event.name)
        scope.visit(uses)
        use_item = uses.numeric
    method = "item" if use_item else "detach"
    simple = isinstance(added, (cst.Name, cst.Attribute, cst.Call, cst.Subscript))
    text = code_of(added) if simple else f"({code_of(added).strip()})"
    new = expression(f"{text}.{method}()")
    if use_item:
        why = ""
    elif "." in event.name:
        why = f": `{event.name}` may be read anywhere"
    else:
        why = f": `{event.name}` is used as a tensor"
    return Fix((Edit(added, lambda updated: new),), f"accumulate `{text}.{method}()`{why}", safe=True)
