"""--output-format text|json|sarif|github, --statistics, --exit-zero, --quiet, colour."""

from __future__ import annotations

import json

import pytest
from conftest import (EVAL_BARE, MISC, ROOT, cli, gradlint_on_tty, line_of, parse_annotations, parse_lines,
                      write)

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
    result = cli("--isolated", ".", cwd=project)
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
    text = parse_lines(cli("--isolated", ".", cwd=project).stdout)
    result = cli("--isolated", "--output-format", "json", ".", cwd=project)
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
    assert first["url"] is None  # no docs-url configured: no link (gradlint explain prints the page)
    counts = {s["code"]: s["count"] for s in document["statistics"]}
    assert counts == {"GL101": 1, "GL201": 1, "GL102": 1, "GL202": 1, "GL302": 1, "GL401": 1}
    assert "Found 6 problems" in result.stderr


def test_json_schema_rejects_a_broken_report(project):
    document = json.loads(cli("--isolated", "--output-format", "json", ".", cwd=project).stdout)
    document["findings"][0]["line"] = 0
    with pytest.raises(AssertionError):
        _validate(document, REPORT_SCHEMA)


def test_sarif_validates_against_the_official_schema(project):
    result = cli("--isolated", "--output-format", "sarif", ".", cwd=project)
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
        assert "helpUri" not in rule  # only from docs-url
        assert (ROOT / "docs" / "rules" / f"{rule['id']}.md").is_file()
        assert "## Why is this bad?" in rule["help"]["markdown"]
    results = run["results"]
    assert sorted((r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                   r["locations"][0]["physicalLocation"]["region"]["startLine"], r["ruleId"])
                  for r in results) == sorted((p[2:], line, code) for p, line, _, code in
                                              parse_lines(cli("--isolated", ".", cwd=project).stdout)
                                              if code.startswith("GL"))
    assert "informationUri" not in run["tool"]["driver"]
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
    result = cli("--isolated", "--output-format", "github", "evaluate.py", "misc.py", cwd=project)
    assert result.returncode == 1
    annotations = parse_annotations(result.stdout)
    assert len(annotations) == 6
    anchor = line_of(EVAL_BARE, "out = model(x)")
    gl101, gl201 = [a for a in annotations if a["file"] == "evaluate.py"]
    assert {k: gl101[k] for k in ("level", "line", "col", "endLine", "endColumn", "title")} == {
        "level": "error", "line": str(anchor), "col": "15", "endLine": str(anchor), "endColumn": "23",
        "title": "gradlint GL101 (eval-mode-missing)"}
    assert gl201["level"] == "warning" and gl201["title"].startswith("gradlint GL201")
    message, help_line = gl201["message"].split("\n")
    assert message.startswith("`model` runs with gradient tracking") and help_line.startswith("help: wrap it")


def test_github_escaping():
    finding = Finding("dir,a:b/x%.py", 3, 4, "GL101", "50% wrong\nsecond line")
    line = annotation(finding)
    assert line.startswith("::error file=dir%2Ca%3Ab/x%25.py,line=3,col=4,")
    assert line.endswith("::50%25 wrong%0Asecond line")
    assert "\n" not in line


def test_statistics_exit_zero_and_quiet(project):
    result = cli("--isolated", "--statistics", "evaluate.py", "misc.py", cwd=project)
    stats = [line.split() for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert sorted((code, int(count)) for count, code, _ in stats) == sorted(
        (code, 1) for code in ["GL101", "GL201", "GL102", "GL202", "GL302", "GL401"])
    write(project, "evaluate_copy.py", EVAL_BARE)
    twice = cli("--isolated", "--statistics", "evaluate.py", "evaluate_copy.py", cwd=project)
    assert "2     GL101 eval-mode-missing" in twice.stdout

    result = cli("--isolated", "--exit-zero", "evaluate.py", cwd=project)
    assert result.returncode == 0 and len(parse_lines(result.stdout)) == 2

    result = cli("--isolated", "-q", "evaluate.py", cwd=project)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [line for line in result.stdout.splitlines() if parse_lines(line)]
    assert "Found" not in result.stdout + result.stderr

    result = cli("--isolated", "--exit-zero", "--output-format", "json", "nope.py", cwd=project)
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

    from gradlint.cli import main
    from gradlint.rules import CHECKS

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setitem(CHECKS, "GL101", broken)  # a bug in a rule, whichever path lints the file
    path = write(tmp_path, "evaluate.py", EVAL_BARE)
    other = write(tmp_path, "plain.py", "def f(:\n")
    result = CliRunner().invoke(main, ["--isolated", "--jobs", "1", str(path), str(other)])
    assert result.exit_code == 1
    assert "E903 gradlint could not analyse this file: internal error (ZeroDivisionError: a bug" in result.output
    assert "plain.py:1:7: E999" in result.output
    monkeypatch.undo()
    result = CliRunner().invoke(main, ["--isolated", "--jobs", "1", str(path)])
    assert result.exit_code == 1 and "GL101" in result.output


def test_docs_url_setting_links_every_rule_page(project):
    write(project, "pyproject.toml", '[tool.gradlint]\ndocs-url = "https://docs.example.org/gradlint/{code}.html"\n')
    document = json.loads(cli("--output-format", "json", ".", cwd=project).stdout)
    _validate(document, REPORT_SCHEMA)
    assert {f["url"] for f in document["findings"]} >= {"https://docs.example.org/gradlint/GL101.html"}
    log = json.loads(cli("--output-format", "sarif", ".", cwd=project).stdout)
    _validate(log, SARIF_SCHEMA)
    uris = {r["id"]: r["helpUri"] for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert uris["GL301"] == "https://docs.example.org/gradlint/GL301.html"
    write(project, "pyproject.toml", '[tool.gradlint]\ndocs-url = "https://docs.example.org/"\n')
    result = cli(".", cwd=project)
    assert result.returncode == 2 and "`docs-url` must be a URL with `{code}`" in result.stderr


def test_no_placeholder_urls_anywhere():
    """No made-up project URL in the package, the docs or the README."""
    texts = [p.read_text(encoding="utf-8") for p in (ROOT / "gradlint").rglob("*.py")]
    texts += [p.read_text(encoding="utf-8") for p in (ROOT / "docs").rglob("*.md")]
    names = ("README.md", ".pre-commit-hooks.yaml", "pyproject.toml")
    texts += [(ROOT / name).read_text(encoding="utf-8") for name in names]
    texts.append((ROOT / "docs" / "gradlint-report.schema.json").read_text(encoding="utf-8"))
    for text in texts:
        assert "github.com/gradlint" not in text


def test_sarif_fingerprints_survive_lines_moving_and_tell_findings_apart(project):
    def results():
        log = json.loads(cli("--isolated", "--no-cache", "--output-format", "sarif", "misc.py",
                             cwd=project).stdout)
        _validate(log, SARIF_SCHEMA)
        return {r["ruleId"]: r for r in log["runs"][0]["results"]}

    before = results()
    prints = {code: r["partialFingerprints"]["gradlintFinding/v1"] for code, r in before.items()}
    assert len(set(prints.values())) == len(prints) == 4
    region = before["GL401"]["locations"][0]["physicalLocation"]["region"]
    assert (region["startColumn"], region["endColumn"], region["endLine"]) == (7, 13, region["startLine"])
    write(project, "misc.py", "# a comment\n\n" + MISC)  # every finding moves down two lines
    after = results()
    assert {code: r["partialFingerprints"]["gradlintFinding/v1"] for code, r in after.items()} == prints
    assert after["GL401"]["locations"][0]["physicalLocation"]["region"]["startLine"] == region["startLine"] + 2


def test_json_end_positions(project):
    document = json.loads(cli("--isolated", "--output-format", "json", "misc.py", cwd=project).stdout)
    gl401 = next(f for f in document["findings"] if f["code"] == "GL401")
    assert (gl401["column"], gl401["end_line"], gl401["end_column"]) == (7, gl401["line"], 13)
