"""A parent module's helper calls its encoder's `forward` directly: hooks on the encoder are skipped."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(12, 6)

    def forward(self, x):
        return torch.tanh(self.proj(x))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Linear(6, 1)

    def embed(self, x):
        return self.encoder(x)  # expect: GL901

    def forward(self, x):
        return self.head(self.embed(x))


model = Model()
model.encoder.register_forward_pre_hook(lambda module, args: print("encoder input", args[0].shape))
with torch.no_grad():
    print(model(torch.randn(3, 12)).shape)
