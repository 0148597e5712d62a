"""Linting and fixing bytes that are not on disk (``gradlint -``, editors) as the file they name.

The name decides the kind (a ``.ipynb`` name is read as a notebook) and is the path the
findings carry; the caller resolves the configuration and per-file ignores for it.
"""

from __future__ import annotations

import io
import tokenize
from typing import List, Optional, Tuple

from .autofix import fix_text, unified_diff
from .engine import lint_file
from .finding import Finding
from .notebook import SUFFIX as NOTEBOOK_SUFFIX
from .selection import Selection
from .source import SourceError, decode


def _text(path: str, data: bytes) -> str:
    """The text shown as source context (a notebook's JSON, a file's decoded source)."""
    if path.endswith(NOTEBOOK_SUFFIX):
        return data.decode("utf-8-sig", errors="replace")
    try:
        return decode(data)
    except SourceError:
        return data.decode("utf-8", errors="replace")


def lint_data(path: str, data: bytes, selection: Optional[Selection] = None) -> Tuple[List[Finding], str]:
    """(findings with fix notes, text for source context) for ``data`` read as ``path``: a
    Python file with the project view of its folder (the answer ``gradlint PATH`` gives for
    the file on disk), a notebook or a nameless ``-`` on its own."""
    if path.endswith(NOTEBOOK_SUFFIX) or path == "-":
        return lint_file(path, selection, fixes="notes", data=data), _text(path, data)
    try:
        text = decode(data)
    except SourceError as exc:
        return [Finding(path, 1, 1, "E902", exc.reason)], _text(path, data)
    from .project.lint import lint_files

    chosen = selection or Selection()
    return lint_files([path], lambda _: chosen, fixes="notes", texts={path: text}), text


def fix_data(path: str, data: bytes, selection: Optional[Selection] = None,
             unsafe: bool = False) -> Tuple[bytes, List[Finding], int, str, str]:
    """(fixed bytes, remaining findings, number fixed, unified diff, fixed text) for ``data``
    read as ``path``. Bytes that cannot be decoded or parsed come back unchanged, with the
    E902 / E999 finding."""
    if path.endswith(NOTEBOOK_SUFFIX):
        from .notebook_fix import fix_notebook_data

        result = fix_notebook_data(path, data, selection, unsafe)
        new = result.data if result.data is not None else data
        before, after = _text(path, data), _text(path, new)
        return new, result.findings, result.fixed, unified_diff(path, before, after) if new != data else "", after
    try:
        text = decode(data)
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except (SourceError, SyntaxError) as exc:
        reason = exc.reason if isinstance(exc, SourceError) else f"cannot decode: {exc}"
        return data, [Finding(path, 1, 1, "E902", reason)], 0, "", _text(path, data)
    from .autofix import project_fixer

    settled, build = project_fixer(path, text)
    if settled is not None:
        return data, settled, 0, "", text
    if build is None:  # not PyTorch code: nothing to fix
        return data, [], 0, "", text
    new_text, remaining, fixed = fix_text(text, path, selection, unsafe, build=build)
    if new_text == text or any(f.is_error for f in remaining):
        return data, remaining, 0, "", text
    return new_text.encode(encoding), remaining, fixed, unified_diff(path, text, new_text), new_text
