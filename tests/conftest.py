"""Shared test helpers: fixtures, sample programs, and ways to run the real ``gradlint`` command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PYTHON = sys.executable


def fixture_files():
    return sorted(FIXTURES.glob("GL*/*.py"))


def fixture_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def run_env():
    """Environment for subprocesses that run gradlint from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# GL101 on `out = model(x)`: a dropout model evaluated without .eval() (under no_grad).
EVAL_NO_EVAL = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    model.load_state_dict(torch.load("weights.pt"))
    def evaluate(model, loader):
        with torch.no_grad():
            for x in loader:
                out = model(x)
        return out
    evaluate(model, [torch.randn(2, 4)])
    """)

# GL101 and GL201 on `out = model(x)`: neither .eval() nor no_grad.
EVAL_BARE = textwrap.dedent("""\
    import torch
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    model.load_state_dict(torch.load("weights.pt"))


    def evaluate(model, loader):
        for x in loader:
            out = model(x)
        return out


    evaluate(model, [torch.randn(2, 4)])
    """)

# The fixed program: nothing to report.
EVAL_GOOD = textwrap.dedent("""\
    import torch
    import torch.nn as nn
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    model.load_state_dict(torch.load("weights.pt"))
    def evaluate(model, loader):
        model.eval()
        with torch.no_grad():
            for x in loader:
                out = model(x)
        return out
    evaluate(model, [torch.randn(2, 4)])
    """)

# One finding each of GL102, GL401, GL302 and GL202, on separate lines (`with torch.no_grad:`
# raises TypeError, so nothing after it runs: it comes last).
MISC = textwrap.dedent("""\
    import torch
    import torch.nn as nn

    model = nn.Linear(4, 4)
    model.eval
    x = torch.randn(3, requires_grad=True)
    y = x * 2
    print(y.grad)
    model.requires_grad = False
    with torch.no_grad:
        pass
    """)


def line_of(text: str, fragment: str) -> int:
    """1-based number of the only line of ``text`` that contains ``fragment``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(hits) == 1, (fragment, hits)
    return hits[0]


def col_of(text: str, fragment: str, start: str) -> int:
    """1-based column where ``start`` begins on the line holding ``fragment``."""
    line = text.splitlines()[line_of(text, fragment) - 1]
    return line.index(start) + 1


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def gradlint(*args: str, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None,
             **kwargs) -> subprocess.CompletedProcess:
    """Run the real command line in a subprocess (stdout and stderr are pipes)."""
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "gradlint", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120, **kwargs)


def cli(*args: str, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None,
        input: Optional[str] = None) -> subprocess.CompletedProcess:
    """The command line run in this process (click's CliRunner), answered as ``gradlint()``
    answers: the same arguments, exit status, stdout and stderr, without the half second an
    interpreter takes to start. What needs a real process (a pipe that closes, a terminal,
    the console script, a crash) uses ``gradlint()``."""
    from click.testing import CliRunner

    from gradlint.cli import main

    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()
    here = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        result = runner.invoke(main, list(args), input=input, env={"NO_COLOR": None, **(env or {})},
                               catch_exceptions=False)
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


def parse_lines(output: str) -> List[Tuple[str, int, int, str]]:
    """(path, line, col, code) of each ``path:line:col: CODE message`` line."""
    found = []
    for line in output.splitlines():
        parts = line.split(":", 3)
        if len(parts) == 4 and parts[1].isdigit() and parts[2].isdigit():
            found.append((parts[0], int(parts[1]), int(parts[2]), parts[3].split()[0]))
    return found


def _unescape(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def parse_annotations(output: str) -> List[Dict[str, str]]:
    """GitHub workflow commands (``::error file=...,line=...::message``) as GitHub reads them:
    one dict per annotation with its level, its properties and its message, unescaped."""
    found = []
    for line in output.splitlines():
        match = re.match(r"^::(error|warning|notice)(?: ([^:]*))?::(.*)$", line)
        if not match:
            continue
        props = dict(item.split("=", 1) for item in (match.group(2) or "").split(",") if item)
        found.append({"level": match.group(1), **{k: _unescape(v) for k, v in props.items()},
                      "message": _unescape(match.group(3))})
    return found


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """A working folder with no pyproject.toml above it that could change the settings."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def gradlint_on_tty(*args: str, tty: str, cwd: Optional[Path] = None,
                    env: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
    """Run gradlint with ``tty`` ("stdout" or "stderr") on a pseudo-terminal and the other
    stream on a pipe. Returns (exit status, what the terminal showed, what the pipe got)."""
    pty = pytest.importorskip("pty", reason="needs a POSIX pseudo-terminal")
    master, slave = pty.openpty()
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    full_env.setdefault("TERM", "xterm")
    full_env.update(env or {})
    streams = {"stdout": slave, "stderr": subprocess.PIPE} if tty == "stdout" else \
        {"stdout": subprocess.PIPE, "stderr": slave}
    proc = subprocess.Popen([sys.executable, "-m", "gradlint", *args], cwd=cwd, env=full_env,
                            stdin=subprocess.DEVNULL, **streams)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    piped = (proc.stderr if tty == "stdout" else proc.stdout).read().decode()
    proc.wait(timeout=120)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), piped


_MODULE_FIXTURE = re.compile(r"fixture\((?:[^()]|\([^()]*\))*scope=[\"'](?:module|package)[\"']", re.S)


def shares_a_module_fixture(path: Path) -> bool:
    """Does this test module define a module-scoped fixture (a verifier run over every
    fixture, a pre-commit sandbox, a language server)? Read from the source: the xdist
    controller schedules by node id, before any worker has collected a test."""
    try:
        return bool(_MODULE_FIXTURE.search(path.read_text(encoding="utf-8")))
    except OSError:
        return False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``-n`` (``--dist load``) with one change: the tests of a module that shares a module-
    scoped fixture go to one worker, so the fixture is built once, not once per worker.
    Every other test is scheduled on its own, as ``load`` does."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    shared: Dict[str, bool] = {}

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            if module not in shared:
                shared[module] = shares_a_module_fixture(Path(config.rootpath) / module)
            return module if shared[module] else nodeid

    return SharedFixtureScheduling(config, log)
