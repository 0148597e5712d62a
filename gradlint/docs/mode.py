"""Docs of the GL1xx rules: train/eval mode."""

from __future__ import annotations

from . import RuleDoc

DOCS = [
    RuleDoc(
        code="GL101",
        what="""
Finds a model that runs in an inference region (an evaluation, validation, test,
prediction or generation function or loop) while it may still be in training mode: no
`model.eval()` (or `model.train(False)`) reaches the call on every path, the callers of
the enclosing function included. The finding points at the model's first forward call in
the region.
""",
        why="""
In training mode dropout zeroes random activations and batch norm normalises with the
statistics of the current batch and updates its running averages. Evaluated that way,
metrics are noisy and biased, two runs on the same data disagree, and the running
statistics that inference will later rely on are overwritten with evaluation data.
Nothing crashes: the numbers are just wrong.
""",
        example="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))


def evaluate(model, loader):
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct
""",
        use_instead="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))


def evaluate(model, loader):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct
""",
        not_flagged="""
- A caller that already calls `model.eval()` before calling the evaluation function.
- Framework hooks that own the mode: Lightning's `validation_step` / `test_step` /
  `predict_step`, Hugging Face `Trainer`, and test functions.
- Inference on purpose in train mode: an explicit `model.train()` in the region (Monte Carlo
  dropout) or an optimizer step there (test-time training).
- Models known to hold no dropout or batch norm (there `eval()` is good practice, not a fix).
- A model built in the same function and never trained or loaded: a shape smoke test
  (`net = ResNet18(); print(net(torch.randn(1, 3, 32, 32)).shape)`).
- A model's own `generate` / `predict` method running `self(...)`: its caller sets the mode.
- The train/val phase loop that calls `model.train()` or `model.eval()` on every path.
- Functions that build or fetch rather than evaluate (`get_eval_model`, `build_test_loader`).
""",
        verifier="""
Runs the program with forward hooks on every module and, at the flagged call, records
`module.training`; then measures the effect: two forward passes on the same batch give
different outputs (dropout), and batch-norm running statistics change during the
"evaluation".
""",
    ),
    RuleDoc(
        code="GL102",
        what="""
Finds `model.eval`, `model.train`, `optimizer.zero_grad` or `optimizer.step` written as a
statement without the call parentheses.
""",
        why="""
The statement only looks up the bound method and throws it away: the model stays in
training mode, the gradients are not reset, or the weights are not updated. Python raises
no error, so the mistake survives review and silently changes the results.
""",
        example="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))
model.eval
with torch.no_grad():
    predictions = model(torch.randn(4, 16)).argmax(1)
""",
        use_instead="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))
model.eval()
with torch.no_grad():
    predictions = model(torch.randn(4, 16)).argmax(1)
""",
        verifier="""
The statement's missing effect: after it runs, the module's `training` flag is unchanged
(`eval`/`train`), the gradients are not reset (`zero_grad`), or the parameters are
unchanged (`step`).
""",
    ),
    RuleDoc(
        code="GL103",
        what="""
Finds a training loop that switches a model to eval mode, directly (`model.eval()`) or
through a helper it calls (a `validate(model, ...)` that calls `model.eval()`), after
which the loop's next training step runs without `model.train()`. The finding points at
the `.eval()` call in the loop, or at the helper call that leaves the model in eval mode.
""",
        why="""
From the second epoch on, the model trains in eval mode: dropout is off and batch norm
uses frozen running statistics, so regularisation silently disappears and batch-norm
layers stop adapting. The first epoch looks normal, which hides the bug.
""",
        example="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(nn.functional.cross_entropy(model(x), y).item() for x, y in loader)


def train(model, train_loader, val_loader, epochs):
    model.train()
    for epoch in range(epochs):
        for x, y in train_loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, validate(model, val_loader))
""",
        use_instead="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.Dropout(0.2), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(nn.functional.cross_entropy(model(x), y).item() for x, y in loader)


def train(model, train_loader, val_loader, epochs):
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, validate(model, val_loader))
""",
        not_flagged="""
- Loops that call `model.train()` before the next training step (at the top of the
  epoch, at the end of the helper, or on the training path of a train/val phase loop).
- Training in eval mode throughout, on purpose (the model is never in train mode there).
- A model switched to eval right before each of its own uses in the loop (a distillation
  teacher), and calls of a model's parts inside its own methods.
""",
        verifier="""
After the helper (or the `.eval()` call) returns, `model.training is False` at the next
training forward pass, and training forwards become deterministic (dropout is off).
""",
    ),
]
