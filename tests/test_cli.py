"""The command line: output format, summary, exit status, subcommands."""

import os
import subprocess

import pytest

from click.testing import CliRunner

from conftest import PYTHON, ROOT, run_env
from gradlint.cli import main
from gradlint.rules import implemented

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
    assert codes == implemented() and {"GL101", "GL304", "GL404", "GL501"} <= set(codes)
    assert "eval-mode-missing" in result.output


def test_python_dash_m_and_console_script(tmp_path):
    path = write(tmp_path, "bad.py", BAD)
    proc = subprocess.run([PYTHON, "-m", "gradlint", path], capture_output=True, text=True,
                          env=run_env(), cwd=ROOT)
    assert proc.returncode == 1 and "GL401" in proc.stdout


# -- CLI habits (ruff's and flake8's) --------------------------------------------------------------
def test_top_level_help_shows_the_lint_options_and_the_exit_status():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for option in ("--select", "--extend-ignore", "--fix", "--unsafe-fixes", "--output-format",
                   "--stdin-filename", "--no-respect-gitignore", "--output-file"):
        assert option in result.output, option
    assert "Exit status:" in result.output and "2  usage, configuration or internal error" in result.output
    assert "server" in result.output and "verify" in result.output
    assert "-V, --version" in result.output and "[PATHS]...  " not in result.output
    check_help = CliRunner().invoke(main, ["check", "--help"]).output
    assert "Exit status:" in check_help


def test_version_short_and_long():
    from gradlint import __version__

    for flag in ("-V", "--version"):
        result = CliRunner().invoke(main, [flag])
        assert result.exit_code == 0 and result.output.strip() == f"gradlint {__version__}"


def test_a_missing_path_never_reads_as_clean(tmp_path):
    ok = write(tmp_path, "ok.py", "import torch\n")
    result = CliRunner().invoke(main, ["--no-cache", str(tmp_path / "nope.py"), ok])
    assert result.exit_code == 2
    assert "No problems found" not in result.output
    assert result.output.splitlines()[-1] == "1 path not found. No problems in the files found (1 file checked)."


def test_an_unreadable_file_is_reported_per_file_and_the_rest_is_linted(tmp_path, monkeypatch):
    """Simulated (this suite may run as root, who reads any file): the OS refuses to open one
    file; click must not reject the command and the other file's findings must come out."""
    import gradlint.source

    secret, bad = write(tmp_path, "secret.py", BAD), write(tmp_path, "bad.py", BAD)
    real_open = os.open

    def guarded_open(path, *args, **kwargs):
        if str(path) == secret:
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(gradlint.source.os, "open", guarded_open)
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)  # what click's readable check asks
    result = CliRunner().invoke(main, ["--no-cache", "-j", "1", secret, bad])
    assert result.exit_code == 1, result.output
    assert f"{secret}:1:1: E902 cannot read: Permission denied" in result.output
    assert f"{bad}:4:7: GL401" in result.output


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads a mode-000 file")
def test_an_unreadable_file_for_real(tmp_path):
    secret, bad = write(tmp_path, "secret.py", BAD), write(tmp_path, "bad.py", BAD)
    os.chmod(secret, 0)
    proc = subprocess.run([PYTHON, "-m", "gradlint", "--no-cache", secret, bad], capture_output=True, text=True,
                          env=run_env(), cwd=tmp_path)
    assert proc.returncode == 1 and "E902 cannot read" in proc.stdout and "GL401" in proc.stdout


def test_a_closed_pipe_ends_the_run_quietly(tmp_path):
    """`gradlint ... | head -1`: no BrokenPipeError traceback, the exit status of a run with findings."""
    write(tmp_path, "many.py", "import torch\nmodel = torch.nn.Linear(2, 2)\n" + "model.eval\n" * 4000)
    proc = subprocess.Popen([PYTHON, "-m", "gradlint", "--no-cache", "many.py"], cwd=tmp_path, env=run_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert b"GL102" in first
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr and "Exception ignored" not in stderr


# -- standard input and --output-file ---------------------------------------------------------------
def test_stdin_with_a_filename_uses_its_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "pyproject.toml", '[tool.gradlint.per-file-ignores]\n"tests/*" = ["GL4"]\n')
    result = CliRunner().invoke(main, ["-", "--stdin-filename", "src/bad.py"], input=BAD)
    assert result.exit_code == 1 and result.output.startswith("src/bad.py:4:7: GL401 ")
    result = CliRunner().invoke(main, ["-", "--stdin-filename", "tests/bad.py"], input=BAD)
    assert result.exit_code == 0 and "No problems found (1 file checked)." in result.output
    result = CliRunner().invoke(main, ["-"], input=BAD)
    assert result.exit_code == 1 and result.output.startswith("-:4:7: GL401 ")
    result = CliRunner().invoke(main, ["-", "other.py"], input=BAD)
    assert result.exit_code == 2 and "cannot be combined" in result.output
    # An editor passes every file with --force-exclude: an excluded name yields nothing.
    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nexclude = ["vendor"]\n')
    result = CliRunner().invoke(main, ["--force-exclude", "-", "--stdin-filename", "vendor/bad.py"], input=BAD)
    assert result.exit_code == 0 and result.output == ""
    result = CliRunner().invoke(main, ["--force-exclude", "--fix", "-", "--stdin-filename", "vendor/bad.py"],
                                input=BAD)
    assert result.exit_code == 0 and result.output == BAD  # the source, unchanged


def test_stdin_fix_prints_the_fixed_source_and_reports_on_stderr(tmp_path):
    from conftest import MISC, cli, gradlint

    # A real process: the fixed bytes go to the real stdout.
    result = gradlint("--isolated", "--fix", "-", "--stdin-filename", "misc.py", cwd=tmp_path, input=MISC)
    assert result.returncode == 1  # GL401 remains (its fix is unsafe)
    assert "model.eval()\n" in result.stdout and "with torch.no_grad():\n" in result.stdout
    assert result.stdout.count("\n") >= MISC.count("\n") and "GL401" not in result.stdout
    assert "misc.py:" in result.stderr and "Fixed 3 problems" in result.stderr
    diff = cli("--isolated", "--diff", "-", "--stdin-filename", "misc.py", cwd=tmp_path, input=MISC)
    assert diff.returncode == 1 and diff.stdout.startswith("--- misc.py\n+++ misc.py\n")
    clean = cli("--isolated", "--fix", "-", cwd=tmp_path, input="import torch\n")
    assert clean.returncode == 0 and clean.stdout == "import torch\n"


def test_output_file_holds_the_report(tmp_path):
    path = write(tmp_path, "bad.py", BAD)
    report = tmp_path / "out" / "report.txt"
    report.parent.mkdir()
    result = CliRunner().invoke(main, ["--no-cache", "-o", str(report), path])
    assert result.exit_code == 1 and result.output == ""
    lines = report.read_text().splitlines()
    assert lines[0].startswith(f"{path}:4:7: GL401") and lines[1].startswith("Found 1 problem")
    result = CliRunner().invoke(main, ["--no-cache", "--output-format", "json", "--output-file", str(report), path])
    import json

    assert json.loads(report.read_text())["summary"]["problems"] == 1
    result = CliRunner().invoke(main, ["--no-cache", "-o", str(tmp_path / "no" / "dir.txt"), path])
    assert result.exit_code == 2 and "cannot write the report" in result.output


def test_full_format_shows_context_an_underline_and_the_help_line(tmp_path):
    path = write(tmp_path, "bad.py", BAD)
    result = CliRunner().invoke(main, ["--no-cache", "--output-format", "full", path])
    block = result.output.split("\n\n")[0].splitlines()
    assert block == [
        f"{path}:4:7: GL401 `y` is not a leaf (arithmetic): `y.grad` is None and torch warns",
        "  |",
        "3 | y = x * x",
        "4 | print(y.grad)",
        "  |       ^^^^^^ GL401",
        "  |",
        "  = help: read the leaf's `.grad`, or call `y.retain_grad()` before backward",
    ]


def test_stdin_gets_the_answer_the_file_on_disk_gets(tmp_path, monkeypatch):
    """Cross-file facts too: evaluate() is called after training in another file."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "pyproject.toml", "")
    utils = write(tmp_path, "utils.py", "def evaluate(model, loader):\n    out = 0\n    for x in loader:\n"
                                        "        out = model(x)\n    return out\n")
    write(tmp_path, "train.py", "import torch\nimport torch.nn as nn\nfrom utils import evaluate\n\n"
                                "model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))\n"
                                "opt = torch.optim.SGD(model.parameters(), lr=0.1)\nfor x in [torch.randn(2, 4)]:\n"
                                "    opt.zero_grad()\n    model(x).sum().backward()\n    opt.step()\n"
                                "evaluate(model, [torch.randn(2, 4)])\n")
    on_disk = CliRunner().invoke(main, ["--no-cache", "utils.py"]).output
    text = open(utils).read()
    piped = CliRunner().invoke(main, ["-", "--stdin-filename", "utils.py"], input=text).output
    assert "GL101" in on_disk and piped == on_disk
