"""``# noqa`` comments, read as flake8 reads them.

``# noqa`` on a finding's line suppresses every finding there; ``# noqa: GL101,GL201``
suppresses those codes (a listed prefix such as ``GL1`` covers ``GL101``, as in
flake8). A comment at the end of a multi-line string covers every line of that string,
again as flake8 does. Only real comments count: ``"# noqa"`` inside a string does not.

The flake8 plugin does not use this module: flake8 applies its own ``# noqa``.
"""

from __future__ import annotations

import io
import re
import tokenize
from typing import Dict, FrozenSet, Iterable, List, Optional

from .finding import Finding

# flake8's own pattern (flake8/defaults.py), so both ways of running agree on what counts:
# "# noqa", then optionally ":" and a comma/space separated list of codes, any case.
_NOQA = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)

# line -> None (every code) or the codes / prefixes listed there
Suppressions = Dict[int, Optional[FrozenSet[str]]]


class _Noqa:
    """What one line's comments suppress: everything (``codes is None``) or some codes."""

    __slots__ = ("codes",)

    def __init__(self, codes: Optional[FrozenSet[str]]) -> None:
        self.codes = codes

    def merged(self, other: Optional["_Noqa"]) -> "_Noqa":
        if other is None:
            return self
        if self.codes is None or other.codes is None:
            return _Noqa(None)
        return _Noqa(self.codes | other.codes)


def _parse(comment: str) -> Optional[_Noqa]:
    match = _NOQA.search(comment)
    if match is None:
        return None
    codes = match.group("codes")
    return _Noqa(frozenset(c.upper() for c in _CODE.findall(codes)) if codes else None)


def _by_comment_ranges(text: str) -> Dict[int, _Noqa]:
    """Group physical lines the way flake8 does (a multi-line token joins its lines)."""
    found: Dict[int, _Noqa] = {}
    start: Optional[int] = None
    end = 0
    pending: Optional[_Noqa] = None

    def flush() -> None:
        if pending is not None and start is not None:
            for line in range(start, end + 1):
                found[line] = pending.merged(found.get(line))

    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT):
            continue
        start = tok.start[0] if start is None else min(start, tok.start[0])
        end = max(end, tok.end[0])
        if tok.type == tokenize.COMMENT:
            parsed = _parse(tok.string)
            if parsed is not None:
                pending = parsed.merged(pending)
        if tok.type in (tokenize.NL, tokenize.NEWLINE):
            flush()
            start, end, pending = None, 0, None
    flush()
    return found


def _by_lines(text: str) -> Dict[int, _Noqa]:
    """Fallback for text that does not tokenize: every physical line on its own."""
    found: Dict[int, _Noqa] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if "#" in line:
            parsed = _parse(line[line.index("#"):])
            if parsed is not None:
                found[number] = parsed
    return found


def suppressions(text: str) -> Suppressions:
    """Map each line that carries a ``# noqa`` to the codes it suppresses (None: all)."""
    if "noqa" not in text.lower():
        return {}
    try:
        table = _by_comment_ranges(text)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        table = _by_lines(text)
    return {line: noqa.codes for line, noqa in table.items()}


def is_suppressed(finding: Finding, table: Suppressions) -> bool:
    if finding.line not in table:
        return False
    codes = table[finding.line]
    if codes is None:
        return True
    return finding.code in codes or finding.code.startswith(tuple(codes))


def apply_noqa(findings: Iterable[Finding], text: str) -> List[Finding]:
    """The findings that no ``# noqa`` comment in ``text`` suppresses.

    Per-file errors (E902, E999) are never suppressed: the file was not linted at all.
    """
    findings = list(findings)
    if not findings:
        return findings
    table = suppressions(text)
    if not table:
        return findings
    return [f for f in findings if f.is_error or not is_suppressed(f, table)]
