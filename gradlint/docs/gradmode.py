"""Docs of the GL2xx rules: gradient tracking."""

from __future__ import annotations

from . import RuleDoc

DOCS = [
    RuleDoc(
        code="GL201",
        what="""
Finds a model run in an inference region (evaluation, validation, test, prediction) with
gradient tracking on: the call is not under `torch.no_grad()`, `torch.inference_mode()`
or `torch.set_grad_enabled(False)` (as a context manager, a decorator, or in every
caller), and nothing in the region uses gradients (`backward`, `torch.autograd.grad`,
`.grad`, `requires_grad_`).
""",
        why="""
With gradients on, autograd records the graph of every forward pass and keeps the
activations a backward pass would need, for a backward pass that never comes. Inference
then uses several times the memory (often the difference between fitting a batch on the
GPU or not) and runs slower. Results are unchanged, which is why this goes unnoticed.
""",
        example="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))


def predict(model, loader):
    model.eval()
    return [model(x).argmax(1) for x in loader]
""",
        use_instead="""
import torch
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))


@torch.no_grad()
def predict(model, loader):
    model.eval()
    return [model(x).argmax(1) for x in loader]
""",
        not_flagged="""
- Gradient-based inference: saliency maps, adversarial attacks, influence functions and
  test-time training use gradients in the region on purpose.
- Regions reached only from callers that already disable gradients, in either decorator
  spelling (`@torch.no_grad()` / `@torch.no_grad`) and through aliases
  (`import torch as T`, `from torch import no_grad`, `torch.autograd.no_grad`), or a
  project decorator named for it (`@smart_inference_mode()`).
- A model handed to an opaque function in the region (an attack or attribution library may
  need its gradients), and `model.generate(...)` (Hugging Face decorates it with no_grad).
- A model built in the same function and never trained or loaded: a shape smoke test.
""",
        verifier="""
At the flagged call the outputs have `requires_grad=True`, and the bytes saved for
backward (measured with `torch.autograd.graph.saved_tensors_hooks`) are greater than 0,
against 0 in the fixed code; on CUDA the peak memory is higher.
""",
    ),
    RuleDoc(
        code="GL202",
        what="""
Finds `with torch.no_grad:` (the class, not an instance) and `torch.no_grad()` or
`torch.inference_mode()` written as a bare statement.
""",
        why="""
`with torch.no_grad:` raises `TypeError` (the class itself is not a context manager;
its instances are). A bare `torch.no_grad()` statement creates a context manager and drops it
without entering it: gradient tracking stays on for the code that follows, with all the
memory cost that `no_grad` was meant to save.
""",
        example="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
model.eval()
with torch.no_grad:
    predictions = model(torch.randn(4, 16)).argmax(1)
""",
        use_instead="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
model.eval()
with torch.no_grad():
    predictions = model(torch.randn(4, 16)).argmax(1)
""",
        verifier="""
The `TypeError` torch raises at the `with` statement, or, for a bare statement,
`torch.is_grad_enabled()` still True on the next line.
""",
    ),
    RuleDoc(
        code="GL203",
        what="""
Finds `.backward()` (or `torch.autograd.grad`) called on a value that was computed under
`torch.no_grad()` or `torch.inference_mode()`.
""",
        why="""
A value computed without gradient tracking has no `grad_fn`: there is no graph to
differentiate, and `backward()` raises
`RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn`.
It usually means a loss was computed inside an evaluation block and reused for training.
""",
        example="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
x, y = torch.randn(8, 16), torch.randint(0, 2, (8,))
with torch.no_grad():
    loss = nn.functional.cross_entropy(model(x), y)
loss.backward()
""",
        use_instead="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
x, y = torch.randn(8, 16), torch.randint(0, 2, (8,))
loss = nn.functional.cross_entropy(model(x), y)
loss.backward()
""",
        verifier="""
The `RuntimeError` torch raises at the flagged `backward()` call.
""",
    ),
]
