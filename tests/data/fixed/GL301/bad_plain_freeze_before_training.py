"""Frozen before training with the default `zero_grad()`: the frozen grads stay None.

Still flagged (the optimizer holds parameters it should not), but in this program the
frozen weights cannot move: torch.optim skips parameters whose `.grad is None`.
"""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
for p in model[0].parameters():
    p.requires_grad = False
optimizer = torch.optim.SGD((p for p in model.parameters() if p.requires_grad), lr=0.1, momentum=0.9, weight_decay=1e-2)  # expect: GL301 [no-effect]

for step in range(3):
    x, y = torch.randn(8, 8), torch.randint(0, 2, (8,))
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
