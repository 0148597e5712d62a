"""A leaf made with `requires_grad=True`, then converted: `.double()` returns a computed copy,
and the optimizer refuses it (ValueError: can't optimize a non-leaf Tensor)."""
import torch

torch.manual_seed(0)
x, y = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
w = torch.zeros(3, dtype=torch.float64, requires_grad=True)  # expect: GL402
optimizer = torch.optim.SGD([w], lr=0.1)
for _ in range(3):
    optimizer.zero_grad()
    ((x @ w - y) ** 2).mean().backward()
    optimizer.step()
