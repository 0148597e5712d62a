"""Validation without no_grad that also sums tensor losses: every batch's graph is kept."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
criterion = nn.CrossEntropyLoss()
val_loader = [(torch.randn(8, 16), torch.randint(0, 4, (8,))) for _ in range(4)]

model.eval()
val_loss = 0
for x, y in val_loader:
    logits = model(x)  # expect: GL201
    val_loss += criterion(logits, y).detach()  # expect: GL501
print(val_loss.item() / len(val_loader))
