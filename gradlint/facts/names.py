"""What each local name means in torch: the import table and dotted keys.

Names are resolved with this file's own import table rather than libcst's
QualifiedNameProvider, which costs about 11 parses per file (design.md).
"""

from __future__ import annotations

from typing import Dict, List, Optional

import libcst as cst

# Public spellings that name the same object as a canonical one.
_CANONICAL = {
    "torch.autograd.no_grad": "torch.no_grad",
    "torch.autograd.grad_mode.no_grad": "torch.no_grad",
    "torch.autograd.enable_grad": "torch.enable_grad",
    "torch.autograd.grad_mode.enable_grad": "torch.enable_grad",
    "torch.autograd.set_grad_enabled": "torch.set_grad_enabled",
    "torch.autograd.grad_mode.set_grad_enabled": "torch.set_grad_enabled",
    "torch.autograd.inference_mode": "torch.inference_mode",
    "torch.autograd.grad_mode.inference_mode": "torch.inference_mode",
    "torch.nn.modules.module.Module": "torch.nn.Module",
    "torch.nn.parameter.Parameter": "torch.nn.Parameter",
    "torch.nn.parallel.DataParallel": "torch.nn.DataParallel",
    "torch.nn.DistributedDataParallel": "torch.nn.parallel.DistributedDataParallel",
    "torch.nn.parallel.distributed.DistributedDataParallel": "torch.nn.parallel.DistributedDataParallel",
    "torch.functional.F": "torch.nn.functional",
}


def canonical(qualname: str) -> str:
    if qualname in _CANONICAL:
        return _CANONICAL[qualname]
    # torch.nn.modules.linear.Linear -> torch.nn.Linear
    if qualname.startswith("torch.nn.modules."):
        parts = qualname.split(".")
        if len(parts) == 5:
            return "torch.nn." + parts[4]
    return qualname


def _dotted(node: cst.CSTNode) -> Optional[str]:
    if type(node) is cst.Name:
        return node.value
    if type(node) is cst.Attribute:
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


class ImportTable:
    """Local name -> qualified name, from every import statement in the file.

    ``from m import *`` records ``m`` in ``stars``; a ``star_resolver(m, name)`` (set when the
    project view knows ``m``) says what such a name is.
    """

    def __init__(self) -> None:
        self.names: Dict[str, str] = {}
        self.stars: List[str] = []
        self.star_resolver = None

    def add(self, node: cst.CSTNode) -> None:
        if type(node) is cst.Import:
            for alias in node.names:
                full = _dotted(alias.name)
                if full is None:
                    continue
                if alias.asname is not None and type(alias.asname.name) is cst.Name:
                    self.names[alias.asname.name.value] = full
                else:  # `import torch.nn` binds `torch`
                    root = full.split(".", 1)[0]
                    self.names[root] = root
        elif type(node) is cst.ImportFrom:
            base = _dotted(node.module) if node.module is not None else ""
            if base is None:
                return
            prefix = "." * len(node.relative) + base
            if type(node.names) is cst.ImportStar:
                self.stars.append(prefix)
                return
            for alias in node.names:
                name = _dotted(alias.name)
                if name is None:
                    continue
                local = name
                if alias.asname is not None and type(alias.asname.name) is cst.Name:
                    local = alias.asname.name.value
                self.names[local] = f"{prefix}.{name}" if base else prefix + name

    def _from_stars(self, name: str) -> Optional[str]:
        for module in self.stars:
            found = self.star_resolver(module, name)
            if found is not None:
                return found
        return None

    def qualname(self, node: cst.CSTNode) -> Optional[str]:
        """``T.no_grad`` -> ``torch.no_grad`` when ``import torch as T``; None if not imported."""
        if type(node) is cst.Name:
            full = self.names.get(node.value)
            if full is None and self.stars and self.star_resolver is not None:
                full = self._from_stars(node.value)
            return canonical(full) if full is not None else None
        if type(node) is cst.Attribute:
            base = self.qualname(node.value)
            return None if base is None else canonical(f"{base}.{node.attr.value}")
        return None


def key_of(node: cst.CSTNode) -> Optional[str]:
    """A dotted key for a name or attribute chain (``self.model.encoder``), else None.

    ``.module`` (DDP/DataParallel) and ``._orig_mod`` (torch.compile) are dropped: the
    wrapper and the wrapped model share parameters and train/eval mode.
    """
    if type(node) is cst.Name:
        return node.value
    if type(node) is cst.Attribute:
        base = key_of(node.value)
        if base is None:
            return None
        if node.attr.value in ("module", "_orig_mod"):
            return base
        return f"{base}.{node.attr.value}"
    if type(node) is cst.Subscript and len(node.slice) == 1 \
            and type(node.slice[0].slice) is cst.Index:
        # model[0] / model["fc"] -> model.0 / model.fc, as named_parameters() names them
        index = node.slice[0].slice.value
        base = key_of(node.value)
        if base is None:
            return None
        if type(index) is cst.Integer:
            return f"{base}.{index.value}"
        if type(index) is cst.SimpleString and index.raw_value.isidentifier():
            return f"{base}.{index.raw_value}"
    return None


def root_of(key: str) -> str:
    return key.split(".", 1)[0]


def part_of(key: str, owner: str) -> bool:
    """``key`` is ``owner`` or one of its parts (``model.fc.weight`` of ``model.fc``)."""
    return key == owner or key.startswith(owner + ".")


def overlaps(a: str, b: str) -> bool:
    """One of the two keys is the other or a part of it (``model`` and ``model.fc``)."""
    return part_of(a, b) or part_of(b, a)
