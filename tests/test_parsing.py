"""``gradlint.parsing.parse``: libcst's tree without re-validating the parser's own nodes; every
node built elsewhere (fixes) is still validated, and the tree is the same."""

from __future__ import annotations

import libcst as cst
import pytest
from conftest import FIXTURES

from gradlint.parsing import parse


def test_the_tree_is_libcsts_and_round_trips():
    for path in sorted(FIXTURES.glob("GL*/*.py"))[:40]:
        text = path.read_text(encoding="utf-8")
        tree = parse(text)
        assert tree.code == text
        assert tree.deep_equals(cst.parse_module(text))


def test_nodes_built_outside_a_parse_are_still_validated():
    parse("x = 1\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("not a name")  # an identifier with a space: libcst rejects it
    with pytest.raises(cst.ParserSyntaxError):
        parse("def (:\n")
    with pytest.raises(cst.CSTValidationError):
        cst.Name("still not")
