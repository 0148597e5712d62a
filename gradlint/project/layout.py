"""Where a project starts, what its modules are called, and which file an import names.

The root is the nearest folder above a file that holds ``pyproject.toml``, ``setup.cfg``,
``setup.py`` or ``.git``; without one, the file's own folder. Absolute imports are resolved
the way they resolve when the project runs: from the folder of the file's top-level
package (or the script's own folder), from ``src/`` and the root, and from the folders
between the file and the root (scripts that run from a subfolder). Only files under the
root count: installed packages are known by tables, never read.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Iterable, List, Optional, Tuple

ROOT_MARKERS = ("pyproject.toml", "setup.cfg", "setup.py", ".git")


@lru_cache(maxsize=4096)
def project_root(folder: str) -> str:
    """The project root for a file in ``folder`` (an absolute path)."""
    current = folder
    while True:
        if any(os.path.exists(os.path.join(current, marker)) for marker in ROOT_MARKERS):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return folder
        current = parent


def root_of(path: str) -> str:
    return project_root(os.path.dirname(os.path.abspath(path)))


def _is_package(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "__init__.py"))


def module_name(path: str) -> Tuple[str, str]:
    """(dotted module name, the folder it is relative to) for a Python file: the chain of
    packages (folders with ``__init__.py``) above it, as ``python`` would import it."""
    path = os.path.abspath(path)
    folder, base = os.path.split(path)
    stem = base[:-3] if base.endswith(".py") else base.rsplit(".", 1)[0]
    parts = [] if stem == "__init__" else [stem]
    while _is_package(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        parts.insert(0, os.path.basename(folder))
        folder = parent
    return ".".join(parts), folder


def _module_file(folder: str, dotted: str) -> Optional[str]:
    rel = os.path.join(folder, *dotted.split("."))
    if os.path.isfile(rel + ".py"):
        return rel + ".py"
    init = os.path.join(rel, "__init__.py")
    return init if os.path.isfile(init) else None


class Layout:
    """Import resolution for the files of one project root."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        # Without a marker the "project" is a script's own folder (``/tmp/x.py``): its files, not
        # every folder below it.
        self.marked = any(os.path.exists(os.path.join(self.root, m)) for m in ROOT_MARKERS)
        self._found = {}
        self._folders = {}

    def contains(self, path: str) -> bool:
        path = os.path.abspath(path)
        return path == self.root or path.startswith(self.root + os.sep)

    def search_folders(self, path: str) -> List[str]:
        """Folders absolute imports of ``path`` are looked up in, nearest first (the same for
        every file of a folder)."""
        here = os.path.dirname(os.path.abspath(path))
        if here not in self._folders:
            self._folders[here] = self._search_folders(path)
        return self._folders[here]

    def _search_folders(self, path: str) -> List[str]:
        name, base = module_name(path)
        folders = [base]
        src = os.path.join(self.root, "src")
        if os.path.isdir(src):
            folders.append(src)
        folders.append(self.root)
        folder = os.path.dirname(os.path.abspath(path))
        while self.contains(folder) and folder != self.root:
            folders.append(folder)
            folder = os.path.dirname(folder)
        seen, out = set(), []
        for f in folders:
            if f not in seen and self.contains(f):
                seen.add(f)
                out.append(f)
        return out

    def absolute(self, path: str, qualified: str) -> Optional[Tuple[str, str, str]]:
        """``(file, module, rest)`` for a name such as ``pkg.utils.evaluate`` imported by
        ``path``: the project file of the longest module prefix, its module name, and the
        attribute path after it (``evaluate``); None when no project file holds it."""
        parts = qualified.split(".")
        for folder in self.search_folders(path):
            if not self._has_top(folder, parts[0]):
                continue  # torch, numpy, os: no such module in this folder, nothing to look up
            for n in range(len(parts), 0, -1):
                dotted = ".".join(parts[:n])
                key = (folder, dotted)
                if key not in self._found:
                    self._found[key] = _module_file(folder, dotted)
                found = self._found[key]
                if found is not None:
                    return found, dotted, ".".join(parts[n:])
        return None

    def _has_top(self, folder: str, name: str) -> bool:
        key = (folder, "", name)
        if key not in self._found:
            self._found[key] = os.path.isfile(os.path.join(folder, name + ".py")) or \
                os.path.isdir(os.path.join(folder, name))
        return self._found[key]

    def package_of(self, path: str) -> Tuple[str, str]:
        """(dotted package, its folder's parent) that relative imports in ``path`` start from."""
        name, base = module_name(path)
        if os.path.basename(path) == "__init__.py":
            return name, base
        return name.rpartition(".")[0], base

    def relative(self, path: str, qualified: str) -> Optional[Tuple[str, str, str]]:
        """Resolve ``.utils.evaluate`` / ``..pkg.x`` as written in ``path``."""
        dots = len(qualified) - len(qualified.lstrip("."))
        rest = qualified[dots:]
        package, base = self.package_of(path)
        folder = os.path.dirname(os.path.abspath(path))
        for _ in range(dots - 1):
            folder = os.path.dirname(folder)
            package = package.rpartition(".")[0]
        parts = rest.split(".") if rest else []
        for n in range(len(parts), -1, -1):
            target = os.path.join(folder, *parts[:n]) if n else folder
            candidate = target + ".py" if n else None
            if candidate and os.path.isfile(candidate):
                found = candidate
            elif os.path.isfile(os.path.join(target, "__init__.py")):
                found = os.path.join(target, "__init__.py")
            else:
                continue
            if not self.contains(found):
                return None
            dotted = ".".join(p for p in [package] + parts[:n] if p)
            return found, dotted, ".".join(parts[n:])
        return None

    def resolve(self, path: str, qualified: str) -> Optional[Tuple[str, str, str]]:
        """A qualified name from ``path``'s import table, resolved to a project file."""
        if qualified.startswith("."):
            return self.relative(path, qualified)
        return self.absolute(path, qualified)

    def imported_files(self, path: str, modules: Iterable[str]) -> List[str]:
        """The project files that the imported ``modules`` of ``path`` name (a ``from pkg
        import name`` also names ``pkg/name.py`` when there is one)."""
        out = []
        for qualified in modules:
            found = self.resolve(path, qualified)
            if found is not None and found[0] != os.path.abspath(path):
                out.append(found[0])
        return sorted(set(out))
