"""Gradients cleared once per epoch, outside the batch loop that steps: they pile up across batches."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class Trainer:
    def __init__(self):
        self.model = nn.Linear(4, 2)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.05)
        self.batches = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(3)]

    def fit(self, epochs):
        for epoch in range(epochs):
            self.optimizer.zero_grad()
            for x, y in self.batches:
                loss = nn.functional.cross_entropy(self.model(x), y)
                self.optimizer.zero_grad()
                loss.backward()  # expect: GL502
                self.optimizer.step()


Trainer().fit(2)
