"""Loading pretrained vectors into an embedding with `copy_` outside `no_grad` (treelstm's
bug): RuntimeError, the vectors never arrive."""
import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.out = nn.Linear(dim, 2)

    def forward(self, tokens):
        return self.out(self.emb(tokens).mean(1))


def main():
    model = Encoder(50, 8)
    vectors = torch.randn(50, 8)
    with torch.no_grad():
        model.emb.weight.copy_(vectors)  # expect: GL403
    print(model(torch.randint(0, 50, (4, 6))).shape)


if __name__ == "__main__":
    main()
