"""The README's set-up commands are the ones CI runs."""

import re

from conftest import ROOT


def shell_blocks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def test_ci_runs_the_readme_test_command():
    test_command = next(b.strip() for b in shell_blocks() if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def test_readme_example_command_names_an_existing_fixture():
    example = next(b.strip() for b in shell_blocks() if "gradlint fixtures/" in b)
    path = re.search(r"gradlint (fixtures/\S+)", example).group(1)
    assert (ROOT / path).is_file()
