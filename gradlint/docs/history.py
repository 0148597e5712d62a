"""Docs of the GL5xx rules: graph lifetime."""

from __future__ import annotations

from . import RuleDoc

DOCS = [
    RuleDoc(
        code="GL501",
        what="""
Finds a tensor that carries autograd history (a loss, a model output) folded into
something that outlives the loop iteration: `total += loss`, `losses.append(loss)`, a
metrics dict, an attribute, without `.item()`, `.detach()` or `float()`.
""",
        why="""
Each accumulated value keeps a reference to its iteration's whole autograd graph, with
the activations saved for backward. Memory grows with every iteration until the loop
ends or the process runs out of memory (the PyTorch FAQ's first "my model reports out of
memory" case), and the accumulator is a graph rather than a number.
""",
        example="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train_epoch(loader):
    total_loss = 0.0
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss
    return total_loss / len(loader)
""",
        use_instead="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train_epoch(loader):
    total_loss = 0.0
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item()
    return total_loss / len(loader)
""",
        not_flagged="""
- Gradient accumulation on purpose: a sum of losses that is later backpropagated.
- Values that are detached, converted with `.item()` / `float()`, or computed under
  `torch.no_grad()`, and indices (`argmax`, the indices of `max`/`topk`).
- Loops inside one step: skip connections, feature pyramids or per-layer loss terms
  collected in a model's `forward` or a loss function. Only loops over steps count:
  training loops (backward or an optimizer step inside) and loops over data.
""",
        verifier="""
The number of autograd nodes reachable from the accumulator (or the memory it holds)
grows linearly with the iterations; it stays flat in the fixed code.
""",
    ),
]
