"""A model that hooks its own parts (a key/value cache, as Whisper does) and then calls a
part's `forward` directly: the hooks it registered itself never run."""
import torch
import torch.nn as nn

torch.manual_seed(0)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.key = nn.Linear(8, 8)
        self.cache = {}

    def install_cache_hooks(self):
        def save(module, inputs, output):
            self.cache[module] = output
        return [self.key.register_forward_hook(save)]

    def step(self, x):
        return self.key(x)  # expect: GL901


decoder = Decoder()
decoder.install_cache_hooks()
with torch.no_grad():
    decoder.step(torch.randn(2, 8))
print(len(decoder.cache))
