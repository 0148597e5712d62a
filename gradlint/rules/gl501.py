"""GL501 history-accumulated-across-iterations: a grad-carrying tensor that outlives its iteration.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL501``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst

from ..docs import RuleDoc, SAFE_FIX
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import by_type, code_of, expression, parents
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, size
from ..verify.observations import Anchor, Observations
from . import Report, rule


# -- check -----------------------------------------------------------------------------------------
@rule("GL501", "history-accumulated-across-iterations", "warning",
      'A grad-carrying tensor is folded into something that outlives the iteration: its graph stays alive.')
def check(facts):
    backpropagated = set()
    for event in facts.events.backwards.values():
        if event.fact is not None:
            backpropagated |= {(id(event.fn), name) for name in event.fact.accum}
    for event in facts.events.accumulations.values():
        if (id(event.fn), event.name) in backpropagated:
            continue  # accumulated on purpose, then differentiated (gradient accumulation)
        if not event.per_step and _within_one_step(event):
            continue
        atoms = facts.resolve_tensor(event.fn, event.fact)
        if atoms != frozenset({"nonleaf"}):
            continue
        added = code_of(event.added) if event.added is not None else "value"
        item = added if isinstance(event.added, (cst.Name, cst.Attribute, cst.Call)) else f"({added})"
        yield Report(event.node, f"`{event.name}` keeps every iteration's autograd graph alive: `{added}` "
                                 f"carries grad history",
                     lambda e=event: detach_accumulated(facts, e), f"accumulate `{item}.item()` (or `.detach()`)")


def _within_one_step(event) -> bool:
    """The accumulated graphs live for one training step at most, not across steps."""
    loop = event.loop
    if not (loop.trains or loop.data):
        return True  # a loop over layers or scales inside one step (skip connections, feature lists)
    if not loop.trains and _in_forward(event.fn):
        return True  # a module's forward runs once per step: its loops are inside that step
    if event.fresh_in is not None and loop.trains and not any(out.steps for out in _loops_out(loop, event.fresh_in)):
        return True  # micro-batches of one step (backward each, no optimizer step): bound anew per step
    if not event.in_region and not any(out.trains for out in _loops_out(loop)):
        if loop.step_after:
            return True  # a training step follows in the function: the loop is inside that step
        if event.name in _returned_accumulators(event.fn.returns):
            return True  # the function's result (a loss a caller may backpropagate)
    return False


def _loops_out(loop, outer=None):
    """``loop`` and the loops around it, up to ``outer`` (not included)."""
    while loop is not None and loop is not outer:
        yield loop
        loop = loop.parent


def _returned_accumulators(value) -> frozenset:
    """The accumulators the function's returned tensors (a tuple's too) were computed from."""
    if value is None:
        return frozenset()
    found = value.tensor.accum if value.tensor is not None else frozenset()
    for element in value.elements:
        found |= _returned_accumulators(element)
    return found


def _in_forward(fn) -> bool:
    """A module's ``forward`` (or a function nested in it)."""
    while fn is not None and not fn.is_module_level:
        if fn.cls is not None and fn.cls.is_module and fn.name == "forward":
            return True
        fn = fn.parent
    return False


# -- fix -------------------------------------------------------------------------------------------
_NUMERIC_CALLS = frozenset({"float", "int", "round", "str", "repr", "print", "format", "abs", "len", "sum",
                            "min", "max", "sorted", "bool"})


_OWN_METHODS = frozenset({"append", "extend", "insert", "clear", "copy"})


_SCALAR_METHODS = frozenset({"mean", "sum", "norm", "item", "max", "min", "prod"})


_SCOPES = (cst.FunctionDef, cst.Lambda, cst.ClassDef)


def _numeric_only(scope: cst.CSTNode, name: str) -> bool:
    """Is ``name`` only used as a number (or a list of numbers) in ``scope``? Read through the
    tree's memoized index (``by_type`` / ``parents``): one walk per file, not per finding."""
    nodes = by_type(scope)
    if any(n.name.value == name for kind in (cst.Global, cst.Nonlocal) for d in nodes.get(kind, ())
           for n in d.names):
        return False
    up = parents(scope)
    for node in nodes.get(cst.Name, ()):
        if node.value != name:
            continue
        stack = []  # the node's ancestors inside the scope, outermost first
        parent = up.get(id(node))
        while parent is not None and parent is not scope:
            stack.append(parent)
            parent = up.get(id(parent))
        stack.reverse()
        if any(isinstance(n, _SCOPES) for n in stack):
            return False  # read by a nested scope: anything may happen there
        if not _label(node, stack) and not _numeric_use(stack):
            return False
    return True


def _label(node: cst.Name, stack) -> bool:
    """``obj.total`` or ``f(total=...)``: the same word, not the variable."""
    parent = stack[-1] if stack else None
    return (isinstance(parent, cst.Attribute) and parent.attr is node) or \
        (isinstance(parent, cst.Arg) and parent.keyword is node)


def _numeric_use(stack) -> bool:
    """Walk out from the name through the expressions that keep a number a number."""
    itself = True  # the current expression is the accumulator (or one of its elements)
    for i in range(len(stack) - 1, -1, -1):
        parent = stack[i]
        if isinstance(parent, cst.Subscript) and itself:
            continue  # acc[i]: an element of a list of numbers
        if isinstance(parent, (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.ComparisonTarget)):
            itself = False
            continue
        if isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.FormattedStringExpression,
                               cst.If, cst.While, cst.Assert, cst.IfExp, cst.BooleanOperation)):
            return True
        if isinstance(parent, cst.Attribute):
            return itself and parent.attr.value in _OWN_METHODS and i > 0 and isinstance(stack[i - 1], cst.Call)
        if isinstance(parent, cst.Arg):
            call = stack[i - 1] if i > 0 else None
            return isinstance(call, cst.Call) and isinstance(call.func, cst.Name) \
                and call.func.value in _NUMERIC_CALLS
        return False
    return False


def _scalar(expr: cst.BaseExpression, fn_node: cst.CSTNode, seen: frozenset = frozenset()) -> bool:
    """A loss or a reduction: the value ``.item()`` accepts."""
    if isinstance(expr, cst.Name):
        if "loss" in expr.value.lower():
            return True
        if expr.value in seen:  # `a = b; b = a`
            return False
        value = _assigned(fn_node, expr.value)
        return value is not None and _scalar(value, fn_node, seen | {expr.value})
    if isinstance(expr, cst.Call):
        func = expr.func
        last = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else ""
        if isinstance(func, cst.Attribute) and last in _SCALAR_METHODS and not expr.args:
            return True
        return "loss" in last.lower() or last in ("criterion", "cross_entropy", "nll_loss")
    return False


def _assigned(scope: cst.CSTNode, name: str) -> Optional[cst.BaseExpression]:
    """The value of the one assignment ``name = value`` in the scope, when there is one."""
    values = [node.value for node in by_type(scope).get(cst.Assign, ())
              for t in node.targets if isinstance(t.target, cst.Name) and t.target.value == name]
    return values[0] if len(values) == 1 else None


def detach_accumulated(facts, event) -> Union[Fix, NotFixable]:
    added = event.added
    if added is None:
        return NotFixable("the accumulated value is not known")
    scope = event.fn.node
    use_item = "." not in event.name and _scalar(added, scope)
    if use_item:
        use_item = _numeric_only(scope, event.name)
    method = "item" if use_item else "detach"
    simple = isinstance(added, (cst.Name, cst.Attribute, cst.Call, cst.Subscript))
    text = code_of(added) if simple else f"({code_of(added).strip()})"
    new = expression(f"{text}.{method}()")
    if use_item:
        why = ""
    elif "." in event.name:
        why = f": `{event.name}` may be read anywhere"
    else:
        why = f": `{event.name}` is used as a tensor"
    return Fix((Edit(added, lambda updated: new),), f"accumulate `{text}.{method}()`{why}", safe=True)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL501",
    what="""
Finds a tensor that carries autograd history (a loss, a model output) folded into
something that outlives the loop iteration: `total += loss`, `losses.append(loss)`, a
metrics dict, an attribute, without `.item()`, `.detach()` or `float()`.
""",
    why="""
Each accumulated value keeps a reference to its iteration's whole autograd graph, with
the activations saved for backward. Memory grows with every iteration until the loop
ends or the process runs out of memory (the PyTorch FAQ's first "my model reports out of
memory" case), and the accumulator is a graph rather than a number.
""",
    example="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train_epoch(loader):
    total_loss = 0.0
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss
    return total_loss / len(loader)
""",
    use_instead="""
import torch
import torch.nn as nn

model = nn.Linear(16, 2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)


def train_epoch(loader):
    total_loss = 0.0
    for x, y in loader:
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item()
    return total_loss / len(loader)
""",
    not_flagged="""
- Gradient accumulation on purpose: a sum of losses that is later backpropagated.
- Values that are detached, converted with `.item()` / `float()`, or computed under
  `torch.no_grad()`, and indices (`argmax`, the indices of `max`/`topk`).
- Loops inside one step: skip connections, feature pyramids or per-layer loss terms
  collected in a model's `forward` or a loss function. Only loops over steps count:
  training loops (backward or an optimizer step inside) and loops over data.
- A loop over data inside one training step: a function whose optimizer step or backward
  follows the loop (per-domain losses of one update), when no loop around it trains.
- A sum a function returns, outside a training loop and an evaluation region: its caller
  may backpropagate it (a loss over a sequence's positions).
- Micro-batches of one step: a loop that backpropagates each chunk with no optimizer step
  inside, adding to a list bound anew by the loop around it (once per step).
""",
    verifier="""
The number of autograd nodes reachable from the accumulator (or the memory it holds)
grows linearly with the iterations; it stays flat in the fixed code.
""",
    fix=f"""
{SAFE_FIX} accumulates `loss.item()` when the accumulator is only used as a number in its
scope and the value is a scalar (a loss, a reduction), else `loss.detach()`.
""",
)

# -- runtime effect --------------------------------------------------------------------------------
@effect("GL501")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    probes = [p for p in obs.at("probes", at) if "after" in p]
    if not probes:
        return Outcome(NOT_REPRODUCED, "the statement ran but was not measured")
    subject = probes[0].get("subject") or "the accumulator"
    nodes = [(p["after"].get("subject") or {}).get("nodes") for p in probes]
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        kind = (probes[-1]["after"].get("subject") or {}).get("type", "value")
        return Outcome(NOT_REPRODUCED, f"`{subject}` holds no autograd graph (a {kind})")
    if len(nodes) < 2:
        return Outcome(NOT_REPRODUCED, f"the line ran once: no growth to measure ({nodes[0]} nodes)")
    # the accumulator may be reset (a new epoch): growth is judged within each run of increases
    runs, start = [], 0
    for i in range(1, len(nodes) + 1):
        if i == len(nodes) or nodes[i] < nodes[i - 1]:
            runs.append(nodes[start:i])
            start = i
    longest = max(runs, key=lambda r: (r[-1] - r[0], len(r)))
    if longest[-1] > longest[0]:
        text = (f"autograd graph reachable from `{subject}` grew {longest[0]} -> {longest[-1]} nodes over "
                f"{len(longest)} iterations")
        if len(runs) > 1:
            text += f" ({len(runs) - 1} reset{'s' if len(runs) > 2 else ''} in between)"
        mem = [p["after"].get("cuda_mem") for p in probes if p["after"].get("cuda_mem") is not None]
        if len(mem) > 1 and max(mem) > mem[0]:
            text += f"; CUDA memory +{size(max(mem) - mem[0])}"
        return Outcome(CONFIRMED, text)
    return Outcome(NOT_REPRODUCED, f"the graph reachable from `{subject}` stayed at {nodes[-1]} nodes over "
                                   f"{len(nodes)} iterations")
