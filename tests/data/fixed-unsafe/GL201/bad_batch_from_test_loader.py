"""One batch drawn from the test loader inside a training loop, to print progress."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
train_loader = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(3)]
test_loader = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(2)]

for step, (x, y) in enumerate(train_loader):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    images, labels = next(iter(test_loader))
    with torch.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean()  # expect: GL201
    print(step, accuracy.item())
