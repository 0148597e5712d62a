"""GL404 graph-cut-by-tensor-constructor: `torch.tensor(t)` of a tensor that carries a graph, later backpropagated.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL404``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from ..docs import RuleDoc
from ..facts.values import REQUIRES_GRAD
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, plural, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule


# -- check -----------------------------------------------------------------------------------------
@rule("GL404", "graph-cut-by-tensor-constructor", "error",
      "`torch.tensor(t)` of a tensor that carries a graph, in a value that is backpropagated: what came before "
      "gets no gradient.")
def check(facts):
    reached = {}
    for event in facts.events.backwards.values():
        for cut in (event.fact.cuts if event.fact is not None else ()):
            reached.setdefault(cut, event)
    for node, cut in facts.events.graph_cuts.items():
        backward = reached.get(node)
        if backward is None:
            continue
        atoms = facts.resolve_tensor(cut.fn, cut.fact)
        if not atoms or not atoms <= REQUIRES_GRAD:
            continue
        yield Report(node, f"`torch.tensor({cut.name})` copies a graph into a new leaf: backward stops at the copy",
                     None,
                     f"nothing before the copy (the parameters that computed `{cut.name}`) gets a gradient "
                     f"through it; use `{cut.name}` itself (or `torch.stack` / `torch.cat` for several), or "
                     f"`{cut.name}.detach()` if the cut is meant")


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL404",
    what="""
Finds `torch.tensor(t)` (also of a list of tensors, `torch.tensor([a, b])`) where `t` carries
a graph (it requires grad: a model output, a loss, a parameter), when the copy flows into a
value that is backpropagated (`.backward()`, `torch.autograd.grad`) in the file.
""",
    why="""
`torch.tensor(t)` copies the values into a brand-new leaf with no history (torch warns
"To copy construct from a tensor, it is recommended to use sourceTensor.clone().detach()").
Whatever computed `t` is cut off: its parameters get no gradient from this path, so a
loss rebuilt with `torch.tensor(sum(losses), requires_grad=True)` or features passed
through `torch.tensor(features)` train nothing upstream, silently. Measured on torch 2.13,
`torch.as_tensor(t)` returns `t` itself and `torch.Tensor(t)` an alias: both keep the graph
and are not reported.
""",
    example="""
import torch
import torch.nn as nn

encoder, head = nn.Linear(8, 4), nn.Linear(4, 1)
x, y = torch.randn(16, 8), torch.randn(16, 1)
features = torch.tensor(encoder(x))
loss = nn.functional.mse_loss(head(features), y)
loss.backward()
""",
    use_instead="""
import torch
import torch.nn as nn

encoder, head = nn.Linear(8, 4), nn.Linear(4, 1)
x, y = torch.randn(16, 8), torch.randn(16, 1)
features = encoder(x)
loss = nn.functional.mse_loss(head(features), y)
loss.backward()
""",
    not_flagged="""
- Copies that are never backpropagated: metrics and logs (`torch.tensor(loss)` kept for a
  history), values made under `no_grad`.
- `torch.tensor(t.item())`, `torch.tensor(t.tolist())`, `t.detach()`, `t.clone()`.
- `torch.as_tensor(t)` and `torch.Tensor(t)`, which keep the graph.
""",
    verifier="""
A wrapper around `torch.tensor` records, for each copy of a tensor that requires grad, the
leaves upstream of it (found by walking `t.grad_fn`), and counts with
`register_post_accumulate_grad_hook` the gradients that reach them afterwards, and the
backward calls after the copy: confirmed when backward ran and no gradient reached them.
""",
    fix="""
No automatic fix: whether the copy should keep the graph (use `t`, `torch.stack`) or cut it on
purpose (`t.detach()`) is a decision about the program; the message says both.
""",
)


# -- runtime effect --------------------------------------------------------------------------------
def _shown(rec: dict) -> str:
    shapes = ", ".join("x".join(map(str, s)) or "scalar" for s in rec["shapes"])
    return f"{plural(rec['leaves'], 'upstream tensor')}" + (f" ({shapes})" if shapes else "")


def _copies(rec: dict) -> str:
    n = rec["copies"]
    return f"{n} cop{'y' if n == 1 else 'ies'}"


@effect("GL404")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    copies = obs.at("tensor_copies", at)
    if not copies:
        return Outcome(NOT_REPRODUCED, "`torch.tensor()` never copied a tensor that requires grad here")
    rec = copies[0]
    if rec["backwards_after"] == 0:
        return Outcome(NOT_REPRODUCED, f"the copy cut {_shown(rec)} off the graph, but no backward ran after it")
    if rec["reached"]:
        return Outcome(NOT_REPRODUCED, f"the copy cut {_shown(rec)}, but they still got {rec['reached']} "
                                       f"gradients through another path")
    return Outcome(CONFIRMED, f"the copy cut {_shown(rec)} off the graph: {plural(rec['backwards_after'], 'backward')} "
                              f"ran after it ({_copies(rec)}) and 0 gradients reached them")


@scan("GL404")
def effect_anywhere(obs: Observations):
    cut = [r for r in obs.all("tensor_copies") if r["backwards_after"] and not r["reached"] and r.get("path")]
    return ([((r["path"], r["line"]), f"the copy cut {_shown(r)}: 0 gradients reached them after "
                                      f"{plural(r['backwards_after'], 'backward')}") for r in cut],
            "no copy cut a graph that was backpropagated")
