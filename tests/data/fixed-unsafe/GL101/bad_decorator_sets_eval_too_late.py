"""A decorator whose wrapper calls the method first and sets eval mode only afterwards.

`late_eval` runs the method before `model.eval()`: the dropout inside `generate` runs in
the training mode the loop left, so every sample is drawn with random units dropped.
"""
import torch
import torch.nn as nn

torch.manual_seed(0)


def late_eval(fn):
    def inner(model, *args, **kwargs):
        out = fn(model, *args, **kwargs)
        model.eval()
        return out
    return inner


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 8))

    def forward(self, x):
        return self.body(x)

    @torch.no_grad()
    @late_eval
    def generate(self, x, steps=3):
        self.body.eval()
        for _ in range(steps):
            x = self.body(x)  # expect: GL101
        return x


gen = Generator()
optimizer = torch.optim.SGD(gen.parameters(), lr=0.1)
for _ in range(2):
    optimizer.zero_grad()
    gen(torch.randn(4, 8)).pow(2).mean().backward()
    optimizer.step()
print(gen.generate(torch.randn(2, 8)).shape)
