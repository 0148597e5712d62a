"""The pre-commit hook, run by the real ``pre-commit`` tool, offline, with the README's snippet.

A temporary git repository's ``.pre-commit-config.yaml`` is the README's snippet, verbatim
but for the ``repo:`` location: a git repository made from this checkout's files, tagged
with the snippet's ``rev:`` (the release tag of this version).
pre-commit builds the hook's virtualenv and pip-installs gradlint into it from that copy,
with no index (``PIP_NO_INDEX``), no dependency resolution (``PIP_NO_DEPS``) and no build
isolation (setuptools comes from the virtualenv's seed packages). gradlint's runtime
dependencies (libcst, click and what they need) are put on ``PYTHONPATH`` from the test
interpreter: a folder of links to exactly those packages, so that the hook still runs the
gradlint installed in its own environment. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Set

import pytest
from conftest import EVAL_BARE, EVAL_GOOD, MISC, ROOT, col_of, line_of, write

from gradlint import __version__

DISTRIBUTION = "torch-gradlint"

ANCHOR = f"{line_of(EVAL_BARE, 'out = model(x)')}:{col_of(EVAL_BARE, 'out = model(x)', 'model(x)')}"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _pre_commit_command() -> List[str]:
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        exe = shutil.which("pre-commit")
        if exe is None:
            pytest.skip("the pre-commit tool is not installed (pip install pre-commit; it is in the test extra)")
        return [exe]
    return [sys.executable, "-m", "pre_commit"]


def _requirement_names(dist: str, seen: Set[str]) -> None:
    from packaging.requirements import Requirement

    key = dist.lower().replace("_", "-")
    if key in seen:
        return
    seen.add(key)
    for text in metadata.requires(dist) or []:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        _requirement_names(req.name, seen)


def _runtime_dependency_dir(target: Path) -> Path:
    """Links to the import packages of gradlint's runtime dependencies, recursively."""
    target.mkdir()
    seen: Set[str] = set()
    for text in metadata.requires(DISTRIBUTION) or []:
        from packaging.requirements import Requirement

        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            _requirement_names(req.name, seen)
    for dist in sorted(seen):
        files = metadata.distribution(dist).files or []
        base = Path(metadata.distribution(dist).locate_file(""))
        tops = {f.parts[0] for f in files if not f.parts[0].endswith((".dist-info", ".egg-info", ".pth"))
                and f.parts[0] not in ("..", "__pycache__", "bin") and not str(f).startswith("..")}
        for top in tops:
            source = base / top
            if source.exists() and not (target / top).exists():
                (target / top).symlink_to(source, target_is_directory=source.is_dir())
    return target


def _git(*args: str, cwd: Path, env: Dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def readme_snippet() -> str:
    """The pre-commit configuration the README shows."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    (snippet,) = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "id: gradlint" in b]
    return snippet


def with_location(snippet: str, location: str) -> str:
    """The snippet with only its ``repo:`` value replaced (the comment after it kept)."""
    new, count = re.subn(r"^(\s*- repo:\s*)(\S+)", lambda m: m.group(1) + location, snippet, flags=re.M)
    assert count == 1
    return new


def test_readme_snippet_pins_this_versions_release_tag():
    assert re.search(r"^\s*rev:\s*(\S+)", readme_snippet(), re.M).group(1) == f"v{__version__}"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    command = _pre_commit_command()
    base = tmp_path_factory.mktemp("precommit")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "VIRTUALENV_", "PYTHON", "PRE_COMMIT", "GIT_"))}
    env.update({
        "PRE_COMMIT_HOME": str(base / "cache"),
        "PIP_CONFIG_FILE": os.devnull,  # no index or find-links from the machine's pip config
        "PIP_NO_INDEX": "1",
        "PIP_NO_DEPS": "1",
        "PIP_NO_BUILD_ISOLATION": "0",  # i.e. --no-build-isolation
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "VIRTUALENV_NO_DOWNLOAD": "1",
        "VIRTUALENV_NO_PERIODIC_UPDATE": "1",
        "PYTHONPATH": str(_runtime_dependency_dir(base / "deps")),
        "GIT_CONFIG_NOSYSTEM": "1",
        "HOME": str(base),
        "NO_COLOR": "1",
    })

    # The hook repository: this checkout's package, as a git repository of its own.
    hook = base / "hook"
    hook.mkdir()
    for name in ("pyproject.toml", ".pre-commit-hooks.yaml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, hook / name)
    shutil.copytree(ROOT / "gradlint", hook / "gradlint", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for args in (["init", "-q"], ["config", "user.email", "test@example.com"], ["config", "user.name", "Test"],
                 ["add", "-A"], ["commit", "-q", "-m", "hook"], ["tag", f"v{__version__}"]):
        assert _git(*args, cwd=hook, env=env).returncode == 0

    repo = base / "repo"
    repo.mkdir()
    for args in (["init", "-q"], ["config", "user.email", "test@example.com"], ["config", "user.name", "Test"],
                 ["config", "commit.gpgsign", "false"]):
        assert _git(*args, cwd=repo, env=env).returncode == 0
    write(repo, ".pre-commit-config.yaml", with_location(readme_snippet(), hook.as_posix()))
    write(repo, "README.md", "# demo\n")
    assert _git("add", "-A", cwd=repo, env=env).returncode == 0
    assert _git("commit", "-q", "--no-verify", "-m", "start", cwd=repo, env=env).returncode == 0

    def pre_commit(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*command, *args], cwd=repo, env=env, capture_output=True, text=True, timeout=600)

    return {"repo": repo, "env": env, "pre_commit": pre_commit, "cache": base / "cache"}


def test_hook_definition_matches_what_the_tool_expects():
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    (hook,) = hooks
    assert hook["id"] == "gradlint" and hook["language"] == "python"
    assert set(hook["types_or"]) == {"python", "jupyter"}


def test_bad_file_fails_the_hook(sandbox):
    repo = sandbox["repo"]
    write(repo, "evaluate.py", EVAL_BARE)
    result = sandbox["pre_commit"]("run", "--files", "evaluate.py")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "gradlint" in output and "Failed" in output
    assert f"evaluate.py:{ANCHOR}: GL101" in output
    # The hook ran from its own environment, installed from the hook repository.
    installed = list(sandbox["cache"].glob("repo*/py_env-*/lib*/python*/site-packages/gradlint")) + \
        list(sandbox["cache"].glob("repo*/py_env-*/Lib/site-packages/gradlint"))
    assert installed, "pre-commit did not install gradlint into the hook environment"
    (dist_info,) = installed[0].parent.glob("torch_gradlint-*.dist-info")
    metadata_text = (dist_info / "METADATA").read_text(encoding="utf-8")
    assert "Name: torch-gradlint" in metadata_text and "Provides-Extra: server" in metadata_text
    assert list(dist_info.rglob("LICENSE")), "the wheel does not carry the LICENSE file"


def test_good_file_passes_the_hook(sandbox):
    repo = sandbox["repo"]
    write(repo, "fixed.py", EVAL_GOOD)
    result = sandbox["pre_commit"]("run", "--files", "fixed.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout


def test_notebooks_are_checked_too(sandbox):
    import json

    repo = sandbox["repo"]
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": EVAL_BARE}]
    write(repo, "analysis.ipynb", json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))
    result = sandbox["pre_commit"]("run", "--files", "analysis.ipynb")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"analysis.ipynb:cell 1:{ANCHOR}: GL101" in result.stdout


def _run_on_misc(sandbox, config_text: str):
    """Run the hook on a tracked copy of MISC under ``config_text``; (result, file's text after)."""
    repo, env = sandbox["repo"], sandbox["env"]
    config = repo / ".pre-commit-config.yaml"
    original = config.read_text(encoding="utf-8")
    config.write_text(config_text, encoding="utf-8")
    _git("add", ".pre-commit-config.yaml", cwd=repo, env=env)
    try:
        write(repo, "misc_fix.py", MISC)
        _git("add", "misc_fix.py", cwd=repo, env=env)  # pre-commit sees changes to tracked files
        result = sandbox["pre_commit"]("run", "--files", "misc_fix.py")
        return result, (repo / "misc_fix.py").read_text(encoding="utf-8")
    finally:
        _git("reset", "-q", "--", "misc_fix.py", cwd=repo, env=env)  # unstage: later commits skip it
        (repo / "misc_fix.py").unlink(missing_ok=True)
        config.write_text(original, encoding="utf-8")
        _git("add", ".pre-commit-config.yaml", cwd=repo, env=env)


def test_fix_args_rewrite_files_and_the_hook_reports_it(sandbox):
    """`args: [--fix]` (in the README's snippet): safe fixes are applied, pre-commit fails the
    hook because a file changed, and what cannot be fixed safely is still reported."""
    config = (sandbox["repo"] / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    assert "args: [--fix]" in config
    result, text = _run_on_misc(sandbox, config)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "files were modified by this hook" in output
    assert "GL401" in output and "Fixed 3 problems" in output
    assert "model.eval()\n" in text and "with torch.no_grad():\n" in text


def test_snippet_without_its_optional_args_only_reports(sandbox):
    config = (sandbox["repo"] / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    lint_only = "".join(line for line in config.splitlines(keepends=True) if "args:" not in line)
    result, text = _run_on_misc(sandbox, lint_only)
    assert result.returncode == 1 and text == MISC
    assert "files were modified" not in result.stdout + result.stderr
    assert "GL102" in result.stdout and "GL401" in result.stdout


def test_git_commit_through_the_installed_hook(sandbox):
    repo, env = sandbox["repo"], sandbox["env"]
    installed = sandbox["pre_commit"]("install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    try:
        # A commit touching no Python file: the hook is skipped, nothing crashes.
        write(repo, "notes.txt", "no python here\n")
        _git("add", "notes.txt", cwd=repo, env=env)
        result = _git("commit", "-m", "notes only", cwd=repo, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "(no files to check)Skipped" in result.stdout + result.stderr

        # A commit with a bad file is refused; fixed, it goes through.
        write(repo, "model_eval.py", EVAL_BARE)
        _git("add", "model_eval.py", cwd=repo, env=env)
        result = _git("commit", "-m", "bad", cwd=repo, env=env)
        assert result.returncode != 0
        assert "GL101" in result.stdout + result.stderr
        write(repo, "model_eval.py", EVAL_GOOD)
        _git("add", "model_eval.py", cwd=repo, env=env)
        result = _git("commit", "-m", "good", cwd=repo, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        sandbox["pre_commit"]("uninstall")
