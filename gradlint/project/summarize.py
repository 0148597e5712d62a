"""A file's ``ModuleSummary`` (see ``summary``), read off its facts after the analysis."""

from __future__ import annotations

from typing import Dict, List

from ..facts.names import overlaps
from ..facts.state import lookup_mode
from .summary import FORMAT, atoms_out, digest, value_out

# Kinds of module-level values other files may import and use.
_GLOBAL_KINDS = frozenset({"module", "tensor", "optimizer", "object"})


def _related(key: str, roots) -> bool:
    return any(overlaps(key, r) for r in roots)


def site_data(site, caller_name: str) -> dict:
    """A call site, tree-free; its states stay symbolic in the caller's entry."""
    roots = [k for k in site.args.values() if k] + ([site.receiver] if site.receiver else [])
    modes = {k: atoms_out(v) for k, v in site.modes.items() if _related(k, roots)}
    for key in roots:  # what the caller's state says of each argument, even when inherited
        if key not in modes:
            found = lookup_mode(site.modes, key, site.trained, False)
            if found and any(kind != "unknown" for kind, _ in found):
                modes[key] = atoms_out(found)
    data = {
        "caller": caller_name,
        "args": dict(site.args),
        "grad": sorted(site.grad),
        "trained": sorted(site.trained),
    }
    if modes:
        data["modes"] = modes
    if site.receiver:
        data["receiver"] = site.receiver
    if any(loop.trains for loop in site.loops):
        data["training_loop"] = True
    if site.in_region:
        data["in_region"] = True
    values = {k: value_out(v) for k, v in (site.values or {}).items() if v is not None and v.kind != "unknown"}
    if values:
        data["values"] = values
    frozen = [k for k in getattr(site, "frozen", ()) if _related(k, roots)]
    if frozen:
        data["frozen"] = sorted(frozen)
    fresh = [k for k in getattr(site, "fresh", ()) if _related(k, roots)]
    if fresh:
        data["fresh"] = fresh
    return data


def function_data(facts, fn) -> dict:
    data = {"name": fn.name, "qualname": fn.qualname, "params": list(fn.params)}
    if fn.is_module_level:
        data["module_level"] = True
    if fn.decorator_names:
        data["decorators"] = list(fn.decorator_names)
    for name in ("grad_decorator",):
        if getattr(fn, name):
            data[name] = getattr(fn, name)
    for name in ("trains", "uses_grad", "exit_trained", "escapes"):
        if getattr(fn, name):
            data[name] = True
    if fn.exit_modes:
        data["exit_modes"] = {k: atoms_out(v) for k, v in sorted(fn.exit_modes.items())}
    if fn.freezes:
        data["freezes"] = sorted(fn.freezes)
    if fn.unfreezes:
        data["unfreezes"] = sorted(fn.unfreezes)
    if fn.replaces:
        data["replaces"] = sorted(fn.replaces)
    if fn.modulelike:
        data["modulelike"] = sorted(fn.modulelike)
    if fn.locals:
        data["locals"] = sorted(fn.locals)
    framework = facts.framework_of(fn)
    if framework:
        data["framework"] = framework
    if not fn.is_module_level and facts.is_test_function(fn):
        data["is_test"] = True
    returns = value_out(fn.returns) if fn.returns is not None else None
    if returns is not None:
        data["returns"] = returns
    sites = [site_data(s, s.caller.qualname) for s in fn.callsites]
    if sites:
        data["sites"] = sites
    return data


def class_data(facts, cls) -> dict:
    interp = facts.interpreter
    data = {"name": cls.name, "base_quals": list(cls.base_quals), "base_names": list(cls.base_names)}
    refs = [getattr(b, "ref", None) for b in cls.local_bases]
    if any(refs):
        data["base_refs"] = [r for r in refs if r]
    data["is_module"] = cls.is_module
    for name in ("framework",):
        if getattr(cls, name):
            data[name] = getattr(cls, name)
    for name in ("is_hf_model", "uses_training_flag", "freezes_self", "unfreezes_self"):
        if getattr(cls, name):
            data[name] = True
    if "forward" in cls.methods:
        data["has_forward"] = True
    mode_dep = interp.class_mode_dep(cls)
    if mode_dep is not None:
        data["mode_dep"] = mode_dep
    inherited = interp.class_mode_dep(cls, used_only=False)
    if inherited != mode_dep:
        data["base_mode_dep"] = inherited  # a subclass may use the layers this class leaves unread
    has_params = interp.class_has_params(cls)
    if has_params is not None:
        data["has_params"] = has_params
    frozen = interp.class_frozen_parts(cls)
    if frozen:
        data["frozen_parts"] = list(frozen)
    attrs = {k: value_out(v) for k, v in sorted(cls.attrs.items()) if v is not None}
    if attrs:
        data["attrs"] = attrs
    data["methods"] = {name: fn.qualname for name, fn in sorted(cls.methods.items())}
    return data


def summarize(facts, module: str, relpath: str, scan) -> dict:
    """The ModuleSummary of a file whose facts are built (``FileFacts`` with a project)."""
    scopes = facts.scopes
    functions: Dict[str, dict] = {}
    for fn in [scopes.module_fn] + scopes.functions:
        functions[fn.qualname] = function_data(facts, fn)
    classes = {cls.name: class_data(facts, cls) for cls in scopes.classes}
    globals_ = {}
    for name, value in facts.interpreter.module_env.items():
        if "." not in name and value.kind in _GLOBAL_KINDS:
            globals_[name] = value_out(value)
    calls: List[dict] = []
    for site in facts.events.external_calls:
        entry = site_data(site, site.caller.qualname)
        entry["callee"] = site.callee.ref
        calls.append(entry)
    data = {
        "format": FORMAT, "module": module, "path": relpath,
        "torch": scan.torch, "other_framework": scan.other_framework,
        "imports": dict(sorted(scopes.imports.names.items())),
        "stars": list(scopes.imports.stars),
        "functions": functions, "classes": classes, "globals": globals_, "calls": calls,
    }
    data["exports_digest"] = exports_digest(data)
    return data


def exports_digest(data: dict) -> str:
    """What importers read: everything but the call sites (they only concern the callees)."""
    functions = {q: {k: v for k, v in f.items() if k != "sites"} for q, f in data["functions"].items()}
    return digest([data["module"], data["imports"], data["stars"], functions, data["classes"], data["globals"],
                   data["torch"], data["other_framework"]])
