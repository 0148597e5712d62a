"""A training loop that never clears gradients: each step applies the sum of all gradients so far."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
data = [(torch.randn(16, 8), torch.randn(16, 1)) for _ in range(4)]

for x, y in data:
    loss = nn.functional.mse_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()  # expect: GL502
    optimizer.step()
    print(loss.item())
