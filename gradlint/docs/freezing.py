"""Docs of the GL3xx rules: freezing and the optimizer's parameter set."""

from __future__ import annotations

from . import RuleDoc

DOCS = [
    RuleDoc(
        code="GL301",
        what="""
Finds an optimizer built from the unfiltered parameters of a model (`model.parameters()`)
when part of that model is frozen (`p.requires_grad = False`, `requires_grad_(False)`,
`nn.Parameter(..., requires_grad=False)`, `nn.Embedding.from_pretrained(...)`, which
freezes by default). The finding points at the optimizer's construction.
""",
        why="""
`torch.optim` skips a parameter whose `.grad` is `None`, so frozen parameters usually stay
put and this is harmless: the optimizer just holds state it never uses. They **do** move
when they still hold a zeroed, non-`None` gradient (frozen after training began, with
`zero_grad(set_to_none=False)`, the default before torch 2.0) and the optimizer has
momentum or weight decay: the "frozen" weights then drift. Measured on torch 2.13 (CPU,
3 steps), the largest change of a frozen weight was 0.394 with SGD (momentum and weight
decay), 0.170 with AdamW and 0.161 with Adam, and 0 in every other case. Passing only the
trainable parameters makes the freeze hold whatever the optimizer and the torch version,
and keeps optimizer state small.
""",
        example="""
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(16, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(torch.relu(self.backbone(x)))


model = Classifier()
model.backbone.requires_grad_(False)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
""",
        use_instead="""
import torch
import torch.nn as nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(16, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        return self.head(torch.relu(self.backbone(x)))


model = Classifier()
model.backbone.requires_grad_(False)
trainable = (p for p in model.parameters() if p.requires_grad)
optimizer = torch.optim.AdamW(trainable, lr=1e-3, weight_decay=0.01)
""",
        not_flagged="""
- Filtered parameters: `filter(lambda p: p.requires_grad, ...)`, comprehensions,
  `named_parameters()` with a condition, or param groups that leave the frozen part out.
- GAN-style alternating `requires_grad_` toggles, and parameters unfrozen again.
""",
        verifier="""
Optimizer step hooks record which frozen parameters the optimizer holds and whether they
moved after `step()`. With stale zeroed grads and momentum or weight decay the frozen
weights change (max |dW| 0.394 SGD with momentum and weight decay, 0.170 AdamW, 0.161
Adam on torch 2.13 CPU over 3 steps); when their `.grad` is `None` they do not move, and
the verifier reports that absence rather than an effect (fixtures marked `[no-effect]`).
""",
    ),
    RuleDoc(
        code="GL302",
        what="""
Finds `requires_grad` assigned on an `nn.Module` (`model.requires_grad = False`), and
misspelt attributes such as `p.require_grad = False` or `p.requires_grads = False`.
""",
        why="""
`nn.Module` has no `requires_grad` attribute: the assignment creates a plain Python
attribute and changes no parameter, and a misspelt name does the same on a tensor. The
"frozen" layers keep training, silently, which defeats fine-tuning recipes and wastes
memory on gradients.
""",
        example="""
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
backbone = model[0]
backbone.requires_grad = False
""",
        use_instead="""
import torch.nn as nn

model = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
backbone = model[0]
backbone.requires_grad_(False)
""",
        verifier="""
After the assignment `all(p.requires_grad for p in module.parameters())` is still True,
and the module's weights change after `optimizer.step()`.
""",
    ),
    RuleDoc(
        code="GL303",
        what="""
Finds `.requires_grad = ...` assigned on a tensor that is computed from a tensor that
requires grad (the result of an operation: not a leaf).
""",
        why="""
Only leaf tensors have a settable `requires_grad` flag: on a computed tensor the
assignment raises `RuntimeError: you can only change requires_grad flags of leaf
variables`. To stop gradients flowing through the value, use `x.detach()`; for a new
trainable tensor made from it, `x.detach().requires_grad_()`.
""",
        example="""
import torch

w = torch.randn(16, 2, requires_grad=True)
scaled = w * 0.01
scaled.requires_grad = False
""",
        use_instead="""
import torch

w = torch.randn(16, 2, requires_grad=True)
scaled = (w * 0.01).detach()
""",
        verifier="""
The `RuntimeError` torch raises at the flagged assignment.
""",
    ),
]
