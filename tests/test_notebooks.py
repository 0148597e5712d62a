"""Notebooks: code cells linted together, IPython syntax skipped, locations as ruff gives them."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT, cli, gradlint, write

from gradlint.engine import lint_file
from gradlint.notebook import notebook_source, python_lines

CELLS = [
    ("code", "import torch\nimport torch.nn as nn\n%matplotlib inline\n"),
    ("markdown", "# Evaluation\nThe model is built below."),
    ("code", "!pip install --quiet nothing\nmodel = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))\n"
             "model.load_state_dict(torch.load('weights.pt'))\nmodel?\n"),
    ("code", "def evaluate(model, loader):\n    for x in loader:\n        out = model(x)\n    return out\n"),
    ("raw", "not code"),
    ("code", "files = !ls\nevaluate(model, [torch.randn(2, 4)])"),
]
# `out = model(x)` is line 3 of cell 4 (cells counted from 1, markdown included); `model` at column 15.
WHERE = (4, 3, 15)


def notebook(cells, as_lists: bool = True, language: str = "python") -> str:
    def source(text):
        return text.splitlines(keepends=True) if as_lists else text

    return json.dumps({
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "k", "display_name": "K", "language": language},
                     "language_info": {"name": language}},
        "cells": [{"cell_type": kind, "metadata": {}, "source": source(text),
                   **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                  for kind, text in cells],
    }, indent=1)


def _locations(result):
    """(path, cell, line, col, code) from ``path:cell N:line:col: CODE ...`` lines."""
    found = []
    for line in result.stdout.splitlines():
        parts = line.split(":", 4)
        if len(parts) == 5 and parts[1].startswith("cell "):
            found.append((parts[0], int(parts[1][5:]), int(parts[2]), int(parts[3]), parts[4].split()[0]))
    return found


def test_cells_are_linted_together_with_ruff_locations(tmp_path):
    write(tmp_path, "analysis.ipynb", notebook(CELLS))
    result = cli("--isolated", "analysis.ipynb", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _locations(result) == [("analysis.ipynb", *WHERE, "GL101"), ("analysis.ipynb", *WHERE, "GL201")]
    assert "E999" not in result.stdout


@pytest.mark.parametrize("as_lists", [True, False])
def test_source_as_text_or_lines(tmp_path, as_lists):
    path = write(tmp_path, "n.ipynb", notebook(CELLS, as_lists=as_lists))
    assert [(f.cell, f.line, f.col, f.code) for f in lint_file(str(path))] == \
        [(*WHERE, "GL101"), (*WHERE, "GL201")]


def test_noqa_inside_a_cell(tmp_path):
    cells = list(CELLS)
    cells[3] = ("code", cells[3][1].replace("out = model(x)", "out = model(x)  # noqa: GL201"))
    write(tmp_path, "n.ipynb", notebook(cells))
    result = cli("--isolated", "n.ipynb", cwd=tmp_path)
    assert [c for *_, c in _locations(result)] == ["GL101"]


def test_malformed_notebook_is_e902_not_a_crash(tmp_path):
    write(tmp_path, "broken.ipynb", '{"cells": [')
    write(tmp_path, "list.ipynb", "[1, 2]")
    result = gradlint("--isolated", "broken.ipynb", "list.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = sorted(result.stdout.splitlines()[:-1])
    assert lines[0].startswith("broken.ipynb:1:1: E902 invalid notebook: not valid JSON")
    assert lines[1].startswith("list.ipynb:1:1: E902 not a Jupyter notebook")
    assert "2 files could not be linted" in result.stdout


def test_syntax_error_is_reported_in_its_cell(tmp_path):
    write(tmp_path, "n.ipynb", notebook([("code", "import torch\n"), ("markdown", "x"),
                                         ("code", "x = 1\ndef f(:\n    pass\n")]))
    result = cli("--isolated", "n.ipynb", cwd=tmp_path)
    assert [(cell, line, code) for _, cell, line, _, code in _locations(result)] == [(3, 2, "E999")]


def test_cell_magics(tmp_path):
    cells = [
        ("code", "%%bash\nfor f in *.py; do echo $f; done\n"),
        ("code", "%%time\nimport torch\nimport torch.nn as nn\n"
                 "model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))\n"
                 "model.load_state_dict(torch.load('weights.pt'))\n"),
        ("code", "%%timeit -n 1\n" + CELLS[3][1]),
        ("code", "for i in range(2):\n    %time evaluate(model, [torch.randn(2, 4)])\n"
                 "    evaluate(model, [torch.randn(2, 4)])\n    !echo done\n"),
    ]
    path = write(tmp_path, "n.ipynb", notebook(cells))
    assert [(f.cell, f.line, f.code) for f in lint_file(str(path))] == [(3, 4, "GL101"), (3, 4, "GL201")]


def test_ipython_lines_keep_numbers_and_leave_python_alone():
    source = ('%load_ext autoreload\n'
              'text = """\n'
              '%not a magic inside a string\n'
              'what?\n'
              '"""\n'
              'x = [1,\n'
              '     2]  # why?\n'
              'model??\n'
              'result = %timeit -o f()\n'
              'if True:\n'
              '  !ls \\\n'
              '  -la\n')
    lines = python_lines(source)
    assert lines == ["pass", 'text = """', "%not a magic inside a string", "what?", '"""',
                     "x = [1,", "     2]  # why?", "pass", "pass", "if True:", "  pass", ""]
    compile("\n".join(lines), "cell", "exec")


def test_non_python_notebook_contributes_no_code():
    data = json.loads(notebook(CELLS, language="R"))
    assert notebook_source(data).text == ""


def test_folders_include_notebooks_but_not_checkpoints(tmp_path):
    write(tmp_path, "nb/analysis.ipynb", notebook(CELLS))
    write(tmp_path, "nb/.ipynb_checkpoints/analysis-checkpoint.ipynb", notebook(CELLS))
    result = cli("--isolated", ".", cwd=tmp_path)
    assert {path for path, *_ in _locations(result)} == {"./nb/analysis.ipynb"}
    assert "(1 file checked)" in result.stdout


def test_json_and_sarif_carry_the_cell(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    write(tmp_path, "n.ipynb", notebook(CELLS))
    document = json.loads(cli("--isolated", "--output-format", "json", "n.ipynb", cwd=tmp_path).stdout)
    assert [(f["cell"], f["line"], f["column"]) for f in document["findings"]] == [WHERE, WHERE]
    log = json.loads(cli("--isolated", "--output-format", "sarif", "n.ipynb", cwd=tmp_path).stdout)
    schema = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    jsonschema.validate(log, schema)
    location = log["runs"][0]["results"][0]["locations"][0]
    assert location["properties"] == {"cell": WHERE[0], "line": WHERE[1], "column": WHERE[2]}
    github = cli("--isolated", "--output-format", "github", "n.ipynb", cwd=tmp_path).stdout
    assert f"::error file=n.ipynb,title=gradlint GL101 (eval-mode-missing)::cell {WHERE[0]}, line {WHERE[1]}" in github
