"""Autofix: the fixer's contract on small programs, and the --fix / --diff / --unsafe-fixes CLI.

The bad fixtures' fixes are tested in test_autofix_fixtures.py; here: formatting, comments,
encodings and newlines kept, atomic writes that keep the file mode, # noqa, syntax errors,
imports and aliases, conflicts between fixes, and the command line's output and exit status.
"""

from __future__ import annotations

import json
import os
import stat
import textwrap

import pytest
from click.testing import CliRunner

from conftest import EVAL_BARE, MISC, line_of, write
from gradlint.autofix import fix_file, fix_text
from gradlint.cli import main


def fixed(text: str, unsafe: bool = False, path: str = "t.py") -> str:
    return fix_text(textwrap.dedent(text), path, unsafe=unsafe)[0]


def codes(text: str, unsafe: bool = False):
    return sorted(f.code for f in fix_text(textwrap.dedent(text), "t.py", unsafe=unsafe)[1])


def run(*args):
    """The command in-process; ``stdout`` and ``stderr`` apart (click < 8.2 needs mix_stderr=False)."""
    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 always keeps them apart
        runner = CliRunner()
    return runner.invoke(main, ["--isolated", *args])


# -- what the fixes write -------------------------------------------------------------------------
def test_safe_fixes_keep_comments_and_formatting():
    out = fixed(MISC)
    assert "model.eval()\n" in out and "with torch.no_grad():\n" in out
    assert "model.requires_grad_(False)\n" in out
    assert "print(y.grad)" in out  # GL401's fix is unsafe: untouched without --unsafe-fixes
    text = "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval   # keep me\n"
    assert fixed(text) == "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval()   # keep me\n"


def test_unsafe_fix_of_eval_and_no_grad_with_a_function_region():
    out = fixed(EVAL_BARE, unsafe=True)
    assert out == EVAL_BARE.replace(
        "def evaluate(model, loader):\n    for x",
        "@torch.no_grad()\ndef evaluate(model, loader):\n    model.eval()\n    for x")
    assert fixed(out, unsafe=True) == out  # idempotent


def test_eval_and_no_grad_on_the_same_loop_take_two_passes():
    text = """\
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
        model.load_state_dict(torch.load("w.pt"))
        # evaluate
        for x in test_loader:
            print(model(x))
        """
    assert codes(text) == ["GL101", "GL201"]
    out = fixed(text, unsafe=True)
    assert ("# evaluate\nmodel.eval()\nwith torch.no_grad():\n"
            "    for x in test_loader:\n        print(model(x))\n") in out
    assert codes(out, unsafe=True) == []


def test_no_grad_uses_the_files_own_torch_name_or_adds_import_torch():
    body = """\
        model = nn.Linear(4, 4)

        def predict(model, x):
            model.eval()
            return model(x)

        predict(model, 1)
        """
    aliased = fixed("import torch as T\nimport torch.nn as nn\n" + textwrap.dedent(body), unsafe=True)
    assert "@T.no_grad()\ndef predict" in aliased and "import torch\n" not in aliased
    direct = fixed("from torch import no_grad\nimport torch.nn as nn\n" + textwrap.dedent(body), unsafe=True)
    assert "@no_grad()\ndef predict" in direct
    bare = fixed('"""Doc."""\nimport torch.nn as nn\n' + textwrap.dedent(body), unsafe=True)
    assert bare.startswith('"""Doc."""\nimport torch.nn as nn\nimport torch\n')
    assert "@torch.no_grad()\ndef predict" in bare


def test_plain_torch_name_is_preferred_and_missing_torch_is_imported_for_dtype():
    text = ("import torch\nimport torch as T\nimport torch.nn as nn\nm = nn.Linear(2, 2)\n"
            "m.load_state_dict(T.load('w'))\nfor x in test_loader:\n    print(m(x))\n")
    assert "with torch.no_grad():\n" in fixed(text, unsafe=True)
    text = ("from torch import randn\nw = randn(3, requires_grad=True).double()\n"
            "(w * 2).sum().backward()\nprint(w.grad)\n")
    assert fixed(text, unsafe=True) == ("from torch import randn\nimport torch\nw = randn(3, dtype=torch.float64, "
                                        "requires_grad=True)\n(w * 2).sum().backward()\nprint(w.grad)\n")


TRAINING = ("import torch\nimport torch.nn as nn\n\nmodel = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))\n"
            "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n")


def test_train_goes_after_the_evaluation_block_not_before_it():
    text = TRAINING + textwrap.dedent("""\
        for epoch in range(3):
            for x in data:
                opt.zero_grad(); model(x).sum().backward(); opt.step()
            model.eval()
            with torch.no_grad():
                print(model(val))
        """)
    out = fixed(text, unsafe=True)
    assert "for epoch in range(3):\n    model.train()\n    for x in data:" in out
    assert codes(out) == []


def test_restore_in_try_finally_when_the_evaluation_returns_early():
    text = TRAINING + textwrap.dedent("""\
        def validate(model, loader):
            for x in loader:
                if x is None:
                    return 0
                out = model(x)
            return out

        for epoch in range(3):
            for x in data:
                opt.zero_grad()
                model(x).sum().backward()
                opt.step()
            validate(model, data)
        """)
    out = fixed(text, unsafe=True)
    assert ("    was_training = model.training\n    model.eval()\n    try:\n        for x in loader:\n"
            in out)
    assert "        return out\n    finally:\n        model.train(was_training)\n" in out
    # the loop needs no model.train(): the helper restores the mode on every way out
    assert "    model.train()\n" not in out and codes(out) == []


def test_crlf_newlines_and_tab_indentation_are_kept():
    text = "import torch\n\nx = 1\nif x:\n\ttorch.no_grad()\n\ty = x\n\tprint(y)\n"
    out = fix_text(text.replace("\n", "\r\n"), "t.py", unsafe=True)[0]
    assert out == "import torch\r\n\r\nx = 1\r\nif x:\r\n\twith torch.no_grad():\r\n\t\ty = x\r\n\t\tprint(y)\r\n"


def test_noqa_silenced_finding_is_not_fixed_and_its_line_not_rewritten():
    text = "import torch\nimport torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval  # noqa: GL102\n"
    assert fixed(text) == text
    loop = """\
        import torch
        import torch.nn as nn

        model = nn.Linear(4, 2)
        model.eval()
        total = 0
        for x, y in val_loader:
            out = model(x)
            total += nn.functional.mse_loss(out, y)  # noqa: GL501
        print(total.item())
        """
    text, remaining, _ = fix_text(textwrap.dedent(loop), "t.py", unsafe=True)
    assert text == textwrap.dedent(loop)  # wrapping the loop would rewrite the silenced line
    [gl201] = remaining
    assert gl201.code == "GL201" and gl201.fix.applicability == "unavailable"


def test_not_fixable_places_say_why():
    text = """\
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        model(torch.randn(2, 8)).sum().backward()
        optimizer.step()
        for p in model[0].parameters():
            p.requires_grad = False
        """
    _, [finding], _ = fix_text(textwrap.dedent(text), "t.py", unsafe=True)
    assert finding.code == "GL301" and finding.fix.applicability == "unavailable"
    assert "frozen after the optimizer is built" in finding.fix.description
    bare = "import torch\ntorch.no_grad()\ndef f():\n    pass\n"
    _, [finding], _ = fix_text(bare, "t.py", unsafe=True)
    assert finding.code == "GL202" and "definition" in finding.fix.description


def test_optimizer_param_groups_and_list_are_filtered():
    text = """\
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
        model(torch.randn(2, 8)).sum().backward()  # a warm-up step: the frozen layer keeps its .grad
        model[0].requires_grad_(False)
        opt = torch.optim.SGD([{"params": model.parameters(), "lr": 0.1}], lr=0.01)
        opt2 = torch.optim.Adam(list(model.parameters()))
        """
    out = fixed(text)
    assert '[{"params": (p for p in model.parameters() if p.requires_grad), "lr": 0.1}]' in out
    assert "torch.optim.Adam([p for p in model.parameters() if p.requires_grad])" in out


@pytest.mark.parametrize("uses, method", [
    ("print(f'{total:.2f}')", "item"),
    ("print(total / 4, float(total) > 1)", "item"),
    ("print(total.item())", "detach"),
    ("result = total", "detach"),
])
def test_accumulator_gets_item_only_when_used_as_a_number(uses, method):
    text = f"""\
        import torch
        import torch.nn as nn

        model = nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        total = 0
        for x, y in batches:
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            total += loss
        {uses}
        """
    assert f"total += loss.{method}()\n" in fixed(text)


def test_cuda_copy_moves_into_the_factory():
    text = "import torch\nw = torch.randn(4, requires_grad=True).cuda()\n(w * 2).sum().backward()\nprint(w.grad)\n"
    assert 'w = torch.randn(4, device="cuda", requires_grad=True)\n' in fixed(text, unsafe=True)


# -- files: what is written, and what never is ----------------------------------------------------
def test_write_is_atomic_and_keeps_mode_encoding_and_bom(tmp_path):
    text = "# -*- coding: latin-1 -*-\nimport torch.nn as nn\nm = nn.Linear(2, 2)  # café\nm.eval\n"
    path = tmp_path / "latin.py"
    path.write_bytes(text.encode("latin-1"))
    os.chmod(path, 0o751)
    before = os.stat(path).st_ino
    result = fix_file(str(path))
    assert result.fixed == 1 and result.changed
    assert path.read_bytes() == text.replace("m.eval\n", "m.eval()\n").encode("latin-1")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o751
    assert os.stat(path).st_ino != before  # replaced, not rewritten in place
    assert [p.name for p in tmp_path.iterdir()] == ["latin.py"]  # no temporary file left
    bom = tmp_path / "bom.py"
    bom.write_bytes(b"\xef\xbb\xbfimport torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval\n")
    fix_file(str(bom))
    assert bom.read_bytes() == b"\xef\xbb\xbfimport torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval()\n"


def test_symlink_keeps_pointing_at_the_fixed_file(tmp_path):
    real = write(tmp_path, "real.py", "import torch.nn as nn\nm = nn.Linear(2, 2)\nm.eval\n")
    link = tmp_path / "link.py"
    link.symlink_to(real)
    fix_file(str(link))
    assert link.is_symlink() and real.read_text().endswith("m.eval()\n")


def test_files_that_do_not_parse_or_decode_are_never_written(tmp_path):
    broken = write(tmp_path, "broken.py", "import torch\nmodel.eval\ndef f(:\n")
    undecodable = tmp_path / "bad.py"
    undecodable.write_bytes(b"import torch\nx = '\xff'\nmodel.eval\n")
    assert [f.code for f in fix_file(str(broken)).findings] == ["E999"]
    assert [f.code for f in fix_file(str(undecodable)).findings] == ["E902"]
    assert broken.read_text() == "import torch\nmodel.eval\ndef f(:\n"
    assert undecodable.read_bytes() == b"import torch\nx = '\xff'\nmodel.eval\n"


def test_notebooks_are_rewritten_in_their_cells(tmp_path):
    """More in test_notebook_fix.py."""
    cell = {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
            "source": ["import torch.nn as nn\n", "m = nn.Linear(2, 2)\n", "m.eval\n"]}
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = write(tmp_path, "n.ipynb", json.dumps(nb))
    result = fix_file(str(path))
    assert result.findings == [] and result.fixed == 1 and result.changed
    assert json.loads(path.read_text())["cells"][0]["source"][-1] == "m.eval()\n"


# -- the command line ------------------------------------------------------------------------------
def test_fix_rewrites_and_reports_what_remains(tmp_path):
    path = write(tmp_path, "misc.py", MISC)
    result = run("--fix", str(path))
    lines = result.stdout.splitlines()
    assert result.exit_code == 1  # GL401 remains: its fix is unsafe
    assert [line.split()[1] for line in lines[:-2]] == ["GL401"]
    assert lines[-2] == "Fixed 3 problems in 1 file, 1 remaining (1 file checked)."
    assert lines[-1] == "Of those remaining, 1 fixable with `--unsafe-fixes`."
    assert line_of(path.read_text(), "print(y.grad)")  # the remaining finding's line is still there
    result = run("--fix", "--unsafe-fixes", str(path))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "Fixed 1 problem in 1 file, 0 remaining (1 file checked)."
    again = run("--fix", "--unsafe-fixes", str(path))
    assert again.exit_code == 0 and again.stdout.strip() == "No problems found (1 file checked)."


def test_diff_prints_a_patch_and_changes_nothing(tmp_path):
    path = write(tmp_path, "misc.py", MISC)
    result = run("--diff", str(path))
    assert result.exit_code == 1
    assert path.read_text() == MISC
    assert result.stdout.startswith(f"--- {path}\n+++ {path}\n")
    assert "\n-model.eval\n" in result.stdout and "\n+model.eval()\n" in result.stdout
    assert "Would fix 3 problems in 1 file, 1 remaining (1 file checked)." in result.stderr
    assert "Would fix" not in result.stdout
    clean = write(tmp_path, "clean.py", "import torch\nprint(torch.ones(1))\n")
    assert run("--diff", str(clean)).exit_code == 0


def test_unsafe_fixes_alone_offers_the_unsafe_fixes_too(tmp_path):
    """As ruff: `--unsafe-fixes` without `--fix` shows unsafe fixes as available, changing nothing."""
    path = write(tmp_path, "misc.py", MISC)
    before = path.read_text()
    result = run("--unsafe-fixes", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "[*] 4 fixable with `gradlint --fix --unsafe-fixes`."
    assert path.read_text() == before
    result = run("--unsafe-fixes", "--output-format", "full", str(path))
    assert result.stdout.count("[*]") == 5  # every finding is marked, and the hint


def test_json_reports_fixes(tmp_path):
    path = write(tmp_path, "misc.py", MISC)
    document = json.loads(run("--output-format", "json", str(path)).stdout)
    fixes = {f["code"]: f["fix"] for f in document["findings"]}
    assert fixes["GL102"] == {"applicability": "safe", "message": "call `model.eval()`"}
    assert fixes["GL401"]["applicability"] == "unsafe"
    assert "fixed" not in document["summary"]
    document = json.loads(run("--fix", "--output-format", "json", str(path)).stdout)
    assert document["summary"]["fixed"] == 3 and [f["code"] for f in document["findings"]] == ["GL401"]
