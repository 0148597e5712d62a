"""Results cached by content: unchanged files are not linted again, changed ones are."""

import os

import pytest
from click.testing import CliRunner

import gradlint.engine as engine
from gradlint.cache import findings_key
from gradlint.cli import main
from gradlint.selection import Selection

BAD = "import torch\nx = torch.tensor(2.0, requires_grad=True)\ny = x * x\nprint(y.grad)\n"


@pytest.fixture
def counted(monkeypatch):
    """Counts the files actually parsed (not served from the cache)."""
    import gradlint.project.lint as project_lint

    calls = []
    real = project_lint._parse_and_build

    def parse_and_build(view, path, shown, text):
        calls.append(shown)
        return real(view, path, shown, text)

    monkeypatch.setattr(project_lint, "_parse_and_build", parse_and_build)
    return calls


def run(files, cache_dir, selection=None):
    return engine.lint_paths([str(f) for f in files], selection, jobs=1, fixes="notes",
                             cache_dir=str(cache_dir))


def test_unchanged_files_come_from_the_cache(tmp_path, counted):
    path = tmp_path / "m.py"
    path.write_text(BAD)
    first = run([path], tmp_path / "cache")
    second = run([path], tmp_path / "cache")
    assert counted == [str(path)]
    assert first == second and [f.code for f in second] == ["GL401"]
    assert second[0].fix is not None and second[0].fix.applicability == first[0].fix.applicability


def test_a_change_to_the_file_or_the_selection_lints_again(tmp_path, counted):
    path = tmp_path / "m.py"
    path.write_text(BAD)
    run([path], tmp_path / "cache")
    path.write_text(BAD + "# edited\n")
    assert [f.code for f in run([path], tmp_path / "cache")] == ["GL401"]
    assert run([path], tmp_path / "cache", Selection(["GL1"])) == []
    assert len(counted) == 3


def test_a_broken_entry_is_ignored(tmp_path, counted):
    path = tmp_path / "m.py"
    path.write_text(BAD)
    cache_dir = tmp_path / "cache"
    run([path], cache_dir)
    for entry in cache_dir.rglob("*.json"):
        entry.write_text("{not json")
    assert [f.code for f in run([path], cache_dir)] == ["GL401"]
    assert len(counted) == 2


def test_an_unwritable_cache_does_not_stop_linting(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(BAD)
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder should be")
    assert [f.code for f in run([path], blocker)] == ["GL401"]


def test_cli_caches_and_no_cache_bypasses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.py").write_text(BAD)
    assert CliRunner().invoke(main, ["--isolated", "--no-cache", "m.py"]).exit_code == 1
    assert not (tmp_path / ".gradlint_cache").exists()
    result = CliRunner().invoke(main, ["--isolated", "m.py"])
    assert result.exit_code == 1 and "GL401" in result.output
    assert (tmp_path / ".gradlint_cache" / ".gitignore").read_text().endswith("*\n")
    again = CliRunner().invoke(main, ["--isolated", "m.py"])
    assert again.output == result.output


def test_entries_are_keyed_by_gradlint_code_too(monkeypatch):
    import gradlint.cache as cache_module

    key = findings_key("m.py", b"x", ["GL101"], "")
    monkeypatch.setattr(cache_module, "code_fingerprint", lambda: "another gradlint")
    assert findings_key("m.py", b"x", ["GL101"], "") != key
    assert os.path.basename(".gradlint_cache") in cache_module.DEFAULT_DIR
