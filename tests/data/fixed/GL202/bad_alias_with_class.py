"""The same mistake through an alias: `from torch import no_grad` then `with no_grad:`."""
import torch
from torch import no_grad

weights = torch.randn(3, requires_grad=True)
with no_grad():  # expect: GL202
    weights -= 0.1
print(weights)
