"""GL304 optimizer-misses-new-params: a submodule replaced after the optimizer was built from the model's parameters.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL304``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import Union

import libcst as cst

from ..docs import RuleDoc, UNSAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of, enclosing_statement, statement
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, num, plural, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule


# -- check -----------------------------------------------------------------------------------------
def short(node) -> str:
    """A call as a message shows it: `opt.step()`, `train(...)`."""
    text = code_of(node)
    return text if len(text) <= 40 else text.split("(", 1)[0] + "(...)"


def used(event) -> str:
    """How the optimizer is used after the miss: `opt.step()` or `train(...)`."""
    return short(event.use)


@rule("GL304", "optimizer-misses-new-params", "error",
      "A submodule is replaced after the optimizer was built from the model's parameters: the new layer never "
      "trains.")
def check(facts):
    for (node, code), event in facts.events.optimizer_misses.items():
        if code != "GL304":
            continue
        how = f"gets a new module in `{short(node)}`" if _helper(node) else "gets a new module"
        opt = event.optimizer
        yield Report(node, f"`{event.key}` {how} after `{opt}` was built: its new parameters never train",
                     lambda e=event: add_param_group(e),
                     f"`{used(event)}` uses `{opt}` afterwards without rebuilding it, so the new layer gets "
                     f"gradients but never changes; build the optimizer after the replacement, or call "
                     f"`{opt}.add_param_group(...)`")


def _helper(node) -> bool:
    """A call that is not ``setattr(...)``: a helper that replaces the submodule."""
    return isinstance(node, cst.Call) and not (isinstance(node.func, cst.Name) and node.func.value == "setattr")


# -- fix -------------------------------------------------------------------------------------------
def add_param_group(event) -> Union[Fix, NotFixable]:
    """``opt.add_param_group({"params": model.fc.parameters()})`` right after the replacement."""
    node = event.node
    if not isinstance(node, cst.Assign) or len(node.targets) != 1:
        return NotFixable("the submodule is replaced by a call (a helper or `setattr`)")
    if event.optimizer == "the optimizer" or not all(p.isidentifier() for p in event.optimizer.split(".")):
        return NotFixable("the optimizer has no name to call `add_param_group` on")
    found = enclosing_statement(event.fn.node, node)
    if found is None or not isinstance(found[1], cst.SimpleStatementLine):
        return NotFixable("the replacement is not a statement of its own")
    target = code_of(node.targets[0].target)
    added = statement(f'{event.optimizer}.add_param_group({{"params": {target}.parameters()}})')
    return Fix((Edit(found[1], lambda updated: cst.FlattenSentinel([updated, added])),),
               f"give `{event.optimizer}` the new layer's parameters: `{event.optimizer}.add_param_group(...)`",
               safe=False)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL304",
    what="""
Finds a submodule replaced (`model.fc = nn.Linear(...)`, `model[2] = ...`,
`setattr(model, "fc", ...)`, or a helper that does it, in this file or another) after an
optimizer was built from that model's parameters, when the optimizer is then stepped (or
handed to a function that trains) without being rebuilt or given `add_param_group`. The
finding points at the replacement.
""",
    why="""
An optimizer holds the parameter tensors it was given when it was built. A new layer brings
new tensors: they get gradients in `backward()`, but no optimizer updates them, so the new
head stays at its random initialization while the loss curve still moves (the rest of the
model trains). The usual case is transfer learning that builds the optimizer first and
swaps the classifier afterwards.
""",
    example="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model[2] = nn.Linear(8, 2)
for _ in range(3):
    optimizer.zero_grad()
    model(torch.randn(4, 8)).sum().backward()
    optimizer.step()
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 10))
model[2] = nn.Linear(8, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(3):
    optimizer.zero_grad()
    model(torch.randn(4, 8)).sum().backward()
    optimizer.step()
""",
    not_flagged="""
- A replacement before the optimizer is built, or followed by a rebuild, `add_param_group`, a
  second optimizer built for the new layer, or param groups rewritten by hand
  (`group["params"] = ...`).
- `.to()` / `.cuda()` / `.half()` (they move parameters in place), DDP / DataParallel /
  `torch.compile` wrappers (they share the parameters), parameter-free modules
  (`model.act = nn.ReLU()`), and a part of the same model moved around.
- Rebinding the whole model name (`model = Net()`): that is a new model, not a new layer.
""",
    verifier="""
A parameter-registration hook records the parameters created while the flagged statement
ran; optimizer step hooks count the steps at which each parameter held a gradient and which
parameters the optimizers hold. Confirmed when the new parameters got gradients at optimizer
steps after the line, no optimizer held them, and they never changed (max |dW| after the line).
""",
    fix=f"""
{UNSAFE_FIX} adds `optimizer.add_param_group({{"params": model.fc.parameters()}})` right after
the replacement. Unsafe because the new group starts from the optimizer's default
hyperparameters, and learning-rate schedulers built earlier do not know the new group; building
the optimizer after the replacement is the better change. Not offered when the replacement is
a call (a helper, `setattr`).
""",
)


# -- runtime effect --------------------------------------------------------------------------------
def missed(obs: Observations, at: Anchor, group: str, made: str) -> Outcome:
    """The parameters ``made`` (created / unfrozen) at the line: held by an optimizer, or trained by none."""
    rows = obs.at("param_changes", at)
    if not rows or not rows[0][group]:
        return Outcome(NOT_REPRODUCED, f"no parameter was {made} at the line")
    row = rows[0]
    count = plural(row[group], "parameter")
    shapes = ", ".join("x".join(map(str, s)) for s in row[f"{group}_shapes"])
    if row[f"{group}_held"]:
        return Outcome(NOT_REPRODUCED, f"{count} {made} at the line ({shapes}); an optimizer holds "
                                       f"{row[f'{group}_held']} of them (moved by {num(row[f'{group}_moved'])})")
    if not row["steps_after"]:
        return Outcome(NOT_REPRODUCED, f"{count} {made} at the line ({shapes}), but no optimizer stepped after it")
    if not row[f"{group}_with_grad"]:
        return Outcome(NOT_REPRODUCED, f"{count} {made} at the line ({shapes}) never held a gradient at the "
                                       f"{plural(row['steps_after'], 'optimizer step')} after it")
    return Outcome(CONFIRMED, f"{count} {made} at the line ({shapes}) held gradients at {row[f'{group}_grad_steps']} "
                              f"of {plural(row['steps_after'], 'optimizer step')} after it, but no optimizer holds "
                              f"them: they never changed (max |dW| {num(row[f'{group}_moved'])})")


def orphans(obs: Observations):
    """Parameters anywhere in the run that got gradients while optimizers stepped, and that no
    optimizer held (by the line that created them)."""
    found = [o for o in obs.all("param_orphans") if o.get("path")]
    return ([((o["path"], o["line"]), f"{plural(o['params'], 'parameter')} created here held gradients at "
                                      f"{o['grad_steps']} optimizer steps, but no optimizer holds them "
                                      f"(max |dW| {num(o['moved'])})") for o in found],
            "every parameter that got gradients is held by an optimizer")


@effect("GL304")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    return missed(obs, at, "new", "created")


@scan("GL304")
def effect_anywhere(obs: Observations):
    return orphans(obs)
