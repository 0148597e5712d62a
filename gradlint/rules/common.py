"""Facts that several rules read about a model call."""

from __future__ import annotations

from typing import Optional

from ..facts import FileFacts
from ..facts.events import ForwardCall
from ..facts.values import Value, join_values


def model_value(facts: FileFacts, event: ForwardCall):
    """The called model's value: for a parameter, what every caller passes; for ``self.x``
    assigned from an ``__init__`` parameter, what every construction passes."""
    value = event.value
    key = event.key
    fn = event.fn
    if key is None or (value.kind == "module" and value.mode_dep is not None) or fn.is_module_level:
        return value
    if key in fn.params:
        return _better(_passed(fn, key, value), value)
    origin = value.alias_of or key
    if "." in origin and origin.split(".", 1)[0] in fn.params:
        # ctx.model(x), or model = ctx.model: what the callers' ctx holds there (its class's attribute)
        root, attr = origin.split(".", 1)
        owner = _owner_class(fn, root)
        found = owner.attr(attr) if owner is not None and "." not in attr else None
        if found is not None and found.kind == "module":
            return found
    cls = fn.cls
    if cls is not None and key.startswith("self.") and key.count(".") == 1:
        attr = cls.attr(key[5:])
        init = cls.method("__init__")
        if attr is not None and attr.kind in ("unknown", "module") and init is not None and attr.key in init.params:
            return _better(_passed(init, attr.key, value), value)
    return value


def _owner_class(fn, param: str):
    """The class of the objects every caller passes as ``param`` (a context, a trainer), if one."""
    if fn.escapes or not fn.callsites:
        return None
    classes = {id(v.cls): v.cls for v in ((s.values or {}).get(param) for s in fn.callsites)
               if v is not None and v.cls is not None}
    return next(iter(classes.values())) if len(classes) == 1 else None


def _better(passed, value):
    """What the callers pass, unless it says less than the value itself."""
    if passed.kind == "module" or value.kind != "module":
        return passed
    return value


_MAX_CHAIN = 6


def _passed(fn, param: str, default, depth: int = 0, active=None):
    """What the call sites of ``fn`` pass as ``param``: a module when some caller passes one
    and no caller passes something that is not one (a number, a tensor, a function). A
    caller that passes on its own parameter is followed to its callers (``train(net)``
    calling ``evaluate(net)``), and one that uses it as a module (``net.parameters()``)
    counts as passing a module."""
    active = active if active is not None else set()
    if fn.escapes or not fn.callsites or (id(fn), param) in active or depth > _MAX_CHAIN:
        return default
    active.add((id(fn), param))
    try:
        modules = None
        for site in fn.callsites:
            arg = _argument(site, param, depth, active)
            if arg is None or arg.kind in ("unknown", "none"):
                continue
            if arg.kind != "module":
                return default  # some caller passes something else: not a model parameter
            modules = join_values(modules, arg)
        return modules if modules is not None else default
    finally:
        active.discard((id(fn), param))


def _argument(site, param: str, depth: int, active):
    arg = (site.values or {}).get(param)
    if arg is not None and arg.kind not in ("unknown", "none"):
        return arg
    caller, key = site.caller, (site.args or {}).get(param)
    if key and not caller.is_module_level:
        if key in caller.params:  # what the caller's callers pass says the most
            passed = _passed(caller, key, None, depth + 1, active)
            if passed is not None and passed.kind == "module":
                return passed
        if key in caller.modulelike:
            return Value("module", key=key)
    return arg


def is_model_call(facts: FileFacts, event: ForwardCall) -> bool:
    """A call of an nn.Module that holds parameters (not a loss or an activation), by
    evidence: its value, or its use as a module in the function (``.eval()``,
    ``.parameters()``, ...). A name alone never makes a model."""
    value = model_value(facts, event)
    if value.kind == "module":
        return value.has_params is not False or value.mode_dep is True
    key = event.key
    return bool(key) and key in event.fn.modulelike


def mode_dependent(facts: FileFacts, event: ForwardCall) -> Optional[bool]:
    value = model_value(facts, event)
    return value.mode_dep if value.kind == "module" else None


def owned_by_framework(facts: FileFacts, event: ForwardCall) -> bool:
    return facts.framework_of(event.fn) is not None or facts.is_test_function(event.fn) \
        or facts.is_test_helper(event.fn)


def shown(event: ForwardCall) -> str:
    """The model as a reader knows it: ``self.blocks[...]`` for an element of a container."""
    if not event.key:
        return "the model"
    return display_key(event.key)


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
        regions = _inference_regions(facts, event)
        if not regions or event.probe or owned_by_framework(facts, event) or _own_computation(regions[0]):
            continue
        if is_model_call(facts, event):
            event.regions = regions
            yield event


def _inference_regions(facts: FileFacts, event) -> tuple:
    """The event's regions, without a ``no_grad`` block that a training loop holds (a teacher, a
    target network or an EMA model run inside the loop is not evaluation code) or that only
    wraps a model's own computation."""
    regions = tuple(r for r in event.regions if r.kind != "no_grad"
                    or not (facts.in_training_loop(event.loops) or facts.runs_in_training_loop(event.fn)))
    if regions and all(r.kind == "no_grad" for r in regions) and event.key \
            and (event.key == "self" or event.key.startswith("self.")) and event.fn.cls is not None \
            and event.fn.cls.is_module:
        return ()  # a module's own forward under no_grad (a frozen part) is not an inference region
    return regions


def _own_computation(region) -> bool:
    """A model's method called only by the model's own methods (its forward, its loss), as in
    ``def forward(self, x): return self.predict_logits(x)``: part of the model's computation,
    whatever its name says."""
    fn = region.fn
    if region.kind != "function" or fn.cls is None or not fn.cls.is_module or not fn.callsites:
        return False
    return all(site.receiver == "self" and site.caller.cls is not None
               and any(c is fn.cls for c in site.caller.cls.all_classes()) for site in fn.callsites)


def display_key(key: str) -> str:
    """A key as a reader knows it: ``model[...]`` for an element of a container."""
    return key.replace(".item", "[...]")


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
