"""A file's imports from its text, without parsing it: the project's import graph.

The graph is needed before any file is parsed (a file is analysed after the files it
imports), and for every file of the project (to find the callers of a linted file), so
it comes from a cheap scan of the text. It is allowed to over-approximate (an ``import``
in a docstring adds an edge, which only costs time); it must not miss a real import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Tuple

# `import a.b as c, d` / `from x.y import (a, b as c)` / `from . import z`, at any indentation.
_STATEMENT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<base>\.*[\w.]*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n#;]*)"
    r"|import[ \t]+(?P<modules>[^\n#;]*))",
    re.MULTILINE)
_ALIAS = re.compile(r"\s+as\s+\w+")

# Top-level packages that make a file PyTorch code, or code of another framework.
TORCH_PACKAGES = frozenset({
    "torch", "torchvision", "torchaudio", "torchtext", "pytorch_lightning", "lightning", "timm",
    "torchmetrics", "ignite", "accelerate", "peft", "torch_geometric", "dgl_torch",
})
OTHER_FRAMEWORKS = frozenset({"tensorflow", "keras", "mxnet", "jax", "flax", "paddle", "oneflow", "mindspore",
                              "chainer", "theano", "cntk", "haiku", "tf_keras", "megengine", "mlx", "tinygrad"})


@dataclass(frozen=True)
class ImportScan:
    modules: Tuple[str, ...]      # qualified names as written, relative ones with their dots
    torch: bool                   # imports torch or a torch-only library
    other_framework: bool         # imports TensorFlow, JAX, MXNet, ...


def _names(text: str) -> List[str]:
    text = text.strip().strip("()").replace("\\\n", " ")
    out = []
    for part in text.split(","):
        part = _ALIAS.sub("", part).strip()
        if part and part != "*" and re.fullmatch(r"[\w.]+", part):
            out.append(part)
    return out


def scan_imports(text: str) -> ImportScan:
    if "\r" in text:  # Windows and old Mac line ends: the pattern reads lines ending in \n
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    modules: List[str] = []
    for match in _STATEMENT.finditer(text):
        if match.group("modules") is not None:
            modules.extend(_names(match.group("modules")))
            continue
        base = match.group("base")
        names = _names(match.group("names"))
        if base.strip("."):
            modules.append(base)
        for name in names:
            modules.append(f"{base}{name}" if base.endswith(".") else f"{base}.{name}")
        if not names and base:
            modules.append(base)
    tops = {m.split(".", 1)[0] for m in modules if not m.startswith(".")}
    return ImportScan(tuple(dict.fromkeys(modules)), bool(tops & TORCH_PACKAGES),
                      bool(tops & OTHER_FRAMEWORKS))
