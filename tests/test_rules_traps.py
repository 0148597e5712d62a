"""Traps of GL104, GL105, GL204, GL502, GL503, GL901 and GL902 that the fixtures do not spell out: each
case is a small program; the rule must report exactly the lines that end with `# flag`."""

import textwrap

import pytest

from gradlint.engine import lint_source
from gradlint.selection import Selection

HEAD = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"

CASES = {
    "GL104": [
        # the mode passed through **kwargs, torch.dropout's required `train`, a helper that no module
        # calls; a staticmethod that forward calls is a helper of the module (and has no `self` to fix with)
        ("""
class Net(nn.Module):
    def forward(self, x, **kw):
        x = F.dropout(x, **kw)
        x = torch.dropout(x, 0.5, self.training)
        return self.noise(x)

    @staticmethod
    def noise(x):
        return F.dropout(x, 0.1)  # flag


def augment(x):
    return F.dropout(x, 0.2)
"""),
        # a function nested in forward, and a subclass of nn.Dropout that forgets the mode
        ("""
class Block(nn.Module):
    def forward(self, x):
        def drop(y):
            return F.dropout(y, 0.1)  # flag
        return drop(x)


class MyDropout(nn.Dropout):
    def forward(self, x):
        return F.dropout(x, self.p)  # flag


class MCDropout(nn.Module):
    def forward(self, x):
        return F.dropout(x, 0.2)
"""),
    ],
    "GL902": [
        # log of a softmax into nll_loss (log-probabilities), log_softmax into cross_entropy
        ("""
logits = nn.Linear(4, 3)(torch.randn(2, 4))
y = torch.tensor([0, 2])
a = F.nll_loss(torch.log(F.softmax(logits, dim=1)), y)
b = F.cross_entropy(F.log_softmax(logits, dim=1), y)
"""),
        # a tensor method and an nn.Softmax module, inline
        ("""
logits = nn.Linear(4, 3)(torch.randn(2, 4))
y = torch.tensor([0, 2])
a = F.cross_entropy(logits.softmax(1), y)  # flag
b = nn.CrossEntropyLoss()(nn.Softmax(dim=1)(logits), y)  # flag
"""),
        # forward returns a softmax only on some paths (a conditional expression, a conditional
        # reassignment), or always (its last assignment)
        ("""
class Maybe(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return F.softmax(self.fc(x), 1) if not self.training else self.fc(x)


class Later(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = F.softmax(self.fc(x), 1)
        if self.training:
            x = torch.log(x)
        return x


class Always(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = self.fc(x)
        x = F.softmax(x, dim=1)
        return x


y = torch.tensor([0, 2])
a = F.cross_entropy(Maybe()(torch.randn(2, 4)), y)
b = F.cross_entropy(Later()(torch.randn(2, 4)), y)
c = F.cross_entropy(Always()(torch.randn(2, 4)), y)  # flag
"""),
    ],
    "GL502": [
        # LBFGS: zero_grad before a step with a closure; a reset by an imported helper; the optimizer
        # handed to an opaque call; an optimizer built in each iteration
        ("""
from utils import reset_grads
import helpers
model = nn.Linear(3, 1)
opt = torch.optim.LBFGS(model.parameters())
sgd = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(4, 3)
for _ in range(3):
    model(x).sum().backward()
    opt.zero_grad()
    opt.step(lambda: model(x).sum())
for _ in range(3):
    model(x).sum().backward()
    sgd.step()
    reset_grads(model)
for _ in range(3):
    model(x).sum().backward()
    sgd.step()
    helpers.after_step(sgd)
for _ in range(3):
    fresh = torch.optim.SGD(model.parameters(), lr=0.1)
    model(x).sum().backward()
    fresh.step()
"""),
        # AMP's scaler.step(optimizer), and a framework's backward, never cleared
        ("""
model = nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cpu", enabled=False)
for _ in range(3):
    scaler.scale(model(torch.randn(4, 3)).sum()).backward()  # flag
    scaler.step(optimizer)
    scaler.update()


def fit(accelerator, model, optimizer, loader):
    for x in loader:
        accelerator.backward(model(x).sum())  # flag
        optimizer.step()
"""),
    ],
    "GL503": [
        # accelerate's backward divides by itself; a helper computes the loss; `% 1`; a weighted sum
        ("""
def fit(accelerator, model, optimizer, loader, compute_loss, alpha):
    for i, x in enumerate(loader):
        accelerator.backward(model(x).sum())
        if (i + 1) % 4 == 0:
            optimizer.step()
    for i, x in enumerate(loader):
        compute_loss(model, x).backward()
        if (i + 1) % 4 == 0:
            optimizer.step()
    for i, x in enumerate(loader):
        model(x).sum().backward()
        if (i + 1) % 1 == 0:
            optimizer.step()
    for i, x in enumerate(loader):
        loss = model(x).sum() * alpha + model(x).mean() * (1 - alpha)
        loss.backward()
        if i % 4 == 0:
            optimizer.step()
"""),
        # a Hugging Face style `outputs.loss`, under AMP
        ("""
def fit(model, optimizer, scaler, loader, steps):
    for i, batch in enumerate(loader):
        outputs = model(**batch)
        scaler.scale(outputs.loss).backward()  # flag
        if (i + 1) % steps == 0:
            scaler.step(optimizer)
            optimizer.zero_grad()
"""),
    ],
    "GL204": [
        # an addition saves nothing; a use under no_grad; a clone
        ("""
w = torch.zeros(3, requires_grad=True)
head = nn.Linear(3, 1)
with torch.inference_mode():
    t = torch.randn(2, 3)
a = t + w
with torch.no_grad():
    b = head(t)
c = head(t.clone())
"""),
    ],
    "GL105": [
        # a model only evaluated after the freeze; a frozen part whose class keeps it in eval mode
        ("""
model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
model.requires_grad_(False)
model.eval()
with torch.no_grad():
    print(model(torch.randn(8, 4)))
"""),
    ],
    "GL901": [
        # super().forward, self.forward, and a wrapper's .module (DDP)
        ("""
class Scaled(nn.Linear):
    def forward(self, x):
        return 2 * super().forward(x)

    def predict(self, x):
        return self.forward(x).argmax(1)


model = nn.parallel.DistributedDataParallel(nn.Linear(2, 2))
out = model.module.forward(torch.randn(1, 2))  # flag
"""),
    ],
}


PARAMS = [pytest.param(code, source, id=f"{code}-{i}")
          for code, cases in sorted(CASES.items()) for i, source in enumerate(cases)]


@pytest.mark.parametrize("code, source", PARAMS)
def test_rule_reports_exactly(code, source):
    text = HEAD + textwrap.dedent(source).lstrip()
    wanted = [n for n, line in enumerate(text.splitlines(), start=1) if line.endswith("# flag")]
    findings = lint_source(text, "train.py", Selection(select=[code]))
    assert sorted(f.line for f in findings) == wanted, [f"{f.line}: {f.message}" for f in findings]


def test_gl901_is_quiet_in_test_files():
    text = HEAD + ("model = nn.Linear(2, 2)\nmodel.register_forward_hook(print)\n"
                   "out = model.forward(torch.randn(1, 2))\n")
    assert [f.code for f in lint_source(text, "train.py", Selection(select=["GL901"]))] == ["GL901"]
    assert lint_source(text, "tests/test_model.py", Selection(select=["GL901"])) == []
