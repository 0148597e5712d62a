"""The one record every layer passes around: a problem at a place in a file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass(frozen=True, order=True)
class Finding:
    """A problem at ``path:line:col`` (both 1-based, as flake8 prints them).

    ``code`` is a rule code (``GL101``) or a file-level error (``E902`` for a file
    that cannot be read or decoded, ``E999`` for a syntax error), as flake8 names them.
    ``fix`` is filled by the autofix layer; the sort order ignores it.
    """

    path: str
    line: int
    col: int
    code: str
    message: str
    fix: Optional[object] = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        """True for a file that could not be linted at all."""
        return not self.code.startswith("GL")

    def format(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"
