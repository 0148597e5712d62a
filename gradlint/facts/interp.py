"""The shared analysis pass: an abstract interpreter over one file's functions.

Each function is interpreted once, statement by statement, with its entry state left
symbolic (``entry`` atoms); loops run until their state is stable. Along the way it
records the events the rules read (model calls with the grad mode and train/eval mode
in force, ``.grad`` reads, freezes, optimizers, accumulations, backward calls) and the
call sites of local functions, through which ``resolve`` later substitutes the callers'
states for the entry atoms.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import libcst as cst

from . import torchapi, words
from .events import (Accumulation, Backward, ForwardCall, Freeze, GradRead, LoopInfo,
                     OptimizerBuild, Region, RequiresGradSet, Syntactic)
from .names import key_of, root_of
from .scopes import CallSite, ClassInfo, FunctionInfo, _block_statements
from .values import (ENTRY, ENTRY_T, EVAL, MAY_REQUIRE_GRAD, NEW_ATOMS, NUMBER, REQUIRES_GRAD, TRAIN,
                     TRAIN_ATOMS, TRAIN_SET, UNKNOWN, UNKNOWN_ATOMS, UNKNOWN_TENSOR, UNKNOWN_VALUE,
                     TensorFact, Value, after_training, join_values)

MAX_LOOP_PASSES = 3

# Lightning and HF hooks: the framework sets eval mode and no_grad around them.
EVAL_HOOKS = frozenset({
    "validation_step", "test_step", "predict_step", "validation_step_end", "test_step_end",
    "validation_epoch_end", "test_epoch_end", "on_validation_epoch_end", "on_test_epoch_end",
    "on_validation_batch_end", "on_test_batch_end", "on_predict_batch_end",
    "on_validation_epoch_start", "on_test_epoch_start", "on_validation_start", "on_test_start",
    "on_validation_end", "on_test_end", "on_predict_epoch_end",
})
HF_TRAINER_HOOKS = frozenset({"evaluate", "prediction_step", "evaluation_loop", "predict",
                              "compute_loss", "prediction_loop"})
TRAIN_HOOKS = frozenset({"training_step", "training_step_end"})

_BUILTIN_PASSTHROUGH = frozenset({"list", "tuple", "iter", "sorted", "reversed", "enumerate", "tqdm",
                                  "set", "next"})
_REQUIRES_GRAD_ATTRS = frozenset({"requires_grad"}) | torchapi.MISSPELT_REQUIRES_GRAD
_BUILTIN_NUMBER = frozenset({"float", "int", "len", "bool", "str", "abs", "round", "isinstance",
                             "hasattr", "callable", "repr", "format", "id", "range", "print"})


def lookup_mode(modes: dict, key: str, trained: frozenset, entry_ok: bool) -> frozenset:
    """The mode atoms of ``key``: its own entry, else the nearest containing model's."""
    k = key
    while True:
        atoms = modes.get(k)
        if atoms is not None:
            return atoms
        cut = k.rfind(".")
        if cut < 0:
            break
        k = k[:cut]
    if not entry_ok:
        return UNKNOWN_ATOMS
    out = set()
    if False in trained:
        out.add((ENTRY, key))
    if True in trained:
        out.add((ENTRY_T, key))
    return frozenset(out)


def entry_ok(fn: FunctionInfo, key: str) -> bool:
    """True when ``key`` reaches ``fn`` from its callers (a parameter, self, or a global)."""
    if fn.is_module_level:
        return False
    root = root_of(key)
    return root in fn.params or root not in fn.locals


class State:
    __slots__ = ("env", "modes", "grad", "trained", "frozen")

    def __init__(self, env, modes, grad, trained, frozen):
        self.env: Dict[str, Value] = env
        self.modes: dict = modes          # copied on write, so call sites can keep it
        self.grad: frozenset = grad
        self.trained: frozenset = trained  # {False}, {True} or both: a training step ran
        self.frozen: frozenset = frozen    # module keys that may be frozen

    def copy(self) -> "State":
        return State(dict(self.env), self.modes, self.grad, self.trained, self.frozen)

    def same(self, other: "State") -> bool:
        return (self.grad == other.grad and self.trained == other.trained
                and self.frozen == other.frozen and self.modes == other.modes
                and self.env == other.env)


def _const_bool(node: Optional[cst.CSTNode]) -> Optional[bool]:
    if isinstance(node, cst.Name) and node.value in ("True", "False"):
        return node.value == "True"
    if isinstance(node, cst.Integer):
        return node.value not in ("0",)
    if isinstance(node, cst.Float):
        return float(node.value) != 0.0
    return None


def _identifiers(node: cst.CSTNode) -> List[str]:
    """Names, attributes and string subscripts in an expression (for intent words)."""
    out: List[str] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            out.append(n.value)
        elif isinstance(n, cst.Attribute):
            out.append(n.attr.value)
            stack.append(n.value)
        elif isinstance(n, cst.Call):
            stack.append(n.func)
            stack.extend(a.value for a in n.args if a.keyword is None)
        elif isinstance(n, cst.Subscript):
            stack.append(n.value)
            for el in n.slice:
                if isinstance(el.slice, cst.Index):
                    stack.append(el.slice.value)
        elif isinstance(n, cst.SimpleString):
            out.append(n.raw_value)
        elif isinstance(n, (cst.List, cst.Tuple)):
            stack.extend(e.value for e in n.elements)
    return out


def _arg(args, index: int, name: Optional[str] = None):
    """The (Arg, Value) for positional ``index`` or keyword ``name``, else None."""
    if name is not None:
        for a, v in args:
            if a.keyword is not None and a.keyword.value == name:
                return a, v
    positional = [(a, v) for a, v in args if a.keyword is None and not a.star]
    if 0 <= index < len(positional):
        return positional[index]
    return None


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
        self.ensure_class(cls)
        frozen, unfrozen = set(), set()
        for c in cls.all_classes():
            for m in c.methods.values():
                frozen |= {k for k in m.freezes if k == "self" or k.startswith("self.")}
                unfrozen |= {k for k in m.unfreezes if k == "self" or k.startswith("self.")}
        parts = []
        for k in sorted(frozen):
            if any(k == u or k.startswith(u + ".") or u.startswith(k + ".") for u in unfrozen):
                continue  # toggled on and off (GAN-style): not frozen for good
            parts.append(k[5:] if k != "self" else "")
        return tuple(parts)

    def class_mode_dep(self, cls: ClassInfo, seen=None) -> Optional[bool]:
        """True: holds dropout/batch norm; False: known not to; None: cannot tell."""
        seen = seen or set()
        if id(cls) in seen:
            return None
        seen.add(id(cls))
        self.ensure_class(cls)
        result: Optional[bool] = False
        for c in cls.all_classes():
            if c.uses_training_flag:
                return True
            if not c.is_module and c is cls:
                pass
            for q, n in zip(c.base_quals, c.base_names):
                if q in torchapi.MODULE_BASES:
                    continue
                if any(b.name == n for b in c.local_bases):
                    continue
                result = None  # an unknown base class may add layers
            for value in c.attrs.values():
                if isinstance(value, Value) and value.kind == "module":
                    if value.mode_dep is True:
                        return True
                    if value.mode_dep is None:
                        result = None
        return result


class _Run:
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
        if words.says_inference([fn.name]) and not words.is_builder_name(fn.name):
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
            env[k] = join_values(a.env.get(k), b.env.get(k))
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
        for stmt in stmts:
            if st is None:
                return None
            if module_level:
                self.o.module_env = st.env
            st = self.stmt(stmt, st)
        if module_level and st is not None:
            self.o.module_env = st.env
        return st

    def stmt(self, node: cst.CSTNode, st: State) -> Optional[State]:
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                if st is None:
                    return None
                st = self.small(small, st)
            return st
        if isinstance(node, cst.If):
            self.ev(node.test, st)
            then = self.block(_block_statements(node.body), st.copy())
            if isinstance(node.orelse, cst.If):
                other = self.stmt(node.orelse, st.copy())
            elif isinstance(node.orelse, cst.Else):
                other = self.block(_block_statements(node.orelse.body), st.copy())
            else:
                other = st
            if then is None:
                return other
            if other is None:
                return then
            return self.join(then, other)
        if isinstance(node, cst.For):
            iterable = self.ev(node.iter, st)
            names = _identifiers(node.iter)
            return self.loop(node, st, lambda s: self.bind(node.target, self.element_of(iterable), s, None),
                             _block_statements(node.body), node.orelse, names)
        if isinstance(node, cst.While):
            infinite = _const_bool(node.test) is True
            return self.loop(node, st, lambda s: (self.ev(node.test, s), s)[1],
                             _block_statements(node.body), node.orelse, [], infinite=infinite)
        if isinstance(node, cst.With):
            return self.with_(node, st)
        if isinstance(node, (cst.Try, cst.TryStar)):
            body = self.block(_block_statements(node.body), st.copy())
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
                final_in = merged if merged is not None else exc_entry.copy()
                after = self.block(_block_statements(node.finalbody.body), final_in)
                return after if merged is not None else None
            return merged
        if isinstance(node, cst.FunctionDef):
            found = self.o.scopes.lookup(node.name.value, self.fn)
            if isinstance(found, FunctionInfo):
                st.env[node.name.value] = Value("func", func=found)
            self.fn.locals.add(node.name.value)
            return st
        if isinstance(node, cst.ClassDef):
            return st
        if isinstance(node, cst.Match):
            self.ev(node.subject, st)
            merged = st
            for case in node.cases:
                out = self.block(_block_statements(case.body), st.copy())
                if out is not None:
                    merged = self.join(merged, out)
            return merged
        return st

    def small(self, node: cst.CSTNode, st: State) -> Optional[State]:
        if isinstance(node, cst.Expr):
            self.bare_expression(node, st)
            return st
        if isinstance(node, cst.Assign):
            if self.pairwise_assign(node, st):
                return st
            value = self.ev(node.value, st)
            if self.self_accumulation(node, value, st):
                return st
            for target in node.targets:
                self.assign(target.target, value, st, node)
            return st
        if isinstance(node, cst.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.ev(node.value, st), st, node)
            return st
        if isinstance(node, cst.AugAssign):
            self.aug_assign(node, st)
            return st
        if isinstance(node, cst.Return):
            if node.value is not None:
                value = self.ev(node.value, st)
                if value.kind == "module" and value.key is not None and not entry_ok(self.fn, value.key):
                    value = value.with_(mode=lookup_mode(st.modes, value.key, st.trained, False))
                self.returns = join_values(self.returns, value)
            self.exits.append(st)
            return None
        if isinstance(node, cst.Raise):
            if node.exc is not None:
                self.ev(node.exc, st)
            return None
        if isinstance(node, cst.Break):
            if self.loop_exits:
                self.loop_exits[-1][0].append(st)
            return None
        if isinstance(node, cst.Continue):
            if self.loop_exits:
                self.loop_exits[-1][1].append(st)
            return None
        if isinstance(node, cst.Assert):
            self.ev(node.test, st)
            return st
        if isinstance(node, cst.Del):
            return st
        return st

    def loop(self, node, st: State, header, body, orelse, names, infinite=False) -> Optional[State]:
        info = self.o.loop_infos.get(node)
        if info is None:
            info = LoopInfo(node, self.fn, self.loops[-1] if self.loops else None,
                            data=words.says_data(names))
            self.o.loop_infos[node] = info
        region = None
        if names and words.says_inference(names) and self.o.facts.framework_of(self.fn) is None:
            shown = next((n for n in names if words.says_inference([n])), names[0])
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
        out = None if infinite else head
        if orelse is not None and out is not None:
            out = self.block(_block_statements(orelse.body), out.copy())
        for b in breaks:
            out = self.join(out, b)
        return out

    def with_(self, node: cst.With, st: State) -> Optional[State]:
        before = st.grad
        grad = st.grad
        for item in node.items:
            expr = item.item
            qual = self.imports.qualname(expr)
            if qual in torchapi.GRAD_CONTEXTS:
                self.syntactic(item, "GL202",
                               f"`with {qual}:` uses the class, not an instance: it raises TypeError; "
                               f"write `with {qual}():`")
                continue
            effect = self.grad_effect(expr, st)
            self.ev(expr, st)
            if effect is not None:
                grad = effect
            if item.asname is not None:
                self.assign(item.asname.name, UNKNOWN_VALUE, st, None)
        st.grad = grad
        out = self.block(_block_statements(node.body), st)
        if out is not None:
            out.grad = before
        return out

    def grad_effect(self, expr: cst.CSTNode, st: State) -> Optional[frozenset]:
        """The grad mode inside ``with expr:``, or None when ``expr`` leaves it alone."""
        if not isinstance(expr, cst.Call):
            return None
        qual = self.imports.qualname(expr.func)
        if qual == "torch.inference_mode":
            flag = _const_bool(expr.args[0].value) if expr.args else True
            return frozenset({"off"}) if flag is not False else None
        if qual in torchapi.GRAD_OFF:
            return frozenset({"off"})
        if qual in torchapi.GRAD_ON:
            return frozenset({"on"})
        if qual == torchapi.GRAD_SET and expr.args:
            flag = _const_bool(expr.args[0].value)
            if flag is None:
                return frozenset({"on", "off"})
            return frozenset({"on" if flag else "off"})
        return None

    def bare_expression(self, node: cst.Expr, st: State) -> None:
        expr = node.value
        if isinstance(expr, cst.Attribute) and expr.attr.value in torchapi.MODE_METHODS:
            recv = self.ev(expr.value, st)
            attr = expr.attr.value
            if attr != "step" or recv.kind in ("optimizer", "scheduler") or self._optimizer_named(recv.key):
                shown = recv.key or "obj"
                self.syntactic(node, "GL102",
                               f"`{shown}.{attr}` is not called: it does nothing; write `{shown}.{attr}()`")
            return
        if isinstance(expr, cst.Call):
            qual = self.imports.qualname(expr.func)
            if qual in (torchapi.GRAD_OFF | torchapi.GRAD_ON):
                self.syntactic(node, "GL202",
                               f"`{qual}()` as a statement does nothing: gradient tracking is unchanged; "
                               f"use `with {qual}():` or decorate the function")
                return
            if qual == torchapi.GRAD_SET and expr.args:
                flag = _const_bool(expr.args[0].value)
                self.ev(expr, st)
                st.grad = frozenset({"on", "off"}) if flag is None else frozenset({"on" if flag else "off"})
                return
        if isinstance(expr, cst.Comparison) and len(expr.comparisons) == 1 \
                and isinstance(expr.comparisons[0].operator, cst.Equal) \
                and isinstance(expr.left, cst.Attribute) and expr.left.attr.value == "requires_grad":
            self.syntactic(node, "GL302",
                           "`== ` compares and discards: `requires_grad` is unchanged; "
                           "write `.requires_grad = ...`")
        self.ev(expr, st)

    # -- assignment ---------------------------------------------------------------------
    def assign(self, target: cst.CSTNode, value: Value, st: State, stmt) -> None:
        if isinstance(target, (cst.Tuple, cst.List)):
            elems = [e.value for e in target.elements]
            for i, el in enumerate(elems):
                if isinstance(el, cst.StarredElement):
                    el = el.value
                self.assign(el, self.element_at(value, i, len(elems)), st, stmt)
            return
        if isinstance(target, cst.StarredElement):
            self.assign(target.value, UNKNOWN_VALUE, st, stmt)
            return
        if isinstance(target, cst.Subscript):
            base = self.ev(target.value, st)
            for el in target.slice:
                if isinstance(el.slice, cst.Index):
                    self.ev(el.slice.value, st)
            constant_key = all(isinstance(el.slice, cst.Index) and isinstance(el.slice.value, cst.SimpleString)
                               for el in target.slice)
            if not constant_key and base.key:
                self.accumulate(stmt, base.key, base, value, st, getattr(stmt, "value", None))
            return
        if isinstance(target, cst.Attribute) and target.attr.value in _REQUIRES_GRAD_ATTRS:
            self.requires_grad_set(target, value, st, stmt)
            return
        key = key_of(target)
        if key is None:
            self.ev(target, st) if isinstance(target, cst.Attribute) else None
            return
        if isinstance(target, cst.Attribute):
            self.ev(target.value, st)
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
        if aliases:
            st.env[key] = value.with_(bound_in=loop)
        else:
            st.env[key] = value.with_(key=key, bound_in=loop)
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
        if isinstance(target, cst.Subscript):
            key = key_of(target.value)
        if key is not None and isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign)):
            self.accumulate(node, key, acc, value, st, node.value)
        if isinstance(target, (cst.Name, cst.Attribute)) and key is not None:
            result = self.op([acc, value], st, node, "arithmetic")
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
                isinstance(e, cst.StarredElement) for e in list(target.elements) + list(value.elements)):
            return False
        values = [self.ev(e.value, st) for e in value.elements]
        for element, v in zip(target.elements, values):
            self.assign(element.value, v, st, node)
        return True

    def self_accumulation(self, node: cst.Assign, value: Value, st: State) -> bool:
        """``total = total + loss``: the same event as ``total += loss``."""
        if len(node.targets) != 1 or not isinstance(node.value, cst.BinaryOperation) \
                or not isinstance(node.value.operator, cst.Add):
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
                                                        in_region=bool(self.regions)))

    def requires_grad_set(self, target: cst.Attribute, value: Value, st: State, stmt) -> None:
        obj = self.ev(target.value, st)
        attr = target.attr.value
        if stmt is not None:
            self.record("requires_grad_sets", stmt,
                        RequiresGradSet(stmt, self.fn, target.value, attr, obj, getattr(stmt, "value", None)))
        if attr != "requires_grad":
            return
        flag = _const_bool(getattr(stmt, "value", None))
        if obj.kind == "tensor" and obj.key is not None and flag is not None:
            fact = obj.tensor
            if flag and not (fact.atoms & {"nonleaf"}):
                fact = TensorFact(frozenset({"leaf_rg"}), fact.origin, "", False, False, fact.dtype)
            elif not flag and fact.atoms <= {"leaf_rg", "plain", "detached", "nograd"}:
                fact = TensorFact(frozenset({"plain"}), fact.origin, "", False, False, fact.dtype)
            st.env[obj.key] = obj.with_(tensor=fact)
        owner = self.param_owner(obj, target.value, st)
        if owner is not None and flag is not None and stmt is not None:
            self.freeze(stmt, owner, not flag, st)
        if flag is True:
            self.grad_use()

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
                or words.is_model_name(root) or (root == "self" and self.fn.cls is not None and self.fn.cls.is_module):
            return key.rsplit(".", 1)[0]
        return None

    def freeze(self, node, key: Optional[str], frozen: bool, st: Optional[State]) -> None:
        if key is None:
            return
        cls = self.fn.cls if (key == "self" or key.startswith("self.")) else None
        if node is not None:
            self.record("freezes", node, Freeze(node, self.fn, key, frozen, cls))
        if frozen:
            self.fn.freezes[key] = True
            if cls is not None:
                cls.freezes_self = True
            if st is not None:
                st.frozen = st.frozen | {key}
        else:
            self.fn.unfreezes.add(key)
            if cls is not None:
                cls.unfreezes_self = True
            if st is not None:
                st.frozen = frozenset(k for k in st.frozen if k != key and not k.startswith(key + "."))

    # -- expressions --------------------------------------------------------------------
    def ev(self, node: cst.CSTNode, st: State) -> Value:
        if isinstance(node, cst.Name):
            return self.name(node, st)
        if isinstance(node, cst.Attribute):
            return self.attribute(node, st)
        if isinstance(node, cst.Call):
            return self.call(node, st)
        if isinstance(node, cst.BinaryOperation):
            return self.op([self.ev(node.left, st), self.ev(node.right, st)], st, node, "arithmetic")
        if isinstance(node, cst.UnaryOperation):
            return self.op([self.ev(node.expression, st)], st, node, "arithmetic")
        if isinstance(node, cst.Subscript):
            return self.subscript(node, st)
        if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString,
                             cst.ConcatenatedString)):
            return NUMBER
        if isinstance(node, cst.FormattedString):
            for part in node.parts:
                if isinstance(part, cst.FormattedStringExpression):
                    self.ev(part.expression, st)
            return NUMBER
        if isinstance(node, cst.Comparison):
            values = [self.ev(node.left, st)] + [self.ev(c.comparator, st) for c in node.comparisons]
            if any(v.kind == "tensor" for v in values):
                return Value("tensor", tensor=TensorFact(frozenset({"plain"})))
            return NUMBER
        if isinstance(node, cst.BooleanOperation):
            return join_values(self.ev(node.left, st), self.ev(node.right, st)) or UNKNOWN_VALUE
        if isinstance(node, cst.IfExp):
            self.ev(node.test, st)
            return join_values(self.ev(node.body, st), self.ev(node.orelse, st)) or UNKNOWN_VALUE
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            return self.collection([self.ev(e.value, st) for e in node.elements])
        if isinstance(node, cst.Dict):
            params = None
            for el in node.elements:
                if isinstance(el, cst.DictElement):
                    self.ev(el.key, st)
                    v = self.ev(el.value, st)
                    if isinstance(el.key, cst.SimpleString) and el.key.raw_value == "params":
                        params = v
                else:
                    self.ev(el.value, st)
            if params is not None and params.kind == "params":
                return params
            return Value("dict")
        if isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.SetComp, cst.DictComp)):
            return self.comprehension(node, st)
        if isinstance(node, cst.NamedExpr):
            value = self.ev(node.value, st)
            self.assign(node.target, value, st, None)
            return value
        if isinstance(node, cst.Await):
            return self.ev(node.expression, st)
        if isinstance(node, (cst.Yield,)):
            if node.value is not None and not isinstance(node.value, cst.From):
                self.ev(node.value, st)
            return UNKNOWN_VALUE
        if isinstance(node, cst.StarredElement):
            return self.ev(node.value, st)
        if isinstance(node, cst.Lambda):
            return Value("func")
        return UNKNOWN_VALUE

    def name(self, node: cst.Name, st: State) -> Value:
        name = node.value
        value = st.env.get(name)
        if value is not None:
            return value
        found = self.o.scopes.lookup(name, self.fn)
        if isinstance(found, FunctionInfo):
            found.escapes = True  # referenced, not called: callers unknown
            return Value("func", func=found)
        if isinstance(found, ClassInfo):
            return Value("class", cls=found)
        qual = self.imports.qualname(node)
        if qual is not None:
            return Value("import", qual=qual)
        if name in ("True", "False", "None"):
            return NUMBER
        known = self.o.module_env.get(name) if not self.fn.is_module_level else None
        if known is not None and known.kind in ("module", "tensor", "optimizer", "params", "list"):
            return known.with_(key=name, bound_in=None)
        return Value("unknown", key=name)

    def attribute(self, node: cst.Attribute, st: State) -> Value:
        qual = self.imports.qualname(node)
        if qual is not None:
            return Value("import", qual=qual)
        attr = node.attr.value
        base = self.ev(node.value, st)
        if attr == "grad":
            self.grad_use()
            if base.kind == "tensor":
                name = key_of(node.value) or "tensor"
                self.record("grad_reads", node, GradRead(node, self.fn, name, base.tensor))
            return Value("tensor", tensor=TensorFact(frozenset({"plain"})))
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
        key = base.key if attr in ("module", "_orig_mod") else f"{base.key}.{attr}"
        if attr in ("module", "_orig_mod"):
            return base
        bound = st.env.get(key)
        if bound is not None:
            return bound
        if base.cls is not None:
            cls_value = base.cls.attr(attr)
            if cls_value is not None:
                if cls_value.kind == "module":
                    return Value("module", key=key, mode_dep=cls_value.mode_dep,
                                 has_params=cls_value.has_params, cls=cls_value.cls)
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
            if isinstance(el.slice, cst.Index):
                self.ev(el.slice.value, st)
            else:
                for part in (el.slice.lower, el.slice.upper, el.slice.step):
                    if part is not None:
                        self.ev(part, st)
        if base.kind == "tensor":
            return self.op([base], st, node, "indexing")
        if base.kind == "tuple":
            index = node.slice[0].slice.value if isinstance(node.slice[0].slice, cst.Index) else None
            if isinstance(index, cst.Integer) and int(index.value) < len(base.elements):
                return base.elements[int(index.value)]
            return UNKNOWN_VALUE
        if base.kind == "list":
            return Value("tensor", tensor=base.tensor) if base.tensor is not None else UNKNOWN_VALUE
        if base.kind == "params":
            if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Slice):
                return base
            return Value("param", key=base.sources[0][0] if base.sources else None)
        if base.kind == "module" or (base.kind == "unknown" and self.is_model(base)):
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
            names = _identifiers(comp.iter)
            if words.says_inference(names) and self.o.facts.framework_of(self.fn) is None:
                self.regions.append(Region(node, self.fn, "loop", f"loop over `{names[0]}`"))
                region_pushed += 1
            self.assign(comp.target, self.element_of(iterable), inner, None)
            for cond in comp.ifs:
                self.ev(cond.test, inner)
                filtered = True
            comp = comp.inner_for_in
        if isinstance(node, cst.DictComp):
            self.ev(node.key, inner)
            elt = self.ev(node.value, inner)
        else:
            elt = self.ev(node.elt, inner)
        for _ in range(region_pushed):
            self.regions.pop()
        if source is not None and source.kind == "params" and elt.kind == "param":
            return Value("params", sources=tuple((k, f or filtered) for k, f in source.sources))
        if elt.kind == "params":
            return elt.with_(sources=tuple((k, f or filtered) for k, f in elt.sources))
        return Value("list", tensor=elt.tensor if elt.kind == "tensor" else None)

    def element_of(self, iterable: Value) -> Value:
        if iterable.kind == "params":
            key = iterable.sources[0][0] if len(iterable.sources) == 1 else None
            return Value("param", key=key, sources=iterable.sources)
        if iterable.kind == "list" and iterable.tensor is not None:
            return Value("tensor", tensor=iterable.tensor)
        if iterable.kind in ("module", "unknown") and iterable.key and self.within_model(iterable.key):
            # for layer in model.children() / model.features: a part of the model, in its mode
            return Value("unknown", key=f"{iterable.key}.item")
        return UNKNOWN_VALUE

    def within_model(self, key: str) -> bool:
        parts = key.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in self.fn.modulelike or words.is_model_name(prefix):
                return True
            if i == 1 and prefix == "self" and self.fn.cls is not None and self.fn.cls.is_module:
                return True
        return False

    def element_at(self, value: Value, index: int, count: int) -> Value:
        if value.kind == "tuple":
            return value.elements[index] if index < len(value.elements) else UNKNOWN_VALUE
        if value.kind == "param" or (value.kind == "params" and value.sources):
            # for name, p in model.named_parameters(): the last element is the parameter
            return value if index == count - 1 else NUMBER
        if value.kind == "tensor":
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
        dtype = facts[0].dtype if facts else None
        fact = TensorFact(frozenset(atoms), node, how, False, False, dtype, accum)
        return Value("tensor", tensor=fact)

    # -- calls ----------------------------------------------------------------------------
    def call(self, node: cst.Call, st: State) -> Value:
        func = node.func
        qual = self.imports.qualname(func)
        if qual is None and isinstance(func, cst.Attribute):
            recv = self.ev(func.value, st)
            return self.method_call(node, recv, func.attr.value, st)
        args = [(a, self.ev(a.value, st)) for a in node.args]
        if qual is not None:
            return self.api_call(node, qual, args, st)
        if isinstance(func, cst.Name):
            name = func.value
            bound = st.env.get(name)
            found = None if bound is not None else self.o.scopes.lookup(name, self.fn)
            if bound is not None and bound.kind == "func" and isinstance(bound.func, FunctionInfo):
                found = bound.func
            if isinstance(found, FunctionInfo):
                return self.local_call(node, found, args, None, st)
            if isinstance(found, ClassInfo):
                return self.instantiate(node, found, args, st)
            if bound is None and name in _BUILTIN_NUMBER:
                return NUMBER
            if bound is None and name in _BUILTIN_PASSTHROUGH:
                first = _arg(args, 0)
                return first[1] if first is not None else UNKNOWN_VALUE
            if bound is None and name == "filter":
                second = _arg(args, 1)
                if second is not None and second[1].kind == "params":
                    return second[1].with_(sources=tuple((k, True) for k, _ in second[1].sources))
                return UNKNOWN_VALUE
            if bound is None and name in ("sum", "max", "min"):
                first = _arg(args, 0)
                if first is not None and first[1].kind == "list" and first[1].tensor is not None:
                    return self.op([Value("tensor", tensor=first[1].tensor)], st, node, "arithmetic")
                return self.op([v for _, v in args], st, node, "arithmetic")
            if bound is None and name == "super":
                return Value("object", key="self")
            if bound is None and found is None and words.is_model_class_name(name):
                return Value("module", mode=NEW_ATOMS)
        callee = self.ev(func, st)
        return self.call_value(node, callee, args, st)

    def call_value(self, node: cst.Call, callee: Value, args, st: State) -> Value:
        """Calling an object: a model's forward, a loss, or something opaque."""
        if callee.kind == "func" and isinstance(callee.func, FunctionInfo):
            return self.local_call(node, callee.func, args, None, st)
        if self.is_model(callee):
            return self.forward(node, callee, args, st)
        if callee.kind == "module":  # a loss or other parameter-free layer
            return self.op([v for _, v in args], st, node, "a loss")
        if callee.key and words.tokens(callee.key.rsplit(".", 1)[-1]) & {"loss", "criterion", "lossfn"}:
            return self.op([v for _, v in args], st, node, "a loss")
        self.hand_out(args, st)
        return UNKNOWN_VALUE

    def is_model(self, value: Value) -> bool:
        if value.kind == "module":
            return value.has_params is not False
        if value.kind == "unknown" and value.key:
            return value.key in self.fn.modulelike or words.is_model_name(value.key)
        return False

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
        atoms = lookup_mode(st.modes, key, st.trained, entry_ok(self.fn, key))
        if any(kind == "new" for kind, _ in atoms):
            self.set_mode(st, key, after_training(frozenset(a for a in atoms if a[0] == "new"))
                          | frozenset(a for a in atoms if a[0] != "new"))

    def forward(self, node: cst.Call, callee: Value, args, st: State, generate: bool = False) -> Value:
        key = callee.key
        if key is not None:
            modes = lookup_mode(st.modes, key, st.trained, entry_ok(self.fn, key))
        else:
            modes = callee.mode or TRAIN_ATOMS
        regions = tuple(self.regions)
        arg_names = [n for a, _ in args if a.keyword is None for n in _identifiers(a.value)]
        data_names = [n for n in arg_names if words.says_inference_data(n)]
        if not regions and data_names and self.o.facts.framework_of(self.fn) is None \
                and not self.o.facts.is_test_function(self.fn):
            regions = (Region(node, self.fn, "call", f"call on `{data_names[0]}`"),)
        self.record("forward_calls", node, ForwardCall(
            node, self.fn, key, callee, st.grad, modes, tuple(self.loops), regions,
            generate=generate, certain=callee.kind == "module" or (key in self.fn.modulelike if key else False)))
        frozen = key is not None and any(key == k or key.startswith(k + ".") for k in st.frozen)
        if generate:
            return UNKNOWN_VALUE
        return self.op([v for _, v in args], st, node, "the model's output", requires_grad=not frozen)

    def method_call(self, node: cst.Call, recv: Value, meth: str, st: State) -> Value:
        key = recv.key
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
            flag = True if not node.args else _const_bool(node.args[0].value)
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
        if meth in ("parameters", "named_parameters") and recv.kind not in ("tensor", "number"):
            return Value("params", sources=((key, False),) if key else ())
        if meth in ("modules", "children", "named_modules", "named_children") and key:
            return Value("unknown", key=key)
        if meth == "requires_grad_":
            flag = True if not node.args else _const_bool(args[0][0].value)
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
                self.freeze(node, owner, not flag, st)
            if flag is not False:
                self.grad_use()
            return recv
        if meth == "backward":
            self.backward(node, recv.tensor if recv.kind == "tensor" else None, st)
            return NUMBER
        if meth == "step" and (recv.kind == "optimizer" or self._optimizer_named(key)
                               or any(v.kind == "optimizer" for _, v in args)):
            self.training_step(st, optimizer=True)
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
        if recv.kind == "tensor":
            return self.tensor_method(node, recv, meth, args, st)
        if recv.kind == "list" and meth in ("pop",):
            return Value("tensor", tensor=recv.tensor) if recv.tensor is not None else UNKNOWN_VALUE
        if recv.kind == "import" and recv.qual:
            return self.api_call(node, f"{recv.qual}.{meth}", args, st)
        if recv.kind == "class" and recv.cls is not None:
            return UNKNOWN_VALUE
        # an attribute holding a model: self.encoder(x)
        if key is not None:
            callee = self.attribute_value(node.func, recv, meth, st)
            if self.is_model(callee):
                return self.forward(node, callee, args, st)
            if callee.kind == "module":
                return self.op([v for _, v in args], st, node, "a loss")
            if words.tokens(meth) & {"loss", "criterion"}:
                return self.op([v for _, v in args], st, node, "a loss")
        if meth in ("backward",) or (meth == "step" and args):
            pass
        if recv.kind in ("unknown", "object") and meth in ("backward", "manual_backward"):
            self.backward(node, args[0][1].tensor if args and args[0][1].kind == "tensor" else None, st)
            return NUMBER
        self.hand_out(args, st)
        return UNKNOWN_VALUE

    def attribute_value(self, func: cst.Attribute, recv: Value, attr: str, st: State) -> Value:
        key = f"{recv.key}.{attr}"
        bound = st.env.get(key)
        if bound is not None:
            return bound
        if recv.cls is not None:
            cls_value = recv.cls.attr(attr)
            if cls_value is not None:
                if cls_value.kind == "module":
                    return Value("module", key=key, mode_dep=cls_value.mode_dep, has_params=cls_value.has_params,
                                 cls=cls_value.cls)
                return Value(cls_value.kind, key=key)
        return Value("unknown", key=key)

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
            return Value("tensor", tensor=TensorFact(frozenset({"detached"}), dtype=fact.dtype))
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
                elif isinstance(a.value, cst.SimpleString):
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
        if not copies:
            return recv.with_(key=None) if recv.key else recv
        result = self.op([recv], st, node, f"a `.{meth}()` copy")
        out = result.tensor
        if fact.atoms <= REQUIRES_GRAD and out is not None:
            out = TensorFact(out.atoms, node, f"a `.{meth}()` copy", cuda_only and meth == "to" and not (
                target_dtype), False, target_dtype or fact.dtype, out.accum)
        return result.with_(tensor=out)

    def backward(self, node, fact: Optional[TensorFact], st: State) -> None:
        self.record("backwards", node, Backward(node, self.fn, fact))
        self.grad_use()
        self.training_step(st, optimizer=False)

    def grad_use(self) -> None:
        self.fn.uses_grad = True
        for r in self.regions:
            r.uses_grad = True

    def training_step(self, st: State, optimizer: bool) -> None:
        st.modes = {k: after_training(v) for k, v in st.modes.items()}
        st.trained = frozenset({True})
        for loop in self.loops:
            loop.trains = True
        self.fn.trains = True
        if optimizer:
            for r in self.regions:
                r.optimizer_step = True

    # -- torch and library calls ------------------------------------------------------------
    def api_call(self, node: cst.Call, qual: str, args, st: State) -> Value:
        nn_name = torchapi.nn_class(qual)
        if nn_name is not None:
            return self.nn_module(node, nn_name, args)
        if qual == "torch.nn.Embedding.from_pretrained" or qual == "torch.nn.EmbeddingBag.from_pretrained":
            freeze = _arg(args, 1, "freeze")
            frozen = freeze is None or _const_bool(freeze[0].value) is not False
            return Value("module", mode=TRAIN_ATOMS, mode_dep=False, has_params=True,
                         frozen=("",) if frozen else ())
        if qual in torchapi.WRAPPERS:
            first = _arg(args, 0)
            if first is not None and first[1].kind in ("module", "unknown"):
                return first[1]
            return Value("module")
        factory_mode = torchapi.model_factory_mode(qual)
        if factory_mode is not None:
            mode = frozenset({(EVAL, node)}) if factory_mode == "eval" else TRAIN_ATOMS
            self.o.setter_loops[node] = tuple(self.loops)
            return Value("module", mode=mode)
        if torchapi.is_optimizer_class(qual):
            return self.optimizer(node, args)
        if torchapi.is_scheduler_class(qual):
            return Value("scheduler")
        if qual in torchapi.TENSOR_FACTORIES or qual == torchapi.PARAMETER:
            return self.tensor_factory(node, qual, args)
        if qual in ("torch.autograd.grad",):
            first = _arg(args, 0, "outputs")
            self.record("backwards", node, Backward(node, self.fn,
                                                    first[1].tensor if first and first[1].kind == "tensor" else None))
            self.grad_use()
            return UNKNOWN_VALUE
        if qual in ("torch.autograd.backward",):
            first = _arg(args, 0, "tensors")
            self.backward(node, first[1].tensor if first and first[1].kind == "tensor" else None, st)
            return NUMBER
        if qual in ("torch.stack", "torch.cat", "torch.concat", "torch.concatenate", "torch.hstack",
                    "torch.vstack"):
            first = _arg(args, 0, "tensors")
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
        if words.is_model_class_name(qual.rsplit(".", 1)[-1]):
            return Value("module", mode=NEW_ATOMS)  # a model class from elsewhere: built in train mode
        self.hand_out(args, st)
        return UNKNOWN_VALUE

    def nn_module(self, node, name: str, args) -> Value:
        if name in torchapi.MODE_DEPENDENT:
            mode_dep: Optional[bool] = True
            if name.startswith("Dropout") or name.endswith("Dropout"):
                p = _arg(args, 0, "p")
                if p is not None and _const_bool(p[0].value) is False:
                    mode_dep = False
        elif name in torchapi.MODE_DEPENDENT_IF:
            kw = _arg(args, -1, torchapi.MODE_DEPENDENT_IF[name])
            if kw is None:
                mode_dep = False
            else:
                flag = _const_bool(kw[0].value)
                mode_dep = None if flag is None else flag
        elif name in torchapi.CONTAINERS:
            mode_dep = False
            for _, v in args:
                if v.kind == "module":
                    if v.mode_dep is True:
                        mode_dep = True
                        break
                    if v.mode_dep is None:
                        mode_dep = None
                elif v.kind == "list":
                    mode_dep = None if mode_dep is False else mode_dep
                elif v.kind not in ("number",):
                    mode_dep = None
        else:
            mode_dep = False
        has_params = False if torchapi.nn_param_free(name) else None
        return Value("module", mode=NEW_ATOMS, mode_dep=mode_dep, has_params=has_params)

    def optimizer(self, node: cst.Call, args) -> Value:
        first = _arg(args, 0, "params")
        sources: Tuple[Tuple[str, bool], ...] = ()
        classes: tuple = ()
        if first is not None:
            value = first[1]
            if value.kind == "params":
                sources = value.sources
            elif value.kind == "param" and value.key:
                sources = ((value.key, True),)
        self.record("optimizers", node, OptimizerBuild(node, self.fn, sources, classes))
        return Value("optimizer")

    def tensor_factory(self, node, qual: str, args) -> Value:
        rg = _arg(args, -1, "requires_grad")
        dtype = _arg(args, -1, "dtype")
        dtype_name = None
        if dtype is not None and dtype[1].kind == "import" and dtype[1].qual:
            dtype_name = {"float64": "float64", "double": "float64", "float16": "float16",
                          "half": "float16", "bfloat16": "bfloat16", "float32": "float32",
                          "float": "float32"}.get(dtype[1].qual.rsplit(".", 1)[-1])
        if qual == torchapi.PARAMETER:
            flag = True if rg is None else _const_bool(rg[0].value)
            first = _arg(args, 0, "data")
            if first is not None and first[1].kind == "tensor" and first[1].tensor.dtype:
                dtype_name = first[1].tensor.dtype
        else:
            flag = False if rg is None else _const_bool(rg[0].value)
        atoms = {True: {"leaf_rg"}, False: {"plain"}, None: {"leaf_rg", "plain"}}[flag]
        return Value("tensor", tensor=TensorFact(frozenset(atoms), node, "", False, False, dtype_name))

    # -- local functions and classes ----------------------------------------------------------
    def local_call(self, node: cst.Call, callee: FunctionInfo, args, receiver: Optional[str], st: State) -> Value:
        self.o.run(callee)
        mapping: Dict[str, Optional[str]] = {}
        params = list(callee.params)
        is_method = callee.cls is not None and params and params[0] in ("self", "cls") \
            and "staticmethod" not in callee.decorator_names
        if is_method:
            params = params[1:]
        positional = [(a, v) for a, v in args if a.keyword is None and not a.star]
        for i, (a, v) in enumerate(positional):
            if i < len(params):
                mapping[params[i]] = v.key if v.key else key_of(a.value)
        for a, v in args:
            if a.keyword is not None:
                mapping[a.keyword.value] = v.key if v.key else key_of(a.value)
        if is_method and receiver is None and callee.cls is not None and self.fn.cls is not None \
                and isinstance(node.func, cst.Attribute) and key_of(node.func.value) in ("self", "cls"):
            receiver = "self"
        values: Dict[str, Value] = {}
        for i, (a, v) in enumerate(positional):
            if i < len(params):
                values[params[i]] = v
        for a, v in args:
            if a.keyword is not None:
                values[a.keyword.value] = v
        callee.callsites.append(CallSite(node, self.fn, callee, mapping, receiver, st.grad, st.modes,
                                         st.trained, tuple(self.loops), bool(self.regions), values))
        self.apply_summary(node, callee, mapping, receiver, st)
        result = callee.returns
        if isinstance(result, Value):
            return self.returned(result, callee, mapping, st, node)
        return UNKNOWN_VALUE

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
                self.freeze(node, mine, True, st)
        for key in list(callee.unfreezes):
            mine = self.map_key(key, callee, mapping, receiver)
            if mine is not None:
                self.freeze(node, mine, False, st)

    def substitute(self, atoms, callee: FunctionInfo, mapping, receiver, st: State, node) -> frozenset:
        """A callee's exit modes seen from the call: its entry atoms become the caller's state
        at the call, and its setters become the call itself (the helper that set the mode)."""
        new = set()
        for kind, arg in atoms:
            if kind in (ENTRY, ENTRY_T):
                caller_key = self.map_key(arg, callee, mapping, receiver)
                base = lookup_mode(st.modes, caller_key, st.trained, entry_ok(self.fn, caller_key)) \
                    if caller_key else UNKNOWN_ATOMS
                new |= after_training(base) if kind == ENTRY_T else base
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
                for g in st.grad:
                    atoms.add({"on": "nonleaf", "off": "nograd"}.get(g, "nonleaf_if_grad"))
                fact = TensorFact(frozenset(atoms), fact.origin, fact.how, fact.cuda_only, fact.retained,
                                  fact.dtype, frozenset())
            return Value("tensor", tensor=fact)
        if result.kind in ("optimizer", "params", "number"):
            return Value(result.kind, sources=result.sources)
        return UNKNOWN_VALUE

    def instantiate(self, node, cls: ClassInfo, args, st: State) -> Value:
        self.o.ensure_class(cls)
        init = cls.method("__init__")
        init_modes: tuple = ()
        if init is not None:
            mapping = {}
            params = init.params[1:]
            positional = [(a, v) for a, v in args if a.keyword is None and not a.star]
            for i, (a, v) in enumerate(positional):
                if i < len(params):
                    mapping[params[i]] = v.key
            for a, v in args:
                if a.keyword is not None:
                    mapping[a.keyword.value] = v.key
            init.callsites.append(CallSite(node, self.fn, init, mapping, None, st.grad, st.modes,
                                           st.trained, tuple(self.loops), bool(self.regions), {}))
            init_modes = tuple((key[4:], self.substitute(atoms, init, mapping, None, st, node))
                               for key, atoms in sorted(init.exit_modes.items())
                               if key.startswith("self.") and not self._is_self_default(key, atoms))
        if cls.is_module:
            return Value("module", mode=NEW_ATOMS, cls=cls, mode_dep=self.o.class_mode_dep(cls),
                         frozen=self.o.class_frozen_parts(cls), init_modes=init_modes)
        return Value("object", cls=cls, init_modes=init_modes)

    # -- helpers -------------------------------------------------------------------------------
    def record(self, kind: str, node, event) -> None:
        getattr(self.events, kind)[node] = event

    def syntactic(self, node, code: str, message: str) -> None:
        self.record("syntactic", node, Syntactic(node, self.fn, code, message))
