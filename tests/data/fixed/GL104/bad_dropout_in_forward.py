"""The classic MNIST net: `F.dropout` in `forward` without `training=` keeps dropping at test time."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = F.dropout(x, p=0.5, training=self.training)  # expect: GL104
        return self.fc2(x)


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(32, 16), torch.randint(0, 4, (32,))
for _ in range(3):
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()

model.eval()
with torch.no_grad():
    first = model(x)
    second = model(x)
print("max difference between two evaluations:", (first - second).abs().max().item())
