"""A loss history that holds tensors (with their graphs) instead of numbers."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(10, 2)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
criterion = nn.CrossEntropyLoss()
history = []

for step in range(5):
    x, y = torch.randn(8, 10), torch.randint(0, 2, (8,))
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    optimizer.step()
    history.append(loss.item())  # expect: GL501
print(len(history))
