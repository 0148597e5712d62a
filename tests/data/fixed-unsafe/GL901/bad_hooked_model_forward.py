"""Features recorded by a forward hook, then the model run through `.forward()`: the hook never fires."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))
captured = []
model.register_forward_hook(lambda module, inputs, output: captured.append(output.detach()))

model.eval()
with torch.no_grad():
    for _ in range(3):
        logits = model(torch.randn(4, 16))  # expect: GL901
print("captured outputs:", len(captured))
