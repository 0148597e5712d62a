"""Gradient accumulation over 4 batches with SGD, the loss never divided: every update is 4x too large."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(8, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
accum_steps = 4
data = [(torch.randn(4, 8), torch.randn(4, 1)) for _ in range(8)]

for i, (x, y) in enumerate(data):
    loss = nn.functional.mse_loss(model(x), y)
    (loss / accum_steps).backward()  # expect: GL503
    if (i + 1) % accum_steps == 0:
        optimizer.step()
        optimizer.zero_grad()
