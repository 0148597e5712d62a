"""``[tool.gradlint]`` in pyproject.toml, found upward from each linted path; flags override."""

from __future__ import annotations

import textwrap

import pytest
from conftest import EVAL_BARE, MISC, cli, parse_lines, write

from gradlint.config import ConfigError, Overrides, Resolver, matches, parse_table, read_config


def _project(tmp_path, table: str):
    write(tmp_path, "pyproject.toml", "[project]\nname = 'demo'\n\n" + textwrap.dedent(table))
    write(tmp_path, "src/evaluate.py", EVAL_BARE)
    write(tmp_path, "src/misc.py", MISC)
    return tmp_path


def _codes(result):
    return sorted({(path.replace("\\", "/"), code) for path, _, _, code in parse_lines(result.stdout)})


def test_defaults_without_configuration(tmp_path):
    write(tmp_path, "src/evaluate.py", EVAL_BARE)
    result = cli("src", cwd=tmp_path)
    assert _codes(result) == [("src/evaluate.py", "GL101"), ("src/evaluate.py", "GL201")]


def test_select_and_ignore_from_pyproject(tmp_path):
    _project(tmp_path, """\
        [tool.gradlint]
        select = ["GL1", "GL4"]
        ignore = ["GL102"]
        """)
    result = cli("src", cwd=tmp_path)
    assert _codes(result) == [("src/evaluate.py", "GL101"), ("src/misc.py", "GL401")]
    assert result.returncode == 1


def test_extend_select_adds_to_select(tmp_path):
    _project(tmp_path, """\
        [tool.gradlint]
        select = ["GL101"]
        extend-select = ["GL302"]
        """)
    result = cli("src", cwd=tmp_path)
    assert _codes(result) == [("src/evaluate.py", "GL101"), ("src/misc.py", "GL302")]


def test_config_found_from_the_linted_path_upward_not_the_cwd(tmp_path):
    project = _project(tmp_path / "project", """\
        [tool.gradlint]
        select = ["GL2"]
        """)
    # Run from outside the project: its pyproject.toml still applies to its files.
    result = cli(str(project / "src" / "evaluate.py"), cwd=tmp_path)
    assert [c for *_, c in parse_lines(result.stdout)] == ["GL201"]


def test_closest_table_wins_and_pyproject_without_table_is_passed_over(tmp_path):
    _project(tmp_path, """\
        [tool.gradlint]
        select = ["GL201"]
        """)
    write(tmp_path, "src/pyproject.toml", "[tool.black]\nline-length = 100\n")
    write(tmp_path, "nested/pyproject.toml", "[tool.gradlint]\nselect = ['GL101']\n")
    write(tmp_path, "nested/evaluate.py", EVAL_BARE)
    result = cli("src/evaluate.py", "nested", cwd=tmp_path)
    assert _codes(result) == [("nested/evaluate.py", "GL101"), ("src/evaluate.py", "GL201")]


def test_per_file_ignores_relative_to_the_config_folder(tmp_path):
    _project(tmp_path, """\
        [tool.gradlint]
        [tool.gradlint.per-file-ignores]
        "src/evaluate.py" = ["GL2"]
        "misc.py" = ["GL1", "GL3"]
        """)
    result = cli(".", cwd=tmp_path / "src")
    assert _codes(result) == [("./evaluate.py", "GL101"), ("./misc.py", "GL202"), ("./misc.py", "GL401")]


def test_per_file_ignores_beat_a_more_specific_select(tmp_path):
    _project(tmp_path, """\
        [tool.gradlint]
        select = ["GL101"]
        per-file-ignores = { "src/*" = ["GL1"] }
        """)
    result = cli("src", cwd=tmp_path)
    assert result.returncode == 0 and _codes(result) == []


def test_exclude_and_extend_exclude(tmp_path):
    _project(tmp_path, """\
        [tool.gradlint]
        exclude = ["misc.py"]
        extend-exclude = ["legacy"]
        """)
    write(tmp_path, "legacy/old.py", EVAL_BARE)
    write(tmp_path, "kept/evaluate.py", EVAL_BARE)
    result = cli(".", cwd=tmp_path)
    assert {p for p, _ in _codes(result)} == {"./kept/evaluate.py", "./src/evaluate.py"}
    assert "(2 files checked)" in result.stdout


def test_explicit_files_are_linted_unless_force_exclude(tmp_path):
    _project(tmp_path, """\
        [tool.gradlint]
        exclude = ["src/misc.py"]
        """)
    assert _codes(cli("src/misc.py", cwd=tmp_path))
    result = cli("--force-exclude", "src/misc.py", cwd=tmp_path)
    assert result.returncode == 0 and _codes(result) == []


def test_command_line_flags_override_the_file(tmp_path):
    _project(tmp_path, """\
        [tool.gradlint]
        select = ["GL101"]
        exclude = ["misc.py"]
        per-file-ignores = { "src/evaluate.py" = ["GL101"] }
        """)
    assert _codes(cli("src", cwd=tmp_path)) == []
    result = cli("src", "--select", "GL201", "--per-file-ignores", "misc.py:GL4",
                 "--exclude", "nothing", cwd=tmp_path)
    assert _codes(result) == [("src/evaluate.py", "GL201")]
    result = cli("src", "--extend-select", "GL302", cwd=tmp_path)
    assert _codes(result) == []  # misc.py is still excluded; evaluate.py's GL101 still ignored
    result = cli("src", "--ignore", "GL101", "--select", "GL1,GL2", "--extend-exclude", "evaluate.py",
                 cwd=tmp_path)
    assert _codes(result) == []


def test_config_option_reads_only_that_file(tmp_path):
    _project(tmp_path, """\
        [tool.gradlint]
        select = ["GL101"]
        """)
    other = write(tmp_path, "ci/gradlint.toml", 'select = ["GL401"]\n')
    result = cli("--config", str(other), "src", cwd=tmp_path)
    assert _codes(result) == [("src/misc.py", "GL401")]
    pyproject = write(tmp_path, "ci/pyproject.toml", '[tool.gradlint]\nselect = ["GL302"]\n')
    result = cli("--config", str(pyproject), "src", cwd=tmp_path)
    assert _codes(result) == [("src/misc.py", "GL302")]


def test_isolated_ignores_configuration(tmp_path):
    _project(tmp_path, """\
        [tool.gradlint]
        select = ["GL101"]
        unknown-key = 1
        """)
    result = cli("--isolated", "src/evaluate.py", cwd=tmp_path)
    assert _codes(result) == [("src/evaluate.py", "GL101"), ("src/evaluate.py", "GL201")]
    result = cli("--isolated", "--config", "pyproject.toml", "src", cwd=tmp_path)
    assert result.returncode == 2


@pytest.mark.parametrize("table, message", [
    ('selec = ["GL101"]\n', "unknown key 'selec'"),
    ('select = ["GL999"]\n', "GL999"),
    ('ignore = "GL101"\n', "must be a list of strings"),
    ('[tool.gradlint.per-file-ignores]\n"a.py" = ["XX1"]\n', "XX1"),
    ('per-file-ignores = ["a.py"]\n', "per-file-ignores"),
    ('select = [\n', "invalid TOML"),
    ('respect-gitignore = "no"\n', "`respect-gitignore` must be true or false"),
    ('docs-url = "https://example.org/rules/"\n', "`docs-url` must be a URL with `{code}`"),
    ('extend-ignore = ["GL9999"]\n', "GL9999"),
])
def test_bad_configuration_is_a_clear_error_with_status_2(tmp_path, table, message):
    write(tmp_path, "pyproject.toml", "[tool.gradlint]\n" + table)
    write(tmp_path, "evaluate.py", EVAL_BARE)
    result = cli("evaluate.py", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert "pyproject.toml" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_config_without_table_named_explicitly_is_an_error(tmp_path):
    write(tmp_path, "pyproject.toml", "[project]\nname = 'x'\n")
    with pytest.raises(ConfigError, match="no \\[tool.gradlint\\] table"):
        Resolver(Overrides(), config_path=str(tmp_path / "pyproject.toml"))
    assert read_config(str(tmp_path / "pyproject.toml")) is None


def test_unknown_code_on_the_command_line_is_a_usage_error(tmp_path):
    write(tmp_path, "evaluate.py", EVAL_BARE)
    for flag in ("--select", "--ignore", "--extend-select"):
        result = cli(flag, "GL999", "evaluate.py", cwd=tmp_path)
        assert result.returncode == 2 and "GL999" in result.stderr
    result = cli("--per-file-ignores", "evaluate.py:GL999", "evaluate.py", cwd=tmp_path)
    assert result.returncode == 2 and "GL999" in result.stderr


@pytest.mark.parametrize("path, pattern, expected", [
    ("src/a.py", "a.py", True),
    ("src/legacy/a.py", "legacy", True),
    ("src/a.py", "src/*", True),
    ("src/deep/a.py", "src/*", True),
    ("lib/src/a.py", "src/*", False),
    ("src/a.py", "b.py", False),
    ("src/a.py", "*.py", True),
    ("src/a.ipynb", "*.py", False),
])
def test_pattern_matching(tmp_path, path, pattern, expected):
    assert matches(str(tmp_path / path), str(tmp_path), pattern) is expected


def test_documented_example_configuration_is_valid():
    import re

    from conftest import ROOT

    from gradlint.config import tomllib

    text = (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```toml\n(.*?)```", text, re.S)
    table = tomllib.loads(block)["tool"]["gradlint"]
    config = parse_table(str(ROOT / "pyproject.toml"), table)
    assert config.ignore == ("GL201",) and len(config.per_file_ignores) == 2


def test_extend_ignore_adds_to_the_configured_ignore(tmp_path):
    from click.testing import CliRunner

    from gradlint.cli import main

    write(tmp_path, "pyproject.toml", '[tool.gradlint]\nignore = ["GL201"]\nextend-ignore = ["GL302"]\n')
    write(tmp_path, "evaluate.py", EVAL_BARE)
    write(tmp_path, "misc.py", MISC)
    resolver = Resolver(Overrides(extend_ignore=("GL401",)))
    selection = resolver.selection_for(str(tmp_path / "misc.py"))
    assert [c for c in ("GL101", "GL201", "GL302", "GL401") if c in selection] == ["GL101"]
    result = CliRunner().invoke(main, ["--extend-ignore", "GL1,GL4", "--no-cache", str(tmp_path)])
    assert sorted({line.split()[1] for line in result.output.splitlines() if ": GL" in line}) == ["GL202"]
    result = CliRunner().invoke(main, ["--ignore", "GL2", "--extend-ignore", "GL1", "--no-cache", str(tmp_path)])
    assert sorted({line.split()[1] for line in result.output.splitlines() if ": GL" in line}) == ["GL401"]
