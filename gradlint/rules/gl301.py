"""GL301 frozen-params-in-optimizer: frozen parameters handed to the optimizer with the model's unfiltered parameters.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL301``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst

from ..facts.names import key_of, overlaps, part_of
from ..docs import RuleDoc, SAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of, expression
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, num, plural, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule
from .common import display_key


# -- check -----------------------------------------------------------------------------------------
def _frozen_parts(fn, owner: str, build=None, trained=None):
    """Frozen keys inside ``owner`` in this function (or its class), unless also unfrozen. With
    the optimizer ``build``, the function's own freezes are those on the path to it or after it
    (a freeze in the other branch of `if fix_param:`, or of a model since rebound, is not).
    With ``trained`` (the facts' freezes made once a training step may have run), only those:
    a parameter frozen before any backward keeps `.grad = None`, and torch.optim skips it."""
    def harmful(f, key) -> bool:
        return trained is None or (id(f), key) in trained

    if build is not None:
        frozen = {k for k in build.frozen_before | build.frozen_after if part_of(k, owner) and harmful(fn, k)}
    else:
        frozen = {k for k in fn.freezes if part_of(k, owner) and harmful(fn, k)}
    unfrozen = {k for k in fn.unfreezes if overlaps(k, owner)}
    if fn.cls is not None and (owner == "self" or owner.startswith("self.")):
        for c in fn.cls.all_classes():
            for m in c.methods.values():
                frozen |= {k for k in m.freezes if part_of(k, owner) and harmful(m, k)}
                unfrozen |= {k for k in m.unfreezes if overlaps(k, owner)}
    frozen = {k for k in frozen if not any(overlaps(k, u) for u in unfrozen)}
    return frozen or _frozen_by_callers(fn, owner, trained is not None)


def _frozen_by_callers(fn, owner: str, after_training: bool = False) -> set:
    """``def make_optimizer(model): return SGD(model.parameters())``: the parts of ``model``
    that a caller (in any file of the project) froze before the call, in the callee's names
    (``after_training``: only at calls made once a training step may have run)."""
    root, _, rest = owner.partition(".")
    if fn.is_module_level or root not in fn.params or fn.escapes:
        return set()
    found = set()
    for site in fn.callsites:
        given = (site.args or {}).get(root)
        if not given or (after_training and True not in site.trained):
            continue
        base = f"{given}.{rest}" if rest else given
        for key in getattr(site, "frozen", ()):
            if after_training and any(part_of(key, new) for new in site.fresh):
                continue  # frozen on a model built since the caller's last training step: no gradient yet
            if part_of(key, base):
                found.add(owner + key[len(base):])
    return found


@rule("GL301", "frozen-params-in-optimizer", "warning",
      "Frozen parameters are passed to the optimizer with the model's unfiltered parameters.")
def check(facts):
    for build in facts.events.optimizers.values():
        for owner, filtered in build.sources:
            if filtered or not owner:
                continue
            parts = _frozen_parts(build.fn, owner, build, facts.events.trained_freezes)
            if not parts:
                continue
            part = display_key(sorted(parts)[0])
            yield Report(build.node, f"the optimizer gets every parameter of `{owner}`, including `{part}`, "
                                     f"frozen once training may have begun",
                         lambda b=build: trainable_params(b, frozen_parts_by_owner(b, _frozen_parts)),
                         f"pass `(p for p in {owner}.parameters() if p.requires_grad)`: frozen weights stay put "
                         f"only while their .grad is None; with a stale zeroed .grad (frozen after training "
                         f"began) momentum or weight decay still moves them")
            break


# -- fix -------------------------------------------------------------------------------------------
def _frozen_before(build, owner: str, parts) -> bool:
    """Every frozen part is frozen when the optimizer is built: earlier in the same function,
    or (for ``self``) in the class's ``__init__``, which runs before any other method."""
    fn = build.fn
    inits = []
    if fn.cls is not None and (owner == "self" or owner.startswith("self.")):
        inits = [c.methods["__init__"] for c in fn.cls.all_classes() if "__init__" in c.methods]
    for part in parts:
        if any(part_of(part, k) for k in build.frozen_before):
            continue
        if fn.name != "__init__" and any(any(part_of(part, k) for k in init.freezes) for init in inits):
            continue
        return False
    return True


def _trainable(expr: cst.BaseExpression, owners) -> Optional[cst.BaseExpression]:
    """``expr`` with the parameters of ``owners`` filtered, or None when it holds none."""
    if isinstance(expr, cst.Call):
        func = expr.func
        if isinstance(func, cst.Attribute) and func.attr.value == "parameters" and not expr.args \
                and key_of(func.value) in owners:
            return expression(f"(p for p in {code_of(expr)} if p.requires_grad)")
        if isinstance(func, cst.Name) and func.value == "list" and len(expr.args) == 1 \
                and not expr.args[0].keyword and not expr.args[0].star:
            inner = _trainable(expr.args[0].value, owners)
            if isinstance(inner, cst.GeneratorExp):
                return cst.ListComp(elt=inner.elt, for_in=inner.for_in)
        return None
    if isinstance(expr, (cst.List, cst.Tuple)):
        changed = False
        elements = []
        for el in expr.elements:
            new = _trainable(el.value, owners) if isinstance(el, cst.Element) else None
            if new is not None:
                changed = True
                el = el.with_changes(value=new)
            elements.append(el)
        return expr.with_changes(elements=elements) if changed else None
    if isinstance(expr, cst.Dict):
        changed = False
        elements = []
        for el in expr.elements:
            if isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString) \
                    and el.key.raw_value == "params":
                new = _trainable(el.value, owners)
                if new is not None:
                    changed = True
                    el = el.with_changes(value=new)
            elements.append(el)
        return expr.with_changes(elements=elements) if changed else None
    return None


def _params_arg(call: cst.Call) -> Optional[cst.Arg]:
    for i, arg in enumerate(call.args):
        if arg.star:
            return None
        if (arg.keyword is None and i == 0) or (arg.keyword is not None and arg.keyword.value == "params"):
            return arg
    return None


def trainable_params(build, frozen_parts) -> Union[Fix, NotFixable]:
    """GL301. ``frozen_parts``: owner key -> its frozen parts (the unfiltered sources)."""
    owners = {owner for owner, parts in frozen_parts.items() if _frozen_before(build, owner, parts)}
    if not owners:
        return NotFixable("the parameters are frozen after the optimizer is built: filtering them there "
                          "changes nothing; build the optimizer after freezing")
    if len(owners) < len(frozen_parts):
        return NotFixable("some parameters are frozen after the optimizer is built")
    arg = _params_arg(build.node)
    if arg is None:
        return NotFixable("the optimizer's parameters are not passed as an argument")
    new = _trainable(arg.value, owners)
    if new is None:
        return NotFixable("the parameters come from a variable; filter them where they are collected")
    shown = ", ".join(f"(p for p in {o}.parameters() if p.requires_grad)" for o in sorted(owners))
    return Fix((Edit(arg.value, lambda updated: new),), f"pass only trainable parameters: `{shown}`", safe=True)


def frozen_parts_by_owner(build, parts_of) -> dict:
    """owner -> frozen parts, for the optimizer's unfiltered sources (``parts_of(fn, owner)``)."""
    out = {}
    for owner, filtered in build.sources:
        if filtered or not owner:
            continue
        parts = parts_of(build.fn, owner)
        if parts:
            out[owner] = parts
    return out


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL301",
    what="""
Finds an optimizer built from the unfiltered parameters of a model (`model.parameters()`)
when part of that model is frozen (`p.requires_grad = False`, `requires_grad_(False)`,
`nn.Parameter(..., requires_grad=False)`, `nn.Embedding.from_pretrained(...)`, which
freezes by default) once a training step may already have run: before the optimizer is
built, or after it (mid-training), in the same function, a helper it calls, or a caller in
any file. The finding points at the optimizer's construction.
""",
    why="""
`torch.optim` skips a parameter whose `.grad` is `None`, so parameters frozen before any
backward stay put and handing them over is harmless: the optimizer just holds state it
never uses (gradlint does not report that case). They **do** move
when they still hold a zeroed, non-`None` gradient (frozen after training began, with
`zero_grad(set_to_none=False)`, the default before torch 2.0) and the optimizer has
momentum or weight decay: the "frozen" weights then drift. Measured on torch 2.13 (CPU,
3 steps), the largest change of a frozen weight was 0.394 with SGD (momentum and weight
decay), 0.170 with AdamW and 0.161 with Adam, and 0 in every other case. Passing only the
trainable parameters makes the freeze hold whatever the optimizer and the torch version,
and keeps optimizer state small.
""",
    example="""
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(16, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(torch.relu(self.backbone(x)))


model = Classifier()
batches = [(torch.randn(4, 16), torch.tensor([0, 1, 0, 1]))]
for epoch in range(2):
    if epoch == 1:
        model.backbone.requires_grad_(False)  # the head only, from the second epoch on
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    for x, y in batches:
        optimizer.zero_grad(set_to_none=False)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
""",
    use_instead="""
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(16, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(torch.relu(self.backbone(x)))


model = Classifier()
batches = [(torch.randn(4, 16), torch.tensor([0, 1, 0, 1]))]
for epoch in range(2):
    if epoch == 1:
        model.backbone.requires_grad_(False)  # the head only, from the second epoch on
    trainable = (p for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW(trainable, lr=1e-3, weight_decay=0.01)
    for x, y in batches:
        optimizer.zero_grad(set_to_none=False)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
""",
    not_flagged="""
- Parameters frozen before any training step (in `__init__`, right after building the
  model, `Embedding.from_pretrained`): their `.grad` stays `None` and torch.optim skips them.
  Three judged corpus passes found every such finding harmless, so it is not reported.
  The same for a model built anew after an earlier one trained, also when a helper it is
  handed to builds the optimizer.
- Filtered parameters: `filter(lambda p: p.requires_grad, ...)`, comprehensions,
  `named_parameters()` with a condition, or param groups that leave the frozen part out.
- GAN-style alternating `requires_grad_` toggles, and parameters unfrozen again.
""",
    verifier="""
Optimizer step hooks record which frozen parameters the optimizer holds and whether they
moved after `step()`. With stale zeroed grads and momentum or weight decay the frozen
weights change (max |dW| 0.394 SGD with momentum and weight decay, 0.170 AdamW, 0.161
Adam on torch 2.13 CPU over 3 steps); when their `.grad` is `None` they do not move (the
good fixtures frozen before training measure that absence).
""",
    fix=f"""
{SAFE_FIX} passes only trainable parameters, `(p for p in model.parameters() if
p.requires_grad)` (also inside param-group dicts; `list(model.parameters())` becomes a
list comprehension). Only where the parameters are frozen *before* the optimizer is
built: for a freeze after it, filtering at construction changes nothing, so the finding
stays and is counted as not fixable (rebuild the optimizer after freezing, or make sure
the frozen parameters' `.grad` is None).
""",
)

# -- runtime effect --------------------------------------------------------------------------------
def _hyper(rec: dict) -> str:
    hyper = rec.get("hyper") or {}
    shown = [f"{k}={num(v) if isinstance(v, float) else v}" for k, v in hyper.items()
             if k in ("momentum", "weight_decay") and v]
    return f"{rec['type']}" + (f" {', '.join(shown)}" if shown else "")


@effect("GL301")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    built = obs.at("optimizers", at)
    if not built:
        return Outcome(NOT_REPRODUCED, "no optimizer was built at this line")
    rec = max(built, key=lambda r: (r["frozen_moved"], r["frozen"], r["steps"]))
    if rec["steps"] == 0:
        return Outcome(NOT_REPRODUCED, f"the {rec['type']} optimizer never stepped")
    if rec["frozen"] == 0:
        return Outcome(NOT_REPRODUCED, f"the optimizer held no frozen parameter at any of {rec['steps']} steps")
    if rec["frozen_moved"] > 0:
        return Outcome(CONFIRMED, f"frozen weight moved by {num(rec['frozen_moved'])} over {rec['frozen_steps']} "
                                  f"steps ({_hyper(rec)}; {rec['frozen_with_grad']} of {rec['frozen']} frozen "
                                  f"parameters kept a zeroed .grad)")
    if rec["frozen_with_grad"]:
        why = (f"{rec['frozen_with_grad']} kept a zeroed .grad, but {rec['type']} without momentum or weight "
               f"decay leaves them in place")
    else:
        why = "their .grad is None, so torch.optim skips them"
    return Outcome(NOT_REPRODUCED, f"{plural(rec['frozen'], 'frozen parameter')} held over "
                                   f"{plural(rec['frozen_steps'], 'step')} did not move ({why})")


@scan("GL301")
def effect_anywhere(obs: Observations):
    moved = [o for o in obs.all("optimizers") if o["frozen_moved"] > 0 and o.get("path")]
    held = sum(o["frozen"] for o in obs.all("optimizers"))
    return ([((o["path"], o["line"]), f"frozen weight moved by {num(o['frozen_moved'])} ({_hyper(o)})")
             for o in moved],
            f"{plural(len(obs.all('optimizers')), 'optimizer')}, {plural(held, 'frozen parameter')} held, "
            f"none moved")
