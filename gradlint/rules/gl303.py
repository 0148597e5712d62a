"""GL303 requires-grad-set-on-non-leaf: `.requires_grad = ...` on a computed tensor (RuntimeError).

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL303``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

import re

from ..docs import RuleDoc
from ..fixes.cst_tools import code_of
from ..verify.effects import Outcome, effect, raised_at, raised_scan, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule


# -- check -----------------------------------------------------------------------------------------
@rule("GL303", "requires-grad-set-on-non-leaf", "error",
      '`.requires_grad = ...` on a computed tensor raises RuntimeError.')
def check(facts):
    for event in facts.events.requires_grad_sets.values():
        if event.attr != "requires_grad" or event.value.kind != "tensor":
            continue
        if facts.resolve_tensor(event.fn, event.value.tensor) == frozenset({"nonleaf"}):
            target = code_of(event.target)
            yield Report(event.node, f"`{target}` is computed (not a leaf): setting `.requires_grad` on it "
                                     f"raises RuntimeError", None,
                         f"use `{target} = {target}.detach()`, then `.requires_grad_()` if it needs gradients")


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL303",
    what="""
Finds `.requires_grad = ...` assigned on a tensor that is computed from a tensor that
requires grad (the result of an operation: not a leaf).
""",
    why="""
Only leaf tensors have a settable `requires_grad` flag: on a computed tensor the
assignment raises `RuntimeError: you can only change requires_grad flags of leaf
variables`. To stop gradients flowing through the value, use `x.detach()`; for a new
trainable tensor made from it, `x.detach().requires_grad_()`.
""",
    example="""
import torch

w = torch.randn(16, 2, requires_grad=True)
scaled = w * 0.01
scaled.requires_grad = False
""",
    use_instead="""
import torch

w = torch.randn(16, 2, requires_grad=True)
scaled = (w * 0.01).detach()
""",
    verifier="""
The `RuntimeError` torch raises at the flagged assignment.
""",
    fix="""
No automatic fix: whether the computed tensor should be detached into a new leaf or keep
its history is a decision about the program (the message shows the detach idiom).
""",
)

# -- runtime effect --------------------------------------------------------------------------------
_LEAF_FLAG = re.compile(r"requires_grad flags of leaf variables|leaf variables")


@effect("GL303")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    return raised_at(obs, at, "RuntimeError", _LEAF_FLAG, "the assignment ran")


@scan("GL303")
def effect_anywhere(obs: Observations):
    return raised_scan(obs, "RuntimeError", _LEAF_FLAG, "no requires_grad assignment failed")
