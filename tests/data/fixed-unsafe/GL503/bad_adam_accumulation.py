"""The same mistake under Adam: the gradient is 4x the mean, but Adam normalises its scale, so the
update barely changes (the verifier shows it: no effect under this condition)."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(8, 2)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
accum = 4
batches = [(torch.randn(4, 8), torch.randint(0, 2, (4,))) for _ in range(8)]
for step, (x, y) in enumerate(batches):
    loss = nn.functional.cross_entropy(model(x), y)
    (loss / accum).backward()  # expect: GL503 [no-effect]
    if step % accum == accum - 1:
        optimizer.step()
        optimizer.zero_grad()
