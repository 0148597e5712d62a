"""`==` instead of `=`: the comparison is evaluated and thrown away."""
import torch
import torch.nn as nn

torch.manual_seed(0)
encoder = nn.Linear(6, 6)
decoder = nn.Linear(6, 6)
for param in encoder.parameters():
    param.requires_grad = False  # expect: GL302
optimizer = torch.optim.Adam(list(decoder.parameters()), lr=1e-3)
loss = decoder(encoder(torch.randn(2, 6))).pow(2).sum()
loss.backward()
optimizer.step()
print(encoder.weight.grad is not None)
