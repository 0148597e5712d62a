"""Features of a frozen encoder precomputed under `inference_mode`, then fed to a trainable head."""
import torch
import torch.nn as nn

torch.manual_seed(0)
encoder = nn.Sequential(nn.Linear(32, 16), nn.ReLU()).eval()
head = nn.Linear(16, 3)
optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
x, y = torch.randn(8, 32), torch.randint(0, 3, (8,))

with torch.no_grad():
    features = encoder(x)

optimizer.zero_grad()
logits = head(features)  # expect: GL204
nn.functional.cross_entropy(logits, y).backward()
optimizer.step()
