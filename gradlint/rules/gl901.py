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
    if facts.is_test_file:
        return  # tests call `forward` on purpose (and reference implementations in test folders)
    for event in facts.events.forward_methods.values():
        func = event.node.func
        if _own(event, func.value):
            continue
        if model_value(facts, event).kind != "module" and not (event.key and event.key in event.fn.modulelike):
            continue
        why = _why_hooks_matter(facts, event, func.value)
        if why is None:
            continue
        shown = code_of(func.value)
        yield Report(event.node, f"`{shown}.forward(...)` skips `{shown}.__call__`: {why}",
                     lambda e=event: call_module(e), f"call `{shown}(...)`")


def _own(event, receiver: cst.BaseExpression) -> bool:
    """``self.forward(x)`` in the class's own methods: the module's own hierarchy (``super().forward``
    never reaches here: it is no model call)."""
    fn = event.fn.method
    return (isinstance(receiver, cst.Name) and fn is not None and bool(fn.params)
            and receiver.value == fn.params[0])


def _why_hooks_matter(facts, event, receiver) -> str:
    """Evidence that skipping ``__call__`` loses something: hooks put on the module in this file (or on
    every module), a DataParallel / DDP wrapper's ``.module``, or hooks put on a part of an instance
    whose own code calls that part's ``forward``. None without such evidence: without hooks,
    ``module(x)`` and ``module.forward(x)`` run the same code."""
    hooked = facts.events.hooked
    if None in hooked:
        return f"the forward hooks that {hooked[None]} puts on every module do not run for it"
    if event.key in hooked:
        return f"the hooks this file puts on it ({hooked[event.key]}) do not run"
    method = event.fn.method
    if isinstance(receiver, cst.Attribute) and receiver.attr.value == "module" and not _own_attribute(method, receiver):
        return "the DataParallel / DistributedDataParallel wrapper's forward (scatter, gradient sync) is skipped"
    if method is not None and method.cls.is_module and event.key and event.key.startswith(method.params[0] + "."):
        # self.encoder.forward(x) in Model's code: hooks this file puts on `model.encoder` of a Model
        if id(method.cls) in facts.events.hooking_classes:
            return "the hooks this class's own methods register on its parts do not run"
        part = event.key.split(".", 1)[1]
        env = facts.interpreter.module_env
        for key in hooked:
            if key and key.endswith("." + part):
                owner = env.get(key[:-len(part) - 1])
                if owner is not None and owner.cls is method.cls:
                    return f"the hooks on `{key}` do not run"
    return None


def _own_attribute(method, receiver: cst.Attribute) -> bool:
    """``self.module`` in the methods of a class that is no DataParallel / DDP wrapper: the class's
    own attribute (a wrapped network, `self.module = module`), not a wrapper's ``.module``."""
    if method is None or not method.params or not isinstance(receiver.value, cst.Name) \
            or receiver.value.value != method.params[0]:
        return False
    return not any(q and q.rsplit(".", 1)[-1] in ("DataParallel", "DistributedDataParallel")
                   for c in method.cls.all_classes() for q in c.base_quals)


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
hierarchy where skipping `module(...)` loses something: a module this file puts hooks on
(or every module, with the global hook functions), a DataParallel / DDP wrapper's `.module`,
and a model's own methods calling a part of it (`self.encoder.forward(x)`) where this file
hooks that part of an instance (`model.encoder.register_forward_hook(...)`). Without hooks,
`module(x)` and `module.forward(x)` run the same code, so a direct call with no hook in
sight is style, not a finding.
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
  method), a model's parameter-free parts (a loss module), and test files.
- Scripts calling `model.forward(x)` on a module that nothing hooks: no hook is skipped there.
  The rule speaks when hooks are in evidence: registered on that module in the file
  (`register_forward_hook`, `register_forward_pre_hook`, and the pre-hooks of
  `nn.utils.weight_norm`, `nn.utils.spectral_norm` and pruning) or on every module (the
  global registration functions), a DataParallel / DDP wrapper's `.module`, or a model's own
  methods calling a part of it.
- `self.module.forward(x)` in a class that is no DataParallel / DDP wrapper: `self.module`
  is its own attribute (a wrapped network), not a wrapper's.
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
