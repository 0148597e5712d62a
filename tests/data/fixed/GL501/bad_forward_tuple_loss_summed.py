"""A model whose forward returns (loss, accuracy): the loss carries the step's graph, and summing
it across iterations keeps every iteration's graph alive (the float accuracy does not)."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x, y):
        out = self.fc(x)
        return F.cross_entropy(out, y), (out.argmax(1) == y).float().mean().item()


torch.manual_seed(0)
model = Net()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
train_loader = [(torch.randn(3, 4), torch.tensor([0, 1, 0])) for _ in range(3)]
epoch_loss, epoch_acc = 0.0, 0.0
for x, y in train_loader:
    loss, acc = model(x, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    epoch_loss += loss.detach()  # expect: GL501
    epoch_acc += acc
print(epoch_loss.item(), epoch_acc)
