"""GL302 no-op-freeze: `requires_grad` set on an `nn.Module`, misspelt, or compared instead of assigned.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL302``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import Union

import libcst as cst

from ..docs import RuleDoc, SAFE_FIX
from ..facts.values import MAY_REQUIRE_GRAD
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import by_type, code_of, path_to
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, num
from ..verify.observations import Anchor, Observations
from . import Report, rule


# -- check -----------------------------------------------------------------------------------------
@rule("GL302", "no-op-freeze", "error",
      '`requires_grad` set on an `nn.Module`, or a misspelt attribute: nothing is frozen.')
def check(facts):
    for event in facts.events.syntactic.values():
        if event.code == "GL302":  # `p.requires_grad == False` as a statement
            yield Report(event.node, "`==` compares and discards: `requires_grad` is unchanged",
                         lambda e=event: compare_to_assign(e), "write `.requires_grad = ...`")
    for event in facts.events.requires_grad_sets.values():
        target = code_of(event.target)
        if event.attr != "requires_grad":
            if _already_off(event):
                continue  # `pe = torch.zeros(...); pe.require_grad = False`: spelt right, it changes nothing
            yield Report(event.node, f"`{target}.{event.attr}` is not `requires_grad`: it freezes nothing",
                         lambda e=event: respell(e), f"write `{target}.requires_grad`")
            continue
        if event.value.kind != "module":
            continue
        constant = isinstance(event.rhs, cst.Name) and event.rhs.value in ("True", "False")
        if target == "self" and not constant:
            continue  # a module storing its own `requires_grad` setting
        flag = event.rhs.value if constant else "False"
        yield Report(event.node, f"`{target}` is an nn.Module: `{target}.requires_grad = ...` changes no parameter",
                     lambda e=event: module_requires_grad_(facts, e), f"call `{target}.requires_grad_({flag})`")


def _already_off(event) -> bool:
    """The misspelt flag is set to False on a tensor known not to require grad (a fresh
    ``torch.zeros``): the intended assignment would change nothing either."""
    fact = event.value.tensor if event.value.kind == "tensor" else None
    return (isinstance(event.rhs, cst.Name) and event.rhs.value == "False" and fact is not None
            and bool(fact.atoms) and not fact.atoms & MAY_REQUIRE_GRAD)


# -- fix -------------------------------------------------------------------------------------------
def compare_to_assign(event) -> Union[Fix, NotFixable]:
    node = event.node
    if not (isinstance(node, cst.Expr) and isinstance(node.value, cst.Comparison)
            and len(node.value.comparisons) == 1):
        return NotFixable("not a single comparison")
    comparison = node.value
    left, right = comparison.left, comparison.comparisons[0].comparator

    def assign(updated: cst.Expr) -> cst.Assign:
        return cst.Assign(targets=[cst.AssignTarget(target=left)], value=right, semicolon=updated.semicolon)

    return Fix((Edit(node, assign),), f"assign: `{code_of(left)} = {code_of(right)}`", safe=True)


def respell(event) -> Union[Fix, NotFixable]:
    node = event.node
    if not isinstance(node, cst.Assign):
        return NotFixable("not a plain assignment")
    index = next((i for i, t in enumerate(node.targets) if isinstance(t.target, cst.Attribute)
                  and t.target.value is event.target and t.target.attr.value == event.attr), None)
    if index is None:
        return NotFixable("the attribute is not an assignment target")

    def spelled(updated: cst.Assign) -> cst.Assign:
        targets = list(updated.targets)
        attr = targets[index].target
        targets[index] = targets[index].with_changes(
            target=attr.with_changes(attr=attr.attr.with_changes(value="requires_grad")))
        return updated.with_changes(targets=targets)

    return Fix((Edit(node, spelled),), f"write `{code_of(event.target)}.requires_grad`", safe=True)


def _read_elsewhere(module: cst.Module, text: str, skip: cst.CSTNode) -> bool:
    """Is ``<text>.requires_grad`` read anywhere in the module but in ``skip``? (Through the
    module's memoized index: one walk per file, not per finding.)"""
    for node in by_type(module).get(cst.Attribute, ()):
        if node.attr.value == "requires_grad" and code_of(node.value) == text \
                and path_to(skip, node) is None:
            return True
    return False


def module_requires_grad_(facts, event) -> Union[Fix, NotFixable]:
    node = event.node
    if not isinstance(node, cst.Assign) or len(node.targets) != 1:
        return NotFixable("not a single-target assignment")
    target = code_of(event.target)
    read = _read_elsewhere(facts.module, target, node)

    def method(updated: cst.Assign) -> cst.Expr:
        attr = updated.targets[0].target
        call = cst.Call(func=attr.with_changes(attr=cst.Name("requires_grad_")), args=[cst.Arg(updated.value)])
        return cst.Expr(value=call, semicolon=updated.semicolon)

    flag = code_of(node.value)
    return Fix((Edit(node, method),), f"call `{target}.requires_grad_({flag})`", safe=not read)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL302",
    what="""
Finds `requires_grad` assigned on an `nn.Module` (`model.requires_grad = False`), and
misspelt attributes such as `p.require_grad = False` or `p.requires_grads = False`. A
misspelt `= False` on a tensor known not to require grad (a fresh `torch.zeros(...)`) is
not reported: spelt right, it would change nothing either.
""",
    why="""
`nn.Module` has no `requires_grad` attribute: the assignment creates a plain Python
attribute and changes no parameter, and a misspelt name does the same on a tensor. The
"frozen" layers keep training, silently, which defeats fine-tuning recipes and wastes
memory on gradients.
""",
    example="""
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
backbone = model[0]
backbone.requires_grad = False
""",
    use_instead="""
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
backbone = model[0]
backbone.requires_grad_(False)
""",
    verifier="""
After the assignment `all(p.requires_grad for p in module.parameters())` is still True,
and the module's weights change after `optimizer.step()`.
""",
    fix=f"""
{SAFE_FIX} `module.requires_grad = False` becomes `module.requires_grad_(False)` (unsafe when the
file also reads `module.requires_grad`, which then no longer exists);
`p.require_grad = False` becomes `p.requires_grad = False`; `p.requires_grad == False`
becomes `p.requires_grad = False`. A freeze that now works can surface GL301, which the
next pass 
""",
)

# -- runtime effect --------------------------------------------------------------------------------
@effect("GL302")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    """Nothing got frozen: right after the line, and still at the end of the run."""
    probes = [p for p in obs.at("probes", at) if "after" in p]
    if not probes:
        return Outcome(NOT_REPRODUCED, "the statement ran but was not measured")
    subject = probes[0].get("subject") or "the target"
    still = []
    for p in probes:
        a = p["after"].get("subject") or {}
        if a.get("kind") == "module" and a["params"] and a["trainable"] == a["params"]:
            still.append(f"all {a['params']} parameters of `{subject}` ({a['type']}) still require grad")
        elif a.get("kind") == "tensor" and a["requires_grad"]:
            still.append(f"`{subject}.requires_grad` is still True")
    if not still:
        return Outcome(NOT_REPRODUCED, f"`{subject}` no longer requires grad after the line")
    end = obs.at("movement", at)
    if end and all(m["requires_grad"] == 0 for m in end):
        return Outcome(NOT_REPRODUCED, f"`{subject}` still required grad right after the line, but not at the end "
                                       f"of the run (frozen later)")
    text = still[0] + f" after the line ({len(still)} of {len(probes)} runs)"
    for m in end:
        if m["moved"] > 0:
            text += f"; they moved by {num(m['moved'])} by the end of the run"
        elif m["with_grad"]:
            text += f"; {m['with_grad']} of {m['params']} received gradients"
    return Outcome(CONFIRMED, text)
