"""Facts that several rules read about a model call."""

from __future__ import annotations

from typing import Optional

from ..facts import FileFacts
from ..facts.events import ForwardCall
from ..facts.values import join_values
from ..facts import words


def model_value(facts: FileFacts, event: ForwardCall):
    """The called model's value; for a parameter, what the callers in this file pass."""
    value = event.value
    key = event.key
    fn = event.fn
    if key is None or value.kind == "module" or fn.is_module_level or key not in fn.params:
        return value
    passed = None
    for site in fn.callsites:
        arg = site.values.get(key)
        if arg is None or fn.escapes:
            return value
        passed = join_values(passed, arg)
    return passed if passed is not None else value


def is_model_call(facts: FileFacts, event: ForwardCall) -> bool:
    """A call of an nn.Module that holds parameters (not a loss or an activation)."""
    value = model_value(facts, event)
    if value.kind == "module":
        return value.has_params is not False
    key = event.key
    return bool(key) and (key in event.fn.modulelike or words.is_model_name(key))


def mode_dependent(facts: FileFacts, event: ForwardCall) -> Optional[bool]:
    value = model_value(facts, event)
    return value.mode_dep if value.kind == "module" else None


def owned_by_framework(facts: FileFacts, event: ForwardCall) -> bool:
    return facts.framework_of(event.fn) is not None or facts.is_test_function(event.fn)


def shown(event: ForwardCall) -> str:
    return event.key or "the model"


def inside_own_model(event: ForwardCall) -> bool:
    """``self.encoder(x)`` inside a model's own methods: a part of the model, whose mode is the
    model's; what matters is where the model itself is called."""
    fn = event.fn
    key = event.key or ""
    return (fn.cls is not None and fn.cls.is_module
            and (key == "self" or key.startswith("self.")))


def caller_owns_mode(event: ForwardCall) -> bool:
    """For a ``self.*`` model in a method nobody in this file calls: the mode belongs to the
    caller when the class is itself a model, or when its base class lives in another file
    (template methods called from there)."""
    if not (event.key == "self" or (event.key or "").startswith("self.")):
        return False
    cls = event.fn.cls
    if cls is None:
        return False
    if cls.is_module:
        return True
    local = {b.name for b in cls.local_bases}
    return any(name not in local and name != "object" for name in cls.base_names)


def inference_calls(facts: FileFacts):
    """Model calls in inference regions, outside framework hooks and unit tests: what GL101
    and GL201 judge."""
    for event in facts.events.forward_calls.values():
        if event.regions and not owned_by_framework(facts, event) and is_model_call(facts, event):
            yield event


class FirstPerRegion:
    """Each model is reported once per region, at its first offending call."""

    def __init__(self) -> None:
        self.seen = set()

    def __call__(self, event: ForwardCall) -> bool:
        key = (id(event.regions[0].node), event.key)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True
