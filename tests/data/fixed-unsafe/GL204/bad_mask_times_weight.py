"""A mask computed under `inference_mode` multiplied into a trainable weight."""
import torch

torch.manual_seed(0)
weight = torch.randn(6, 6, requires_grad=True)
with torch.no_grad():
    mask = torch.bernoulli(torch.full((6, 6), 0.5))
masked = weight * mask  # expect: GL204
masked.sum().backward()
print(weight.grad)
