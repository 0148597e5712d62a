"""GL101 eval-mode-missing: a model run in an inference region while it may still be in training mode.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL101``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import Union

from ..facts.values import NEW, TRAIN
from ..docs import RuleDoc, UNSAFE_FIX
from ..fixes import Fix, NotFixable
from ..fixes.regions import eval_edit, place
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, is_inference, mode_effects, module_of, plural, scan, times
from ..verify.observations import Anchor, Observations
from . import Report, rule
from .common import FirstPerRegion, inference_calls, mode_dependent, shown


# -- check -----------------------------------------------------------------------------------------
@rule("GL101", "eval-mode-missing", "error",
      'A model runs in an inference region while it may still be in training mode.')
def check(facts):
    first = FirstPerRegion()
    for event in inference_calls(facts):
        if any(r.optimizer_step for r in event.regions):
            continue  # test-time training runs in train mode on purpose
        if mode_dependent(facts, event) is not True:
            continue  # no dropout or batch norm (or none known): eval() is good practice, not a fix
        kinds = {kind for kind, _ in facts.resolve_modes(event.fn, event.modes)}
        if TRAIN not in kinds:
            continue  # no evidence of training mode: a caller or a factory this file cannot see may set
            # eval (a whole model `torch.load` gave back is unknown already: its layers are not known)
        if not first(event):
            continue
        region = event.regions[0]
        name = shown(event)
        where = "" if kinds <= {TRAIN, NEW} else " on some paths"
        message = f"`{name}` runs in training mode{where} in this {region.label}"
        help = f"call `{name}.eval()` first: its dropout and batch norm change the outputs"
        yield Report(event.node, message, lambda e=event: eval_before_region(facts, e), help)


# -- fix -------------------------------------------------------------------------------------------
def eval_before_region(facts, event) -> Union[Fix, NotFixable]:
    """GL101: ``model.eval()`` before the region, restoring the previous mode where needed."""
    placement = place(facts, event)
    if isinstance(placement, NotFixable):
        return placement
    what = f"call `{placement.model}.eval()` before the {event.regions[0].label}"
    if placement.restore:
        what += " and restore the previous mode after it"
    return Fix((eval_edit(facts, placement),), what, safe=False)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL101",
    what="""
Finds a model that runs in an inference region (an evaluation, validation, test,
prediction or generation function or loop) while it may still be in training mode: no
`model.eval()` (or `model.train(False)`) reaches the call on every path, the callers of
the enclosing function included. The finding points at the model's first forward call in
the region.
""",
    why="""
In training mode dropout zeroes random activations and batch norm normalises with the
statistics of the current batch and updates its running averages. Evaluated that way,
metrics are noisy and biased, two runs on the same data disagree, and the running
statistics that inference will later rely on are overwritten with evaluation data.
Nothing crashes: the numbers are just wrong.
""",
    example="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
loader = [(torch.randn(8, 16), torch.randint(0, 2, (8,)))]


def evaluate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct


for x, y in loader:
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
print(evaluate(model, loader))
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
loader = [(torch.randn(8, 16), torch.randint(0, 2, (8,)))]


def evaluate(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct


for x, y in loader:
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
print(evaluate(model, loader))
""",
    not_flagged="""
- A caller that already calls `model.eval()` before calling the evaluation function.
- Framework hooks that own the mode: Lightning's `validation_step` / `test_step` /
  `predict_step`, Hugging Face `Trainer`, and test functions.
- Inference on purpose in train mode: an explicit `model.train()` in the region (Monte Carlo
  dropout) or an optimizer step there (test-time training).
- Models known to hold no dropout or batch norm (there `eval()` is good practice, not a fix).
- A model built in the same function and never trained or loaded: a shape smoke test
  (`net = ResNet18(); print(net(torch.randn(1, 3, 32, 32)).shape)`).
- A model's own `generate` / `predict` method running `self(...)`: its caller sets the mode.
- The train/val phase loop that calls `model.train()` or `model.eval()` on every path.
- Functions that build or fetch rather than evaluate (`get_eval_model`, `build_test_loader`).
""",
    verifier="""
Runs the program with forward hooks on every module and, at the flagged call, records
`module.training`; then measures the effect: two forward passes on the same batch give
different outputs (dropout), and batch-norm running statistics change during the
"evaluation".
""",
    fix=f"""
{UNSAFE_FIX} inserts `model.eval()` before the region: as the first statement of an
evaluation function, or just before the evaluation loop. Where code after the region may
rely on training mode (the region runs inside a training loop, its function is called
from one, or its callers are outside the file), the previous mode is restored:
`was_training = model.training` before, `model.train(was_training)` after, in
`try/finally` when the function can return early. Not fixable when the model is not
known to be an `nn.Module` (only its name says so), is bound inside the region (a loop
variable), or when the region trains or turns gradients back on (`backward()`, an
optimizer step, `torch.enable_grad()`): there it is not only inference. Unsafe because
the outputs change.
""",
)

# -- runtime effect --------------------------------------------------------------------------------
@effect("GL101")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    calls = obs.at("forwards", at)
    if not calls:
        return Outcome(NOT_REPRODUCED, f"the line ran {times(obs.runs(at))} but called no nn.Module")
    name = module_of(calls)
    training = [c for c in calls if c["training"]]
    if not training:
        return Outcome(NOT_REPRODUCED, f"`{name}` was in eval mode at all {len(calls)} calls")
    parts = mode_effects([c for c in training if c.get("detailed")])
    if parts:
        layers = ", ".join(training[0]["mode_dep"]) or "mode-dependent code"
        return Outcome(CONFIRMED, "; ".join(parts) + f" ({name} in training mode at {len(training)} of "
                                                  f"{len(calls)} calls; {layers})")
    skipped = [c.get("rerun") for c in training if c.get("rerun")]
    if skipped:
        return Outcome(NOT_REPRODUCED, f"`{name}` ran in training mode; the repeat forward was {skipped[0]}")
    return Outcome(NOT_REPRODUCED, f"`{name}` ran in training mode but its outputs and buffers did not change "
                                   f"(mode-dependent layers: {', '.join(training[0]['mode_dep']) or 'none'})")


@scan("GL101")
def effect_anywhere(obs: Observations):
    calls = [c for c in obs.forwards if is_inference(c) and c.get("path")]
    found = []
    for at in sorted({(c["path"], c["line"]) for c in calls}):
        here = [c for c in calls if (c["path"], c["line"]) == at and c["training"] and c.get("detailed")]
        parts = mode_effects(here)
        if parts:
            found.append((at, "; ".join(parts) + f" ({module_of(here)} in training mode, never backpropagated)"))
    evaluated = sum(1 for c in calls if not c["training"])
    if not calls:
        return found, "no inference forward: every forward was backpropagated"
    return found, (f"{plural(len(calls), 'inference forward')}: {evaluated} in eval mode, "
                   f"{len(calls) - evaluated} in training mode without a measurable change")
