"""`requires_grad = False` on a submodule sets a plain attribute: the backbone keeps training."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.backbone(x))


model = Net()
model.backbone.requires_grad_(False)  # expect: GL302
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(8, 8), torch.randint(0, 2, (8,))
optimizer.zero_grad()
nn.functional.cross_entropy(model(x), y).backward()
optimizer.step()
print(all(p.requires_grad for p in model.backbone.parameters()))
