"""An embedding helper decorated with `@torch.inference_mode()`; its output then enters training."""
import torch
import torch.nn as nn

torch.manual_seed(0)
embedder = nn.Embedding(100, 8)
classifier = nn.Linear(8, 2)
optimizer = torch.optim.SGD(classifier.parameters(), lr=0.1)


@torch.no_grad()
def embed(tokens):
    return embedder(tokens).mean(dim=1)


tokens, labels = torch.randint(0, 100, (4, 6)), torch.randint(0, 2, (4,))
for _ in range(2):
    optimizer.zero_grad()
    pooled = embed(tokens)
    loss = nn.functional.cross_entropy(classifier(pooled), labels)  # expect: GL204
    loss.backward()
    optimizer.step()
