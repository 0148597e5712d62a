"""`model.train()` is called once, before the loop; validation switches to eval for good."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
train_data = [(torch.randn(16, 8), torch.randint(0, 2, (16,))) for _ in range(3)]
val_data = [(torch.randn(16, 8), torch.randint(0, 2, (16,)))]

model.train()
for epoch in range(3):
    model.train()
    for x, y in train_data:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    model.eval()  # expect: GL103
    with torch.no_grad():
        for x, y in val_data:
            print(epoch, nn.functional.cross_entropy(model(x), y).item())
