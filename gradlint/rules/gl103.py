"""GL103 train-mode-not-restored: a training loop leaves a model in eval mode for its next training step.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL103``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import List, Optional, Union

import libcst as cst

from ..facts.values import EVAL, LOADED, NEW, TRAIN, TRAIN_SET, UNKNOWN
from ..docs import RuleDoc, UNSAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of, is_dotted, lead, path_to, statement
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, plural, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule
from .common import inside_own_model, is_model_call, mode_dependent, owned_by_framework, shown


# -- check -----------------------------------------------------------------------------------------
@rule("GL103", "train-mode-not-restored", "error",
      'A training loop switches a model to eval mode and its next training step runs without `.train()`.')
def check(facts):
    reported = set()
    for event in facts.events.forward_calls.values():
        if event.regions or owned_by_framework(facts, event) or inside_own_model(event):
            continue
        if not is_model_call(facts, event) or mode_dependent(facts, event) is not True:
            continue  # (no dropout or batch norm: eval mode changes nothing in its training)
        if facts.resolve_grad(event.fn, event.grad) == frozenset({"off"}):
            continue
        if not (facts.in_training_loop(event.loops) or facts.runs_in_training_loop(event.fn)):
            continue
        modes = facts.resolve_modes(event.fn, event.modes)
        if not {kind for kind, _ in modes} & {TRAIN, TRAIN_SET, NEW, UNKNOWN, LOADED}:
            continue  # always eval here: eval-mode training on purpose
        # loops that switch this model back to train mode themselves (the train/val phase loop)
        restoring = {id(loop) for kind, setter in modes if kind == TRAIN_SET and setter is not None
                     for loop in facts.setter_loops(setter)}
        for kind, setter in modes:
            if kind != EVAL or setter is None or setter in reported:
                continue
            loops = [loop for loop in facts.setter_loops(setter) if loop.trains]
            if not loops or any(id(loop) in restoring for loop in loops):
                continue
            reported.add(setter)
            name = shown(event)
            text = code_of(setter)
            if text.endswith(".eval()") or ".train(" in text:
                what = f"`{text}` switches `{name}` to eval mode"
            else:
                what = f"`{text.split('(')[0]}(...)` leaves `{name}` in eval mode"
            yield Report(setter, f"{what} and the training loop's next step runs without `{name}.train()`",
                         lambda s=setter, e=event: train_where_training_resumes(facts, s, e),
                         f"call `{name}.train()` where training resumes")


# -- fix -------------------------------------------------------------------------------------------
_TRAINING_METHODS = frozenset({"backward", "step", "zero_grad"})


class _Trains(cst.CSTVisitor):
    """Does a statement run a training step: backward / step / zero_grad, a local function that
    trains, or a training forward of the model?"""

    def __init__(self, facts, fn, key: Optional[str]) -> None:
        self.facts, self.fn, self.key = facts, fn, key
        self.found = False

    def visit_Call(self, node: cst.Call) -> Optional[bool]:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in _TRAINING_METHODS:
            self.found = True
        elif isinstance(func, cst.Name):
            callee = self.facts.scopes.lookup(func.value, self.fn)
            if getattr(callee, "trains", False):
                self.found = True
        event = self.facts.events.forward_calls.get(node)
        if event is not None and not event.regions and event.key == self.key \
                and self.facts.resolve_grad(event.fn, event.grad) != frozenset({"off"}):
            self.found = True  # a forward that can be backpropagated (not an evaluation under no_grad)
        return not self.found


def _trains(facts, fn, key, stmt) -> bool:
    visitor = _Trains(facts, fn, key)
    stmt.visit(visitor)
    return visitor.found


def train_where_training_resumes(facts, setter: cst.Call, event) -> Union[Fix, NotFixable]:
    """GL103: ``model.train()`` before the first training statement after the one that switched
    to eval in the training loop's body, else at the start of the loop body (next iteration)."""
    loops = [loop for loop in facts.setter_loops(setter) if loop.trains]
    if not loops:
        return NotFixable("the training loop is not known")
    loop = next(loop for loop in loops if not any(other is not loop and other.inside(loop) for other in loops))
    body = getattr(loop.node, "body", None)
    if not isinstance(body, cst.IndentedBlock):
        return NotFixable("the training loop is written on one line")
    func = setter.func
    if isinstance(func, cst.Attribute) and func.attr.value in ("eval", "train") and is_dotted(func.value):
        model = code_of(func.value)
    elif event.fn is loop.fn and is_dotted(event.node.func):
        model = code_of(event.node.func)
    else:
        return NotFixable("the model's name in the training loop is not known")
    stmts = list(body.body)
    holder = next((i for i, s in enumerate(stmts) if _contains(s, setter)), None)
    if holder is None:
        return NotFixable("the eval call is not in the training loop's body")
    later = next((i for i in range(holder + 1, len(stmts)) if _trains(facts, loop.fn, event.key, stmts[i])), None)
    if later is None:
        if holder == 0:
            return NotFixable("the loop body starts with the eval call")
        later = 0
    target = stmts[later]
    new = statement(f"{model}.train()")

    def insert(updated: cst.BaseStatement):
        if later == 0:  # the top of the loop body: the comments above stay with their statement
            return cst.FlattenSentinel([new, updated])
        first, rest = lead(new, updated)
        return cst.FlattenSentinel([first, rest])

    where = "at the start of each iteration of the training loop" if later == 0 else "where training resumes"
    return Fix((Edit(target, insert),), f"call `{model}.train()` {where}", safe=False)


def _contains(stmt: cst.CSTNode, target: cst.CSTNode) -> bool:
    return path_to(stmt, target) is not None


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL103",
    what="""
Finds a training loop that switches a model to eval mode, directly (`model.eval()`) or
through a helper it calls (a `validate(model, ...)` that calls `model.eval()`), after
which the loop's next training step runs without `model.train()`. The finding points at
the `.eval()` call in the loop, or at the helper call that leaves the model in eval mode.
""",
    why="""
From the second epoch on, the model trains in eval mode: dropout is off and batch norm
uses frozen running statistics, so regularisation silently disappears and batch-norm
layers stop adapting. The first epoch looks normal, which hides the bug.
""",
    example="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(nn.functional.cross_entropy(model(x), y).item() for x, y in loader)


def train(model, train_loader, val_loader, epochs):
    model.train()
    for epoch in range(epochs):
        for x, y in train_loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, validate(model, val_loader))


train(model, train_loader=[], val_loader=[], epochs=3)
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(nn.functional.cross_entropy(model(x), y).item() for x, y in loader)


def train(model, train_loader, val_loader, epochs):
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, validate(model, val_loader))


train(model, train_loader=[], val_loader=[], epochs=3)
""",
    not_flagged="""
- Loops that call `model.train()` before the next training step (at the top of the
  epoch, at the end of the helper, or on the training path of a train/val phase loop).
- Training in eval mode throughout, on purpose (the model is never in train mode there).
- A model switched to eval right before each of its own uses in the loop (a distillation
  teacher), and calls of a model's parts inside its own methods.
- A model not known to hold dropout or batch norm (eval mode changes nothing for it, or the
  file cannot tell what its callers pass): as GL101, only with that evidence.
""",
    verifier="""
After the helper (or the `.eval()` call) returns, `model.training is False` at the next
training forward pass, and training forwards become deterministic (dropout is off).
""",
    fix=f"""
{UNSAFE_FIX} inserts `model.train()` where training resumes: before the first training
statement after the evaluation in the loop body, else at the start of the training
loop's body. Unsafe because training results change.
""",
)

# -- runtime effect --------------------------------------------------------------------------------
def _training_forwards(obs: Observations, module_id=None) -> List[dict]:
    return [f for f in obs.forwards if f["grad"] and f.get("backprop")
            and (module_id is None or f["mid"] == module_id)]


@effect("GL103")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    seqs = obs.hit_seqs.get(at) or []
    if not seqs:
        return Outcome(NOT_REPRODUCED, "the line was not measured")
    module_id = None
    for p in obs.at("probes", at):
        subject = (p.get("after") or {}).get("subject") or {}
        if p.get("attr") in ("eval", "train") and subject.get("kind") == "module":
            module_id = subject["id"]
    steps = _training_forwards(obs, module_id)
    nexts = []
    for s in seqs:
        later = [f for f in steps if f["seq"] > s]
        if later:
            nexts.append(later[0])
    if not nexts:
        return Outcome(NOT_REPRODUCED, "no training step ran after the line")
    in_eval = [f for f in nexts if not f["training"]]
    if not in_eval:
        return Outcome(NOT_REPRODUCED, f"training resumed in training mode after each of {len(nexts)} runs "
                                       f"of the line")
    first = in_eval[0]
    if not first["mode_dep"]:
        return Outcome(NOT_REPRODUCED, f"training ran in eval mode after the line, but `{first['module']}` has "
                                       f"no dropout or batch norm, so nothing changed")
    after = [f for f in steps if f["seq"] > seqs[0]]
    evaluated = [f for f in after if not f["training"]]
    return Outcome(CONFIRMED, f"after the line, {len(evaluated)} of {len(after)} training forwards "
                              f"(line {first['line']}) ran with `training=False`: "
                              f"{', '.join(first['mode_dep'])} inactive while training")


@scan("GL103")
def effect_anywhere(obs: Observations):
    steps = [f for f in _training_forwards(obs) if f.get("path")]
    found = []
    for at in sorted({(f["path"], f["line"]) for f in steps}):
        bad = [f for f in steps if (f["path"], f["line"]) == at and not f["training"] and f["mode_dep"]]
        if bad:
            found.append((at, f"{len(bad)} training forwards ran with `training=False` "
                              f"({', '.join(bad[0]['mode_dep'])} inactive)"))
    return found, f"{plural(len(steps), 'training forward')}, all in training mode or without mode-dependent layers"
