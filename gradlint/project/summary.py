"""What one file's analysis tells the rest of the project, as plain data.

A ``ModuleSummary`` holds two kinds of facts, both free of syntax-tree nodes so they can be
cached as JSON and shared between processes:

- exports (downward): for each function, what it does to its parameters (sets eval or
  train mode, freezes, trains, reads gradients), its grad mode at entry when decorated, and
  what it returns; for each class, whether it is an ``nn.Module`` (its bases resolved across
  files), its framework, its mode-dependent layers, its attributes and methods; the
  module's notable globals and its import table (for re-exports). A file that imports this
  one reads them while it is analysed.
- call sites (upward): every call of a function of this file or of another project file,
  with the caller's state at the call (grad mode, the arguments' train/eval mode, whether a
  training loop holds it), symbolic in the caller's own entry where the caller does not
  know. The callee's file reads them to resolve its functions' entry states.

The runtime objects (``FunctionSummary``, ``ClassSummary``) carry the attributes the
analysis reads from a file's own ``FunctionInfo`` / ``ClassInfo``, so that a function or
class of another file is used the same way as a local one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Dict, List, Optional

from ..facts.values import ENTRY_KINDS, TensorFact, Value

FORMAT = 1


# -- atoms and values -----------------------------------------------------------------------------
def atoms_out(atoms) -> list:
    """Mode atoms without nodes: a setter in this file means nothing elsewhere."""
    out = []
    for kind, arg in atoms:
        out.append([kind, arg if kind in ENTRY_KINDS else None])
    return sorted(out, key=lambda a: (a[0], a[1] or ""))


def atoms_in(data) -> frozenset:
    return frozenset((kind, arg) for kind, arg in data)


def value_out(value: Optional[Value]) -> Optional[dict]:
    if value is None:
        return None
    out: Dict[str, object] = {"kind": value.kind}
    if value.key is not None:
        out["key"] = value.key
    if value.tensor is not None:
        fact = value.tensor
        out["tensor"] = {"atoms": sorted(fact.atoms), "how": fact.how, "cuda_only": fact.cuda_only,
                         "dtype": fact.dtype}
    cls = getattr(value.cls, "ref", None)
    if cls:
        out["cls"] = cls
    if value.qual:
        out["qual"] = value.qual
    if value.mode is not None:
        out["mode"] = atoms_out(value.mode)
    for name in ("mode_dep", "has_params", "batchnorm"):
        if getattr(value, name) is not None:
            out[name] = getattr(value, name)
    if value.sources:
        out["sources"] = [list(s) for s in value.sources]
    if value.frozen:
        out["frozen"] = list(value.frozen)
    if value.init_modes:
        out["init_modes"] = [[part, atoms_out(atoms)] for part, atoms in value.init_modes]
    if value.elements:
        out["elements"] = [value_out(e) for e in value.elements]
    return out


def value_in(data: Optional[dict], classes) -> Optional[Value]:
    """A Value from JSON; ``classes(ref)`` finds the ClassSummary a reference names."""
    if data is None:
        return None
    tensor = None
    if "tensor" in data:
        t = data["tensor"]
        tensor = TensorFact(frozenset(t["atoms"]), None, t.get("how", ""), t.get("cuda_only", False),
                            False, t.get("dtype"))
    return Value(
        data["kind"], key=data.get("key"), tensor=tensor, cls=classes(data["cls"]) if "cls" in data else None,
        qual=data.get("qual"), mode=atoms_in(data["mode"]) if "mode" in data else None,
        mode_dep=data.get("mode_dep"), has_params=data.get("has_params"), batchnorm=data.get("batchnorm"),
        sources=tuple(tuple(s) for s in data.get("sources", ())), frozen=tuple(data.get("frozen", ())),
        init_modes=tuple((part, atoms_in(atoms)) for part, atoms in data.get("init_modes", ())),
        elements=tuple(value_in(e, classes) for e in data.get("elements", ())))


# -- runtime objects --------------------------------------------------------------------------------
class LoopMark:
    """What a call site's enclosing loops were: only whether one of them trains matters."""

    __slots__ = ("trains",)

    def __init__(self, trains: bool) -> None:
        self.trains = trains


class Site:
    """A call site read from a summary: the same attributes as ``scopes.CallSite``."""

    __slots__ = ("caller", "callee", "args", "receiver", "grad", "modes", "trained", "loops", "in_region",
                 "values", "frozen", "fresh", "node")

    def __init__(self, data: dict, caller, callee, classes) -> None:
        self.caller = caller
        self.callee = callee
        self.node = None
        self.args = dict(data.get("args", {}))
        self.receiver = data.get("receiver")
        self.grad = frozenset(data["grad"])
        self.modes = {k: atoms_in(v) for k, v in data.get("modes", {}).items()}
        self.trained = frozenset(data["trained"])
        self.loops = (LoopMark(True),) if data.get("training_loop") else ()
        self.in_region = data.get("in_region", False)
        self.values = {k: value_in(v, classes) for k, v in data.get("values", {}).items()}
        self.frozen = tuple(data.get("frozen", ()))
        self.fresh = tuple(data.get("fresh", ()))


class FunctionSummary:
    """A function of another file, with the attributes the analysis reads from a FunctionInfo."""

    is_summary = True
    status = "done"
    parent = None
    node = None

    def __init__(self, data: dict, ref: str, cls=None) -> None:
        self.ref = ref
        self.name = data["name"]
        self.qualname = data.get("qualname", self.name)
        self.cls = cls
        self.params = list(data.get("params", ()))
        self.decorator_names = list(data.get("decorators", ()))
        self.decorator_quals = [None] * len(self.decorator_names)
        self.grad_decorator = data.get("grad_decorator")
        self.trains = data.get("trains", False)
        self.uses_grad = data.get("uses_grad", False)
        self.exit_trained = data.get("exit_trained", False)
        self.exit_modes = {k: atoms_in(v) for k, v in data.get("exit_modes", {}).items()}
        self.freezes = {k: True for k in data.get("freezes", ())}
        self.unfreezes = set(data.get("unfreezes", ()))
        self.replaces = set(data.get("replaces", ()))
        self.modulelike = set(data.get("modulelike", ()))
        self.locals = set(data.get("locals", ()))
        self.escapes = data.get("escapes", False)
        self.framework_mode = data.get("framework")
        self.is_test = data.get("is_test", False)
        self.module_level = data.get("module_level", False)
        self.returns_data = data.get("returns")
        self.returns = None
        self.callsites: List[Site] = []
        self.local_defs: Dict[str, object] = {}

    @property
    def is_module_level(self) -> bool:
        return self.module_level

    def __repr__(self) -> str:
        return f"<FunctionSummary {self.ref}>"


class ClassSummary:
    """A class of another file, with the attributes the analysis reads from a ClassInfo."""

    is_summary = True
    interpreted = True

    def __init__(self, data: dict, ref: str) -> None:
        self.ref = ref
        self.name = data["name"]
        self.base_quals = list(data.get("base_quals", ()))
        self.base_names = list(data.get("base_names", ()))
        self.base_refs = list(data.get("base_refs", ()))
        self.local_bases: List[object] = []
        self._is_module = data.get("is_module")
        self.framework = data.get("framework")
        self.is_hf_model = data.get("is_hf_model", False)
        self.mode_dep = data.get("mode_dep")
        self.base_mode_dep = data.get("base_mode_dep", self.mode_dep)
        self.has_params = data.get("has_params")
        self.frozen_parts = tuple(data.get("frozen_parts", ()))
        self.uses_training_flag = data.get("uses_training_flag", False)
        self.freezes_self = data.get("freezes_self", False)
        self.unfreezes_self = data.get("unfreezes_self", False)
        self.has_forward = data.get("has_forward", False)
        self.attrs_data = data.get("attrs", {})
        self.attrs: Dict[str, Value] = {}
        self.methods: Dict[str, FunctionSummary] = {}

    @property
    def is_module(self) -> Optional[bool]:
        return self._is_module

    def method(self, name: str):
        if name in self.methods:
            return self.methods[name]
        for base in self.local_bases:
            found = base.method(name)
            if found is not None:
                return found
        return None

    def attr(self, name: str):
        if name in self.attrs:
            return self.attrs[name]
        for base in self.local_bases:
            found = base.attr(name)
            if found is not None:
                return found
        return None

    def all_classes(self):
        yield self
        for base in self.local_bases:
            yield from base.all_classes()

    def __repr__(self) -> str:
        return f"<ClassSummary {self.ref}>"


def digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
