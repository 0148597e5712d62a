"""`optimizer.zero_grad` without parentheses: gradients pile up across steps."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
x, y = torch.randn(16, 4), torch.randn(16, 1)

for step in range(3):
    optimizer.zero_grad()  # expect: GL102
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    print(step, model.weight.grad.norm().item())
