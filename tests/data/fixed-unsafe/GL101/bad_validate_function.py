"""An evaluation helper that never switches the model to eval mode."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
data = [(torch.randn(16, 8), torch.randint(0, 2, (16,))) for _ in range(4)]


def validate(model, loader):
    was_training = model.training
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in loader:
            logits = model(x)  # expect: GL101
            correct += (logits.argmax(1) == y).sum().item()
    model.train(was_training)
    return correct / (16 * len(loader))


for epoch in range(2):
    model.train()
    for x, y in data:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    print(f"epoch {epoch}: accuracy {validate(model, data):.2f}")
