"""A main() that loads a checkpoint and predicts: inference code, whatever it is called."""
import io

import torch
import torch.nn as nn

torch.manual_seed(0)


def build():
    return nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Dropout(0.5), nn.Linear(16, 3))


checkpoint = io.BytesIO()
torch.save(build().state_dict(), checkpoint)


def main():
    model = build()
    checkpoint.seek(0)
    model.load_state_dict(torch.load(checkpoint))
    batch = torch.randn(8, 4)
    model.eval()
    with torch.no_grad():
        scores = model(batch)  # expect: GL101, GL201
    print(scores.argmax(1).tolist())


main()
