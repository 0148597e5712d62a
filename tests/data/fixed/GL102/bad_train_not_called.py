"""`model.train` without parentheses after validation: later epochs train in eval mode."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
train_data = [(torch.randn(16, 8), torch.randint(0, 2, (16,))) for _ in range(3)]
val_data = [(torch.randn(16, 8), torch.randint(0, 2, (16,)))]

for epoch in range(3):
    model.train()  # expect: GL102
    for x, y in train_data:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()  # expect: GL103
    with torch.no_grad():
        for x, y in val_data:
            print(epoch, (model(x).argmax(1) == y).float().mean().item())
