"""Two `if` statements that look like one choice but are not: `verbose` decides the second.

With `train=False, verbose=True` neither branch sets eval, and the model evaluates in the
training mode its training loop left it in.
"""
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
loader = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(2)]
for x, y in loader:
    optimizer.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    optimizer.step()


def test(model, train, verbose):
    model.eval()
    if train:
        model.train()
    if not verbose:
        model.eval()
    with torch.no_grad():
        for x, y in loader:
            print((model(x).argmax(1) == y).float().mean().item())  # expect: GL101


test(net, train=False, verbose=True)
