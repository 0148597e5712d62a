"""A script that trains, then tests in the same (training) mode."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 32)
        self.dropout = nn.Dropout(0.3)
        self.fc2 = nn.Linear(32, 3)

    def forward(self, x):
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


model = Net()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
train_loader = [(torch.randn(32, 8), torch.randint(0, 3, (32,))) for _ in range(5)]
test_loader = [(torch.randn(32, 8), torch.randint(0, 3, (32,))) for _ in range(2)]

model.train()
for x, y in train_loader:
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()

test_loss = 0.0
model.eval()
with torch.no_grad():
    for x, y in test_loader:
        test_loss += F.cross_entropy(model(x), y).item()  # expect: GL101
print("test loss", test_loss / len(test_loader))
