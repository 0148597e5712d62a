"""randomCNN-voice-transfer's bug: the input to optimize is made with `requires_grad=True` and
then moved to the device. On CUDA the copy is a non-leaf and Adam raises ValueError; on CPU
`.to("cpu")` returns the same leaf and the program runs."""
import os

import torch

torch.manual_seed(0)
device = os.environ.get("GRADLINT_DEVICE", "cpu")
target = torch.randn(1, 16, device=device)
signal = torch.randn(1, 16, device=device, requires_grad=True)  # expect: GL402 [cuda]
optimizer = torch.optim.Adam([signal], lr=0.05)
for _ in range(3):
    optimizer.zero_grad()
    ((signal - target) ** 2).mean().backward()
    optimizer.step()
