"""The weight rules' effects (GL304, GL305, GL402, GL403, GL404) on tiny programs: confirmed with
numbers where the harm happens, not reproduced where the same line is harmless, and the
whole-run scans find the harm in a program that no marker names."""

import pytest

torch = pytest.importorskip("torch")

from verify_helpers import verify_programs  # noqa: E402

from gradlint.verify import CONFIRMED, EFFECT_ABSENT, NOT_REPRODUCED  # noqa: E402

HEAD = "import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"
TRAIN = """
for _ in range(3):
    opt.zero_grad()
    model(torch.randn(4, 4)).sum().backward()
    opt.step()
"""

PROGRAMS = {
    "GL304/bad_new_head.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model[1] = nn.Linear(4, 3)  # expect: GL304
""" + TRAIN,
    "GL304/bad_new_head_added.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model[1] = nn.Linear(4, 3)  # expect: GL304 [no-effect]
opt.add_param_group({"params": model[1].parameters()})
""" + TRAIN,
    "GL305/bad_unfrozen.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
model[0].requires_grad_(False)
opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
model[0].requires_grad_(True)  # expect: GL305
""" + TRAIN,
    "GL305/bad_unfrozen_added.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
model[0].requires_grad_(False)
opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
model[0].requires_grad_(True)  # expect: GL305 [no-effect]
opt.add_param_group({"params": model[0].parameters()})
""" + TRAIN,
    "GL402/bad_same_leaf.py": HEAD + """
w = torch.randn(3, requires_grad=True).float()  # expect: GL402 [no-effect]
opt = torch.optim.SGD([w], lr=0.1)
""",
    "GL402/bad_parameter_on_cpu.py": HEAD + """
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3)).to("cpu")  # expect: GL402 [no-effect]
M()
""",
    "GL403/bad_update.py": HEAD + """
w = torch.zeros(3, requires_grad=True)
(w * 2).sum().backward()
w -= 0.1 * w.grad  # expect: GL403
""",
    "GL403/bad_update_fixed.py": HEAD + """
w = torch.zeros(3, requires_grad=True)
(w * 2).sum().backward()
with torch.no_grad():
    w -= 0.1 * w.grad  # expect: GL403 [no-effect]
""",
    "GL404/bad_cut.py": HEAD + """
enc, head = nn.Linear(4, 4), nn.Linear(4, 1)
f = torch.tensor(enc(torch.randn(2, 4)))  # expect: GL404
head(f).sum().backward()
""",
    "GL404/bad_cut_other_path.py": HEAD + """
enc, head = nn.Linear(4, 4), nn.Linear(4, 1)
out = enc(torch.randn(2, 4))
f = torch.tensor(out)  # expect: GL404 [no-effect]
(head(f).sum() + out.sum()).backward()
""",
    "GL404/bad_cut_no_backward.py": HEAD + """
enc = nn.Linear(4, 4)
f = torch.tensor(enc(torch.randn(2, 4)))  # expect: GL404 [no-effect]
""",
    # a good program with the harm, no marker: the scans must report it
    "GL304/good_but_orphaned.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
opt = torch.optim.SGD(model[0].parameters(), lr=0.1)
""" + TRAIN,
    "GL404/good_but_cut.py": HEAD + """
enc, head = nn.Linear(4, 4), nn.Linear(4, 1)
f = torch.tensor(enc(torch.randn(2, 4)).tolist())
g = torch.tensor(enc(torch.randn(2, 4)), requires_grad=False)
head(g).sum().backward()
""",
}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return verify_programs(tmp_path_factory.mktemp("weights"), PROGRAMS)


def _row(table, name, code):
    rows = [r for r in table[name] if r.code == code and r.line is not None and r.expected != "no effect"]
    assert len(rows) == 1, table[name]
    return rows[0]


@pytest.mark.parametrize("name", sorted(n for n in PROGRAMS if "/bad_" in n))
def test_marker_outcome(table, name):
    row = _row(table, name, name.split("/")[0])
    want = NOT_REPRODUCED if "[no-effect]" in PROGRAMS[name] else CONFIRMED
    assert row.verdict == want, row.evidence


@pytest.mark.parametrize("name, words", [
    ("GL304/bad_new_head.py", ["2 parameters created at the line", "no optimizer holds them", "max |dW| 0"]),
    ("GL304/bad_new_head_added.py", ["an optimizer holds 2 of them"]),
    ("GL305/bad_unfrozen.py", ["2 parameters unfrozen at the line", "no optimizer holds them"]),
    ("GL305/bad_unfrozen_added.py", ["an optimizer holds 2 of them"]),
    ("GL402/bad_same_leaf.py", ["is a leaf on cpu"]),
    ("GL402/bad_parameter_on_cpu.py", ["registered nn.Parameter"]),
    ("GL403/bad_update.py", ["RuntimeError: a leaf Variable that requires grad"]),
    ("GL404/bad_cut.py", ["the copy cut 2 upstream tensors", "0 gradients reached them"]),
    ("GL404/bad_cut_other_path.py", ["through another path"]),
    ("GL404/bad_cut_no_backward.py", ["no backward ran after it"]),
])
def test_evidence_is_measured(table, name, words):
    row = _row(table, name, name.split("/")[0])
    for word in words:
        assert word in row.evidence, row.evidence


def _scanned(table, name, code):
    return [r for r in table[name] if r.code == code and r.evidence.startswith("[effect in a good fixture]")]


def test_scans_find_the_harm_where_no_marker_is(table):
    orphaned = _scanned(table, "GL304/good_but_orphaned.py", "GL304")
    assert [(r.line, r.verdict, r.ok) for r in orphaned] == [(5, CONFIRMED, False)]
    assert "no optimizer holds them" in orphaned[0].evidence
    cut = _scanned(table, "GL404/good_but_cut.py", "GL404")
    # the graph copy, not the copy of a list of numbers
    assert [(r.line, r.verdict, r.ok) for r in cut] == [(7, CONFIRMED, False)]


def test_good_programs_without_the_harm_show_it_absent(table):
    rows = [r for r in table["GL403/bad_update_fixed.py"] if r.code == "GL403"]
    assert all(r.verdict in (NOT_REPRODUCED, EFFECT_ABSENT) for r in rows)
