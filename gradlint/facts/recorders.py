"""Small recorders the interpreter calls at a few places, for GL104, GL105, GL204, GL502, GL503, GL902.

Each takes the running interpretation (``interp._Run``) and only records an event: it never
changes a value or a state, so the analysis the other rules read is the same with or
without it. Where a fact needs the syntax around a call (an ``if self.training:`` guard, a
``% k`` accumulation guard), the rule reads it from the event's node.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from . import words
from .events import ForwardMethod, FunctionalCall, GradReset, InferenceUse, LossInput, OptimizerStep
from .names import key_of
from .syntax import arg_of, const_bool
from .values import REQUIRES_GRAD

_F = "torch.nn.functional."
DROPOUTS = frozenset(_F + n for n in ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
                                      "feature_alpha_dropout"))
ATTENTION = _F + "scaled_dot_product_attention"
_LOSSES = {_F + "cross_entropy": "cross_entropy", _F + "nll_loss": "nll_loss",
           "torch.nn.CrossEntropyLoss": "cross_entropy", "torch.nn.NLLLoss": "nll_loss"}
_SOFTMAX = frozenset({_F + "softmax", "torch.softmax", "torch.special.softmax", "torch.nn.Softmax"})
# Helpers named for clearing gradients (their bodies may live where the analysis cannot see).
_RESET_NAMES = frozenset({"reset_grad", "reset_grads", "clear_grad", "clear_grads", "zero_grads", "zero_gradients"})
_GRAD_CLEARING = frozenset({"zero_", "fill_"})
# What puts forward hooks on a module (or, for the global ones, on every module).
_HOOK_METHODS = frozenset({"register_forward_hook", "register_forward_pre_hook"})
_HOOKING_FUNCTIONS = frozenset({"torch.nn.utils.weight_norm", "torch.nn.utils.spectral_norm"})  # pre-hooks
_GLOBAL_HOOKS = frozenset({"torch.nn.modules.module.register_module_forward_hook",
                           "torch.nn.modules.module.register_module_forward_pre_hook"})


# -- where the interpreter calls in ---------------------------------------------------------------
def inference_decorator(fn) -> Optional[cst.CSTNode]:
    """The ``@torch.inference_mode()`` decorator of a function, or None."""
    node = getattr(fn, "node", None)
    for qual, deco in zip(getattr(fn, "decorator_quals", ()), getattr(node, "decorators", ()) or ()):
        if qual == "torch.inference_mode":
            call = deco.decorator
            if type(call) is cst.Call and call.args and const_bool(call.args[0].value) is False:
                continue
            return call
    return None


def inference_context(run, expr: cst.CSTNode) -> Optional[cst.CSTNode]:
    """``expr`` when ``with expr:`` enters inference mode (``torch.inference_mode()``, not ``(False)``)."""
    if type(expr) is not cst.Call or run.imports.qualname(expr.func) != "torch.inference_mode":
        return None
    if expr.args and const_bool(expr.args[0].value) is False:
        return None
    return expr


def on_call(run, node: cst.Call) -> None:
    """Any call: a helper named for clearing gradients, or ``p.grad.zero_()`` and its kin."""
    func = node.func
    name = func.attr.value if type(func) is cst.Attribute else (func.value if type(func) is cst.Name else "")
    if name == "Variable" and any(a.keyword is not None and a.keyword.value == "volatile" for a in node.args):
        run.events.volatile = True
    if "zero_grad" in name or name in _RESET_NAMES:
        receiver = key_of(func.value) if type(func) is cst.Attribute else None
        _reset(run, node, receiver)
    elif type(func) is cst.Attribute and name in _GRAD_CLEARING:
        owner = key_of(func.value) or ""
        if owner.endswith(".grad") or owner.endswith(".grad.data"):
            _reset(run, node, owner.rsplit(".grad", 1)[0])


def on_method(run, node: cst.Call, recv, meth: str, st) -> None:
    """A method call with its receiver evaluated: optimizer steps, backward calls, ``.softmax()``,
    ``.forward()``."""
    if meth == "forward":
        run.record("forward_methods", node, ForwardMethod(node, run.fn, recv.key, recv))
    elif meth in _HOOK_METHODS and recv.key:
        run.events.hooked.setdefault(recv.key, f"`{meth}`")
        _hooks_in_class(run)
    elif meth == "step":
        key, value = _stepped(run, node, recv, st)
        if key is not None or value is not None:
            run.record("steps", node, OptimizerStep(node, run.fn, key, value, tuple(run.loops)))
    elif meth in ("backward", "manual_backward"):
        run.events.backward_loops[node] = tuple(run.loops)
    elif meth == "softmax":
        run.events.softmax_made.add(node)


def _hooks_in_class(run) -> None:
    """A class whose own methods (or functions nested in them) register hooks on modules."""
    method = run.fn.method
    if method is not None:
        run.events.hooking_classes.add(id(method.cls))


def on_api(run, node: cst.Call, qual: str, args) -> None:
    """A call of a torch (or library) function by its qualified name."""
    if qual in DROPOUTS or qual == ATTENTION:
        run.record("functional", node, FunctionalCall(node, run.fn, qual))
    elif qual in _LOSSES:
        _loss(run, node, _LOSSES[qual], args)
    elif qual in _SOFTMAX:
        run.events.softmax_made.add(node)
    elif qual in ("torch.autograd.backward", "torch.autograd.grad"):
        run.events.backward_loops[node] = tuple(run.loops)
    elif qual in _HOOKING_FUNCTIONS or qual.startswith("torch.nn.utils.prune."):
        first = arg_of(args, 0, "module")
        if first is not None and first[1].key:
            run.events.hooked.setdefault(first[1].key, f"`{qual.rsplit('.', 1)[-1]}`")
            _hooks_in_class(run)
    elif qual in _GLOBAL_HOOKS:
        run.events.hooked.setdefault(None, f"`{qual.rsplit('.', 1)[-1]}`")


def on_module_call(run, node: cst.Call, callee, args) -> None:
    """A call of a parameter-free nn module (a loss, an activation)."""
    qual = callee.qual
    if qual in _LOSSES:
        _loss(run, node, _LOSSES[qual], args)
    elif qual in _SOFTMAX:
        run.events.softmax_made.add(node)


def on_forward(run, node: cst.Call, st) -> None:
    """A model call: the mode map, the frozen keys and whether a step ran before (GL105 reads parts of
    the model)."""
    run.events.forward_states[node] = (st.modes, st.frozen, st.trained)


def on_op(run, node, facts, st, how: str, requires_grad: bool) -> None:
    """A tensor operation outside inference mode on a tensor made inside it (GL204)."""
    made = run.events.inference_made
    if run.inference is not None or not made or not st.grad & {"on", "entry"}:
        return
    for fact in facts:
        origin = fact.origin
        if origin is None or origin not in made:
            continue
        others = [f for f in facts if f is not fact and f.atoms <= REQUIRES_GRAD]
        if requires_grad or others:
            run.record("inference_uses", node, InferenceUse(node, run.fn, origin, how, st.grad))
        return


def on_grad_assign(run, target: cst.Attribute) -> None:
    """``p.grad = None`` (or any new value): the gradient is replaced."""
    _reset(run, target, key_of(target.value))


def on_del(run, node: cst.Del) -> None:
    targets = node.target.elements if isinstance(node.target, (cst.Tuple, cst.List)) else [node.target]
    for t in targets:
        target = getattr(t, "value", t)
        if type(target) is cst.Attribute and target.attr.value == "grad":
            _reset(run, node, key_of(target.value))


def on_bare_zero_grad(run, node: cst.Expr, recv) -> None:
    """``optimizer.zero_grad`` without the call: GL102 reports it; GL502 does not repeat it."""
    run.record("resets", node, GradReset(node, run.fn, recv.key, tuple(run.loops), bare=True))


# -- helpers ------------------------------------------------------------------------------------------
def _reset(run, node, key: Optional[str]) -> None:
    run.record("resets", node, GradReset(node, run.fn, key, tuple(run.loops)))


def _loss(run, node: cst.Call, loss: str, args) -> None:
    first = arg_of(args, 0, "input")
    run.record("losses", node, LossInput(node, run.fn, loss, first[1] if first else None,
                                         first[0].value if first else None))


def _optimizer_like(run, key: Optional[str], value) -> bool:
    if value is not None and value.kind == "optimizer":
        return True
    return bool(key) and _named_optimizer(key)


def _named_optimizer(key: str) -> bool:
    toks = words.tokens(key.rsplit(".", 1)[-1])
    return bool(toks & {"optimizer", "optim", "opt", "optimiser"}) or any(
        t.startswith("opt") and len(t) <= 5 for t in toks)


def _stepped(run, node: cst.Call, recv, st):
    """The optimizer a ``.step()`` call steps: its receiver, or the optimizer passed to it
    (``scaler.step(optimizer)``); (None, None) when it is no optimizer's step (``env.step``)."""
    if _optimizer_like(run, recv.key, recv):
        return recv.key, recv
    for a in node.args:
        key = key_of(a.value)
        value = st.env.get(key) if key else None
        if _optimizer_like(run, key, value):
            return key, value
    return None, None
