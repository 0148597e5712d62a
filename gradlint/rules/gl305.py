"""GL305 unfrozen-params-not-in-optimizer: parameters unfrozen after a filtered optimizer was built.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL305``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from ..docs import RuleDoc
from ..verify.effects import Outcome, effect, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule
from .gl304 import missed, orphans, used


# -- check -----------------------------------------------------------------------------------------
@rule("GL305", "unfrozen-params-not-in-optimizer", "error",
      "Parameters unfrozen after an optimizer was built from the trainable ones only: they never update.")
def check(facts):
    for (node, code), event in facts.events.optimizer_misses.items():
        if code != "GL305":
            continue
        opt = event.optimizer
        yield Report(node, f"`{event.key}` is unfrozen after `{opt}` was built without its parameters",
                     None,
                     f"they were frozen then and left out, and `{used(event)}` uses `{opt}` afterwards without "
                     f"rebuilding it: the unfrozen parameters get gradients but never change; rebuild the "
                     f"optimizer after unfreezing, or add them with `{opt}.add_param_group(...)`")


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL305",
    what="""
Finds parameters unfrozen (`requires_grad_(True)`, `p.requires_grad = True`, or a helper that
does it, in this file or another) after an optimizer was built while they were frozen, from the
trainable parameters only (`filter(lambda p: p.requires_grad, ...)`, a comprehension, or param
groups of other parts), when that optimizer is stepped afterwards (or handed to a function that
trains) without being rebuilt or given `add_param_group`. The finding points at the unfreeze.
""",
    why="""
Gradual unfreezing is a common fine-tuning recipe: train the head with the backbone frozen,
then unfreeze the backbone. An optimizer built from the trainable parameters left the frozen
ones out, and unfreezing does not add them: the backbone now gets gradients (costing memory
and time) but never changes, and the second phase trains only what the first one did.
""",
    example="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
model[0].requires_grad_(False)
optimizer = torch.optim.SGD((p for p in model.parameters() if p.requires_grad), lr=0.1)
for epoch in range(4):
    if epoch == 2:
        model[0].requires_grad_(True)
    optimizer.zero_grad()
    model(torch.randn(4, 8)).sum().backward()
    optimizer.step()
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
model[0].requires_grad_(False)
optimizer = torch.optim.SGD((p for p in model.parameters() if p.requires_grad), lr=0.1)
for epoch in range(4):
    if epoch == 2:
        model[0].requires_grad_(True)
        optimizer.add_param_group({"params": model[0].parameters()})
    optimizer.zero_grad()
    model(torch.randn(4, 8)).sum().backward()
    optimizer.step()
""",
    not_flagged="""
- Optimizers built from every parameter of the model (`model.parameters()`): they hold the
  frozen ones too (GL301 is about that), so GAN-style alternating `requires_grad_` toggles
  with unfiltered optimizers are fine.
- Parts that were trainable when the optimizer was built, and unfreezes followed by a
  rebuild, `add_param_group`, a second optimizer built for them, or param groups rewritten by
  hand.
- Freezes and unfreezes through a flag the analysis cannot read (`p.requires_grad = flag`).
""",
    verifier="""
At the unfreeze, the parameters whose `requires_grad` went from False to True are recorded;
optimizer step hooks count the steps at which they held a gradient and whether any optimizer
holds them. Confirmed when they got gradients at steps after the line, no optimizer held
them, and they never changed (max |dW|).
""",
    fix="""
No automatic fix: `add_param_group` with parameters the optimizer already holds raises
`ValueError`, and which of the unfrozen parameters were left out depends on the freeze; rebuild
the optimizer after unfreezing, or add exactly the parameters that were frozen.
""",
)


# -- runtime effect --------------------------------------------------------------------------------
@effect("GL305")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    return missed(obs, at, "unfrozen", "unfrozen")


@scan("GL305")
def effect_anywhere(obs: Observations):
    return orphans(obs)
