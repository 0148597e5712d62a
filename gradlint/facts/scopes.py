"""Functions, classes and call sites of one file, found by a statement-level pre-scan.

The pre-scan walks statement bodies only (never expressions), which is cheap; the
interpreter fills in the rest (summaries, class attributes, call sites).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Dict, FrozenSet, List, Optional, Tuple, Union

import libcst as cst

from . import torchapi
from .names import ImportTable
from .syntax import TRIVIA, walk


@dataclass(eq=False)
class CallSite:
    """A call of a local function, with the caller's state at the call."""

    node: cst.Call
    caller: "FunctionInfo"
    callee: "FunctionInfo"
    args: Dict[str, Optional[str]]     # callee parameter -> caller key of the argument (None: no key)
    receiver: Optional[str]            # caller key bound to `self` (for method calls)
    grad: frozenset
    modes: dict                        # the caller's mode map at the call (never mutated)
    trained: bool                      # a training step ran earlier in the caller
    loops: tuple                       # the caller's enclosing loops at the call
    in_region: bool
    values: Dict[str, object]          # callee parameter -> the argument's Value
    frozen: tuple = ()                 # the caller's keys that may be frozen at the call
    fresh: tuple = ()                  # its names bound to a new model since its last training step


@dataclass(eq=False)
class ClassInfo:
    name: str
    node: cst.ClassDef
    base_quals: List[Optional[str]]
    base_names: List[str]
    methods: Dict[str, "FunctionInfo"] = field(default_factory=dict)
    local_bases: List["ClassInfo"] = field(default_factory=list)
    attrs: Dict[str, object] = field(default_factory=dict)   # self.<attr> -> Value
    uses_training_flag: bool = False  # reads self.training / calls F.dropout: mode-dependent
    freezes_self: bool = False        # a method freezes parameters of self
    unfreezes_self: bool = False
    interpreted: bool = False
    ref: Optional[str] = None         # "path:Name", how other files' summaries name it
    _usage: Optional[tuple] = None    # _self_usage of this class's own body

    @property
    def is_module(self) -> Optional[bool]:
        """True with evidence (a torch.nn class, a known model base, a base class of this
        project that is a module); False when every base is known not to be one; None when
        a base is unknown (another library's class): a name never makes a module."""
        unknown = False
        local = {id(b): b for b in self.local_bases}
        for arg, qual, name in zip(self.node.bases, self.base_quals, self.base_names):
            base = next((b for b in local.values() if b.name == name), None)
            if base is not None:
                known = base.is_module
            else:
                known = torchapi.module_base(qual)
                if known is None and qual is None and name in ("object", "ABC", "Exception", "NamedTuple"):
                    known = False
            if known:
                return True
            if known is None:
                unknown = True
        return None if unknown else False

    @property
    def framework(self) -> Optional[str]:
        for q in self.base_quals:
            if not q:
                continue
            if q.startswith(torchapi.LIGHTNING_PREFIXES):
                return "lightning"
            if q.startswith("transformers.") and q.endswith(torchapi.HF_TRAINER_WORDS):
                return "hf_trainer"
            if q.startswith("skorch."):
                return "skorch"
        for b in self.local_bases:
            if b.framework:
                return b.framework
        return None

    @property
    def is_hf_model(self) -> bool:
        if any(q and q.startswith(("transformers.", "diffusers.")) and "Model" in q for q in self.base_quals):
            return True
        return any(getattr(b, "is_hf_model", False) for b in self.local_bases)

    def method(self, name: str) -> Optional["FunctionInfo"]:
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

    @cached_property
    def self_reads(self) -> Optional[FrozenSet[str]]:
        """The ``self.<attr>`` names the class's own code reads (an assignment's target is not a
        read), its local bases' code included; None when its parts may be reached another way
        (``self.children()``, ``getattr(self, ...)``, ``self`` handed to a function), by a base
        other than ``nn.Module`` whose methods may read what this class assigns, or by the
        ``forward`` of a subclass (a class without one is a base)."""
        return self._combined(0)

    @cached_property
    def self_module_uses(self) -> Optional[FrozenSet[str]]:
        """The ``self.<attr>`` names the class's code could use as a module: called
        (``self.x(...)``, ``self.x.m(...)``, ``self.x[i](...)``), iterated, handed to a function,
        returned or aliased. An attribute only indexed or computed with (a statistics dict, a
        size) is none. None when ``self_reads`` cannot tell."""
        return self._combined(1) if self.self_reads is not None else None

    def _combined(self, which: int) -> Optional[FrozenSet[str]]:
        """The union over the class and its local bases of ``_self_usage``'s reads (0) or uses (1)."""
        classes = list(self.all_classes())
        if not any("forward" in c.methods for c in classes):
            return None  # no forward yet: a base whose subclasses (elsewhere too) read its parts
        out: set = set()
        for c in classes:
            if getattr(c, "is_summary", False):
                return None  # another file's base class: its methods may read any part
            local = {b.name for b in c.local_bases}
            if any(n not in local and q not in _PLAIN_BASES for q, n in zip(c.base_quals, c.base_names)):
                return None
            if c._usage is None:
                c._usage = _self_usage(c.node)
            found = c._usage[which]
            if found is None:
                return None
            out |= found
        return frozenset(out)


@dataclass(eq=False)
class FunctionInfo:
    name: str
    node: Union[cst.FunctionDef, cst.Module]
    parent: Optional["FunctionInfo"]
    cls: Optional[ClassInfo]
    params: List[str] = field(default_factory=list)
    decorator_quals: List[Optional[str]] = field(default_factory=list)
    decorator_names: List[str] = field(default_factory=list)
    local_defs: Dict[str, Union["FunctionInfo", ClassInfo]] = field(default_factory=dict)
    callsites: List[CallSite] = field(default_factory=list)
    escapes: bool = False            # referenced other than by a call: callers unknown
    # filled by the interpreter
    status: str = "new"              # new | running | done
    exit_modes: dict = field(default_factory=dict)
    exit_trained: bool = False
    trains: bool = False             # runs a training step (backward / optimizer step)
    uses_grad: bool = False          # backward, autograd.grad, .grad, requires_grad_
    freezes: Dict[str, bool] = field(default_factory=dict)  # key -> True when frozen on every path
    unfreezes: set = field(default_factory=set)
    replaces: set = field(default_factory=set)     # keys of submodules it stores a new module at (GL304)
    modulelike: set = field(default_factory=set)   # keys used as modules (.eval(), .parameters()...)
    locals: set = field(default_factory=set)       # names bound in the function
    returns: Optional[object] = None
    grad_decorator: Optional[str] = None  # "on" / "off" from @torch.no_grad & co.
    external_callers: bool = False   # called (or referenced) from another file of the project

    @property
    def method(self) -> Optional["FunctionInfo"]:
        """The method this function is, or is nested in (it sees that method's ``self``); None
        outside classes."""
        fn = self
        while fn is not None and not fn.is_module_level and fn.cls is None:
            fn = fn.parent
        return fn if fn is not None and not fn.is_module_level and fn.cls is not None else None

    @property
    def is_module_level(self) -> bool:
        return isinstance(self.node, cst.Module)

    @property
    def qualname(self) -> str:
        if self.is_module_level:
            return "<module>"
        prefix = ""
        if self.cls is not None:
            prefix = self.cls.name + "."
        elif self.parent is not None and not self.parent.is_module_level:
            prefix = self.parent.qualname + ".<locals>."
        return prefix + self.name


def _block_statements(body) -> List[cst.CSTNode]:
    if isinstance(body, cst.IndentedBlock):
        return list(body.body)
    if isinstance(body, cst.SimpleStatementSuite):
        return [cst.SimpleStatementLine(body=body.body)]
    return []


def child_blocks(stmt: cst.CSTNode) -> List[cst.CSTNode]:
    """The statement lists nested in a compound statement (not function/class bodies)."""
    out: List[cst.CSTNode] = []
    if isinstance(stmt, cst.If):
        out += _block_statements(stmt.body)
        orelse = stmt.orelse
        if isinstance(orelse, cst.If):
            out.append(orelse)
        elif isinstance(orelse, cst.Else):
            out += _block_statements(orelse.body)
    elif isinstance(stmt, (cst.For, cst.While)):
        out += _block_statements(stmt.body)
        if stmt.orelse is not None:
            out += _block_statements(stmt.orelse.body)
    elif isinstance(stmt, cst.With):
        out += _block_statements(stmt.body)
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        out += _block_statements(stmt.body)
        for handler in stmt.handlers:
            out += _block_statements(handler.body)
        if stmt.orelse is not None:
            out += _block_statements(stmt.orelse.body)
        if stmt.finalbody is not None:
            out += _block_statements(stmt.finalbody.body)
    elif isinstance(stmt, cst.Match):
        for case in stmt.cases:
            out += _block_statements(case.body)
    return out


def _param_names(params: cst.Parameters) -> List[str]:
    names = [p.name.value for p in params.posonly_params]
    names += [p.name.value for p in params.params]
    if isinstance(params.star_arg, cst.Param):
        names.append(params.star_arg.name.value)
    names += [p.name.value for p in params.kwonly_params]
    if params.star_kwarg is not None:
        names.append(params.star_kwarg.name.value)
    return names


def _decorator_name(expr: cst.CSTNode) -> str:
    if isinstance(expr, cst.Call):
        expr = expr.func
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return expr.attr.value
    return ""


class Scopes:
    """Every function and class of a module, and the import table.

    With a project context, a base class imported from another project file is that
    file's ``ClassSummary``, among ``local_bases``: its methods, attributes, module-ness and
    framework count as a local base's do.
    """

    def __init__(self, module: cst.Module, context=None) -> None:
        self.imports = ImportTable()
        self.module_fn = FunctionInfo("<module>", module, None, None)
        self.functions: List[FunctionInfo] = []
        self.classes: List[ClassInfo] = []
        self.redefined: Dict[int, ClassInfo] = {}  # id(ClassDef) -> its class, for names defined twice
        self._scan(list(module.body), self.module_fn, None)
        if context is not None and self.imports.stars:
            self.imports.star_resolver = context.star_name
        # Decorators and bases are resolved once every import is known.
        for fn in self.functions:
            decorators = fn.node.decorators
            fn.decorator_quals = [self.imports.qualname(
                d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator)
                for d in decorators]
            fn.decorator_names = [_decorator_name(d.decorator) for d in decorators]
        by_name = {c.name: c for c in self.classes}
        for c in self.classes:
            c.base_quals = [self.imports.qualname(a.value) for a in c.node.bases]
            c.base_names = [_decorator_name(a.value) for a in c.node.bases]
            c.local_bases = []
            for name, qual, arg in zip(c.base_names, c.base_quals, c.node.bases):
                if name in by_name and by_name[name] is not c and isinstance(arg.value, cst.Name):
                    c.local_bases.append(by_name[name])
                elif context is not None and qual:
                    found = context.symbol(qual)
                    if getattr(found, "is_summary", False) and hasattr(found, "methods"):
                        c.local_bases.append(found)
            if context is not None:
                c.ref = context.class_ref(c.name)

    def _scan(self, stmts, owner: FunctionInfo, cls: Optional[ClassInfo]) -> None:
        for stmt in stmts:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, (cst.Import, cst.ImportFrom)):
                        self.imports.add(small)
            elif isinstance(stmt, cst.FunctionDef):
                fn = FunctionInfo(stmt.name.value, stmt, owner, cls, _param_names(stmt.params))
                self.functions.append(fn)
                if cls is not None:
                    cls.methods.setdefault(fn.name, fn)
                else:
                    owner.local_defs[fn.name] = fn
                self._scan(_block_statements(stmt.body), fn, None)
            elif isinstance(stmt, cst.ClassDef):
                info = ClassInfo(stmt.name.value, stmt, [], [])
                self.classes.append(info)
                earlier = owner.local_defs.get(info.name)
                if isinstance(earlier, ClassInfo):  # a notebook's cell redefines the class
                    self.redefined[id(earlier.node)] = earlier
                    self.redefined[id(stmt)] = info
                owner.local_defs[info.name] = info
                self._scan(_block_statements(stmt.body), owner, info)
            else:
                self._scan(child_blocks(stmt), owner, cls)

    def lookup(self, name: str, fn: Optional[FunctionInfo]):
        """A local function or class visible as ``name`` from inside ``fn``."""
        while fn is not None:
            found = fn.local_defs.get(name)
            if found is not None:
                return found
            fn = fn.parent
        return None


# Bases whose methods read no attribute a subclass assigns.
_PLAIN_BASES = frozenset({"torch.nn.Module", "object"})
# Ways to reach every part of a module without naming it.
_DYNAMIC_SELF = frozenset({"children", "named_children", "modules", "named_modules", "_modules", "__dict__",
                           "apply", "state_dict"})


def _self_attr(node) -> Optional[str]:
    if type(node) is cst.Attribute and type(node.value) is cst.Name and node.value.value == "self":
        return node.attr.value
    return None


def _self_usage(node: cst.ClassDef) -> Tuple[Optional[set], set]:
    """One walk over a class body: the ``self.X`` names it reads (None when its parts are
    reached dynamically), and those it uses where a module could be (see
    ``ClassInfo.self_module_uses``). A node comes before its children, so an assignment's
    targets are known before they are reached."""
    targets, reads, uses = set(), set(), set()
    for n in walk(node, TRIVIA):
        t = type(n)
        found = []
        if t is cst.Assign:
            targets.update(id(a.target) for a in n.targets)
        elif t is cst.AnnAssign:
            targets.add(id(n.target))
        elif t is cst.Attribute and id(n) not in targets:
            name = _self_attr(n)
            if name in _DYNAMIC_SELF:
                reads = None
            elif name is not None and reads is not None:
                reads.add(name)
        elif t is cst.Call:
            if any(type(a.value) is cst.Name and a.value.value == "self" for a in n.args) \
                    and not (type(n.func) is cst.Name and n.func.value == "super"):
                reads = None  # getattr(self, name), vars(self), helper(self)
            func = n.func.value if type(n.func) is cst.Subscript else n.func
            found.append(_self_attr(func))
            if type(func) is cst.Attribute:
                found.append(_self_attr(func.value))
            found.extend(_self_attr(a.value) for a in n.args)
        elif t is cst.For or t is cst.CompFor:
            found.append(_self_attr(n.iter))
        if t in (cst.Return, cst.Yield, cst.Assign, cst.AnnAssign) and getattr(n, "value", None) is not None:
            found.append(_self_attr(n.value))
            if type(n.value) in (cst.Tuple, cst.List):
                found.extend(_self_attr(e.value) for e in n.value.elements)
        uses.update(f for f in found if f)
    return reads, uses
