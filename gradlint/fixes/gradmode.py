"""Fixes for GL2xx (gradient tracking).

- GL202 (safe) ``with torch.no_grad:`` -> ``with torch.no_grad():``: the class was meant to be
  instantiated (as written, the ``with`` raises TypeError).
- GL202 (unsafe) a bare ``torch.no_grad()`` statement: the rest of its block goes under
  ``with torch.no_grad():``, which is what the statement was meant to do. Unsafe because it
  changes every statement after it; refused when a definition or import follows (wrapping
  those changes more than gradient tracking) or when nothing follows.
- GL201 (unsafe): ``@torch.no_grad()`` on an evaluation function, else ``with
  torch.no_grad():`` around the region's statement (see ``regions``). Unsafe: the outputs
  no longer carry gradients, which code after the region might have used.
"""

from __future__ import annotations

from typing import Union

import libcst as cst

from . import Edit, Fix, NotFixable
from .cst_tools import code_of, enclosing_statement, strip_blank_lead
from .regions import no_grad_edit, no_grad_imports, place


def enter_context(event) -> Union[Fix, NotFixable]:
    node = event.node
    if isinstance(node, cst.WithItem):
        text = code_of(node.item)

        def instantiate(updated: cst.WithItem) -> cst.WithItem:
            return updated.with_changes(item=cst.Call(func=updated.item))

        return Fix((Edit(node, instantiate),), f"`with {text}():`", safe=True)
    if isinstance(node, cst.Expr) and isinstance(node.value, cst.Call):
        return _wrap_rest_of_block(event)
    return NotFixable("not a `with` item or a statement")


_DEFINITIONS = (cst.FunctionDef, cst.ClassDef)
_DECLARATIONS = (cst.Import, cst.ImportFrom, cst.Global, cst.Nonlocal)


def _wrap_rest_of_block(event) -> Union[Fix, NotFixable]:
    found = enclosing_statement(event.fn.node, event.node)
    if found is None:
        return NotFixable("the statement shares its line with a compound statement")
    block, line = found
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return NotFixable("the statement shares its line with others")
    stmts = list(block.body)
    index = next(i for i, s in enumerate(stmts) if s is line)
    rest = stmts[index + 1:]
    if not rest:
        return NotFixable("nothing follows it in its block")
    if any(isinstance(s, _DEFINITIONS) or (isinstance(s, cst.SimpleStatementLine)
                                           and any(isinstance(x, _DECLARATIONS) for x in s.body)) for s in rest):
        return NotFixable("a definition or import follows it in its block")
    count = 1 + len(rest)
    text = code_of(event.node.value)

    def wrap(updated):
        body = list(updated.body)
        head, bare, tail = body[:-count], body[-count], body[-count + 1:]
        block_ = cst.IndentedBlock(body=[strip_blank_lead(tail[0])] + tail[1:], header=bare.trailing_whitespace)
        with_ = cst.With(items=[cst.WithItem(item=bare.body[0].value)], body=block_, leading_lines=bare.leading_lines)
        return updated.with_changes(body=head + [with_])

    return Fix((Edit(block, wrap, claims=(line,) + tuple(rest)),),
               f"run the rest of the block under `with {text}:`", safe=False)


def no_grad_for_region(facts, event) -> Union[Fix, NotFixable]:
    placement = place(facts, event)
    if isinstance(placement, NotFixable):
        return placement
    edit = no_grad_edit(facts, placement)
    if isinstance(edit, NotFixable):
        return edit
    region = event.regions[0]
    if placement.function is not None:
        what = f"decorate `{placement.function.name.value}` with `@torch.no_grad()`"
    else:
        what = f"run the {region.label} under `with torch.no_grad():`"
    return Fix((edit,), what, safe=False, imports=no_grad_imports(facts))
