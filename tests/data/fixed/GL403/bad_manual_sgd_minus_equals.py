"""Manual gradient descent written as an in-place update with gradients on: the first step
raises RuntimeError (a leaf that requires grad cannot be written in place while autograd
records)."""
import torch

torch.manual_seed(0)
x, y = torch.randn(20, 3), torch.randn(20)
w = torch.zeros(3, requires_grad=True)
lr = 0.1
for step in range(3):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad  # expect: GL403
    w.grad.zero_()
    print(step, loss.item())
