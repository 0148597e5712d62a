"""The ``# expect: GL101 [cuda]`` markers of fixture programs (see fixtures/README.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, Tuple

_MARKER = re.compile(r"#\s*expect:\s*(?P<body>.+?)\s*$")
_ITEM = re.compile(r"(?P<code>GL\d{3})\s*(?:\[(?P<quals>[^\]]*)\])?")
QUALIFIERS = frozenset({"cuda", "no-effect"})


@dataclass(frozen=True)
class Expectation:
    line: int
    code: str
    qualifiers: FrozenSet[str] = frozenset()

    @property
    def cuda_only(self) -> bool:
        return "cuda" in self.qualifiers

    @property
    def no_effect(self) -> bool:
        return "no-effect" in self.qualifiers


def parse_expectations(text: str) -> Dict[Tuple[int, str], Expectation]:
    """(line, code) -> Expectation for every marker in ``text``."""
    found: Dict[Tuple[int, str], Expectation] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _MARKER.search(line)
        if match is None:
            continue
        for item in _ITEM.finditer(match.group("body")):
            quals = frozenset(q.strip() for q in (item.group("quals") or "").split(",") if q.strip())
            unknown = quals - QUALIFIERS
            if unknown:
                raise ValueError(f"line {number}: unknown qualifier(s) {sorted(unknown)}")
            found[(number, item.group("code"))] = Expectation(number, item.group("code"), quals)
    return found
