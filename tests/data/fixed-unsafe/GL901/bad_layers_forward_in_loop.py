"""Each block of a stack run with `.forward()`: per-layer hooks (here an activation monitor) never run."""
import torch
import torch.nn as nn

torch.manual_seed(0)
blocks = nn.ModuleList([nn.Sequential(nn.Linear(8, 8), nn.GELU()) for _ in range(3)])
norms = []
for block in blocks:
    block.register_forward_hook(lambda module, inputs, output: norms.append(output.norm().item()))

x = torch.randn(5, 8)
with torch.no_grad():
    for block in blocks:
        x = block(x)  # expect: GL901
print("recorded norms:", norms)
