"""A self-normalising net: `F.alpha_dropout` defaults to `training=False`, so it never drops."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


class SNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 1)

    def forward(self, x):
        x = F.alpha_dropout(F.selu(self.fc1(x)), 0.2, training=self.training)  # expect: GL104
        return self.fc2(x)


model = SNN()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(32, 16), torch.randn(32, 1)
for _ in range(3):
    optimizer.zero_grad()
    F.mse_loss(model(x), y).backward()
    optimizer.step()
