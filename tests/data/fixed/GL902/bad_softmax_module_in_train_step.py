"""An `nn.Softmax` layer applied before the loss inside a training-step method."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class Trainer:
    def __init__(self, model):
        self.model = model
        self.softmax = nn.Softmax(dim=1)
        self.criterion = nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def train_step(self, x, y):
        self.optimizer.zero_grad()
        loss = self.criterion(self.model(x), y)  # expect: GL902
        loss.backward()
        self.optimizer.step()
        return loss.item()


trainer = Trainer(nn.Linear(8, 3))
for _ in range(3):
    print(trainer.train_step(torch.randn(16, 8), torch.randint(0, 3, (16,))))
