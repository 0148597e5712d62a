"""Docs of the GL4xx rules: `.grad` and leaf tensors."""

from __future__ import annotations

from . import RuleDoc

DOCS = [
    RuleDoc(
        code="GL401",
        what="""
Finds `.grad` read on a tensor that is not a leaf: the result of an operation, of
`.to()` / `.cuda()` / `.double()`, of indexing or of a module call on a tensor that
requires grad, or a name rebound to such a value in a loop (`w = w - lr * w.grad`).
Tensors that called `.retain_grad()` are left alone.
""",
        why="""
Autograd fills `.grad` only on leaf tensors. On a non-leaf, `.grad` is `None` (torch
warns once), so an update such as `w - lr * w.grad` fails or, worse, the gradient you
meant to inspect is silently missing. The classic case is
`torch.randn(..., requires_grad=True).to(device)`: on CUDA the result is a non-leaf copy
and the real leaf is unreachable. On CPU `.to("cpu")` returns the same leaf, so that shape
is reported as CUDA-only.
""",
        example="""
import torch

w = torch.randn(16, 2, requires_grad=True).double()
loss = (torch.randn(8, 16).double() @ w).pow(2).mean()
loss.backward()
print(w.grad)
""",
        use_instead="""
import torch

w = torch.randn(16, 2, dtype=torch.float64, requires_grad=True)
loss = (torch.randn(8, 16).double() @ w).pow(2).mean()
loss.backward()
print(w.grad)
""",
        verifier="""
torch's `UserWarning` ("The .grad attribute of a Tensor that is not a leaf Tensor is
being accessed") at the flagged line, and `.grad is None` there.
""",
    ),
]
