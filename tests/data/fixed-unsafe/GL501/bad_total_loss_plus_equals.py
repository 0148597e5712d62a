"""`total_loss += loss` keeps every batch's graph alive until the epoch ends (PyTorch FAQ)."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
batches = [(torch.randn(16, 32), torch.randn(16, 1)) for _ in range(5)]

for epoch in range(2):
    total_loss = 0
    for x, y in batches:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        total_loss += loss.item()  # expect: GL501
    print(epoch, float(total_loss) / len(batches))
