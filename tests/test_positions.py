"""Finding positions: start and end of each anchor, as libcst's own PositionProvider sees them."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from conftest import fixture_files

from gradlint.facts import FileFacts
from gradlint.positions import anchor_ranges
from gradlint.rules import implemented, run_reports
from gradlint.engine import lint_text


def test_anchor_ranges_match_libcst_position_provider():
    checked = 0
    for path in fixture_files():
        text = path.read_text(encoding="utf-8")
        wrapper = MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
        module = wrapper.module
        nodes = [report.node for _, report in run_reports(FileFacts.build(module, str(path)), implemented())]
        if not nodes:
            continue
        expected = wrapper.resolve(PositionProvider)
        for node, (line, col, end_line, end_col) in anchor_ranges(module, nodes).items():
            want = expected[node]
            assert (line, col, end_line, end_col) == (want.start.line, want.start.column + 1,
                                                      want.end.line, want.end.column + 1), (path, node)
            checked += 1
    assert checked > 40


def test_findings_carry_end_positions():
    text = "import torch\nx = torch.randn(3, requires_grad=True)\ny = x * 2\nprint(y.grad)\n"
    (finding,) = lint_text(text, "a.py")
    assert (finding.line, finding.col, finding.end_line, finding.end_col) == (4, 7, 4, 13)
    assert text.splitlines()[3][finding.col - 1:finding.end_col - 1] == "y.grad"
