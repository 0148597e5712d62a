"""GL5xx: graph lifetime."""

from __future__ import annotations

import libcst as cst

from . import code_of, rule


@rule("GL501")
def history_accumulated(facts):
    backpropagated = set()
    for event in facts.events.backwards.values():
        if event.fact is not None:
            backpropagated |= {(id(event.fn), name) for name in event.fact.accum}
    for event in facts.events.accumulations.values():
        if (id(event.fn), event.name) in backpropagated:
            continue  # accumulated on purpose, then differentiated (gradient accumulation)
        if not event.per_step and not (event.loop.trains or event.loop.data):
            continue  # a loop over layers or scales inside one step (skip connections, feature lists)
        atoms = facts.resolve_tensor(event.fn, event.fact)
        if atoms != frozenset({"nonleaf"}):
            continue
        added = code_of(event.added) if event.added is not None else "value"
        item = added if isinstance(event.added, (cst.Name, cst.Attribute, cst.Call)) else f"({added})"
        yield event.node, (f"`{event.name}` keeps every iteration's autograd graph alive: `{added}` carries "
                           f"grad history; accumulate `{item}.item()` (or `.detach()`)")
