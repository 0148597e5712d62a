"""GL105 frozen-batchnorm-still-updating: a frozen submodule with batch norm runs in training mode.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL105``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

from ..docs import RuleDoc
from ..facts.names import part_of
from ..facts.state import entry_ok, lookup_mode
from ..facts.values import EVAL, NEW, TRAIN, TRAIN_SET
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, num, plural, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule
from .common import is_model_call

_TRAINING = frozenset({TRAIN, TRAIN_SET, NEW})


# -- check -----------------------------------------------------------------------------------------
@rule("GL105", "frozen-batchnorm-still-updating", "warning",
      "A frozen submodule with batch norm runs in training mode: its running statistics still change.")
def check(facts):
    reported = set()
    for call in facts.events.forward_calls.values():
        state = facts.events.forward_states.get(call.node)
        if state is None or not _trains_here(call) or not is_model_call(facts, call):
            continue
        modes, _, trained = state
        for frozen_key, value, freezes in _frozen_parts(facts, call, state):
            if not _holds_batchnorm(value, 0) or _keeps_eval(facts, call, frozen_key, modes):
                continue
            atoms = lookup_mode(modes, frozen_key, trained, entry_ok(call.fn, frozen_key))
            kinds = {kind for kind, _ in facts.resolve_modes(call.fn, atoms)}
            if not kinds & _TRAINING:
                continue
            for freeze in freezes:
                if id(freeze.node) in reported:
                    continue
                reported.add(id(freeze.node))
                yield Report(freeze.node,
                             f"`{frozen_key}` is frozen but `{call.key}(...)` runs its batch norm in training mode: "
                             f"its running statistics still change", None,
                             f"the frozen features drift; after each `.train()`, put `{frozen_key}` (or its "
                             f"batch-norm layers) back in eval mode, or override `train()` to keep them there")


def _trains_here(call) -> bool:
    return any(loop.trains for loop in call.loops) or bool(call.fn.trains)


def _frozen_parts(facts, call, state) -> Iterator[Tuple[str, object, list]]:
    """(frozen key, its value, the freeze events that froze it) for the parts of the called model
    that are frozen at the call: frozen in this function, by the class itself, or by a caller."""
    key = call.key
    if not key:
        return
    _, frozen, _ = state
    for fk in sorted(k for k in frozen if part_of(k, key)):
        value = _part(call.value, fk[len(key) + 1:] if fk != key else "")
        freezes = _freezes_in(facts, call.fn, fk) or _class_freezes(facts, call.value, fk[len(key) + 1:])
        if freezes:
            yield fk, value, freezes
    root = key.split(".", 1)[0]
    if root not in call.fn.params:
        return
    for site in call.fn.callsites:
        passed = (site.args or {}).get(root)
        if not passed:
            continue
        for ck in sorted(k for k in site.frozen if part_of(k, passed)):
            mine = root + ck[len(passed):]
            if not part_of(mine, key):
                continue
            arg = (site.values or {}).get(root)
            rest = mine[len(key) + 1:] if mine != key else ""
            value = _part(arg, (key[len(root) + 1:] + "." + rest).strip(".") if key != root else rest)
            freezes = _freezes_in(facts, site.caller, ck) or _class_freezes(facts, arg, ck[len(passed) + 1:])
            if freezes:
                yield mine, value, freezes


def _part(value, path: str):
    """The value of a part of a model (``backbone.layer1``) through its classes' attributes."""
    for attr in [p for p in path.split(".") if p]:
        cls = getattr(value, "cls", None) if value is not None else None
        value = cls.attr(attr) if cls is not None else None
    return value


def _freezes_in(facts, fn, key: str) -> list:
    return [f for f in facts.events.freezes.values() if f.fn is fn and f.frozen and f.key == key]


def _class_freezes(facts, value, part: str) -> list:
    """Freezes the model's own class makes (``self.backbone.requires_grad_(False)`` in ``__init__``)."""
    cls = getattr(value, "cls", None) if value is not None else None
    if cls is None or getattr(cls, "is_summary", False):
        return []
    target = "self." + part if part else "self"
    classes = list(cls.all_classes())
    return [f for f in facts.events.freezes.values()
            if f.frozen and f.key == target and f.cls is not None and any(f.cls is c for c in classes)]


def _holds_batchnorm(value, depth: int) -> bool:
    if value is None or depth > 6:
        return False
    if value.batchnorm:
        return True
    cls = getattr(value, "cls", None)
    if cls is None:
        return False
    for c in cls.all_classes():
        for attr in list(getattr(c, "attrs", {}).values()):
            if attr is not None and attr.kind == "module" and _holds_batchnorm(attr, depth + 1):
                return True
    return False


def _keeps_eval(facts, call, frozen_key: str, modes) -> bool:
    """Something puts (parts of) the frozen module in eval mode: its own key, a part of it, or the
    elements of a loop over the model's modules (``for m in model.modules(): m.eval()``), or the
    model's class overrides ``train()``."""
    parts = frozen_key.split(".")
    ancestors = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for k, atoms in modes.items():
        if not any(kind == EVAL for kind, _ in atoms):
            continue
        if k.startswith(frozen_key + ".") or any(k.startswith(a + ".item") for a in ancestors):
            return True
    cls = getattr(call.value, "cls", None)
    return cls is not None and cls.method("train") is not None


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL105",
    what="""
Finds the freeze of a submodule that holds batch norm (`requires_grad_(False)`,
`p.requires_grad = False` over its parameters, in the same function, in the model's own
class, or in the caller that hands the model over) when the model it belongs to then
runs in training mode in a training loop, and nothing puts the frozen part back in eval
mode. The finding points at the freeze.
""",
    why="""
Freezing stops gradients, not batch norm: in training mode every forward still updates
`running_mean` and `running_var` with the statistics of the current batch. The "frozen"
backbone's outputs at evaluation then drift with the new data (small fine-tuning batches
make it worse), and the pretrained statistics are lost. Keeping a frozen part's statistics
requires `frozen_part.eval()` after each `model.train()` (or a `train()` override).
""",
    example="""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.backbone(x))


model = Net()
model.backbone.requires_grad_(False)
optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1)
for _ in range(3):
    x, y = torch.randn(16, 8), torch.randint(0, 2, (16,))
    model.train()
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
""",
    use_instead="""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU())
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.backbone(x))


model = Net()
model.backbone.requires_grad_(False)
optimizer = torch.optim.SGD(model.head.parameters(), lr=0.1)
for _ in range(3):
    x, y = torch.randn(16, 8), torch.randint(0, 2, (16,))
    model.train()
    model.backbone.eval()
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
""",
    not_flagged="""
- The frozen part put in eval mode after `.train()` (`model.backbone.eval()`), batch-norm
  layers put in eval in a loop over the model's modules, or a class that overrides `train()`.
- Frozen parts without batch norm (dropout and layer norm have no running statistics), batch
  norm built with `track_running_stats=False`, and models that are only evaluated.
- Where the analysis cannot tell what the frozen part holds (a factory it does not know).
""",
    verifier="""
Wraps `BatchNorm.forward`: after the flagged freeze ran, batch-norm layers whose weights
are frozen run in training mode and their `running_mean` changes (the largest change is
reported).
""",
    fix="""
No automatic fix: where the frozen part goes back to eval mode (after every `.train()`,
in the trainer, or in a `train()` override) is a decision about the training code.
""",
)


# -- runtime effect --------------------------------------------------------------------------------
def _updated(record) -> bool:
    return record.get("mean_change", 0) > 0


def _updates(obs: Observations, after: Optional[int] = None):
    return [r for r in obs.all("bn_updates") if _updated(r) and (after is None or r.get("seq", 0) > after)]


def _evidence(records) -> str:
    layers = {r["bn"] for r in records}
    kinds = ", ".join(sorted({r["module"] for r in records}))
    return (f"{plural(len(layers), 'batch-norm layer')} with frozen weights ({kinds}) ran in training mode and "
            f"running_mean changed (max |d| {num(max(r['mean_change'] for r in records))} over "
            f"{plural(len(records), 'measured forward')})")


@effect("GL105")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    seqs = obs.hit_seqs.get(at) or []
    if not seqs:
        return Outcome(NOT_REPRODUCED, "the freeze ran but was not sequenced")
    records = _updates(obs, min(seqs))
    if records:
        return Outcome(CONFIRMED, "after this freeze, " + _evidence(records))
    return Outcome(NOT_REPRODUCED, "no batch-norm layer with frozen weights ran in training mode after this freeze")


@scan("GL105")
def effect_anywhere(obs: Observations):
    return ([(at, _evidence(rs)) for at, rs in obs.sites("bn_updates", _updated)],
            "no batch-norm layer with frozen weights ran in training mode")
