"""Manual gradient descent that rebinds `w` to a computed tensor: from the second step on,
`w` is a non-leaf and `w.grad` is None, so training silently stops."""
import torch

torch.manual_seed(0)
x, y = torch.randn(20, 3), torch.randn(20)
w = torch.zeros(3, requires_grad=True)
for step in range(3):
    loss = ((x @ w - y) ** 2).mean()
    loss.backward()
    g = w.grad  # expect: GL401
    if g is not None:
        w = (w - 0.1 * g).detach().requires_grad_()
    print(step, loss.item())
