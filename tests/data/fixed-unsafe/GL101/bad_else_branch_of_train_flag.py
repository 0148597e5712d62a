"""`if train: ... else: ...`: the branch that does not train evaluates, in training mode."""
import io

import torch
import torch.nn as nn

torch.manual_seed(0)
do_train = False
model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.Linear(16, 2))
saved = io.BytesIO()
torch.save(model.state_dict(), saved)
batches = [(torch.randn(8, 4), torch.randint(0, 2, (8,))) for _ in range(3)]

if do_train:
    optimizer = torch.optim.Adam(model.parameters())
    for x, y in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
else:
    model.eval()
    saved.seek(0)
    model.load_state_dict(torch.load(saved))
    with torch.no_grad():
        hits = sum((model(x).argmax(1) == y).sum().item() for x, y in batches)  # expect: GL101
    print(hits)
