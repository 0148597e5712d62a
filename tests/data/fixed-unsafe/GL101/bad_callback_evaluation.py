"""An evaluation callback: nothing in this file sets eval mode before it runs."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 1))
val_batches = [torch.randn(16, 4) for _ in range(3)]


def evaluate(net, batches):
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            return sum(net(x).mean().item() for x in batches)  # expect: GL101
    finally:
        net.train(was_training)


callbacks = {"on_epoch_end": [evaluate]}
for epoch in range(2):
    for hook in callbacks["on_epoch_end"]:
        print(epoch, hook(model, val_batches))
