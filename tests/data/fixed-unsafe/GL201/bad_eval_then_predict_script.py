"""A module-level predict script: the model is loaded and put in eval mode, gradients stay on."""
import io

import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 2))
buffer = io.BytesIO()
torch.save(net.state_dict(), buffer)
buffer.seek(0)

net.load_state_dict(torch.load(buffer))
net.eval()
for sample in torch.randn(3, 4, 6):
    with torch.no_grad():
        print(net(sample).argmax(1).tolist())  # expect: GL201
