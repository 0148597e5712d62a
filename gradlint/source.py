"""Reading a file into text (PEP 263 aware), the cheap test that skips most files, and the
nesting check that keeps a file libcst's native parser would crash on away from it.

Every way a file can fail here is a ``SourceError`` with the code of its per-file finding:
``E902`` when it cannot be read or decoded (a FIFO, a device, a folder, an unknown codec,
text that is not valid Unicode), ``E903`` when gradlint will not analyse it (over
``max-file-size``, nested deeper than its parser can follow).
"""

from __future__ import annotations

import ast
import codecs
import os
import re
import stat
import tokenize
from dataclasses import dataclass
from typing import Optional, Tuple

# The largest file gradlint parses. libcst needs about 2-3 KB of memory per token: 570
# bytes per byte of ordinary code (torch's largest .py file, 1.3 MiB, peaks at 785 MB) and
# 1.4 KB per byte of a dense list literal (1 MiB of `1, 1, ...`: 1.4 GB, 50 s). At 2 MiB
# the worst case stays under 3 GB per worker; a 50 MB file would have needed 28 GB or more.
MAX_FILE_SIZE = 2 << 20
# Notebooks: the JSON holds outputs (images, tables), so its own limit is larger; the code
# cells it yields are held to MAX_FILE_SIZE like a .py file.
MAX_NOTEBOOK_SIZE = 64 << 20


class SourceError(Exception):
    """A file that cannot be linted; ``reason`` is shown to the user, ``code`` is the finding's."""

    def __init__(self, reason: str, code: str = "E902"):
        super().__init__(reason)
        self.reason = reason
        self.code = code


def size_text(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def too_large(size: int, limit: int) -> SourceError:
    return SourceError(f"gradlint could not analyse this file: it is {size_text(size)}, over the "
                       f"{size_text(limit)} limit (`max-file-size`)", "E903")


def read_bytes(path: str, limit: Optional[int] = MAX_FILE_SIZE) -> bytes:
    """A regular file's bytes, at most ``limit`` of them.

    The file is opened without blocking and checked before anything is read: a FIFO, a
    device (``/dev/zero``) or a folder is an E902 ("not a regular file"), never a hang or a
    read that does not end; a file over ``limit`` is an E903.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(f"cannot read: {_kind(info.st_mode)}, not a regular file: skipped")
        if limit is not None and info.st_size > limit:
            raise too_large(info.st_size, limit)
        chunks = []
        left = (limit + 1) if limit is not None else None
        while left is None or left > 0:
            chunk = os.read(fd, 1 << 20 if left is None else min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            if left is not None:
                left -= len(chunk)
        data = b"".join(chunks)
        if limit is not None and len(data) > limit:  # it grew while being read
            raise too_large(len(data), limit)
        return data
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


# Coding cookies that name a source transform rather than a text encoding: the file is
# UTF-8 underneath, and its syntax is plain Python 3.6+ (``future_fstrings`` rewrites
# f-strings for older interpreters; ``future_annotations`` does the same for PEP 563).
UTF8_TRANSFORMS = frozenset({"future_fstrings", "future_annotations"})


def _cookie(data: bytes) -> Optional[str]:
    for line in data.splitlines()[:2]:
        match = tokenize.cookie_re.match(line.decode("latin-1"))
        if match:
            return match.group(1)
        if not tokenize.blank_re.match(line):
            break
    return None


def detect_encoding(data: bytes) -> str:
    """The encoding Python would read ``data`` with (BOM, then a coding cookie, else UTF-8);
    ``utf-8-sig`` when there is a BOM, so that writing back restores it."""
    try:
        encoding, _ = tokenize.detect_encoding(iter(data.splitlines(keepends=True)[:2]).__next__)
        return encoding
    except StopIteration:
        return "utf-8"
    except SyntaxError as exc:  # an unknown codec in the cookie, or a BOM + cookie mismatch
        cookie = _cookie(data)
        if cookie and cookie.lower().replace("-", "_") in UTF8_TRANSFORMS:
            return "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
        raise SourceError(f"cannot decode: {exc}") from None


LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_source(data: bytes) -> Tuple[str, str]:
    """(text, encoding) of Python source bytes, decoded as the interpreter would.

    Text that is not valid Unicode (a lone surrogate, which the ``utf-7`` and
    ``unicode_escape`` codecs can produce) is an E902: nothing downstream can encode it.
    """
    encoding = detect_encoding(data)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc}") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    bad = LONE_SURROGATE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise SourceError(f"cannot decode as {encoding}: line {line} holds a lone surrogate "
                          f"(U+{ord(bad.group()):04X}), which is not valid Unicode")
    return text, encoding


def decode(data: bytes) -> str:
    """Decode Python source bytes as the interpreter would: BOM, then a coding cookie, else UTF-8."""
    return decode_source(data)[0]


def read_source(path: str, limit: Optional[int] = MAX_FILE_SIZE) -> str:
    return decode(read_bytes(path, limit))


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
        python_parse(text)
    except PythonRejects as err:
        return err.line, err.col, err.message
    line = getattr(exc, "raw_line", None) or 1
    col = getattr(exc, "raw_column", None) or 0
    message = str(getattr(exc, "message", "")) or str(exc).splitlines()[0]
    return int(line), int(col) + 1, f"SyntaxError: {message} (not supported by libcst)"


class PythonRejects(Exception):
    """Python's own parser rejects the text: where and why, as an E999 reports it."""

    def __init__(self, line: int, col: int, message: str, nesting: bool) -> None:
        super().__init__(message)
        self.line, self.col, self.message = line, col, message
        self.nesting = nesting  # about depth: no parser should be asked to try harder


_NESTING_MESSAGE = re.compile(r"too many (nested parentheses|statically nested blocks|levels of indentation)"
                              r"|too complex|nested too deeply", re.IGNORECASE)


def python_parse(text: str) -> ast.AST:
    """Python's AST of ``text``; ``PythonRejects`` when Python's parser refuses it."""
    try:
        return compile(text, "<file>", "exec", dont_inherit=True, flags=ast.PyCF_ONLY_AST)
    except SyntaxError as err:
        raise PythonRejects(err.lineno or 1, err.offset or 1, f"SyntaxError: {err.msg}",
                            bool(_NESTING_MESSAGE.search(str(err.msg)))) from None
    except (RecursionError, MemoryError) as err:
        why = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        raise PythonRejects(1, 1, f"SyntaxError: too deeply nested for Python's parser ({why})", True) from None
    except ValueError as err:  # null bytes (before Python 3.12)
        raise PythonRejects(1, 1, f"SyntaxError: {err}", False) from None


# -- nesting: what libcst's native parser and gradlint's analysis can follow -------------------

# A file under all of these is parsed the ordinary way; over any, the careful way: Python's
# parser judges it first, and libcst and the analysis run on a thread with a large stack.
# libcst's native parser overflows the ordinary 8 MiB stack at about 1,300 levels of
# nesting, and each level takes at least one character of code (`-` in `------1`).
DEEP_BRACKETS = 40
DEEP_LOGICAL_LINE = 1000    # characters of code in one logical line (a string or comment counts as one)
DEEP_ELIFS = 200            # `elif` branches in the file
# libcst nests an `and`/`or` chain one level per operand where Python keeps it flat: past
# this many operands even the large stack would not do, so the file is not analysed.
MAX_BOOL_CHAIN = 10000

# Strings and comments (skipped whole), brackets, and line ends (a backslash continues one).
_STRUCTURE = re.compile(r'''"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|#[^\r\n]*'''
                        r"|[(\[{]|[)\]}]|\\\r?\n|\r\n|\n|\r")


@dataclass(frozen=True)
class Nesting:
    """Upper bounds on how deep a text nests, from a scan that does not tokenize: the deepest
    brackets, the longest logical line in characters of code, the number of ``elif``."""

    brackets: int
    logical_line: int
    elifs: int

    @property
    def deep(self) -> bool:
        return (self.brackets > DEEP_BRACKETS or self.logical_line > DEEP_LOGICAL_LINE
                or self.elifs > DEEP_ELIFS)


def nesting(text: str) -> Nesting:
    """The cheap scan: one regex over strings, comments, brackets and line ends (under a
    millisecond for most files; 1.6 s for torch's 2,285 files)."""
    depth = deepest = 0
    start = longest = skipped = 0
    for match in _STRUCTURE.finditer(text):
        c = match.group()
        first = c[0]
        if first in "([{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif first in ")]}":
            depth = max(0, depth - 1)
        elif first in "\r\n":
            if depth == 0:
                longest = max(longest, match.start() - start - skipped)
                start, skipped = match.end(), 0
        elif first != "\\":  # a string or a comment: one level at most, whatever its length
            skipped += len(c) - 1
    longest = max(longest, len(text) - start - skipped)
    return Nesting(deepest, longest, text.count("elif"))


def deep_problem(text: str) -> Optional[Tuple[str, int, int, str]]:
    """For a text whose ``nesting`` is deep: (code, line, col, message) of the finding that
    stands for the file when it must not reach libcst, else None.

    E999 when Python's own parser rejects it for its depth (over 200 nested brackets,
    a recursion limit): libcst's native parser would crash on some of these. E903 when
    Python accepts it but it is deeper than gradlint follows (an ``and``/``or`` chain
    that Python keeps flat and libcst nests). An ordinary syntax error is left to the parse.
    """
    try:
        tree = python_parse(text)
    except PythonRejects as err:
        return ("E999", err.line, err.col, err.message) if err.nesting else None
    for node in ast.walk(tree):
        if isinstance(node, ast.BoolOp) and len(node.values) > MAX_BOOL_CHAIN:
            op = "and" if isinstance(node.op, ast.And) else "or"
            return ("E903", node.lineno, node.col_offset + 1,
                    f"gradlint could not analyse this file: an `{op}` chain of {len(node.values)} operands "
                    f"is deeper than its parser can follow (limit {MAX_BOOL_CHAIN})")
    return None
