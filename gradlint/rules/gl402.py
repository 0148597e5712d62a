"""GL402 non-leaf-used-as-parameter: a computed tensor used as a trainable weight.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL402``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

import re
from typing import Union

import libcst as cst

from ..docs import RuleDoc
from ..facts import torchapi
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of
from ..fixes.factories import into_factory
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, exceptions_of, first_line, raised_scan, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule

# Factories whose values do not depend on a random generator: moving `dtype=` / `device=` into
# them gives the same numbers.
_DETERMINISTIC = frozenset({"torch.zeros", "torch.ones", "torch.full", "torch.empty", "torch.eye", "torch.arange",
                            "torch.linspace", "torch.logspace", "torch.tensor", "torch.zeros_like",
                            "torch.ones_like", "torch.full_like", "torch.empty_like"})


# -- check -----------------------------------------------------------------------------------------
@rule("GL402", "non-leaf-used-as-parameter", "error",
      "A computed tensor used as a trainable weight: the optimizer rejects it, or the module never registers it.")
def check(facts):
    for origin, use in facts.events.weight_uses.items():
        fact = use.fact
        name = use.name
        if facts.events.device_moves.get(origin) is False:
            continue  # moved to the device, but it may be there already (then it is the same leaf)
        if use.use == "module":
            where = "on CUDA, " if fact.cuda_only else ""
            message = f"`{name}` gets {fact.how} of an `nn.Parameter`: {where}a plain tensor the module never trains"
            help = ("the copy is not a Parameter, so the module does not register it and no optimizer trains "
                    "it; convert inside: `nn.Parameter(x.to(...))`")
        elif _computed(facts.resolve_tensor(use.fn, fact)):
            paths = " on some paths" if "leaf_rg" in facts.resolve_tensor(use.fn, fact) else ""
            if fact.cuda_only:
                message = f"`{name}` is {fact.how} of a leaf{paths}: on CUDA a non-leaf the optimizer rejects"
                help = ("the optimizer raises ValueError (can't optimize a non-leaf Tensor); create it on the "
                        "device (`torch.randn(..., device=device, requires_grad=True)`)")
            else:
                message = f"`{name}` is computed ({fact.how}){paths}, not a leaf: the optimizer rejects it"
                help = ("the optimizer raises ValueError (can't optimize a non-leaf Tensor); create the weight "
                        "as a leaf (dtype and device in the factory, or `.detach().requires_grad_()`)")
        else:
            continue
        yield Report(origin, message, lambda o=origin, n=name: leaf_weight(facts, o, n), help)


def _computed(atoms) -> bool:
    """A non-leaf that requires grad, on every path or on some (a leaf that requires grad on the others)."""
    return "nonleaf" in atoms and atoms <= {"nonleaf", "leaf_rg"}


# -- fix -------------------------------------------------------------------------------------------
def leaf_weight(facts, origin, name: str) -> Union[Fix, NotFixable]:
    """The weight made as a leaf where it is created: the conversion moved into the factory, or
    inside ``nn.Parameter(...)``."""
    if not isinstance(origin, cst.Call) or not isinstance(origin.func, cst.Attribute) \
            or origin.func.attr.value not in torchapi.CONVERSIONS:
        return NotFixable("the weight is computed from a leaf: make the result the leaf "
                          "(`(...).detach().requires_grad_()`)")
    receiver = origin.func.value
    if isinstance(receiver, cst.Call) and facts.scopes.imports.qualname(receiver.func) == torchapi.PARAMETER:
        return _inside_parameter(origin, receiver, name)
    factory = facts.scopes.imports.qualname(receiver.func) if isinstance(receiver, cst.Call) else None
    moved = into_factory(facts, name, origin, safe=factory in _DETERMINISTIC)
    if moved is not None:
        return moved
    return NotFixable("the tensor is not made by a factory call in the same expression")


def _inside_parameter(conversion: cst.Call, parameter: cst.Call, name: str) -> Union[Fix, NotFixable]:
    """``nn.Parameter(x).to(d)`` -> ``nn.Parameter(x.to(d))``: the Parameter is made of the converted
    tensor, so it is what the module stores and registers."""
    data = [a for a in parameter.args if a.keyword is None or a.keyword.value == "data"]
    if len(data) != 1 or data[0].star:
        return NotFixable("`nn.Parameter(...)` does not take its data as one argument")
    arg = data[0]
    value = arg.value
    if not isinstance(value, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
        value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    inner = conversion.with_changes(func=conversion.func.with_changes(value=value))
    args = [a.with_changes(value=inner) if a is arg else a for a in parameter.args]
    new = parameter.with_changes(args=args)
    return Fix((Edit(conversion, lambda updated: new),),
               f"convert inside: `{code_of(new)}`", safe=True)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL402",
    what="""
Finds a computed tensor used as a trainable weight:
- handed to an optimizer (`torch.optim.SGD([w])`, param-group dicts too) when `w` is not a
  leaf: a factory with `requires_grad=True` followed by a dtype or device conversion
  (`torch.randn(3, requires_grad=True).double()`, `.to(device)`, `.cuda()`, also of a legacy
  `Variable(..., requires_grad=True)`), or arithmetic on a leaf
  (`torch.randn(3, requires_grad=True) * 0.01`), on every path or on some (`if cuda: w = w.cuda()`);
- an `nn.Parameter(...)` converted afterwards and stored on a module
  (`self.w = nn.Parameter(torch.zeros(3)).to(device)`, `.double()`, `.cuda()`).
The finding points at the creation.
""",
    why="""
Only leaf tensors can be optimized: for a computed tensor the optimizer raises
`ValueError: can't optimize a non-leaf Tensor` (a `.to(device)` copy is computed only when
the device differs, so the bug often appears first on the GPU machine). A converted
`nn.Parameter` is no longer a Parameter but a plain tensor: the module does not register
it, `model.parameters()` leaves it out and the weight silently never trains.
""",
    example="""
import torch

x, y = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
w = torch.zeros(3, requires_grad=True).double()
optimizer = torch.optim.SGD([w], lr=0.1)
""",
    use_instead="""
import torch

x, y = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
optimizer = torch.optim.SGD([w], lr=0.1)
""",
    not_flagged="""
- Conversions that return the same tensor: `.float()` of a float32 tensor, `.to("cpu")` on CPU
  (a `.to(device)` with a device variable is reported as CUDA-only).
- `nn.Parameter(x.to(device))`, `torch.randn(..., device=device, requires_grad=True)`, and
  `.to(device).requires_grad_()` after the move: all leaves.
- Legacy `Variable(t)` itself: on torch 2.13 it returns a new leaf, even of a computed `t` (it
  no longer raises); only a conversion of it afterwards is reported.
""",
    verifier="""
The `ValueError` ("can't optimize a non-leaf Tensor") the optimizer raises, at the creation
line or after it (with the created tensor measured there: not a leaf, and its `grad_fn`); for
a converted Parameter, what the module attribute holds after the assignment: a plain tensor
missing from `module.parameters()`. `.to(device)` shapes are confirmed on CUDA only (on CPU
the same leaf or Parameter comes back).
""",
    fix="""
`gradlint --fix` (safe): `nn.Parameter(x).to(device)` becomes `nn.Parameter(x.to(device))`;
`dtype=` / `device=` move into a deterministic factory (`torch.zeros(3, requires_grad=True).double()`
becomes `torch.zeros(3, dtype=torch.float64, requires_grad=True)`). For a random factory
(`torch.randn`, `torch.rand`, ...) the same move is unsafe (`--unsafe-fixes`): a factory with
another dtype or device draws other numbers. Arithmetic on a leaf has no automatic fix.
""",
)

# -- runtime effect --------------------------------------------------------------------------------
_NON_LEAF = re.compile(r"can't optimize a non-leaf Tensor")


@effect("GL402")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    raised = exceptions_of(obs, at, "ValueError", _NON_LEAF)
    if raised:
        return Outcome(CONFIRMED, f"ValueError: {first_line(raised[0]['message'])}")
    for target in obs.at("attr_targets", at):
        shown = f"`{target['attr']}` of {target['owner']}"
        if target["registered"]:
            return Outcome(NOT_REPRODUCED, f"{shown} is a registered nn.Parameter after the line ({target['device']}, "
                                           f"{target['dtype']}): the conversion returned the Parameter itself")
        kind = "a Parameter" if target["parameter"] else f"a plain Tensor (grad_fn {target['grad_fn']})"
        return Outcome(CONFIRMED, f"{shown} holds {kind}, {target['dtype']} on {target['device']}: not among "
                                  f"the module's {target['owner_params']} registered parameters, so no optimizer "
                                  f"trains it")
    made = [p["after"]["subject"] for p in obs.at("probes", at)
            if p.get("after", {}).get("subject", {}).get("kind") == "tensor"]
    if made:
        t = made[0]
        if t["is_leaf"]:
            return Outcome(NOT_REPRODUCED, f"the tensor made here is a leaf on {obs.device or 'cpu'}")
        later = exceptions_of(obs, None, "ValueError", _NON_LEAF)
        if later:
            return Outcome(CONFIRMED, f"the tensor made here is a non-leaf (grad_fn {t['grad_fn']}); the optimizer "
                                      f"at line {later[0]['line']} raised ValueError: "
                                      f"{first_line(later[0]['message'])}")
        return Outcome(NOT_REPRODUCED, f"the tensor made here is a non-leaf (grad_fn {t['grad_fn']}), but no "
                                       f"optimizer rejected it")
    return Outcome(NOT_REPRODUCED, "no optimizer rejected a tensor made here, and no module attribute was measured")


@scan("GL402")
def effect_anywhere(obs: Observations):
    return raised_scan(obs, "ValueError", _NON_LEAF, "no optimizer rejected a non-leaf tensor")
