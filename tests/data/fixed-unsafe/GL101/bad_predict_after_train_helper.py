"""`train()` leaves the model in training mode; `predict()` trusts it is not."""
import torch
import torch.nn as nn

torch.manual_seed(0)


def build():
    return nn.Sequential(nn.Linear(6, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 2))


def train(model, batches, optimizer):
    model.train()
    for x, y in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


@torch.no_grad()
def predict(model, x):
    model.eval()
    return model(x).argmax(dim=1)  # expect: GL101


net = build()
batches = [(torch.randn(8, 6), torch.randint(0, 2, (8,))) for _ in range(3)]
train(net, batches, torch.optim.SGD(net.parameters(), lr=0.05))
print(predict(net, torch.randn(8, 6)))
