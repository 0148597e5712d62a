"""`zero_grad()` between `backward()` and `step()`: every step applies a zero gradient."""
import torch
import torch.nn as nn

torch.manual_seed(0)


def train(model, optimizer, batches):
    for x, y in batches:
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()  # expect: GL502
        optimizer.step()
        optimizer.zero_grad()


net = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
train(net, opt, [(torch.randn(8, 10), torch.randint(0, 3, (8,))) for _ in range(3)])
