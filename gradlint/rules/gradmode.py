"""GL2xx: gradient tracking."""

from __future__ import annotations

from ..fixes import gradmode as fixes
from . import Report, rule
from ..facts.values import NEW
from .common import FirstPerRegion, caller_owns_mode, inference_calls, shown


@rule("GL201")
def grad_mode_missing(facts):
    first = FirstPerRegion()
    for event in inference_calls(facts):
        if event.generate:
            continue  # Hugging Face decorates generate() with no_grad
        if any(r.uses_grad or r.hands_model_out for r in event.regions):
            continue  # gradient-based inference (saliency, attacks, test-time training)
        grad = facts.resolve_grad(event.fn, event.grad)
        if not grad & {"on", "unknown"}:
            continue
        kinds = {kind for kind, _ in facts.resolve_modes(event.fn, event.modes)}
        if kinds == {NEW}:
            continue  # a model built here and never trained or loaded: a shape smoke test
        if "on" not in grad and caller_owns_mode(event):
            continue
        if not first(event):
            continue
        region = event.regions[0]
        name = shown(event)
        if "on" in grad:
            message = (f"`{name}` runs with gradient tracking in this {region.label}: autograd keeps "
                       f"every activation for a backward pass that never comes; wrap it in "
                       f"`with torch.no_grad():`")
        else:
            message = (f"`{name}` may run with gradient tracking in this {region.label}: no "
                       f"`torch.no_grad()` reaches this call in this file; wrap it in "
                       f"`with torch.no_grad():`")
        yield Report(event.node, message, lambda e=event: fixes.no_grad_for_region(facts, e))


@rule("GL202")
def grad_mode_context_not_entered(facts):
    for event in facts.events.syntactic.values():
        if event.code == "GL202":
            yield Report(event.node, event.message, lambda e=event: fixes.enter_context(e))


@rule("GL203")
def backward_under_no_grad(facts):
    for event in facts.events.backwards.values():
        if event.fact is None:
            continue
        if facts.resolve_tensor(event.fn, event.fact) == frozenset({"nograd"}):
            yield event.node, ("this value was computed under `torch.no_grad()`/`inference_mode()`: it has "
                               "no grad_fn and backward raises RuntimeError; compute it with gradients on")
