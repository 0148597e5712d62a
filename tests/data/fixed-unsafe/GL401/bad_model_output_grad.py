"""Reading `.grad` of an activation: it is a non-leaf, so the gradient was not kept."""
import torch
import torch.nn as nn

torch.manual_seed(0)
layer = nn.Linear(6, 3)
activation = layer(torch.randn(4, 6))
activation.retain_grad()
activation.relu().sum().backward()
print(activation.grad)  # expect: GL401
