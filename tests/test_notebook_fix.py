"""``--fix`` on notebooks: the cells are rewritten, everything else in the file is kept byte
for byte, and a fix that cannot be written back is never offered."""

from __future__ import annotations

import difflib
import json

from conftest import cli, write
from test_notebooks import notebook

from gradlint.engine import lint_file, lint_text
from gradlint.notebook import notebook_source, read_notebook
from gradlint.notebook_fix import SPANS_CELLS, fix_notebook, lint_notebook

IMPORTS = "import torch\nimport torch.nn as nn\n%matplotlib inline\n"
MODEL = "net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))\nnet.load_state_dict(torch.load('w.pt'))\n"
# A module-level test loop under eval() without no_grad (GL201, unsafe fix: wrap the loop),
# with a line magic inside the loop that the wrapping re-indents.
TEST_LOOP = ("test_loader = [torch.randn(2, 4)]\nnet.eval()\nfor x in test_loader:\n    out = net(x)\n"
             "    !echo step\n    print(out)\n")
BARE = "x = torch.randn(3, requires_grad=True)\ny = x * 2\nprint(y.grad)"


def _rich(cells):
    """A notebook as Jupyter writes it, with outputs, metadata and non-ASCII text."""
    nb = json.loads(notebook(cells))
    for cell in nb["cells"]:
        cell["metadata"] = {"tags": ["keep"], "collapsed": False}
        if cell["cell_type"] == "code":
            cell["execution_count"] = 7
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["précision 0.91\n"]},
                               {"output_type": "display_data", "metadata": {},
                                "data": {"image/png": "iVBORw0KGgo=", "text/plain": ["<Figure>"]}}]
    nb["metadata"]["widgets"] = {"state": {"a": 1.5e-05}}
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _unchanged_except_sources(before: str, after: str) -> None:
    old, new = json.loads(before), json.loads(after)
    for a, b in zip(old["cells"], new["cells"]):
        a.pop("source"), b.pop("source")
    assert old == new


def test_fix_rewrites_cells_and_keeps_layout_metadata_and_outputs(tmp_path):
    text = _rich([("code", IMPORTS), ("markdown", "# Résumé"), ("code", MODEL + "net.eval\n"), ("code", BARE)])
    path = write(tmp_path, "a.ipynb", text)
    result = fix_notebook(str(path), unsafe=True)
    assert result.fixed == 2 and result.findings == []
    after = path.read_text(encoding="utf-8")
    _unchanged_except_sources(text, after)
    cells = json.loads(after)["cells"]
    assert cells[0]["source"] == json.loads(text)["cells"][0]["source"]  # the magic is still there
    assert cells[2]["source"][-1] == "net.eval()\n"
    assert cells[3]["source"] == ["x = torch.randn(3, requires_grad=True)\n", "y = x * 2\n",
                                  "y.retain_grad()\n", "print(y.grad)"]
    # Only the changed lines differ: indent, escaping, key order and final newline are Jupyter's.
    changed = [line for line in difflib.unified_diff(text.splitlines(), after.splitlines(), lineterm="", n=0)
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ['-    "net.eval\\n"', '+    "net.eval()\\n"', '+    "y.retain_grad()\\n",']
    assert after.endswith("}\n")
    again = fix_notebook(str(path), unsafe=True)
    assert not again.changed and again.findings == []


def test_a_wrapping_fix_keeps_the_magic_it_reindents(tmp_path):
    path = write(tmp_path, "b.ipynb", _rich([("code", IMPORTS), ("code", MODEL), ("code", TEST_LOOP)]))
    before = lint_file(str(path), fixes="notes")
    assert [(f.cell, f.code, f.fix.applicability) for f in before] == [(3, "GL201", "unsafe")]
    result = fix_notebook(str(path), unsafe=True)
    assert result.fixed == 1 and result.findings == []
    source = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][2]["source"])
    assert "with torch.no_grad():\n    for x in test_loader:\n        out = net(x)\n        !echo step\n" in source


def test_a_fix_that_would_span_cells_is_never_offered(tmp_path):
    """A bare `torch.no_grad()` at the top of a cell: its unsafe fix puts the rest of the module
    under `with`, which in a notebook would swallow the next cells."""
    cells = [("code", IMPORTS + "enc = nn.Linear(4, 4)\nimages = torch.randn(2, 4)\n"),
             ("code", "torch.no_grad()\nfeatures = enc(images)\n"), ("code", "print(features.requires_grad)\n")]
    path = write(tmp_path, "c.ipynb", _rich(cells))
    before = path.read_text(encoding="utf-8")
    (finding,) = lint_file(str(path), fixes="notes")
    assert finding.code == "GL202" and finding.fix.applicability == "unavailable"
    assert finding.fix.description == SPANS_CELLS
    result = fix_notebook(str(path), unsafe=True)
    assert not result.changed and path.read_text(encoding="utf-8") == before
    assert result.findings[0].fix.description == SPANS_CELLS
    report = cli("--isolated", "--no-cache", "c.ipynb", cwd=tmp_path)
    assert "fixable" not in report.stdout  # the summary never offers what --fix will not do
    # The same statement in the last cell: the rest of the module is that cell, so it is fixed.
    cells[1], cells[2] = cells[2], ("code", "torch.no_grad()\nfeatures = enc(images)\n")
    path = write(tmp_path, "d.ipynb", _rich(cells))
    assert fix_notebook(str(path), unsafe=True).fixed == 1


def test_a_layout_gradlint_cannot_write_back_is_reported_not_rewritten(tmp_path):
    nb = json.loads(notebook([("code", MODEL + "net.eval\n")]))
    text = json.dumps(nb, indent=3).replace('": ', '":  ')  # two spaces after colons: not json.dumps
    path = write(tmp_path, "e.ipynb", text)
    (finding,) = lint_file(str(path), fixes="notes")
    assert finding.fix.applicability == "unavailable" and "JSON layout" in finding.fix.description
    result = cli("--isolated", "--fix", "e.ipynb", cwd=tmp_path)
    assert path.read_text(encoding="utf-8") == text
    assert "Fixed 0 problems" in result.stdout and "1 not fixable automatically" in result.stdout


def test_minified_nbformat3_and_string_sources_round_trip(tmp_path):
    v3 = {"metadata": {}, "nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval\n", "outputs": [],
         "language": "python"}]}]}
    path = write(tmp_path, "f.ipynb", json.dumps(v3, separators=(",", ":")))
    assert fix_notebook(str(path)).fixed == 1
    fixed = json.loads(path.read_text(encoding="utf-8"))
    assert fixed["worksheets"][0]["cells"][0]["input"].endswith("m.eval()\n")
    assert "\n" not in path.read_text(encoding="utf-8")  # still minified


def test_fixing_reads_the_cells_as_linting_does(tmp_path):
    """The joined text with cell boundaries gives the same findings as the plain joined text."""
    cells = [("code", IMPORTS), ("code", MODEL), ("code", TEST_LOOP), ("markdown", "x"), ("code", BARE)]
    path = write(tmp_path, "g.ipynb", notebook(cells))
    plain = read_notebook(str(path)).map_findings(lint_text(notebook_source(json.loads(path.read_text())).text,
                                                            str(path)))
    assert [(f.cell, f.line, f.col, f.code) for f in lint_notebook(str(path))] == \
        [(f.cell, f.line, f.col, f.code) for f in plain]


def test_diff_and_stdin_for_notebooks(tmp_path):
    text = notebook([("code", MODEL + "net.eval\n")])
    write(tmp_path, "h.ipynb", text)
    diff = cli("--isolated", "--diff", "h.ipynb", cwd=tmp_path)
    assert diff.returncode == 1 and '-    "net.eval\\n"' in diff.stdout and '+    "net.eval()\\n"' in diff.stdout
    linted = cli("--isolated", "-", "--stdin-filename", "h.ipynb", cwd=tmp_path, input=text)
    assert linted.returncode == 1 and linted.stdout.startswith("h.ipynb:cell 1:3:1: GL102 ")
    fixed = cli("--isolated", "--fix", "-", "--stdin-filename", "h.ipynb", cwd=tmp_path, input=text)
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["cells"][0]["source"][-1] == "net.eval()\n"
    assert "Fixed 1 problem" in fixed.stderr


def test_a_notebook_the_reader_accepts_and_the_writer_cannot_take_is_linted_not_fixed(tmp_path, monkeypatch):
    import gradlint.notebook_fix as notebook_fix

    def refuse(data):
        raise ValueError("a shape the writer does not know")

    monkeypatch.setattr(notebook_fix, "NotebookFile", refuse)
    text = notebook([("code", MODEL + "net.eval\n")])
    path = write(tmp_path, "i.ipynb", text)
    (finding,) = lint_notebook(str(path))
    assert finding.code == "GL102" and finding.fix.applicability == "unavailable"
    assert finding.fix.description == notebook_fix.CANNOT_REWRITE
    result = fix_notebook(str(path))
    assert not result.changed and path.read_text(encoding="utf-8") == text
