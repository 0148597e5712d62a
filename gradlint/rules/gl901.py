"""GL901 forward-called-directly: `model.forward(x)` on a module from outside its own class hierarchy.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL901``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

import ast
from typing import Union

import libcst as cst

from ..docs import RuleDoc, UNSAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, candidates, effect, plural
from ..verify.observations import Anchor, Observations
from . import Report, rule
from .common import model_value


# -- check -----------------------------------------------------------------------------------------
@rule("GL901", "forward-called-directly", "warning",
      "`model.forward(x)` bypasses the module's hooks.")
def check(facts):
    for event in facts.events.forward_methods.values():
        func = event.node.func
        if _own(event, func.value):
            continue
        if model_value(facts, event).kind != "module" and not (event.key and event.key in event.fn.modulelike):
            continue
        shown = code_of(func.value)
        yield Report(event.node, (f"`{shown}.forward(...)` skips `{shown}.__call__`: forward hooks and pre-hooks "
                                  f"registered on it (by you or by libraries: profilers, pruning, quantization "
                                  f"observers, FSDP) do not run; call `{shown}(...)`"),
                     lambda e=event: call_module(e))


def _own(event, receiver: cst.BaseExpression) -> bool:
    """``self.forward(x)`` in the class's own methods: the module's own hierarchy (``super().forward``
    never reaches here: it is no model call)."""
    fn = event.fn
    while fn is not None and not fn.is_module_level and fn.cls is None:
        fn = fn.parent  # a function nested in a method sees its `self`
    return (isinstance(receiver, cst.Name) and fn is not None and fn.cls is not None and bool(fn.params)
            and receiver.value == fn.params[0])


# -- fix -------------------------------------------------------------------------------------------
def call_module(event) -> Union[Fix, NotFixable]:
    """GL901: ``model.forward(x)`` -> ``model(x)`` (hooks then run: unsafe)."""
    func = event.node.func
    receiver = func.value
    if not isinstance(receiver, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)):
        return NotFixable("the module is not called through a name")
    return Fix((Edit(event.node, lambda updated: updated.with_changes(func=updated.func.value)),),
               f"call `{code_of(receiver)}(...)`", safe=False)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL901",
    what="""
Finds `module.forward(...)` called on an `nn.Module` from outside the module's own class
hierarchy: from training or inference code, or from another module's methods
(`self.encoder.forward(x)`).
""",
    why="""
`module(x)` runs `nn.Module.__call__`, which runs the forward pre-hooks and hooks registered
on the module, then `forward`. Calling `forward` directly skips all of them: feature
extractors and activation recorders see nothing, pruning masks and quantization observers
are not applied, profilers and FSDP / DeepSpeed wrappers that rely on hooks do not run, and
the results differ from `module(x)` as soon as anyone registers a hook.
""",
    example="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))
features = []
model.register_forward_hook(lambda module, inputs, output: features.append(output))
with torch.no_grad():
    out = model.forward(torch.randn(4, 16))
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))
features = []
model.register_forward_hook(lambda module, inputs, output: features.append(output))
with torch.no_grad():
    out = model(torch.randn(4, 16))
""",
    not_flagged="""
- `super().forward(x)` and `Base.forward(self, x)` in a subclass, and `self.forward(x)` in the
  module's own methods (its hierarchy: `self(...)` there would recurse through `__call__`).
- `forward` of objects that are not known to be modules (a plain class with a `forward`
  method).
""",
    verifier="""
At the flagged statement, registers a forward hook on the module whose `forward` is
called, for the duration of the statement, and counts its runs: it does not run. (The same
hook runs once per call of `module(...)`.)
""",
    fix=f"""
{UNSAFE_FIX} calls the module: `model.forward(x)` becomes `model(x)`. Unsafe because the
module's hooks then run, which changes what they record or modify.
""",
)


# -- runtime effect --------------------------------------------------------------------------------
@effect("GL901")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    records = obs.at("direct_forwards", at)
    if not records:
        return Outcome(NOT_REPRODUCED, f"the statement ran {plural(obs.runs(at), 'time')} but no module's `forward` "
                                       f"receiver could be hooked there")
    skipped = [r for r in records if r["hook_runs"] == 0]
    module = records[0]["module"]
    if skipped:
        return Outcome(CONFIRMED, f"a forward hook registered on `{module}` did not run: the statement ran "
                                  f"{plural(len(records), 'time')} with the hook in place and it ran "
                                  f"{sum(r['hook_runs'] for r in records)} times")
    return Outcome(NOT_REPRODUCED, f"the hook on `{module}` ran {sum(r['hook_runs'] for r in records)} times "
                                   f"over {plural(len(records), 'execution')} of the statement")


@candidates("GL901")
def direct_forward_statements(stmt, subject) -> bool:
    """Statements calling ``x.forward(...)`` on something other than ``self`` / ``super()``."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor, ast.While,
                         ast.If, ast.With, ast.AsyncWith, ast.Try)):
        return False  # compound statements: their bodies' statements are picked on their own
    for node in ast.walk(stmt):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "forward":
            receiver = node.func.value
            if not (isinstance(receiver, ast.Name) and receiver.id == "self") and not isinstance(receiver, ast.Call):
                return True
    return False
