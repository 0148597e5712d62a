"""`model.zero_grad()` between `backward()` and the step of an optimizer built from that model."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for step in range(3):
    x, y = torch.randn(12, 6), torch.randn(12, 1)
    loss = (model(x) - y).pow(2).mean()
    loss.backward()  # expect: GL502
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    model.zero_grad()
