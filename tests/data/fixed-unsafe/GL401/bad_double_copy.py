"""`.double()` copies the leaf: backward fills the original's grad, the copy's stays None."""
import torch

torch.manual_seed(0)
w = torch.randn(3, dtype=torch.float64, requires_grad=True)
x = torch.randn(5, 3, dtype=torch.float64)
loss = (x @ w).pow(2).mean()
loss.backward()
print("grad:", w.grad)  # expect: GL401
