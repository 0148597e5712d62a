"""`with torch.no_grad:` uses the class itself: Python raises TypeError."""
import torch
import torch.nn as nn

model = nn.Linear(4, 2).eval()
x = torch.randn(3, 4)
with torch.no_grad():  # expect: GL202
    print(model(x))
