"""`nn.Embedding.from_pretrained` freezes by default; the optimizer still gets the table."""
import torch
import torch.nn as nn

torch.manual_seed(0)
vectors = torch.randn(100, 16)


class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(vectors)
        self.fc = nn.Linear(16, 2)

    def forward(self, tokens):
        return self.fc(self.embedding(tokens).mean(1))


model = TextClassifier()
optimizer = torch.optim.SGD((p for p in model.parameters() if p.requires_grad), lr=0.1, momentum=0.9)  # expect: GL301 [no-effect]
for step in range(3):
    tokens, labels = torch.randint(0, 100, (4, 7)), torch.randint(0, 2, (4,))
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(tokens), labels).backward()
    optimizer.step()
