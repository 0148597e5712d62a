"""Expressions: what each evaluates to (models, tensors and their grad state, parameters)."""

from __future__ import annotations

from typing import List, Optional

import libcst as cst

from . import recorders, torchapi, words
from .events import GradRead, Region
from .names import key_of
from .scopes import ClassInfo, FunctionInfo
from .state import State
from .syntax import identifiers
from .values import (MAY_REQUIRE_GRAD, MODEL_OUTPUT, NONE, NUMBER, REQUIRES_GRAD, UNKNOWN_VALUE, TensorFact, Value,
                     join_values)


class ExpressionsMixin:
    """Part of ``interp._Run``: evaluating expressions."""

    # -- expressions --------------------------------------------------------------------
    def ev(self, node: cst.CSTNode, st: State) -> Value:
        handler = _EVALUATORS.get(type(node))
        if self.inference is not None:
            self.events.inference_made[node] = self.inference
        return UNKNOWN_VALUE if handler is None else handler(self, node, st)

    def _constant(self, node, st: State) -> Value:
        return NUMBER

    def _binary(self, node: cst.BinaryOperation, st: State) -> Value:
        return self.op([self.ev(node.left, st), self.ev(node.right, st)], st, node, "arithmetic")

    def _unary(self, node: cst.UnaryOperation, st: State) -> Value:
        return self.op([self.ev(node.expression, st)], st, node, "arithmetic")

    def _fstring(self, node: cst.FormattedString, st: State) -> Value:
        for part in node.parts:
            if type(part) is cst.FormattedStringExpression:
                self.ev(part.expression, st)
        return NUMBER

    def _comparison(self, node: cst.Comparison, st: State) -> Value:
        values = [self.ev(node.left, st)] + [self.ev(c.comparator, st) for c in node.comparisons]
        if any(v.kind == "tensor" for v in values):
            return Value("tensor", tensor=TensorFact(frozenset({"plain"})))
        return NUMBER

    def _boolean(self, node: cst.BooleanOperation, st: State) -> Value:
        return join_values(self.ev(node.left, st), self.ev(node.right, st)) or UNKNOWN_VALUE

    def _ifexp(self, node: cst.IfExp, st: State) -> Value:
        self.ev(node.test, st)
        return join_values(self.ev(node.body, st), self.ev(node.orelse, st)) or UNKNOWN_VALUE

    def _sequence(self, node, st: State) -> Value:
        values = [self.ev(e.value, st) for e in node.elements]
        out = self.collection(values)
        if out.kind == "list" and values and all(v.kind == "module" for v in values):
            deps = {v.mode_dep for v in values}  # [Block(), Block()]: mode-dependent if one is
            out = out.with_(mode_dep=True if True in deps else (None if None in deps else False))
        if type(node) in (cst.Tuple, cst.List) and out.kind == "list" \
                and not any(type(e) is cst.StarredElement for e in node.elements):
            out = out.with_(elements=tuple(values))  # `return model, optimizer`: each keeps its value
        return out

    def _dict(self, node: cst.Dict, st: State) -> Value:
        params = None
        for el in node.elements:
            if type(el) is cst.DictElement:
                self.ev(el.key, st)
                v = self.ev(el.value, st)
                if type(el.key) is cst.SimpleString and el.key.raw_value == "params":
                    params = v
            else:
                self.ev(el.value, st)
        if params is not None and params.kind == "params":
            return params
        return Value("dict")

    def _walrus(self, node: cst.NamedExpr, st: State) -> Value:
        value = self.ev(node.value, st)
        self.assign(node.target, value, st, None)
        return value

    def _await(self, node: cst.Await, st: State) -> Value:
        return self.ev(node.expression, st)

    def _yield(self, node: cst.Yield, st: State) -> Value:
        if node.value is not None and type(node.value) is not cst.From:
            self.ev(node.value, st)
        return UNKNOWN_VALUE

    def _starred(self, node: cst.StarredElement, st: State) -> Value:
        return self.ev(node.value, st)

    def _lambda(self, node: cst.Lambda, st: State) -> Value:
        return Value("func")

    def name(self, node: cst.Name, st: State) -> Value:
        name = node.value
        value = st.env.get(name)
        if value is not None:
            if value.kind == "func" and isinstance(value.func, FunctionInfo):
                value.func.escapes = True  # referenced, not called: callers unknown
            elif value.kind == "func" and getattr(value.func, "is_summary", False):
                self.events.external_escapes.add(value.func.ref)
            return value
        found = self.o.scopes.lookup(name, self.fn)
        if isinstance(found, FunctionInfo):
            found.escapes = True  # referenced, not called: callers unknown
            return Value("func", func=found)
        if isinstance(found, ClassInfo):
            return Value("class", cls=found)
        qual = self.imports.qualname(node)
        if qual is not None:
            return self.imported(qual, name)
        if name == "None":
            return NONE
        if name in ("True", "False"):
            return NUMBER
        known = self.o.module_env.get(name) if not self.fn.is_module_level else None
        if known is not None and known.kind in ("module", "tensor", "optimizer", "params", "list"):
            return known.with_(key=name, bound_in=None)
        return Value("unknown", key=name)

    def imported(self, qual: str, local: Optional[str] = None) -> Value:
        """An imported name used as a value: another project file's function, class or
        global when the project view knows it, else a library name."""
        found = self.o.symbol(qual)
        if found is not None:
            if isinstance(found, Value):
                return found.with_(key=local, bound_in=None) if local else found
            if hasattr(found, "methods"):
                return Value("class", cls=found)
            if hasattr(found, "exit_modes"):
                self.events.external_escapes.add(found.ref)  # referenced, not called: callers unknown
                return Value("func", func=found)
        return Value("import", qual=qual)

    def attribute(self, node: cst.Attribute, st: State) -> Value:
        qual = self.imports.qualname(node)
        if qual is not None:
            return self.imported(qual)
        attr = node.attr.value
        base = self.ev(node.value, st)
        if attr == "grad":
            self.grad_use()
            if base.kind == "tensor":
                name = key_of(node.value) or "tensor"
                self.record("grad_reads", node, GradRead(node, self.fn, name, base.tensor))
            return Value("tensor", tensor=TensorFact(frozenset({"plain"})))
        if attr in ("shape", "ndim") and type(node.value) is cst.Call:
            self.shape_probe(node.value)
        if base.kind == "tensor":
            if attr == "data":
                return Value("tensor", tensor=TensorFact(frozenset({"detached"})))
            if attr in torchapi.NON_GRAD_ATTRS:
                return NUMBER
            if attr in ("T", "mT", "H", "mH", "real", "imag"):
                return self.op([base], st, node, "a view")
            return UNKNOWN_VALUE
        if attr == "training" and base.key == "self" and self.fn.cls is not None:
            self.fn.cls.uses_training_flag = True
            return NUMBER
        if base.key is None:
            return UNKNOWN_VALUE
        if attr in ("module", "_orig_mod"):
            return base  # DDP / torch.compile wrappers share the model's parameters and mode
        if attr == "_modules" and base.key:
            self.fn.modulelike.add(base.key)  # only an nn.Module has them
            return base.with_(kind="module") if base.kind == "unknown" else base
        return self.member(base, attr, st)

    def shape_probe(self, call: cst.Call) -> None:
        """``model(torch.zeros(1, 3, 32, 32)).shape``: a run for its output's shape alone."""
        event = self.events.forward_calls.get(call)
        if event is not None:
            event.probe = True

    def member(self, base: Value, attr: str, st: State) -> Value:
        """``base.attr`` for an object with a key: bound here, known from its class, or unknown."""
        key = f"{base.key}.{attr}"
        bound = st.env.get(key)
        if bound is not None:
            return bound
        if base.cls is not None:
            cls_value = base.cls.attr(attr)
            if cls_value is not None:
                if cls_value.kind == "module":
                    return Value("module", key=key, mode_dep=cls_value.mode_dep,
                                 has_params=cls_value.has_params, cls=cls_value.cls, qual=cls_value.qual,
                                 batchnorm=cls_value.batchnorm)
                if cls_value.kind == "tensor":
                    return Value("tensor", key=key, tensor=cls_value.tensor)
                return Value(cls_value.kind if cls_value.kind in ("optimizer", "scheduler") else "unknown",
                             key=key)
        if base.kind == "module" and attr in ("weight", "bias"):
            return Value("param", key=base.key)
        return Value("unknown", key=key)

    def subscript(self, node: cst.Subscript, st: State) -> Value:
        base = self.ev(node.value, st)
        for el in node.slice:
            if type(el.slice) is cst.Index:
                self.ev(el.slice.value, st)
            else:
                for part in (el.slice.lower, el.slice.upper, el.slice.step):
                    if part is not None:
                        self.ev(part, st)
        if base.kind == "tensor":
            return self.op([base], st, node, "indexing")
        if base.kind == "unknown" and base.data:
            return Value("unknown", data=base.data)  # batch[0] of a test batch
        if base.kind == "parts" and base.key:  # list(model.children())[:2] / [0]
            sliced = len(node.slice) == 1 and type(node.slice[0].slice) is cst.Slice
            return base if sliced else Value("module", key=f"{base.key}.item")
        if base.kind == "tuple" or (base.kind == "list" and base.elements):
            index = node.slice[0].slice.value if type(node.slice[0].slice) is cst.Index else None
            if type(index) is cst.Integer and int(index.value) < len(base.elements):
                return base.elements[int(index.value)]
            return UNKNOWN_VALUE
        if base.kind == "list":
            return Value("tensor", tensor=base.tensor) if base.tensor is not None else UNKNOWN_VALUE
        if base.kind == "params":
            if len(node.slice) == 1 and type(node.slice[0].slice) is cst.Slice:
                return base
            return Value("param", key=base.sources[0][0] if base.sources else None)
        if base.kind == "module" or (base.kind == "unknown" and self.is_model(base) and not self.unpickled(base)):
            key = key_of(node) if base.key else None
            if key is not None and base.key != key_of(node.value):
                key = f"{base.key}.{key.rsplit('.', 1)[-1]}"
            return Value("module" if base.kind == "module" else "unknown", key=key,
                         mode_dep=base.mode_dep if key is None else None)
        return UNKNOWN_VALUE

    def collection(self, values: List[Value]) -> Value:
        sources: list = []
        fact = None
        for v in values:
            if v.kind == "params":
                sources.extend(v.sources)
            elif v.kind == "tensor":
                fact = v.tensor if fact is None else fact.join(v.tensor)
        if sources and all(v.kind == "params" for v in values):
            return Value("params", sources=tuple(sources))
        return Value("list", tensor=fact)

    def comprehension(self, node, st: State) -> Value:
        inner = st.copy()
        comp = node.for_in
        filtered = False
        source: Optional[Value] = None
        region_pushed = 0
        while comp is not None:
            iterable = self.ev(comp.iter, inner)
            if source is None:
                source = iterable
            names = identifiers(comp.iter)
            if words.says_inference(names, self.o.facts.is_test_file) and self.o.facts.framework_of(self.fn) is None:
                self.regions.append(Region(node, self.fn, "loop", f"loop over `{names[0]}`"))
                region_pushed += 1
            self.assign(comp.target, self.element_of(iterable), inner, None)
            for cond in comp.ifs:
                self.ev(cond.test, inner)
                filtered = True
            comp = comp.inner_for_in
        if type(node) is cst.DictComp:
            self.ev(node.key, inner)
            elt = self.ev(node.value, inner)
        else:
            elt = self.ev(node.elt, inner)
        for _ in range(region_pushed):
            self.regions.pop()
        st.modes = inner.modes  # `[m.eval() for m in models]` switches the models themselves
        if source is not None and source.kind == "params" and elt.kind == "param":
            return Value("params", sources=tuple((k, f or filtered) for k, f in source.sources))
        if elt.kind == "params":
            return elt.with_(sources=tuple((k, f or filtered) for k, f in elt.sources))
        return Value("list", tensor=elt.tensor if elt.kind == "tensor" else None,
                     mode_dep=elt.mode_dep if elt.kind == "module" else None)

    def element_of(self, iterable: Value) -> Value:
        element = self._element_of(iterable)
        if iterable.key and words.says_inference_data(iterable.key.rsplit(".", 1)[-1], self.o.facts.is_test_file):
            # a batch of an evaluation split, wherever it is used (a check inside a training loop)
            element = element.with_(data=iterable.key, elements=tuple(e.with_(data=iterable.key)
                                                                      for e in element.elements))
        return element

    def _element_of(self, iterable: Value) -> Value:
        if iterable.kind == "enumerate":
            return Value("tuple", elements=(NUMBER, self.element_of(iterable.elements[0])))
        if iterable.kind == "parts" or (iterable.kind == "module" and iterable.key):
            # for layer in model.children() / for block in self.blocks (a ModuleList): a part of
            # the model, in its mode
            # running every element runs its dropout and batch norm: the container's say
            part = Value("module", key=f"{iterable.key}.item", mode_dep=iterable.mode_dep if iterable.kind == "module" else None)
            return Value("tuple", elements=(NUMBER, part)) if iterable.elements else part
        if iterable.kind == "params":
            key = iterable.sources[0][0] if len(iterable.sources) == 1 else None
            return Value("param", key=key, sources=iterable.sources)
        if iterable.kind == "list" and iterable.tensor is not None:
            return Value("tensor", tensor=iterable.tensor)
        if iterable.kind in ("list", "dict", "unknown", "items") and iterable.key:
            # for m in models: the container's element, one key for all of them, so that
            # `for m in models: m.eval()` is seen by a later `for m in models: m(x)`
            item = f"{iterable.key}.item"
            known = [e for e in iterable.elements if e.kind == "module"]
            element = Value("module", key=item) if known and len(known) == len(iterable.elements) \
                else Value("unknown", key=item)
            return Value("tuple", elements=(NUMBER, element)) if iterable.kind == "items" else element
        return UNKNOWN_VALUE

    def within_model(self, key: str) -> bool:
        parts = key.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in self.fn.modulelike:
                return True
            if i == 1 and prefix == "self" and self.fn.cls is not None and self.fn.cls.is_module:
                return True
        return False

    def element_at(self, value: Value, index: int, count: int) -> Value:
        if value.data and value.kind == "unknown":
            return Value("unknown", data=value.data)  # x, y = next(iter(test_loader))
        if value.kind == "tuple" or (value.kind == "list" and len(value.elements) == count):
            return value.elements[index] if index < len(value.elements) else UNKNOWN_VALUE
        if value.kind == "param" or (value.kind == "params" and value.sources):
            # for name, p in model.named_parameters(): the last element is the parameter
            return value if index == count - 1 else NUMBER
        if value.kind == "tensor":
            if index > 0 and value.tensor is not None and value.tensor.how == MODEL_OUTPUT:
                # `loss, acc = model(x)` of a model whose forward is not known: the first element
                # is its output; what the others are (a float, a count, a state) cannot be told
                return UNKNOWN_VALUE
            return value.with_(key=None)
        if value.kind == "list" and value.tensor is not None:
            return Value("tensor", tensor=value.tensor)
        return UNKNOWN_VALUE

    # -- tensor arithmetic ----------------------------------------------------------------
    def op(self, inputs: List[Value], st: State, node, how: str, requires_grad: bool = False) -> Value:
        """The value of a tensor operation on ``inputs`` under the current grad mode."""
        facts = [v.tensor for v in inputs if v.kind == "tensor" and v.tensor is not None]
        unknown_inputs = any(v.kind in ("unknown", "param") for v in inputs)
        if not facts and not requires_grad:
            if unknown_inputs:
                return UNKNOWN_VALUE
            return NUMBER if all(v.kind == "number" for v in inputs) else UNKNOWN_VALUE
        must = requires_grad or any(f.atoms <= REQUIRES_GRAD for f in facts)
        may = must or any(f.atoms & MAY_REQUIRE_GRAD for f in facts)
        entry_dep = any("nonleaf_if_grad" in f.atoms for f in facts)
        atoms = set()
        for g in st.grad:
            if g == "off":
                atoms.add("nograd")
            elif g == "on":
                if must:
                    atoms.add("nonleaf")
                elif may or unknown_inputs:
                    atoms.add("unknown")
                else:  # derived only from tensors without grad; keep a no_grad origin visible (GL203)
                    atoms.add("nograd" if any("nograd" in f.atoms for f in facts) else "plain")
                if entry_dep and not must:
                    atoms.add("nonleaf_if_grad")
            else:
                atoms.add("nonleaf_if_grad" if must or entry_dep else ("unknown" if may or unknown_inputs else "plain"))
        accum = frozenset().union(*(f.accum for f in facts)) if facts else frozenset()
        cuts = frozenset().union(*(f.cuts for f in facts)) if facts else frozenset()
        dtype = facts[0].dtype if facts else None
        fact = TensorFact(frozenset(atoms), node, how, False, False, dtype, accum, cuts)
        recorders.on_op(self, node, facts, st, how, requires_grad)
        return Value("tensor", tensor=fact)


_EVALUATORS = {
    cst.Name: ExpressionsMixin.name,
    cst.Attribute: ExpressionsMixin.attribute,
    cst.Call: lambda self, node, st: self.call(node, st),
    cst.BinaryOperation: ExpressionsMixin._binary,
    cst.UnaryOperation: ExpressionsMixin._unary,
    cst.Subscript: ExpressionsMixin.subscript,
    cst.Integer: ExpressionsMixin._constant,
    cst.Float: ExpressionsMixin._constant,
    cst.Imaginary: ExpressionsMixin._constant,
    cst.SimpleString: ExpressionsMixin._constant,
    cst.ConcatenatedString: ExpressionsMixin._constant,
    cst.FormattedString: ExpressionsMixin._fstring,
    cst.Comparison: ExpressionsMixin._comparison,
    cst.BooleanOperation: ExpressionsMixin._boolean,
    cst.IfExp: ExpressionsMixin._ifexp,
    cst.List: ExpressionsMixin._sequence,
    cst.Tuple: ExpressionsMixin._sequence,
    cst.Set: ExpressionsMixin._sequence,
    cst.Dict: ExpressionsMixin._dict,
    cst.ListComp: lambda self, node, st: self.comprehension(node, st),
    cst.GeneratorExp: lambda self, node, st: self.comprehension(node, st),
    cst.SetComp: lambda self, node, st: self.comprehension(node, st),
    cst.DictComp: lambda self, node, st: self.comprehension(node, st),
    cst.NamedExpr: ExpressionsMixin._walrus,
    cst.Await: ExpressionsMixin._await,
    cst.Yield: ExpressionsMixin._yield,
    cst.StarredElement: ExpressionsMixin._starred,
    cst.Lambda: ExpressionsMixin._lambda,
}
