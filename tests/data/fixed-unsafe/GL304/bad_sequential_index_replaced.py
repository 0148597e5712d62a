"""`model[2] = ...` on a Sequential after the optimizer was built."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
model[2] = nn.Linear(8, 1)  # expect: GL304
opt.add_param_group({"params": model[2].parameters()})
for _ in range(3):
    opt.zero_grad()
    model(torch.randn(6, 4)).pow(2).mean().backward()
    opt.step()
