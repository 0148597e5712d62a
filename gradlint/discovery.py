"""Turning the paths on the command line into the files to lint."""

from __future__ import annotations

import fnmatch
import os
from typing import Iterable, Iterator, List, Sequence

# Folders that never hold the user's own code.
SKIP_DIRS = {
    ".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".tox", ".nox", ".venv", "venv", ".eggs", "node_modules", "build", "dist",
    "site-packages", ".ipynb_checkpoints", ".gradlint_cache",
}

SUFFIXES = (".py",)


def _is_virtualenv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def _excluded(path: str, patterns: Sequence[str]) -> bool:
    if not patterns:
        return False
    norm = path.replace(os.sep, "/")
    base = os.path.basename(norm)
    return any(fnmatch.fnmatch(norm, p) or fnmatch.fnmatch(base, p)
               or fnmatch.fnmatch(norm, f"*/{p}") for p in patterns)


def discover(paths: Iterable[str], exclude: Sequence[str] = (),
             suffixes: Sequence[str] = SUFFIXES) -> Iterator[str]:
    """Yield files under ``paths`` in a stable order.

    A file named explicitly is always yielded (whatever its suffix); folders are walked
    for ``suffixes``, skipping VCS, cache, build and virtualenv folders and ``exclude``
    glob patterns. Missing paths are the caller's to report.
    """
    for top in paths:
        if not os.path.isdir(top):
            yield top
            continue
        for root, dirs, files in os.walk(top):
            kept: List[str] = []
            for d in sorted(dirs):
                full = os.path.join(root, d)
                if d in SKIP_DIRS or d.endswith(".egg-info") or _is_virtualenv(full):
                    continue
                if _excluded(full, exclude):
                    continue
                kept.append(d)
            dirs[:] = kept
            for name in sorted(files):
                if name.endswith(tuple(suffixes)):
                    full = os.path.join(root, name)
                    if not _excluded(full, exclude):
                        yield full
