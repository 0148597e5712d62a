"""A subclass of an nn layer is a module, and this one has batch-norm statistics."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class NoisyBatchNorm(nn.BatchNorm1d):
    def forward(self, x):
        return super().forward(x + 0.01 * torch.randn_like(x))


norm = NoisyBatchNorm(4)
optimizer = torch.optim.SGD(norm.parameters(), lr=0.1)
for _ in range(3):
    optimizer.zero_grad()
    norm(torch.randn(16, 4)).pow(2).mean().backward()
    optimizer.step()


def test(batches):
    norm.eval()
    with torch.no_grad():
        return [norm(x).mean().item() for x in batches]  # expect: GL101


print(test([torch.randn(4, 4)]))
