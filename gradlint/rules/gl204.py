"""GL204 inference-tensor-escapes-to-autograd: a tensor made under `inference_mode` used where autograd must save it.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL204``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

import re
from typing import Union

import libcst as cst

from ..docs import RuleDoc, UNSAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of, expression, torch_ref
from ..verify.effects import Outcome, effect, raised_at, raised_scan, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule

_SAVING_OPERATORS = (cst.Multiply, cst.MatrixMultiply, cst.Divide, cst.Power)
_NOT_SAVING = frozenset({"torch.cat", "torch.stack", "torch.concat", "torch.concatenate", "torch.hstack",
                         "torch.vstack", "torch.add", "torch.sub", "torch.subtract"})
_SAVING_METHODS = frozenset({"mul", "matmul", "mm", "bmm", "div", "pow", "dot", "mv", "einsum"})


# -- check -----------------------------------------------------------------------------------------
@rule("GL204", "inference-tensor-escapes-to-autograd", "error",
      "A tensor made under `inference_mode` is used in a computation that autograd must record.")
def check(facts):
    for use in facts.events.inference_uses.values():
        if facts.resolve_grad(use.fn, use.grad) != frozenset({"on"}) or not _saves_inputs(use):
            continue
        made = code_of(use.made).strip().splitlines()[0]
        if len(made) > 40:
            made = made[:37] + "..."
        yield Report(use.node, f"`{made}` was made under `torch.inference_mode()`: using it here raises "
                               f"RuntimeError",
                     lambda u=use: no_grad_instead(facts, u),
                     "autograd cannot save an inference tensor for backward; make it under `torch.no_grad()`, "
                     "or use a `.clone()` of it here")


def _saves_inputs(use) -> bool:
    """Operations whose backward needs their inputs: a trainable model, a loss, products, most torch
    functions (not concatenations and sums, whose backward needs no input)."""
    how = use.how
    if how in ("the model's output", "a loss"):
        return True
    node = use.node
    if isinstance(node, cst.BinaryOperation):
        return isinstance(node.operator, _SAVING_OPERATORS)
    if how.startswith("`.") and how.endswith("()`"):
        return how[2:-3] in _SAVING_METHODS
    if how.startswith("`torch."):
        return how.strip("`") not in _NOT_SAVING
    return False


# -- fix -------------------------------------------------------------------------------------------
def no_grad_instead(facts, use) -> Union[Fix, NotFixable]:
    """GL204: the ``inference_mode`` context (or decorator) that made the tensor becomes ``no_grad``."""
    context = facts.events.inference_made.get(use.made)
    if context is None:
        return NotFixable("the inference_mode context is not in this file")
    ref, imports = torch_ref(facts.module, "no_grad")
    if isinstance(context, cst.Call):
        new = cst.Call(func=expression(ref))
    else:
        new = expression(ref)
    return Fix((Edit(context, lambda updated: new),), f"make it under `{ref}()` instead of `inference_mode`",
               safe=False, imports=imports)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL204",
    what="""
Finds a tensor made under `torch.inference_mode()` (a `with` block or the decorator) that is
used later, with gradients on, in an operation whose backward needs its inputs: a trainable
model, a loss, a product or most other torch functions, next to a tensor that requires
grad. The finding points at that use.
""",
    why="""
Inference tensors are cheaper than `no_grad` tensors because autograd may never record
them: when an operation outside inference mode would have to save one for backward (a
linear layer's input, a loss's target), torch raises `RuntimeError: Inference tensors
cannot be saved for backward`. It happens as soon as features or targets precomputed under
`inference_mode` (a frozen encoder, a teacher model) meet a trainable part. `.detach()`
does not help; a `.clone()` made outside inference mode is a normal tensor.
""",
    example="""
import torch
import torch.nn as nn

encoder, head = nn.Linear(32, 16), nn.Linear(16, 2)
x, y = torch.randn(8, 32), torch.randint(0, 2, (8,))
with torch.inference_mode():
    features = encoder(x)
loss = nn.functional.cross_entropy(head(features), y)
loss.backward()
""",
    use_instead="""
import torch
import torch.nn as nn

encoder, head = nn.Linear(32, 16), nn.Linear(16, 2)
x, y = torch.randn(8, 32), torch.randint(0, 2, (8,))
with torch.no_grad():
    features = encoder(x)
loss = nn.functional.cross_entropy(head(features), y)
loss.backward()
""",
    not_flagged="""
- A `.clone()` (or any new tensor computed outside inference mode) of the inference tensor.
- Uses with gradients off (`no_grad`, inference mode), or next to tensors that do not
  require grad, and operations whose backward saves nothing (`+`, `-`, `torch.cat`).
- Tensors made under `no_grad` (they are ordinary tensors).
""",
    verifier="""
The `RuntimeError` torch raises at the flagged operation ("Inference tensors cannot be saved
for backward").
""",
    fix=f"""
{UNSAFE_FIX} replaces the `torch.inference_mode()` that made the tensor (the `with` item or
the decorator) with `torch.no_grad()`. Unsafe because every tensor made in that block becomes
a normal tensor (slightly slower, and allowed into autograd everywhere).
""",
)

# -- runtime effect --------------------------------------------------------------------------------
_INFERENCE_SAVED = re.compile(r"[Ii]nference tensors cannot be saved for backward")


@effect("GL204")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    return raised_at(obs, at, "RuntimeError", _INFERENCE_SAVED, "the operation ran")


@scan("GL204")
def effect_anywhere(obs: Observations):
    return raised_scan(obs, "RuntimeError", _INFERENCE_SAVED, "no inference tensor reached autograd")
