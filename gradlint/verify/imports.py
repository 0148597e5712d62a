"""The project files a script imports: next to it or in its package, never site-packages.

``--run SCRIPT`` lints these with the script, and the child looks for call sites in all
of them, so a model called in ``evaluate.py`` and run from ``train.py`` meets its anchor.
"""

from __future__ import annotations

import ast
import os
import sys
import sysconfig
from typing import List, Optional, Sequence


def _library_dirs() -> List[str]:
    dirs = set()
    for key in ("purelib", "platlib", "stdlib", "platstdlib"):
        try:
            dirs.add(os.path.realpath(sysconfig.get_paths()[key]))
        except KeyError:
            pass
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        dirs.add(os.path.realpath(os.path.join(prefix, "lib")))
    return sorted(dirs)


def _is_library(path: str, libs: Sequence[str]) -> bool:
    parts = path.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return True
    return any(path == lib or path.startswith(lib + os.sep) for lib in libs)


def roots_of(script: str) -> List[str]:
    """Folders imports are resolved from: the script's folder and, for a script inside a
    package, the folder that holds the top package."""
    here = os.path.dirname(os.path.realpath(script))
    roots = [here]
    top = here
    while os.path.isfile(os.path.join(top, "__init__.py")):
        parent = os.path.dirname(top)
        if parent == top:
            break
        top = parent
    if top != here:
        roots.append(top)
    return roots


def _module_file(root: str, dotted: str) -> Optional[str]:
    if not dotted:
        return None
    base = os.path.join(root, *dotted.split("."))
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            return os.path.realpath(candidate)
    return None


def _imports(path: str):
    """(level, module, names) for each import statement in the file."""
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", [a.name for a in node.names if a.name != "*"]


def local_files(script: str) -> List[str]:
    """SCRIPT and the project files it imports, transitively, script first."""
    script = os.path.realpath(script)
    roots = roots_of(script)
    libs = _library_dirs()
    order = [script]
    queue = [script]
    seen = {script}
    while queue:
        current = queue.pop(0)
        for level, module, names in _imports(current):
            if level:
                base = os.path.dirname(current)
                for _ in range(level - 1):
                    base = os.path.dirname(base)
                bases = [(base, module)]
            else:
                bases = [(root, module) for root in roots]
            candidates = []
            for base, dotted in bases:
                parts = dotted.split(".") if dotted else []
                for i in range(1, len(parts) + 1):  # packages on the way: a/__init__.py, a/b/__init__.py
                    candidates.append(_module_file(base, ".".join(parts[:i])))
                for name in names:
                    candidates.append(_module_file(base, ".".join(parts + [name])))
            for found in candidates:
                if found and found not in seen and not _is_library(found, libs):
                    seen.add(found)
                    order.append(found)
                    queue.append(found)
    return order
