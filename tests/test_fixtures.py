"""Fixtures double as tests: the linter reports exactly the lines marked `# expect:`."""

import subprocess
import textwrap

import pytest

from conftest import FIXTURES, PYTHON, fixture_files, fixture_id, run_env
from gradlint.engine import lint_file
from gradlint.expectations import parse_expectations
from gradlint.rules import implemented

FILES = fixture_files()


@pytest.mark.parametrize("path", FILES, ids=[fixture_id(p) for p in FILES])
def test_fixture_findings_match_markers_exactly(path):
    expected = set(parse_expectations(path.read_text(encoding="utf-8")))
    found = {(f.line, f.code) for f in lint_file(str(path))}
    assert found == expected, (
        f"missing: {sorted(expected - found)}  unexpected: {sorted(found - expected)}")


@pytest.mark.parametrize("path", FILES, ids=[fixture_id(p) for p in FILES])
def test_fixture_kind_matches_its_markers(path):
    markers = parse_expectations(path.read_text(encoding="utf-8"))
    if path.name.startswith("good_"):
        assert not markers, "a good fixture has no expect markers"
    else:
        assert path.name.startswith("bad_"), "fixtures are named bad_* or good_*"
        assert any(code == path.parent.name for _, code in markers), \
            f"a bad fixture under {path.parent.name}/ marks at least one {path.parent.name}"


@pytest.mark.parametrize("code", implemented())
def test_every_rule_has_three_bad_and_three_good_fixtures(code):
    folder = FIXTURES / code
    assert len(list(folder.glob("bad_*.py"))) >= 3
    assert len(list(folder.glob("good_*.py"))) >= 3


def test_seed_documents_are_covered():
    """The first seed document's code lints clean; the second's `y.grad` reads are GL401."""
    seeds = [p for p in FILES if "_seed_" in p.name]
    clean = [p for p in seeds if p.name.startswith("good_")]
    assert len(clean) >= 3
    for path in clean:
        assert lint_file(str(path)) == []
    second = FIXTURES / "GL401" / "bad_seed_grad_of_non_leaf.py"
    codes = [f.code for f in lint_file(str(second))]
    assert codes == ["GL401"] * 3


# A bad fixture may end in the exception its rule predicts; nothing else may fail.
PREDICTED_EXCEPTIONS = {"GL202": "TypeError", "GL203": "RuntimeError", "GL204": "RuntimeError", "GL303": "RuntimeError",
                        "GL402": "ValueError", "GL403": "RuntimeError"}

RUNNER = textwrap.dedent("""
    import contextlib, io, json, runpy, sys, warnings
    warnings.simplefilter("ignore")
    results = {}
    for path in sys.argv[1:]:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                runpy.run_path(path, run_name="__main__")
            results[path] = None
        except Exception as exc:
            results[path] = type(exc).__name__ + ": " + str(exc)[:200]
    print(json.dumps(results))
""")


def test_every_fixture_runs():
    pytest.importorskip("torch")
    import json

    proc = subprocess.run([PYTHON, "-c", RUNNER] + [str(p) for p in FILES], capture_output=True,
                          text=True, env=run_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for path in FILES:
        outcome = results[str(path)]
        if outcome is None:
            continue
        code = path.parent.name
        allowed = PREDICTED_EXCEPTIONS.get(code)
        assert path.name.startswith("bad_") and allowed and outcome.startswith(allowed + ":"), \
            f"{fixture_id(path)} failed: {outcome}"
