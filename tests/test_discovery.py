"""Discovery as ruff does it: what git ignores is not linted, unless named on the command line."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import EVAL_BARE, MISC, cli, parse_lines, write

from gradlint.discovery import GitIgnore, discover, global_excludes_file

TREE = {
    ".gitignore": "wandb/\n*.tmp.py\n/generated.py\nlogs/**/*.py\n!logs/keep/*.py\n",
    "src/.gitignore": "scratch_*.py\n!scratch_keep.py\n/local/\n",
    "src/model.py": "", "src/scratch_a.py": "", "src/scratch_keep.py": "", "src/local/x.py": "",
    "src/deep/local/y.py": "", "src/deep/z.tmp.py": "", "wandb/run-1/files/code/train.py": "",
    "generated.py": "", "sub/generated.py": "", "logs/a/b.py": "", "logs/keep/c.py": "",
    "excluded_by_info.py": "", "globally_ignored.py": "", "notebook.ipynb": "{}",
}


def _make(root: Path, environ) -> Path:
    for name, text in TREE.items():
        write(root, name, text)
    (root / ".git" / "info").mkdir(parents=True)
    write(root, ".git/info/exclude", "excluded_by_info.py\n")
    home = Path(environ["HOME"])
    write(home, ".config/git/ignore", "globally_ignored.py\n")
    return root


def _env(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def _found(root: Path, **kwargs):
    return sorted(os.path.relpath(p, root).replace(os.sep, "/") for p in discover([str(root)], **kwargs))


EXPECTED = ["logs/keep/c.py", "notebook.ipynb", "src/deep/local/y.py", "src/model.py", "src/scratch_keep.py",
            "sub/generated.py"]


def test_gitignore_info_exclude_and_global_excludes_are_respected(tmp_path):
    environ = _env(tmp_path)
    root = _make(tmp_path / "repo", environ)
    assert _found(root, gitignore=GitIgnore(environ=environ)) == EXPECTED
    assert len(_found(root, respect_gitignore=False)) == len(TREE) - 2  # the two .gitignore files


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_same_files_as_git_itself(tmp_path):
    environ = _env(tmp_path)
    root = _make(tmp_path / "repo", environ)
    shutil.rmtree(root / ".git")
    env = {**os.environ, **environ, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q"], cwd=root, env=env, check=True)
    write(root, ".git/info/exclude", "excluded_by_info.py\n")
    listed = subprocess.run(["git", "ls-files", "--others", "--exclude-standard"], cwd=root, env=env,
                            capture_output=True, text=True, check=True).stdout.split()
    assert sorted(p for p in listed if p.endswith((".py", ".ipynb"))) == EXPECTED
    assert _found(root, gitignore=GitIgnore(environ=environ)) == EXPECTED


def test_ignore_files_count_only_inside_a_git_work_tree(tmp_path):
    write(tmp_path, ".gitignore", "*.py\n")
    write(tmp_path, "a.py", "")
    assert _found(tmp_path, gitignore=GitIgnore(global_file="")) == ["a.py"]


def test_global_excludes_file_from_git_config(tmp_path):
    home = tmp_path / "home"
    write(home, ".gitconfig", '[user]\n\tname = x\n[core]\n\texcludesFile = "~/my-ignores"\n')
    assert global_excludes_file({"HOME": str(home)}) == str(home / "my-ignores")
    assert global_excludes_file({"HOME": str(tmp_path / "nobody")}) == str(tmp_path / "nobody/.config/git/ignore")


def test_a_worktree_reads_info_exclude_from_the_common_git_folder(tmp_path):
    main = tmp_path / "main"
    write(main, ".git/info/exclude", "private.py\n")
    (main / ".git" / "worktrees" / "wt").mkdir(parents=True)
    write(main, ".git/worktrees/wt/commondir", "../..\n")
    tree = tmp_path / "wt"
    write(tree, ".git", f"gitdir: {main / '.git' / 'worktrees' / 'wt'}\n")
    write(tree, "private.py", "")
    write(tree, "public.py", "")
    assert _found(tree, gitignore=GitIgnore(global_file="")) == ["public.py"]


def test_paths_named_explicitly_are_always_linted(tmp_path):
    environ = _env(tmp_path)
    root = _make(tmp_path / "repo", environ)
    ignore = GitIgnore(environ=environ)
    named = [str(root / "generated.py"), str(root / "wandb")]
    found = sorted(os.path.relpath(p, root) for p in discover(named, gitignore=ignore))
    assert found == ["generated.py", os.path.join("wandb", "run-1", "files", "code", "train.py")]


def test_command_line_and_configuration(tmp_path):
    """`--fix .` leaves an ignored copy alone; `--no-respect-gitignore` and
    `respect-gitignore = false` lint it; a wandb snapshot no longer doubles the findings."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write(root, ".gitignore", "wandb/\n")
    write(root, "evaluate.py", EVAL_BARE)
    write(root, "wandb/run-1/files/code/evaluate.py", EVAL_BARE)
    write(root, "wandb/run-1/files/code/misc.py", MISC)
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")}
    found = parse_lines(cli("--isolated", ".", cwd=root, env=env).stdout)
    assert {p for p, *_ in found} == {"./evaluate.py"}
    result = cli("--isolated", "--fix", ".", cwd=root, env=env)
    assert "1 file checked" in result.stdout
    assert (root / "wandb/run-1/files/code/misc.py").read_text() == MISC
    found = parse_lines(cli("--isolated", "--no-respect-gitignore", ".", cwd=root, env=env).stdout)
    assert len({p for p, *_ in found}) == 3
    write(root, "pyproject.toml", "[tool.gradlint]\nrespect-gitignore = false\n")
    found = parse_lines(cli(".", cwd=root, env=env).stdout)
    assert len({p for p, *_ in found}) == 3
    found = parse_lines(cli("--respect-gitignore", ".", cwd=root, env=env).stdout)
    assert {p for p, *_ in found} == {"./evaluate.py"}
