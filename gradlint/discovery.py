"""Turning the paths on the command line into the files to lint.

``discover`` walks folders as ruff does: it skips VCS, cache, build and virtualenv folders,
the configured excludes, and (by default) what git ignores: ``.gitignore`` files (nested
ones too), ``.git/info/exclude`` and the global excludes file (``core.excludesFile``, else
``$XDG_CONFIG_HOME/git/ignore``). As in git, ignore files count only inside a git work
tree. Paths named explicitly are always linted. ``GitIgnore`` answers "does git ignore
this path?" on its own, so other callers (a project view) can enumerate files the same way.
"""

from __future__ import annotations

import configparser
import fnmatch
import os
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import pathspec

# Folders that never hold the user's own code.
SKIP_DIRS = {
    ".git", ".hg", ".svn", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    ".tox", ".nox", ".venv", "venv", ".eggs", "node_modules", "build", "dist",
    "site-packages", ".ipynb_checkpoints", ".gradlint_cache",
}

SUFFIXES = (".py", ".ipynb")

Spec = Tuple[str, pathspec.GitIgnoreSpec]  # (the folder its patterns are relative to, patterns)


def _is_virtualenv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def _excluded(path: str, patterns: Sequence[str]) -> bool:
    if not patterns:
        return False
    norm = path.replace(os.sep, "/")
    base = os.path.basename(norm)
    return any(fnmatch.fnmatch(norm, p) or fnmatch.fnmatch(base, p)
               or fnmatch.fnmatch(norm, f"*/{p}") for p in patterns)


def _read_spec(path: str) -> Optional[pathspec.GitIgnoreSpec]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError:  # missing or unreadable: git skips it too
        return None
    try:
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
    except Exception:  # a pattern pathspec rejects: ignore that file rather than fail the run
        return None
    return spec if spec.patterns else None


def _git_dir(root: str) -> Optional[str]:
    """The repository's shared git folder (where ``info/exclude`` lives) for a work tree at
    ``root``; ``.git`` may be a file (``gitdir: ...``) in worktrees and submodules."""
    dot_git = os.path.join(root, ".git")
    if os.path.isdir(dot_git):
        return dot_git
    try:
        with open(dot_git, encoding="utf-8") as handle:
            line = handle.readline().strip()
    except OSError:
        return None
    if not line.startswith("gitdir:"):
        return None
    git_dir = os.path.normpath(os.path.join(root, line[len("gitdir:"):].strip()))
    try:  # a linked worktree: info/exclude is in the common folder
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as handle:
            return os.path.normpath(os.path.join(git_dir, handle.read().strip()))
    except OSError:
        return git_dir


def _config_excludes_file(path: str, home: str) -> Optional[str]:
    """``core.excludesFile`` from one git config file (its last value), or None."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            parser.read_string(handle.read(), source=path)
    except (OSError, configparser.Error):
        return None
    for section in parser.sections():
        if section.strip().lower() == "core":
            for key, value in parser.items(section):
                if key.lower() == "excludesfile" and value:
                    value = value.strip().strip('"')
                    return os.path.join(home, value[2:]) if value.startswith("~/") else value
    return None


def global_excludes_file(environ: Optional[Dict[str, str]] = None) -> Optional[str]:
    """The user's global ignore file, found as git finds it (without running git)."""
    env = os.environ if environ is None else environ
    home = env.get("HOME") or os.path.expanduser("~")
    xdg = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    found = None
    for config in (os.path.join(xdg, "git", "config"), os.path.join(home, ".gitconfig")):
        found = _config_excludes_file(config, home) or found  # ~/.gitconfig is read last and wins
    return found or os.path.join(xdg, "git", "ignore")


class GitIgnore:
    """Does git ignore a path? Ignore files are read once per folder and cached.

    Precedence as in git: the deepest ``.gitignore`` that has a matching pattern decides,
    then shallower ones, then ``.git/info/exclude``, then the global excludes file.
    """

    def __init__(self, global_file: Optional[str] = None, environ: Optional[Dict[str, str]] = None) -> None:
        self._global_file = global_file if global_file is not None else global_excludes_file(environ)
        self._roots: Dict[str, Optional[str]] = {}
        self._chains: Dict[str, List[Spec]] = {}
        self._dirs: Dict[str, bool] = {}

    def repository_root(self, folder: str) -> Optional[str]:
        """The work tree that holds ``folder`` (the closest folder above with a ``.git``)."""
        folder = os.path.abspath(folder)
        seen = []
        found: Optional[str] = None
        while True:
            if folder in self._roots:
                found = self._roots[folder]
                break
            seen.append(folder)
            if os.path.exists(os.path.join(folder, ".git")):
                found = folder
                break
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        for f in seen:
            self._roots[f] = found
        return found

    def _chain(self, folder: str) -> List[Spec]:
        """The specs that apply inside ``folder``, lowest precedence first."""
        if folder in self._chains:
            return self._chains[folder]
        root = self.repository_root(folder)
        if root is None:
            chain: List[Spec] = []
        elif folder == root:
            chain = []
            git_dir = _git_dir(root)
            sources = [self._global_file, os.path.join(git_dir, "info", "exclude") if git_dir else None]
            for source in sources:
                spec = _read_spec(source) if source else None
                if spec is not None:
                    chain.append((root, spec))
        else:
            chain = list(self._chain(os.path.dirname(folder)))
        spec = _read_spec(os.path.join(folder, ".gitignore")) if root is not None else None
        if spec is not None:
            chain.append((folder, spec))
        self._chains[folder] = chain
        return chain

    def _matches(self, path: str, is_dir: bool) -> bool:
        path = os.path.abspath(path)
        for base, spec in reversed(self._chain(os.path.dirname(path))):
            rel = os.path.relpath(path, base).replace(os.sep, "/") + ("/" if is_dir else "")
            decided = spec.check_file(rel).include
            if decided is not None:
                return decided
        return False

    def _dir_matches(self, path: str) -> bool:
        path = os.path.abspath(path)
        if path not in self._dirs:
            self._dirs[path] = self._matches(path, True)
        return self._dirs[path]

    def ignored(self, path: str, is_dir: bool = False) -> bool:
        """True when git ignores ``path`` itself. A match that comes only from an ignored
        folder above it does not count: whoever walks into an ignored folder asked for it."""
        path = os.path.abspath(path)
        if is_dir:
            matched = self._dir_matches(path)
        else:
            matched = self._matches(path, False)
        if not matched:
            return False
        parent = os.path.dirname(path)
        return parent == path or self.repository_root(parent) is None or not self._dir_matches(parent)


def discover(paths: Iterable[str], exclude: Sequence[str] = (),
             suffixes: Sequence[str] = SUFFIXES,
             is_excluded: Optional[Callable[[str], bool]] = None,
             force_exclude: bool = False,
             respect_gitignore: bool = True,
             gitignore: Optional[GitIgnore] = None) -> Iterator[str]:
    """Yield files under ``paths`` in a stable order.

    A file named explicitly is yielded whatever its suffix, and even when excluded unless
    ``force_exclude`` (as ruff's ``--force-exclude``, which the pre-commit hook uses); it
    is yielded even when git ignores it. Folders are walked for ``suffixes``, skipping
    VCS, cache, build and virtualenv folders, ``exclude`` glob patterns, whatever
    ``is_excluded`` (the configuration) says and, with ``respect_gitignore``, what git
    ignores. Missing paths are the caller's to report.
    """
    ignore = (gitignore or GitIgnore()) if respect_gitignore else None

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
                if skipped(full) or (ignore is not None and ignore.ignored(full, is_dir=True)):
                    continue
                kept.append(d)
            dirs[:] = kept
            for name in sorted(files):
                if name.endswith(tuple(suffixes)):
                    full = os.path.join(root, name)
                    if not skipped(full) and not (ignore is not None and ignore.ignored(full)):
                        yield full
