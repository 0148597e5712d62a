"""Evaluation every few steps inside the step loop, without switching back to train mode."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
x_val, y_val = torch.randn(32, 8), torch.randn(32, 1)

model.train()
for step in range(6):
    if step % 2 == 0:
        model.eval()  # expect: GL103
        with torch.no_grad():
            print(step, nn.functional.mse_loss(model(x_val), y_val).item())
    x, y = torch.randn(16, 8), torch.randn(16, 1)
    model.train()
    optimizer.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    optimizer.step()
