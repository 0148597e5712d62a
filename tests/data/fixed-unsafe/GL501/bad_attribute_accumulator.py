"""A trainer that keeps a running loss on itself as a tensor."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class Trainer:
    def __init__(self, model):
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        self.running_loss = 0.0

    def fit(self, batches):
        for x, y in batches:
            self.optimizer.zero_grad()
            loss = nn.functional.mse_loss(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            self.running_loss += loss.detach()  # expect: GL501


trainer = Trainer(nn.Linear(4, 1))
trainer.fit([(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(4)])
print(trainer.running_loss)
