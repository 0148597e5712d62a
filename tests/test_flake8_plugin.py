"""The flake8 plugin, exercised through the real ``flake8`` command."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import EVAL_BARE, EVAL_NO_EVAL, MISC, gradlint, line_of, parse_lines, write

pytest.importorskip("flake8", reason="flake8 is not installed (pip install 'torch-gradlint[flake8]')")


def flake8(*args: str, cwd) -> subprocess.CompletedProcess:
    # --isolated: no user or project flake8 configuration changes what these tests see.
    return subprocess.run([sys.executable, "-m", "flake8", "--isolated", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def _full_lines(output: str):
    return sorted(line for line in output.splitlines() if ": GL" in line or ": E" in line)


@pytest.fixture
def samples(tmp_path):
    write(tmp_path, "evaluate.py", EVAL_BARE)
    write(tmp_path, "misc.py", MISC)
    write(tmp_path, "no_grad_eval.py", EVAL_NO_EVAL)
    # Tabs and a non-ASCII name before the anchor: columns count characters in both tools.
    tabbed = EVAL_NO_EVAL.replace("    ", "\t").replace("out = model(x)", "é = 0; out = model(x)")
    write(tmp_path, "tabbed.py", tabbed)
    return tmp_path


def test_plugin_is_registered():
    result = subprocess.run([sys.executable, "-m", "flake8", "--version"], capture_output=True, text=True)
    assert "gradlint" in result.stdout


def test_same_findings_lines_and_columns_as_the_cli(samples):
    names = ["evaluate.py", "misc.py", "no_grad_eval.py", "tabbed.py"]
    ours = gradlint("--isolated", *names, cwd=samples)
    theirs = flake8("--select", "GL", *names, cwd=samples)
    assert ours.returncode == 1 and theirs.returncode == 1, theirs.stderr
    assert len(parse_lines(ours.stdout)) >= 8
    # Same path, line, column, code and message, line for line.
    assert _full_lines(theirs.stdout) == _full_lines(ours.stdout)
    tabbed = (samples / "tabbed.py").read_text(encoding="utf-8")
    row = tabbed.splitlines()[line_of(tabbed, "out = model(x)") - 1]
    assert ("tabbed.py", line_of(tabbed, "out = model(x)"), row.index("model(x)") + 1, "GL101") in \
        parse_lines(theirs.stdout)


def test_select_prefix(samples):
    result = flake8("--select", "GL1", "evaluate.py", "misc.py", cwd=samples)
    assert sorted({c for *_, c in parse_lines(result.stdout)}) == ["GL101", "GL102"]
    result = flake8("--select", "GL", "--ignore", "GL1", "evaluate.py", cwd=samples)
    assert [c for *_, c in parse_lines(result.stdout)] == ["GL201"]


def test_noqa_is_honoured_by_flake8(tmp_path):
    line = line_of(EVAL_BARE, "out = model(x)")
    lines = EVAL_BARE.splitlines()
    lines[line - 1] += "  # noqa: GL101"
    write(tmp_path, "evaluate.py", "\n".join(lines) + "\n")
    result = flake8("--select", "GL", "evaluate.py", cwd=tmp_path)
    assert [c for *_, c in parse_lines(result.stdout)] == ["GL201"]
    cli = gradlint("--isolated", "evaluate.py", cwd=tmp_path)
    assert [c for *_, c in parse_lines(cli.stdout)] == ["GL201"]
    # The plugin did report GL101; flake8's noqa handling dropped it.
    result = flake8("--select", "GL", "--disable-noqa", "evaluate.py", cwd=tmp_path)
    assert [c for *_, c in parse_lines(result.stdout)] == ["GL101", "GL201"]


def test_per_file_ignores(samples):
    result = flake8("--select", "GL", "--per-file-ignores", "misc.py:GL102,GL4 evaluate.py:GL",
                    "evaluate.py", "misc.py", cwd=samples)
    assert sorted(c for *_, c in parse_lines(result.stdout)) == ["GL202", "GL302"]


def test_syntax_error_is_flake8s_e999_only(tmp_path):
    write(tmp_path, "broken.py", "import torch\ndef f(:\n    pass\n")
    result = flake8("--select", "GL,E999", "broken.py", cwd=tmp_path)
    assert [(line, c) for _, line, _, c in parse_lines(result.stdout)] == [(2, "E999")]
    assert "Traceback" not in result.stderr
    # The command line reports the syntax error on the same line.
    ours = gradlint("--isolated", "broken.py", cwd=tmp_path)
    assert [(line, c) for _, line, _, c in parse_lines(ours.stdout)] == [(2, "E999")]


def test_file_without_torch_is_clean(tmp_path):
    write(tmp_path, "plain.py", "def add(a, b):\n    return a + b\n")
    result = flake8("--select", "GL", "plain.py", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout == ""
