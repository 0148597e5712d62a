"""Zeroing some columns of a layer's weight with an indexed assignment (nnue-pytorch's bug):
the write is in place on a parameter, with gradients on."""
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.input = nn.Linear(8, 4)

    def zero_virtual_features(self):
        weights = self.input.weight
        with torch.no_grad():
            weights[:, 6:8] = 0.0  # expect: GL403

    def forward(self, x):
        return self.input(x)


model = Net()
model.zero_virtual_features()
print(model(torch.randn(2, 8)).sum().item())
