"""Each rule's effect predicate on tiny programs: the mistake is confirmed with numbers,
the fixed program at the same line is not reproduced."""

import pytest

torch = pytest.importorskip("torch")

from verify_helpers import verify_programs  # noqa: E402

from gradlint.verify import CONFIRMED, NOT_REPRODUCED  # noqa: E402

HEAD = "import torch\nimport torch.nn as nn\ntorch.manual_seed(0)\n"

PROGRAMS = {
    # GL101: dropout / batch norm active in evaluation
    "GL101/bad_dropout.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 1))
with torch.no_grad():
    out = model(torch.randn(8, 4))  # expect: GL101
""",
    "GL101/bad_batchnorm_only.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Linear(16, 1))
with torch.no_grad():
    out = model(torch.randn(8, 4))  # expect: GL101
""",
    "GL101/bad_fixed.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 1))
model.eval()
with torch.no_grad():
    out = model(torch.randn(8, 4))  # expect: GL101 [no-effect]
""",
    # GL102: bare mode / optimizer attributes
    "GL102/bad_eval.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))
model.eval  # expect: GL102
""",
    "GL102/bad_eval_fixed.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.1))
model.eval()  # expect: GL102 [no-effect]
""",
    "GL102/bad_zero_grad.py": HEAD + """
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(5, 3)
for _ in range(3):
    opt.zero_grad  # expect: GL102
    model(x).sum().backward()
    opt.step()
""",
    "GL102/bad_zero_grad_fixed.py": HEAD + """
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(5, 3)
for _ in range(3):
    opt.zero_grad()  # expect: GL102 [no-effect]
    model(x).sum().backward()
    opt.step()
""",
    "GL102/bad_step.py": HEAD + """
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(2):
    opt.zero_grad()
    model(torch.randn(5, 3)).sum().backward()
    opt.step  # expect: GL102
""",
    "GL102/bad_step_fixed.py": HEAD + """
model = nn.Linear(3, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(2):
    opt.zero_grad()
    model(torch.randn(5, 3)).sum().backward()
    opt.step()  # expect: GL102 [no-effect]
""",
    # GL103: eval mode left on for training
    "GL103/bad_left_in_eval.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model.train()
for epoch in range(2):
    opt.zero_grad()
    model(torch.randn(4, 4)).sum().backward()
    opt.step()
    model.eval()  # expect: GL103
""",
    "GL103/bad_left_in_eval_fixed.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(2):
    model.train()
    opt.zero_grad()
    model(torch.randn(4, 4)).sum().backward()
    opt.step()
    model.eval()  # expect: GL103 [no-effect]
""",
    # GL201: gradient tracking in evaluation
    "GL201/bad_tracking.py": HEAD + """
model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 2)).eval()
preds = model(torch.randn(16, 32))  # expect: GL201
""",
    "GL201/bad_tracking_fixed.py": HEAD + """
model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 2)).eval()
with torch.no_grad():
    preds = model(torch.randn(16, 32))  # expect: GL201 [no-effect]
""",
    # GL202: grad-mode context not entered
    "GL202/bad_bare.py": HEAD + """
model = nn.Linear(8, 8)
torch.no_grad()  # expect: GL202
y = model(torch.randn(2, 8))
""",
    "GL202/bad_class.py": HEAD + """
with torch.no_grad:  # expect: GL202
    pass
""",
    "GL202/bad_bare_fixed.py": HEAD + """
model = nn.Linear(8, 8)
with torch.no_grad():  # expect: GL202 [no-effect]
    y = model(torch.randn(2, 8))
""",
    # GL203: backward of a value computed under no_grad
    "GL203/bad_backward.py": HEAD + """
w = torch.randn(3, requires_grad=True)
with torch.no_grad():
    y = (w * 2).sum()
y.backward()  # expect: GL203
""",
    "GL203/bad_backward_fixed.py": HEAD + """
w = torch.randn(3, requires_grad=True)
y = (w * 2).sum()
y.backward()  # expect: GL203 [no-effect]
""",
    # GL301: frozen parameters in the optimizer
    "GL301/bad_momentum.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # expect: GL301
for step in range(3):
    if step == 1:
        model[0].requires_grad_(False)
    opt.zero_grad(set_to_none=False)
    model(torch.randn(4, 4)).sum().backward()
    opt.step()
""",
    "GL301/bad_plain.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
model[0].requires_grad_(False)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)  # expect: GL301 [no-effect]
for step in range(3):
    opt.zero_grad()
    model(torch.randn(4, 4)).sum().backward()
    opt.step()
""",
    # GL302: a freeze that freezes nothing
    "GL302/bad_module_flag.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
model[0].requires_grad = False  # expect: GL302
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model(torch.randn(2, 4)).sum().backward()
opt.step()
""",
    "GL302/bad_module_flag_fixed.py": HEAD + """
model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
model[0].requires_grad_(False)  # expect: GL302 [no-effect]
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model(torch.randn(2, 4)).sum().backward()
opt.step()
""",
    # GL303: requires_grad set on a non-leaf
    "GL303/bad_non_leaf.py": HEAD + """
w = torch.randn(3, requires_grad=True)
v = w * 2
v.requires_grad = False  # expect: GL303
""",
    "GL303/bad_non_leaf_fixed.py": HEAD + """
w = torch.randn(3, requires_grad=True)
v = (w * 2).detach()
v.requires_grad = True  # expect: GL303 [no-effect]
""",
    # GL401: .grad of a non-leaf
    "GL401/bad_double.py": HEAD + """
w = torch.randn(3, requires_grad=True).double()
w.sum().backward()
print(w.grad)  # expect: GL401
""",
    "GL401/bad_double_fixed.py": HEAD + """
w = torch.randn(3, dtype=torch.float64, requires_grad=True)
w.sum().backward()
print(w.grad)  # expect: GL401 [no-effect]
""",
    # GL501: history kept across iterations
    "GL501/bad_total.py": HEAD + """
model = nn.Linear(4, 1)
total = 0
for _ in range(4):
    loss = model(torch.randn(2, 4)).pow(2).mean()
    total += loss  # expect: GL501
""",
    "GL501/bad_total_fixed.py": HEAD + """
model = nn.Linear(4, 1)
total = 0
for _ in range(4):
    loss = model(torch.randn(2, 4)).pow(2).mean()
    total += loss.item()  # expect: GL501 [no-effect]
""",
}


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return verify_programs(tmp_path_factory.mktemp("effects"), PROGRAMS)


def _row(table, name, code):
    rows = [r for r in table[name] if r.code == code and r.expected != "no effect"]
    assert len(rows) == 1, table[name]
    return rows[0]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_marker_outcome(table, name):
    code = name.split("/")[0]
    row = _row(table, name, code)
    want = NOT_REPRODUCED if "[no-effect]" in PROGRAMS[name] else CONFIRMED
    assert row.verdict == want, row.evidence


@pytest.mark.parametrize("name, words", [
    ("GL101/bad_dropout.py", ["two forward passes differ (max |d|"]),
    ("GL101/bad_batchnorm_only.py", ["BatchNorm running_mean changed", "output differs from eval mode"]),
    ("GL101/bad_fixed.py", ["eval mode"]),
    ("GL102/bad_eval.py", ["`model.training` is still True after `model.eval`"]),
    ("GL102/bad_zero_grad.py", ["gradients not reset", "2x"]),
    ("GL102/bad_step.py", ["weights unchanged", "ran 0 times"]),
    ("GL103/bad_left_in_eval.py", ["ran with `training=False`", "Dropout"]),
    ("GL201/bad_tracking.py", ["saved for backward per call"]),
    ("GL201/bad_tracking_fixed.py", ["gradient tracking was off"]),
    ("GL202/bad_bare.py", ["torch.is_grad_enabled() still True", "saved"]),
    ("GL202/bad_class.py", ["TypeError"]),
    ("GL203/bad_backward.py", ["RuntimeError: element 0 of tensors does not require grad"]),
    ("GL301/bad_momentum.py", ["frozen weight moved by", "momentum=0.9"]),
    ("GL301/bad_plain.py", [".grad is None"]),
    ("GL302/bad_module_flag.py", ["still require grad", "moved by"]),
    ("GL303/bad_non_leaf.py", ["leaf variables"]),
    ("GL401/bad_double.py", ["UserWarning: The .grad attribute of a Tensor that is not a leaf Tensor is being accessed"]),
    ("GL501/bad_total.py", ["grew", "nodes over 4 iterations"]),
    ("GL501/bad_total_fixed.py", ["holds no autograd graph"]),
])
def test_evidence_is_measured(table, name, words):
    row = _row(table, name, name.split("/")[0])
    for word in words:
        assert word in row.evidence, row.evidence


def test_zero_grad_growth_matches_the_single_batch_gradient(table):
    """Without zero_grad the same batch's gradient adds up: after two iterations the
    gradient is twice the single-batch gradient (the measured ratio is 2, then 3)."""
    evidence = _row(table, "GL102/bad_zero_grad.py", "GL102").evidence
    assert "(2x" in evidence or "(2.0x" in evidence, evidence


def test_not_reached_when_the_program_stops_first(tmp_path):
    rows = verify_programs(tmp_path, {"GL201/bad_stops.py": HEAD + """
model = nn.Linear(4, 1).eval()
raise SystemExit(3)
out = model(torch.randn(2, 4))  # expect: GL201
"""})["GL201/bad_stops.py"]
    assert [r.verdict for r in rows if r.code == "GL201"] == ["not reached"]
