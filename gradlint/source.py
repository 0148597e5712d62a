"""Reading a file into text (PEP 263 aware) and the cheap test that skips most files."""

from __future__ import annotations

import io
import re
import tokenize
from typing import Tuple


class SourceError(Exception):
    """A file that cannot be read or decoded; ``reason`` is shown to the user."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def decode(data: bytes) -> str:
    """Decode Python source bytes as the interpreter would: BOM, then a coding cookie, else UTF-8."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:  # unknown codec named in the cookie, or BOM + cookie mismatch
        raise SourceError(f"cannot decode: {exc}") from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def read_source(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    return decode(data)


# A file that mentions none of these cannot trigger any rule: every rule needs torch,
# a model's mode methods, gradients or an optimizer to be named somewhere in the file.
_RELEVANT = re.compile(
    r"torch|requires_grad|\.grad\b|backward|no_grad|inference_mode|\.eval\b|\.train\b"
    r"|zero_grad|optim|\bnn\."
)


def may_matter(text: str) -> bool:
    """The prefilter: False when no rule can fire on this text, so the parse is skipped."""
    return _RELEVANT.search(text) is not None


def line_col_of_syntax_error(exc: Exception) -> Tuple[int, int]:
    """(line, 1-based col) of a libcst ParserSyntaxError, or (1, 1)."""
    line = getattr(exc, "raw_line", None) or getattr(exc, "line", 1) or 1
    col = getattr(exc, "raw_column", None)
    if col is None:
        col = getattr(exc, "column", 0) or 0
    return int(line), int(col) + 1
