"""The README and docs say what is true: commands CI runs, examples that match real output,
links to files that exist, install names that install gradlint, a workflow that annotates."""

import re
import shlex
import sys

import pytest
from conftest import EVAL_BARE, MISC, ROOT, cli, parse_annotations, write

from gradlint import __version__

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "fixtures" / "README.md"]


def shell_blocks():
    return re.findall(r"```sh\n(.*?)```", README, re.S)


def test_ci_runs_the_readme_test_command():
    test_command = next(b.strip() for b in shell_blocks() if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def test_readme_example_command_names_an_existing_fixture():
    example = next(b.strip() for b in shell_blocks() if "gradlint fixtures/" in b)
    path = re.search(r"gradlint (fixtures/\S+)", example).group(1)
    assert (ROOT / path).is_file()


def test_readme_example_outputs_are_what_gradlint_prints(tmp_path):
    """Every `$ gradlint ...` example over files of this repository is a real run, verbatim."""
    examples = re.findall(r"```\n\$ (gradlint [^\n]*)\n(.*?)```", README, re.S)
    checked = 0
    for command, shown in examples:
        args = shlex.split(command)[1:]
        if not all((ROOT / a).exists() for a in args if not a.startswith("-") and a not in ("full", "json")):
            continue  # an illustration over a project the reader has (src/ ...)
        result = cli(*args, "--isolated", cwd=ROOT, env={"GRADLINT_CACHE_DIR": str(tmp_path)})
        assert result.stdout == shown, command
        checked += 1
    assert checked >= 2


def test_relative_links_point_at_files_that_exist():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # a URL
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to a missing {target}"


def test_install_instructions_use_the_distribution_name():
    """`gradlint` on the package index is someone else's tool: every install says torch-gradlint."""
    assert re.search(r'^name = "torch-gradlint"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    texts = {p: p.read_text(encoding="utf-8") for p in DOCS}
    texts.update({p: p.read_text(encoding="utf-8") for p in (ROOT / "gradlint").rglob("*.py")})
    for path, text in texts.items():
        for line in re.findall(r"pip install[^\n`&;#]*", text):
            for word in re.findall(r"[\w.\-\[\],']*gradlint[\w.\-\[\],']*", line):
                assert "torch-gradlint" in word or "torch_gradlint" in word, f"{path}: {line}"
    assert "pip wheel --no-deps -w dist ." in README
    assert f"torch_gradlint-{__version__}-py3-none-any.whl" in README


def test_license_file_matches_pyproject():
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_the_github_workflow_annotates_the_pull_request(tmp_path):
    yaml = pytest.importorskip("yaml")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if "jobs:" in b]
    workflow = yaml.safe_load(block)
    assert set(workflow[True]) == {"push", "pull_request"}  # YAML 1.1 reads the `on` key as True
    steps = workflow["jobs"]["gradlint"]["steps"]
    (command,) = [s["run"] for s in steps if "run" in s and s["run"].startswith("gradlint")]
    assert any("torch-gradlint" in s.get("run", "") for s in steps)
    write(tmp_path, "src/evaluate.py", EVAL_BARE)
    write(tmp_path, "src/misc.py", MISC)
    result = cli(*shlex.split(command)[1:], cwd=tmp_path)
    assert result.returncode == 1
    annotations = parse_annotations(result.stdout)
    assert len(annotations) == 6
    for note in annotations:
        assert note["level"] in ("error", "warning")
        assert (tmp_path / note["file"]).is_file()  # relative to the workspace, as GitHub needs
        assert int(note["line"]) <= int(note["endLine"]) and note["title"].startswith("gradlint GL")
        message, help_line = note["message"].split("\n")
        assert message and help_line.startswith("help: ")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths in the example")
def test_the_install_example_lints_with_exit_status_one():
    example = next(b.strip() for b in shell_blocks() if "gradlint fixtures/" in b)
    path = re.search(r"gradlint (fixtures/\S+)", example).group(1)
    result = cli("--isolated", "--no-cache", path, cwd=ROOT)
    assert result.returncode == 1 and [line.split()[1] for line in result.stdout.splitlines()[:-2]] == ["GL101"]
