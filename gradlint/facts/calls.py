"""Calls: models run, modes set, tensors made, optimizers built, local functions applied."""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import libcst as cst

from . import recorders, torchapi, words
from .events import Backward, ForwardCall, OptimizerBuild, Region
from .names import key_of, overlaps, part_of
from .scopes import CallSite, ClassInfo, FunctionInfo
from .state import State, entry_ok, lookup_mode
from .syntax import arg_of, const_bool, identifiers
from .values import (ENTRY, ENTRY_KINDS, ENTRY_S, ENTRY_T, EVAL, LOADED, MODEL_OUTPUT, NEW_ATOMS, NUMBER,
                     REQUIRES_GRAD,
                     TRAIN_ATOMS, TRAIN_SET, UNKNOWN_ATOMS, UNKNOWN_TENSOR, UNKNOWN_VALUE, TensorFact, Value,
                     after_step, after_training)

_CLASS_LOADERS = frozenset({"load_from_checkpoint", "from_pretrained", "from_config"})
_BUILTIN_PASSTHROUGH = frozenset({"list", "tuple", "iter", "sorted", "reversed", "enumerate", "tqdm",
                                  "set"})
_BUILTIN_NUMBER = frozenset({"float", "int", "len", "bool", "str", "abs", "round", "isinstance",
                             "hasattr", "callable", "repr", "format", "id", "range", "print"})


def is_function(obj) -> bool:
    """A function the analysis knows: of this file, or of another project file (its summary)."""
    return isinstance(obj, FunctionInfo) or (getattr(obj, "is_summary", False) and hasattr(obj, "exit_modes"))


class CallsMixin:
    """Part of ``interp._Run``: calls."""

    # -- calls ----------------------------------------------------------------------------
    def call(self, node: cst.Call, st: State) -> Value:
        func = node.func
        recorders.on_call(self, node)
        qual = self.imports.qualname(func)
        if qual is None and type(func) is cst.Attribute:
            recv = self.ev(func.value, st)
            return self.method_call(node, recv, func.attr.value, st)
        args = [(a, self.ev(a.value, st)) for a in node.args]
        if qual is not None:
            found = self.o.symbol(qual) if qual not in torchapi.PREPARERS else None  # (in its own repository too)
            if is_function(found):
                return self.local_call(node, found, args, None, st)
            if getattr(found, "is_summary", False) and hasattr(found, "methods"):
                return self.instantiate(node, found, args, st)
            if isinstance(found, Value):
                return self.call_value(node, found, args, st)
            return self.api_call(node, qual, args, st)
        if type(func) is cst.Name:
            name = func.value
            bound = st.env.get(name)
            found = None if bound is not None else self.o.scopes.lookup(name, self.fn)
            if bound is not None and bound.kind == "func" and is_function(bound.func):
                found = bound.func
            if is_function(found):
                return self.local_call(node, found, args, None, st)
            if isinstance(found, ClassInfo):
                return self.instantiate(node, found, args, st)
            if bound is None and name == "getattr" and len(node.args) >= 2 \
                    and type(node.args[1].value) is cst.SimpleString and node.args[1].value.raw_value.isidentifier():
                obj = args[0][1]  # getattr(model, "eval") is model.eval
                return Value("bound", key=obj.key, elements=(obj,), qual=node.args[1].value.raw_value)
            if bound is None and name in _BUILTIN_NUMBER:
                return NUMBER
            if bound is None and name == "next":  # next(iter(test_loader)): one element of it
                first = arg_of(args, 0)
                return self.element_of(first[1]) if first is not None else UNKNOWN_VALUE
            if bound is None and name == "enumerate":
                first = arg_of(args, 0)
                return Value("enumerate", elements=(first[1],)) if first is not None else UNKNOWN_VALUE
            if bound is None and name in _BUILTIN_PASSTHROUGH:
                first = arg_of(args, 0)
                return first[1] if first is not None else UNKNOWN_VALUE
            if bound is None and name == "filter":
                second = arg_of(args, 1)
                if second is not None and second[1].kind == "params":
                    return second[1].with_(sources=tuple((k, True) for k, _ in second[1].sources))
                return UNKNOWN_VALUE
            if bound is None and name in ("sum", "max", "min"):
                first = arg_of(args, 0)
                if first is not None and first[1].kind == "list" and first[1].tensor is not None:
                    return self.op([Value("tensor", tensor=first[1].tensor)], st, node, "arithmetic")
                return self.op([v for _, v in args], st, node, "arithmetic")
            if bound is None and name == "super":
                return Value("object", key="self")
            if bound is None and name == "setattr":
                self.set_attribute(node, args, st)
        callee = self.ev(func, st)
        return self.call_value(node, callee, args, st)

    def call_value(self, node: cst.Call, callee: Value, args, st: State) -> Value:
        """Calling an object: a model's forward, a loss, or something opaque."""
        if callee.kind == "bound" and callee.elements:  # getattr(model, "eval")()
            return self.method_call(node, callee.elements[0], callee.qual, st)
        if callee.kind == "func" and is_function(callee.func):
            return self.local_call(node, callee.func, args, None, st)
        if callee.kind == "class" and callee.cls is not None:
            return self.instantiate(node, callee.cls, args, st)
        if callee.key and self.unpickled(callee):
            self.fn.modulelike.add(callee.key)  # an unpickled object called: a whole model
        if self.is_model(callee):
            return self.forward(node, callee, args, st)
        if callee.kind == "module":  # a loss or other parameter-free layer
            recorders.on_module_call(self, node, callee, args)
            return self.op([v for _, v in args], st, node, "a loss")
        if callee.kind == "unknown" and callee.key and (self.from_params(callee) or self.from_init(callee.key)):
            # `def helper(m, x): return m(x)`, `self.model(x)` with `self.model = model` in
            # __init__: a model if the callers pass one; the rules decide from the call sites'
            # arguments (rules.common.model_value)
            self.record_forward(node, callee, args, st)
        if self._steps_an_optimizer(args):
            # `loss_scaler(loss, optimizer)` (timm's NativeScaler, apex): backward and step in one call
            self.grad_use()
            self.training_step(st, optimizer=True)
        self.hand_out(args, st)
        return UNKNOWN_VALUE

    def _steps_an_optimizer(self, args) -> bool:
        """An opaque callable given a loss with a graph and an optimizer."""
        optimizer = any(v.kind == "optimizer" or (v.kind == "unknown" and self._optimizer_named(v.key))
                        for _, v in args)
        loss = any(v.kind == "tensor" and v.tensor is not None and v.tensor.atoms & {"nonleaf", "nonleaf_if_grad"}
                   for _, v in args)
        return optimizer and loss

    def constructed(self, recv: Value, st: State) -> Value:
        """``m = Model(envs); m.eval()``: what looked like a model run built one (a class passed
        in as a parameter, called): a tensor has no ``.eval()``. The call was a construction."""
        origin = recv.tensor.origin
        self.events.constructions.add(origin)
        self.events.forward_calls.pop(origin, None)
        value = Value("module", key=recv.key, mode=NEW_ATOMS)
        if recv.key:
            st.env[recv.key] = value
            self.set_mode(st, recv.key, NEW_ATOMS)
        return value

    def from_params(self, value: Value) -> bool:
        """A parameter, an attribute of one, or a name bound from one (``model = ctx.model``):
        what it is, the callers say."""
        key = value.alias_of or value.key
        if not key or key.count(".") > 1 or key.endswith("__"):
            return False
        root = key.split(".", 1)[0]
        return root in self.fn.params and root not in ("self", "cls")

    def from_init(self, key: Optional[str]) -> bool:
        """``self.x`` that ``__init__`` assigns from one of its parameters (``self.model = model``)."""
        cls = self.fn.cls
        if not key or cls is None or not key.startswith("self.") or key.count(".") != 1:
            return False
        attr = cls.attr(key[5:])
        init = cls.method("__init__")
        return attr is not None and attr.kind == "unknown" and init is not None and attr.key in init.params

    def is_model(self, value: Value) -> bool:
        """A module with parameters, by evidence: built from an nn.Module class or a known
        factory, or used as one in this function (``.eval()``, ``.parameters()``, ...).
        A name alone never makes a model. A module without parameters counts when its mode
        matters (functional dropout in its forward)."""
        if value.kind == "module":
            return value.has_params is not False or value.mode_dep is True
        if value.kind == "unknown" and value.key:
            return value.key in self.fn.modulelike
        return False

    @staticmethod
    def unpickled(value: Value) -> bool:
        """What ``torch.load`` gave back (a whole model, a state dict, a tensor)."""
        return value.kind == "unknown" and bool(value.mode) and any(kind == LOADED for kind, _ in value.mode)

    def hand_out(self, args, st: Optional[State] = None) -> None:
        """A model passed to an opaque callable may be run with gradients there, or have
        weights loaded into it (``load_checkpoint(model, path)``)."""
        models = [v for _, v in args if self.is_model(v)]
        if models:
            for r in self.regions:
                r.hands_model_out = True
        if st is not None:
            for v in models:
                if v.key is not None:
                    self.loaded(st, v.key)

    def loaded(self, st: State, key: str) -> None:
        """Weights loaded into ``key``: no longer a fresh, untrained model."""
        self.untouched = {k for k in self.untouched if not overlaps(key, k)}
        atoms = lookup_mode(st.modes, key, st.trained, entry_ok(self.fn, key))
        if any(kind == "new" for kind, _ in atoms):
            self.set_mode(st, key, after_training(frozenset(a for a in atoms if a[0] == "new"))
                          | frozenset(a for a in atoms if a[0] != "new"))

    def forward(self, node: cst.Call, callee: Value, args, st: State, generate: bool = False) -> Value:
        self.record_forward(node, callee, args, st, generate)
        key = callee.key
        frozen = key is not None and any(part_of(key, k) for k in st.frozen)
        if generate:
            return UNKNOWN_VALUE
        if node in self.events.constructions:
            return Value("module", mode=NEW_ATOMS)
        out = self.op([v for _, v in args], st, node, MODEL_OUTPUT, requires_grad=not frozen)
        return self._forward_tuple(callee, out)

    _NO_HISTORY = frozenset({"plain", "detached", "nograd"})

    def _forward_tuple(self, callee: Value, out: Value) -> Value:
        """A model whose ``forward`` (in this file or another) returns a tuple: each element as
        that return shows it (``return loss, acc.item(), hits``: a float and a comparison carry no
        graph; what it cannot tell stays unknown); tensors that may carry one are the model's
        output. Otherwise ``out``."""
        cls = callee.cls if callee.kind == "module" else None
        if cls is None:
            return out
        if not getattr(cls, "is_summary", False):
            self.o.ensure_class(cls)
        method = cls.method("forward")
        returned = getattr(method, "returns", None)
        if not isinstance(returned, Value) or returned.kind not in ("tuple", "list") or not returned.elements:
            return out
        elements = []
        for e in returned.elements:
            if e is not None and e.kind == "number":
                elements.append(NUMBER)
            elif e is not None and e.kind == "tensor" and e.tensor is not None and e.tensor.atoms \
                    and e.tensor.atoms <= self._NO_HISTORY:
                elements.append(Value("tensor", tensor=TensorFact(e.tensor.atoms, out.tensor.origin if out.tensor
                                                                  else None, e.tensor.how)))
            elif e is not None and e.kind == "tensor":
                elements.append(out)
            else:
                elements.append(UNKNOWN_VALUE)
        return Value("tuple", elements=tuple(elements))

    def record_forward(self, node: cst.Call, callee: Value, args, st: State, generate: bool = False) -> None:
        """The event rules read: a model call with the modes and grad mode in force."""
        if node in self.events.constructions:
            return
        recorders.on_forward(self, node, st)
        key = callee.key
        if key is not None:
            modes = lookup_mode(st.modes, key, st.trained, entry_ok(self.fn, key))
        else:
            modes = callee.mode or TRAIN_ATOMS
        regions = tuple(self.regions)
        arg_names = [n for a, _ in args if a.keyword is None for n in identifiers(a.value)]
        data_names = [n for n in arg_names if words.says_inference_data(n, self.o.facts.is_test_file)]
        data_names += [f"a batch of `{v.data}`" for _, v in args if v.data]
        if not regions and data_names and self.o.facts.framework_of(self.fn) is None \
                and not self.o.facts.is_test_function(self.fn):
            shown = data_names[0] if data_names[0].startswith("a batch") else f"`{data_names[0]}`"
            regions = (Region(node, self.fn, "call", f"call on {shown}"),)
        prepared = next((how for k, how in self.prepared.items() if key and part_of(key, k)), "")
        if not prepared and key and any(kind == LOADED for kind, _ in modes):
            prepared = f"`torch.load` gave `{key}`"
        self.record("forward_calls", node, ForwardCall(
            node, self.fn, key, callee, st.grad, modes, tuple(self.loops), regions,
            generate=generate, certain=callee.kind == "module" or (key in self.fn.modulelike if key else False),
            prepared=prepared, frozen=self.wholly_frozen(key_of(node.func) or key) or "" in (callee.frozen or ()),
            untouched=bool(key) and any(part_of(key, k) for k in self.untouched)))

    def wholly_frozen(self, key: Optional[str]) -> bool:
        """Every parameter of ``key`` is frozen here: it, or a model it is part of, was frozen
        whole, and no part of it was unfrozen or replaced since."""
        return bool(key) and any(part_of(key, k) for k in self.frozen_whole) \
            and not any(overlaps(t, key) for t in self.thawed)

    def method_call(self, node: cst.Call, recv: Value, meth: str, st: State) -> Value:
        key = recv.key
        recorders.on_method(self, node, recv, meth, st)
        if recv.kind == "tensor" and meth in torchapi.MODULE_ONLY_METHODS and recv.tensor is not None \
                and recv.tensor.how == MODEL_OUTPUT and recv.tensor.origin is not None:
            recv = self.constructed(recv, st)
        # methods of local classes
        if recv.cls is not None and recv.kind in ("module", "object", "class"):
            method = recv.cls.method(meth)
            if method is not None:
                args = [(a, self.ev(a.value, st)) for a in node.args]
                receiver = key if recv.kind != "class" else None
                return self.local_call(node, method, args, receiver, st)
        if meth == "eval" and not node.args:
            return self.set_module_mode(recv, frozenset({(EVAL, node)}), st, node)
        if meth == "train":
            flag = True if not node.args else const_bool(node.args[0].value)
            for a in node.args:
                self.ev(a.value, st)
            atoms = {True: frozenset({(TRAIN_SET, node)}), False: frozenset({(EVAL, node)}),
                     None: frozenset({(TRAIN_SET, node), (EVAL, node)})}[flag]
            return self.set_module_mode(recv, atoms, st, node)
        args = [(a, self.ev(a.value, st)) for a in node.args]
        if meth in torchapi.MODULE_ONLY_METHODS and key:
            self.fn.modulelike.add(key)
        if meth in ("load_state_dict", "load", "load_weights", "from_pretrained") and key \
                and recv.kind in ("module", "unknown"):
            self.loaded(st, key)
            self.prepared.setdefault(key, f"loading weights into `{key}`")
        if meth in ("parameters", "named_parameters") and recv.kind not in ("tensor", "number"):
            return Value("params", sources=((key, False),) if key else ())
        if meth in ("items", "values") and key and recv.kind in ("dict", "unknown", "list"):
            return recv.with_(kind="items" if meth == "items" else recv.kind if recv.kind != "dict" else "list")
        if meth in ("modules", "children", "named_modules", "named_children") and key:
            # the parts of a model: modules, in the model's mode (pairs with their names)
            return Value("parts", key=key, elements=(Value("number"),) if meth.startswith("named") else ())
        if meth == "requires_grad_":
            flag = True if not node.args else const_bool(args[0][0].value)
            if recv.kind == "tensor":
                fact = recv.tensor
                if flag is not False and "nonleaf" not in fact.atoms:
                    fact = TensorFact(frozenset({"leaf_rg"}), node, "", False, False, fact.dtype)
                if key:
                    st.env[key] = recv.with_(tensor=fact)
                if flag is not False:
                    self.grad_use()
                return recv.with_(tensor=fact)
            owner = key if recv.kind in ("module", "unknown") else self.param_owner(recv, node.func.value, st)
            if recv.kind == "param":
                owner = recv.key
            if flag is not None:
                self.freeze(node, owner, not flag, st, whole=owner is not None and owner == key)
            if flag is not False:
                self.grad_use()
            if flag is False and owner is None and recv.kind == "module":
                return recv.with_(frozen=("",))  # `nn.Linear(...).requires_grad_(False)`: built frozen
            return recv
        if recv.kind in ("tensor", "param") and self.writes_in_place(meth):
            self.inplace_write(node, recv, node.func.value, st, f"`.{meth}()`")
        if meth == "backward":
            self.backward(node, recv.tensor if recv.kind == "tensor" else None, st)
            return NUMBER
        if meth == "step" and (recv.kind == "optimizer" or self._optimizer_named(key)
                               or any(v.kind == "optimizer" for _, v in args)):
            self.training_step(st, optimizer=True)
            if recv.kind == "optimizer":
                self.optimizer_used(node, recv, st)
            for model, _ in recv.sources if recv.kind == "optimizer" else ():
                if model and (model in st.env or entry_ok(self.fn, model) or model in st.modes):
                    atoms = lookup_mode(st.modes, model, st.trained, entry_ok(self.fn, model))
                    self.set_mode(st, model, after_step(atoms))
            return NUMBER
        if meth == "add_param_group" and recv.kind == "optimizer" and key:
            st.env[key] = recv.with_(misses=())  # it now holds the new parameters
            return NUMBER
        if meth == "retain_grad" and recv.kind == "tensor" and key:
            fact = recv.tensor
            st.env[key] = recv.with_(tensor=TensorFact(fact.atoms, fact.origin, fact.how, fact.cuda_only,
                                                       True, fact.dtype, fact.accum))
            return NUMBER
        if meth in ("append", "extend", "add", "insert", "appendleft") and args:
            value = args[-1][1]
            if meth == "extend" and value.kind == "list" and value.tensor is not None:
                value = Value("tensor", tensor=value.tensor)
            if key:
                self.accumulate(node, key, recv, value, st, args[-1][0].value)
                if value.kind == "tensor" and recv.kind in ("list", "unknown") and key in st.env:
                    fact = value.tensor
                    fact = TensorFact(fact.atoms, fact.origin, fact.how, fact.cuda_only, fact.retained,
                                      fact.dtype, fact.accum | {key})
                    old = st.env[key]
                    merged = fact if old.tensor is None else old.tensor.join(fact)
                    st.env[key] = Value("list", key=key, tensor=merged, bound_in=old.bound_in)
            return NUMBER
        if recv.kind in ("module", "unknown") and meth in ("to", "cuda", "cpu", "float", "half", "double",
                                                            "bfloat16", "share_memory", "apply",
                                                            "requires_grad_", "zero_grad") \
                and (recv.kind == "module" or self.is_model(recv)):
            return recv
        if meth in ("generate",) and self.is_model(recv):
            return self.forward(node, recv, args, st, generate=True)
        if meth == "forward" and self.is_model(recv):
            return self.forward(node, recv, args, st)
        if recv.kind == "unknown" and recv.data and meth in torchapi.CONVERSIONS:
            return Value("unknown", data=recv.data)  # a test batch moved to the device
        if recv.kind == "unknown" and meth in ("clone", "detach"):  # only a tensor has these
            recv = recv.with_(kind="tensor", tensor=UNKNOWN_TENSOR)
        if meth in ("size", "numel", "dim") and type(node.func.value) is cst.Call:
            self.shape_probe(node.func.value)
        if recv.kind == "tensor":
            return self.tensor_method(node, recv, meth, args, st)
        if recv.kind == "list" and meth in ("pop",):
            return Value("tensor", tensor=recv.tensor) if recv.tensor is not None else UNKNOWN_VALUE
        if recv.kind == "import" and recv.qual:
            return self.api_call(node, f"{recv.qual}.{meth}", args, st)
        if recv.kind == "object" and recv.qual in torchapi.PREPARERS and meth == "prepare" and args:
            # `model, optimizer = accelerator.prepare(model, optimizer)`: the same objects, wrapped
            values = tuple(v for _, v in args)
            return values[0] if len(values) == 1 else Value("tuple", elements=values)
        if recv.kind == "class" and recv.cls is not None:
            if meth in _CLASS_LOADERS and recv.cls.is_module:  # Net.load_from_checkpoint(path): a Net
                # HF from_pretrained returns eval mode; a Lightning checkpoint or a config builds
                # the module afresh (training mode); another library's loader: not known
                if meth == "from_pretrained":
                    mode = frozenset({(EVAL, node)}) if recv.cls.is_hf_model else UNKNOWN_ATOMS
                else:
                    mode = TRAIN_ATOMS
                if (EVAL, node) in mode:
                    self.o.setter_loops[node] = tuple(self.loops)
                return Value("module", cls=recv.cls, mode_dep=self.o.class_mode_dep(recv.cls), mode=mode)
            return UNKNOWN_VALUE
        # an attribute holding a model: self.encoder(x)
        if key is not None:
            callee = self.member(recv, meth, st)
            if self.is_model(callee):
                return self.forward(node, callee, args, st)
            if recv.kind == "module" and recv.cls is None and callee.kind == "unknown" and node.args \
                    and meth not in torchapi.MODULE_API and meth not in torchapi.DICT_METHODS \
                    and recv.has_params is not False:
                # model.fc(x), model.forward_features(x) on a module of a library class: a part
                # (or a method) of the model runs on inputs (model.freeze_bn() is given none: no forward)
                return self.forward(node, recv, args, st)
            if callee.kind == "module":
                recorders.on_module_call(self, node, callee, args)
                return self.op([v for _, v in args], st, node, "a loss")
            if callee.kind == "unknown" and (self.from_init(callee.key) or self.from_params(callee)):
                self.record_forward(node, callee, args, st)
        if recv.kind in ("unknown", "object") and meth in ("backward", "manual_backward"):
            self.backward(node, args[0][1].tensor if args and args[0][1].kind == "tensor" else None, st)
            return NUMBER
        self.hand_out(args, st)
        return UNKNOWN_VALUE

    def _optimizer_named(self, key: Optional[str]) -> bool:
        if not key:
            return False
        toks = words.tokens(key.rsplit(".", 1)[-1])
        return bool(toks & {"optimizer", "optim", "opt", "optimiser", "optimizers"}) or \
            any(t.startswith("opt") and len(t) <= 5 for t in toks)

    def set_module_mode(self, recv: Value, atoms, st: State, node) -> Value:
        if recv.kind in ("tensor", "number", "optimizer"):
            return UNKNOWN_VALUE
        self.o.setter_loops[node] = tuple(self.loops)
        if recv.key is not None and atoms and all(kind == EVAL for kind, _ in atoms):
            self.prepared.setdefault(recv.key, f"`{recv.key}.eval()`")  # not `.train(flag)`: either
        if recv.key is not None:
            self.fn.modulelike.add(recv.key)
            self.set_mode(st, recv.key, atoms)
            return recv
        if recv.kind == "module":
            return recv.with_(mode=atoms)
        return UNKNOWN_VALUE

    def tensor_method(self, node, recv: Value, meth: str, args, st: State) -> Value:
        fact = recv.tensor or UNKNOWN_TENSOR
        if meth in torchapi.NON_TENSOR_METHODS:
            return NUMBER
        if meth in torchapi.INDEX_METHODS:
            return Value("tensor", tensor=TensorFact(frozenset({"plain"})))
        if meth in torchapi.PAIR_METHODS and args:
            values = self.op([recv] + [v for _, v in args], st, node, f"`.{meth}()`")
            return Value("tuple", elements=(values, Value("tensor", tensor=TensorFact(frozenset({"plain"})))))
        if meth in torchapi.DETACHING_METHODS:
            return Value("tensor", tensor=TensorFact(frozenset({"detached"}), node, dtype=fact.dtype))
        if meth in torchapi.CONVERSIONS:
            return self.conversion(node, recv, meth, args, st)
        if meth.endswith("_") and not meth.endswith("__"):
            return recv  # in place: the same tensor
        if meth == "clone":
            return self.op([recv], st, node, "a .clone() copy")
        return self.op([recv] + [v for _, v in args], st, node, f"`.{meth}()`")

    def conversion(self, node, recv: Value, meth: str, args, st: State) -> Value:
        """``.to()``/``.cuda()``/``.float()``: a copy (non-leaf) unless nothing changes."""
        fact = recv.tensor or UNKNOWN_TENSOR
        target_dtype = torchapi.DTYPE_METHODS.get(meth)
        cuda_only = False
        copies = False
        if meth == "cuda":
            copies = True
        elif meth == "cpu" or meth == "contiguous":
            copies = False
        elif target_dtype is not None:
            current = fact.dtype or "float32"
            copies = target_dtype != current
        elif meth in ("to", "type", "type_as"):
            for a, v in args:
                if a.keyword is not None and a.keyword.value not in ("device", "dtype"):
                    continue
                qual = v.qual if v.kind == "import" else None
                if qual and qual.startswith("torch.") and qual.rsplit(".", 1)[-1] in (
                        "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32"):
                    copies = True
                elif type(a.value) is cst.SimpleString:
                    text = a.value.raw_value
                    if text.startswith("cuda"):
                        copies = True
                    elif text != "cpu":
                        cuda_only = True
                elif v.kind == "tensor":
                    cuda_only = True
                elif qual not in ("torch.float32", "torch.float"):
                    cuda_only = True  # a device variable: a copy on CUDA, the same tensor on CPU
            copies = copies or cuda_only
        if not copies or fact.how == MODEL_OUTPUT:  # a model's output moved is still its output
            return recv.with_(key=None) if recv.key else recv
        result = self.op([recv], st, node, f"a `.{meth}()` copy")
        out = result.tensor
        if fact.atoms <= REQUIRES_GRAD and out is not None:
            out = TensorFact(out.atoms, node, f"a `.{meth}()` copy", cuda_only and meth == "to" and not (
                target_dtype), False, target_dtype or fact.dtype, out.accum, out.cuts)
            self.leaf_converted(node, fact, out)
        return result.with_(tensor=out)

    def backward(self, node, fact: Optional[TensorFact], st: State) -> None:
        self.record("backwards", node, Backward(node, self.fn, fact, guarded=self.guarded))
        self.grad_use()
        self.training_step(st, optimizer=False, backward_only=True)

    def grad_use(self) -> None:
        self.fn.uses_grad = True
        for r in self.regions:
            r.uses_grad = True

    def training_step(self, st: State, optimizer: bool, backward_only: bool = False) -> None:
        """A backward, an optimizer step, or a call that trains. ``backward_only``: a backward
        here, so no optimizer step (a helper that trains may also step)."""
        self.steps += 1
        self.fresh.clear()
        self.untouched.clear()
        st.modes = {k: after_training(v) for k, v in st.modes.items()}
        st.trained = frozenset({True})
        for loop in self.loops:
            loop.trains = True
            loop.steps = loop.steps or not backward_only
        self.fn.trains = True
        if optimizer:
            for r in self.regions:
                r.optimizer_step = True

    # -- torch and library calls ------------------------------------------------------------
    def api_call(self, node: cst.Call, qual: str, args, st: State) -> Value:
        recorders.on_api(self, node, qual, args)
        if qual in torchapi.PREPARERS:
            return Value("object", qual=qual)  # accelerate's Accelerator(): its prepare() is known
        nn_name = torchapi.nn_class(qual)
        if nn_name is not None:
            return self.nn_module(node, nn_name, args)
        if qual == "torch.nn.Embedding.from_pretrained" or qual == "torch.nn.EmbeddingBag.from_pretrained":
            freeze = arg_of(args, 1, "freeze")
            frozen = freeze is None or const_bool(freeze[0].value) is not False
            return Value("module", mode=TRAIN_ATOMS, mode_dep=False, has_params=True,
                         frozen=("",) if frozen else ())
        if qual in torchapi.WRAPPERS:
            first = arg_of(args, 0)
            if first is not None and first[1].kind == "module":
                return first[1]
            if first is not None and first[1].kind == "unknown":  # wrapping it is evidence of a module
                if first[1].key:
                    self.fn.modulelike.add(first[1].key)
                return first[1].with_(kind="module") if not first[1].key else first[1]
            return Value("module")
        if qual in torchapi.MODE_OWNING_ENGINES:
            # ignite's evaluator calls model.eval() each time it runs (often from a trainer's
            # event handler): whether it ran last, and so the model's mode, is the engines' business
            for _, value in args:
                if value.key and (value.kind == "module" or self.is_model(value)):
                    self.set_mode(st, value.key, UNKNOWN_ATOMS)
        factory_mode = torchapi.model_factory_mode(qual)
        if factory_mode is not None:
            mode = frozenset({(EVAL, node)}) if factory_mode == "eval" else TRAIN_ATOMS
            self.o.setter_loops[node] = tuple(self.loops)
            return Value("module", mode=mode, mode_dep=torchapi.factory_mode_dep(qual),
                         batchnorm=torchapi.factory_batchnorm(qual, node))
        if torchapi.is_optimizer_class(qual):
            return self.optimizer(node, args, st)
        if torchapi.is_scheduler_class(qual):
            return Value("scheduler")
        if qual in torchapi.TENSOR_FACTORIES or qual in (torchapi.PARAMETER, torchapi.VARIABLE):
            copied = self.tensor_copy(node, qual, args, st)
            if copied is not None:
                return copied
            return self.tensor_factory(node, qual, args)
        if qual == "torch.load":  # a whole pickled model, a state dict, a tensor: known when used
            return Value("unknown", mode=frozenset({(LOADED, node)}))
        if qual in ("torch.autograd.grad",):
            first = arg_of(args, 0, "outputs")
            self.record("backwards", node, Backward(node, self.fn,
                                                    first[1].tensor if first and first[1].kind == "tensor" else None))
            self.grad_use()
            return UNKNOWN_VALUE
        if qual in ("torch.autograd.backward",):
            first = arg_of(args, 0, "tensors")
            self.backward(node, first[1].tensor if first and first[1].kind == "tensor" else None, st)
            return NUMBER
        if qual in ("torch.stack", "torch.cat", "torch.concat", "torch.concatenate", "torch.hstack",
                    "torch.vstack"):
            first = arg_of(args, 0, "tensors")
            if first is not None and first[1].kind == "list":
                inner = Value("tensor", tensor=first[1].tensor) if first[1].tensor is not None else UNKNOWN_VALUE
                return self.op([inner], st, node, f"`{qual}`")
        if qual in torchapi.INDEX_FUNCTIONS:
            return Value("tensor", tensor=TensorFact(frozenset({"plain"})))
        if qual.rsplit(".", 1)[-1] in torchapi.PAIR_METHODS and qual.count(".") == 1 and len(args) > 1:
            values = self.op([v for _, v in args], st, node, f"`{qual}`")
            return Value("tuple", elements=(values, Value("tensor", tensor=TensorFact(frozenset({"plain"})))))
        if torchapi.is_tensor_op(qual):
            return self.op([v for _, v in args], st, node, f"`{qual}`")
        if qual in torchapi.GRAD_CONTEXTS:
            return Value("gradctx", qual=qual)
        self.hand_out(args, st)
        return UNKNOWN_VALUE

    def nn_module(self, node, name: str, args) -> Value:
        if name in torchapi.MODE_DEPENDENT:
            mode_dep: Optional[bool] = True
            if name.startswith("Dropout") or name.endswith("Dropout"):
                p = arg_of(args, 0, "p")
                if p is not None and const_bool(p[0].value) is False:
                    mode_dep = False
        elif name in torchapi.MODE_DEPENDENT_IF:
            kw = arg_of(args, -1, torchapi.MODE_DEPENDENT_IF[name])
            if kw is None:
                mode_dep = False
            else:
                flag = const_bool(kw[0].value)
                mode_dep = None if flag is None else flag
            if mode_dep is not False and name in ("RNN", "LSTM", "GRU"):
                # RNN dropout acts between stacked layers: one layer (the default) drops nothing
                layers = arg_of(args, 2, "num_layers")
                if layers is None or (type(layers[0].value) is cst.Integer and layers[0].value.value == "1"):
                    mode_dep = False
                elif type(layers[0].value) is not cst.Integer:
                    mode_dep = None  # as many layers as a setting says
        elif name in torchapi.CONTAINERS:
            mode_dep = False
            for _, v in args:
                if v.kind == "module":
                    if v.mode_dep is True:
                        mode_dep = True
                        break
                    if v.mode_dep is None:
                        mode_dep = None
                elif v.kind == "list":  # nn.ModuleList([Block(...) for _ in range(n)])
                    if v.mode_dep is True:
                        mode_dep = True
                        break
                    if v.mode_dep is None:
                        mode_dep = None
                elif v.kind not in ("number",):
                    mode_dep = None
        else:
            mode_dep = False
        has_params = False if torchapi.nn_param_free(name) else None
        return Value("module", mode=NEW_ATOMS, mode_dep=mode_dep, has_params=has_params, qual=f"torch.nn.{name}",
                     batchnorm=torchapi.holds_batchnorm(name, args))

    def optimizer(self, node: cst.Call, args, st: Optional[State] = None) -> Value:
        first = arg_of(args, 0, "params")
        sources: Tuple[Tuple[str, bool], ...] = ()
        classes: tuple = ()
        if first is not None:
            value = first[1]
            if value.kind == "params":
                sources = value.sources
            elif value.kind == "param" and value.key:
                sources = ((value.key, True),)
        frozen = st.frozen if st is not None else frozenset()
        earlier = self.events.optimizers.get(node)
        if earlier is not None:  # a loop body seen again: frozen here on every pass
            frozen = frozen & earlier.frozen_before
        self.record("optimizers", node, OptimizerBuild(node, self.fn, sources, classes, frozen))
        if node not in self.built:
            self.built.append(node)
        if st is not None:
            self.optimized_tensors(node, first, st)
        return Value("optimizer", sources=sources, frozen=tuple(sorted(frozen)))

    def tensor_factory(self, node, qual: str, args) -> Value:
        rg = arg_of(args, -1, "requires_grad")
        dtype = arg_of(args, -1, "dtype")
        dtype_name = None
        if dtype is not None and dtype[1].kind == "import" and dtype[1].qual:
            dtype_name = {"float64": "float64", "double": "float64", "float16": "float16",
                          "half": "float16", "bfloat16": "bfloat16", "float32": "float32",
                          "float": "float32"}.get(dtype[1].qual.rsplit(".", 1)[-1])
        if qual == torchapi.PARAMETER:
            flag = True if rg is None else const_bool(rg[0].value)
            first = arg_of(args, 0, "data")
            if first is not None and first[1].kind == "tensor" and first[1].tensor.dtype:
                dtype_name = first[1].tensor.dtype
        else:
            flag = False if rg is None else const_bool(rg[0].value)
        atoms = {True: {"leaf_rg"}, False: {"plain"}, None: {"leaf_rg", "plain"}}[flag]
        return Value("tensor", tensor=TensorFact(frozenset(atoms), node, "", False, False, dtype_name))

    # -- local functions and classes ----------------------------------------------------------
    def local_call(self, node: cst.Call, callee: FunctionInfo, args, receiver: Optional[str], st: State) -> Value:
        """A call of a function the analysis knows: this file's (interpreted on demand) or
        another project file's (its summary). Its effects apply here, and the call site is
        kept for resolving the callee's entry state (for another file's function, in this
        file's summary)."""
        external = getattr(callee, "is_summary", False)
        if not external:
            self.o.run(callee)
        is_method = callee.cls is not None and callee.params and callee.params[0] in ("self", "cls") \
            and "staticmethod" not in callee.decorator_names
        if is_method and receiver is None and self.fn.cls is not None \
                and type(node.func) is cst.Attribute and key_of(node.func.value) in ("self", "cls"):
            receiver = "self"
        mapping = self.call_site(node, callee, args, receiver, st, skip_first=is_method)
        self.apply_summary(node, callee, mapping, receiver, st)
        if callee.trains:
            for _, v in args:
                if v.kind == "optimizer":
                    self.optimizer_used(node, v, st)
        result = callee.returns
        if isinstance(result, Value):
            return self.returned(result, callee, mapping, st, node)
        return UNKNOWN_VALUE

    def call_site(self, node, callee, args, receiver: Optional[str], st: State, skip_first: bool) -> dict:
        """Record the call site (for another file's function, in this file's summary) and
        return the callee parameter -> caller key mapping."""
        params = list(callee.params)[1:] if skip_first else list(callee.params)
        mapping: Dict[str, Optional[str]] = {}
        values: Dict[str, Value] = {}
        positional = [(a, v) for a, v in args if a.keyword is None and not a.star]
        for (a, v), param in zip(positional, params):
            mapping[param] = v.key if v.key else key_of(a.value)
            values[param] = v
        for a, v in args:
            if a.keyword is not None:
                mapping[a.keyword.value] = v.key if v.key else key_of(a.value)
                values[a.keyword.value] = v
        site = CallSite(node, self.fn, callee, mapping, receiver, st.grad, st.modes, st.trained,
                        tuple(self.loops), bool(self.regions), values, tuple(st.frozen),
                        tuple(sorted(self.fresh)))
        if getattr(callee, "is_summary", False):
            self.events.external_calls.append(site)
        else:
            callee.callsites.append(site)
        self._arg_values = values  # for `substitute`: a fresh model passed has no key, only a mode
        return mapping

    def map_key(self, key: str, callee: FunctionInfo, mapping, receiver) -> Optional[str]:
        root, _, rest = key.partition(".")
        if callee.cls is not None and callee.params and root == callee.params[0] and root in ("self", "cls"):
            base = receiver
        elif root in callee.params:
            base = mapping.get(root)
        else:
            return key  # a global: the same name in the caller
        if base is None:
            return None
        return f"{base}.{rest}" if rest else base

    def apply_summary(self, node, callee: FunctionInfo, mapping, receiver, st: State) -> None:
        trained_before = True in st.trained
        if callee.trains:
            self.training_step(st, optimizer=False)
        if callee.uses_grad:
            self.grad_use()
        for key, atoms in callee.exit_modes.items():
            mine = self.map_key(key, callee, mapping, receiver)
            if mine is None:
                continue
            self.o.setter_loops[node] = tuple(self.loops)
            self.set_mode(st, mine, self.substitute(atoms, callee, mapping, receiver, st, node))
            self.fn.modulelike.add(mine)
        for key, frozen in list(callee.freezes.items()):
            mine = self.map_key(key, callee, mapping, receiver)
            if mine is not None:
                # a helper that freezes, then trains: its freeze came before its own training
                untrained = not trained_before and (id(callee), key) not in self.events.trained_freezes
                self.freeze(node, mine, True, st, untrained=untrained)
        for key in list(callee.unfreezes):
            mine = self.map_key(key, callee, mapping, receiver)
            if mine is not None:
                self.freeze(node, mine, False, st)
        for key in sorted(callee.replaces):
            mine = self.map_key(key, callee, mapping, receiver)
            if mine is not None:
                self.replaced(node, mine, None, st)

    def substitute(self, atoms, callee: FunctionInfo, mapping, receiver, st: State, node) -> frozenset:
        """A callee's exit modes seen from the call: its entry atoms become the caller's state
        at the call, and its setters become the call itself (the helper that set the mode)."""
        new = set()
        for kind, arg in atoms:
            if kind in ENTRY_KINDS:
                caller_key = self.map_key(arg, callee, mapping, receiver)
                passed = getattr(self, "_arg_values", {}).get(arg.partition(".")[0]) if not caller_key else None
                if caller_key:
                    base = lookup_mode(st.modes, caller_key, st.trained, entry_ok(self.fn, caller_key))
                elif passed is not None and passed.kind == "module" and passed.mode and "." not in arg:
                    base = passed.mode  # Trainer(nn.Sequential(...)): the fresh model's own mode
                else:
                    base = UNKNOWN_ATOMS
                new |= {ENTRY: lambda b: b, ENTRY_T: after_training, ENTRY_S: after_step}[kind](base)
            elif kind in (EVAL, TRAIN_SET):
                new.add((kind, node))
            else:
                new.add((kind, arg))
        return frozenset(new)

    @staticmethod
    def _is_self_default(key: str, atoms) -> bool:
        """``self.fc = nn.Linear(...)`` in __init__ only builds a part: nothing to carry over."""
        return all(kind in ("new", "train") for kind, _ in atoms)

    def returned(self, result: Value, callee: FunctionInfo, mapping, st: State, node) -> Value:
        if result.kind == "module":
            if result.key is not None:
                mine = self.map_key(result.key, callee, mapping, None) if entry_ok(callee, result.key) else None
                if mine is not None:
                    return Value("module", key=mine, mode_dep=result.mode_dep, has_params=result.has_params,
                                 cls=result.cls)
                mode = frozenset((k, node) if k in (EVAL, TRAIN_SET) else (k, a)
                                 for k, a in (result.mode or UNKNOWN_ATOMS))
                self.o.setter_loops[node] = tuple(self.loops)
                return result.with_(key=None, mode=mode)
            return result
        if result.kind == "tensor":
            fact = result.tensor
            if "nonleaf_if_grad" in fact.atoms:
                atoms = set(fact.atoms - {"nonleaf_if_grad"})
                for g in st.grad - {"flag"}:
                    atoms.add({"on": "nonleaf", "off": "nograd"}.get(g, "nonleaf_if_grad"))
                fact = TensorFact(frozenset(atoms), fact.origin, fact.how, fact.cuda_only, fact.retained,
                                  fact.dtype, frozenset(), fact.cuts)
            return Value("tensor", tensor=fact)
        if result.kind in ("optimizer", "params", "number"):
            return Value(result.kind, sources=result.sources)
        if result.elements and result.kind in ("tuple", "list"):  # return model, optimizer
            return Value("tuple", elements=tuple(self.returned(e, callee, mapping, st, node) for e in result.elements))
        return UNKNOWN_VALUE

    def instantiate(self, node, cls: ClassInfo, args, st: State) -> Value:
        self.o.ensure_class(cls)
        init = cls.method("__init__")
        init_modes: tuple = ()
        if init is not None:
            mapping = self.call_site(node, init, args, None, st, skip_first=True)
            init_modes = tuple((key[4:], self.substitute(atoms, init, mapping, None, st, node))
                               for key, atoms in sorted(init.exit_modes.items())
                               if key.startswith("self.") and (not cls.is_module or not self._is_self_default(key, atoms)))
        if cls.is_module:
            return Value("module", mode=NEW_ATOMS, cls=cls, mode_dep=self.o.class_mode_dep(cls),
                         has_params=self.o.class_has_params(cls), frozen=self.o.class_frozen_parts(cls),
                         init_modes=init_modes)
        return Value("object", cls=cls, init_modes=init_modes)
