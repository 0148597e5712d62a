"""`nn.Parameter(...).to(device)` stored on a module: on CUDA the copy is a plain tensor, not
registered, never trained; on CPU `.to("cpu")` returns the Parameter itself."""
import os

import torch
import torch.nn as nn

torch.manual_seed(0)
device = os.environ.get("GRADLINT_DEVICE", "cpu")


class PositionalBias(nn.Module):
    def __init__(self, n, device):
        super().__init__()
        self.proj = nn.Linear(n, n)
        self.bias = nn.Parameter(torch.zeros(n).to(device))  # expect: GL402 [cuda]

    def forward(self, x):
        return self.proj(x) + self.bias


model = PositionalBias(4, device).to(device)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(3):
    optimizer.zero_grad()
    model(torch.randn(8, 4, device=device)).sum().backward()
    optimizer.step()
