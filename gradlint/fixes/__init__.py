"""Autofix: what a rule can rewrite, as edits of the module the linter already parsed.

A ``Fix`` is a few ``Edit``s, each replacing one node of that parse (by identity) with
what ``replace(updated_node)`` returns: a node, a ``cst.FlattenSentinel`` of statements
(insertions) or a compound statement that contains it (wrapping). ``replace`` receives the
node as the transformer rebuilt it, so an edit of an outer node (a decorator on a
function) keeps the edits applied inside it in the same pass.

``claims`` are the nodes whose lines the edit rewrites. Two fixes whose claimed lines
overlap never go in the same pass (the second waits for the re-lint), and a fix that
claims a line carrying a ``# noqa``-suppressed finding is never applied.

Rules build fixes lazily: a report carries a zero-argument builder that returns a
``Fix``, a ``NotFixable`` (the rule has a fix, but not for this place, and says why), or
None. Builders run only for findings, and only when fixes are wanted.

Each rule's fix builders live beside its check (``gradlint/rules/glNNN.py``); this
package holds what they share: ``cst_tools`` (libcst helpers), ``regions`` (where GL101's
``eval()`` and GL201's ``no_grad`` go) and ``apply`` (a set of fixes in one transformer pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Union

import libcst as cst

Replacement = Union[cst.CSTNode, cst.FlattenSentinel, cst.RemovalSentinel]


@dataclass(frozen=True, eq=False)
class Edit:
    node: cst.CSTNode
    replace: Callable[[cst.CSTNode], Replacement]
    claims: Tuple[cst.CSTNode, ...] = ()

    @property
    def claimed(self) -> Tuple[cst.CSTNode, ...]:
        return self.claims or (self.node,)


@dataclass(frozen=True, eq=False)
class Fix:
    edits: Tuple[Edit, ...]
    description: str
    safe: bool
    imports: Tuple[str, ...] = ()   # modules the new code names and that may need `import X`

    @property
    def applicability(self) -> str:
        return "safe" if self.safe else "unsafe"


@dataclass(frozen=True)
class NotFixable:
    """The rule has a fix, but gradlint cannot place it here safely."""

    reason: str
    applicability: str = "unavailable"

    @property
    def description(self) -> str:
        return self.reason


@dataclass(frozen=True)
class FixNote:
    """What a finding's fix is, without its nodes: plain data, safe to pickle and to print."""

    applicability: str   # safe | unsafe | unavailable
    description: str

    @classmethod
    def of(cls, fix) -> Optional["FixNote"]:
        if fix is None:
            return None
        return cls(fix.applicability, fix.description)


Builder = Callable[[], Union[Fix, NotFixable, None]]
