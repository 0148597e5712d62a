"""The classic: `requires_grad=True` then `.to(device)`. On CUDA `.to()` returns a copy (a
non-leaf) whose `.grad` stays None; on CPU it returns the same leaf and the bug hides."""
import os

import torch

torch.manual_seed(0)
device = os.environ.get("GRADLINT_DEVICE", "cpu")
w = torch.randn(4, device=device, requires_grad=True)
x = torch.randn(8, 4, device=device)
(x @ w).sum().backward()
print("grad:", w.grad)  # expect: GL401 [cuda]
