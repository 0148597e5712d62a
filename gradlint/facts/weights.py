"""Weights: what is written to them in place, what is used as one, and what an optimizer misses.

Part of ``interp._Run``. The interpreter calls these where it sees the statement or call:
- in-place writes (``w -= ...``, ``w.add_()``, ``w[i] = ...``) of a leaf that requires grad or
  of a module's parameter (GL403), and the rule that a leaf written in place stays a leaf;
- tensors used as weights: handed to an optimizer, or an ``nn.Parameter`` copy stored on a
  module (GL402);
- ``torch.tensor(t)`` of a tensor that carries a graph: a new leaf that cuts it (GL404);
- optimizers that stop holding every parameter that trains: a submodule replaced (GL304) or
  parameters unfrozen (GL305) after they were built. The optimizer's value carries these
  ``misses`` until it is rebuilt or given ``add_param_group``; a step (or a training function
  it is handed to) records the event.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from . import torchapi
from .events import GraphCut, InPlaceUpdate, OptimizerMiss, WeightUse
from .names import key_of, overlaps, part_of
from .state import State, entry_ok
from .syntax import arg_of
from .values import REQUIRES_GRAD, TensorFact, Value

# In-place methods that do not write the tensor's values.
_NOT_WRITES = frozenset({"requires_grad_", "share_memory_", "detach_", "retain_grad_", "pin_memory_",
                         "record_stream_", "set_"})
# Copying constructors: `torch.tensor(t)` makes a new leaf. `torch.as_tensor(t)` returns `t`
# itself and `torch.Tensor(t)` an alias that keeps the graph (measured on torch 2.13).
_KEEPS_GRAPH = frozenset({"torch.as_tensor", "torch.Tensor", "torch.FloatTensor"})
_MAY_CARRY = REQUIRES_GRAD | {"nonleaf_if_grad"}


def _names_params(target: cst.Subscript) -> bool:
    """``group["params"]``: the parameters of an optimizer's param group."""
    if len(target.slice) != 1 or type(target.slice[0].slice) is not cst.Index:
        return False
    index = target.slice[0].slice.value
    return type(index) is cst.SimpleString and index.raw_value == "params"


def _parent(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else key


class WeightsMixin:
    """Part of ``interp._Run``: writes to weights and the optimizers that hold them."""

    # -- GL403: in-place writes ---------------------------------------------------------------
    @staticmethod
    def writes_in_place(meth: str) -> bool:
        return meth.endswith("_") and not meth.startswith("_") and meth not in _NOT_WRITES

    @staticmethod
    def stays_leaf(value: Value) -> bool:
        """An in-place op keeps a leaf a leaf (under no_grad; with grad on it raises instead)."""
        return value.kind == "param" or (value.kind == "tensor" and value.tensor is not None
                                         and value.tensor.atoms == frozenset({"leaf_rg"}))

    def inplace_write(self, node, target: Value, expr, st: State, how) -> None:
        """Record an in-place write of ``target`` (the value written, ``expr`` its expression)."""
        if type(expr) is cst.Subscript:  # w[i] -= x writes w
            key = key_of(expr.value)
            target = st.env.get(key) if key else None
            expr = expr.value
            how = "an indexed in-place update"
        if target is None or target.kind not in ("tensor", "param"):
            return
        if target.kind == "tensor" and (target.tensor is None or "leaf_rg" not in target.tensor.atoms):
            return
        if not isinstance(how, str):
            how = f"`{cst.Module([]).code_for_node(how).strip()}`"
        name = key_of(expr) or "tensor"
        frozen = target.kind == "param" and (
            not target.key or any(overlaps(target.key, k) for k in st.frozen))
        self.record("inplace_updates", node, InPlaceUpdate(node, self.fn, name, target, st.grad, how, frozen))

    def item_stored(self, target: cst.Subscript, base: Value, value: Value, st: State, stmt) -> None:
        """``x[i] = v``: an in-place write of ``x`` (GL403), or a submodule replaced (GL304)."""
        node = stmt if stmt is not None else target
        if base.kind in ("tensor", "param"):
            self.inplace_write(node, base, target.value, st, "an indexed assignment")
            return
        if _names_params(target) or (base.key or "").endswith(".param_groups"):
            self.groups_rewritten(st)  # `group["params"] = [...]`: an optimizer's parameters rewritten
            return
        key = key_of(target)
        if key is not None and "." in key:
            self.replaced(node, key, value, st)

    def attribute_stored(self, target: cst.Attribute, key: str, base: Value, value: Value, st: State,
                         stmt) -> None:
        """``obj.attr = v``: an ``nn.Parameter`` copy stored on a module (GL402), or a submodule
        replaced (GL304)."""
        node = stmt if stmt is not None else target
        if target.attr.value == "param_groups":
            self.groups_rewritten(st)
        owner_is_module = base.kind == "module" or (base.key in self.fn.modulelike if base.key else False)
        if value.kind == "tensor" and value.tensor is not None and owner_is_module \
                and value.tensor.origin in self.events.parameter_copies:
            self.record("weight_uses", value.tensor.origin,
                        WeightUse(node, self.fn, key, value.tensor, "module"))
        if value.kind == "module":
            self.replaced(node, key, value, st)

    def set_attribute(self, node: cst.Call, args, st: State) -> None:
        """``setattr(model, "fc", layer)``: a submodule replaced (GL304)."""
        if len(args) != 3 or any(a.keyword is not None or a.star for a, _ in args):
            return
        (_, owner), (name_arg, _), (_, value) = args
        if owner.kind != "module" and not (owner.key and owner.key in self.fn.modulelike):
            return
        if not owner.key:
            return
        attr = name_arg.value.raw_value if type(name_arg.value) is cst.SimpleString else "<attr>"
        self.replaced(node, f"{owner.key}.{attr}", value, st)

    # -- GL402: tensors used as weights -------------------------------------------------------
    def leaf_converted(self, node: cst.Call, source: TensorFact, copy: TensorFact) -> None:
        """A conversion of a leaf that requires grad: ``nn.Parameter(...).to(device)`` is a plain
        tensor, not a Parameter; a device move is a copy only when the leaf is known to be made
        on the CPU (``.cuda()`` of a tensor already on the GPU returns it)."""
        origin = source.origin
        if type(origin) is cst.Call and self.imports.qualname(origin.func) == torchapi.PARAMETER:
            self.events.parameter_copies[node] = copy
        meth = node.func.attr.value if type(node.func) is cst.Attribute else ""
        dtype = any((self.imports.qualname(a.value) or "").rsplit(".", 1)[-1] in torchapi.DTYPE_NAMES
                    for a in node.args)
        if meth == "cuda" or (meth == "to" and not dtype):
            self.events.device_moves[node] = self._made_on_cpu(origin, 0)

    def _made_on_cpu(self, origin, depth: int) -> bool:
        """A factory call without ``device=`` (a Parameter / Variable of one, arithmetic on them and
        on numbers): a CPU tensor."""
        if depth > 3:
            return False
        if type(origin) in (cst.Integer, cst.Float):
            return True
        if type(origin) is cst.BinaryOperation:
            return self._made_on_cpu(origin.left, depth + 1) and self._made_on_cpu(origin.right, depth + 1)
        if type(origin) is not cst.Call:
            return False
        qual = self.imports.qualname(origin.func)
        if any(a.keyword is not None and a.keyword.value == "device" for a in origin.args):
            return False
        if qual in (torchapi.PARAMETER, torchapi.VARIABLE):
            data = origin.args[0].value if origin.args and origin.args[0].keyword is None else None
            return self._made_on_cpu(data, depth + 1)
        if qual == "torch.tensor" or qual == "torch.as_tensor":
            data = origin.args[0].value if origin.args else None
            return type(data) in (cst.List, cst.Tuple, cst.Integer, cst.Float)
        return qual in torchapi.TENSOR_FACTORIES and not qual.endswith("_like")

    def optimized_tensors(self, node: cst.Call, first, st: State) -> None:
        """Tensors listed in an optimizer's parameters (lists, tuples, param-group dicts)."""
        if first is None:
            return
        arg, value = first
        for name, fact in self._listed(arg.value, value, st, 0):
            if fact.origin is not None:
                self.record("weight_uses", fact.origin, WeightUse(node, self.fn, name, fact, "optimizer"))

    def _listed(self, expr, value: Optional[Value], st: State, depth: int):
        if depth > 3:
            return
        if type(expr) in (cst.List, cst.Tuple):
            elements = [e for e in expr.elements if type(e) is cst.Element]
            for el in elements:
                if type(el.value) in (cst.Name, cst.Attribute):
                    key = key_of(el.value)
                    found = (st.env.get(key) or self.o.module_env.get(key)) if key else None
                    if found is not None:
                        yield from self._listed(el.value, found, st, depth + 1)
                elif type(el.value) is cst.Dict:
                    yield from self._listed(el.value, None, st, depth + 1)
                elif len(elements) == 1 and value is not None and value.kind == "list" and value.tensor is not None:
                    yield "the tensor", value.tensor  # `SGD([torch.randn(..., requires_grad=True).double()])`
            return
        if type(expr) is cst.Dict:
            for el in expr.elements:
                if type(el) is cst.DictElement and type(el.key) is cst.SimpleString and el.key.raw_value == "params":
                    inner = el.value
                    key = key_of(inner) if type(inner) in (cst.Name, cst.Attribute) else None
                    found = (st.env.get(key) or self.o.module_env.get(key)) if key else None
                    if type(inner) in (cst.List, cst.Tuple):
                        yield from self._listed(inner, None, st, depth + 1)
                    elif found is not None:
                        yield from self._listed(inner, found, st, depth + 1)
            return
        if value is None:
            return
        if value.kind == "tensor" and value.tensor is not None and type(expr) in (cst.Name, cst.Attribute):
            yield key_of(expr) or "tensor", value.tensor

    # -- GL404: graph cuts ----------------------------------------------------------------------
    def tensor_copy(self, node: cst.Call, qual: str, args, st: State) -> Optional[Value]:
        """``torch.tensor(t)`` of a tensor that may carry a graph: a new leaf, cut from it;
        ``torch.as_tensor(t)`` / ``torch.Tensor(t)`` of a tensor: the same graph. None: an
        ordinary factory call."""
        if qual == torchapi.VARIABLE:  # `Variable(t, requires_grad=...)`: a new leaf, whatever `t` is
            return self.tensor_factory(node, qual, args)
        first = arg_of(args, 0, "data")
        if first is None:
            return None
        arg, value = first
        fact = value.tensor if value.kind in ("tensor", "list") else None
        if fact is None or arg.keyword is not None and arg.keyword.value != "data":
            return None
        if qual in _KEEPS_GRAPH and value.kind == "tensor":
            return self.op([value], st, node, f"`{qual}` of a tensor")
        if qual != "torch.tensor" or not (fact.atoms & _MAY_CARRY) or "off" in st.grad:
            return None
        made = self.tensor_factory(node, qual, args)
        name = key_of(arg.value) or cst.Module([]).code_for_node(arg.value)
        self.record("graph_cuts", node, GraphCut(node, self.fn, name if len(name) <= 30 else "t", fact))
        out = made.tensor
        return made.with_(tensor=TensorFact(out.atoms, out.origin, "a `torch.tensor()` copy", False, False,
                                            out.dtype, frozenset(), fact.cuts | {node}))

    # -- GL304 / GL305: optimizers that miss parameters -------------------------------------------
    def replaced(self, node, key: str, value: Optional[Value], st: State) -> None:
        """A module stored at ``key`` (``value`` None: by a helper). Optimizers built from the
        parameters of a model that holds ``key`` do not hold the new layer's parameters."""
        if value is not None:
            if value.kind != "module" or value.has_params is False:
                return
        if "." not in key:
            return
        constructing = self.fn.name == "__init__" and key.startswith("self.")  # no optimizer holds it yet
        if not self.fn.is_module_level and entry_ok(self.fn, key) and not constructing:
            self.fn.replaces.add(key)  # a helper that replaces a part of its argument or of self
        for name, opt in list(st.env.items()):
            if opt.kind != "optimizer" or not opt.sources:
                continue
            owners = [o for o, _ in opt.sources if o and overlaps(key, o)]
            if not owners:
                continue
            if value is not None and value.key and any(overlaps(value.key, o) for o in owners):
                continue  # a part of the same model moved around: already held
            st.env[name] = opt.with_(misses=opt.misses + ((node, "GL304", key),))

    def unfrozen(self, node, key: str, st: State) -> None:
        """Parameters under ``key`` unfrozen. An optimizer built while they were frozen, from
        filtered parameters (or from other parts of the model), does not hold them."""
        for name, opt in list(st.env.items()):
            if opt.kind != "optimizer" or not opt.sources:
                continue
            if not any(overlaps(key, f) for f in opt.frozen):
                continue  # nothing under `key` was frozen when it was built
            if any(not filtered and o and part_of(key, o) for o, filtered in opt.sources):
                continue  # built from every parameter of the model: it holds them (GL301's concern)
            if not any(o and (overlaps(key, o) or part_of(o, _parent(key))) for o, _ in opt.sources):
                continue  # an optimizer of another model
            st.env[name] = opt.with_(misses=opt.misses + ((node, "GL305", key),))

    def groups_rewritten(self, st: State) -> None:
        """Some optimizer's parameter groups were rewritten by hand: which parameters any of them
        now holds is not known, so none is said to miss any, on any path (a loop over
        ``opt.param_groups`` runs at least once)."""
        for name, opt in list(st.env.items()):
            if opt.kind == "optimizer" and opt.misses:
                self.events.cleared_misses.update(opt.misses)
                st.env[name] = opt.with_(misses=())

    def optimizer_used(self, node, opt: Value, st: State) -> None:
        """A step of ``opt`` (or ``opt`` handed to a function that trains): its misses matter,
        unless another optimizer, built after the miss, holds that part."""
        for miss, code, key in opt.misses:
            if (miss, code, key) in self.events.cleared_misses:
                continue
            if any(other.kind == "optimizer" and (miss, code, key) not in other.misses
                   and any(o and overlaps(key, o) for o, _ in other.sources)
                   for other in st.env.values()):
                continue
            self.record("optimizer_misses", (miss, code),
                        OptimizerMiss(miss, self.fn, code, key, opt.key or "the optimizer", node))
