"""`model.eval` without parentheses: the model is still in training mode."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Dropout(0.5), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
data = [(torch.randn(16, 8), torch.randint(0, 2, (16,))) for _ in range(3)]
val_data = data[:1]

model.train()
for x, y in data:
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()

model.eval()  # expect: GL102
with torch.no_grad():
    for x, y in val_data:
        print((model(x).argmax(1) == y).float().mean().item())  # expect: GL101
