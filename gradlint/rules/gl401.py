"""GL401 grad-of-non-leaf: `.grad` read on a non-leaf tensor.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL401``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import List, Union
import re

import libcst as cst

from ..docs import RuleDoc, UNSAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of, enclosing_statement, expression, path_to, scan_names, statement
from ..fixes.factories import into_factory
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, scan, times
from ..verify.observations import Anchor, Observations
from . import Report, rule


# -- check -----------------------------------------------------------------------------------------
@rule("GL401", "grad-of-non-leaf", "error",
      '`.grad` read on a non-leaf tensor: it is None (and torch warns).')
def check(facts):
    for event in facts.events.grad_reads.values():
        fact = event.fact
        if fact.retained or "nonleaf" not in facts.resolve_tensor(event.fn, fact):
            continue
        name = event.name
        if fact.cuda_only:
            message = f"`{name}` is {fact.how} of a leaf: on CUDA it is a non-leaf and `{name}.grad` stays None"
            help = "create the tensor on the device (`torch.randn(..., device=device, requires_grad=True)`)"
        else:
            how = f" ({fact.how})" if fact.how else ""
            message = f"`{name}` is not a leaf{how}: `{name}.grad` is None and torch warns"
            help = f"read the leaf's `.grad`, or call `{name}.retain_grad()` before backward"
        yield Report(event.node, message, lambda e=event: keep_grad(facts, e), help)


# -- fix -------------------------------------------------------------------------------------------
def keep_grad(facts, event) -> Union[Fix, NotFixable]:
    fact = event.fact
    origin = fact.origin
    if origin is None:
        return NotFixable("where the tensor is computed is not known")
    if isinstance(origin, cst.Call):
        moved = into_factory(facts, event.name, origin, safe=False)
        if moved is not None:
            return moved
    name = event.name
    if "." in name:
        return NotFixable("the tensor is an attribute")
    found = enclosing_statement(event.fn.node, origin)
    if found is None:
        return NotFixable("the tensor is not computed in a statement of its own")
    _, stmt = found
    assign = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 else None
    if not (isinstance(assign, cst.Assign) and len(assign.targets) == 1 and assign.value is origin
            and isinstance(assign.targets[0].target, cst.Name) and assign.targets[0].target.value == name):
        return NotFixable(f"`{name}` is not assigned the computed value directly")
    path = path_to(event.fn.node, stmt) or []
    in_loop = any(isinstance(n, (cst.For, cst.While)) for n in path)
    if in_loop and name in scan_names([origin]).all:
        value = origin if isinstance(origin, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) \
            else origin.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        fresh = expression(f"{code_of(value)}.detach().requires_grad_()")
        return Fix((Edit(origin, lambda updated: fresh),),
                   f"make each new `{name}` a leaf: `.detach().requires_grad_()`", safe=False)
    retain = statement(f"{name}.retain_grad()")
    return Fix((Edit(stmt, lambda updated: cst.FlattenSentinel([updated, retain])),),
               f"call `{name}.retain_grad()` after it is computed", safe=False)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL401",
    what="""
Finds `.grad` read on a tensor that is not a leaf: the result of an operation, of
`.to()` / `.cuda()` / `.double()`, of indexing or of a module call on a tensor that
requires grad, or a name rebound to such a value in a loop (`w = w - lr * w.grad`).
Tensors that called `.retain_grad()` are left alone.
""",
    why="""
Autograd fills `.grad` only on leaf tensors. On a non-leaf, `.grad` is `None` (torch
warns once), so an update such as `w - lr * w.grad` fails or, worse, the gradient you
meant to inspect is silently missing. The classic case is
`torch.randn(..., requires_grad=True).to(device)`: on CUDA the result is a non-leaf copy
and the real leaf is unreachable. On CPU `.to("cpu")` returns the same leaf, so that shape
is reported as CUDA-only.
""",
    example="""
import torch

w = torch.randn(16, 2, requires_grad=True).double()
loss = (torch.randn(8, 16).double() @ w).pow(2).mean()
loss.backward()
print(w.grad)
""",
    use_instead="""
import torch

w = torch.randn(16, 2, dtype=torch.float64, requires_grad=True)
loss = (torch.randn(8, 16).double() @ w).pow(2).mean()
loss.backward()
print(w.grad)
""",
    not_flagged="""
- `w -= lr * w.grad` (and `w.sub_()`, `w.add_()`) on a leaf: an in-place update keeps `w` the
  same leaf, so `w.grad` is a leaf's gradient; outside `no_grad` the update itself raises
  (GL403).
- Tensors that called `.retain_grad()`, and `.to()` / `.float()` calls that return the same
  tensor (a `.to(device)` with a device variable is reported as CUDA-only).
""",
    verifier="""
torch's `UserWarning` ("The .grad attribute of a Tensor that is not a leaf Tensor is
being accessed") at the flagged line, and `.grad is None` there.
""",
    fix=f"""
{UNSAFE_FIX} `y.retain_grad()` right after a non-leaf is assigned (arithmetic, a module's
output); for a fresh leaf copied by `.to(device)`, `.cuda()` or `.double()`, the device
or dtype moves into the factory (`torch.randn(..., device=device, requires_grad=True)`);
a name rebound to a computed value of itself in a loop (`w = w - lr * g`) becomes
`(w - lr * g).detach().requires_grad_()`. Unsafe because the gradient now lands on a
different tensor (and a factory with a new dtype draws different numbers).
""",
)

# -- runtime effect --------------------------------------------------------------------------------
_NON_LEAF = re.compile(r"\.grad attribute of a Tensor that is not a leaf Tensor")


def _non_leaf_warnings(items: List[dict]) -> List[dict]:
    return [w for w in items if w["category"] == "UserWarning" and _NON_LEAF.search(w["message"])]


@effect("GL401")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    warned = _non_leaf_warnings(obs.at("warnings", at))
    if warned:
        return Outcome(CONFIRMED, "UserWarning: " + warned[0]["message"].split(". ")[0])
    return Outcome(NOT_REPRODUCED, f"no non-leaf .grad warning at the line (it ran {times(obs.runs(at))} on "
                                   f"{obs.device or 'cpu'})")


@scan("GL401")
def effect_anywhere(obs: Observations):
    warned = [w for w in _non_leaf_warnings(obs.all("warnings")) if w.get("path")]
    return ([((w["path"], w["line"]), "UserWarning: " + w["message"].split(". ")[0]) for w in warned],
            "no non-leaf .grad warning")
