"""The one record every layer passes around: a problem at a place in a file."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Optional, Tuple


@functools.total_ordering
@dataclass(frozen=True)
class Finding:
    """A problem at ``path:line:col`` (both 1-based, as flake8 prints them).

    ``code`` is a rule code (``GL101``) or a file-level error (``E902`` for a file
    that cannot be read or decoded, ``E999`` for a syntax error), as flake8 names them.
    ``fix`` is filled by the autofix layer; the sort order ignores it.
    ``cell`` is set for notebooks: the 1-based number of the cell among all the
    notebook's cells (as ruff counts them), and ``line`` is then the line in that cell.
    ``help`` is the suggestion (what to do), kept apart from the short ``message`` as ruff
    keeps it; "" when there is none. ``end_line``/``end_col`` end the anchor where known (the
    column just after its last character, as SARIF and ruff count). None of these three
    takes part in comparisons.
    """

    path: str
    line: int
    col: int
    code: str
    message: str
    fix: Optional[object] = field(default=None, compare=False)
    cell: Optional[int] = None
    help: str = field(default="", compare=False)
    end_line: Optional[int] = field(default=None, compare=False)
    end_col: Optional[int] = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        """True for a file that could not be linted at all."""
        return not self.code.startswith("GL")

    @property
    def sort_key(self) -> Tuple[str, int, int, int, str, str]:
        return (self.path, self.cell or 0, self.line, self.col, self.code, self.message)

    def __lt__(self, other: "Finding") -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        return self.sort_key < other.sort_key

    @property
    def location(self) -> str:
        """``path:line:col``, or ``path:cell N:line:col`` in a notebook (ruff's form)."""
        cell = f"cell {self.cell}:" if self.cell is not None else ""
        return f"{self.path}:{cell}{self.line}:{self.col}"

    def format(self) -> str:
        return f"{self.location}: {self.code} {self.message}"
