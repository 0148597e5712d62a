"""pytorch/examples' old word_language_model step: `p.add_(p.grad, alpha=-lr)` over the
model's parameters, in a training function called with gradients on."""
import torch
import torch.nn as nn

torch.manual_seed(0)


def train(model, batches, lr):
    for x, y in batches:
        model.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        for p in model.parameters():
            with torch.no_grad():
                p.add_(p.grad, alpha=-lr)  # expect: GL403


model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
data = [(torch.randn(5, 4), torch.randn(5, 1)) for _ in range(3)]
train(model, data, lr=0.1)
