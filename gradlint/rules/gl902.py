"""GL902 softmax-into-cross-entropy: `cross_entropy` / `CrossEntropyLoss` / `nll_loss` given softmax output.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL902``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst

from ..docs import RuleDoc, SAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, num, plural, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule
from .common import model_value

_MODEL_OUTPUT = "the model's output"


# -- check -----------------------------------------------------------------------------------------
@rule("GL902", "softmax-into-cross-entropy", "error",
      "`cross_entropy` / `CrossEntropyLoss` / `nll_loss` given softmax output: gradients shrink.")
def check(facts):
    for event in facts.events.losses.values():
        how = _softmax_source(facts, event)
        if how is None:
            continue
        shown = code_of(event.node.func)
        if not shown.endswith(event.loss):
            shown += f"` (a {'CrossEntropyLoss' if event.loss == 'cross_entropy' else 'NLLLoss'})"
        else:
            shown += "`"
        if event.loss == "nll_loss":
            message = f"`{shown} expects log-probabilities but gets softmax output ({how})"
            help = ("it minimises -p[y] instead of -log p[y] and its gradients vanish as p[y] grows; use "
                    "`log_softmax`")
        else:
            message = f"`{shown} applies log_softmax to softmax output ({how})"
            help = "the softmax runs twice, the loss saturates and the gradients shrink; pass the logits"
        yield Report(event.node, message, lambda e=event: drop_softmax(facts, e), help)


def _softmax_source(facts, event) -> Optional[str]:
    """How the loss's input is a softmax: inline, through a name, or a model whose forward returns one."""
    made = facts.events.softmax_made
    if event.arg is None:
        return None
    if event.arg in made:
        return "inline"
    value = event.input
    fact = value.tensor if value is not None and value.kind == "tensor" else None
    origin = fact.origin if fact is not None else None
    if origin is None:
        return None
    if origin in made:
        return f"`{code_of(event.arg)}` is a softmax" if isinstance(event.arg, cst.Name) else "a softmax"
    if fact.how == _MODEL_OUTPUT and origin in facts.events.forward_calls:
        call = facts.events.forward_calls[origin]
        cls = getattr(model_value(facts, call), "cls", None)
        forward = cls.method("forward") if cls is not None else None
        if forward is not None and not getattr(forward, "is_summary", False) and _returns_softmax(facts, forward):
            return f"`{cls.name}.forward` returns a softmax"
    return None


def _returns_softmax(facts, forward) -> bool:
    """``forward`` returns a softmax on every path: one return statement, whose value is a softmax call,
    or a name whose last assignment in the function's own body (not under a condition) is one."""
    key = ("gradlint.rules.gl902", id(forward))
    if key not in facts._memo:
        facts._memo[key] = _softmax_returned(forward, facts.events.softmax_made)
    return facts._memo[key]


def _softmax_returned(forward, made) -> bool:
    value = forward.returns
    fact = value.tensor if value is not None and value.kind == "tensor" else None
    if fact is None or fact.origin not in made:
        return False  # what the facts saw returned is no softmax: no need to read the returns
    returns = [r for r in _Returns.of(forward.node) if r.value is not None]
    if len(returns) != 1:
        return False
    value = returns[0].value
    if isinstance(value, cst.Name):
        everywhere = _Assignments(value.value)
        forward.node.body.visit(everywhere)
        body = forward.node.body.body if isinstance(forward.node.body, cst.IndentedBlock) else ()
        top = [small.value for stmt in body if isinstance(stmt, cst.SimpleStatementLine) for small in stmt.body
               if isinstance(small, cst.Assign) and _assigns(small, value.value)]
        value = top[-1] if top and everywhere.values and everywhere.values[-1] is top[-1] else None
    return value is not None and value in made


def _assigns(node: cst.Assign, name: str) -> bool:
    return any(isinstance(t.target, cst.Name) and t.target.value == name for t in node.targets)


class _Assignments(cst.CSTVisitor):
    """The values assigned to a name, in source order, at any depth (nested functions aside)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values = []

    def visit_Assign(self, node: cst.Assign) -> None:
        if _assigns(node, self.name):
            self.values.append(node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name) and node.target.value == self.name:
            self.values.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False


class _Returns(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = []

    @classmethod
    def of(cls, node: cst.FunctionDef):
        visitor = cls()
        node.body.visit(visitor)
        return visitor.found

    def visit_Return(self, node: cst.Return) -> None:
        self.found.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False


# -- fix -------------------------------------------------------------------------------------------
def _dim_only(call: cst.Call) -> bool:
    """``x.softmax(1)`` / ``x.softmax(dim=-1)``: a tensor method, not a module called on a tensor."""
    if len(call.args) != 1:
        return not call.args
    arg = call.args[0]
    value = arg.value
    if isinstance(value, cst.UnaryOperation):
        value = value.expression
    return (arg.keyword is not None and arg.keyword.value == "dim") or isinstance(value, cst.Integer)


def drop_softmax(facts, event) -> Union[Fix, NotFixable]:
    """GL902: an inline softmax is removed (cross_entropy) or becomes log_softmax (nll_loss)."""
    arg = event.arg
    if arg not in facts.events.softmax_made or not isinstance(arg, cst.Call):
        return NotFixable("the softmax is computed elsewhere (a name or the model's forward): pass the logits "
                          "to the loss and keep the softmax for the probabilities")
    func = arg.func
    named = isinstance(func, cst.Attribute) and func.attr.value == "softmax"
    function = facts.scopes.imports.qualname(func) is not None
    method = named and not function and _dim_only(arg)
    if event.loss == "nll_loss":
        if not (function or method):
            return NotFixable("the softmax is a module: use `nn.LogSoftmax` there")
        new = arg.with_changes(func=func.with_changes(attr=cst.Name("log_softmax")))
        return Fix((Edit(arg, lambda updated: new),), f"use `{code_of(new.func)}`", safe=True)
    if method:
        logits = func.value
    elif arg.args and arg.args[0].keyword is None and not arg.args[0].star:
        logits = arg.args[0].value
    else:
        return NotFixable("the softmax's input is not its first argument")
    return Fix((Edit(arg, lambda updated: logits),), f"pass the logits `{code_of(logits)}`", safe=True)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL902",
    what="""
Finds `F.cross_entropy`, `nn.CrossEntropyLoss()` and `F.nll_loss` given the output of a
softmax: `F.softmax` / `torch.softmax` / `x.softmax(dim)` / `nn.Softmax`, inline, through a
name, or as the return value of the model's own `forward`.
""",
    why="""
`cross_entropy` takes logits and applies `log_softmax` itself. Given probabilities, it
applies a second softmax to numbers in [0, 1]: the predicted distribution can never become
confident, the loss saturates, and the gradient reaching the network is several times
smaller than with the logits (training is slow or stalls). `nll_loss` expects
log-probabilities; given probabilities it minimises `-p[y]` instead of `-log p[y]`, a
different objective whose gradient vanishes as the model learns.
""",
    example="""
import torch
import torch.nn as nn
import torch.nn.functional as F

model = nn.Linear(16, 4)
x, y = torch.randn(8, 16), torch.randint(0, 4, (8,))
loss = F.cross_entropy(F.softmax(model(x), dim=1), y)
loss.backward()
""",
    use_instead="""
import torch
import torch.nn as nn
import torch.nn.functional as F

model = nn.Linear(16, 4)
x, y = torch.randn(8, 16), torch.randint(0, 4, (8,))
loss = F.cross_entropy(model(x), y)
loss.backward()
""",
    not_flagged="""
- `log_softmax` into `nll_loss` (the intended pair), and `log_softmax` into `cross_entropy`
  (log_softmax is idempotent: the loss is the same).
- A softmax used only for metrics or predictions while the loss gets the logits.
- A model whose `forward` returns a softmax on one path only (`if self.training: return logits`).
""",
    verifier="""
Wraps `F.cross_entropy` / `F.nll_loss` (which `nn.CrossEntropyLoss` / `nn.NLLLoss` call).
When the input is a softmax output (its `grad_fn` is `SoftmaxBackward0`), it computes, from
the probabilities `p` and the targets, the gradient the loss sends back to the logits
through the softmax, and the gradient the intended loss (`cross_entropy` on the logits,
`log p` standing for them; `nll_loss` on `log_softmax`) would give on the same batch, and
reports both norms.
""",
    fix=f"""
{SAFE_FIX}, where the softmax is written inside the loss call: `cross_entropy` gets the
softmax's input (the logits), and `nll_loss`'s `F.softmax` / `x.softmax` becomes
`log_softmax`. Not fixable when the softmax comes through a name or the model's forward
(its probabilities may be used elsewhere): pass the logits to the loss there.
""",
)


# -- runtime effect --------------------------------------------------------------------------------
def _smaller(records):
    return [r for r in records if "grad_norm" in r and r["grad_norm"] < r["logits_grad_norm"]]


def _evidence(records) -> str:
    r = min(_smaller(records), key=lambda x: x["grad_norm"] / x["logits_grad_norm"])
    ratio = r["logits_grad_norm"] / r["grad_norm"] if r["grad_norm"] else float("inf")
    intended = "with the logits" if r["loss"] == "cross_entropy" else "with log_softmax"
    return (f"gradient reaching the logits {num(ratio)}x smaller than {intended} on the same batch "
            f"(norm {num(r['grad_norm'])} vs {num(r['logits_grad_norm'])}; {r['loss']} on softmax output, "
            f"{plural(len(records), 'measured call')})")


@effect("GL902")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    records = [r for r in obs.at("losses", at) if "grad_norm" in r]
    if not records:
        return Outcome(NOT_REPRODUCED, "the loss at this line never received softmax output with a graph")
    if _smaller(records):
        return Outcome(CONFIRMED, _evidence(records))
    return Outcome(NOT_REPRODUCED, f"the gradient was not smaller than with the logits "
                                   f"({plural(len(records), 'measured call')})")


@scan("GL902")
def effect_anywhere(obs: Observations):
    found = [(at, _evidence(rs)) for at, rs in obs.sites("losses", lambda r: "grad_norm" in r) if _smaller(rs)]
    return found, "no classification loss received softmax output"
