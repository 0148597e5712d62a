"""`nn.utils.weight_norm` recomputes the weight in a forward pre-hook; `.forward()` skips it and uses the
weight of the last `layer(...)` call, from before the last optimizer step."""
import warnings

import torch
import torch.nn as nn

warnings.simplefilter("ignore", FutureWarning)
torch.manual_seed(0)
layer = nn.Linear(4, 4)
nn.utils.weight_norm(layer)
optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
x = torch.randn(8, 4)
for _ in range(3):
    optimizer.zero_grad()
    layer(x).pow(2).mean().backward()
    optimizer.step()
with torch.no_grad():
    stale = layer(x)  # expect: GL901
    fresh = layer(x)
print("stale weight, max difference:", (stale - fresh).abs().max().item())
