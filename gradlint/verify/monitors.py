"""Hooks installed in the child process: they measure, they never decide.

What each rule makes of these numbers is in ``effects`` (the parent side). Every event is
keyed by the statement it happened at: the innermost frame whose file is one of the
program's own files, mapped to its statement's first line (``statements``).

Monitors:
- global module forward pre/post hooks: for each top-level module call (one not made
  from inside another module's forward): ``training``, grad mode, mode-dependent layers,
  bytes saved for backward (``saved_tensors_hooks``), BatchNorm buffer changes, a
  repeat forward and an eval-mode forward on the same input (hooks off, RNG and buffers
  restored, so the program's own results do not change), whether backward ever reached
  the output (a tensor hook), and CUDA ``memory_allocated`` deltas;
- optimizer construction sites and step pre/post hooks, at every step: frozen
  (requires_grad=False) parameters the optimizer holds, and how far they move while frozen.
  A step costs a look at each held parameter's ``requires_grad`` and version counter; a
  parameter is copied once when it is first seen frozen and compared with that copy only
  after its version changed (something wrote to it), when it is unfrozen, for a progress
  report or at the end: the cost follows what changed, not the number of steps;
- warnings and exceptions with the program line they came from;
- a line tracer over the program's files: which statements ran, and for watched
  statements (the anchors) the grad mode and the state of the object the statement is
  about, before and after it runs.
Costly measurements stop after a few calls per site so a user's long run stays cheap.
With a progress file, a snapshot of the results is written there every
``PROGRESS_SECONDS`` (from the hooks, so a run that does nothing observable writes none).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings
import weakref
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import torch
from torch.nn.modules import module as nn_module

from .monitors_weights import WeightWatch
from .statements import MISSING, StatementIndex, resolve

DETAILED_CALLS = 3          # per call site: saved bytes, reruns, BatchNorm deltas for the first calls
PROBES_PER_LINE = 25        # before/after probes kept per watched statement
FORWARD_LOG = 20000         # top-level forward records kept
EVENTS_KEPT = 200           # exceptions and warnings kept
PROGRESS_SECONDS = 2.0      # between two progress snapshots
SNAPSHOT_BUDGET = 256 << 20  # bytes of parameter copies, in all
SNAPSHOT_SLICE = 4096       # elements kept per parameter once the budget is spent
GRAPH_NODE_CAP = 100000
_QUIET_EXC = (StopIteration, StopAsyncIteration, GeneratorExit)


def _mode_dependent(module: torch.nn.Module) -> bool:
    nn = torch.nn
    if isinstance(module, (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm, nn.RReLU)):
        return True
    if isinstance(module, nn.modules.instancenorm._InstanceNorm):
        return bool(module.track_running_stats)
    if isinstance(module, nn.MultiheadAttention):
        return module.dropout > 0
    return False


def _tensors(value, depth: int = 0) -> List[torch.Tensor]:
    """Tensors inside an output or container (tensor, tuple, list, dict, dataclass-like), in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if depth > 3:
        return []
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__ == "deque":
        items = list(value)
    else:
        return []
    found: List[torch.Tensor] = []
    for item in items[:10000]:
        found.extend(_tensors(item, depth + 1))
    return found


def _max_diff(a, b) -> Optional[float]:
    left, right = _tensors(a), _tensors(b)
    best = None
    for x, y in zip(left, right):
        if x.shape != y.shape or not (x.is_floating_point() or x.is_complex()):
            continue
        d = (x.detach().float() - y.detach().float()).abs()
        if d.numel():
            value = float(d.max().item())
            best = value if best is None or not (value <= best) else best
    return best


def graph_nodes(tensors, cap: int = GRAPH_NODE_CAP) -> int:
    """Autograd nodes reachable from the tensors' grad_fn (what keeps their history alive)."""
    seen: Dict[int, object] = {}
    stack = [t.grad_fn for t in tensors if isinstance(t, torch.Tensor) and t.grad_fn is not None]
    while stack and len(seen) < cap:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen[id(node)] = node
        for nxt, _ in getattr(node, "next_functions", ()):
            if nxt is not None:
                stack.append(nxt)
    return len(seen)


def _storage_key(t: torch.Tensor) -> Tuple[int, int]:
    try:
        storage = t.untyped_storage()
        return storage.data_ptr(), storage.nbytes()
    except Exception:  # noqa: BLE001 - sparse, nested, fake tensors
        return id(t), t.numel() * t.element_size()


class _Snapshots:
    """Copies of parameters to tell later whether they moved, within a memory budget."""

    def __init__(self, budget: int = SNAPSHOT_BUDGET):
        self.budget = budget

    def take(self, p: torch.Tensor):
        with torch.no_grad():
            data = p.detach()
            size = data.numel() * data.element_size()
            if size <= self.budget:
                self.budget -= size
                return (p, data.clone(), None)
            flat = data.reshape(-1)[:SNAPSHOT_SLICE].clone()
            return (p, flat, SNAPSHOT_SLICE)

    @staticmethod
    def moved(entry) -> float:
        p, copy, limit = entry
        with torch.no_grad():
            now = p.detach()
            if limit is not None:
                now = now.reshape(-1)[:limit]
            if now.shape != copy.shape:
                return float("nan")
            d = (now.float() - copy.float()).abs()
            return float(d.max().item()) if d.numel() else 0.0


class Monitor:
    """All monitors of one program run; ``results()`` is what the child sends back."""

    def __init__(self, files: List[str], watch: Dict[str, List[int]], progress: Optional[str] = None,
                 about: Optional[dict] = None):
        self.progress_path = progress
        self.about = dict(about or {})   # device and torch version, for the progress snapshots
        self._last_progress = 0.0
        self.files = {os.path.realpath(f) for f in files}
        self.index: Dict[str, StatementIndex] = {}
        for path in self.files:
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    self.index[path] = StatementIndex(handle.read())
            except OSError:
                self.index[path] = StatementIndex("")
        self.watch = {}
        self.subjects = {}
        for path, lines in watch.items():
            path = os.path.realpath(path)
            index = self.index.get(path) or StatementIndex("")
            for line in lines:
                key = (path, index.start(line))
                self.watch[key] = True
                self.subjects[key] = index.subject(line)
        self._paths: Dict[str, Optional[str]] = {}
        self.busy = False
        self.seq = 0
        self.hits: Dict[Tuple[str, int], int] = defaultdict(int)
        self.hit_log: List[list] = []
        self.forwards: List[dict] = []
        self.site_calls: Dict[object, int] = defaultdict(int)
        self.forward_totals: Dict[Tuple, dict] = {}
        self.probes: List[dict] = []
        self.probe_counts: Dict[Tuple[str, int], int] = defaultdict(int)
        self.exceptions: List[dict] = []
        self._exc_seen: List[BaseException] = []
        self.warnings: Dict[Tuple, dict] = {}
        self.optimizers: Dict[int, dict] = {}
        self._opt_serial = weakref.WeakKeyDictionary()
        self._opt_frozen: Dict[int, Dict[int, list]] = defaultdict(dict)  # serial -> id(p) -> [snapshot, version]
        self._opt_dirty: Dict[int, set] = defaultdict(set)   # serial -> ids of frozen params written since compared
        self._opt_pending: Dict[int, list] = {}
        self.snapshots = _Snapshots()
        self._probe_snaps: Dict[Tuple[str, int], dict] = {}
        self._stack: List[Optional[dict]] = []
        self._handles = []
        self._restore = []
        self.weights = WeightWatch(self)
        from .monitors_calls import CallMonitors
        self.calls = CallMonitors(self)

    # -- where: the program's own frames ---------------------------------------------------
    def program_path(self, filename: str) -> Optional[str]:
        try:
            return self._paths[filename]
        except KeyError:
            real = os.path.realpath(filename) if filename and not filename.startswith("<") else None
            path = real if real in self.files else None
            self._paths[filename] = path
            return path

    def site(self, frame=None) -> Tuple[Optional[str], Optional[int]]:
        frame = frame or sys._getframe(2)
        while frame is not None:
            path = self.program_path(frame.f_code.co_filename)
            if path is not None:
                return path, self.index[path].start(frame.f_lineno)
            frame = frame.f_back
        return None, None

    def tick(self) -> int:
        self.seq += 1
        return self.seq

    # -- install -----------------------------------------------------------------------------
    def install(self) -> None:
        self._handles.append(nn_module.register_module_forward_pre_hook(self._pre_forward))
        self._handles.append(nn_module.register_module_forward_hook(
            self._post_forward, with_kwargs=True, always_call=True))
        from torch.optim import optimizer as optim_module
        self._handles.append(optim_module.register_optimizer_step_pre_hook(self._pre_step))
        self._handles.append(optim_module.register_optimizer_step_post_hook(self._post_step))
        original_init = optim_module.Optimizer.__init__
        monitor = self

        def init(opt, *args, **kwargs):
            original_init(opt, *args, **kwargs)
            if opt not in monitor._opt_serial:
                monitor._register_optimizer(opt, sys._getframe(1))

        optim_module.Optimizer.__init__ = init
        self._restore.append(lambda: setattr(optim_module.Optimizer, "__init__", original_init))
        original_show = warnings._showwarnmsg

        def show(msg):
            if not monitor.busy:
                monitor._warning(msg)
            return original_show(msg)

        warnings._showwarnmsg = show
        self._restore.append(lambda: setattr(warnings, "_showwarnmsg", original_show))
        self.weights.install()
        self.calls.install()
        sys.settrace(self._trace_call)

    def uninstall(self) -> None:
        sys.settrace(None)
        self.calls.uninstall()
        for handle in self._handles:
            handle.remove()
        for undo in self._restore:
            undo()
        self._handles, self._restore = [], []

    # -- forward hooks -----------------------------------------------------------------------
    def _pre_forward(self, module, args):
        if self.busy:
            return None
        if self._stack:
            self._stack.append(None)
            return None
        self.busy = True
        try:
            state = self._begin_call(module)
        except Exception:  # noqa: BLE001 - a monitor must never break the program
            state = {"record": None}
        finally:
            self.busy = False
        self._stack.append(state)
        return None

    def _begin_call(self, module) -> dict:
        path, line = self.site()
        key = (path, line)
        self.site_calls[key] += 1
        detailed = self.site_calls[key] <= DETAILED_CALLS
        mode_dep = sorted({type(m).__name__ for m in module.modules() if _mode_dependent(m)})
        record = {
            "seq": self.tick(), "path": path, "line": line, "module": type(module).__name__,
            "mid": id(module), "training": bool(module.training), "grad": torch.is_grad_enabled(),
            "inference": torch.is_inference_mode_enabled(), "mode_dep": mode_dep,
            "detailed": detailed, "backprop": False,
        }
        state = {"record": record, "module": module}
        if not detailed:
            return state
        bns = [m for m in module.modules()
               if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.training
               and m.track_running_stats and m.running_mean is not None]
        with torch.no_grad():
            state["bn"] = [(name, buf, buf.detach().clone()) for m in bns
                           for name, buf in (("running_mean", m.running_mean), ("running_var", m.running_var))]
        if torch.cuda.is_initialized():
            state["mem"] = torch.cuda.memory_allocated()
        own = {_storage_key(t)[0] for t in list(module.parameters()) + list(module.buffers())}
        seen: Dict[int, int] = {}

        def count(t):
            ptr, size = _storage_key(t)
            if ptr not in own:
                seen[ptr] = size

        top = None
        getter = getattr(torch._C._autograd, "_top_saved_tensors_default_hooks", None)
        if getter is not None:
            try:
                top = getter(False)
            except Exception:  # noqa: BLE001
                top = None
        if top is not None:
            inner_pack, inner_unpack = top

            def pack(t):
                count(t)
                return inner_pack(t)
            unpack = inner_unpack
        else:
            def pack(t):
                count(t)
                return t

            def unpack(t):
                return t
        try:
            ctx = torch.autograd.graph.saved_tensors_hooks(pack, unpack)
            ctx.__enter__()
            state["saved_ctx"] = ctx
            state["saved"] = seen
        except Exception:  # noqa: BLE001 - saved-tensor hooks disabled by the program
            pass
        return state

    def _post_forward(self, module, args, *rest):
        if self.busy:
            return None
        if not self._stack:
            return None
        state = self._stack.pop()
        if state is None:
            return None
        failed = len(rest) != 2
        kwargs, output = (rest[0], rest[1]) if not failed else ({}, rest[0] if rest else None)
        self.busy = True
        try:
            self._end_call(state, module, args, kwargs, output, failed)
        except Exception as exc:  # noqa: BLE001 - a monitor must never break the program
            record = state.get("record")
            if record is not None:
                record["monitor_error"] = f"{type(exc).__name__}: {exc}"
        finally:
            self.busy = False
        if not self._stack:
            self.report_progress()
        return None

    def _end_call(self, state, module, args, kwargs, output, failed) -> None:
        ctx = state.get("saved_ctx")
        if ctx is not None:
            ctx.__exit__(None, None, None)
        record = state.get("record")
        if record is None:
            return
        self._log_forward(record)
        if failed:
            record["failed"] = True
            return
        outs = [t for t in _tensors(output) if t.requires_grad]
        record["out_requires_grad"] = bool(outs)
        for t in outs[:4]:
            if t.is_leaf:
                continue

            def reached(grad, record=record):
                record["backprop"] = True
                return None
            try:
                t.register_hook(reached)
            except Exception:  # noqa: BLE001
                pass
        if not record["detailed"]:
            return
        if "saved" in state:
            record["saved_bytes"] = sum(state["saved"].values())
        if "mem" in state and torch.cuda.is_initialized():
            record["cuda_mem"] = torch.cuda.memory_allocated() - state["mem"]
        changes: Dict[str, float] = {}
        with torch.no_grad():
            for name, buf, before in state.get("bn", []):
                if buf.shape == before.shape and buf.numel():
                    d = float((buf.float() - before.float()).abs().max().item())
                    changes[name] = max(changes.get(name, 0.0), d)
        if changes:
            record["bn_change"] = changes
        if record["training"] or any(m.training for m in module.modules() if _mode_dependent(m)):
            self._rerun(record, module, args, kwargs, output)

    def _rerun(self, record, module, args, kwargs, output) -> None:
        """Run the same call again (same mode, then eval mode) and put everything back."""
        why = self._rerun_unsafe(module, args, kwargs)
        if why:
            record["rerun"] = f"skipped: {why}"
            return
        rng = torch.get_rng_state()
        cuda_rng = torch.cuda.get_rng_state() if torch.cuda.is_initialized() else None
        flags = [(m, m.training) for m in module.modules()]
        with torch.no_grad():
            buffers = [(b, b.detach().clone()) for b in module.buffers()]
        try:
            with torch.no_grad():
                again = module(*args, **kwargs)
                for m, _ in flags:
                    m.training = False
                evaluated = module(*args, **kwargs)
            record["repeat_diff"] = _max_diff(output, again)
            record["eval_diff"] = _max_diff(output, evaluated)
            scale = max([float(t.detach().float().abs().max().item()) for t in _tensors(output)
                         if t.numel() and (t.is_floating_point() or t.is_complex())] or [0.0])
            record["out_scale"] = scale
        finally:
            for m, flag in flags:
                m.training = flag
            with torch.no_grad():
                for b, saved in buffers:
                    b.copy_(saved)
            torch.set_rng_state(rng)
            if cuda_rng is not None:
                torch.cuda.set_rng_state(cuda_rng)

    @staticmethod
    def _rerun_unsafe(module, args, kwargs) -> Optional[str]:
        if any(m._forward_hooks or m._forward_pre_hooks for m in module.modules()):
            return "the module has its own forward hooks"
        if len(nn_module._global_forward_hooks) > 1 or len(nn_module._global_forward_pre_hooks) > 1:
            return "other global forward hooks are installed"
        for value in list(args) + list(kwargs.values()):
            if not _plain(value):
                return f"an input of type {type(value).__name__} may hold state"
        return None

    def _log_forward(self, record) -> None:
        key = (record["path"], record["line"])
        total = self.forward_totals.setdefault(key, {"calls": 0})
        total["calls"] += 1
        if len(self.forwards) < FORWARD_LOG:
            self.forwards.append(record)

    # -- optimizers ----------------------------------------------------------------------------
    def _register_optimizer(self, opt, frame) -> dict:
        serial = len(self.optimizers) + 1
        self._opt_serial[opt] = serial
        path, line = self.site(frame) if frame is not None else (None, None)
        group = opt.param_groups[0] if opt.param_groups else {}
        hyper = {k: group[k] for k in ("lr", "momentum", "weight_decay", "betas", "nesterov")
                 if k in group and isinstance(group[k], (int, float, bool, tuple))}
        hyper = {k: (list(v) if isinstance(v, tuple) else v) for k, v in hyper.items()}
        record = {"serial": serial, "type": type(opt).__name__, "path": path, "line": line,
                  "params": sum(len(g["params"]) for g in opt.param_groups), "hyper": hyper,
                  "steps": 0, "frozen_steps": 0, "frozen": 0, "frozen_with_grad": 0, "frozen_moved": 0.0}
        self.optimizers[serial] = record
        return record

    def _optimizer_record(self, opt) -> dict:
        serial = self._opt_serial.get(opt)
        if serial is None:
            return self._register_optimizer(opt, None)
        return self.optimizers[serial]

    def _pre_step(self, opt, args, kwargs):
        if self.busy:
            return None
        self.busy = True
        try:
            record = self._optimizer_record(opt)
            record["steps"] += 1
            frozen = [p for g in opt.param_groups for p in g["params"] if not p.requires_grad]
            self._opt_pending[record["serial"]] = frozen
            if frozen:
                record["frozen_steps"] += 1
                record["frozen"] = max(record["frozen"], len(frozen))
                record["frozen_with_grad"] = max(record["frozen_with_grad"],
                                                 sum(1 for p in frozen if p.grad is not None))
                store = self._opt_frozen[record["serial"]]
                for p in frozen:
                    if id(p) not in store:
                        store[id(p)] = [self.snapshots.take(p), p._version]
        except Exception:  # noqa: BLE001
            pass
        finally:
            self.busy = False
        return None

    def _post_step(self, opt, args, kwargs):
        if self.busy:
            return None
        self.busy = True
        try:
            record = self._optimizer_record(opt)
            serial = record["serial"]
            frozen = self._opt_pending.pop(serial, None) or []
            store, dirty = self._opt_frozen[serial], self._opt_dirty[serial]
            fused = any(g.get("fused") for g in opt.param_groups)  # fused kernels leave versions alone
            for p in frozen:
                entry = store.get(id(p))
                if entry is not None and (fused or p._version != entry[1]):
                    dirty.add(id(p))  # written to: compared later, once
            # a parameter unfrozen since is compared one last time, then no longer watched
            for pid in [pid for pid, entry in store.items() if entry[0][0].requires_grad]:
                if pid in dirty:
                    self._compare(record, pid)
                del store[pid]
        except Exception:  # noqa: BLE001
            pass
        finally:
            self.busy = False
        self.report_progress()

    def _compare(self, record: dict, pid: int) -> None:
        entry = self._opt_frozen[record["serial"]].get(pid)
        self._opt_dirty[record["serial"]].discard(pid)
        if entry is None:
            return
        entry[1] = entry[0][0]._version
        moved = _Snapshots.moved(entry[0])
        if not math.isnan(moved):
            record["frozen_moved"] = max(record["frozen_moved"], moved)

    def _settle(self) -> None:
        """Compare every frozen parameter written to since its last comparison."""
        for serial, dirty in list(self._opt_dirty.items()):
            for pid in list(dirty):
                self._compare(self.optimizers[serial], pid)

    def report_progress(self, force: bool = False) -> None:
        """Write a snapshot of the results to the progress file, at most every PROGRESS_SECONDS."""
        if self.progress_path is None or self.busy:
            return
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_SECONDS:
            return
        self._last_progress = now
        try:
            snapshot = dict(self.results(), **self.about, status="running")
            tmp = f"{self.progress_path}.tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(snapshot, handle, default=str)
            os.replace(tmp, self.progress_path)
        except Exception:  # noqa: BLE001 - progress is a courtesy; the run must go on
            pass

    # -- warnings and exceptions ------------------------------------------------------------
    def _warning(self, msg) -> None:
        try:
            path = self.program_path(msg.filename)
            line = self.index[path].start(msg.lineno) if path else None
            if path is None:
                path, line = self.site(sys._getframe(1))
            text = str(msg.message).strip().splitlines()[0] if str(msg.message).strip() else ""
            key = (path, line, msg.category.__name__, text)
            entry = self.warnings.get(key)
            if entry is None and len(self.warnings) < EVENTS_KEPT:
                self.warnings[key] = {"path": path, "line": line, "category": msg.category.__name__,
                                      "message": text, "count": 1, "seq": self.tick()}
            elif entry is not None:
                entry["count"] += 1
        except Exception:  # noqa: BLE001
            pass

    def exception_at(self, path: str, line: int, exc: BaseException, caught=None) -> None:
        if isinstance(exc, _QUIET_EXC) or any(e is exc for e in self._exc_seen):
            return
        if len(self.exceptions) >= EVENTS_KEPT:
            return
        self._exc_seen.append(exc)
        self.exceptions.append({"path": path, "line": line, "type": type(exc).__name__,
                                "message": str(exc).strip()[:500], "seq": self.tick()})

    # -- the line tracer ------------------------------------------------------------------------
    def _trace_call(self, frame, event, arg):
        path = self.program_path(frame.f_code.co_filename)
        if path is None:
            return None
        return _FrameTracer(self, path)

    def statement_ran(self, frame, path: str, line: int) -> bool:
        key = (path, line)
        self.hits[key] += 1
        if key not in self.watch:
            return False
        self.hit_log.append([self.tick(), path, line])
        return self.probe_counts[key] < PROBES_PER_LINE

    def probe(self, frame, path: str, line: int, phase: str, pair: Optional[dict] = None) -> Optional[dict]:
        if self.busy:
            return None
        self.busy = True
        try:
            key = (path, line)
            subject = self.subjects.get(key)
            obj = resolve(subject.expr, frame) if subject is not None else MISSING
            state = {"grad": torch.is_grad_enabled(), "inference": torch.is_inference_mode_enabled()}
            if torch.cuda.is_initialized():
                state["cuda_mem"] = torch.cuda.memory_allocated()
            if obj is not MISSING:
                state["subject"] = self._describe(obj, key if phase == "after" else None)
            self.weights.statement(frame, key, phase, subject)
            self.calls.probe(frame, key, phase)
            if phase == "before":
                self.probe_counts[key] += 1
                pair = {"seq": self.seq, "path": path, "line": line, "before": state,
                        "shape": subject.shape if subject else None,
                        "attr": subject.attr if subject else None,
                        "subject": subject.text if subject else ""}
                self.probes.append(pair)
                return pair
            if pair is not None:
                pair["after"] = state
            return pair
        except Exception as exc:  # noqa: BLE001
            if pair is not None:
                pair["monitor_error"] = f"{type(exc).__name__}: {exc}"
            return pair
        finally:
            self.busy = False

    def _describe(self, obj, snap_key) -> dict:
        if isinstance(obj, torch.nn.Module):
            params = list(obj.parameters())
            info = {"kind": "module", "type": type(obj).__name__, "id": id(obj), "training": obj.training,
                    "params": len(params), "trainable": sum(1 for p in params if p.requires_grad),
                    "mode_dep": sorted({type(m).__name__ for m in obj.modules() if _mode_dependent(m)})}
            self._snap(snap_key, params)
            return info
        if isinstance(obj, torch.optim.Optimizer):
            params = [p for g in obj.param_groups for p in g["params"]]
            grads = [p.grad for p in params if p.grad is not None]
            norm = math.sqrt(sum(float(g.detach().float().norm().item()) ** 2 for g in grads)) if grads else None
            record = self._optimizer_record(obj)
            self._snap(snap_key, params)
            return {"kind": "optimizer", "type": type(obj).__name__, "serial": record["serial"],
                    "params": len(params), "with_grad": len(grads), "grad_norm": norm, "steps": record["steps"]}
        if isinstance(obj, torch.Tensor):
            info = {"kind": "tensor", "is_leaf": obj.is_leaf, "requires_grad": obj.requires_grad,
                    "grad_fn": type(obj.grad_fn).__name__ if obj.grad_fn is not None else None,
                    "nodes": graph_nodes([obj])}
            if obj.is_leaf:
                info["has_grad"] = obj.grad is not None
            if isinstance(obj, torch.nn.Parameter) or (obj.is_leaf and obj.requires_grad):
                self._snap(snap_key, [obj])
            return info
        tensors = _tensors(obj)
        if isinstance(obj, (list, tuple, dict, set, frozenset)) or type(obj).__name__ == "deque":
            return {"kind": "container", "type": type(obj).__name__, "len": len(obj), "tensors": len(tensors),
                    "requires_grad": sum(1 for t in tensors if t.requires_grad), "nodes": graph_nodes(tensors)}
        if isinstance(obj, (int, float, complex, bool)):
            return {"kind": "number", "type": type(obj).__name__}
        return {"kind": "object", "type": type(obj).__name__}

    def _snap(self, key, params) -> None:
        if key is None or key in self._probe_snaps:
            return
        self._probe_snaps[key] = {"entries": [self.snapshots.take(p) for p in params], "params": params}

    # -- results ----------------------------------------------------------------------------------
    def results(self) -> dict:
        was_busy, self.busy = self.busy, True
        try:
            return self._results()
        finally:
            self.busy = was_busy

    def _results(self) -> dict:
        self._settle()
        movement = []
        for (path, line), snap in self._probe_snaps.items():
            moved = [_Snapshots.moved(e) for e in snap["entries"]]
            moved = [m for m in moved if not math.isnan(m)]
            params = snap["params"]
            movement.append({"path": path, "line": line, "params": len(params),
                             "moved": max(moved) if moved else 0.0,
                             "requires_grad": sum(1 for p in params if p.requires_grad),
                             "with_grad": sum(1 for p in params if p.is_leaf and p.grad is not None)})
        return {
            "hits": [[p, ln, n] for (p, ln), n in self.hits.items()],
            "hit_log": self.hit_log,
            "forwards": self.forwards,
            "forward_totals": [[p, ln, v["calls"]] for (p, ln), v in self.forward_totals.items()],
            "probes": self.probes,
            "exceptions": self.exceptions,
            "warnings": list(self.warnings.values()),
            "optimizers": list(self.optimizers.values()),
            "movement": movement,
            "cuda_used": bool(torch.cuda.is_initialized()),
            **self.weights.results(),
            **self.calls.results(),
        }


def _plain(value, depth: int = 0) -> bool:
    """Inputs a second forward cannot disturb: tensors, numbers, strings, None, and containers of them."""
    if value is None or isinstance(value, (torch.Tensor, int, float, bool, str, torch.dtype, torch.device)):
        return True
    if depth < 3 and isinstance(value, (list, tuple)):
        return all(_plain(v, depth + 1) for v in value)
    if depth < 3 and type(value) is dict:
        return all(_plain(v, depth + 1) for v in value.values())
    return False


class _FrameTracer:
    """Local trace function of one program frame: statement starts, and probes around watched ones."""

    __slots__ = ("monitor", "path", "index", "current", "pending")

    def __init__(self, monitor: Monitor, path: str):
        self.monitor = monitor
        self.path = path
        self.index = monitor.index[path]
        self.current = None
        self.pending = None

    def __call__(self, frame, event, arg):
        monitor = self.monitor
        if monitor.busy:
            return self
        if event == "line":
            line = self.index.start(frame.f_lineno)
            if line != self.current:
                self._leave(frame)
                self.current = line
                if monitor.statement_ran(frame, self.path, line):
                    self.pending = monitor.probe(frame, self.path, line, "before")
        elif event == "return":
            self._leave(frame)
        elif event == "exception":
            line = self.index.start(frame.f_lineno)
            monitor.exception_at(self.path, line, arg[1])
            if self.pending is not None:
                self.pending["raised"] = arg[0].__name__
        return self

    def _leave(self, frame) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            self.monitor.probe(frame, self.path, pending["line"], "after", pending)
