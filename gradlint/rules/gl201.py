"""GL201 grad-mode-missing-in-eval: a model run in an inference region with gradient tracking on.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL201``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import List, Union

from ..facts.values import EVAL, NEW
from ..docs import RuleDoc, UNSAFE_FIX
from ..fixes import Fix, NotFixable
from ..fixes.regions import no_grad_edit, no_grad_imports, place
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, is_inference, plural, scan, size, times
from ..verify.observations import Anchor, Observations
from . import Report, rule
from .common import FirstPerRegion, caller_owns_mode, inference_calls, model_value, shown


# -- check -----------------------------------------------------------------------------------------
@rule("GL201", "grad-mode-missing-in-eval", "warning",
      'A model runs in an inference region with gradient tracking on.')
def check(facts):
    if facts.events.volatile:
        return  # `volatile=True` was torch < 0.4's no_grad: the file disables gradients its torch's way
    first = FirstPerRegion()
    for event in inference_calls(facts):
        if event.generate:
            continue  # Hugging Face decorates generate() with no_grad
        if any(r.uses_grad or r.hands_model_out for r in event.regions):
            continue  # gradient-based inference (saliency, attacks, test-time training)
        grad = facts.resolve_grad(event.fn, event.grad)
        if model_value(facts, event).has_params is False:
            continue  # no parameters: it records no graph of its own
        if event.frozen:
            continue  # `model.requires_grad_(False)`: its parameters record no graph either
        if "flag" in grad:
            continue  # `torch.set_grad_enabled(flag)`: the program chooses the mode here
        if not grad & {"on", "unknown"}:
            continue
        kinds = {kind for kind, _ in facts.resolve_modes(event.fn, event.modes)}
        if kinds == {NEW}:
            continue  # a model built here and never trained or loaded: a shape smoke test
        if event.untouched and kinds <= {NEW, EVAL} and all(r.kind == "behaviour" for r in event.regions):
            continue  # the same after `.eval()`, when only the `.eval()` makes it inference code
        if "on" not in grad and caller_owns_mode(event):
            continue
        if not first(event):
            continue
        region = event.regions[0]
        name = shown(event)
        if "on" in grad:
            message = f"`{name}` runs with gradient tracking in this {region.label}"
            help = ("wrap it in `with torch.no_grad():`: autograd keeps every activation for a backward "
                    "pass that never comes")
        else:
            message = f"`{name}` may run with gradient tracking in this {region.label}"
            help = "no `torch.no_grad()` reaches this call in this file; wrap it in `with torch.no_grad():`"
        yield Report(event.node, message, lambda e=event: no_grad_for_region(facts, e), help)


# -- fix -------------------------------------------------------------------------------------------
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


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL201",
    what="""
Finds a model run in an inference region (evaluation, validation, test, prediction) with
gradient tracking on: the call is not under `torch.no_grad()`, `torch.inference_mode()`
or `torch.set_grad_enabled(False)` (as a context manager, a decorator, or in every
caller), and nothing in the region uses gradients (`backward`, `torch.autograd.grad`,
`.grad`, `requires_grad_`).
""",
    why="""
With gradients on, autograd records the graph of every forward pass and keeps the
activations a backward pass would need, for a backward pass that never comes. Inference
then uses several times the memory (often the difference between fitting a batch on the
GPU or not) and runs slower. Results are unchanged, which is why this goes unnoticed.
""",
    example="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))


def predict(model, loader):
    model.eval()
    return [model(x).argmax(1) for x in loader]
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))


@torch.no_grad()
def predict(model, loader):
    model.eval()
    return [model(x).argmax(1) for x in loader]
""",
    not_flagged="""
- Gradient-based inference: saliency maps, adversarial attacks, influence functions and
  test-time training use gradients in the region on purpose.
- Regions reached only from callers that already disable gradients, in either decorator
  spelling (`@torch.no_grad()` / `@torch.no_grad`) and through aliases
  (`import torch as T`, `from torch import no_grad`, `torch.autograd.no_grad`), or a
  project decorator named for it (`@smart_inference_mode()`).
- A model handed to an opaque function in the region (an attack or attribution library may
  need its gradients), and `model.generate(...)` (Hugging Face decorates it with no_grad).
- A model built in the same function and never trained or loaded: a shape smoke test on
  random weights; after `.eval()` too, when nothing but the `.eval()` makes it inference
  code (no evaluation loader, loop or function).
- A model (or a part of one) whose every parameter is frozen: `model.requires_grad_(False)`,
  or `param.requires_grad = False` in a loop over its `.parameters()` with no condition,
  unless a part of it was unfrozen or replaced by a new layer since.
""",
    verifier="""
At the flagged call the outputs have `requires_grad=True`, and the bytes saved for
backward (measured with `torch.autograd.graph.saved_tensors_hooks`) are greater than 0,
against 0 in the fixed code; on CUDA the peak memory is higher.
""",
    fix=f"""
{UNSAFE_FIX} decorates an evaluation function with `@torch.no_grad()` (the body is not
re-indented), or wraps the evaluation loop in `with torch.no_grad():`, naming torch as
the file does and adding `import torch` when nothing names it. Not fixable when the
model is not known to be an `nn.Module`, or when the region trains or turns gradients back
on (`backward()`, an optimizer step, `torch.set_grad_enabled(True)`, `torch.enable_grad()`).
Unsafe because the outputs no longer carry gradients, which later code might have used.
""",
)

# -- runtime effect --------------------------------------------------------------------------------
def _waste(calls: List[dict]) -> List[dict]:
    return [c for c in calls if c["grad"] and not c["inference"] and is_inference(c) and c.get("saved_bytes")]


def _waste_text(calls: List[dict]) -> str:
    saved = [c["saved_bytes"] for c in calls]
    text = f"{size(sum(saved) / len(saved))} saved for backward per call, never used"
    mem = [c["cuda_mem"] for c in calls if c.get("cuda_mem") is not None]
    if mem:
        text += f"; CUDA memory held after the call +{size(max(mem))}"
    return text


@effect("GL201")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    calls = obs.at("forwards", at)
    if not calls:
        return Outcome(NOT_REPRODUCED, f"the line ran {times(obs.runs(at))} but called no nn.Module")
    on = [c for c in calls if c["grad"] and not c["inference"]]
    if not on:
        return Outcome(NOT_REPRODUCED, f"gradient tracking was off at all {len(calls)} calls")
    wasted = _waste([c for c in on if c.get("detailed")])
    if wasted:
        return Outcome(CONFIRMED, _waste_text(wasted) + f" ({len(on)} of {len(calls)} calls with grad on)")
    if all(c.get("backprop") for c in on):
        return Outcome(NOT_REPRODUCED, "the outputs were backpropagated: the gradients were used")
    return Outcome(NOT_REPRODUCED, "nothing was saved for backward (no parameter or input requires grad)")


@scan("GL201")
def effect_anywhere(obs: Observations):
    calls = [c for c in obs.forwards if c.get("path") and c.get("detailed")]
    found = []
    for at in sorted({(c["path"], c["line"]) for c in calls}):
        wasted = _waste([c for c in calls if (c["path"], c["line"]) == at])
        if wasted:
            found.append((at, _waste_text(wasted)))
    inference = [c for c in obs.forwards if is_inference(c)]
    off = sum(1 for c in inference if not c["grad"] or c["inference"])
    if not inference:
        return found, "every forward was backpropagated (gradients used)"
    return found, (f"{plural(len(inference), 'forward')} never backpropagated: {off} with gradients off, "
                   f"the rest saved nothing for backward")
