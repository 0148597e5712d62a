"""--output-format text|json|sarif|github, --statistics, --exit-zero, --quiet, colour."""

from __future__ import annotations

import json

import pytest
from conftest import EVAL_BARE, MISC, ROOT, gradlint, gradlint_on_tty, line_of, parse_lines, write

from gradlint.catalog import CATALOG
from gradlint.docs import DOCS
from gradlint.finding import Finding
from gradlint.output.github import annotation
from gradlint.rules import implemented

jsonschema = pytest.importorskip("jsonschema", reason="pip install jsonschema (in the test extra)")

SARIF_SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
REPORT_SCHEMA = ROOT / "docs" / "gradlint-report.schema.json"
ESC = "\x1b["


@pytest.fixture
def project(tmp_path):
    write(tmp_path, "evaluate.py", EVAL_BARE)
    write(tmp_path, "misc.py", MISC)
    write(tmp_path, "broken.py", "import torch\ndef f(:\n")
    write(tmp_path, "clean.py", "import torch\nx = torch.ones(2)\n")
    return tmp_path


def _validate(document, schema_path):
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    errors = sorted(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(document), key=str)
    assert not errors, "\n".join(str(e) for e in errors[:3])


def test_text_is_flake8_lines_then_summary(project):
    result = gradlint("--isolated", ".", cwd=project)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[-2] == "Found 6 problems in 2 files (4 files checked); 1 file could not be linted."
    assert lines[-1] == "[*] 3 fixable with `gradlint --fix` (3 more with `--fix --unsafe-fixes`)."
    found = parse_lines(result.stdout)
    assert len(found) == len(lines) - 2 == 7
    anchor = line_of(EVAL_BARE, "out = model(x)")
    assert ("./evaluate.py", anchor, 15, "GL101") in found
    assert ESC not in result.stdout  # a pipe is not a terminal


def test_json_validates_and_matches_the_text_report(project):
    text = parse_lines(gradlint("--isolated", ".", cwd=project).stdout)
    result = gradlint("--isolated", "--output-format", "json", ".", cwd=project)
    assert result.returncode == 1
    document = json.loads(result.stdout)  # the document alone on stdout
    _validate(document, REPORT_SCHEMA)
    rows = [(f["path"], f["line"], f["column"], f["code"]) for f in document["findings"]]
    rows += [(e["path"], e["line"], e["column"], e["code"]) for e in document["errors"]]
    assert sorted(rows) == sorted(text)
    assert document["summary"] == {"files_checked": 4, "problems": 6, "files_with_problems": 2,
                                   "files_not_linted": 1}
    assert [e["code"] for e in document["errors"]] == ["E999"]
    first = document["findings"][0]
    assert first["name"] == CATALOG[first["code"]].name
    assert first["url"].endswith(f"/docs/rules/{first['code']}.md")
    counts = {s["code"]: s["count"] for s in document["statistics"]}
    assert counts == {"GL101": 1, "GL201": 1, "GL102": 1, "GL202": 1, "GL302": 1, "GL401": 1}
    assert "Found 6 problems" in result.stderr


def test_json_schema_rejects_a_broken_report(project):
    document = json.loads(gradlint("--isolated", "--output-format", "json", ".", cwd=project).stdout)
    document["findings"][0]["line"] = 0
    with pytest.raises(AssertionError):
        _validate(document, REPORT_SCHEMA)


def test_sarif_validates_against_the_official_schema(project):
    result = gradlint("--isolated", "--output-format", "sarif", ".", cwd=project)
    assert result.returncode == 1
    log = json.loads(result.stdout)
    _validate(log, SARIF_SCHEMA)
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == implemented()
    for rule in rules:
        info, doc = CATALOG[rule["id"]], DOCS[rule["id"]]
        assert rule["name"] == info.name
        assert rule["shortDescription"]["text"] == info.summary
        assert doc.what.split()[0] in rule["fullDescription"]["text"]
        assert rule["helpUri"].endswith(f"/docs/rules/{rule['id']}.md")
        assert (ROOT / "docs" / "rules" / f"{rule['id']}.md").is_file()
        assert "## Why is this bad?" in rule["help"]["markdown"]
    results = run["results"]
    assert sorted((r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                   r["locations"][0]["physicalLocation"]["region"]["startLine"], r["ruleId"])
                  for r in results) == sorted((p[2:], line, code) for p, line, _, code in
                                              parse_lines(gradlint("--isolated", ".", cwd=project).stdout)
                                              if code.startswith("GL"))
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["level"] == ("warning" if CATALOG[r["ruleId"]].severity == "warning" else "error")
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert [n["descriptor"]["id"] for n in notes] == ["E999"]


def test_sarif_schema_is_really_checked():
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "gradlint"}},
                                         "results": [{"message": {"text": "x"}, "level": "fatal"}]}]}
    with pytest.raises(AssertionError):
        _validate(log, SARIF_SCHEMA)


def test_github_annotations(project):
    result = gradlint("--isolated", "--output-format", "github", "evaluate.py", "misc.py", cwd=project)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("::")]
    anchor = line_of(EVAL_BARE, "out = model(x)")
    assert f"::error file=evaluate.py,line={anchor},col=15,title=gradlint GL101 (eval-mode-missing)::" \
        in "\n".join(lines)
    assert any(line.startswith(f"::warning file=evaluate.py,line={anchor},col=15,title=gradlint GL201")
               for line in lines)
    assert len(lines) == 6


def test_github_escaping():
    finding = Finding("dir,a:b/x%.py", 3, 4, "GL101", "50% wrong\nsecond line")
    line = annotation(finding)
    assert line.startswith("::error file=dir%2Ca%3Ab/x%25.py,line=3,col=4,")
    assert line.endswith("::50%25 wrong%0Asecond line")
    assert "\n" not in line


def test_statistics_exit_zero_and_quiet(project):
    result = gradlint("--isolated", "--statistics", "evaluate.py", "misc.py", cwd=project)
    stats = [line.split() for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert sorted((code, int(count)) for count, code, _ in stats) == sorted(
        (code, 1) for code in ["GL101", "GL201", "GL102", "GL202", "GL302", "GL401"])
    twice = gradlint("--isolated", "--statistics", "evaluate.py", "evaluate.py", cwd=project)
    assert "2     GL101 eval-mode-missing" in twice.stdout

    result = gradlint("--isolated", "--exit-zero", "evaluate.py", cwd=project)
    assert result.returncode == 0 and len(parse_lines(result.stdout)) == 2

    result = gradlint("--isolated", "-q", "evaluate.py", cwd=project)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [line for line in result.stdout.splitlines() if parse_lines(line)]
    assert "Found" not in result.stdout + result.stderr

    result = gradlint("--isolated", "--exit-zero", "--output-format", "json", "nope.py", cwd=project)
    assert result.returncode == 2  # a missing path is still an error


def test_colour_only_on_a_terminal_and_never_with_no_color(project):
    status, shown, _ = gradlint_on_tty("--isolated", "evaluate.py", tty="stdout", cwd=project)
    assert status == 1
    assert ESC in shown and "GL101" in shown
    status, shown, _ = gradlint_on_tty("--isolated", "evaluate.py", tty="stdout", cwd=project,
                                       env={"NO_COLOR": "1"})
    assert status == 1 and "GL101" in shown and ESC not in shown
    # A document format is never coloured, terminal or not.
    status, shown, _ = gradlint_on_tty("--isolated", "--output-format", "json", "evaluate.py",
                                       tty="stdout", cwd=project)
    assert ESC not in shown and json.loads(shown)["summary"]["problems"] == 2


def test_an_internal_error_is_the_files_e903_and_the_run_goes_on(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import gradlint.engine
    from gradlint.cli import main

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(gradlint.engine, "_lint_module", broken)
    path = write(tmp_path, "evaluate.py", EVAL_BARE)
    other = write(tmp_path, "plain.py", "def f(:\n")
    result = CliRunner().invoke(main, ["--isolated", "--jobs", "1", str(path), str(other)])
    assert result.exit_code == 1
    assert "E903 gradlint could not analyse this file: internal error (ZeroDivisionError: a bug" in result.output
    assert "plain.py:1:7: E999" in result.output
    monkeypatch.undo()
    result = CliRunner().invoke(main, ["--isolated", "--jobs", "1", str(path)])
    assert result.exit_code == 1 and "GL101" in result.output
