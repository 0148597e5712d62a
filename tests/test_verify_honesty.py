"""The verifier measures; it does not echo the linter.

A program that switches to eval mode, or turns gradients off, by a route the static
analysis cannot see is still flagged by the linter, and the verifier must say the
effect did not happen. A good fixture with its `model.eval()` removed must flip.
"""

import pytest

torch = pytest.importorskip("torch")

from conftest import FIXTURES  # noqa: E402
from verify_helpers import line_of, verify_programs  # noqa: E402

from gradlint.verify import CONFIRMED, NOT_REPRODUCED  # noqa: E402

MODEL = """
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Dropout(0.5), nn.Linear(16, 1))
val_batches = [torch.randn(8, 4) for _ in range(2)]


def evaluate(net, batches):
    with torch.no_grad():
        return [net(x).mean().item() for x in batches]

"""

HIDDEN = {
    "GL101/bad_eval_by_getattr.py": MODEL + 'getattr(model, "ev" + "al")()\nprint(evaluate(model, val_batches))\n',
    "GL101/bad_eval_by_unbound_method.py": MODEL + "nn.Module.eval(model)\nprint(evaluate(model, val_batches))\n",
    "GL101/bad_eval_by_methodcaller.py": MODEL + ('import operator\noperator.methodcaller("ev" + "al")(model)\n'
                                                  'print(evaluate(model, val_batches))\n'),
    "GL201/bad_grad_off_by_getattr.py": """
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 2))
test_loader = [torch.randn(4, 16) for _ in range(2)]
net.eval()
getattr(torch, "set_grad_" + "enabled")(False)
for x in test_loader:
    print(net(x).argmax(1))
""",
}


@pytest.fixture(scope="module")
def hidden(tmp_path_factory):
    return verify_programs(tmp_path_factory.mktemp("honesty"), HIDDEN)


@pytest.mark.parametrize("name, needle", [
    ("GL101/bad_eval_by_getattr.py", "net(x)"),
    ("GL101/bad_eval_by_unbound_method.py", "net(x)"),
    ("GL101/bad_eval_by_methodcaller.py", "net(x)"),
    ("GL201/bad_grad_off_by_getattr.py", "net(x)"),
])
def test_hidden_route_is_flagged_but_not_reproduced(hidden, name, needle):
    code = name.split("/")[0]
    line = line_of(HIDDEN[name], needle)
    rows = [r for r in hidden[name] if r.code == code and r.line == line]
    assert rows, f"the linter no longer flags {name}:{line}; the honesty test needs a flagged line"
    assert rows[0].verdict == NOT_REPRODUCED, rows[0].evidence
    assert rows[0].ok


def test_good_fixture_without_eval_flips_to_confirmed(tmp_path):
    source = (FIXTURES / "GL101" / "good_caller_sets_eval.py").read_text(encoding="utf-8")
    assert "model.eval()\n" in source
    lines = [ln for ln in source.splitlines() if ln.strip() != "model.eval()"]
    call = next(i for i, ln in enumerate(lines) if "net(x)" in ln)
    lines[call] += "  # expect: GL101"
    broken = "\n".join(lines) + "\n"
    rows = verify_programs(tmp_path, {"GL101/bad_caller_forgot_eval.py": broken})["GL101/bad_caller_forgot_eval.py"]
    marked = [r for r in rows if r.code == "GL101" and r.line == call + 1]
    assert marked and marked[0].verdict == CONFIRMED, rows
    assert "two forward passes differ" in marked[0].evidence
    assert all(r.ok for r in rows), [(r.line, r.code, r.expected, r.verdict) for r in rows]


def test_the_original_good_fixture_stays_clean(tmp_path):
    source = (FIXTURES / "GL101" / "good_caller_sets_eval.py").read_text(encoding="utf-8")
    rows = verify_programs(tmp_path, {"GL101/good_caller_sets_eval.py": source})["GL101/good_caller_sets_eval.py"]
    assert [r.verdict for r in rows] == ["effect absent"], rows
