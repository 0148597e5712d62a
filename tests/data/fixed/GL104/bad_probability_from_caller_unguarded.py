"""The helper takes `dropout_p` from its caller, which always passes the training value:
the attention keeps dropping after `eval()`."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


class Attention(nn.Module):
    def __init__(self, dim=16, dropout=0.1):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.dropout = dropout

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self._attend(q, k, v, self.dropout)

    def _attend(self, q, k, v, dropout_p):
        attn = F.softmax(q @ k.transpose(-2, -1), dim=-1)
        attn = F.dropout(attn, p=dropout_p, training=self.training)  # expect: GL104
        return attn @ v


block = Attention().eval()
with torch.no_grad():
    x = torch.randn(2, 4, 16)
    print(torch.equal(block(x), block(x)))
