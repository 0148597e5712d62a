"""The pipeline around the rules: reading, decoding, errors per file, ordering, parallelism."""

import os

from gradlint.engine import lint_file, lint_paths, lint_source
from gradlint.discovery import discover
from gradlint.selection import Selection

FLAGGED = """\
import torch
x = torch.tensor(2.0, requires_grad=True)
y = x * x
print(y.grad)
"""


def test_lint_source_reports_line_and_column():
    findings = lint_source(FLAGGED, "t.py")
    assert [(f.line, f.col, f.code) for f in findings] == [(4, 7, "GL401")]
    assert findings[0].format().startswith("t.py:4:7: GL401 ")


def test_syntax_error_is_reported_per_file_and_run_goes_on(tmp_path):
    bad = tmp_path / "a_bad.py"
    bad.write_text("import torch\ndef f(:\n    pass\n")
    good = tmp_path / "b_good.py"
    good.write_text(FLAGGED)
    findings = lint_paths(discover([str(tmp_path)]), jobs=1)
    assert [(os.path.basename(f.path), f.code) for f in findings] == [("a_bad.py", "E999"), ("b_good.py", "GL401")]
    assert findings[0].line == 2 and "SyntaxError" in findings[0].message


def test_undecodable_file_is_reported(tmp_path):
    path = tmp_path / "latin.py"
    path.write_bytes(b"import torch\nname = '\xe9t\xe9'\n")  # latin-1 bytes, no cookie
    [finding] = lint_file(str(path))
    assert finding.code == "E902" and "decode" in finding.message


def test_pep263_cookie_is_honoured(tmp_path):
    path = tmp_path / "latin.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\nimport torch\nname = '\xe9t\xe9'\n" + FLAGGED.encode()[13:])
    assert [f.code for f in lint_file(str(path))] == ["GL401"]


def test_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.py"
    path.write_bytes(b"\xef\xbb\xbf" + FLAGGED.encode())
    assert [f.code for f in lint_file(str(path))] == ["GL401"]


def test_unreadable_path_is_reported(tmp_path):
    [finding] = lint_file(str(tmp_path / "missing.py"))
    assert finding.code == "E902"


def test_prefilter_skips_files_without_torch_words():
    assert lint_source("def f(x):\n    return x.grad_fn(\n", "t.py") == []  # not even parsed


def test_selection_prefixes():
    assert lint_source(FLAGGED, "t.py", Selection(["GL4"])) != []
    assert lint_source(FLAGGED, "t.py", Selection(["GL1"])) == []
    assert lint_source(FLAGGED, "t.py", Selection(["GL"], ["GL401"])) == []
    assert lint_source(FLAGGED, "t.py", Selection(["GL401"], ["GL4"])) != []


def test_discovery_skips_vcs_venv_and_build_folders(tmp_path):
    for folder in (".git", "venv", "build", "node_modules", "__pycache__", "pkg"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.py").write_text(FLAGGED)
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    (tmp_path / "env" / "m.py").write_text(FLAGGED)
    (tmp_path / "notes.txt").write_text("torch")
    found = [os.path.relpath(p, tmp_path) for p in discover([str(tmp_path)])]
    assert found == [os.path.join("pkg", "m.py")]


def test_parallel_run_equals_serial_run(tmp_path):
    for i in range(12):
        (tmp_path / f"m{i:02d}.py").write_text(FLAGGED if i % 2 else "import torch\n")
    files = list(discover([str(tmp_path)]))
    serial = lint_paths(files, jobs=1)
    parallel = lint_paths(files, jobs=2)
    assert serial == parallel and len(serial) == 6
