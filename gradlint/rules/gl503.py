"""GL503 accumulated-loss-not-scaled: gradient accumulation whose loss is not divided by the number of steps.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL503``) and the runtime effect the verifier
measures. rules.md's row: GL503 | accumulated-loss-not-scaled | gradient accumulation
(`step()` every k iterations under an `% k` guard) whose loss is not divided by k: the
effective learning rate is k times larger | the `backward()` call | warning.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

import libcst as cst

from ..docs import RuleDoc, UNSAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of, expression, path_to
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, num, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule
from .common import is_model_call
from .steps import backwards, every_iteration, inside, steps_in

_UNKNOWN_DEPTH = 5


# -- check -----------------------------------------------------------------------------------------
@rule("GL503", "accumulated-loss-not-scaled", "warning",
      "Gradient accumulation over k iterations whose loss is not divided by k: a k times larger step.")
def check(facts):
    for b in backwards(facts):
        loss = _loss_of(b.node, facts)
        if loss is None or not b.loops:
            continue
        k = _accumulation(facts, b)
        if k is None or not every_iteration(b.loops[-1], b.node):
            continue
        scaler = _Scaled(facts, b.fn)
        if scaler.scaled(loss, 0) or _grads_divided(k[1]):
            continue
        shown = code_of(k[0])
        yield Report(b.node, f"`{code_of(loss)}` is not divided by `{shown}`, the number of iterations each "
                             f"`step()` sums",
                     lambda b=b, k=k: divide_loss(b, k[0], facts),
                     f"{k[2]}: it applies `{shown}` times the mean gradient (a learning rate `{shown}` times "
                     f"larger with SGD); backpropagate `{code_of(loss)} / {shown}`")


def _loss_of(node: cst.Call, facts) -> Optional[cst.BaseExpression]:
    """The tensor a ``.backward()`` differentiates (``scaler.scale(loss).backward()`` too), or None for
    framework backwards that scale the loss themselves (``accelerator.backward``, ``manual_backward``)."""
    func = node.func
    if isinstance(func, cst.Attribute) and func.attr.value == "backward" \
            and not any(a.keyword is None for a in node.args):
        return func.value
    if facts.scopes.imports.qualname(func) == "torch.autograd.backward" and node.args:
        return node.args[0].value
    return None


def _accumulation(facts, b) -> Optional[Tuple[cst.BaseExpression, cst.CSTNode, str]]:
    """(k, its loop, how) when ``b``'s loop sums gradients over k iterations: its optimizer step sits
    under an ``if`` testing ``... % k``, or ``b`` is in an inner ``for _ in range(k)`` loop that never
    steps, with the step after it in the enclosing loop."""
    loop = b.loops[-1]
    steps = steps_in(facts, b.fn, loop)
    if not steps and not (loop.parent is not None and isinstance(loop.node, cst.For)
                          and _range_count(loop.node.iter) is not None):
        return None  # cheap first: no step here, and no inner `range(k)` loop
    if any(every_iteration(loop, s.node) for s in steps):
        return None  # a step every iteration (a critic's, while the generator steps every k): no accumulation
    for step in steps:
        for node in path_to(loop.node.body, step.node) or ():
            if isinstance(node, cst.If):
                k = _modulus(node.test, _assignments(facts, b.fn))
                if k is not None:
                    return k, loop.node, f"the step runs when `{code_of(node.test)}`"
    if loop.parent is None or not isinstance(loop.node, cst.For):
        return None
    k = _range_count(loop.node.iter)
    if k is None or any(inside(s.loops, loop) for s in facts.events.steps.values() if s.fn is b.fn):
        return None
    if any(inside(r.loops, loop) for r in facts.events.resets.values() if r.fn is b.fn):
        return None
    if not steps_in(facts, b.fn, loop.parent):
        return None
    return k, loop.parent.node, f"the step follows the `for ... in {code_of(loop.node.iter)}` loop"


def _modulus(test: cst.BaseExpression, assigned) -> Optional[cst.BaseExpression]:
    """``k`` in a test like ``(i + 1) % k == 0`` (or a name assigned such a test in the function)."""
    found = _Find(cst.BinaryOperation)
    test.visit(found)
    for op in found.nodes:
        if isinstance(op.operator, cst.Modulo) and _more_than_one(op.right):
            return op.right
    if isinstance(test, cst.Name):
        for value in assigned.get(test.value, ()):
            k = _modulus(value, {}) if not isinstance(value, cst.Name) else None
            if k is not None:
                return k
    return None


def _range_count(iterable) -> Optional[cst.BaseExpression]:
    if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Name) and iterable.func.value == "range" \
            and len(iterable.args) == 1 and iterable.args[0].keyword is None and _more_than_one(iterable.args[0].value):
        return iterable.args[0].value
    return None


def _more_than_one(expr) -> bool:
    return not (isinstance(expr, cst.Integer) and int(expr.value) <= 1)


class _Find(cst.CSTVisitor):
    def __init__(self, *types) -> None:
        self.types = types
        self.nodes = []

    def on_visit(self, node) -> bool:
        if isinstance(node, self.types):
            self.nodes.append(node)
        return True


def _assignments(facts, fn) -> Dict[str, list]:
    """name -> the expressions assigned to it in the function (``x /= k`` counts as ``x / k``)."""
    key = ("gradlint.rules.gl503", id(fn))
    if key in facts._memo:
        return facts._memo[key]
    found = _Find(cst.Assign, cst.AugAssign, cst.AnnAssign)
    fn.node.visit(found)
    out: Dict[str, list] = {}
    for node in found.nodes:
        if isinstance(node, cst.Assign):
            for t in node.targets:
                if isinstance(t.target, cst.Name):
                    out.setdefault(t.target.value, []).append(node.value)
        elif isinstance(node, cst.AugAssign) and isinstance(node.target, cst.Name):
            out.setdefault(node.target.value, []).append(
                cst.BinaryOperation(left=node.target, operator=_BINARY.get(type(node.operator), cst.Add)(),
                                    right=node.value))
        elif isinstance(node, cst.AnnAssign) and isinstance(node.target, cst.Name) and node.value is not None:
            out.setdefault(node.target.value, []).append(node.value)
    facts._memo[key] = out
    return out


_BINARY = {cst.DivideAssign: cst.Divide, cst.MultiplyAssign: cst.Multiply, cst.FloorDivideAssign: cst.FloorDivide,
           cst.AddAssign: cst.Add, cst.SubtractAssign: cst.Subtract}
_SCALING_METHODS = frozenset({"div", "div_", "mul", "mul_", "true_divide", "divide", "multiply"})
# Tensor methods that keep the loss's scale: ``loss.mean()``, ``loss.float()``.
_PASS_THROUGH = frozenset({"mean", "sum", "float", "squeeze", "view", "reshape", "to", "double", "half",
                           "contiguous", "clone", "cuda", "cpu"})


class _Scaled:
    """Could the loss have been divided (or multiplied by a factor) anywhere on its way? Unknown
    counts as yes: the rule speaks only of losses it can follow to a model, a loss function or a
    tensor operation."""

    def __init__(self, facts, fn) -> None:
        self.facts = facts
        self.fn = fn
        self.assigned = _assignments(facts, fn)
        self.events = facts.events

    def scaled(self, expr, depth: int) -> bool:
        if depth > _UNKNOWN_DEPTH:
            return True
        if isinstance(expr, cst.BinaryOperation):
            op = expr.operator
            if isinstance(op, (cst.Divide, cst.FloorDivide, cst.Multiply)):
                return True
            if isinstance(op, (cst.Add, cst.Subtract)):
                return self.scaled(expr.left, depth + 1) and self.scaled(expr.right, depth + 1)
            return True
        if isinstance(expr, cst.Name):
            values = self.assigned.get(expr.value)
            if not values:
                return True  # a parameter, a global: not followed
            return any(self.scaled(v, depth + 1) for v in values if v is not expr)
        if isinstance(expr, (cst.Attribute, cst.Subscript)):
            return False  # `outputs.loss`, `out["loss"]`: a model's (unscaled) loss
        if isinstance(expr, cst.Call):
            return self._call(expr, depth)
        return True

    def _call(self, call: cst.Call, depth: int) -> bool:
        func = call.func
        events = self.events
        if call in events.losses or (call in events.forward_calls
                                     and is_model_call(self.facts, events.forward_calls[call])):
            return False
        qual = self.facts.scopes.imports.qualname(func)
        if qual is not None:
            if qual.rsplit(".", 1)[-1] in _SCALING_METHODS:
                return True
            return not qual.startswith("torch.")  # torch computes; a library of its own may scale
        if isinstance(func, cst.Attribute):
            if func.attr.value in _SCALING_METHODS:
                return True
            if func.attr.value == "scale":  # GradScaler.scale(loss): AMP's factor, undone at step()
                return bool(call.args) and self.scaled(call.args[0].value, depth + 1)
            if func.attr.value in _PASS_THROUGH:
                return self.scaled(func.value, depth + 1)
        return True  # a function of this or another file: it may divide inside


def _grads_divided(loop_node) -> bool:
    """``p.grad /= k`` / ``p.grad.div_(k)`` in the loop: the gradients are scaled instead of the loss."""
    found = _Find(cst.AugAssign, cst.Call)
    loop_node.visit(found)
    for node in found.nodes:
        if isinstance(node, cst.AugAssign) and isinstance(node.operator, (cst.DivideAssign, cst.MultiplyAssign)) \
                and ".grad" in code_of(node.target):
            return True
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                and node.func.attr.value in _SCALING_METHODS and ".grad" in code_of(node.func.value):
            return True
    return False


# -- fix -------------------------------------------------------------------------------------------
def divide_loss(b, k: cst.BaseExpression, facts) -> Union[Fix, NotFixable]:
    """GL503: ``loss.backward()`` -> ``(loss / k).backward()`` (``scaler.scale(loss / k)`` under AMP)."""
    node = b.node
    func = node.func
    if not isinstance(func, cst.Attribute) or func.attr.value != "backward":
        return NotFixable("the backward is not a `.backward()` call on the loss")
    target = func.value
    if isinstance(target, cst.Call) and isinstance(target.func, cst.Attribute) and target.func.attr.value == "scale" \
            and len(target.args) == 1:
        target = target.args[0].value
    if not isinstance(target, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)):
        return NotFixable("the loss is an expression: divide it where it is computed")
    kk = code_of(k)
    if not isinstance(k, (cst.Name, cst.Attribute, cst.Integer, cst.Subscript, cst.Call)):
        kk = f"({kk})"
    divided = expression(f"({code_of(target)} / {kk})")
    if target is func.value:
        return Fix((Edit(target, lambda updated: divided),), f"backpropagate `{code_of(target)} / {kk}`", safe=False)
    return Fix((Edit(target, lambda updated: expression(f"{code_of(target)} / {kk}")),),
               f"scale `{code_of(target)} / {kk}`", safe=False)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL503",
    what="""
Finds gradient accumulation whose loss is not divided by the number of accumulated
iterations k: a loop that calls `backward()` every iteration and `optimizer.step()` only
under a `% k` guard (`if (i + 1) % k == 0:`, or a flag assigned from one), or an inner
`for _ in range(k)` loop of backward calls followed by one step, where the loss reaching
`backward()` is never divided (nor multiplied by a factor), and the gradients are not
divided before the step either. The finding points at the `backward()` call.
""",
    why="""
Accumulating k micro-batches is meant to give the gradient of one k-times larger batch: the
mean of the k gradients. Without dividing each loss by k, `step()` applies their sum, k
times the mean: with SGD (and momentum) every update is k times larger, as if the learning
rate were multiplied by k; gradient clipping thresholds and weight decay no longer match
the tuned values. Adam normalises the gradient's scale, so there the update itself changes
little (the verifier measures it).
""",
    example="""
import torch
import torch.nn as nn

model = nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
accum_steps = 4
data = [(torch.randn(4, 8), torch.randn(4, 1)) for _ in range(8)]
for i, (x, y) in enumerate(data):
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    if (i + 1) % accum_steps == 0:
        optimizer.step()
        optimizer.zero_grad()
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
accum_steps = 4
data = [(torch.randn(4, 8), torch.randn(4, 1)) for _ in range(8)]
for i, (x, y) in enumerate(data):
    loss = nn.functional.mse_loss(model(x), y) / accum_steps
    loss.backward()
    if (i + 1) % accum_steps == 0:
        optimizer.step()
        optimizer.zero_grad()
""",
    not_flagged="""
- A loss divided or multiplied anywhere on its way (`loss / k`, `loss /= k`, `loss * (1 / k)`,
  `loss.div(k)`), also inside `scaler.scale(...)`; gradients divided before the step
  (`p.grad /= k`).
- A loss the analysis cannot follow (a parameter, a helper of another file): it may be
  scaled there.
- Framework backwards that divide for you (`accelerator.backward(loss)` with
  `gradient_accumulation_steps`, DeepSpeed's `engine.backward`, Lightning).
""",
    verifier="""
Counts, at each `optimizer.step()`, the backward passes summed into it since the gradients
were last cleared, and reads the scalar factor applied to each loss (`loss / k` is a factor
1/k); the gradient the step applies is (their number x the factor) times the mean gradient.
For that first step it also makes the step the divided loss would have made (the same
optimizer and state, gradient / factor, then everything put back) and reports how much
larger the real update is: k times with SGD, about 1 with Adam (then: not reproduced).
""",
    fix=f"""
{UNSAFE_FIX} backpropagates the divided loss: `loss.backward()` becomes
`(loss / k).backward()` (`scaler.scale(loss / k)` under AMP), with `k` the guard's modulus
(or the inner loop's count). Unsafe because every update changes: retune the learning rate
if it was tuned with the sum.
""",
)


# -- runtime effect --------------------------------------------------------------------------------
def _accumulating_steps(obs: Observations, at: Anchor):
    return [s for s in obs.all("steps") if s.get("accumulated", 0) > 1 and list(at) in [list(x) for x in
                                                                                          s.get("sites", ())]]


@effect("GL503")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    steps = _accumulating_steps(obs, at)
    if not steps:
        return Outcome(NOT_REPRODUCED, "no step applied gradients accumulated from this line")
    s = steps[0]
    n, factor = s["accumulated"], s["factor"]
    summed = (f"each `step()` applied {n} backward passes of this loss summed with the loss factor "
              f"{num(s['loss_factor'])}")
    if abs(s.get("since_backward", 1.0) - 1.0) > 0.01:
        summed += f" and the gradient scaled by {num(s['since_backward'])} before the step"
    summed += f": {num(factor)}x the mean gradient"
    if factor < 1.5:
        return Outcome(NOT_REPRODUCED, f"{summed} (the loss is divided: the step applies the mean)")
    ratio = None
    if s.get("divided_update_norm"):
        ratio = s["update_norm"] / s["divided_update_norm"]
        update = (f"; its update was {num(ratio)}x the one with the loss divided by {num(factor)} "
                  f"({s['type']}: |dW| {num(s['update_norm'])} vs {num(s['divided_update_norm'])})")
    else:
        update = f" ({s['type']}; the update with the divided loss was not measured)"
    if ratio is not None and ratio < 1.5:
        return Outcome(NOT_REPRODUCED, summed + update + f": {s['type']} normalises the gradient's scale")
    return Outcome(CONFIRMED, summed + update)


@scan("GL503")
def effect_anywhere(obs: Observations):
    found = []
    for s in obs.all("steps"):
        if s.get("accumulated", 0) < 2 or s["factor"] < 1.5:
            continue
        if s.get("divided_update_norm") and s["update_norm"] / s["divided_update_norm"] < 1.5:
            continue
        for site in s.get("sites", ()):
            found.append((tuple(site), f"{s['accumulated']} backward passes summed into one step: "
                                       f"{num(s['factor'])}x the mean gradient"))
    return found, "no step applied more than the mean of the gradients it accumulated"
