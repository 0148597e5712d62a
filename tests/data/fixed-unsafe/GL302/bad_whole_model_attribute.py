"""Freezing a whole model by assigning `requires_grad` on it does nothing."""
import torch
import torch.nn as nn

torch.manual_seed(0)
teacher = nn.Sequential(nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 5))
teacher.requires_grad_(False)  # expect: GL302
out = teacher(torch.randn(2, 5)).sum()
out.backward()
print(teacher[0].weight.grad is not None)
