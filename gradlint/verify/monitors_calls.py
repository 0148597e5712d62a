"""More monitors of the child process: wrappers around a few torch functions, and a probe of
watched statements. Like ``monitors``, they measure and never decide (``effects`` does).

- functional dropout and ``scaled_dot_product_attention`` called from the program's own
  code: the mode of the module whose method made the call, whether the call dropped, and a
  repeat of the call on the same input (RNG restored) to show that it is random (GL104);
- ``_BatchNorm.forward`` of layers whose weights are frozen: running_mean changes while the
  layer is in training mode (GL105);
- ``torch.autograd.backward`` (``Tensor.backward`` goes through it): the gradients of the
  leaves it reaches before and after, and a scalar factor applied to the loss (``loss / k``),
  and global optimizer step pre-hooks: the gradient each step applies (GL502, GL503);
- ``F.cross_entropy`` / ``F.nll_loss`` given softmax output: the gradient with respect to the
  logits, against the gradient the logits themselves would get (GL902);
- at a watched statement that calls ``x.forward(...)``: a forward hook on ``x`` for the
  duration of the statement, and whether it ran (GL901).
Each wrapper stops measuring after a few calls per site; the program's results do not change
(repeats run with the RNG state restored and gradients off).
"""

from __future__ import annotations

import ast
import copy
import math
import sys
import weakref
from collections import defaultdict
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F

from .statements import MISSING, resolve

MEASURED_CALLS = 3      # per site: dropout repeats, softmax-loss gradients
BACKWARDS_MEASURED = 10  # per site: backward gradient snapshots
STEPS_MEASURED = 12     # per optimizer
FULL_COPY = 4 << 20     # gradient elements copied whole; beyond, the first SLICE of each leaf
SLICE = 4096
_FRAMES_UP = 25
_DROPOUTS = {"dropout": True, "dropout1d": True, "dropout2d": True, "dropout3d": True,
             "alpha_dropout": False, "feature_alpha_dropout": False}   # name -> default of `training`


def _owner_module(frame) -> Optional[torch.nn.Module]:
    """The nn.Module whose method (directly, or through helpers it calls) is running in ``frame``."""
    for _ in range(_FRAMES_UP):
        if frame is None:
            return None
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, torch.nn.Module):
            return candidate
        frame = frame.f_back
    return None


def _norm(tensors) -> float:
    return math.sqrt(sum(float(t.detach().double().pow(2).sum()) for t in tensors if t is not None))


def _rng_state():
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state) -> None:
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


class CallMonitors:
    """The wrappers above, installed and removed with the ``Monitor`` that owns them."""

    def __init__(self, monitor) -> None:
        self.m = monitor
        self.counts: Dict[tuple, int] = defaultdict(int)
        self.dropouts: List[dict] = []
        self.bn_updates: List[dict] = []
        self.backwards: List[dict] = []
        self.steps: List[dict] = []
        self.losses: List[dict] = []
        self.direct_forwards: List[dict] = []
        self._last_grads: Dict[tuple, dict] = {}
        self._scaled: Dict[int, object] = {}  # outputs of GradScaler.scale (their factor is AMP's, not the loss's)
        self._opt_ids: Dict[int, int] = {}
        self._runs: List[dict] = []           # measured backwards: which leaves, fresh or not, the loss factor
        self._last_step: Dict[int, int] = {}  # optimizer serial -> seq of its last step
        self._pending: Dict[int, tuple] = {}  # optimizer id -> (params before, update with the divided loss, record)
        self._counterfactuals = set()
        self._hooked: Dict[tuple, list] = {}
        self._undo: list = []

    # -- install -------------------------------------------------------------------------------
    def install(self) -> None:
        for name, default in _DROPOUTS.items():
            self._patch(F, name, self._dropout_wrapper(name, getattr(F, name), default))
        self._patch(F, "scaled_dot_product_attention",
                    self._attention_wrapper(F.scaled_dot_product_attention))
        for name in ("cross_entropy", "nll_loss"):
            self._patch(F, name, self._loss_wrapper(name, getattr(F, name)))
        batchnorm = torch.nn.modules.batchnorm._BatchNorm
        self._patch(batchnorm, "forward", self._batchnorm_wrapper(batchnorm.forward))
        self._patch(torch.autograd, "backward", self._backward_wrapper(torch.autograd.backward))
        try:
            from torch.amp.grad_scaler import GradScaler
            self._patch(GradScaler, "scale", self._scale_wrapper(GradScaler.scale))
        except ImportError:  # pragma: no cover - older torch
            pass
        from torch.optim import optimizer as optim_module
        for handle in (optim_module.register_optimizer_step_pre_hook(self._pre_step),
                       optim_module.register_optimizer_step_post_hook(self._post_step)):
            self._undo.append(handle.remove)

    def uninstall(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo = []

    def _patch(self, owner, name: str, wrapper) -> None:
        original = owner.__dict__[name] if name in owner.__dict__ else getattr(owner, name)
        setattr(owner, name, wrapper)
        self._undo.append(lambda: setattr(owner, name, original))

    def results(self) -> dict:
        return {"dropouts": self.dropouts, "bn_updates": self.bn_updates, "backwards": self.backwards,
                "steps": self.steps, "losses": self.losses, "direct_forwards": self.direct_forwards}

    def _program_caller(self, frame) -> bool:
        return frame is not None and self.m.program_path(frame.f_code.co_filename) is not None

    def _measured(self, kind: str, key, limit: int) -> bool:
        self.counts[(kind, key)] += 1
        return self.counts[(kind, key)] <= limit

    # -- GL104: functional dropout ---------------------------------------------------------------
    def _dropout_wrapper(self, name: str, original, default_training: bool):
        monitor = self

        def dropout(input, p=0.5, training=default_training, inplace=False):
            caller = sys._getframe(1)
            if monitor.m.busy or not monitor._program_caller(caller) or inplace:
                return original(input, p, training, inplace)
            out = original(input, p, training, inplace)
            monitor._record_dropout(name, caller, input, out, bool(training) and p > 0, p,
                                    lambda: original(input, p, training, inplace))
            return out

        dropout.__wrapped__ = original
        return dropout

    def _attention_wrapper(self, original):
        monitor = self

        def attention(*args, **kwargs):
            caller = sys._getframe(1)
            out = original(*args, **kwargs)
            if monitor.m.busy or not monitor._program_caller(caller):
                return out
            p = args[4] if len(args) > 4 else kwargs.get("dropout_p", 0.0)
            p = float(p) if isinstance(p, (int, float)) else 0.0
            monitor._record_dropout("scaled_dot_product_attention", caller, args[0] if args else None, out, p > 0, p,
                                    lambda: original(*args, **kwargs))
            return out

        attention.__wrapped__ = original
        return attention

    def _record_dropout(self, name, caller, input, out, active: bool, p: float, again) -> None:
        m = self.m
        m.busy = True
        try:
            path, line = m.site(caller)
            module = _owner_module(caller)
            training = bool(module.training) if module is not None else None
            if path is None or not self._measured("dropout", (path, line, training), MEASURED_CALLS):
                return
            record = {"seq": m.tick(), "path": path, "line": line, "fn": name, "p": p, "active": active,
                      "module": type(module).__name__ if module is not None else None, "training": training}
            if isinstance(out, torch.Tensor) and isinstance(input, torch.Tensor) and out.shape == input.shape \
                    and out.is_floating_point():
                with torch.no_grad():
                    before, after = input.detach(), out.detach()
                    record["changed"] = float((after != before).float().mean())
                    live = before != 0
                    if bool(live.any()):
                        record["zeroed"] = float((after[live] == 0).float().mean())
            if active and isinstance(out, torch.Tensor) and out.is_floating_point():
                state = _rng_state()
                try:
                    with torch.no_grad():
                        second = again()
                    record["repeat_diff"] = float((second.detach() - out.detach()).abs().max())
                finally:
                    _set_rng_state(state)
            self.dropouts.append(record)
        except Exception as exc:  # noqa: BLE001 - a monitor must never break the program
            self.dropouts.append({"path": None, "line": None, "monitor_error": f"{type(exc).__name__}: {exc}"})
        finally:
            m.busy = False

    # -- GL105: batch norm with frozen weights ----------------------------------------------------
    def _batchnorm_wrapper(self, original):
        monitor = self

        def forward(bn, input):
            frozen = [p for p in (bn.weight, bn.bias) if p is not None]
            if monitor.m.busy or not bn.training or bn.running_mean is None or not frozen \
                    or any(p.requires_grad for p in frozen):
                return original(bn, input)
            return monitor._frozen_batchnorm(bn, input, original, sys._getframe(1))

        return forward

    def _frozen_batchnorm(self, bn, input, original, caller):
        m = self.m
        path, line = m.site(caller)
        if path is None or not self._measured("bn", id(bn), MEASURED_CALLS):
            return original(bn, input)
        before = bn.running_mean.detach().clone()
        out = original(bn, input)
        with torch.no_grad():
            change = float((bn.running_mean.detach() - before).abs().max()) if before.numel() else 0.0
        self.bn_updates.append({"seq": m.tick(), "path": path, "line": line, "module": type(bn).__name__,
                                "bn": id(bn), "mean_change": change})
        return out

    # -- GL502 / GL503: backward and step ---------------------------------------------------------
    def _scale_wrapper(self, original):
        monitor = self

        def scale(scaler, outputs):
            out = original(scaler, outputs)
            if isinstance(out, torch.Tensor) and out is not outputs:
                monitor._scaled[id(out)] = weakref.ref(out)
            return out

        return scale

    def _backward_wrapper(self, original):
        monitor = self

        def backward(tensors, *args, **kwargs):
            if monitor.m.busy:
                return original(tensors, *args, **kwargs)
            path, line = monitor.m.site(sys._getframe(1))
            if path is None or not monitor._measured("backward", (path, line), BACKWARDS_MEASURED):
                return original(tensors, *args, **kwargs)
            return monitor._measured_backward(original, tensors, args, kwargs, path, line)

        backward.__wrapped__ = original
        return backward

    def _measured_backward(self, original, tensors, args, kwargs, path, line):
        m = self.m
        m.busy = True
        try:
            roots = [tensors] if isinstance(tensors, torch.Tensor) else list(tensors)
            leaves = _leaves(roots)
            before = _copy_grads(leaves)
            scale = _loss_scale(roots[0], self._scaled) if len(roots) == 1 else 1.0
        except Exception:  # noqa: BLE001
            m.busy = False
            return original(tensors, *args, **kwargs)
        m.busy = False
        result = original(tensors, *args, **kwargs)
        m.busy = True
        try:
            after = _copy_grads(leaves)
            record = {"seq": m.tick(), "path": path, "line": line, "leaves": len(leaves), "scale": scale,
                      "before_norm": _norm(before.values()), "after_norm": _norm(after.values()),
                      "contrib_norm": _norm(_diff(after, before).values())}
            last = self._last_grads.get((path, line))
            if last is not None:
                common = [k for k in before if k in last["grads"]]
                record["since_last"] = _norm(_diff({k: before[k] for k in common},
                                                   {k: last["grads"][k] for k in common}).values()) if common else None
                record["last_seq"] = last["seq"]
            self._last_grads[(path, line)] = {"seq": record["seq"], "grads": after}
            self.backwards.append(record)
            self._runs.append({"seq": record["seq"], "ids": frozenset(before), "site": [path, line], "scale": scale,
                               "fresh": record["before_norm"] == 0.0, "after_norm": record["after_norm"]})
        except Exception as exc:  # noqa: BLE001
            self.backwards.append({"path": path, "line": line, "monitor_error": f"{type(exc).__name__}: {exc}"})
        finally:
            m.busy = False
        return result

    def _pre_step(self, opt, args, kwargs):
        if self.m.busy:
            return None
        serial = self._opt_ids.setdefault(id(opt), len(self._opt_ids) + 1)
        if not self._measured("step", serial, STEPS_MEASURED):
            return None
        m = self.m
        m.busy = True
        try:
            path, line = m.site(sys._getframe(1))
            params = [p for g in opt.param_groups for p in g["params"]]
            grads = [p.grad for p in params if p.grad is not None]
            group = opt.param_groups[0] if opt.param_groups else {}
            record = {"seq": m.tick(), "path": path, "line": line, "opt": serial, "type": type(opt).__name__,
                      "grad_norm": _norm(grads), "with_grad": len(grads),
                      "momentum": group.get("momentum") or (group.get("betas") or (None,))[0]}
            record.update(self._accumulated(serial, {id(p) for p in params}, record["grad_norm"]))
            self._last_step[serial] = record["seq"]
            self.steps.append(record)
            if record.get("accumulated", 0) > 1 and record["factor"] > 1.5 and serial not in self._counterfactuals:
                self._counterfactuals.add(serial)
                self._counterfactual(opt, params, record)
        except Exception as exc:  # noqa: BLE001
            self.steps.append({"path": None, "line": None, "monitor_error": f"{type(exc).__name__}: {exc}"})
        finally:
            m.busy = False
        return None

    def _accumulated(self, serial: int, params, grad_norm: float) -> dict:
        """The measured backwards summed into this step: those since the optimizer's last step that
        reached its parameters, from the last one that started from cleared gradients. ``factor``:
        how many mean gradients the step applies (their loss factors summed, times what happened to
        the gradient between the last backward and the step: clipping, a division of ``.grad``)."""
        last = self._last_step.get(serial, 0)
        run = [r for r in self._runs if r["seq"] > last and r["ids"] & params]
        fresh = [i for i, r in enumerate(run) if r["fresh"]]
        run = run[fresh[-1]:] if fresh else run
        if not run:
            return {}
        after = run[-1]["after_norm"]
        since = grad_norm / after if after else 1.0
        return {"accumulated": len(run), "factor": sum(r["scale"] for r in run) * since, "loss_factor":
                sum(r["scale"] for r in run) / len(run), "since_backward": since,
                "sites": sorted({tuple(r["site"]) for r in run})}

    def _counterfactual(self, opt, params, record) -> None:
        """The update this step would make with the loss divided by the accumulation factor: the same
        optimizer stepped on gradient / factor from the same state, then everything put back."""
        if not type(opt).__module__.startswith("torch.optim") or sum(p.numel() for p in params) > FULL_COPY:
            return
        state = copy.deepcopy(opt.state_dict())
        saved = [p.detach().clone() for p in params]
        grads = [p.grad for p in params]
        try:
            with torch.no_grad():
                for p, g in zip(params, grads):
                    if g is not None:
                        p.grad = g / record["factor"]
            opt.step()
            with torch.no_grad():
                divided = _norm([p.detach() - s for p, s in zip(params, saved)])
        finally:
            with torch.no_grad():
                for p, s, g in zip(params, saved, grads):
                    p.copy_(s)
                    p.grad = g
            opt.load_state_dict(state)
        self._pending[id(opt)] = (params, saved, divided, record)

    def _post_step(self, opt, args, kwargs):
        pending = self._pending.pop(id(opt), None)
        if pending is None or self.m.busy:
            return None
        params, saved, divided, record = pending
        with torch.no_grad():
            applied = _norm([p.detach() - s for p, s in zip(params, saved)])
        record["update_norm"], record["divided_update_norm"] = applied, divided
        return None

    # -- GL902: softmax output into a classification loss -------------------------------------------
    def _loss_wrapper(self, name: str, original):
        monitor = self

        def loss(input, target, *args, **kwargs):
            out = original(input, target, *args, **kwargs)
            if not monitor.m.busy and isinstance(input, torch.Tensor) and input.grad_fn is not None \
                    and type(input.grad_fn).__name__ == "SoftmaxBackward0":
                monitor._softmax_loss(name, original, input, target, args, kwargs, sys._getframe(1))
            return out

        loss.__wrapped__ = original
        return loss

    def _softmax_loss(self, name, original, probs, target, args, kwargs, caller) -> None:
        m = self.m
        m.busy = True
        try:
            path, line = m.site(caller)
            if path is None or not self._measured("loss", (path, line), MEASURED_CALLS):
                return
            dim = int(getattr(probs.grad_fn, "_saved_dim", 1))
            if dim >= 1 << 63:  # a negative dim comes back as unsigned
                dim -= 1 << 64
            with torch.enable_grad():
                p = probs.detach().double().requires_grad_()
                actual = original(p, target, *args, **kwargs).sum()
                (g_p,) = torch.autograd.grad(actual, p)
                with torch.no_grad():
                    g_logits = p * (g_p - (g_p * p).sum(dim, keepdim=True))
                z = probs.detach().double().clamp_min(1e-30).log().requires_grad_()
                intended = original(z if name == "cross_entropy" else F.log_softmax(z, dim), target, *args,
                                    **kwargs).sum()
                (g_z,) = torch.autograd.grad(intended, z)
            self.losses.append({"seq": m.tick(), "path": path, "line": line, "loss": name,
                                "grad_norm": float(g_logits.norm()), "logits_grad_norm": float(g_z.norm())})
        except Exception as exc:  # noqa: BLE001
            self.losses.append({"path": None, "line": None, "monitor_error": f"{type(exc).__name__}: {exc}"})
        finally:
            m.busy = False

    # -- GL901: forward called directly -------------------------------------------------------------
    def probe(self, frame, key, phase: str) -> None:
        """Around a watched statement that calls ``x.forward(...)``: does a hook on ``x`` run?"""
        if phase == "before":
            modules = [obj for obj in (resolve(expr, frame) for expr in _forward_receivers(self.m, key))
                       if obj is not MISSING and isinstance(obj, torch.nn.Module)]
            handles = []
            for module in modules:
                counter = {"module": type(module).__name__, "runs": 0}
                handles.append((module.register_forward_hook(_counting(counter)), counter))
            if handles:
                self._hooked[key] = handles
            return
        for handle, counter in self._hooked.pop(key, []):
            handle.remove()
            self.direct_forwards.append({"seq": self.m.tick(), "path": key[0], "line": key[1],
                                         "module": counter["module"], "hook_runs": counter["runs"]})


def _counting(counter: dict):
    def hook(module, args, output):
        counter["runs"] += 1
    return hook


def _forward_receivers(monitor, key) -> list:
    """Receivers of ``.forward(...)`` calls in the statement at ``key`` (name/attribute chains)."""
    index = monitor.index.get(key[0])
    stmt = index.statement(key[1]) if index is not None else None
    if stmt is None:
        return []
    if isinstance(stmt, (ast.If, ast.While)):
        parts = [stmt.test]
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        parts = [stmt.iter]
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        parts = [item.context_expr for item in stmt.items]
    elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Try)):
        parts = []
    else:
        parts = [stmt]
    return [node.func.value for part in parts for node in ast.walk(part)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "forward"]


def _leaves(roots) -> list:
    """The leaf tensors a backward from ``roots`` accumulates into (AccumulateGrad nodes)."""
    seen, leaves = set(), []
    stack = [r.grad_fn for r in roots if isinstance(r, torch.Tensor) and r.grad_fn is not None]
    while stack and len(seen) < 100000:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None)
        if isinstance(variable, torch.Tensor):
            leaves.append(variable)
        stack.extend(nxt for nxt, _ in getattr(node, "next_functions", ()) if nxt is not None)
    return leaves


def _copy_grads(leaves) -> dict:
    total = sum(p.numel() for p in leaves)
    out = {}
    with torch.no_grad():
        for p in leaves:
            g = p.grad
            if g is None or g.is_sparse:
                out[id(p)] = None
                continue
            g = g.detach()
            out[id(p)] = (g.clone() if total <= FULL_COPY else g.reshape(-1)[:SLICE].clone()).double()
    return out


def _diff(a: dict, b: dict) -> dict:
    out = {}
    for k, x in a.items():
        y = b.get(k)
        if x is None and y is None:
            continue
        if x is None:
            out[k] = -y
        elif y is None:
            out[k] = x
        elif x.shape == y.shape:
            out[k] = x - y
    return out


def _loss_scale(loss: torch.Tensor, scaled) -> float:
    """The scalar factor applied last to a loss (``loss / k``, ``loss * 0.25``; AMP's scale aside)."""
    node = loss.grad_fn
    factor = 1.0
    ref = scaled.get(id(loss))
    if ref is not None and ref() is loss and node is not None:  # GradScaler.scale(loss): undone before step()
        node = node.next_functions[0][0]
    for _ in range(8):
        name = type(node).__name__ if node is not None else ""
        if name not in ("DivBackward0", "MulBackward0"):
            break
        other = getattr(node, "_saved_other", None)
        if isinstance(other, torch.Tensor):
            if other.numel() != 1 or other.requires_grad:
                break
            other = float(other)
        if not isinstance(other, (int, float)) or other == 0:
            break
        nxt = node.next_functions
        if len(nxt) > 1 and nxt[1][0] is not None:
            break  # both sides carry a graph: not a constant factor
        factor = factor / other if name == "DivBackward0" else factor * other
        node = nxt[0][0]
    return factor
