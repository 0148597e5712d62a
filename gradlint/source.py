"""Reading a file into text (PEP 263 aware) and the cheap test that skips most files."""

from __future__ import annotations

import ast
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


def read_bytes(path: str) -> bytes:
    """A file's bytes; ``SourceError`` (an E902 finding) when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None


def read_source(path: str) -> str:
    return decode(read_bytes(path))


# A file that mentions none of these cannot trigger any rule: every rule needs torch,
# a model's mode methods, gradients or an optimizer to be named somewhere in the file.
_RELEVANT = re.compile(
    r"torch|requires_grad|\.grad\b|backward|no_grad|inference_mode|\.eval\b|\.train\b"
    r"|zero_grad|optim|\bnn\."
)


def may_matter(text: str) -> bool:
    """The prefilter: False when no rule can fire on this text, so the parse is skipped."""
    return _RELEVANT.search(text) is not None


def describe_syntax_error(text: str, exc: Exception) -> Tuple[int, int, str]:
    """(line, 1-based col, message) for a file libcst could not parse.

    Python's own parser is asked first: its message and position are the ones users
    know (libcst's native parser sometimes points past the error). If Python accepts
    the file, the syntax is newer than libcst supports and libcst's report is used.
    """
    try:
        compile(text, "<file>", "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)
    except SyntaxError as err:
        return err.lineno or 1, err.offset or 1, f"SyntaxError: {err.msg}"
    except (ValueError, RecursionError, MemoryError) as err:
        return 1, 1, f"SyntaxError: {err}"
    line = getattr(exc, "raw_line", None) or 1
    col = getattr(exc, "raw_column", None) or 0
    message = str(getattr(exc, "message", "")) or str(exc).splitlines()[0]
    return int(line), int(col) + 1, f"SyntaxError: {message} (not supported by libcst)"
