"""The project view of one run: which files are analysed, in what order, and what they share.

For the files a user names, the analysis set is what their findings can depend on: the
files they import (transitively: a model class, a freezing helper), the files that import
them (transitively: the callers whose state reaches a helper), and what those callers
import. Files are analysed after the files they import, so a file's analysis reads the
summaries of its imports (``FileContext.symbol``); once every summary is in, the call sites
in other files are attached to the functions they call (``attach_upward``), and the rules
run. Findings are reported for the named files only; the others lend facts.

The same set and order come out whichever of a project's files are named, so the CLI on
the whole tree, pre-commit on one changed file and the flake8 plugin on one file agree.
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Set

from ..discovery import discover
from ..source import MAX_FILE_SIZE, may_matter
from .imports import ImportScan, scan_imports
from .layout import Layout
from .summary import ClassSummary, FunctionSummary, Site, digest, value_in

_MAX_REEXPORT_DEPTH = 8
_SCANS: Dict[str, tuple] = {}   # path -> ((mtime_ns, size), ImportScan), for this process
_LAYOUTS: Dict[str, Layout] = {}  # root -> Layout (its file-existence answers), for this run


class ModuleRef:
    """A project module used as a value (``import utils``): attribute access looks inside it."""

    def __init__(self, runtime: "ModuleRuntime") -> None:
        self.runtime = runtime


class ModuleRuntime:
    """One file's summary as objects: its functions, classes and globals, linked."""

    def __init__(self, path: str, data: dict, view: "ProjectView") -> None:
        self.path = path
        self.data = data
        self.module = data["module"]
        self.imports: Dict[str, str] = data.get("imports", {})
        self.functions: Dict[str, FunctionSummary] = {}
        self.classes: Dict[str, ClassSummary] = {}
        self.globals: Dict[str, object] = {}
        self.pytorch = bool(data.get("torch"))
        for name, cdata in data.get("classes", {}).items():
            self.classes[name] = ClassSummary(cdata, f"{self.module}:{name}")
        for qualname, fdata in data.get("functions", {}).items():
            owner = None
            if "." in qualname and "<locals>" not in qualname:
                owner = self.classes.get(qualname.split(".", 1)[0])
            self.functions[qualname] = FunctionSummary(fdata, f"{self.module}:{qualname}", owner)
        classes = view.class_by_ref
        for name, cls in self.classes.items():
            cdata = data["classes"][name]
            cls.local_bases = [b for b in (classes(ref) for ref in cdata.get("base_refs", ())) if b is not None]
            cls.methods = {m: self.functions[q] for m, q in cdata.get("methods", {}).items() if q in self.functions}
        for cls in self.classes.values():
            cls.attrs = {k: value_in(v, classes) for k, v in cls.attrs_data.items()}
        for fn in self.functions.values():
            fn.returns = value_in(fn.returns_data, classes)
            fn.external_sites = []
        for qualname, fn in self.functions.items():
            for sdata in data["functions"][qualname].get("sites", ()):
                caller = self.functions.get(sdata["caller"])
                if caller is not None:
                    fn.callsites.append(Site(sdata, caller, fn, classes))
        for name, vdata in data.get("globals", {}).items():
            self.globals[name] = value_in(vdata, classes)

    def lookup(self, rest: str, view: "ProjectView", depth: int = 0):
        """What ``rest`` (``evaluate``, ``Net.from_config``) names in this module."""
        if not rest:
            return ModuleRef(self)
        first, _, more = rest.partition(".")
        if first in self.classes:
            cls = self.classes[first]
            return cls.method(more) if more else cls
        if not more and first in self.functions:
            return self.functions[first]
        if not more and first in self.globals:
            return self.globals[first]
        if first in self.imports and depth < _MAX_REEXPORT_DEPTH:  # a re-export: `from .a import b`
            return view.symbol(self.path, self.imports[first] + (f".{more}" if more else ""), depth + 1)
        for star in self.data.get("stars", ()):  # `from .parts import *`
            qualified = view.star_name(self.path, star, first, depth + 1)
            if qualified is not None and depth < _MAX_REEXPORT_DEPTH:
                return view.symbol(self.path, qualified + (f".{more}" if more else ""), depth + 1)
        return None


class FileContext:
    """What the project tells one file's analysis while it runs (downward facts)."""

    def __init__(self, view: "ProjectView", path: str) -> None:
        self.view = view
        self.path = path
        self.module = view.ref_of(path)

    def symbol(self, qualified: Optional[str]):
        if not qualified:
            return None
        return self.view.symbol(self.path, qualified)

    def star_name(self, module: str, name: str) -> Optional[str]:
        """What ``name`` is when ``from module import *`` brought it: the qualified name to
        resolve from this file (another library's name as that module imported it, or a name
        of the module itself), or None when the module does not have it."""
        return self.view.star_name(self.path, module, name)

    def class_ref(self, name: str) -> str:
        return f"{self.module}:{name}"

    def function_ref(self, qualname: str) -> str:
        return f"{self.module}:{qualname}"


class ProjectView:
    """The files of one project root that a run analyses, and their summaries."""

    def __init__(self, root: str, texts: Optional[Dict[str, str]] = None,
                 max_file_size: Optional[int] = MAX_FILE_SIZE) -> None:
        self.layout = _LAYOUTS.get(os.path.abspath(root)) or Layout(root)
        _LAYOUTS[self.layout.root] = self.layout
        self.root = self.layout.root
        self.texts: Dict[str, Optional[str]] = dict(texts or {})  # path -> text (given: stdin, editor)
        self.errors: Dict[str, tuple] = {}                         # path -> (code, why it cannot be read)
        self.max_file_size = max_file_size
        self._scans: Dict[str, ImportScan] = {}
        self._deps: Dict[str, List[str]] = {}
        self._all_files: Optional[List[str]] = None
        self._reverse: Optional[Dict[str, Set[str]]] = None
        self.runtimes: Dict[str, ModuleRuntime] = {}
        self._modules: Dict[str, str] = {}
        self._by_module: Dict[str, ModuleRuntime] = {}
        self._symbols: Dict[tuple, object] = {}

    # -- files and imports --------------------------------------------------------------------
    def text(self, path: str) -> Optional[str]:
        if path in self.texts:
            return self.texts[path]
        from ..source import SourceError, read_source

        try:
            text = read_source(path, self.max_file_size)
        except SourceError as exc:
            text = None
            self.errors[path] = (exc.code, exc.reason)
        self.texts[path] = text
        return text

    def scan(self, path: str) -> ImportScan:
        if path not in self._scans:
            self._scans[path] = self._scan_file(path)
        return self._scans[path]

    def _scan_file(self, path: str) -> ImportScan:
        """The import scan of a file; of an unchanged file on disk, the one this process made
        already (a run over many files, an editor session)."""
        if path in self.texts:
            return scan_imports(self.texts[path] or "")
        try:
            stat = os.stat(path)
        except OSError:
            return scan_imports("")
        stamp = (stat.st_mtime_ns, stat.st_size)
        known = _SCANS.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        found = scan_imports(self.text(path) or "")
        _SCANS[path] = (stamp, found)
        return found

    def deps(self, path: str) -> List[str]:
        """Project files ``path`` imports (directly)."""
        if path not in self._deps:
            files = self.layout.imported_files(path, self.scan(path).modules)
            self._deps[path] = [f for f in files if f.endswith(".py")]
        return self._deps[path]

    def all_files(self) -> List[str]:
        """The project's Python files (the callers of a linted file are among them)."""
        if self._all_files is None:
            if self.layout.marked:
                self._all_files = sorted(os.path.abspath(p) for p in discover([self.root], suffixes=(".py",)))
            else:
                try:
                    names = os.listdir(self.root)
                except OSError:
                    names = []
                self._all_files = sorted(os.path.join(self.root, n) for n in names
                                         if n.endswith(".py") and os.path.isfile(os.path.join(self.root, n)))
        return self._all_files

    def importers(self, path: str) -> Set[str]:
        """Project files that import ``path``. Only files whose imports name ``path``'s module
        (its stem, or its package's folder) are resolved: most of a large tree never is."""
        if self._reverse is None:
            self._reverse = {}
            self._mentions: Dict[str, Set[str]] = {}
            self._relative: Dict[str, List[str]] = {}  # folder -> its files with a relative import
            for f in self.all_files():
                for name in self.scan(f).modules:
                    for part in name.strip(".").split("."):
                        self._mentions.setdefault(part, set()).add(f)
                if any(name.startswith(".") for name in self.scan(f).modules):
                    self._relative.setdefault(os.path.dirname(f), []).append(f)
        if path not in self._reverse:
            stem = os.path.splitext(os.path.basename(path))[0]
            if stem == "__init__":
                stem = os.path.basename(os.path.dirname(path))
            found = set()
            for f in self._mentions.get(stem, set()) | self._relative_importers(path):
                if f != path and path in self.deps(f):
                    found.add(f)
            self._reverse[path] = found
        return self._reverse[path]

    def _relative_importers(self, path: str) -> Set[str]:
        """``from . import x`` names no module: the files with a relative import next to
        ``path``, below it in its package, and in the folder above (indexed once per view:
        a scan of every file for every file was quadratic, 35 s on 2,800 files)."""
        folder = os.path.dirname(path)
        if not self._has_relative(folder):
            return set()
        above = os.path.dirname(folder)
        return {f for where, files in self._relative.items()
                if where == folder or where.startswith(folder + os.sep) or where == above for f in files}

    def _has_relative(self, folder: str) -> bool:
        return os.path.isfile(os.path.join(folder, "__init__.py"))

    def ref_of(self, path: str) -> str:
        """The name references to ``path``'s functions and classes start with: its path
        relative to the root (module names are not unique: every example has its main.py)."""
        if path not in self._modules:
            self._modules[path] = os.path.relpath(path, self.root).replace(os.sep, "/")
        return self._modules[path]

    # -- the analysis set -----------------------------------------------------------------------
    def analysis_set(self, linted: Iterable[str]) -> List[str]:
        """Every file the findings of ``linted`` can depend on, each after its imports."""
        return [f for component in self.analysis_components(linted) for f in component]

    def analysis_components(self, linted: Iterable[str]) -> List[List[str]]:
        """The analysis set of ``linted`` as its import cycles, in order (``components``)."""
        linted = [os.path.abspath(p) for p in linted]
        callers: Set[str] = set()
        stack = list(linted)
        while stack:
            path = stack.pop()
            if path in callers:
                continue
            callers.add(path)
            stack.extend(self.importers(path) - callers)
        wanted: Set[str] = set()
        stack = list(callers)
        while stack:
            path = stack.pop()
            if path in wanted:
                continue
            wanted.add(path)
            stack.extend(d for d in self.deps(path) if d not in wanted)
        return self.components(sorted(wanted))

    def components(self, files: List[str]) -> List[List[str]]:
        """``files`` as import cycles (Tarjan's strongly connected components, most of one
        file), each after the components it imports; a cycle's files in a stable order."""
        members = set(files)
        index: Dict[str, int] = {}
        low: Dict[str, int] = {}
        on_stack: Set[str] = set()
        stack: List[str] = []
        out: List[List[str]] = []
        counter = [0]

        def visit(start: str) -> None:
            work = [(start, iter(sorted(d for d in self.deps(start) if d in members)))]
            index[start] = low[start] = counter[0]
            counter[0] += 1
            stack.append(start)
            on_stack.add(start)
            while work:
                node, children = work[-1]
                advanced = False
                for child in children:
                    if child not in index:
                        index[child] = low[child] = counter[0]
                        counter[0] += 1
                        stack.append(child)
                        on_stack.add(child)
                        work.append((child, iter(sorted(d for d in self.deps(child) if d in members))))
                        advanced = True
                        break
                    if child in on_stack:
                        low[node] = min(low[node], index[child])
                if advanced:
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    out.append(sorted(component))

        for path in files:
            if path not in index:
                visit(path)
        return out

    def relevant(self, files: List[str]) -> Set[str]:
        """Files worth a parse: those that may concern torch, and the files they import (a
        torch-free ``utils.py`` whose ``accuracy(model, loader)`` train.py calls)."""
        members = set(files)
        seen: Set[str] = set()
        stack = [f for f in files if may_matter(self.text(f) or "")]
        while stack:
            path = stack.pop()
            if path in seen:
                continue
            seen.add(path)
            stack.extend(d for d in self.deps(path) if d in members and d not in seen)
        return seen

    # -- summaries -------------------------------------------------------------------------------
    def add_summary(self, path: str, data: dict) -> ModuleRuntime:
        runtime = ModuleRuntime(path, data, self)
        self.runtimes[path] = runtime
        self._by_module[runtime.module] = runtime
        return runtime

    def class_by_ref(self, ref: str) -> Optional[ClassSummary]:
        module, _, name = ref.partition(":")
        runtime = self._by_module.get(module)
        return runtime.classes.get(name) if runtime is not None else None

    def function_by_ref(self, ref: str) -> Optional[FunctionSummary]:
        module, _, name = ref.partition(":")
        runtime = self._by_module.get(module)
        return runtime.functions.get(name) if runtime is not None else None

    def symbol(self, path: str, qualified: str, depth: int = 0):
        """What ``qualified`` (as ``path``'s import table writes it) names in the project."""
        key = (path, qualified)
        if key in self._symbols:
            return self._symbols[key]
        found = self._symbol(path, qualified, depth)
        if found is not None or self.layout.resolve(path, qualified) is None:
            # A miss inside the project is not kept: the file it names, or one it re-exports
            # from (`from .net import NeuralNet` in a package's `__init__`), may not be
            # summarised yet (an import cycle is summarised one file at a time)
            self._symbols[key] = found
        return found

    def _symbol(self, path: str, qualified: str, depth: int = 0):
        found = self.layout.resolve(path, qualified)
        if found is None:
            return None
        file, _, rest = found
        runtime = self.runtimes.get(file)
        if runtime is None:
            return None
        return runtime.lookup(rest, self, depth)

    def star_name(self, path: str, module: str, name: str, depth: int = 0) -> Optional[str]:
        found = self.layout.resolve(path, module)
        if found is None or found[2] or depth > _MAX_REEXPORT_DEPTH:
            return None
        runtime = self.runtimes.get(found[0])
        if runtime is None or name.startswith("_"):
            return None
        if name in runtime.classes or name in runtime.functions or name in runtime.globals:
            return f"{module}.{name}"
        imported = runtime.imports.get(name)
        if imported is not None:
            if imported.startswith(".") or self.layout.resolve(runtime.path, imported) is not None:
                return f"{module}.{name}"  # a project name it imported: looked up through it
            return imported
        for inner in runtime.data.get("stars", ()):
            inner_found = self.star_name(runtime.path, inner, name, depth + 1)
            if inner_found is None:
                continue
            if inner_found.startswith(".") or self.layout.resolve(runtime.path, inner_found) is not None:
                return f"{module}.{name}"  # a project name: looked up through the module's own star
            return inner_found
        return None

    def context(self, path: str) -> FileContext:
        return FileContext(self, path)

    def link_calls(self) -> None:
        """Attach every summary's calls into other files to the functions they call (upward)."""
        for runtime in self.runtimes.values():
            for fn in runtime.functions.values():
                fn.external_sites = []
                fn.escapes_elsewhere = False
        for runtime in self.runtimes.values():
            for call in runtime.data.get("calls", ()):
                callee = self.function_by_ref(call["callee"])
                caller = runtime.functions.get(call["caller"])
                if callee is None or caller is None:
                    continue
                callee.external_sites.append(Site(call, caller, callee, self.class_by_ref))
            for ref in runtime.data.get("escapes", ()):
                callee = self.function_by_ref(ref)
                if callee is not None:
                    callee.escapes_elsewhere = True
        for runtime in self.runtimes.values():
            for fn in runtime.functions.values():
                fn.callsites = [s for s in fn.callsites if s.caller.ref.startswith(runtime.module + ":")]
                fn.callsites.extend(fn.external_sites)
                fn.escapes = fn.escapes or fn.escapes_elsewhere

    def attach_upward(self, path: str, facts) -> None:
        """Give a file's own functions (its live facts) the call sites in other files."""
        runtime = self.runtimes.get(path)
        if runtime is None:
            return
        for fn in [facts.scopes.module_fn] + facts.scopes.functions:
            summary = runtime.functions.get(fn.qualname)
            if summary is None:
                continue
            for site in summary.external_sites:
                live = _LiveSite(site, fn)
                fn.callsites.append(live)
            if summary.escapes_elsewhere:
                fn.escapes = True
            fn.external_callers = bool(summary.external_sites) or summary.escapes_elsewhere

    def pytorch_files(self) -> Set[str]:
        """Files that are PyTorch code: they import torch, or they use what a PyTorch file of
        the project exports or are called by one with models and tensors, and import no other
        framework (MXNet, TensorFlow, JAX code beside PyTorch code gives no finding)."""
        torch = {p for p, r in self.runtimes.items() if r.data.get("torch")}
        changed = True
        while changed:
            changed = False
            for path, runtime in self.runtimes.items():
                if path in torch or runtime.data.get("other_framework"):
                    continue
                uses = any(d in torch for d in self.deps(path) if d in self.runtimes)
                called = any(s.caller.ref.partition(":")[0] != runtime.module and
                             self._path_of_ref(s.caller.ref) in torch and
                             any(v is not None and v.kind in ("module", "tensor") for v in s.values.values())
                             for fn in runtime.functions.values() for s in fn.external_sites)
                if uses or called:
                    torch.add(path)
                    changed = True
        return torch

    def _path_of_ref(self, ref: str) -> Optional[str]:
        runtime = self._by_module.get(ref.partition(":")[0])
        return runtime.path if runtime is not None else None


class _LiveSite:
    """A call site in another file, seen from the live facts of the callee's file."""

    __slots__ = ("site", "callee")

    def __init__(self, site: Site, callee) -> None:
        self.site = site
        self.callee = callee

    def __getattr__(self, name):
        return getattr(self.site, name)


def upward_digest(view: "ProjectView", path: str) -> str:
    """What a file's findings read from other files, as one hash: every call site in another
    file that reaches one of its functions, and (since those sites' states are symbolic in
    their callers' entries) the same for the callers, transitively. Its key stays the same
    while those sites do, so an edit elsewhere that changes no call into the file keeps its
    cached findings."""
    runtime = view.runtimes.get(path)
    if runtime is None:
        return ""
    parts: List[str] = []
    seen: Set[str] = set()
    stack = [fn for fn in runtime.functions.values() if fn.external_sites or fn.escapes_elsewhere]
    while stack:
        fn = stack.pop()
        if fn.ref in seen:
            continue
        seen.add(fn.ref)
        parts.append(f"{fn.ref}|{int(fn.escapes_elsewhere)}")
        for site in fn.external_sites if fn.ref.startswith(runtime.module + ":") else fn.callsites:
            parts.append(_site_digest(site))
            stack.append(site.caller)
    return digest(sorted(parts))


def _site_digest(site) -> str:
    data = {"caller": site.caller.ref, "args": site.args, "receiver": site.receiver,
            "grad": sorted(site.grad), "trained": sorted(site.trained),
            "modes": {k: sorted(map(str, v)) for k, v in sorted(site.modes.items())},
            "loops": [loop.trains for loop in site.loops], "in_region": site.in_region,
            "frozen": list(site.frozen), "fresh": list(site.fresh),
            "values": {k: (v.kind, getattr(v.cls, "ref", None), v.mode_dep) for k, v in sorted(site.values.items())
                       if v is not None}}
    return digest(data)
