"""Monitors of weights (GL304, GL305, GL402, GL404), installed by ``monitors.Monitor``.

They measure, they never decide (``effects`` and the rule modules do):
- a global parameter-registration hook keeps every parameter registered on a module (weakly),
  with the program line that created it; optimizer step pre-hooks (of their own, beside the
  frozen-parameter ones) count the steps at which each parameter held a gradient and record
  which parameters the stepping optimizers hold;
- at watched statements: the parameters registered while the statement ran (a new layer)
  and those whose ``requires_grad`` went from False to True (unfrozen), with a snapshot after
  it to tell later whether they moved; for an attribute assignment, what the attribute holds
  afterwards (an ``nn.Parameter`` registered on its module, or a plain tensor);
- ``torch.tensor(t)`` of a tensor that requires grad: the leaves upstream of ``t`` (what the
  copy cuts off), the gradients that reach them after the copy, and the backward calls.
Costs are bounded: parameters kept, steps compared and copies recorded are capped.
"""

from __future__ import annotations

import math
import sys
import weakref
from collections import defaultdict
from typing import Dict, List, Optional

import torch
from torch.nn.modules import module as nn_module

from .statements import MISSING, resolve

PARAMS_KEPT = 200000       # registered parameters remembered
STEPS_COMPARED = 50        # optimizer steps at which gradients are counted
COPIES_KEPT = 200          # torch.tensor() copies recorded
LEAVES_PER_COPY = 64       # upstream leaves followed per copy
GRAPH_NODES = 20000        # autograd nodes walked per copy


def _shapes(params, limit: int = 3) -> List[list]:
    return [list(p.shape) for p in params[:limit]]


class WeightWatch:
    """Parameters that appear, unfreeze or never get optimized; tensor copies that cut a graph."""

    def __init__(self, monitor) -> None:
        self.monitor = monitor
        self.params: Dict[int, tuple] = {}      # id -> (weakref, path, line, seq), in registration order
        self.grad_steps: Dict[int, int] = defaultdict(int)
        self.held: set = set()
        self.steps = 0
        self.orphan_snaps: Dict[int, tuple] = {}
        self.statements: Dict[tuple, dict] = {}
        self.pending: Dict[tuple, tuple] = {}
        self.targets: Dict[tuple, dict] = {}
        self.copies: Dict[tuple, dict] = {}
        self.backwards = 0
        self.leaf_grads: Dict[int, int] = defaultdict(int)
        self._leaf_hooks: Dict[int, object] = {}

    # -- install ---------------------------------------------------------------------------
    def install(self) -> None:
        m = self.monitor
        m._handles.append(nn_module.register_module_parameter_registration_hook(self._registered))
        from torch.optim import optimizer as optim_module
        m._handles.append(optim_module.register_optimizer_step_pre_hook(self._pre_step))
        original_tensor = torch.tensor
        original_backward = torch.autograd.backward
        watch = self

        def tensor(data, *args, **kwargs):
            out = original_tensor(data, *args, **kwargs)
            if not m.busy and _carries_grad(data):
                watch._copied(data, sys._getframe(1))
            return out

        def backward(*args, **kwargs):
            watch.backwards += 1
            return original_backward(*args, **kwargs)

        torch.tensor = tensor
        torch.autograd.backward = backward
        m._restore.append(lambda: setattr(torch, "tensor", original_tensor))
        m._restore.append(lambda: setattr(torch.autograd, "backward", original_backward))

    # -- parameters --------------------------------------------------------------------------
    def _registered(self, module, name, param) -> None:
        m = self.monitor
        if param is None or m.busy or len(self.params) >= PARAMS_KEPT:
            return
        pid = id(param)
        known = self.params.get(pid)
        if known is not None and known[0]() is param:
            return  # the same parameter registered on another module: keep where it was made
        m.busy = True
        try:
            path, line = m.site(sys._getframe(1))
            self.params.pop(pid, None)  # a dead parameter's id reused: keep registration order
            self.params[pid] = (weakref.ref(param), path, line, m.tick())
        except Exception:  # noqa: BLE001 - a monitor must never break the program
            pass
        finally:
            m.busy = False

    def _live(self, ids) -> list:
        out = []
        for pid in ids:
            entry = self.params.get(pid)
            p = entry[0]() if entry is not None else None
            if p is not None:
                out.append((pid, p))
        return out

    def _pre_step(self, opt, args, kwargs) -> None:
        m = self.monitor
        if m.busy:
            return
        m.busy = True
        try:
            self.steps += 1
            self.held |= {id(p) for g in opt.param_groups for p in g["params"]}
            if self.steps > STEPS_COMPARED:
                return
            for pid, p in self._live(list(self.params)):
                if p.grad is None:
                    continue
                self.grad_steps[pid] += 1
                if pid not in self.held and pid not in self.orphan_snaps:
                    self.orphan_snaps[pid] = m.snapshots.take(p)
        except Exception:  # noqa: BLE001
            pass
        finally:
            m.busy = False

    # -- watched statements (called from Monitor.probe, with the monitor busy) -----------------
    def statement(self, frame, key: tuple, phase: str, subject) -> None:
        if phase == "before":
            frozen = {pid for pid, p in self._live(list(self.params)) if not p.requires_grad}
            self.pending[key] = (self.monitor.seq, frozen)
            return
        started = self.pending.pop(key, None)
        if started is None:
            return
        seq, frozen = started
        new = []
        for pid in reversed(self.params):
            if self.params[pid][3] <= seq:
                break
            new.append(pid)
        unfrozen = [pid for pid, p in self._live(frozen) if p.requires_grad]
        rec = self.statements.get(key)
        if rec is None:
            rec = self.statements[key] = {"new": {}, "unfrozen": {}, "steps_before": self.steps}
        snapshots = self.monitor.snapshots
        for group, ids in (("new", new), ("unfrozen", unfrozen)):
            for pid, p in self._live(ids):
                if pid not in rec[group]:
                    rec[group][pid] = snapshots.take(p)
        if subject is not None and subject.shape == "setattr" and key not in self.targets:
            self._target(frame, key, subject)

    def _target(self, frame, key: tuple, subject) -> None:
        """What ``owner.attr`` holds after an attribute assignment on a module."""
        owner = resolve(subject.expr, frame)
        if owner is MISSING or not isinstance(owner, torch.nn.Module):
            return
        value = getattr(owner, subject.attr, MISSING)
        if not isinstance(value, torch.Tensor):
            return
        self.targets[key] = {
            "attr": subject.attr, "owner": type(owner).__name__,
            "parameter": isinstance(value, torch.nn.Parameter),
            "registered": owner._parameters.get(subject.attr) is value,
            "owner_params": sum(1 for _ in owner.parameters()),
            "is_leaf": value.is_leaf, "requires_grad": value.requires_grad,
            "grad_fn": type(value.grad_fn).__name__ if value.grad_fn is not None else None,
            "dtype": str(value.dtype).replace("torch.", ""), "device": str(value.device)}

    # -- torch.tensor() copies -----------------------------------------------------------------
    def _copied(self, data, frame) -> None:
        m = self.monitor
        m.busy = True
        try:
            path, line = m.site(frame)
            if path is None:
                return
            key = (path, line)
            rec = self.copies.get(key)
            if rec is None:
                if len(self.copies) >= COPIES_KEPT:
                    return
                rec = self.copies[key] = {"copies": 0, "leaves": {}, "backwards_at": self.backwards}
            rec["copies"] += 1
            for leaf in _upstream_leaves(data):
                lid = id(leaf)
                if lid not in rec["leaves"] and len(rec["leaves"]) < LEAVES_PER_COPY:
                    self._count_grads(leaf)
                    rec["leaves"][lid] = (self.leaf_grads[lid], list(leaf.shape))
        except Exception:  # noqa: BLE001
            pass
        finally:
            m.busy = False

    def _count_grads(self, leaf: torch.Tensor) -> None:
        lid = id(leaf)
        if lid in self._leaf_hooks or not hasattr(leaf, "register_post_accumulate_grad_hook"):
            return
        counts = self.leaf_grads

        def arrived(tensor, lid=lid):
            counts[lid] += 1

        self._leaf_hooks[lid] = leaf.register_post_accumulate_grad_hook(arrived)

    # -- results -------------------------------------------------------------------------------
    def results(self) -> dict:
        changes = []
        for (path, line), rec in self.statements.items():
            row = {"path": path, "line": line, "steps_after": self.steps - rec["steps_before"]}
            for group in ("new", "unfrozen"):
                live = [(pid, snap) for pid, snap in rec[group].items() if snap[0] is not None]
                moved = [_moved(snap) for _, snap in live]
                row[group] = len(live)
                row[f"{group}_held"] = sum(1 for pid, _ in live if pid in self.held)
                row[f"{group}_with_grad"] = sum(1 for pid, _ in live if self.grad_steps.get(pid))
                row[f"{group}_grad_steps"] = max([self.grad_steps.get(pid, 0) for pid, _ in live] or [0])
                row[f"{group}_moved"] = max([d for d in moved if not math.isnan(d)] or [0.0])
                row[f"{group}_shapes"] = [list(snap[0].shape) for _, snap in live[:3]]
            changes.append(row)
        orphans: Dict[tuple, dict] = {}
        if self.steps:
            for pid, p in self._live(list(self.params)):
                if pid in self.held or not self.grad_steps.get(pid):
                    continue
                _, path, line, _ = self.params[pid]
                row = orphans.setdefault((path, line), {"path": path, "line": line, "params": 0, "grad_steps": 0,
                                                        "moved": 0.0, "steps": self.steps, "shapes": []})
                row["params"] += 1
                row["grad_steps"] = max(row["grad_steps"], self.grad_steps[pid])
                if pid in self.orphan_snaps:
                    d = _moved(self.orphan_snaps[pid])
                    if not math.isnan(d):
                        row["moved"] = max(row["moved"], d)
                if len(row["shapes"]) < 3:
                    row["shapes"].append(list(p.shape))
        copies = []
        for (path, line), rec in self.copies.items():
            reached = sum(max(0, self.leaf_grads[lid] - before) for lid, (before, _) in rec["leaves"].items())
            copies.append({"path": path, "line": line, "copies": rec["copies"], "leaves": len(rec["leaves"]),
                           "shapes": [shape for _, shape in list(rec["leaves"].values())[:3]],
                           "backwards_after": self.backwards - rec["backwards_at"], "reached": reached})
        targets = [dict(value, path=path, line=line) for (path, line), value in self.targets.items()]
        return {"param_changes": changes, "param_orphans": list(orphans.values()), "tensor_copies": copies,
                "attr_targets": targets}


def _moved(snap) -> float:
    from .monitors import _Snapshots

    return _Snapshots.moved(snap)


def _carries_grad(data) -> bool:
    if isinstance(data, torch.Tensor):
        return data.requires_grad
    if isinstance(data, (list, tuple)) and len(data) <= 10000:
        return any(isinstance(x, torch.Tensor) and x.requires_grad for x in data)
    return False


def _upstream_leaves(data) -> List[torch.Tensor]:
    """Leaf tensors that require grad and feed ``data`` (itself, when it is one)."""
    tensors = [data] if isinstance(data, torch.Tensor) else [x for x in data if isinstance(x, torch.Tensor)]
    leaves: List[torch.Tensor] = []
    seen = set()
    stack = []
    for t in tensors:
        if not t.requires_grad:
            continue
        if t.grad_fn is None:
            leaves.append(t)
        else:
            stack.append(t.grad_fn)
    while stack and len(seen) < GRAPH_NODES and len(leaves) < LEAVES_PER_COPY:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable: Optional[torch.Tensor] = getattr(node, "variable", None)
        if isinstance(variable, torch.Tensor):
            leaves.append(variable)
        stack.extend(nxt for nxt, _ in getattr(node, "next_functions", ()) if nxt is not None)
    return leaves
