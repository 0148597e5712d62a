"""The command line: output format, summary, exit status, subcommands."""

import subprocess

from click.testing import CliRunner

from conftest import PYTHON, ROOT, run_env
from gradlint.cli import main

BAD = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * x\nprint(y.grad)\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_findings_exit_1_with_flake8_lines_and_summary(tmp_path):
    path = write(tmp_path, "bad.py", BAD)
    result = CliRunner().invoke(main, [path])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{path}:4:7: GL401 ")
    assert lines[-2] == "Found 1 problem in 1 file (1 file checked)."
    assert lines[-1] == "No safe fixes; 1 fixable with `gradlint --fix --unsafe-fixes`."


def test_clean_exit_0(tmp_path):
    path = write(tmp_path, "ok.py", "import torch\nprint(torch.ones(1))\n")
    result = CliRunner().invoke(main, [path])
    assert result.exit_code == 0
    assert result.output.strip() == "No problems found (1 file checked)."


def test_missing_path_is_a_usage_error_but_other_paths_are_linted(tmp_path):
    path = write(tmp_path, "bad.py", BAD)
    result = CliRunner().invoke(main, [str(tmp_path / "nope.py"), path])
    assert result.exit_code == 2
    assert "nope.py: no such file or directory" in result.output
    assert "GL401" in result.output


def test_unknown_select_code_is_a_usage_error(tmp_path):
    path = write(tmp_path, "bad.py", BAD)
    result = CliRunner().invoke(main, ["--select", "GL777", path])
    assert result.exit_code == 2
    assert "unknown rule code" in result.output


def test_select_and_ignore(tmp_path):
    path = write(tmp_path, "bad.py", BAD)
    assert CliRunner().invoke(main, ["--select", "GL1", path]).exit_code == 0
    assert CliRunner().invoke(main, ["--ignore", "GL401", path]).exit_code == 0
    assert CliRunner().invoke(main, ["--select", "GL4", path]).exit_code == 1


def test_syntax_error_file_is_reported_and_exit_nonzero(tmp_path):
    path = write(tmp_path, "broken.py", "import torch\nif True print(1)\n")
    result = CliRunner().invoke(main, [path])
    assert result.exit_code == 1
    assert "E999 SyntaxError" in result.output
    assert "could not be linted" in result.output


def test_rules_lists_every_implemented_rule():
    result = CliRunner().invoke(main, ["rules"])
    assert result.exit_code == 0
    codes = [line.split()[0] for line in result.output.splitlines()]
    assert codes == ["GL101", "GL102", "GL103", "GL104", "GL105", "GL201", "GL202", "GL203", "GL204", "GL301",
                     "GL302", "GL303", "GL401", "GL501", "GL502", "GL503", "GL901", "GL902"]
    assert "eval-mode-missing" in result.output


def test_python_dash_m_and_console_script(tmp_path):
    path = write(tmp_path, "bad.py", BAD)
    proc = subprocess.run([PYTHON, "-m", "gradlint", path], capture_output=True, text=True,
                          env=run_env(), cwd=ROOT)
    assert proc.returncode == 1 and "GL401" in proc.stdout
