"""GL3xx: freezing and the optimizer's parameter set."""

from __future__ import annotations

import libcst as cst

from ..fixes import freezing as fixes
from . import Report, code_of, rule


def _under(key: str, owner: str) -> bool:
    return key == owner or key.startswith(owner + ".")


def _frozen_parts(fn, owner: str):
    """Frozen keys inside ``owner`` in this function (or its class), unless also unfrozen."""
    frozen = {k for k in fn.freezes if _under(k, owner)}
    unfrozen = {k for k in fn.unfreezes if _under(k, owner) or _under(owner, k)}
    if fn.cls is not None and (owner == "self" or owner.startswith("self.")):
        for c in fn.cls.all_classes():
            for m in c.methods.values():
                frozen |= {k for k in m.freezes if _under(k, owner)}
                unfrozen |= {k for k in m.unfreezes if _under(k, owner) or _under(owner, k)}
    return {k for k in frozen if not any(_under(k, u) or _under(u, k) for u in unfrozen)}


@rule("GL301")
def frozen_params_in_optimizer(facts):
    for build in facts.events.optimizers.values():
        for owner, filtered in build.sources:
            if filtered or not owner:
                continue
            parts = _frozen_parts(build.fn, owner)
            if not parts:
                continue
            part = sorted(parts)[0]
            yield Report(build.node, (
                f"the optimizer gets every parameter of `{owner}`, including frozen ones (`{part}`): they "
                f"stay put only while their .grad is None; with momentum or weight decay and stale zeroed "
                f"grads (frozen after training began, `zero_grad(set_to_none=False)`) they still move; pass "
                f"`(p for p in {owner}.parameters() if p.requires_grad)`"),
                lambda b=build: fixes.trainable_params(b, fixes.frozen_parts_by_owner(b, _frozen_parts)))
            break


@rule("GL302")
def no_op_freeze(facts):
    for event in facts.events.syntactic.values():
        if event.code == "GL302":
            yield Report(event.node, event.message, lambda e=event: fixes.compare_to_assign(e))
    for event in facts.events.requires_grad_sets.values():
        target = code_of(event.target)
        if event.attr != "requires_grad":
            yield Report(event.node, (f"`{target}.{event.attr}` is not `requires_grad`: it sets a new attribute "
                                      f"and freezes nothing; write `{target}.requires_grad`"),
                         lambda e=event: fixes.respell(e))
            continue
        if event.value.kind != "module":
            continue
        constant = isinstance(event.rhs, cst.Name) and event.rhs.value in ("True", "False")
        if target == "self" and not constant:
            continue  # a module storing its own `requires_grad` setting
        flag = event.rhs.value if constant else "False"
        yield Report(event.node, (f"`{target}` is an nn.Module: `{target}.requires_grad = ...` sets a plain "
                                  f"attribute and changes no parameter; call `{target}.requires_grad_({flag})`"),
                     lambda e=event: fixes.module_requires_grad_(facts, e))


@rule("GL303")
def requires_grad_on_non_leaf(facts):
    for event in facts.events.requires_grad_sets.values():
        if event.attr != "requires_grad" or event.value.kind != "tensor":
            continue
        if facts.resolve_tensor(event.fn, event.value.tensor) == frozenset({"nonleaf"}):
            target = code_of(event.target)
            yield event.node, (f"`{target}` is computed (not a leaf): setting `.requires_grad` on it raises "
                               f"RuntimeError; use `{target} = {target}.detach()` and then "
                               f"`.requires_grad_()` if it needs gradients")
