"""An evaluation helper without no_grad that returns a sum of tensor losses: the caller only
prints it, and every batch's graph stays alive until then."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
criterion = nn.CrossEntropyLoss()
val_loader = [(torch.randn(8, 16), torch.randint(0, 4, (8,))) for _ in range(4)]


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    total = 0
    for x, y in loader:
        logits = model(x)  # expect: GL201
        total += criterion(logits, y).detach()  # expect: GL501
    return total / len(loader)


print(evaluate(model, val_loader).item())
