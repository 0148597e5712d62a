"""Configuration: ``[tool.gradlint]`` in ``pyproject.toml``, merged with command-line flags.

Which file: for each linted path, the closest ``pyproject.toml`` that has a
``[tool.gradlint]`` table, searching from the path's folder upward (ruff's rule; a
``pyproject.toml`` without the table is passed over). ``--config PATH`` names one file
for every path instead (a ``pyproject.toml``, read at ``[tool.gradlint]``, or any other
TOML file whose top level holds the same keys); ``--isolated`` reads none.

Keys::

    [tool.gradlint]
    select = ["GL"]                 # codes or prefixes to run (default: all)
    ignore = ["GL201"]              # codes or prefixes to skip
    extend-select = ["GL3"]         # added to select
    extend-ignore = ["GL501"]       # added to ignore
    exclude = ["legacy", "notebooks/scratch/*.ipynb"]
    extend-exclude = ["generated"]  # added to exclude
    respect-gitignore = true        # skip what git ignores when walking folders (default)
    docs-url = "https://example.org/gradlint/{code}.html"  # rule links in JSON, SARIF, the editor
    [tool.gradlint.per-file-ignores]
    "tests/*" = ["GL101", "GL201"]

Patterns: one without ``/`` matches a file or folder name anywhere below; one with ``/``
is matched against the path relative to the configuration file's folder (``*`` also
crosses ``/``). The built-in skips (VCS, virtualenv, cache and build folders) always apply.

Command-line flags override: ``--select``, ``--ignore``, ``--exclude`` and
``--per-file-ignores`` replace the configured lists; ``--extend-select``,
``--extend-ignore`` and ``--extend-exclude`` add to them; ``--no-respect-gitignore``
turns ``respect-gitignore`` off. Command-line patterns are relative to the current folder.
An unknown key, a value of the wrong type or an unknown rule code is a ``ConfigError``.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .selection import DEFAULT_SELECT, Selection, SelectionError, parse_codes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11
    import tomli as tomllib

KEYS = ("select", "ignore", "extend-select", "extend-ignore", "per-file-ignores", "exclude", "extend-exclude",
        "respect-gitignore", "docs-url")
PYPROJECT = "pyproject.toml"


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the file and the key."""


# A pattern is kept with the folder it is relative to.
Pattern = Tuple[str, str]  # (root folder, glob)
PerFileIgnore = Tuple[str, str, Tuple[str, ...]]  # (root folder, glob, codes)


@dataclass(frozen=True)
class Config:
    """The settings of one configuration file (None: the key is not set there)."""

    path: str
    select: Optional[Tuple[str, ...]] = None
    ignore: Optional[Tuple[str, ...]] = None
    extend_select: Tuple[str, ...] = ()
    extend_ignore: Tuple[str, ...] = ()
    per_file_ignores: Optional[Tuple[PerFileIgnore, ...]] = None
    exclude: Optional[Tuple[Pattern, ...]] = None
    extend_exclude: Tuple[Pattern, ...] = ()
    respect_gitignore: Optional[bool] = None
    docs_url: Optional[str] = None

    @property
    def root(self) -> str:
        return os.path.dirname(os.path.abspath(self.path))


@dataclass(frozen=True)
class Overrides:
    """What the command line says; None: not given, keep the configured value."""

    select: Optional[Tuple[str, ...]] = None
    ignore: Optional[Tuple[str, ...]] = None
    extend_select: Tuple[str, ...] = ()
    extend_ignore: Tuple[str, ...] = ()
    per_file_ignores: Optional[Tuple[PerFileIgnore, ...]] = None
    exclude: Optional[Tuple[Pattern, ...]] = None
    extend_exclude: Tuple[Pattern, ...] = ()
    respect_gitignore: Optional[bool] = None


# -- reading -----------------------------------------------------------------------------

def _load_toml(path: str) -> Dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _table_of(path: str, data: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    if os.path.basename(path) != PYPROJECT:
        return data
    tool = data.get("tool")
    table = tool.get("gradlint") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.gradlint] must be a table")
    return table


def _strings(path: str, key: str, value: Any) -> Tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: `{key}` must be a list of strings, got {value!r}")
    return tuple(value)


def _codes(path: str, key: str, value: Any) -> Tuple[str, ...]:
    try:
        return tuple(parse_codes(_strings(path, key, value)))
    except SelectionError as exc:
        raise ConfigError(f"{path}: `{key}`: {exc}") from None


def parse_table(path: str, table: Dict[str, Any]) -> Config:
    """Check and convert one ``[tool.gradlint]`` table read from ``path``."""
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(repr(k) for k in unknown)} in [tool.gradlint] "
                          f"(known keys: {', '.join(KEYS)})")
    root = os.path.dirname(os.path.abspath(path))
    values: Dict[str, Any] = {}
    for key in ("select", "ignore", "extend-select", "extend-ignore"):
        if key in table:
            values[key.replace("-", "_")] = _codes(path, key, table[key])
    for key in ("exclude", "extend-exclude"):
        if key in table:
            values[key.replace("-", "_")] = tuple((root, p) for p in _strings(path, key, table[key]))
    if "respect-gitignore" in table:
        if not isinstance(table["respect-gitignore"], bool):
            raise ConfigError(f"{path}: `respect-gitignore` must be true or false, got {table['respect-gitignore']!r}")
        values["respect_gitignore"] = table["respect-gitignore"]
    if "docs-url" in table:
        url = table["docs-url"]
        if not isinstance(url, str) or "{code}" not in url:
            raise ConfigError(f"{path}: `docs-url` must be a URL with `{{code}}` where the rule code goes, "
                              f"got {url!r}")
        values["docs_url"] = url
    if "per-file-ignores" in table:
        raw = table["per-file-ignores"]
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: `per-file-ignores` must be a table of pattern = [codes]")
        values["per_file_ignores"] = tuple(
            (root, pattern, _codes(path, f"per-file-ignores.{pattern!r}", codes))
            for pattern, codes in raw.items())
    return Config(path=path, **values)


def read_config(path: str, required: bool = False) -> Optional[Config]:
    """The configuration in ``path``; None for a pyproject.toml without ``[tool.gradlint]``
    (an error when ``required``, as for ``--config``)."""
    table = _table_of(path, _load_toml(path))
    if table is None:
        if required:
            raise ConfigError(f"{path}: no [tool.gradlint] table")
        return None
    return parse_table(path, table)


# -- matching ----------------------------------------------------------------------------

def _relative(path: str, root: str) -> str:
    return os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")


def matches(path: str, root: str, pattern: str) -> bool:
    """Does ``pattern`` (relative to ``root``) cover ``path`` or one of its folders?"""
    rel = _relative(path, root)
    parts = rel.split("/")
    pattern = pattern.replace(os.sep, "/").rstrip("/")
    if pattern.startswith("./"):
        pattern = pattern[2:]
    if "/" not in pattern:
        return any(fnmatch.fnmatchcase(part, pattern) for part in parts if part not in ("", ".", ".."))
    return any(fnmatch.fnmatchcase("/".join(parts[:n]), pattern) for n in range(1, len(parts) + 1))


def parse_per_file_ignores(entries: Sequence[str], root: str) -> Tuple[PerFileIgnore, ...]:
    """flake8's command-line form: ``"tests/*:GL101,GL201"`` (several, space separated)."""
    out: List[PerFileIgnore] = []
    for entry in entries:
        for item in entry.split():
            pattern, sep, codes = item.rpartition(":")
            if not sep or not pattern:
                raise ConfigError(f"--per-file-ignores: expected PATTERN:CODES, got {item!r}")
            try:
                out.append((root, pattern, tuple(parse_codes([codes]))))
            except SelectionError as exc:
                raise ConfigError(f"--per-file-ignores: {exc}") from None
    return tuple(out)


# -- the settings of one file ---------------------------------------------------------------

@dataclass
class Settings:
    """A configuration merged with the command line: what applies to the files under it."""

    config: Optional[Config]
    selection: Selection
    per_file_ignores: Tuple[PerFileIgnore, ...] = ()
    exclude: Tuple[Pattern, ...] = ()
    respect_gitignore: bool = True
    _cache: Dict[str, Selection] = field(default_factory=dict, repr=False)

    @classmethod
    def merge(cls, config: Optional[Config], overrides: Overrides) -> "Settings":
        def pick(cli, configured, default):
            if cli is not None:
                return cli
            return configured if configured is not None else default

        c = config or Config(path="")
        try:
            selection = Selection(pick(overrides.select, c.select, DEFAULT_SELECT),
                                  tuple(pick(overrides.ignore, c.ignore, ())) + tuple(c.extend_ignore)
                                  + tuple(overrides.extend_ignore),
                                  tuple(c.extend_select) + tuple(overrides.extend_select))
        except SelectionError as exc:  # already checked when read; kept for direct callers
            raise ConfigError(str(exc)) from None
        return cls(config=config, selection=selection,
                   per_file_ignores=tuple(pick(overrides.per_file_ignores, c.per_file_ignores, ())),
                   exclude=tuple(pick(overrides.exclude, c.exclude, ())) + tuple(c.extend_exclude)
                   + tuple(overrides.extend_exclude),
                   respect_gitignore=pick(overrides.respect_gitignore, c.respect_gitignore, True))

    @property
    def docs_url(self) -> Optional[str]:
        return self.config.docs_url if self.config is not None else None

    def excluded(self, path: str) -> bool:
        return any(matches(path, root, pattern) for root, pattern in self.exclude)

    def selection_for(self, path: str) -> Selection:
        dropped = [code for root, pattern, codes in self.per_file_ignores
                   if matches(path, root, pattern) for code in codes]
        if not dropped:
            return self.selection
        key = ",".join(sorted(set(dropped)))
        if key not in self._cache:
            self._cache[key] = self.selection.without(dropped)
        return self._cache[key]


class Resolver:
    """Finds the settings for each path: the closest configuration, merged with the flags."""

    def __init__(self, overrides: Optional[Overrides] = None, config_path: Optional[str] = None,
                 isolated: bool = False) -> None:
        self.overrides = overrides or Overrides()
        self.isolated = isolated
        self._fixed: Optional[Settings] = None
        self._by_dir: Dict[str, Optional[str]] = {}
        self._by_config: Dict[Optional[str], Settings] = {}
        if config_path is not None:
            if isolated:
                raise ConfigError("--config and --isolated cannot be used together")
            self._fixed = Settings.merge(read_config(config_path, required=True), self.overrides)
        elif isolated:
            self._fixed = Settings.merge(None, self.overrides)

    def config_file_for(self, path: str) -> Optional[str]:
        """The closest pyproject.toml with a [tool.gradlint] table above ``path``."""
        path = os.path.abspath(path)
        start = path if os.path.isdir(path) else os.path.dirname(path)
        seen: List[str] = []
        folder = start
        found: Optional[str] = None
        while True:
            if folder in self._by_dir:
                found = self._by_dir[folder]
                break
            seen.append(folder)
            candidate = os.path.join(folder, PYPROJECT)
            if os.path.isfile(candidate) and _table_of(candidate, _load_toml(candidate)) is not None:
                found = candidate
                break
            parent = os.path.dirname(folder)
            if parent == folder:
                break
            folder = parent
        for folder in seen:
            self._by_dir[folder] = found
        return found

    def for_path(self, path: str) -> Settings:
        if self._fixed is not None:
            return self._fixed
        config_file = self.config_file_for(path)
        if config_file not in self._by_config:
            config = read_config(config_file) if config_file else None
            self._by_config[config_file] = Settings.merge(config, self.overrides)
        return self._by_config[config_file]

    def excluded(self, path: str) -> bool:
        return self.for_path(path).excluded(path)

    def selection_for(self, path: str) -> Selection:
        return self.for_path(path).selection_for(path)

    def respects_gitignore(self, path: str) -> bool:
        return self.for_path(path).respect_gitignore
