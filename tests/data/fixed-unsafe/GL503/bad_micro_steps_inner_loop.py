"""Micro-batches in an inner `range(k)` loop, one step after it: the k losses are summed, not averaged."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
gradient_accumulation_steps = 4


def get_batch():
    return torch.randn(8, 10), torch.randn(8, 1)


for it in range(3):
    for micro_step in range(gradient_accumulation_steps):
        x, y = get_batch()
        loss = nn.functional.mse_loss(model(x), y)
        (loss / gradient_accumulation_steps).backward()  # expect: GL503
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
