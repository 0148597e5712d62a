"""GL1xx: train/eval mode."""

from __future__ import annotations

from ..facts.values import EVAL, NEW, TRAIN, TRAIN_SET, UNKNOWN
from ..fixes import mode as fixes
from . import Report, code_of, rule
from .common import (FirstPerRegion, caller_owns_mode, inference_calls, inside_own_model, is_model_call,
                     mode_dependent, owned_by_framework, shown)


@rule("GL101")
def eval_mode_missing(facts):
    first = FirstPerRegion()
    for event in inference_calls(facts):
        if any(r.optimizer_step for r in event.regions):
            continue  # test-time training runs in train mode on purpose
        if mode_dependent(facts, event) is False:
            continue  # no dropout or batch norm: eval() is good practice, not a fix
        kinds = {kind for kind, _ in facts.resolve_modes(event.fn, event.modes)}
        if not kinds & {TRAIN, UNKNOWN}:
            continue
        if kinds == {UNKNOWN} and caller_owns_mode(event):
            continue  # a model's own predict/generate method: its caller sets the mode
        if not first(event):
            continue
        region = event.regions[0]
        name = shown(event)
        if TRAIN in kinds:
            why = ("its dropout and batch norm change the outputs" if mode_dependent(facts, event)
                   else "any dropout or batch norm in it changes the outputs")
            message = (f"`{name}` runs in training mode in this {region.label}: {why}; "
                       f"call `{name}.eval()` first")
        else:
            message = (f"`{name}` may be in training mode in this {region.label}: no "
                       f"`{name}.eval()` reaches this call in this file; call `{name}.eval()` first")
        yield Report(event.node, message, lambda e=event: fixes.eval_before_region(facts, e))


@rule("GL102")
def mode_method_not_called(facts):
    for event in facts.events.syntactic.values():
        if event.code == "GL102":
            yield Report(event.node, event.message, lambda e=event: fixes.call_method(e))


@rule("GL103")
def train_mode_not_restored(facts):
    reported = set()
    for event in facts.events.forward_calls.values():
        if event.regions or owned_by_framework(facts, event) or inside_own_model(event):
            continue
        if not is_model_call(facts, event):
            continue
        if facts.resolve_grad(event.fn, event.grad) == frozenset({"off"}):
            continue
        if not (facts.in_training_loop(event.loops) or facts.runs_in_training_loop(event.fn)):
            continue
        modes = facts.resolve_modes(event.fn, event.modes)
        if not {kind for kind, _ in modes} & {TRAIN, TRAIN_SET, NEW, UNKNOWN}:
            continue  # always eval here: eval-mode training on purpose
        # loops that switch this model back to train mode themselves (the train/val phase loop)
        restoring = {id(loop) for kind, setter in modes if kind == TRAIN_SET and setter is not None
                     for loop in facts.setter_loops(setter)}
        for kind, setter in modes:
            if kind != EVAL or setter is None or setter in reported:
                continue
            loops = [loop for loop in facts.setter_loops(setter) if loop.trains]
            if not loops or any(id(loop) in restoring for loop in loops):
                continue
            reported.add(setter)
            name = shown(event)
            text = code_of(setter)
            if text.endswith(".eval()") or ".train(" in text:
                what = f"`{text}` switches `{name}` to eval mode"
            else:
                what = f"`{text.split('(')[0]}(...)` leaves `{name}` in eval mode"
            yield Report(setter, (f"{what} inside the training loop, and the next training step runs without "
                                  f"`{name}.train()`: call `{name}.train()` where training resumes"),
                         lambda s=setter, e=event: fixes.train_where_training_resumes(facts, s, e))
