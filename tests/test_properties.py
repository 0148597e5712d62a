"""Bounded property tests: no generated or mutated program breaks the engine, and
``--fix --unsafe-fixes`` converges on every one of them.

A fixed number of examples, derandomized (the same examples on every run, so a failure
reproduces), a few seconds in all. Generated programs come from Python's grammar
(hypothesmith); mutated ones are the bad fixtures with lines deleted, duplicated, swapped
or re-indented, and mode / grad-mode / training statements inserted (anywhere, or first in
a block), kept when they still parse.
"""

from __future__ import annotations

import ast

import pytest
from conftest import FIXTURES

hypothesis = pytest.importorskip("hypothesis")
hypothesmith = pytest.importorskip("hypothesmith")

import libcst as cst  # noqa: E402
from hypothesis import HealthCheck, assume, given, settings, strategies as st  # noqa: E402

from gradlint.autofix import fix_text  # noqa: E402
from gradlint.engine import lint_text  # noqa: E402

BAD = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("GL*/bad_*.py"))]
INSERTS = ["model.eval", "model.train()", "torch.no_grad()", "torch.set_grad_enabled(True)",
           "optimizer.step()", "loss.backward()", "total = total + loss", "for p in model.parameters():",
           "    p.requires_grad = False", "with torch.no_grad():", "    pass", "if x:", "return model(x)"]

BOUNDED = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))


@st.composite
def mutated_fixture(draw):
    lines = draw(st.sampled_from(BAD)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "indent", "dedent", "insert"] + ["into_block"] * 4))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "indent":
            lines[i] = "    " + lines[i]
        elif kind == "dedent":
            lines[i] = lines[i][4:] if lines[i].startswith("    ") else lines[i]
        elif kind == "insert":
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines.insert(i, indent + draw(st.sampled_from(INSERTS)) + "\n")
        else:  # first statement of a block: where a region's mode or grad mode changes
            openers = [k for k, line in enumerate(lines) if line.rstrip().endswith(":")]
            if openers:
                k = draw(st.sampled_from(openers))
                indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())] + "    "
                lines.insert(k + 1, indent + draw(st.sampled_from(INSERTS[:6])) + "\n")
    text = "".join(lines)
    try:  # the fixer's work is on programs that parse; broken ones are the engine test's
        ast.parse(text)
    except SyntaxError:
        assume(False)
    return text


def converges(text: str) -> None:
    """The fixer's contract on any text: the result parses whenever the input does, a second
    run changes nothing and fixes nothing, and no finding is lost (every finding of the input
    is either fixed or still reported)."""
    new, remaining, fixed = fix_text(text, "t.py", unsafe=True)
    if new != text:
        cst.parse_module(new)
        assert fixed > 0, "the text changed but nothing was counted as fixed"
    again, remaining_again, refixed = fix_text(new, "t.py", unsafe=True)
    assert again == new and refixed == 0, "a second --fix changed the file"
    assert sorted((f.code, f.message) for f in remaining_again) == sorted((f.code, f.message) for f in remaining)
    before = lint_text(text, "t.py")
    assert len(before) <= fixed + len(remaining) + sum(1 for f in before if f.is_error)


@BOUNDED
@given(mutated_fixture())
def test_mutated_fixtures_lint_and_fix_converges(text):
    assert all(f.line >= 1 and f.col >= 1 for f in lint_text(text, "t.py", fixes="notes"))
    converges(text)


@settings(BOUNDED, max_examples=25)
@given(hypothesmith.from_grammar())
def test_generated_programs_never_break_the_engine(source):
    text = "import torch\nimport torch.nn as nn\n" + source
    for finding in lint_text(text, "g.py", fixes="notes"):
        assert finding.line >= 1 and finding.col >= 1
    converges(text)
