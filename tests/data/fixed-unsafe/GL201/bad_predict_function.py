"""A prediction helper called with gradients on: its output carries a graph."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 4))

    def forward(self, x):
        return self.body(x)


@torch.no_grad()
def predict(model, batch):
    model.eval()
    return model(batch).softmax(-1)  # expect: GL201


clf = Classifier()
probs = predict(clf, torch.randn(8, 16))
print(probs.requires_grad, probs.argmax(-1).tolist())
