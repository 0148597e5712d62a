"""`torch.no_grad()` as a statement creates and drops a context manager: grads stay on."""
import torch
import torch.nn as nn

torch.manual_seed(0)
encoder = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 16))
images = torch.randn(8, 32)

with torch.no_grad():  # expect: GL202
    features = encoder(images)
    print("features require grad:", features.requires_grad)
