"""The rule catalog: stable codes, names, severities and one-line summaries.

Codes are public names (``--select``, ``# noqa:``, config), so they never change. Each
implemented rule declares its entry beside its check (``gradlint/rules/glNNN.py``);
``PLANNED`` holds the catalog's rules that have no check yet, so that their codes are
already valid in configurations. ``CATALOG`` is filled on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterator, Mapping, Optional


@dataclass(frozen=True)
class RuleInfo:
    code: str
    name: str
    severity: str  # "error": crashes or silently wrong results; "warning": waste or harm under conditions
    summary: str


PLANNED: list = []  # every rule of the catalog has its check today


class LazyMapping(Mapping):
    """A read-only mapping built by ``load()`` on first use: the rule modules register
    themselves on import, and they import the modules that read the registry."""

    def __init__(self, load: Callable[[], Dict]) -> None:
        self._load = load
        self._data: Optional[Dict] = None

    def _get(self) -> Dict:
        if self._data is None:
            self._data = self._load()
        return self._data

    def __getitem__(self, key):
        return self._get()[key]

    def __iter__(self) -> Iterator:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def _load_catalog() -> Dict[str, RuleInfo]:
    from .rules import INFOS

    merged = {info.code: info for info in PLANNED}
    merged.update(INFOS)
    return dict(sorted(merged.items()))


CATALOG: Mapping[str, RuleInfo] = LazyMapping(_load_catalog)
