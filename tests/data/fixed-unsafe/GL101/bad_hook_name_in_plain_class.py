"""`validation_step` in a class of its own (no Lightning base): nothing sets eval mode for it."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class Runner:
    def __init__(self, model):
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

    def training_step(self, x, y):
        self.optimizer.zero_grad()
        loss = nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()

    def validation_step(self, x, y):
        self.model.eval()
        with torch.no_grad():
            return (self.model(x).argmax(1) == y).float().mean().item()  # expect: GL101

    def fit(self, train, val):
        for x, y in train:
            self.training_step(x, y)
        return [self.validation_step(x, y) for x, y in val]


data = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(3)]
runner = Runner(nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 3)))
print(runner.fit(data, data))
