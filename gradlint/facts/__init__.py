"""The facts of one file: computed once, read by every rule.

``FileFacts.build`` runs the statement pre-scan (``scopes``) and the abstract
interpreter (``interp``); the ``resolve_*`` methods turn the symbolic states recorded in
events into concrete ones by following every call site of the enclosing function in
this file (a helper called only inside ``with torch.no_grad()`` after ``.eval()`` is
known to run in eval mode without gradients).
"""

from __future__ import annotations

import os
from typing import Dict, Optional

import libcst as cst

from . import words
from .events import Events
from .interp import FileInterpreter
from .state import entry_ok, lookup_mode
from .torchapi import EVAL_HOOKS, HF_TRAINER_HOOKS, SKORCH_HOOKS, TRAIN_HOOKS
from .names import key_of
from .scopes import FunctionInfo, Scopes, _block_statements
from .syntax import walk
from .values import ENTRY, ENTRY_S, ENTRY_T, EVAL, TRAIN, UNKNOWN, after_step, after_training

_UNKNOWN_MODE = frozenset({(UNKNOWN, None)})


def is_test_path(path: str) -> bool:
    """pytest's conventions: ``test_*.py``, ``*_test.py``, ``conftest.py``, or a tests/ (testing/) folder."""
    norm = path.replace(os.sep, "/")
    base = norm.rsplit("/", 1)[-1]
    if base.startswith("test_") or base.endswith("_test.py") or base == "conftest.py":
        return True
    return any(part in ("tests", "test", "testing") for part in norm.split("/")[:-1])


class FileFacts:
    """The facts of one file. ``project`` (a ``gradlint.project.view.FileContext``) lends
    what other files of the project know: imported classes and functions while the file is
    analysed, and call sites in other files once ``ProjectView.attach_upward`` has run."""

    def __init__(self, module: cst.Module, path: str = "<string>", project=None) -> None:
        self.module = module
        self.path = path
        self.project = project
        self.is_test_file = is_test_path(path)
        self.scopes = Scopes(module, project)
        self.events = Events()
        self._interp: Optional[FileInterpreter] = None
        self._memo: Dict[tuple, object] = {}
        self._active: set = set()

    @classmethod
    def build(cls, module: cst.Module, path: str = "<string>", project=None) -> "FileFacts":
        facts = cls(module, path, project)
        facts._interp = FileInterpreter(facts)
        facts._interp.run_all()
        return facts

    @property
    def interpreter(self) -> FileInterpreter:
        return self._interp

    def forget_resolutions(self) -> None:
        """Drop memoised entry states (call sites from other files were attached)."""
        self._memo.clear()

    # -- function classification ------------------------------------------------------------
    def framework_of(self, fn: Optional[FunctionInfo]) -> Optional[str]:
        """'eval' / 'train' when a framework owns the mode of this function or the hook it is
        nested in: a Lightning hook in a class derived (in any file) from a Lightning base,
        an HF ``Trainer`` hook in a ``Trainer`` subclass, a skorch hook in a ``NeuralNet``
        subclass ('owned': the framework sets a mode, which one is not known). A method that
        merely shares a hook's name in some other class is an ordinary method."""
        while fn is not None and not fn.is_module_level:
            if getattr(fn, "is_summary", False):
                return fn.framework_mode
            framework = fn.cls.framework if fn.cls is not None else None
            if framework == "lightning":
                if fn.name in EVAL_HOOKS:
                    return "eval"
                if fn.name in TRAIN_HOOKS:
                    return "train"
            if framework == "hf_trainer" and fn.name in HF_TRAINER_HOOKS:
                return "eval"
            if framework == "skorch" and fn.name in SKORCH_HOOKS:
                return SKORCH_HOOKS[fn.name]
            fn = fn.parent
        return None

    def is_test_function(self, fn: FunctionInfo) -> bool:
        """A unit test (pytest or unittest) rather than an evaluation routine."""
        if getattr(fn, "is_summary", False):
            return fn.is_test
        if fn.is_module_level:
            return False
        if fn.cls is not None and any(q and q.startswith("unittest") for q in fn.cls.base_quals):
            return True
        return self.is_test_file and "test" in words.tokens(fn.name)

    def is_test_helper(self, fn: FunctionInfo) -> bool:
        """A helper of a test file that only unit tests (or other such helpers) call: it runs
        for the tests, not as an evaluation routine, whatever its name says. Call sites are
        complete only after the file is interpreted: for the rules, not the interpreter."""
        if not self.is_test_file or fn.is_module_level or fn.escapes or not fn.callsites \
                or getattr(fn, "is_summary", False):
            return False
        return self._resolved(("test_helper", id(fn)), False, lambda: all(
            self.is_test_function(site.caller) or self.is_test_helper(site.caller)
            for site in fn.callsites))

    # -- resolution of entry atoms --------------------------------------------------------------
    def resolve_grad(self, fn: FunctionInfo, atoms) -> frozenset:
        """Concrete grad atoms ("on", "off", "unknown") for ``atoms`` seen in ``fn``."""
        if "entry" not in atoms:
            return frozenset(atoms)
        return frozenset(atoms - {"entry"}) | self.entry_grad(fn)

    def _resolved(self, token: tuple, on_cycle, compute):
        """A memoised resolution over call sites; a recursive call chain contributes ``on_cycle``."""
        if token in self._memo:
            return self._memo[token]
        if token in self._active:
            return on_cycle
        self._active.add(token)
        try:
            out = compute()
        finally:
            self._active.discard(token)
        self._memo[token] = out
        return out

    def entry_grad(self, fn: FunctionInfo) -> frozenset:
        return self._resolved(("grad", id(fn)), frozenset(), lambda: self._entry_grad(fn))

    def _entry_grad(self, fn: FunctionInfo) -> frozenset:
        framework = self.framework_of(fn)
        if fn.is_module_level or framework == "train":
            return frozenset({"on"})
        if framework == "eval":
            return frozenset({"off"})
        out = set()
        if fn.escapes or not fn.callsites:
            out.add("unknown")
        for site in fn.callsites:
            out |= self.resolve_grad(site.caller, site.grad)
        return frozenset(out)

    def resolve_modes(self, fn: FunctionInfo, atoms) -> frozenset:
        """Concrete mode atoms (eval / train_set / train / unknown) for ``atoms`` seen in ``fn``."""
        out = set()
        for kind, arg in atoms:
            if kind == ENTRY:
                out |= self.entry_mode(fn, arg)
            elif kind == ENTRY_T:
                out |= after_training(self.entry_mode(fn, arg))
            elif kind == ENTRY_S:
                out |= after_step(self.entry_mode(fn, arg))
            else:
                out.add((kind, arg))
        return frozenset(out)

    def entry_mode(self, fn: FunctionInfo, key: str) -> frozenset:
        return self._resolved(("mode", id(fn), key), frozenset(), lambda: self._entry_mode(fn, key))

    def _entry_mode(self, fn: FunctionInfo, key: str) -> frozenset:
        framework = self.framework_of(fn)
        if fn.is_module_level:
            return _UNKNOWN_MODE
        if framework == "eval":
            return frozenset({(EVAL, None)})
        if framework == "train":
            return frozenset({(TRAIN, None)})
        if self._wrapped_in_eval(fn, key):
            return frozenset({(EVAL, None)})
        found = set()
        if fn.escapes or not fn.callsites:
            found.add((UNKNOWN, None))
        for site in fn.callsites:
            caller_key = self._map_key(key, fn, site)
            if caller_key is None:
                found.add((UNKNOWN, None))
                continue
            atoms = lookup_mode(site.modes, caller_key, site.trained, entry_ok(site.caller, caller_key))
            found |= self.resolve_modes(site.caller, atoms)
        return frozenset(found)

    def _wrapped_in_eval(self, fn: FunctionInfo, key: str) -> bool:
        """``@eval_decorator`` defined in this file: its wrapper calls ``.eval()`` on the first
        argument before it calls the decorated function (DALLE's ``eval_decorator``), so the
        function's first parameter (``self``) and its parts enter in eval mode."""
        if not fn.params or not (key == fn.params[0] or key.startswith(fn.params[0] + ".")):
            return False
        for name in fn.decorator_names:
            decorator = self.scopes.lookup(name, fn.parent)
            if isinstance(decorator, FunctionInfo) and decorator.params and _wrapper_sets_eval(decorator):
                return True
        return False

    @staticmethod
    def _map_key(key: str, fn: FunctionInfo, site) -> Optional[str]:
        root, _, rest = key.partition(".")
        params = fn.params
        if fn.cls is not None and params and root == params[0] and root in ("self", "cls"):
            base = site.receiver
        elif root in params:
            base = site.args.get(root)
        else:
            return key
        if base is None:
            return None
        return f"{base}.{rest}" if rest else base

    def resolve_tensor(self, fn: FunctionInfo, fact) -> frozenset:
        """Tensor atoms with ``nonleaf_if_grad`` decided by the function's entry grad mode."""
        atoms = set(fact.atoms)
        if "nonleaf_if_grad" in atoms:
            atoms.discard("nonleaf_if_grad")
            grad = self.entry_grad(fn)
            if grad - {"off"}:
                atoms.add("nonleaf")
            if "off" in grad:
                atoms.add("nograd")
        return frozenset(atoms)

    # -- training context (GL103) ----------------------------------------------------------------
    def in_training_loop(self, loops) -> bool:
        return any(loop.trains for loop in loops)

    def setter_loops(self, node) -> tuple:
        """The loops around a mode setter (``.eval()``, ``.train()``, a helper call)."""
        return self._interp.setter_loops.get(node, ()) if self._interp else ()

    def runs_in_training_loop(self, fn: FunctionInfo) -> bool:
        """True when some call of ``fn`` (directly or through callers) is inside a training loop."""
        return self._resolved(("train", id(fn)), False, lambda: any(
            (self.in_training_loop(site.loops) or self.runs_in_training_loop(site.caller))
            and not site.in_region and self.resolve_grad(site.caller, site.grad) != {"off"}
            for site in fn.callsites))


def _wrapper_sets_eval(decorator: FunctionInfo) -> bool:
    """The function the decorator returns is defined in it and, in its top-level statements,
    calls ``.eval()`` on its first parameter before the first statement that calls the
    decorated function (the decorator's parameter)."""
    body = _block_statements(decorator.node.body)
    returned = {key_of(small.value) for stmt in body if type(stmt) is cst.SimpleStatementLine
                for small in stmt.body if type(small) is cst.Return and small.value is not None}
    wrapped = decorator.params[0]
    for inner in body:
        if type(inner) is not cst.FunctionDef or inner.name.value not in returned:
            continue
        params = inner.params.params
        model = params[0].name.value if params else None
        for stmt in _block_statements(inner.body):
            if any(type(n) is cst.Call and type(n.func) is cst.Name and n.func.value == wrapped for n in walk(stmt)):
                return False  # the decorated function runs before any eval()
            if model and type(stmt) is cst.SimpleStatementLine and any(
                    type(small) is cst.Expr and type(small.value) is cst.Call
                    and type(small.value.func) is cst.Attribute and small.value.func.attr.value == "eval"
                    and key_of(small.value.func.value) == model and not small.value.args
                    for small in stmt.body):
                return True
    return False
