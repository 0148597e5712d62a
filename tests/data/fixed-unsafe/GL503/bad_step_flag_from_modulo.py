"""The step condition computed into a flag first; the loss still not divided (SGD with momentum)."""
import torch
import torch.nn as nn


class Config:
    grad_accum = 3
    lr = 0.05


def train(model, batches, cfg):
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    for batch_idx, (x, y) in enumerate(batches):
        is_grad_step = (batch_idx + 1) % cfg.grad_accum == 0
        loss = nn.functional.cross_entropy(model(x), y)
        (loss / cfg.grad_accum).backward()  # expect: GL503
        if is_grad_step:
            optimizer.step()
            optimizer.zero_grad()


torch.manual_seed(0)
train(nn.Linear(6, 3), [(torch.randn(5, 6), torch.randint(0, 3, (5,))) for _ in range(6)], Config())
