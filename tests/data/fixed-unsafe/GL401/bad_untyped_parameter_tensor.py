"""An untyped parameter used as a tensor: each step rebinds `x_adv` to a computed tensor, whose
`.grad` is None from the second step on, so the attack silently stops moving."""
import torch
import torch.nn as nn

torch.manual_seed(0)
model = nn.Linear(4, 2)


def attack(x, y, steps=3, eps=0.1):
    x_adv = x.clone().detach().requires_grad_()
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(x_adv), y)
        loss.backward()
        grad = x_adv.grad  # expect: GL401
        if grad is not None:
            x_adv = (x_adv + eps * grad.sign()).detach().requires_grad_()
    return x_adv


print(attack(torch.randn(8, 4), torch.randint(0, 2, (8,))).shape)
