"""Which rule codes run: ``--select`` / ``--ignore`` with prefix matching, as flake8 does.

The longest matching prefix decides: ``--select GL1 --ignore GL103`` runs GL101 and
GL102 but not GL103; ``--select GL103 --ignore GL1`` runs GL103.
"""

from __future__ import annotations

from typing import Iterable, List, Sequence

from .catalog import CATALOG

DEFAULT_SELECT = ("GL",)


class SelectionError(ValueError):
    pass


def parse_codes(prefixes: Iterable[str]) -> List[str]:
    """Upper-cased codes and prefixes (comma-separated items allowed); unknown ones raise
    ``SelectionError``. ``ALL`` means every rule."""
    out: List[str] = []
    for raw in prefixes:
        for part in str(raw).split(","):
            part = part.strip().upper()
            if not part:
                continue
            if part == "ALL":
                part = "GL"
            if not any(code.startswith(part) for code in CATALOG):
                raise SelectionError(f"unknown rule code or prefix: {part!r} "
                                     f"(codes are GL101 ... GL902; see `gradlint rules`)")
            out.append(part)
    return out


class Selection:
    def __init__(self, select: Sequence[str] = DEFAULT_SELECT, ignore: Sequence[str] = (),
                 extend_select: Sequence[str] = ()) -> None:
        self.select = parse_codes(select or DEFAULT_SELECT) + parse_codes(extend_select)
        self.ignore = parse_codes(ignore)
        self.dropped: List[str] = []

    def without(self, prefixes: Iterable[str]) -> "Selection":
        """A copy that never runs ``prefixes`` whatever the select list says (per-file ignores)."""
        copy = Selection.__new__(Selection)
        copy.select, copy.ignore = list(self.select), list(self.ignore)
        copy.dropped = self.dropped + parse_codes(prefixes)
        return copy

    def __contains__(self, code: str) -> bool:
        if self.dropped and code.startswith(tuple(self.dropped)):
            return False
        chosen = max((len(p) for p in self.select if code.startswith(p)), default=-1)
        dropped = max((len(p) for p in self.ignore if code.startswith(p)), default=-1)
        return chosen > dropped

    def codes(self, available: Iterable[str]) -> List[str]:
        return [c for c in sorted(available) if c in self]
