"""A test loop at module level with eval mode but no torch.no_grad()."""
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
test_loader = [(torch.randn(4, 1, 8, 8), torch.randint(0, 10, (4,))) for _ in range(3)]

net.eval()
correct = 0
with torch.no_grad():
    for images, labels in test_loader:
        outputs = net(images)  # expect: GL201
        correct += (outputs.argmax(1) == labels).sum().item()
print("accuracy", correct / 12)
