"""The model freezes its own backbone; `configure_optimizers` hands every parameter over."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class FineTuner(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(12, 12), nn.ReLU())
        self.classifier = nn.Linear(12, 4)
        for p in self.backbone.parameters():
            p.requires_grad = False

    def forward(self, x):
        return self.classifier(self.backbone(x))

    def configure_optimizers(self):
        return torch.optim.AdamW((p for p in self.parameters() if p.requires_grad), lr=1e-3)  # expect: GL301 [no-effect]


model = FineTuner()
optimizer = model.configure_optimizers()
for step in range(3):
    x, y = torch.randn(8, 12), torch.randint(0, 4, (8,))
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
