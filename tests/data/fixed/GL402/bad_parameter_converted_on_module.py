"""`nn.Parameter(...).double()` stored on a module: the copy is a plain tensor, so the module
does not register it and the optimizer never sees it (on CPU too: the dtype changes)."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class Scaler(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.linear = nn.Linear(n, n).double()
        self.scale = nn.Parameter(torch.ones(n).double())  # expect: GL402

    def forward(self, x):
        return self.linear(x) * self.scale


model = Scaler(4)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(3):
    optimizer.zero_grad()
    model(torch.randn(8, 4, dtype=torch.float64)).sum().backward()
    optimizer.step()
print(len(list(model.parameters())))
