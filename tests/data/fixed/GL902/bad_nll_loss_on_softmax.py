"""`F.nll_loss` given probabilities instead of log-probabilities."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
net = nn.Linear(12, 4)
optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
x, y = torch.randn(24, 12), torch.randint(0, 4, (24,))
for _ in range(3):
    optimizer.zero_grad()
    loss = F.nll_loss(F.log_softmax(net(x), dim=1), y)  # expect: GL902
    loss.backward()
    optimizer.step()
