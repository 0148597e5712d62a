"""The one way gradlint parses source: ``libcst.parse_module`` without re-validating the tree.

libcst validates every node it constructs (``CSTNode.__post_init__`` calls ``_validate``),
which guards trees that code builds by hand; for a tree its own parser has just produced the
checks cannot fail, and they cost about 40% of a parse (libcst's own comment on
``__post_init__`` notes it). ``parse`` skips them for the nodes the parser makes, in this
thread only: nodes that fixes construct, and every other thread, are validated as usual.
"""

from __future__ import annotations

import threading

import libcst as cst
from libcst._nodes.base import CSTNode

_state = threading.local()
_validated = CSTNode.__post_init__


def _post_init(self) -> None:
    if not getattr(_state, "parsing", False):
        _validated(self)


CSTNode.__post_init__ = _post_init  # type: ignore[method-assign]


def parse(text: str) -> cst.Module:
    """``libcst.parse_module(text)``, its nodes unvalidated (they come from the parser)."""
    outer = getattr(_state, "parsing", False)
    _state.parsing = True
    try:
        return cst.parse_module(text)
    finally:
        _state.parsing = outer
