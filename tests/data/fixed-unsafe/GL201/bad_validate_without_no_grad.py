"""Eval mode is set, but autograd still records every validation batch."""
import os

import torch
import torch.nn as nn

torch.manual_seed(0)
device = os.environ.get("GRADLINT_DEVICE", "cpu")
model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.1), nn.Linear(256, 10)).to(device)
val_loader = [(torch.randn(32, 64, device=device), torch.randint(0, 10, (32,), device=device))
              for _ in range(3)]


@torch.no_grad()
def validate(model, loader):
    model.eval()
    correct = 0
    for x, y in loader:
        logits = model(x)  # expect: GL201
        correct += (logits.argmax(1) == y).sum().item()
    return correct


print(validate(model, val_loader))
