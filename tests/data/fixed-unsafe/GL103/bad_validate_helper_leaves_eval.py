"""A validation helper switches to eval and does not switch back; the loop never does either."""
import torch
import torch.nn as nn

torch.manual_seed(0)


def validate(model, batches):
    model.eval()
    with torch.no_grad():
        return sum(nn.functional.cross_entropy(model(x), y).item() for x, y in batches)


model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.5), nn.Linear(16, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
batches = [(torch.randn(16, 8), torch.randint(0, 2, (16,))) for _ in range(2)]

model.train()
for epoch in range(3):
    model.train()
    for x, y in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    print(epoch, validate(model, batches))  # expect: GL103
