"""GL502 zero-grad-missing-or-misplaced: gradients cleared between `backward()` and `step()`, or never.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL502``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst

from ..docs import RuleDoc, SAFE_FIX, UNSAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of, enclosing_statement, lead, statement, strip_blank_lead
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, num, plural, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule
from .steps import backwards, call_statement, every_iteration, fresh_in, handed_out, resets_in, single_call, steps_in


# -- check -----------------------------------------------------------------------------------------
@rule("GL502", "zero-grad-missing-or-misplaced", "error",
      "Gradients are cleared between `backward()` and `step()`, or never cleared in a training loop.")
def check(facts):
    reported = set()
    for b in backwards(facts):
        misplaced = _cleared_before_step(facts, b)
        if misplaced is not None:
            reset, step = misplaced
            reported.add(id(b.node))
            yield Report(b.node, (f"`{code_of(reset.node)}` clears this `backward()`'s gradients before "
                                  f"`{code_of(step.node)}`: the step applies no gradient"),
                         lambda r=reset, s=step: move_after_step(facts, r, s),
                         "only momentum and weight decay still move the weights; clear the gradients before "
                         "`backward()` or after `step()`")
    seen_loops = set()
    for b in backwards(facts):
        if id(b.node) in reported or not b.loops:
            continue
        loop = b.loops[-1]
        if id(loop) in seen_loops:
            continue
        step = _accumulating_step(facts, b, loop)
        if step is None:
            continue
        seen_loops.add(id(loop))
        opt = step.key or "optimizer"
        yield Report(b.node, (f"gradients are never cleared in this loop: `{code_of(step.node)}` applies the sum "
                              f"of all earlier iterations' gradients"),
                     lambda b=b, s=step: zero_before_backward(facts, b, s),
                     f"every `backward()` adds to the gradients already there; call `{opt}.zero_grad()` each "
                     f"iteration")


def _accumulating_step(facts, b, loop):
    """The loop backpropagates and steps on every iteration and clears gradients nowhere in it:
    the optimizer step it makes, or None."""
    steps = steps_in(facts, b.fn, loop)
    if not steps or resets_in(facts, b.fn, loop) or not every_iteration(loop, b.node):
        return None
    steps = [s for s in steps if every_iteration(loop, s.node)]
    if not steps or any(_closure(s) for s in steps):
        return None
    step = steps[0]
    if fresh_in(step.value, loop) or _fresh_model(facts, b.fn, loop):
        return None
    known = {s.node for s in facts.events.steps.values()} | {site.node for site in facts.events.external_calls}
    for fn in facts.scopes.functions:
        known |= {site.node for site in fn.callsites}
    if handed_out(loop, step.key, known):
        return None
    return step


def _closure(step) -> bool:
    """``optimizer.step(closure)`` (LBFGS): the closure clears and recomputes the gradients."""
    func = step.node.func
    return bool(step.node.args) and isinstance(func, cst.Attribute) and step.key is not None \
        and code_of(func.value) == step.key


def _fresh_model(facts, fn, loop) -> bool:
    """A model built anew in each iteration: its parameters start with no gradient."""
    for call in facts.events.forward_calls.values():
        if call.fn is fn and any(l is loop for l in call.loops) and fresh_in(call.value, loop):
            return True
    return False


def _cleared_before_step(facts, b):
    """(reset, step) when the statements after ``b`` in its block clear gradients and then step the
    same optimizer, with no other backward in between."""
    events = facts.events
    resets = {r.node: r for r in events.resets.values() if r.fn is b.fn and not r.bare}
    steps = {s.node: s for s in events.steps.values() if s.fn is b.fn}
    if not resets or not steps:
        return None
    found = call_statement(b.fn, b.node)
    if found is None:
        return None
    body, index = found
    others = {x.node for x in backwards(facts)} | set(resets) | set(steps)
    reset = None
    for later in body[index + 1:]:
        call = single_call(later)
        if call is not None and call in resets:
            reset = reset or resets[call]
            continue
        if call is not None and call in steps:
            step = steps[call]
            if reset is None or _closure(step) or not _same_parameters(reset, step):
                return None
            return reset, step
        if _contains(later, others):
            return None
    return None


def _contains(stmt, nodes) -> bool:
    finder = _Find(nodes)
    stmt.visit(finder)
    return finder.found


class _Find(cst.CSTVisitor):
    def __init__(self, nodes) -> None:
        self.nodes = nodes
        self.found = False

    def on_visit(self, node) -> bool:
        if node in self.nodes:
            self.found = True
        return not self.found


def _same_parameters(reset, step) -> bool:
    """The reset clears what the step updates: the same optimizer, or a model it was built from."""
    if reset.key is None:
        return False
    if reset.key == step.key:
        return True
    sources = getattr(step.value, "sources", ()) if step.value is not None else ()
    return any(reset.key == model for model, _ in sources)


# -- fix -------------------------------------------------------------------------------------------
def move_after_step(facts, reset, step) -> Union[Fix, NotFixable]:
    """GL502 (misplaced): the ``zero_grad()`` statement goes right after the ``step()`` statement."""
    found_reset = enclosing_statement(reset.fn.node, reset.node)
    found_step = enclosing_statement(step.fn.node, step.node)
    if found_reset is None or found_step is None or found_reset[0] is not found_step[0]:
        return NotFixable("the reset and the step are not in the same block")
    reset_stmt, step_stmt = found_reset[1], found_step[1]
    moved = strip_blank_lead(reset_stmt.with_changes(leading_lines=()))
    return Fix((Edit(reset_stmt, lambda updated: cst.RemovalSentinel.REMOVE),
                Edit(step_stmt, lambda updated: cst.FlattenSentinel([updated, moved]))),
               f"move `{code_of(reset.node)}` after `{code_of(step.node)}`", safe=True)


def zero_before_backward(facts, b, step) -> Union[Fix, NotFixable]:
    """GL502 (missing): ``optimizer.zero_grad()`` just before the backward statement."""
    if not step.key:
        return NotFixable("the optimizer is not a name")
    found = enclosing_statement(b.fn.node, b.node)
    if found is None:
        return NotFixable("the backward call is not a statement of its own")
    _, stmt = found
    new = statement(f"{step.key}.zero_grad()")

    def insert(updated):
        first, rest = lead(new, updated)
        return cst.FlattenSentinel([first, rest])

    return Fix((Edit(stmt, insert),), f"call `{step.key}.zero_grad()` before `backward()`", safe=False)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL502",
    what="""
Finds two mistakes with `zero_grad()` (the finding points at the `backward()` call):
- gradients cleared between `backward()` and `step()`: `loss.backward()`,
  `optimizer.zero_grad()`, `optimizer.step()` in that order (or `model.zero_grad()` for a
  model the optimizer was built from);
- a loop that calls `backward()` and `step()` on every iteration and clears the gradients
  nowhere in it: no `zero_grad()` on an optimizer or model, no `p.grad = None`,
  `p.grad.zero_()` or `del p.grad`, in the loop or in a function it calls.
""",
    why="""
`backward()` adds into `.grad`. Cleared after `backward()` and before `step()`, the step
applies no gradient at all: the model never learns (momentum and weight decay aside).
Never cleared, each step applies the sum of every gradient so far: the first batch's
gradient is applied at every step, the effective step size grows with the iteration
count, and training diverges or wanders.
""",
    example="""
import torch
import torch.nn as nn

model = nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
data = [(torch.randn(4, 8), torch.randn(4, 1)) for _ in range(10)]
for x, y in data:
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
data = [(torch.randn(4, 8), torch.randn(4, 1)) for _ in range(10)]
for x, y in data:
    loss = nn.functional.mse_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
""",
    not_flagged="""
- Gradient accumulation: a `step()` under a condition (`if (i + 1) % k == 0:`).
- Gradients cleared anywhere in the loop (before the forward, after the step, in a branch),
  by a helper of this file or of another project file (`reset_grad()`), inside an LBFGS
  closure, or by a library call that receives the optimizer.
- `torch.autograd.grad` (it fills no `.grad`), frameworks that step and clear for you
  (Lightning's automatic optimization, HF `Trainer`: no loop of yours), an optimizer or a
  model built anew in each iteration, and a bare `optimizer.zero_grad` attribute statement
  (GL102 reports that one).
""",
    verifier="""
Wraps `torch.autograd.backward` (which `Tensor.backward` calls) and records the gradients of
the leaves it reaches before and after each call at the flagged line, and the gradient each
`optimizer.step()` applies. Missing reset: the second backward starts from the first one's
gradient, unchanged by the `step()` in between, so after two iterations the gradient is the
sum of both batches'. Misplaced reset: the step right after this backward applies a zero
(or `None`) gradient although the backward produced one.
""",
    fix=f"""
Misplaced reset: {SAFE_FIX} moves the `zero_grad()` statement right after `step()`. Missing
reset: {UNSAFE_FIX} inserts `optimizer.zero_grad()` before `backward()`; unsafe because it
changes what every step applies (and a program that accumulates on purpose should guard its
`step()` instead).
""",
)


# -- runtime effect --------------------------------------------------------------------------------
_TINY = 1e-12


def _cleared(obs: Observations, records) -> Optional[str]:
    """A step right after a backward here (before any other backward) applied no gradient."""
    backward_seqs = sorted(r["seq"] for r in obs.all("backwards") if "seq" in r)
    steps = sorted((s for s in obs.all("steps") if "seq" in s), key=lambda s: s["seq"])
    for r in records:
        if r["contrib_norm"] <= _TINY:
            continue
        nxt = next((q for q in backward_seqs if q > r["seq"]), float("inf"))
        after = [s for s in steps if r["seq"] < s["seq"] < nxt]
        if after and after[0]["grad_norm"] <= _TINY:
            applied = "no gradient (every .grad was None)" if not after[0]["with_grad"] else "a zero gradient"
            return (f"the gradients this backward computed (norm {num(r['contrib_norm'])}) were cleared before "
                    f"`step()`: the step at line {after[0]['line']} applied {applied}")
    return None


def _never_reset(obs: Observations, records) -> Optional[str]:
    """A backward here started from the previous one's gradient although a step ran in between."""
    steps = [s["seq"] for s in obs.all("steps") if "seq" in s]
    for r in records:
        since = r.get("since_last")
        if since is None or r["before_norm"] <= _TINY or since > 1e-9 * max(1.0, r["before_norm"]):
            continue
        stepped = sum(1 for q in steps if r["last_seq"] < q < r["seq"])
        if stepped:
            return (f"gradients never cleared: this backward started from the previous iteration's gradient "
                    f"(norm {num(r['before_norm'])}, unchanged by {plural(stepped, 'step()')} in between) and "
                    f"left the sum of both batches' (norm {num(r['after_norm'])}; this batch alone "
                    f"{num(r['contrib_norm'])})")
    return None


@effect("GL502")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    records = [r for r in obs.at("backwards", at) if "seq" in r]
    if not records:
        return Outcome(NOT_REPRODUCED, "no backward at this line was measured")
    found = _cleared(obs, records) or _never_reset(obs, records)
    if found:
        return Outcome(CONFIRMED, found)
    return Outcome(NOT_REPRODUCED, f"{plural(len(records), 'backward')} measured: each step applied the fresh "
                                   f"gradient")


@scan("GL502")
def effect_anywhere(obs: Observations):
    found = []
    sites = obs.sites("backwards", lambda r: "seq" in r)
    for at, records in sites:
        evidence = _cleared(obs, records) or _never_reset(obs, records)
        if evidence:
            found.append((at, evidence))
    total = sum(len(rs) for _, rs in sites)
    return found, (f"{plural(total, 'backward')} and {plural(len(obs.all('steps')), 'step')} measured: gradients "
                   f"were cleared between steps")
