"""Distillation targets from a teacher run under `inference_mode`: the loss must save them for backward."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
teacher = nn.Linear(10, 4).eval()
student = nn.Linear(10, 4)
optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)
x = torch.randn(16, 10)
with torch.no_grad():
    soft_targets = teacher(x).softmax(dim=1)
optimizer.zero_grad()
loss = F.mse_loss(student(x).softmax(dim=1), soft_targets)  # expect: GL204
loss.backward()
optimizer.step()
