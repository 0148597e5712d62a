"""The backbone is frozen parameter by parameter, but a new head replaces the last layer
afterwards: running the whole model on the validation batches records the head's graph. A
loop that freezes only the parameters its condition picks leaves the others training; so
does a head set as a new attribute."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
for param in model.parameters():
    param.requires_grad = False
model[2] = nn.Linear(8, 2)
loader_valid = [torch.randn(5, 4) for _ in range(2)]
model.eval()
with torch.no_grad():
    for inputs in loader_valid:
        scores = model(inputs)  # expect: GL201
        print(scores.argmax(1))

partial = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
for name, param in partial.named_parameters():
    if not name.startswith("1."):
        param.requires_grad = False
partial.eval()
with torch.no_grad():
    for inputs in loader_valid:
        print(partial(inputs).sum())  # expect: GL201

backbone = nn.Sequential()
backbone.features = nn.Linear(4, 4)
for param in backbone.parameters():
    param.requires_grad = False
backbone.fc = nn.Linear(4, 2)
backbone.eval()
with torch.no_grad():
    for inputs in loader_valid:
        print(backbone.fc(backbone.features(inputs)).sum())  # expect: GL201
