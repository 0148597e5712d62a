"""A Dropout layer used through a helper method of the module, not by `forward` itself.

`forward` calls `self.project(x)`, which applies `self.dropout`: the layer is used, so
evaluating in training mode drops activations at random.
"""
import torch
import torch.nn as nn

torch.manual_seed(0)


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.dropout = nn.Dropout(0.5)
        self.linear = nn.Linear(8, 2)

    def project(self, x):
        return self.linear(self.dropout(x))

    def forward(self, x):
        return self.project(x)


head = Head()
optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
data = [(torch.randn(16, 8), torch.randint(0, 2, (16,))) for _ in range(2)]
for x, y in data:
    optimizer.zero_grad()
    nn.functional.cross_entropy(head(x), y).backward()
    optimizer.step()


def evaluate(model):
    model.eval()
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).sum().item() for x, y in data)  # expect: GL101


print(evaluate(head))
