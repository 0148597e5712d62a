"""GL4xx: `.grad` and leaf tensors."""

from __future__ import annotations

from ..fixes import leaf as fixes
from . import Report, rule


@rule("GL401")
def grad_of_non_leaf(facts):
    for event in facts.events.grad_reads.values():
        fact = event.fact
        if fact.retained or "nonleaf" not in facts.resolve_tensor(event.fn, fact):
            continue
        name = event.name
        if fact.cuda_only:
            message = (f"`{name}` is {fact.how} of a leaf: on CUDA it is a non-leaf and `{name}.grad` "
                       f"stays None; create the tensor on the device "
                       f"(`torch.randn(..., device=device, requires_grad=True)`)")
        else:
            how = f" ({fact.how})" if fact.how else ""
            message = (f"`{name}` is not a leaf{how}: `{name}.grad` is None and torch warns; read the "
                       f"leaf's `.grad`, or call `{name}.retain_grad()` before backward")
        yield Report(event.node, message, lambda e=event: fixes.keep_grad(facts, e))
