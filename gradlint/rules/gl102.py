"""GL102 mode-method-not-called: `model.eval`, `.train`, `optimizer.zero_grad`, `.step` written without `()`.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL102``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import Union

import libcst as cst

from ..docs import RuleDoc, SAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, num, plural
from ..verify.observations import Anchor, Observations
from . import Report, rule


# -- check -----------------------------------------------------------------------------------------
@rule("GL102", "mode-method-not-called", "error",
      '`model.eval`, `model.train`, `optimizer.zero_grad` or `optimizer.step` written without `()`.')
def check(facts):
    for event in facts.events.syntactic.values():
        if event.code == "GL102":
            method = code_of(event.node.value)
            yield Report(event.node, f"`{method}` is not called: it does nothing",
                         lambda e=event: call_method(e), f"write `{method}()`")


# -- fix -------------------------------------------------------------------------------------------
def call_method(event) -> Union[Fix, NotFixable]:
    """GL102: the bare attribute becomes the call it was meant to be."""
    node = event.node
    if not isinstance(node, cst.Expr) or not isinstance(node.value, cst.Attribute):
        return NotFixable("not a bare attribute statement")
    text = code_of(node.value)

    def called(updated: cst.Expr) -> cst.Expr:
        return updated.with_changes(value=cst.Call(func=updated.value))

    return Fix((Edit(node, called),), f"call `{text}()`", safe=True)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL102",
    what="""
Finds `model.eval`, `model.train`, `optimizer.zero_grad` or `optimizer.step` written as a
statement without the call parentheses.
""",
    why="""
The statement only looks up the bound method and throws it away: the model stays in
training mode, the gradients are not reset, or the weights are not updated. Python raises
no error, so the mistake survives review and silently changes the results.
""",
    example="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))
model.eval
with torch.no_grad():
    predictions = model(torch.randn(4, 16)).argmax(1)
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))
model.eval()
with torch.no_grad():
    predictions = model(torch.randn(4, 16)).argmax(1)
""",
    verifier="""
The statement's missing effect: after it runs, the module's `training` flag is unchanged
(`eval`/`train`), the gradients are not reset (`zero_grad`), or the parameters are
unchanged (`step`).
""",
    fix=f"{SAFE_FIX} adds the call: `model.eval` becomes `model.eval()`.",
)

# -- runtime effect --------------------------------------------------------------------------------
@effect("GL102")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    probes = obs.at("probes", at)
    if not probes:
        return Outcome(NOT_REPRODUCED, "the statement ran but was not measured")
    attr, subject = probes[0].get("attr"), probes[0].get("subject") or "the object"
    afters = [p["after"].get("subject") or {} for p in probes if "after" in p]
    runs = len(afters)
    if attr in ("eval", "train"):
        modules = [a for a in afters if a.get("kind") == "module"]
        if not modules:
            return Outcome(NOT_REPRODUCED, f"`{subject}` is not an nn.Module at run time")
        wanted = attr == "train"
        wrong = [a for a in modules if a["training"] != wanted]
        if wrong:
            return Outcome(CONFIRMED, f"`{subject}.training` is still {not wanted} after `{subject}.{attr}` "
                                      f"({len(wrong)} of {plural(runs, 'run')})")
        return Outcome(NOT_REPRODUCED, f"`{subject}` was already in {'training' if wanted else 'eval'} mode "
                                       f"each time the line ran")
    optimizers = [a for a in afters if a.get("kind") == "optimizer"]
    if not optimizers:
        return Outcome(NOT_REPRODUCED, f"`{subject}` is not a torch.optim optimizer at run time")
    if attr == "zero_grad":
        norms = [a.get("grad_norm") for a in optimizers]
        kept = [n for n in norms if n]
        if kept:
            trail = " -> ".join(num(n) for n in kept[:6])
            growth = f" ({num(kept[-1] / kept[0])}x: gradients add up across iterations)" if len(kept) > 1 else ""
            return Outcome(CONFIRMED, f"gradients not reset: grad norm after the line {trail}{growth}")
        return Outcome(NOT_REPRODUCED, "no gradient was held when the line ran")
    if attr == "step":
        serial = optimizers[0].get("serial")
        steps = sum(o["steps"] for o in obs.all("optimizers") if o.get("serial") == serial)
        moved = obs.at("movement", at)
        delta = max((m["moved"] for m in moved), default=None)
        if delta == 0 and steps == 0:
            return Outcome(CONFIRMED, f"weights unchanged after {runs} iterations (max |dW| 0); "
                                      f"`{subject}.step()` ran 0 times")
        return Outcome(NOT_REPRODUCED, f"weights moved by {num(delta)} ({steps} optimizer steps elsewhere)")
    return Outcome(NOT_REPRODUCED, f"bare `{subject}.{attr}`: no measured effect")
