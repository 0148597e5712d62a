"""GL203 backward-under-no-grad: `.backward()` on a value computed under `no_grad` / `inference_mode`.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL203``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

import re

from ..docs import RuleDoc
from ..verify.effects import Outcome, effect, raised_at, raised_scan, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule


# -- check -----------------------------------------------------------------------------------------
@rule("GL203", "backward-under-no-grad", "error",
      '`.backward()` on a value computed under `no_grad` / `inference_mode`.')
def check(facts):
    for event in facts.events.backwards.values():
        if event.fact is None or event.guarded:
            continue  # unknown, or a `try` that expects the RuntimeError (a demonstration)
        if facts.resolve_tensor(event.fn, event.fact) == frozenset({"nograd"}):
            yield Report(event.node, "backward on a value computed under `no_grad`/`inference_mode` raises "
                                     "RuntimeError", None, "compute it with gradients on: it has no grad_fn")


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL203",
    what="""
Finds `.backward()` (or `torch.autograd.grad`) called on a value that was computed under
`torch.no_grad()` or `torch.inference_mode()`.
""",
    why="""
A value computed without gradient tracking has no `grad_fn`: there is no graph to
differentiate, and `backward()` raises
`RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn`.
It usually means a loss was computed inside an evaluation block and reused for training.
""",
    example="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
x, y = torch.randn(8, 16), torch.randint(0, 2, (8,))
with torch.no_grad():
    loss = nn.functional.cross_entropy(model(x), y)
loss.backward()
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
x, y = torch.randn(8, 16), torch.randint(0, 2, (8,))
loss = nn.functional.cross_entropy(model(x), y)
loss.backward()
""",
    verifier="""
The `RuntimeError` torch raises at the flagged `backward()` call.
""",
    fix="""
No automatic fix: where gradients should come from (compute the value with gradients on,
or do not backpropagate it) is a decision about the program.
""",
)

# -- runtime effect --------------------------------------------------------------------------------
_NO_GRAPH = re.compile(r"does not require grad|does not have a grad_fn|[Ii]nference tensors? .*backward|"
                       r"[Ii]nference tensors cannot be saved for backward")


@effect("GL203")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    return raised_at(obs, at, "RuntimeError", _NO_GRAPH, "backward ran")


@scan("GL203")
def effect_anywhere(obs: Observations):
    return raised_scan(obs, "RuntimeError", _NO_GRAPH, "backward never failed for want of a graph")
