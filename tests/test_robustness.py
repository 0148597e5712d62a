"""No file, repository or fix can break a run, leak a write, or lose a finding.

Each bad input is built on the fly in a temporary folder, next to a good file whose finding
must still be reported: a file that crashes libcst's native parser, one nested deeper than
Python accepts, a long ``elif`` chain, a file over the size limit, ``/dev/zero``, FIFOs,
malformed notebooks, coding cookies that do not decode, a repository that ships a cache
(a dangling ``.gitignore`` symlink, entries with correctly computed keys, malformed
entries), fixes that would not converge or would break code, files ``--fix`` cannot write.
Runs that could crash or hang go through a subprocess.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import textwrap

import pytest
from click.testing import CliRunner
from conftest import PYTHON, ROOT, parse_lines, run_env, write

from gradlint.autofix import fix_text
from gradlint.cli import main
from gradlint.engine import lint_file, lint_paths, lint_text

GOOD = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * x\nprint(y.grad)\n"  # GL401 at 4:7


def cli(*args, cwd=None):
    """The command in-process, stdout and stderr apart (click < 8.2 needs mix_stderr=False)."""
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return runner.invoke(main, ["--isolated", *args])
    finally:
        os.chdir(old)


def gradlint(*args, cwd, timeout=120, env=None):
    """The real command in a subprocess: a crash there cannot take the test run with it."""
    return subprocess.run([PYTHON, "-m", "gradlint", "--isolated", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**run_env(), **(env or {})})


def by_file(output: str):
    return {(os.path.basename(path), code) for path, _, _, code in parse_lines(output)}


@pytest.fixture(autouse=True)
def own_secret(tmp_path_factory, monkeypatch):
    """Every test gets a per-user cache secret of its own, outside its project folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg")))


# -- files that crash, hang or exhaust the parser ---------------------------------------------------
def deep_parens(n: int) -> str:
    return "import torch\nx = " + "(" * n + "1" + ")" * n + "\n"


def elif_chain(n: int) -> str:
    lines = ["import torch", "x = 1", "if x == 0:", "    y = 0"]
    for i in range(1, n):
        lines += [f"elif x == {i}:", f"    y = {i}"]
    return "\n".join(lines) + "\n"


def test_nesting_that_crashes_libcsts_parser_is_reported_and_the_run_goes_on(tmp_path):
    """1,300 nested parentheses segfaulted libcst (exit 139, no output); 8,000 `elif`s too."""
    write(tmp_path, "deep.py", deep_parens(1300))
    write(tmp_path, "elifs.py", elif_chain(8000))
    write(tmp_path, "minus.py", "import torch\nx = " + "-" * 10000 + "1\n")  # no brackets: one level a character
    write(tmp_path, "good.py", GOOD)
    proc = gradlint("--no-cache", "deep.py", "elifs.py", "minus.py", "good.py", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert by_file(proc.stdout) == {("deep.py", "E999"), ("elifs.py", "E999"), ("minus.py", "E999"),
                                    ("good.py", "GL401")}
    assert "too many nested parentheses" in proc.stdout
    assert "elifs.py:1:1: E999 SyntaxError: too deeply nested for Python's parser" in proc.stdout


def test_a_crash_in_a_pool_worker_names_its_file_and_every_other_file_is_reported(tmp_path):
    """With 8+ files a crash was an "internal error" that named no file and lost every finding.
    The pre-check keeps libcst away from the deep file; a worker that dies anyway (here the
    parse itself is made to segfault) costs only its own file."""
    for i in range(9):
        write(tmp_path, f"m{i}.py", GOOD)
    write(tmp_path, "crash.py", GOOD + "# gradlint-test: segfault\n")
    hook = write(tmp_path, "sitecustomize.py", textwrap.dedent("""
        import os, signal
        import libcst
        real = libcst.parse_module
        def parse_module(text, *args, **kwargs):
            if "gradlint-test: segfault" in text:
                os.kill(os.getpid(), signal.SIGSEGV)
            return real(text, *args, **kwargs)
        libcst.parse_module = parse_module
    """))
    env = {"PYTHONPATH": f"{hook.parent}{os.pathsep}{ROOT}"}
    proc = gradlint("--no-cache", "--jobs", "2", ".", cwd=tmp_path, env=env)
    assert proc.returncode == 1, proc.stderr
    assert by_file(proc.stdout) == {(f"m{i}.py", "GL401") for i in range(9)} | {("crash.py", "E903")}
    assert "crash.py:1:1: E903 gradlint could not analyse this file: the process analysing it crashed (SIGSEGV" \
        in proc.stdout
    assert "internal error" not in proc.stderr


def test_a_long_elif_chain_python_accepts_is_linted():
    """1,000 branches were "E999 too deeply nested" (a RecursionError in the analysis)."""
    text = elif_chain(1000) + GOOD
    found = lint_text(text, "elifs.py")
    assert [(f.code, f.line) for f in found] == [("GL401", text.count("\n"))]


def test_the_flake8_plugin_survives_a_long_elif_chain():
    """Through flake8 the RecursionError escaped the plugin and flake8 aborted. (flake8 still
    stops on such a file when pyflakes runs: pyflakes itself hits the recursion limit.)"""
    import ast

    from gradlint.flake8_plugin import GradlintChecker

    text = elif_chain(1000) + GOOD
    results = list(GradlintChecker(ast.parse(text), text.splitlines(True), "elifs.py").run())
    assert [message.split()[0] for _, _, message, _ in results] == ["GL401"]


def test_an_and_chain_deeper_than_the_parser_can_follow_is_e903():
    text = "import torch\nok = " + " and ".join(["a"] * 12000) + "\n"
    [finding] = lint_text(text, "chain.py")
    assert finding.code == "E903" and "`and` chain of 12000 operands" in finding.message


def test_a_file_over_the_size_limit_is_e903_and_never_parsed(tmp_path):
    """A 50 MB file grew to about 11 GB of memory."""
    big = tmp_path / "big.py"
    big.write_text("import torch\nx = [" + "1, " * (1 << 20) + "]\n")
    write(tmp_path, "good.py", GOOD)
    found = lint_paths([str(big), str(tmp_path / "good.py")], jobs=1)
    assert [(os.path.basename(f.path), f.code) for f in found] == [("big.py", "E903"), ("good.py", "GL401")]
    assert "over the 2.0 MiB limit (`max-file-size`)" in found[0].message
    small = lint_paths([str(tmp_path / "good.py")], jobs=1, max_file_size=10)
    assert [f.code for f in small] == ["E903"]


def test_dev_zero_named_on_the_command_line_is_skipped_with_a_reason(tmp_path):
    """It ended in MemoryError."""
    write(tmp_path, "good.py", GOOD)
    result = cli("--no-cache", "/dev/zero", str(tmp_path / "good.py"))
    assert result.exit_code == 1
    assert "/dev/zero:1:1: E902 cannot read: a character device, not a regular file: skipped" in result.stdout
    assert ("good.py", "GL401") in by_file(result.stdout)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_named_or_found_in_a_folder_do_not_hang_the_run(tmp_path):
    """A FIFO hung the run until something wrote to it."""
    os.mkfifo(tmp_path / "named.py")
    (tmp_path / "pkg").mkdir()
    os.mkfifo(tmp_path / "pkg" / "found.py")
    write(tmp_path, "pkg/good.py", GOOD)
    proc = gradlint("--no-cache", "named.py", "pkg", cwd=tmp_path, timeout=60)
    assert proc.returncode == 1
    assert by_file(proc.stdout) == {("named.py", "E902"), ("found.py", "E902"), ("good.py", "GL401")}
    assert "a FIFO, not a regular file" in proc.stdout


NOTEBOOKS = {
    "sheets.ipynb": json.dumps({"nbformat": 3, "worksheets": [{"cells": 5}]}),
    "deep.ipynb": "[" * 100000 + "]" * 100000,
    "number.ipynb": json.dumps({"cells": [], "nbformat": 4}).replace("4}", "9" * 5000 + "}"),
    "surrogate.ipynb": json.dumps({"cells": [{"cell_type": "code", "source": "import torch\nx = '\ud800'\n"}]}),
}


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_a_malformed_notebook_is_one_e902_and_the_others_are_reported(tmp_path, name):
    """Each was an internal error, exit 2, all output lost."""
    write(tmp_path, name, NOTEBOOKS[name])
    write(tmp_path, "good.py", GOOD)
    result = cli("--no-cache", str(tmp_path))
    assert result.exit_code == 1, result.stderr
    assert by_file(result.stdout) == {(name, "E902"), ("good.py", "GL401")}
    assert "internal error" not in result.stderr


def test_coding_cookies_that_decode_to_invalid_unicode_are_e902(tmp_path):
    """`utf-7` and `unicode_escape` can decode to a lone surrogate: an internal error, exit 2."""
    (tmp_path / "u7.py").write_bytes(b"# -*- coding: utf-7 -*-\nimport torch\ns = '+2AA-'\n")
    (tmp_path / "ue.py").write_bytes(b"# coding: unicode_escape\nimport torch\ns = '\\ud800'\n")
    write(tmp_path, "good.py", GOOD)
    result = cli("--no-cache", str(tmp_path))
    assert result.exit_code == 1, result.stderr
    assert by_file(result.stdout) == {("u7.py", "E902"), ("ue.py", "E902"), ("good.py", "GL401")}
    assert "lone surrogate" in result.stdout


def test_a_future_fstrings_cookie_is_read_as_utf8(tmp_path):
    """Common in older research code; it made the file unlintable (E902)."""
    path = tmp_path / "old.py"
    path.write_bytes(b"# -*- coding: future_fstrings -*-\n" + GOOD.encode() + b"print(f'{y}')\n")
    assert [f.code for f in lint_file(str(path))] == ["GL401"]
    fixed = fix_text(path.read_text(), str(path), unsafe=True)[0]
    assert "y.retain_grad()" in fixed


def test_a_syntax_error_in_a_file_that_never_mentions_torch_is_e999(tmp_path):
    """It was skipped before parsing and reported clean, although the README promises E999."""
    write(tmp_path, "plain.py", "def f(:\n    return 1\n")
    write(tmp_path, "fine.py", "def f():\n    return 1\n")
    found = lint_paths([str(tmp_path / "plain.py"), str(tmp_path / "fine.py")], jobs=1)
    assert [(os.path.basename(f.path), f.line, f.code) for f in found] == [("plain.py", 1, "E999")]


# -- the cache a repository can ship ---------------------------------------------------------------
def test_a_dangling_gitignore_symlink_in_the_cache_is_never_followed(tmp_path):
    """A repository's `.gradlint_cache/.gitignore -> anywhere` made gradlint create the target."""
    project = tmp_path / "project"
    (project / ".gradlint_cache").mkdir(parents=True)
    target = tmp_path / "outside" / "planted"
    (tmp_path / "outside").mkdir()
    (project / ".gradlint_cache" / ".gitignore").symlink_to(target)
    write(project, "good.py", GOOD)
    result = cli("good.py", cwd=project)
    assert result.exit_code == 1 and ("good.py", "GL401") in by_file(result.stdout)
    assert not target.exists() and not os.path.exists(target)
    assert os.listdir(project / ".gradlint_cache") == [".gitignore"]  # refused: nothing written there


def test_a_shipped_cache_entry_with_a_correctly_computed_key_hides_nothing(tmp_path):
    """The key was computable from public data: a shipped entry hid real findings."""
    import hashlib

    from gradlint.cache import code_fingerprint
    from gradlint.rules import implemented

    project = tmp_path / "project"
    path = write(project, "good.py", GOOD)
    key = hashlib.sha256(code_fingerprint().encode())  # computed exactly as gradlint computed it
    key.update("\0".join([os.path.abspath(path), ",".join(implemented()), "notes", ""]).encode())
    key.update(GOOD.encode())
    name = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()
    (project / ".gradlint_cache" / name[:2]).mkdir(parents=True)
    (project / ".gradlint_cache" / name[:2] / f"{name}.json").write_text(
        json.dumps({"key": key.hexdigest(), "findings": []}))
    result = cli("good.py", cwd=project)
    assert result.exit_code == 1 and ("good.py", "GL401") in by_file(result.stdout)


def test_a_cache_filled_without_the_users_secret_hides_nothing(tmp_path):
    """Entries made by someone who knows everything but this user's secret are never found."""
    from gradlint.cache import Cache, findings_key, store_findings
    from gradlint.rules import implemented

    project = tmp_path / "project"
    path = write(project, "good.py", GOOD)
    forged = Cache(str(project / "shipped"), secret=b"the repository's own secret, not the user's")
    store_findings(forged, findings_key(str(path), GOOD.encode(), implemented(), "notes"), [])
    forged.close()
    result = cli("--cache-dir", "shipped", "good.py", cwd=project)
    assert result.exit_code == 1 and ("good.py", "GL401") in by_file(result.stdout)


@pytest.mark.parametrize("value", [5, [[1, 2]], [[1, 1, "GL401", "m", None, ["bogus", "x"]]], "x"])
def test_a_malformed_cache_entry_is_a_miss(tmp_path, value):
    """An entry of the wrong JSON shape crashed the run."""
    from gradlint.cache import Cache, findings_key
    from gradlint.rules import implemented

    path = write(tmp_path, "good.py", GOOD)
    cache = Cache(str(tmp_path / "cache"))
    key = findings_key(str(path), GOOD.encode(), implemented(), "notes")
    cache.put("findings", key, value)
    assert cache.get("findings", key) == value  # the entry is where gradlint will look
    found = lint_paths([str(path)], jobs=1, fixes="notes", cache_dir=str(tmp_path / "cache"))
    assert [f.code for f in found] == ["GL401"]


def test_a_folder_the_cache_did_not_create_is_refused(tmp_path):
    from gradlint.cache import Cache

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("user data")
    cache = Cache(str(tmp_path / "notes"))
    cache.put("findings", "k", [])
    assert cache.get("findings", "k") is None and "not created by gradlint" in cache.refused
    assert os.listdir(tmp_path / "notes") == ["mine.txt"]
    own = Cache(str(tmp_path / "own"))
    own.put("findings", "k", [])
    assert Cache(str(tmp_path / "own")).get("findings", "k") == []  # one it made is used again
    (tmp_path / "empty").mkdir()
    Cache(str(tmp_path / "empty")).put("findings", "k", [])  # an empty one it adopts
    assert Cache(str(tmp_path / "empty")).get("findings", "k") == []


# -- fixes that must converge and never break code -------------------------------------------------
SET_GRAD_LOOP = """\
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
model.load_state_dict(torch.load("w.pt"))
model.eval()
for x in test_loader:
    torch.set_grad_enabled(True)
    print(model(x))
"""

GENERATOR = """\
import torch
import torch.nn as nn

generator = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
generator.load_state_dict(torch.load("w.pt"))
opt = torch.optim.SGD(generator.parameters(), lr=0.1)


def evaluate(prompts):
    for p in prompts:
        out = generator.generate(p)
        if out is None:
            return None
    return out


for epoch in range(2):
    generator.train()
    opt.zero_grad()
    generator(torch.randn(2, 4)).sum().backward()
    opt.step()
    print(evaluate([torch.randn(1, 4)]))
"""


def fix_twice(tmp_path, name, text):
    path = write(tmp_path, name, text)
    first = cli("--no-cache", "--fix", "--unsafe-fixes", str(path))
    after_first = path.read_text()
    second = cli("--no-cache", "--fix", "--unsafe-fixes", str(path))
    assert path.read_text() == after_first, "the second --fix changed the file"
    return first, second, after_first


def test_a_region_that_reenables_gradients_is_not_wrapped_in_no_grad(tmp_path):
    """It gained a `with torch.no_grad():` per run and printed "Fixed 0 problems"."""
    first, second, text = fix_twice(tmp_path, "loop.py", SET_GRAD_LOOP)
    assert text == SET_GRAD_LOOP
    assert "Fixed 0 problems, 1 remaining" in first.stdout and "Fixed 0 problems" in second.stdout


def test_a_fix_that_does_not_remove_its_finding_is_withdrawn(tmp_path, monkeypatch):
    """The convergence check on its own, with the precondition above switched off."""
    import gradlint.fixes.regions as regions

    monkeypatch.setattr(regions, "trains_or_enables_grad", lambda *args: None)
    new, [finding], fixed = fix_text(SET_GRAD_LOOP, "loop.py", unsafe=True)
    assert new == SET_GRAD_LOOP and fixed == 0
    assert finding.code == "GL201" and finding.fix.description == "not applied: the fix did not remove the finding"


def test_the_eval_fix_targets_the_model_not_its_generate_method(tmp_path):
    """It wrote `generator.generate.eval()`, nesting a try/finally per run. (Called from the
    training loop, the function restores the mode it found, in try/finally for its early
    return.)"""
    first, second, text = fix_twice(tmp_path, "gen.py", GENERATOR)
    assert "generator.eval()" in text and "generate.eval" not in text and text.count("try:") == 1
    assert "Fixed 1 problem in 1 file, 0 remaining" in first.stdout
    assert "No problems found" in second.stdout


def test_no_eval_on_what_is_not_known_to_be_a_module():
    """`.eval()` was written on a plain function whose name says model."""
    text = textwrap.dedent("""\
        import torch


        def evaluate(model, loader):
            for x in loader:
                print(model(x))
        """)
    new, remaining, fixed = fix_text(text, "t.py", unsafe=True)
    assert new == text and fixed == 0
    assert {f.fix.applicability for f in remaining} <= {"unavailable"}


def test_no_grad_never_wraps_a_training_forward():
    """`no_grad` went around a training forward one line before `backward()`."""
    text = textwrap.dedent("""\
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
        model.load_state_dict(torch.load("w.pt"))


        def validate(loader):
            for x in loader:
                out = model(x)
                out.sum().backward()
        """)
    new, remaining, _ = fix_text(text, "t.py", unsafe=True)
    assert new == text
    assert all("runs `backward()`" in f.fix.description for f in remaining if f.code.startswith("GL"))


def test_an_accumulated_call_on_a_subscript_does_not_crash_fix_or_diff(tmp_path):
    """`xs.append(self.layers[str(k)](h))` raised AttributeError in the GL501 fix; `--diff`
    printed nothing and `--fix` had already rewritten other files."""
    write(tmp_path, "acc.py", textwrap.dedent("""\
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleDict({str(k): nn.Linear(4, 4) for k in range(3)})

            def run(self, loader):
                xs = []
                for h in loader:
                    for k in range(3):
                        loss = self.layers[str(k)](h).sum()
                        loss.backward()
                        xs.append(self.layers[str(k)](h))
                return xs
        """))
    write(tmp_path, "other.py", "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval\n")
    result = cli("--no-cache", "--diff", str(tmp_path))
    assert result.exit_code == 1, result.stderr
    assert "+                xs.append(self.layers[str(k)](h).detach())\n" in result.stdout
    assert "+m.eval()" in result.stdout


def test_a_failing_fix_builder_costs_only_its_fix(monkeypatch):
    import gradlint.rules.gl102 as gl102

    def broken(event):
        raise AttributeError("a bug in a fix builder")

    monkeypatch.setattr(gl102, "call_method", broken)
    text = "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval\n"
    [finding] = lint_text(text, "t.py", fixes="notes")
    assert finding.code == "GL102" and finding.fix.applicability == "unavailable"
    assert "AttributeError: a bug in a fix builder" in finding.fix.description
    assert fix_text(text, "t.py")[0] == text


def test_a_cr_only_file_keeps_its_final_line_ending(tmp_path):
    path = tmp_path / "mac.py"
    path.write_bytes(b"import torch.nn as nn\rm = nn.Linear(2, 2)\rm.eval\r")
    result = cli("--no-cache", "--fix", str(path))
    assert result.exit_code == 0, result.stdout
    assert path.read_bytes() == b"import torch.nn as nn\rm = nn.Linear(2, 2)\rm.eval()\r"
    path.write_bytes(b"import torch.nn as nn\rm = nn.Linear(2, 2)\rm.eval\r")
    assert [(f.line, f.col) for f in lint_file(str(path))] == [(3, 1)]  # lines counted as Python does


def test_fix_keeps_a_hard_linked_file_the_same_file(tmp_path):
    """`--fix` replaced it with a new file, breaking the link."""
    path = write(tmp_path, "a.py", "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval\n")
    os.link(path, tmp_path / "b.py")
    result = cli("--no-cache", "--fix", str(path))
    assert result.exit_code == 0
    assert os.stat(path).st_ino == os.stat(tmp_path / "b.py").st_ino
    assert (tmp_path / "b.py").read_text().endswith("m.eval()\n")


def test_fix_leaves_a_read_only_file_alone_and_says_so(tmp_path):
    """`--fix` replaced a read-only file with a new one owned by the current user."""
    path = write(tmp_path, "ro.py", "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval\n")
    os.chmod(path, 0o444)
    write(tmp_path, "rw.py", "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval\n")
    result = cli("--no-cache", "--fix", str(tmp_path))
    assert result.exit_code == 1
    assert "ro.py:1:1: E902 cannot write the fixes: the file is read-only; the file is unchanged" in result.stdout
    assert "ro.py:3:1: GL102" in result.stdout
    assert path.read_text().endswith("m.eval\n") and stat.S_IMODE(os.stat(path).st_mode) == 0o444
    assert (tmp_path / "rw.py").read_text().endswith("m.eval()\n")


def test_fix_in_a_read_only_folder_is_reported_per_file(tmp_path, monkeypatch):
    """It stopped the run with an internal error."""
    import tempfile

    locked = tmp_path / "locked"
    path = write(locked, "m.py", "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval\n")
    other = write(tmp_path, "open.py", "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval\n")
    os.chmod(locked, 0o555)
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):  # as root the folder's mode would not stop the write
        if dir is not None and os.path.samefile(dir, locked):
            raise PermissionError(13, "Permission denied", dir)
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    try:
        result = cli("--no-cache", "--fix", "--jobs", "1", str(path), str(other))
    finally:
        os.chmod(locked, 0o755)
    assert result.exit_code == 1, result.stderr
    assert "m.py:1:1: E902 cannot write the fixes: Permission denied; the file is unchanged" in result.stdout
    assert path.read_text().endswith("m.eval\n") and other.read_text().endswith("m.eval()\n")
    assert "Fixed 1 problem in 1 file" in result.stdout


def test_the_json_and_sarif_reports_carry_e903_as_documented(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    write(tmp_path, "deep.py", "import torch\nok = " + " and ".join(["a"] * 12000) + "\n")
    write(tmp_path, "good.py", GOOD)
    result = cli("--no-cache", "--output-format", "json", str(tmp_path))
    report = json.loads(result.stdout)
    assert [e["code"] for e in report["errors"]] == ["E903"]
    schema = json.loads((ROOT / "docs" / "gradlint-report.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, schema)
    sarif = json.loads(cli("--no-cache", "--output-format", "sarif", str(tmp_path)).stdout)
    assert "E903" in json.dumps(sarif["runs"][0]["invocations"])
