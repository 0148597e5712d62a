"""GL202 grad-mode-context-not-entered: `with torch.no_grad:` (the class) or a bare `torch.no_grad()` statement.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL202``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import Optional, Union
import re

import libcst as cst

from ..docs import RuleDoc, SAFE_FIX, UNSAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of, enclosing_statement, strip_blank_lead
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, exceptions_of, first_line, raised_scan, scan, size
from ..verify.observations import Anchor, Observations
from . import Report, rule


# -- check -----------------------------------------------------------------------------------------
@rule("GL202", "grad-mode-context-not-entered", "error",
      '`with torch.no_grad:` (no call) or a bare `torch.no_grad()` statement: gradients stay on.')
def check(facts):
    for event in facts.events.syntactic.values():
        if event.code != "GL202":
            continue
        if isinstance(event.node, cst.WithItem):  # `with torch.no_grad:`
            context = code_of(event.node.item)
            message = f"`with {context}:` uses the class, not an instance: it raises TypeError"
            help = f"write `with {context}():`"
        else:  # a bare `torch.no_grad()` statement
            context = code_of(event.node.value.func)
            message = f"`{context}()` as a statement does nothing: gradient tracking is unchanged"
            help = f"use `with {context}():` or decorate the function"
        yield Report(event.node, message, lambda e=event: enter_context(e), help)


# -- fix -------------------------------------------------------------------------------------------
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


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL202",
    what="""
Finds `with torch.no_grad:` (the class, not an instance) and `torch.no_grad()` or
`torch.inference_mode()` written as a bare statement.
""",
    why="""
`with torch.no_grad:` raises `TypeError` (the class itself is not a context manager;
its instances are). A bare `torch.no_grad()` statement creates a context manager and drops it
without entering it: gradient tracking stays on for the code that follows, with all the
memory cost that `no_grad` was meant to save.
""",
    example="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
model.eval()
with torch.no_grad:
    predictions = model(torch.randn(4, 16)).argmax(1)
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
model.eval()
with torch.no_grad():
    predictions = model(torch.randn(4, 16)).argmax(1)
""",
    verifier="""
The `TypeError` torch raises at the `with` statement, or, for a bare statement,
`torch.is_grad_enabled()` still True on the next line.
""",
    fix=f"""
{SAFE_FIX} instantiates the context manager: `with torch.no_grad:` becomes
`with torch.no_grad():`. For a bare `torch.no_grad()` statement, {UNSAFE_FIX} runs the rest of
its block under `with torch.no_grad():`; not when a definition or import follows it in
the block, or nothing does.
""",
)

# -- runtime effect --------------------------------------------------------------------------------
def _next_saving_forward(obs: Observations, seq: int) -> Optional[dict]:
    for call in obs.forwards:
        if call["seq"] > seq and call.get("detailed"):
            return call if call["grad"] and call.get("saved_bytes") else None
    return None


_CONTEXT_ERROR = re.compile(r"context manager|__enter__")


@effect("GL202")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    raised = exceptions_of(obs, at, "TypeError", _CONTEXT_ERROR)
    if raised:
        return Outcome(CONFIRMED, f"TypeError: {first_line(raised[0]['message'])}")
    probes = [p for p in obs.at("probes", at) if "after" in p]
    if not probes:
        return Outcome(NOT_REPRODUCED, "the statement ran but was not measured")
    entered = [p for p in probes if p["before"]["grad"] and not p["before"]["inference"]]
    if not entered:
        return Outcome(NOT_REPRODUCED, "gradients were already off where the statement ran")
    on = [p for p in entered if p["after"]["grad"] and not p["after"]["inference"]]
    if not on:
        return Outcome(NOT_REPRODUCED, f"gradients were off after the statement ({len(entered)} of "
                                       f"{len(entered)} runs)")
    text = (f"grad mode unchanged by the statement: torch.is_grad_enabled() still True after it "
            f"({len(on)} of {len(entered)} runs)")
    following = _next_saving_forward(obs, on[0]["seq"])
    if following is not None:
        text += (f"; the next forward ({following['module']}, line {following['line']}) saved "
                 f"{size(following['saved_bytes'])} for backward")
    return Outcome(CONFIRMED, text)


@scan("GL202")
def effect_anywhere(obs: Observations):
    return raised_scan(obs, "TypeError", _CONTEXT_ERROR, "no context-manager TypeError")
