"""`torch.inference_mode()` as a statement does nothing either."""
import torch
import torch.nn as nn

torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(16, 16), nn.GELU())
batch = torch.randn(4, 16)


def embed(x):
    with torch.inference_mode():  # expect: GL202
        return backbone(x)


print(embed(batch).requires_grad)
