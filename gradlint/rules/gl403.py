"""GL403 in-place-update-of-leaf-outside-no-grad: `w -= lr * w.grad` on a leaf that requires grad, with gradients on.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL403``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

import re
from typing import Union

import libcst as cst

from ..docs import RuleDoc, SAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import enclosing_statement, expression, torch_ref, with_block
from ..verify.effects import Outcome, effect, raised_at, raised_scan, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule


# -- check -----------------------------------------------------------------------------------------
@rule("GL403", "in-place-update-of-leaf-outside-no-grad", "error",
      "An in-place update (`w -= lr * w.grad`, `w.add_()`) of a leaf that requires grad, with gradients on.")
def check(facts):
    for event in facts.events.inplace_updates.values():
        if event.frozen or facts.resolve_grad(event.fn, event.grad) != frozenset({"on"}):
            continue
        target = event.target
        if target.kind == "tensor":
            if facts.resolve_tensor(event.fn, target.tensor) != frozenset({"leaf_rg"}):
                continue
            what = f"`{event.name}` (a leaf that requires grad)"
        else:
            what = f"`{event.name}` (a parameter of `{target.key}`)"
        yield Report(event.node, f"{what} is updated in place ({event.how}) with gradients on: RuntimeError",
                     lambda e=event: under_no_grad(facts, e),
                     "autograd refuses to change a leaf that requires grad in place (a leaf Variable that "
                     "requires grad is being used in an in-place operation); do the update inside "
                     "`with torch.no_grad():`")


# -- fix -------------------------------------------------------------------------------------------
def under_no_grad(facts, event) -> Union[Fix, NotFixable]:
    """The update's statement, alone, inside ``with torch.no_grad():``."""
    found = enclosing_statement(event.fn.node, event.node)
    if found is None:
        return NotFixable("the update is not a statement of its own")
    _, stmt = found
    if not isinstance(stmt, cst.SimpleStatementLine):
        return NotFixable("the update is inside a one-line compound statement")
    if len(stmt.body) != 1:
        return NotFixable("the update shares its line with other statements")
    ref, imports = torch_ref(facts.module, "no_grad")
    return Fix((Edit(stmt, lambda updated: with_block(expression(f"{ref}()"), [updated])),),
               f"do the update inside `with {ref}():`", safe=True, imports=imports)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL403",
    what="""
Finds an in-place update of a leaf tensor that requires grad (`w -= lr * w.grad`,
`w.sub_(...)`, `w.add_(...)`, `w.copy_(...)`, `w[i] = ...`), or of a model's parameter
(`for p in model.parameters(): p.add_(...)`, `model.emb.weight.copy_(vectors)`), where
gradient tracking is on: not under `torch.no_grad()`, in a function whose callers (in the
file, and across the project) all run it with gradients on. Writes through `.data` are
left alone.
""",
    why="""
Autograd forbids writing in place to a leaf that requires grad while it records: the
update raises `RuntimeError: a leaf Variable that requires grad is being used in an
in-place operation`, and the training step (or the loading of pretrained weights) never
happens. Manual gradient descent and weight surgery must run under `torch.no_grad()`,
which also keeps the tensor a leaf, so `w.grad` stays readable on the next step.
""",
    example="""
import torch

x, y = torch.randn(32, 3), torch.randn(32)
w = torch.zeros(3, requires_grad=True)
for step in range(5):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    w -= 0.1 * w.grad
    w.grad.zero_()
""",
    use_instead="""
import torch

x, y = torch.randn(32, 3), torch.randn(32)
w = torch.zeros(3, requires_grad=True)
for step in range(5):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= 0.1 * w.grad
    w.grad.zero_()
""",
    not_flagged="""
- Updates under `torch.no_grad()` / `inference_mode()`, in functions decorated with them, or
  called only from such regions; functions whose callers are unknown (gradient mode unknown).
- Writes through `.data` (`w.data -= ...`), to `.grad`, and to tensors that do not require
  grad (buffers, frozen parameters).
- `w = w - lr * w.grad` rebinds the name to a new, computed tensor (no error, but `w` is then
  a non-leaf: GL401 reports the `.grad` read).
""",
    verifier="""
The `RuntimeError` torch raises at the flagged update ("a leaf Variable that requires grad
is being used in an in-place operation", or "a view of a leaf Variable ..." for an indexed
write).
""",
    fix=f"""
{SAFE_FIX} puts the update's statement inside `with torch.no_grad():` (named as the file
names torch). Not applied when the statement shares its line with others, or sits in a
one-line `for` / `if` body.
""",
)

# -- runtime effect --------------------------------------------------------------------------------
_LEAF_IN_PLACE = re.compile(r"leaf Variable that requires grad (is being|has been) used in an in-place operation")


@effect("GL403")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    return raised_at(obs, at, "RuntimeError", _LEAF_IN_PLACE, "the update ran")


@scan("GL403")
def effect_anywhere(obs: Observations):
    return raised_scan(obs, "RuntimeError", _LEAF_IN_PLACE, "no in-place update of a leaf failed")
