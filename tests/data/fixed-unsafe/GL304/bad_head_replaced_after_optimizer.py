"""Transfer learning that builds the optimizer first and swaps the classifier afterwards: the
new head gets gradients but the optimizer does not hold it, so it stays at its random init."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(self.features(x))


model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
model.fc = nn.Linear(16, 2)  # expect: GL304
optimizer.add_param_group({"params": model.fc.parameters()})
x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
for epoch in range(3):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    print(epoch, loss.item())
