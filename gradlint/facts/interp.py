"""The shared analysis pass: an abstract interpreter over one file's functions.

Each function is interpreted once, statement by statement, with its entry state left
symbolic (``entry`` atoms); loops run until their state is stable. Along the way it
records the events the rules read (model calls with the grad mode and train/eval mode
in force, ``.grad`` reads, freezes, optimizers, accumulations, backward calls) and the
call sites of local functions, through which ``resolve`` later substitutes the callers'
states for the entry atoms.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, List, Optional, Tuple

import libcst as cst

from . import recorders, torchapi, words
from .calls import CallsMixin
from .weights import WeightsMixin
from .events import Accumulation, Freeze, LoopInfo, Region, RequiresGradSet, Syntactic
from .expressions import ExpressionsMixin
from .names import key_of, overlaps, part_of, root_of
from .scopes import ClassInfo, FunctionInfo, _block_statements
from .state import State, entry_ok, lookup_mode
from .syntax import condition, const_bool, identifiers, walk
from .values import (ENTRY, NEW_ATOMS, TRAIN_ATOMS, UNKNOWN_ATOMS, UNKNOWN_TENSOR, UNKNOWN_VALUE, TensorFact,
                     Value, join_values)

MAX_LOOP_PASSES = 3
_REQUIRES_GRAD_ATTRS = frozenset({"requires_grad"}) | torchapi.MISSPELT_REQUIRES_GRAD


# `torch.set_grad_enabled(training)`: on or off as the program's own flag says; "flag" marks that
# the author chose the grad mode there (GL201 says nothing), the other atoms keep both outcomes.
FLAG_GRAD = frozenset({"on", "off", "flag"})

class FileInterpreter:
    """Runs every function of a file once; ``facts`` collects what it learns."""

    def __init__(self, facts) -> None:
        self.facts = facts
        self.scopes = facts.scopes
        self.imports = facts.scopes.imports
        self.events = facts.events
        self.setter_loops: Dict[cst.CSTNode, Tuple[LoopInfo, ...]] = {}
        self.loop_infos: Dict[cst.CSTNode, LoopInfo] = {}
        self.module_env: Dict[str, Value] = {}   # the module's names as of the running statement

    def run_all(self) -> None:
        # The module body first: a function it calls is interpreted on demand and sees the
        # globals bound so far, as Python would at that call; the rest see all of them.
        self.run(self.scopes.module_fn)
        for fn in self.scopes.functions:
            self.run(fn)

    def symbol(self, qual: Optional[str]):
        """What an imported name is in the project (a function, class or value of another
        file), or None: not a project name, or no project view."""
        project = self.facts.project
        return project.symbol(qual) if project is not None and qual else None

    def run(self, fn: FunctionInfo) -> None:
        if fn.status != "new":
            return
        fn.status = "running"
        _Run(self, fn).execute()
        fn.status = "done"

    def ensure_class(self, cls: ClassInfo) -> None:
        """Interpret a class's methods (attributes, mode dependence) before its use."""
        if cls.interpreted:
            return
        cls.interpreted = True
        for c in cls.all_classes():
            for m in c.methods.values():
                self.run(m)

    # -- class facts -----------------------------------------------------------------
    def class_frozen_parts(self, cls: ClassInfo) -> Tuple[str, ...]:
        """Parts of every instance frozen by the class's own methods ("" = all of self)."""
        if getattr(cls, "is_summary", False):
            return cls.frozen_parts
        self.ensure_class(cls)
        frozen, unfrozen = set(), set()
        for c in cls.all_classes():
            for m in c.methods.values():
                frozen |= {k for k in m.freezes if k == "self" or k.startswith("self.")}
                unfrozen |= {k for k in m.unfreezes if k == "self" or k.startswith("self.")}
        parts = []
        for k in sorted(frozen):
            if any(overlaps(k, u) for u in unfrozen):
                continue  # toggled on and off (GAN-style): not frozen for good
            parts.append(k[5:] if k != "self" else "")
        return tuple(parts)

    def class_mode_dep(self, cls: ClassInfo, seen=None, used_only: bool = True) -> Optional[bool]:
        """True: holds dropout/batch norm; False: known not to; None: cannot tell. With
        ``used_only``, a layer the class's code never reads does not count (an instance's
        mode); without, every layer counts (what a subclass inherits)."""
        seen = seen or set()
        if id(cls) in seen:
            return None
        seen.add(id(cls))
        if getattr(cls, "is_summary", False):
            return cls.mode_dep
        self.ensure_class(cls)
        result: Optional[bool] = False
        for c in cls.local_bases:
            if getattr(c, "is_summary", False):
                inherited = c.base_mode_dep
                if inherited:
                    return True
                if inherited is None:
                    result = None
        for c in cls.all_classes():
            if getattr(c, "is_summary", False):
                continue
            if c.uses_training_flag:
                return True
            for q, n in zip(c.base_quals, c.base_names):
                if q in torchapi.MODULE_BASES or torchapi.module_base(q) is False or torchapi.layerless_base(q):
                    continue
                if any(b.name == n for b in c.local_bases):
                    continue
                if torchapi.nn_class(q) is not None:
                    if torchapi.nn_class(q) in torchapi.MODE_DEPENDENT:
                        return True  # class MyBatchNorm(nn.BatchNorm2d)
                    continue  # class MyConv(nn.Conv2d): the layer it extends has no mode
                result = None  # an unknown base class may add layers
            for name, value in c.attrs.items():
                if isinstance(value, Value) and value.kind == "module" and value.mode_dep is not False:
                    reads = cls.self_reads if used_only else None  # (a walk of the class, once, when needed)
                    if reads is not None and name not in reads:
                        continue  # assigned, never used: `self.dropout = nn.Dropout()` that forward skips
                    if value.mode_dep is True:
                        return True
                    if value.mode_dep is None:
                        result = None
        return result

    def class_has_params(self, cls: ClassInfo, seen=None) -> Optional[bool]:
        """True: its attributes hold a parameter or a module with parameters; False: every
        attribute is known and none does (a loss or a preprocessing module); None: cannot tell
        (an unknown attribute, a library layer or an unknown class as a base)."""
        seen = seen or set()
        if id(cls) in seen:
            return None
        seen.add(id(cls))
        if getattr(cls, "is_summary", False):
            return getattr(cls, "has_params", None)
        self.ensure_class(cls)
        result: Optional[bool] = False
        for c in cls.all_classes():
            if getattr(c, "is_summary", False):
                found = self.class_has_params(c, seen)
                if found:
                    return True
                if found is None:
                    result = None
                continue
            for q, n in zip(c.base_quals, c.base_names):
                if q in torchapi.MODULE_BASES or any(b.name == n for b in c.local_bases):
                    continue
                result = None  # a library layer or an unknown class as a base may hold parameters
            for name, attr in c.attrs.items():
                kind = attr.kind if isinstance(attr, Value) else "unknown"
                if kind == "param" or (kind == "module" and attr.has_params is not False):
                    return True
                if kind == "tensor" and attr.tensor is not None and "leaf_rg" in attr.tensor.atoms:
                    return True
                if kind == "unknown" and (cls.self_module_uses is None or name in cls.self_module_uses):
                    result = None  # what it holds is not known, and the class may run it
        return result


class _Run(ExpressionsMixin, CallsMixin, WeightsMixin):
    """The interpretation of one function."""

    def __init__(self, owner: FileInterpreter, fn: FunctionInfo) -> None:
        self.o = owner
        self.fn = fn
        self.imports = owner.imports
        self.events = owner.events
        self.loops: List[LoopInfo] = []
        self.regions: List[Region] = []
        self.loop_exits: List[Tuple[list, list]] = []   # (breaks, continues) per loop
        self.exits: List[State] = []
        self.returns: Optional[Value] = None
        self.prepared: Dict[str, str] = {}   # model key -> how it was readied for inference here
        self.frozen_whole: set = set()       # models all of whose parameters were frozen here
        self.thawed: set = set()             # their parts unfrozen or replaced since (they train)
        self.guards: List[bool] = []         # enclosing `try`s: does one catch a RuntimeError?
        self.steps = 0                       # training steps seen so far (calls included)
        self.loop_steps: Dict[LoopInfo, int] = {}  # each loop's `steps` when it was last left
        self.built: List[cst.Call] = []      # optimizers built so far in this run (GL301: frozen after)
        self.fresh: set = set()              # names bound to a new model since the last training step
        self.untouched: set = set()          # of those, built from a class here and never loaded since
        self.inference = recorders.inference_decorator(fn)  # the inference_mode context in force, if any
        fn.locals = set()

    # -- entry and exit -------------------------------------------------------------
    def execute(self) -> None:
        fn = self.fn
        if fn.is_module_level:
            st = State({}, {}, frozenset({"on"}), frozenset({False}), frozenset())
            body = list(fn.node.body)
        else:
            st = self._entry_state()
            body = _block_statements(fn.node.body)
            region = self._function_region()
            if region is not None:
                self.regions.append(region)
        out = self.block(body, st)
        if out is not None:
            self.exits.append(out)
        final = None
        for s in self.exits:
            final = self.join(final, s)
        if final is not None and not fn.is_module_level:
            fn.exit_modes = {k: v for k, v in final.modes.items()
                             if entry_ok(fn, k) and v != frozenset({(ENTRY, k)})}
            fn.exit_trained = True in final.trained
        fn.returns = self.returns
        for info, steps in self.loop_steps.items():
            info.step_after = self.steps > steps
        if fn.cls is not None and not getattr(fn.cls, "is_summary", False):
            self._attrs_by_evidence(fn)
        self._behaviour_regions()

    def _behaviour_regions(self) -> None:
        """Inference by behaviour: a model run after ``.eval()`` or a load of weights in code
        that never trains (a predict script, a ``main()`` that loads a checkpoint), whatever
        the names say. Not where gradients are used (saliency, attacks) or the model's output
        leaves the function (a caller may backpropagate it)."""
        fn = self.fn
        if fn.trains or fn.uses_grad or self.o.facts.framework_of(fn) is not None:
            return
        if not fn.is_module_level and self.o.facts.is_test_function(fn):
            return
        returned = self.returns
        if returned is not None and returned.kind == "tensor" and returned.tensor is not None \
                and returned.tensor.atoms & {"nonleaf", "nonleaf_if_grad"}:
            return
        for event in self.events.forward_calls.values():
            if event.fn is fn and not event.regions and event.prepared:
                region = Region(event.node, fn, "behaviour", f"inference code (after {event.prepared}; "
                                                             f"nothing trains here)")
                event.regions = (region,)

    @staticmethod
    def _attrs_by_evidence(fn: FunctionInfo) -> None:
        """``self.model = model`` where the method also uses ``model`` as a module
        (``model.parameters()``): the attribute holds a module."""
        for attr, value in list(fn.cls.attrs.items()):
            if value is not None and value.kind == "unknown" and value.key in fn.params \
                    and value.key in fn.modulelike:
                fn.cls.attrs[attr] = value.with_(kind="module")

    def _entry_state(self) -> State:
        fn = self.fn
        env: Dict[str, Value] = {}
        params = fn.node.params
        all_params = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
        for i, p in enumerate(all_params):
            name = p.name.value
            if i == 0 and fn.cls is not None and name in ("self", "cls") and not self._is_static():
                kind = "module" if fn.cls.is_module else "object"
                env[name] = Value(kind, key=name, cls=fn.cls)
                continue
            value = Value("unknown", key=name)
            if p.annotation is not None:
                qual = self.imports.qualname(p.annotation.annotation)
                if qual in torchapi.MODULE_BASES or torchapi.nn_class(qual):
                    value = Value("module", key=name)
                elif qual in ("torch.Tensor",):
                    value = Value("tensor", key=name, tensor=UNKNOWN_TENSOR)
            env[name] = value
        grad = frozenset({"entry"})
        for q, name in zip(fn.decorator_quals, fn.decorator_names):
            if q in torchapi.GRAD_OFF or torchapi.names_grad_off_decorator(name):
                grad = frozenset({"off"})
            elif q in torchapi.GRAD_ON:
                grad = frozenset({"on"})
        fn.grad_decorator = None if grad == frozenset({"entry"}) else next(iter(grad))
        return State(env, {}, grad, frozenset({False}), frozenset())

    def _is_static(self) -> bool:
        return "staticmethod" in self.fn.decorator_names

    def _function_region(self) -> Optional[Region]:
        fn = self.fn
        if self.o.facts.framework_of(fn) is not None or self.o.facts.is_test_function(fn):
            return None
        if words.says_inference([fn.name], self.o.facts.is_test_file) and not words.is_builder_name(fn.name):
            return Region(fn.node, fn, "function", f"evaluation function `{fn.name}`")
        return None

    # -- joins --------------------------------------------------------------------------
    def join(self, a: Optional[State], b: Optional[State]) -> Optional[State]:
        if a is None:
            return b.copy() if b is not None else None
        if b is None:
            return a.copy()
        env = {}
        for k in a.env.keys() | b.env.keys():
            va, vb = a.env.get(k), b.env.get(k)
            env[k] = va if va is vb else join_values(va, vb)
        if a.modes is b.modes or a.modes == b.modes:
            modes = a.modes
        else:
            modes = {}
            for k in a.modes.keys() | b.modes.keys():
                ok = entry_ok(self.fn, k)
                modes[k] = (lookup_mode(a.modes, k, a.trained, ok)
                            | lookup_mode(b.modes, k, b.trained, ok))
        return State(env, modes, a.grad | b.grad, a.trained | b.trained, a.frozen | b.frozen)

    # -- statements -------------------------------------------------------------------
    def block(self, stmts, st: Optional[State]) -> Optional[State]:
        module_level = self.fn.is_module_level
        stmts = list(stmts)
        skip = None
        for i, stmt in enumerate(stmts):
            if st is None:
                return None
            if stmt is skip:
                continue
            if module_level:
                self.o.module_env = st.env
            other = stmts[i + 1] if i + 1 < len(stmts) else None
            if other is not None and _complementary(stmt, other):
                st, skip = self.stmt(stmt, st, complement=other), other
            else:
                st = self.stmt(stmt, st)
        if module_level and st is not None:
            self.o.module_env = st.env
        return st

    def stmt(self, node: cst.CSTNode, st: State, complement: Optional[cst.If] = None) -> Optional[State]:
        """One statement. ``complement``: an ``if`` right after this one that asks the opposite
        (``if train == True: ...`` then ``if train == False: ...``): run as this one's ``else``."""
        if type(node) is cst.SimpleStatementLine:
            for small in node.body:
                if st is None:
                    return None
                st = self.small(small, st)
            return st
        if type(node) is cst.If:
            self.ev(node.test, st)
            names = identifiers(node.test)
            flag_trains = words.says_training(names)
            flag_infers = not flag_trains and words.says_inference(names, self.o.facts.is_test_file)
            steps = self.steps
            if self._always_true(node.test, st):  # `if isinstance(model, nn.Module): model.eval()`
                return self.block(_block_statements(node.body), st)
            with self._region_if(flag_infers, node, "`if {}:` branch", node.test, node.body):
                then = self.block(_block_statements(node.body), st.copy())
            # `if args.train: train(...) else: test(...)`: the branch that does not train infers
            infers_else = flag_trains and self.steps > steps
            orelse = complement if complement is not None else node.orelse
            with self._region_if(infers_else and (complement is not None or type(orelse) is cst.Else), node,
                                 "`else` branch of `if {}:`", node.test, getattr(orelse, "body", None)):
                if complement is not None:
                    self.ev(complement.test, st)
                    other = self.block(_block_statements(complement.body), st.copy())
                elif type(node.orelse) is cst.If:
                    other = self.stmt(node.orelse, st.copy())
                elif type(node.orelse) is cst.Else:
                    other = self.block(_block_statements(node.orelse.body), st.copy())
                else:
                    other = st
            if then is None:
                return other
            if other is None:
                return then
            return self.join(then, other)
        if type(node) is cst.For:
            iterable = self.ev(node.iter, st)
            names = identifiers(node.iter)
            return self.loop(node, st, lambda s: self.bind(node.target, self.element_of(iterable), s, None),
                             _block_statements(node.body), node.orelse, names)
        if type(node) is cst.While:
            infinite = const_bool(node.test) is True
            return self.loop(node, st, lambda s: (self.ev(node.test, s), s)[1],
                             _block_statements(node.body), node.orelse, [], infinite=infinite)
        if type(node) is cst.With:
            return self.with_(node, st)
        if isinstance(node, (cst.Try, cst.TryStar)):
            returns_before = len(self.exits)
            catches = any(self._catches_runtime_error(h) for h in node.handlers)
            self.guards.append(catches)
            try:
                body = self.block(_block_statements(node.body), st.copy())
            finally:
                self.guards.pop()
            exc_entry = self.join(st, body)
            outs = []
            if node.orelse is not None and body is not None:
                body = self.block(_block_statements(node.orelse.body), body)
            outs.append(body)
            for handler in node.handlers:
                outs.append(self.block(_block_statements(handler.body), exc_entry.copy()))
            merged = None
            for s in outs:
                if s is not None:
                    merged = self.join(merged, s)
            if node.finalbody is not None:
                # a return inside the try leaves through the finally block too (a mode restore)
                returned = self.exits[returns_before:]
                del self.exits[returns_before:]
                for exit_state in returned:
                    out = self.block(_block_statements(node.finalbody.body), exit_state.copy())
                    if out is not None:
                        self.exits.append(out)
                final_in = merged if merged is not None else exc_entry.copy()
                after = self.block(_block_statements(node.finalbody.body), final_in)
                return after if merged is not None else None
            return merged
        if type(node) is cst.FunctionDef:
            found = self.o.scopes.lookup(node.name.value, self.fn)
            if isinstance(found, FunctionInfo):
                st.env[node.name.value] = Value("func", func=found)
            self.fn.locals.add(node.name.value)
            return st
        if type(node) is cst.ClassDef:
            redefined = self.o.scopes.redefined.get(id(node))
            if redefined is not None:  # a class defined twice: from here on the name is this one
                st.env[node.name.value] = Value("class", cls=redefined)
            return st
        if type(node) is cst.Match:
            self.ev(node.subject, st)
            merged = st
            for case in node.cases:
                out = self.block(_block_statements(case.body), st.copy())
                if out is not None:
                    merged = self.join(merged, out)
            return merged
        return st

    def small(self, node: cst.CSTNode, st: State) -> Optional[State]:
        if type(node) is cst.Expr:
            self.bare_expression(node, st)
            return st
        if type(node) is cst.Assign:
            if self.pairwise_assign(node, st):
                return st
            value = self.ev(node.value, st)
            if self.self_accumulation(node, value, st):
                return st
            for target in node.targets:
                self.assign(target.target, value, st, node)
            return st
        if type(node) is cst.AnnAssign:
            if node.value is not None:
                self.assign(node.target, self.ev(node.value, st), st, node)
            return st
        if type(node) is cst.AugAssign:
            self.aug_assign(node, st)
            return st
        if type(node) is cst.Return:
            if node.value is not None:
                value = self._as_returned(self.ev(node.value, st), st)
                self.returns = join_values(self.returns, value)
            self.exits.append(st)
            return None
        if type(node) is cst.Raise:
            if node.exc is not None:
                self.ev(node.exc, st)
            return None
        if type(node) is cst.Break:
            if self.loop_exits:
                self.loop_exits[-1][0].append(st)
            return None
        if type(node) is cst.Continue:
            if self.loop_exits:
                self.loop_exits[-1][1].append(st)
            return None
        if type(node) is cst.Assert:
            self.ev(node.test, st)
            return st
        if type(node) is cst.Del:
            recorders.on_del(self, node)
            return st
        return st

    def _always_true(self, test, st: State) -> bool:
        """A guard that holds for the model it tests: ``isinstance(m, nn.Module)``,
        ``hasattr(m, "eval")`` on a value known to be a module."""
        if type(test) is not cst.Call or type(test.func) is not cst.Name or len(test.args) != 2:
            return False
        if test.func.value not in ("isinstance", "hasattr") or test.func.value in st.env:
            return False
        subject = self.ev(test.args[0].value, st)
        if subject.kind != "module" and not (subject.key and subject.key in self.fn.modulelike):
            return False
        if test.func.value == "hasattr":
            arg = test.args[1].value
            return type(arg) is cst.SimpleString and arg.raw_value in torchapi.MODULE_API
        return self.imports.qualname(test.args[1].value) in torchapi.MODULE_BASES

    @contextmanager
    def _region_if(self, wanted: bool, node, label: str, test, block):
        """Run a branch inside an inference region when ``wanted``."""
        if not wanted or self.o.facts.framework_of(self.fn) is not None:
            yield
            return
        shown = cst.Module([]).code_for_node(test)
        self.regions.append(Region(node, self.fn, "branch", label.format(shown), block=block))
        try:
            yield
        finally:
            self.regions.pop()

    def _catches_runtime_error(self, handler) -> bool:
        """``except RuntimeError`` (or Exception, or a bare ``except``): the error is expected."""
        if handler.type is None:
            return True
        kinds = handler.type.elements if type(handler.type) is cst.Tuple else [handler.type]
        names = {cst.Module([]).code_for_node(k.value if hasattr(k, "value") and type(k) is cst.Element else k)
                 for k in kinds}
        return bool(names & {"RuntimeError", "Exception", "BaseException"})

    @property
    def guarded(self) -> bool:
        return any(self.guards)

    def _as_returned(self, value: Value, st: State) -> Value:
        """A returned model built here keeps the mode it has at the return (the callers see it)."""
        if value.kind == "module" and value.key is not None and not entry_ok(self.fn, value.key):
            return value.with_(mode=lookup_mode(st.modes, value.key, st.trained, False))
        if value.elements and value.kind in ("tuple", "list"):
            return value.with_(elements=tuple(self._as_returned(e, st) for e in value.elements))
        return value

    def loop(self, node, st: State, header, body, orelse, names, infinite=False) -> Optional[State]:
        info = self.o.loop_infos.get(node)
        if info is None:
            info = LoopInfo(node, self.fn, self.loops[-1] if self.loops else None,
                            data=words.says_data(names))
            self.o.loop_infos[node] = info
        region = None
        if names and words.says_inference(names, self.o.facts.is_test_file) and self.o.facts.framework_of(self.fn) is None:
            shown = next((n for n in names if words.says_inference([n], self.o.facts.is_test_file)), names[0])
            region = Region(node, self.fn, "loop", f"loop over `{shown}`")
        self.loops.append(info)
        if region is not None:
            self.regions.append(region)
        head = st
        breaks: list = []
        for _ in range(MAX_LOOP_PASSES):
            self.loop_exits.append(([], []))
            s = header(head.copy())
            s = self.block(body, s)
            breaks, continues = self.loop_exits.pop()
            back = s
            for c in continues:
                back = self.join(back, c) if back is not None else c
            new_head = self.join(st, back) if back is not None else head
            if new_head.same(head):
                break
            head = new_head
        if region is not None:
            self.regions.pop()
        self.loops.pop()
        self.loop_steps[info] = self.steps
        out = None if infinite else head
        if orelse is not None and out is not None:
            out = self.block(_block_statements(orelse.body), out.copy())
        for b in breaks:
            out = self.join(out, b)
        return out

    def with_(self, node: cst.With, st: State) -> Optional[State]:
        before = st.grad
        grad = st.grad
        outer_inference = self.inference
        for item in node.items:
            expr = item.item
            qual = self.imports.qualname(expr)
            if qual in torchapi.GRAD_CONTEXTS:
                self.syntactic(item, "GL202",
                               f"`with {qual}:` uses the class, not an instance: it raises TypeError; "
                               f"write `with {qual}():`")
                # It raises, so nothing after it runs; the code that follows is analysed as meant
                # (under that grad mode), so the one mistake gives one finding, not several.
                effect = self.grad_effect(cst.Call(func=expr), st)
                if effect is not None:
                    grad = effect
                continue
            effect = self.grad_effect(expr, st)
            self.ev(expr, st)
            self.inference = recorders.inference_context(self, expr) or self.inference
            if effect is not None:
                grad = effect
            if item.asname is not None:
                self.assign(item.asname.name, UNKNOWN_VALUE, st, None)
        st.grad = grad
        # `with torch.no_grad():` around a model run that trains nothing is inference by what it
        # does; one inside a training loop (a teacher, a target network, an EMA) is judged there
        infers = grad == frozenset({"off"}) and before != frozenset({"off"}) \
            and self.o.facts.framework_of(self.fn) is None
        if infers:
            self.regions.append(Region(node, self.fn, "no_grad", "`with` block that disables gradients"))
        try:
            out = self.block(_block_statements(node.body), st)
        finally:
            if infers:
                self.regions.pop()
            self.inference = outer_inference
        if out is not None:
            out.grad = before
        return out

    def grad_effect(self, expr: cst.CSTNode, st: State) -> Optional[frozenset]:
        """The grad mode inside ``with expr:``, or None when ``expr`` leaves it alone."""
        if not type(expr) is cst.Call:
            return None
        qual = self.imports.qualname(expr.func)
        if qual == "torch.inference_mode":
            flag = const_bool(expr.args[0].value) if expr.args else True
            return frozenset({"off"}) if flag is not False else None
        if qual in torchapi.GRAD_OFF:
            return frozenset({"off"})
        if qual in torchapi.GRAD_ON:
            return frozenset({"on"})
        if qual == torchapi.GRAD_SET and expr.args:
            flag = const_bool(expr.args[0].value)
            if flag is None:
                return FLAG_GRAD
            return frozenset({"on" if flag else "off"})
        return None

    def bare_expression(self, node: cst.Expr, st: State) -> None:
        expr = node.value
        if type(expr) is cst.Attribute and expr.attr.value in torchapi.MODE_METHODS:
            recv = self.ev(expr.value, st)
            attr = expr.attr.value
            if attr == "zero_grad":
                recorders.on_bare_zero_grad(self, node, recv)
            if attr != "step" or recv.kind in ("optimizer", "scheduler") or self._optimizer_named(recv.key):
                shown = recv.key or "obj"
                self.syntactic(node, "GL102",
                               f"`{shown}.{attr}` is not called: it does nothing; write `{shown}.{attr}()`")
            return
        if type(expr) is cst.Call:
            qual = self.imports.qualname(expr.func)
            if qual in (torchapi.GRAD_OFF | torchapi.GRAD_ON):
                self.syntactic(node, "GL202",
                               f"`{qual}()` as a statement does nothing: gradient tracking is unchanged; "
                               f"use `with {qual}():` or decorate the function")
                return
            if qual == torchapi.GRAD_SET and expr.args:
                flag = const_bool(expr.args[0].value)
                self.ev(expr, st)
                st.grad = FLAG_GRAD if flag is None else frozenset({"on" if flag else "off"})
                return
        if type(expr) is cst.Comparison and len(expr.comparisons) == 1 \
                and type(expr.comparisons[0].operator) is cst.Equal \
                and type(expr.left) is cst.Attribute and expr.left.attr.value == "requires_grad":
            self.syntactic(node, "GL302",
                           "`== ` compares and discards: `requires_grad` is unchanged; "
                           "write `.requires_grad = ...`")
        self.ev(expr, st)

    # -- assignment ---------------------------------------------------------------------
    def assign(self, target: cst.CSTNode, value: Value, st: State, stmt) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            elems = [e.value for e in target.elements]
            for i, el in enumerate(elems):
                if type(el) is cst.StarredElement:
                    el = el.value
                self.assign(el, self.element_at(value, i, len(elems)), st, stmt)
            return
        if type(target) is cst.StarredElement:
            self.assign(target.value, UNKNOWN_VALUE, st, stmt)
            return
        if type(target) is cst.Subscript:  # d[k] = v replaces; d[k] += v accumulates (aug_assign)
            base = self.ev(target.value, st)
            for el in target.slice:
                if type(el.slice) is cst.Index:
                    self.ev(el.slice.value, st)
            self.item_stored(target, base, value, st, stmt)
            if value.kind == "module" and value.key is None:  # `model[2] = nn.Linear(...)`: it trains
                part = key_of(target) or key_of(target.value)
                if part is not None:
                    self.thawed.add(part)
            return
        if type(target) is cst.Attribute and target.attr.value == "grad":
            recorders.on_grad_assign(self, target)
        if type(target) is cst.Attribute and target.attr.value in _REQUIRES_GRAD_ATTRS:
            self.requires_grad_set(target, value, st, stmt)
            return
        key = key_of(target)
        if key is None:
            self.ev(target, st) if type(target) is cst.Attribute else None
            return
        if type(target) is cst.Attribute:
            base = self.ev(target.value, st)
            self.attribute_stored(target, key, base, value, st, stmt)
        self.bind_key(key, value, st)

    def bind(self, target, value: Value, st: State, stmt) -> State:
        self.assign(target, value, st, stmt)
        return st

    def bind_key(self, key: str, value: Value, st: State) -> None:
        loop = self.loops[-1] if self.loops else None
        if "." not in key:
            self.fn.locals.add(key)
        aliases = value.kind == "module" and value.key is not None and "." not in key
        aliases = aliases or value.kind in ("param", "params")  # key: the owning model
        aliases = aliases or ("." not in key and value.kind == "unknown" and value.key is not None
                              and entry_ok(self.fn, value.key) and "." not in value.key)
        if value.kind == "module" and value.key is None:
            self.fresh.add(key)  # a new object: whatever trained before, it has no gradient yet
            self.thawed.add(key)  # a new part of a frozen model: its parameters train
        if value.kind == "module" and value.key is None and value.mode == NEW_ATOMS:
            self.untouched.add(key)  # random weights: running it is a smoke test
        elif not (value.kind == "module" and value.key == key):
            self.untouched.discard(key)
        if value.kind == "module" and value.key is None and st.frozen:
            # a new model under an old name: what was frozen belonged to the old one
            st.frozen = frozenset(k for k in st.frozen if not part_of(k, key))
        if aliases:
            st.env[key] = value.with_(bound_in=loop)
        else:
            origin = value.key if value.kind == "unknown" and value.key and "." in value.key else None
            st.env[key] = value.with_(key=key, bound_in=loop, alias_of=origin)
            if value.kind in ("module", "unknown", "object"):
                if value.mode is not None:
                    atoms = value.mode
                elif value.key is not None:  # self.model = model: the same object, the same mode
                    atoms = lookup_mode(st.modes, value.key, st.trained, entry_ok(self.fn, value.key))
                else:
                    atoms = TRAIN_ATOMS if value.kind == "module" else UNKNOWN_ATOMS
                self.set_mode(st, key, atoms)
                for part, part_atoms in value.init_modes:
                    self.set_mode(st, key + part, part_atoms)
            else:
                self.drop_mode(st, key)
        # remember what `self.<attr>` holds, for the class's other methods
        if key.startswith("self.") and key.count(".") == 1 and self.fn.cls is not None:
            attr = key[5:]
            old = self.fn.cls.attrs.get(attr)
            self.fn.cls.attrs[attr] = value if old is None else join_values(old, value)
        for part in value.frozen if value.kind == "module" else ():
            self.freeze(None, f"{key}.{part}" if part else key, True, st)

    def set_mode(self, st: State, key: str, atoms) -> None:
        prefix = key + "."
        new = {k: v for k, v in st.modes.items() if k != key and not k.startswith(prefix)}
        new[key] = frozenset(atoms)
        st.modes = new

    def drop_mode(self, st: State, key: str) -> None:
        if key in st.modes:
            new = dict(st.modes)
            del new[key]
            st.modes = new

    def aug_assign(self, node: cst.AugAssign, st: State) -> None:
        target = node.target
        acc = self.ev(target, st)
        value = self.ev(node.value, st)
        key = key_of(target)
        if type(target) is cst.Subscript:
            key = key_of(target.value)
        if key is not None and isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign)):
            self.accumulate(node, key, acc, value, st, node.value)
        self.inplace_write(node, acc, target, st, node.operator)
        if isinstance(target, (cst.Name, cst.Attribute)) and key is not None:
            result = self.op([acc, value], st, node, "arithmetic")
            if self.stays_leaf(acc):  # in place: a leaf stays the same leaf (under no_grad)
                st.env[key] = acc.with_(key=key) if acc.kind != "param" else acc
                return
            if result.kind == "tensor":
                fact = result.tensor
                if value.kind == "tensor" and self.loops:
                    fact = TensorFact(fact.atoms, fact.origin, fact.how, fact.cuda_only, fact.retained,
                                      fact.dtype, fact.accum | {key})
                st.env[key] = result.with_(tensor=fact, key=key, bound_in=acc.bound_in)
            else:
                st.env[key] = result.with_(key=key, bound_in=acc.bound_in)

    def pairwise_assign(self, node: cst.Assign, st: State) -> bool:
        """``x, y = a, b``: each name gets its own value."""
        if len(node.targets) != 1:
            return False
        target, value = node.targets[0].target, node.value
        if not (isinstance(target, (cst.Tuple, cst.List)) and isinstance(value, (cst.Tuple, cst.List))):
            return False
        if len(target.elements) != len(value.elements) or any(
                type(e) is cst.StarredElement for e in list(target.elements) + list(value.elements)):
            return False
        values = [self.ev(e.value, st) for e in value.elements]
        for element, v in zip(target.elements, values):
            self.assign(element.value, v, st, node)
        return True

    def self_accumulation(self, node: cst.Assign, value: Value, st: State) -> bool:
        """``total = total + loss``: the same event as ``total += loss``."""
        if len(node.targets) != 1 or not type(node.value) is cst.BinaryOperation \
                or not type(node.value.operator) is cst.Add:
            return False
        key = key_of(node.targets[0].target)
        if key is None or key not in st.env:
            return False
        left, right = node.value.left, node.value.right
        if key_of(left) == key:
            other = right
        elif key_of(right) == key:
            other = left
        else:
            return False
        acc = st.env[key]
        added = self.ev(other, st) if not isinstance(other, (cst.Name, cst.Attribute)) else (
            st.env.get(key_of(other)) or self.ev(other, st))
        self.accumulate(node, key, acc, added, st, other)
        if value.kind == "tensor" and added.kind == "tensor" and self.loops:
            fact = value.tensor
            value = value.with_(tensor=TensorFact(fact.atoms, fact.origin, fact.how, fact.cuda_only,
                                                  fact.retained, fact.dtype, fact.accum | {key}))
        st.env[key] = value.with_(key=key, bound_in=acc.bound_in)
        return True

    def accumulate(self, node, key: str, acc: Value, value: Value, st: State, added=None) -> None:
        """GL501's event: a tensor folded into something that outlives the loop iteration."""
        if node is None or value.kind != "tensor":
            return
        if not self.loops:
            # a framework hook runs once per step: `self.total += loss` outlives the step
            if key.startswith("self.") and self.o.facts.framework_of(self.fn) is not None:
                self.record("accumulations", node, Accumulation(node, self.fn, key, value.tensor, None,
                                                                added, per_step=True))
            return
        loop = self.loops[-1]
        bound = acc.bound_in if key in st.env else None
        if bound is not None and bound.inside(loop):
            return  # rebound fresh in this iteration
        self.record("accumulations", node, Accumulation(node, self.fn, key, value.tensor, loop, added,
                                                        in_region=bool(self.regions),
                                                        fresh_in=bound if bound is not None and loop.inside(bound)
                                                        else None))

    def requires_grad_set(self, target: cst.Attribute, value: Value, st: State, stmt) -> None:
        obj = self.ev(target.value, st)
        attr = target.attr.value
        if stmt is not None:
            self.record("requires_grad_sets", stmt,
                        RequiresGradSet(stmt, self.fn, target.value, attr, obj, getattr(stmt, "value", None)))
        if attr != "requires_grad":
            return
        flag = const_bool(getattr(stmt, "value", None))
        if obj.kind == "tensor" and obj.key is not None and flag is not None:
            fact = obj.tensor
            if flag and not (fact.atoms & {"nonleaf"}):
                fact = TensorFact(frozenset({"leaf_rg"}), fact.origin, "", False, False, fact.dtype)
            elif not flag and fact.atoms <= {"leaf_rg", "plain", "detached", "nograd"}:
                fact = TensorFact(frozenset({"plain"}), fact.origin, "", False, False, fact.dtype)
            st.env[obj.key] = obj.with_(tensor=fact)
        owner = self.param_owner(obj, target.value, st)
        if owner is not None and flag is not None and stmt is not None:
            self.freeze(stmt, owner, not flag, st, whole=obj.kind == "param" and self._every_parameter(stmt))
        if flag is True:
            self.grad_use()

    def _every_parameter(self, stmt) -> bool:
        """``stmt`` runs for every parameter: a top-level statement of a loop over
        ``.parameters()`` / ``.named_parameters()`` (no condition picks some of them)."""
        loop = self.loops[-1].node if self.loops else None
        if type(loop) is not cst.For or type(loop.iter) is not cst.Call:
            return False
        func = loop.iter.func
        if type(func) is not cst.Attribute or func.attr.value not in ("parameters", "named_parameters"):
            return False
        return any(small is stmt for line in _block_statements(loop.body)
                   if type(line) is cst.SimpleStatementLine for small in line.body)

    def param_owner(self, obj: Value, expr: cst.CSTNode, st: State) -> Optional[str]:
        """The module key whose parameter ``obj`` is (``p`` from ``model.parameters()``,
        ``model.fc.weight``), or None."""
        if obj.kind == "param":
            return obj.key
        if obj.kind == "module":
            return None
        key = key_of(expr)
        if key is None or "." not in key:
            return None
        root = root_of(key)
        root_value = st.env.get(root) or self.o.module_env.get(root)
        if (root_value is not None and root_value.kind == "module") or root in self.fn.modulelike \
                or (root == "self" and self.fn.cls is not None and self.fn.cls.is_module):
            return key.rsplit(".", 1)[0]
        return None

    def freeze(self, node, key: Optional[str], frozen: bool, st: Optional[State], untrained: bool = False,
               whole: bool = False) -> None:
        """``key`` frozen (or unfrozen). ``untrained``: frozen by a helper before the helper
        trained, so it has no gradient to go stale. ``whole``: every parameter of it."""
        if key is None:
            return
        if frozen and whole:
            self.frozen_whole.add(key)
            self.thawed = {t for t in self.thawed if not part_of(t, key)}
        elif not frozen:
            self.frozen_whole.discard(key)
            self.thawed.add(key)
        cls = self.fn.cls if (key == "self" or key.startswith("self.")) else None
        if node is not None:
            self.record("freezes", node, Freeze(node, self.fn, key, frozen, cls))
        if frozen:
            self.fn.freezes[key] = True
            fresh = any(part_of(key, k) for k in self.fresh)
            if st is not None and True in st.trained and not untrained and not fresh:
                self.events.trained_freezes.add((id(self.fn), key))  # its .grad may be stale (GL301)
            for built in self.built:  # optimizers this run built before: their parameters change state
                self.events.optimizers[built].frozen_after.add(key)
            if cls is not None:
                cls.freezes_self = True
            if st is not None:
                st.frozen = st.frozen | {key}
        else:
            self.fn.unfreezes.add(key)
            if cls is not None:
                cls.unfreezes_self = True
            if st is not None:
                st.frozen = frozenset(k for k in st.frozen if not part_of(k, key))
                if node is not None:
                    self.unfrozen(node, key, st)

    # -- helpers -------------------------------------------------------------------------------
    def record(self, kind: str, node, event) -> None:
        getattr(self.events, kind)[node] = event

    def syntactic(self, node, code: str, message: str) -> None:
        self.record("syntactic", node, Syntactic(node, self.fn, code, message))


def _complementary(first: cst.CSTNode, second: cst.CSTNode) -> bool:
    """Two ``if`` statements without ``else`` in a row that ask one variable opposite things,
    the first not rebinding it: exactly one of them runs."""
    if type(first) is not cst.If or type(second) is not cst.If or first.orelse is not None \
            or second.orelse is not None:
        return False
    a, b = condition(first.test), condition(second.test)
    if a is None or b is None or a[0] != b[0] or a[1] == b[1]:
        return False
    subject = a[0].split(" ", 1)[0]
    return subject not in _assigned(first.body)


def _assigned(body: cst.CSTNode) -> set:
    """The names and attribute chains a block assigns (a conservative over-approximation)."""
    out = set()
    for node in walk(body):
        targets = []
        if type(node) is cst.Assign:
            targets = [t.target for t in node.targets]
        elif type(node) in (cst.AugAssign, cst.AnnAssign):
            targets = [node.target]
        for target in targets:
            for n in walk(target):
                if type(n) is cst.Name:
                    out.add(n.value)
                elif type(n) is cst.Attribute:
                    out.add(key_of(n) or "")
    return out
