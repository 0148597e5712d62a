"""Chunks backpropagated one by one, but the list of chunk outputs is made once, before the
epochs: it keeps every step's outputs, and their graphs, for the whole run."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
model = nn.Linear(4, 3)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
train_loader = [(torch.randn(8, 4), torch.randint(0, 3, (8,))) for _ in range(3)]
outputs = []
for epoch in range(2):
    for data, targets in train_loader:
        optimizer.zero_grad()
        for data_chunk, target_chunk in zip(data.chunk(2), targets.chunk(2)):
            output_chunk = model(data_chunk)
            outputs.append(output_chunk.detach())  # expect: GL501
            F.cross_entropy(output_chunk, target_chunk).backward()
        optimizer.step()
print(torch.cat(outputs).shape)
