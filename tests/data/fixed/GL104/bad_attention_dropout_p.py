"""Attention dropout passed to `scaled_dot_product_attention` without a `self.training` guard."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


class SelfAttention(nn.Module):
    def __init__(self, dim=16, heads=2, dropout=0.2):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).transpose(1, 3).unbind(2)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)  # expect: GL104
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


attention = SelfAttention()
attention.eval()
with torch.no_grad():
    x = torch.randn(2, 5, 16)
    print((attention(x) - attention(x)).abs().max().item())
