"""``# noqa`` and ``# noqa: CODES`` on a finding's line, in the command line."""

from __future__ import annotations

from conftest import EVAL_BARE, EVAL_NO_EVAL, MISC, gradlint, line_of, parse_lines, write

from gradlint.engine import lint_text
from gradlint.noqa import suppressions

ANCHOR = "out = model(x)"


def _with_comment(text: str, fragment: str, comment: str) -> str:
    lines = text.splitlines()
    n = line_of(text, fragment) - 1
    lines[n] = f"{lines[n]}  {comment}"
    return "\n".join(lines) + "\n"


def _codes(text: str, path: str = "sample.py"):
    return sorted((f.line, f.code) for f in lint_text(text, path))


def test_sample_is_flagged_without_noqa():
    line = line_of(EVAL_BARE, ANCHOR)
    assert _codes(EVAL_BARE) == [(line, "GL101"), (line, "GL201")]


def test_blanket_noqa_suppresses_every_code_on_the_line():
    assert _codes(_with_comment(EVAL_BARE, ANCHOR, "# noqa")) == []


def test_noqa_with_codes_suppresses_only_those():
    line = line_of(EVAL_BARE, ANCHOR)
    assert _codes(_with_comment(EVAL_BARE, ANCHOR, "# noqa: GL101")) == [(line, "GL201")]
    assert _codes(_with_comment(EVAL_BARE, ANCHOR, "# noqa: GL201")) == [(line, "GL101")]
    assert _codes(_with_comment(EVAL_BARE, ANCHOR, "# noqa: GL101,GL201")) == []
    assert _codes(_with_comment(EVAL_BARE, ANCHOR, "# NOQA:GL101 GL201")) == []


def test_noqa_code_prefix_covers_the_family_as_in_flake8():
    line = line_of(EVAL_BARE, ANCHOR)
    assert _codes(_with_comment(EVAL_BARE, ANCHOR, "# noqa: GL1")) == [(line, "GL201")]


def test_noqa_for_another_tool_or_line_does_not_suppress():
    line = line_of(EVAL_BARE, ANCHOR)
    assert len(_codes(_with_comment(EVAL_BARE, ANCHOR, "# noqa: E501"))) == 2
    other = _with_comment(EVAL_BARE, "for x in loader", "# noqa")
    assert _codes(other) == [(line, "GL101"), (line, "GL201")]


def test_noqa_inside_a_string_is_not_a_comment():
    lines = MISC.splitlines()
    n = line_of(MISC, "print(y.grad)") - 1
    lines[n] = 'print(y.grad, "# noqa")'
    findings = _codes("\n".join(lines) + "\n")
    assert (n + 1, "GL401") in findings


def test_noqa_after_a_multiline_string_covers_its_lines_like_flake8():
    text = 'x = f("""\nfirst\nsecond\n""")  # noqa: GL401\ny = 1\n'
    table = suppressions(text)
    assert table[1] == table[2] == table[3] == table[4] == frozenset({"GL401"})
    assert 5 not in table


def test_cli_exit_status_ignores_suppressed_findings(tmp_path):
    bad = write(tmp_path, "bad.py", EVAL_NO_EVAL)
    result = gradlint(str(bad), cwd=tmp_path)
    assert result.returncode == 1
    assert [c for *_, c in parse_lines(result.stdout)] == ["GL101"]

    quiet = write(tmp_path, "quiet.py", _with_comment(EVAL_NO_EVAL, ANCHOR, "# noqa: GL101"))
    result = gradlint(str(quiet), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert parse_lines(result.stdout) == []
    assert "No problems found" in result.stdout


def test_per_file_errors_are_never_suppressed(tmp_path):
    broken = write(tmp_path, "broken.py", "import torch\ndef f(:  # noqa\n")
    result = gradlint(str(broken), cwd=tmp_path)
    assert result.returncode == 1
    assert [c for *_, c in parse_lines(result.stdout)] == ["E999"]
