"""A notebook-style script that defines `Classifier` twice, as notebooks do cell by cell.

The first `Classifier` has no dropout or batch norm, so its test loop in training mode
gives the eval-mode numbers. The second adds dropout; from its definition on, the name is
that class, and its test loop in training mode drops activations at random.
"""
import torch
import torch.nn as nn

torch.manual_seed(0)
trainloader = [(torch.randn(16, 8), torch.randint(0, 2, (16,))) for _ in range(2)]
testloader = [(torch.randn(16, 8), torch.randint(0, 2, (16,))) for _ in range(2)]


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 2)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


model = Classifier()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(2):
    for images, labels in trainloader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    else:
        with torch.no_grad():
            for images, labels in testloader:
                print((model(images).argmax(1) == labels).float().mean().item())


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 2)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


model = Classifier()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(2):
    for images, labels in trainloader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    else:
        with torch.no_grad():
            was_training = model.training
            model.eval()
            for images, labels in testloader:
                print((model(images).argmax(1) == labels).float().mean().item())  # expect: GL101
            model.train(was_training)
