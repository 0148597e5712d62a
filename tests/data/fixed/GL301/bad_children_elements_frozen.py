"""The first children of a model frozen through `.children()`, then every parameter given to SGD."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.Linear(8, 2))
for child in list(model.children())[:2]:
    for param in child.parameters():
        param.requires_grad = False
optimizer = torch.optim.SGD((p for p in model.parameters() if p.requires_grad), lr=0.1, momentum=0.9, weight_decay=0.01)  # expect: GL301 [no-effect]
for _ in range(3):
    optimizer.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    optimizer.step()
