"""Turning the paths on the command line into the files to lint."""

from __future__ import annotations

import fnmatch
import os
from typing import Callable, Iterable, Iterator, List, Optional, Sequence

# Folders that never hold the user's own code.
SKIP_DIRS = {
    ".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".tox", ".nox", ".venv", "venv", ".eggs", "node_modules", "build", "dist",
    "site-packages", ".ipynb_checkpoints", ".gradlint_cache",
}

SUFFIXES = (".py", ".ipynb")


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
             suffixes: Sequence[str] = SUFFIXES,
             is_excluded: Optional[Callable[[str], bool]] = None,
             force_exclude: bool = False) -> Iterator[str]:
    """Yield files under ``paths`` in a stable order.

    A file named explicitly is yielded whatever its suffix, and even when excluded unless
    ``force_exclude`` (as ruff's ``--force-exclude``, which the pre-commit hook uses);
    folders are walked for ``suffixes``, skipping VCS, cache, build and virtualenv folders,
    ``exclude`` glob patterns and whatever ``is_excluded`` (the configuration) says.
    Missing paths are the caller's to report.
    """

    def skipped(path: str) -> bool:
        return _excluded(path, exclude) or (is_excluded is not None and is_excluded(path))

    for top in paths:
        if not os.path.isdir(top):
            if not (force_exclude and skipped(top)):
                yield top
            continue
        for root, dirs, files in os.walk(top):
            kept: List[str] = []
            for d in sorted(dirs):
                full = os.path.join(root, d)
                if d in SKIP_DIRS or d.endswith(".egg-info") or _is_virtualenv(full):
                    continue
                if skipped(full):
                    continue
                kept.append(d)
            dirs[:] = kept
            for name in sorted(files):
                if name.endswith(tuple(suffixes)):
                    full = os.path.join(root, name)
                    if not skipped(full):
                        yield full
