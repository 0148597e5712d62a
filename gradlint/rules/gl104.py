"""GL104 functional-dropout-ignores-mode: `F.dropout` in a module without `training=`, attention dropout unguarded.

Everything about the rule in one place: the check over the file's facts, the fix,
the documentation page (``gradlint explain GL104``) and the runtime effect the verifier
measures.
"""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst

from ..docs import RuleDoc, SAFE_FIX
from ..facts import words
from ..facts.recorders import ATTENTION
from ..facts.syntax import const_bool
from ..fixes import Edit, Fix, NotFixable
from ..fixes.cst_tools import code_of, expression, path_to
from ..verify import CONFIRMED, NOT_REPRODUCED
from ..verify.effects import Outcome, effect, num, plural, scan
from ..verify.observations import Anchor, Observations
from . import Report, rule

# Words of a condition about the mode (`if self.training:`, `if not deterministic:`): the author
# decides per mode there. They only ever silence the rule.
_MODE_WORDS = frozenset({"training", "train", "deterministic", "eval", "evaluation", "inference", "testing"})
_NEVER_DROPS = ("alpha_dropout", "feature_alpha_dropout")   # their `training` defaults to False
# Classes and functions named for dropout at inference on purpose (Monte Carlo dropout, Bayesian layers).
_ALWAYS_WORDS = frozenset({"mc", "monte", "carlo", "montecarlo", "bayesian", "bayes", "mcdropout", "always"})


# -- check -----------------------------------------------------------------------------------------
@rule("GL104", "functional-dropout-ignores-mode", "error",
      "`F.dropout` in a module without `training=`, or attention `dropout_p` without a `self.training` guard.")
def check(facts):
    for event in facts.events.functional.values():
        if not _in_module(event.fn, set()) or _always_on_purpose(event.fn):
            continue
        node, shown = event.node, code_of(event.node.func)
        if event.qual == ATTENTION:
            p = _arg(node, 4, "dropout_p")
            if p is None or const_bool(p.value) is False or _chosen_by_mode(p.value, event.fn) \
                    or _guarded(event.fn, node):
                continue
            yield Report(node, f"`{shown}` with `dropout_p` and no `self.training` guard drops in eval mode too",
                         lambda e=event: guard_dropout_p(e),
                         f"the function does not know the module's mode; pass "
                         f"`dropout_p={code_of(p.value)} if self.training else 0.0`")
            continue
        if _arg(node, 2, "training") is not None or any(a.star for a in node.args):
            continue
        p = _arg(node, 1, "p")
        if p is not None and (const_bool(p.value) is False or _chosen_by_mode(p.value, event.fn)):
            continue
        if event.qual.rsplit(".", 1)[-1] in _NEVER_DROPS:
            message = f"`{shown}` without `training=` never drops, not even in training mode"
            why = "its `training` defaults to False"
        elif _guarded(event.fn, node):
            continue
        else:
            message = f"`{shown}` without `training=` drops in eval mode too"
            why = "its `training` defaults to True and `model.eval()` does not reach it"
        yield Report(node, message, lambda e=event: pass_training(e), f"{why}; pass `training=self.training`")


def _in_module(fn, seen) -> bool:
    """A method of an nn.Module (by evidence), a function nested in one, or a helper that one calls."""
    if fn is None or getattr(fn, "is_summary", False) or fn.is_module_level or id(fn) in seen:
        return False
    seen.add(id(fn))
    if fn.cls is not None and fn.cls.is_module and "staticmethod" not in fn.decorator_names:
        return True
    return _in_module(fn.parent, seen) or any(_in_module(site.caller, seen) for site in fn.callsites)


def _always_on_purpose(fn) -> bool:
    """A class or function named for dropout at inference (``MCDropout``, ``bayesian_forward``)."""
    while fn is not None and not fn.is_module_level:
        names = [fn.name] + ([fn.cls.name] if fn.cls is not None else [])
        if any(words.tokens(n) & _ALWAYS_WORDS for n in names):
            return True
        fn = fn.parent
    return False


def _arg(call: cst.Call, index: int, name: str) -> Optional[cst.Arg]:
    for i, a in enumerate(call.args):
        if a.keyword is not None:
            if a.keyword.value == name:
                return a
        elif not a.star and i == index:
            return a
    return None


class _Words(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found = False

    def visit_Name(self, node: cst.Name) -> None:
        self.found = self.found or bool(words.tokens(node.value) & _MODE_WORDS)


def _says_mode(node: cst.CSTNode) -> bool:
    """A name or attribute in the expression speaks of the mode (``self.training``, ``deterministic``)."""
    finder = _Words()
    node.visit(finder)
    return finder.found


def _guarded(fn, call: cst.Call) -> bool:
    """The call sits under a condition about the mode (`if self.training:`, `x if self.training else y`,
    `self.training and ...`)."""
    for node in path_to(fn.node, call) or ():
        test = getattr(node, "test", None) if isinstance(node, (cst.If, cst.IfExp, cst.While)) else None
        if isinstance(node, cst.BooleanOperation):
            test = node.left
        if test is not None and _says_mode(test):
            return True
    return False


def _mentions_mode(expr: cst.CSTNode, fn) -> bool:
    """`dropout_p=self.p if self.training else 0.0`, or a name assigned so in the function, or
    zeroed under a condition about the mode (`if not self.training: dropout_p = 0.0`)."""
    if _says_mode(expr):
        return True
    if isinstance(expr, cst.Name):
        finder = _Assigned(expr.value)
        fn.node.visit(finder)
        return any(_says_mode(value) for value in finder.values) or finder.under_mode
    return False


def _chosen_by_mode(expr: cst.CSTNode, fn) -> bool:
    """The probability is chosen by the mode here, or it is a parameter of the function and
    every caller in the file chooses what it passes by the mode (torch's own
    `_scaled_dot_product_attention(..., dropout_p)` shape)."""
    if _mentions_mode(expr, fn):
        return True
    if not isinstance(expr, cst.Name) or expr.value not in fn.params or not fn.callsites or fn.escapes:
        return False
    index = fn.params.index(expr.value)
    for site in fn.callsites:
        passed = _arg(site.node, index - (1 if site.receiver is not None else 0), expr.value)
        if passed is None or not _mentions_mode(passed.value, site.caller):
            return False
    return True


class _Assigned(cst.CSTVisitor):
    """The values assigned to ``name``; ``under_mode``: under a condition about the mode, one
    assignment sets it to zero (`if not self.training: dropout_p = 0.0`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values = []
        self.mode_tests = 0
        self.under_mode = False

    def visit_If(self, node: cst.If) -> None:
        self.mode_tests += _says_mode(node.test)

    def leave_If(self, node: cst.If) -> None:
        self.mode_tests -= _says_mode(node.test)

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(isinstance(t.target, cst.Name) and t.target.value == self.name for t in node.targets):
            self.values.append(node.value)
            self.under_mode = self.under_mode or (self.mode_tests > 0 and const_bool(node.value) is False)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.target, cst.Name) and node.target.value == self.name and node.value is not None:
            self.values.append(node.value)


# -- fix -------------------------------------------------------------------------------------------
def _self_available(fn) -> bool:
    while fn is not None and not fn.is_module_level:
        if fn.cls is not None:
            return bool(fn.cls.is_module) and bool(fn.params) and fn.params[0] == "self"
        fn = fn.parent
    return False


def pass_training(event) -> Union[Fix, NotFixable]:
    """GL104: ``training=self.training`` on the functional dropout."""
    if not _self_available(event.fn):
        return NotFixable("the call is in a helper outside the module's methods: pass the module's "
                          "`self.training` to it")
    arg = cst.Arg(keyword=cst.Name("training"), value=expression("self.training"),
                  equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                        whitespace_after=cst.SimpleWhitespace("")))

    def add(updated: cst.Call) -> cst.Call:
        args = list(updated.args)
        if args and args[-1].comma is cst.MaybeSentinel.DEFAULT:
            args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        return updated.with_changes(args=args + [arg])

    return Fix((Edit(event.node, add),), "pass `training=self.training`", safe=True)


def guard_dropout_p(event) -> Union[Fix, NotFixable]:
    """GL104: ``dropout_p=p if self.training else 0.0`` for attention."""
    if not _self_available(event.fn):
        return NotFixable("the call is in a helper outside the module's methods: pass the module's "
                          "`self.training` to it")
    p = _arg(event.node, 4, "dropout_p")
    text = code_of(p.value)
    if isinstance(p.value, (cst.IfExp, cst.Lambda, cst.NamedExpr)):
        text = f"({text})"
    guarded = expression(f"{text} if self.training else 0.0")
    return Fix((Edit(p.value, lambda updated: guarded),), f"pass `dropout_p={text} if self.training else 0.0`",
               safe=True)


# -- documentation ---------------------------------------------------------------------------------
DOC = RuleDoc(
    code="GL104",
    what="""
Finds functional dropout inside an `nn.Module` (its methods, functions nested in them, and
helpers they call): `F.dropout`, `F.dropout1d/2d/3d`, `F.alpha_dropout` and
`F.feature_alpha_dropout` called without `training=`, and
`F.scaled_dot_product_attention(..., dropout_p=p)` with a `dropout_p` that is not guarded by
the module's mode.
""",
    why="""
`nn.Dropout` reads the module's mode; the functions do not. `F.dropout`'s `training`
defaults to `True`, so `model.eval()` never reaches it: the model keeps dropping
activations at evaluation and inference, and two predictions on the same input differ.
`F.alpha_dropout` has the opposite default (`training=False`): it never drops, not even
while training. `scaled_dot_product_attention` applies `dropout_p` whenever it is nonzero.
""",
    example="""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        x = F.dropout(torch.relu(self.fc1(x)), p=0.5)
        return self.fc2(x)
""",
    use_instead="""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        x = F.dropout(torch.relu(self.fc1(x)), p=0.5, training=self.training)
        return self.fc2(x)
""",
    not_flagged="""
- Calls outside modules (data augmentation in a dataset or a plain function).
- The mode passed on: `training=self.training`, `training=True` (Monte Carlo dropout on
  purpose), `F.dropout(x, p, self.training)`, `**kwargs`.
- Classes and functions named for dropout at inference on purpose (`MCDropout`,
  `BayesianLinear`, `mc_forward`).
- Calls under a condition about the mode (`if self.training:`, `x if self.training else y`),
  attention with `dropout_p=p if self.training else 0.0` (also through a local name, or
  one zeroed under `if not self.training:`), and a constant `p=0` / `dropout_p=0.0`.
- A probability that is the function's parameter when every caller in the file chooses
  what it passes by the mode (torch's own `_scaled_dot_product_attention` shape).
""",
    verifier="""
Wraps the functional dropouts and `scaled_dot_product_attention` while the program runs.
At the flagged call, with the calling module in eval mode, the call still drops: a repeat
of the call on the same input (RNG restored) gives different values, and the share of
zeroed values is reported. For `alpha_dropout` the module is in training mode and the call
leaves every value unchanged.
""",
    fix=f"""
{SAFE_FIX} adds `training=self.training` to the dropout call, and turns attention's
`dropout_p=p` into `dropout_p=p if self.training else 0.0`. Not fixable in a helper outside
the module's methods (it has no `self`: pass the mode to it).
""",
)


# -- runtime effect --------------------------------------------------------------------------------
def _zeroed(records) -> str:
    shares = [r["zeroed"] for r in records if r.get("zeroed") is not None]
    return f"; {max(shares):.0%} of values zeroed" if shares and max(shares) > 0 else ""


def _in_eval(records):
    return [r for r in records if r.get("training") is False and r.get("active")]


def _evidence_eval(records) -> Optional[str]:
    dropped = [r for r in _in_eval(records) if (r.get("repeat_diff") or 0) > 0]
    if not dropped:
        return None
    r = dropped[0]
    return (f"`{r['module']}` is in eval mode and `{r['fn']}` still drops: two calls on the same input differ "
            f"(max |d| {num(max(x['repeat_diff'] for x in dropped))}){_zeroed(dropped)} "
            f"({len(dropped)} of {plural(len(records), 'measured call')})")


def _evidence_never(records) -> Optional[str]:
    idle = [r for r in records if r["fn"] in _NEVER_DROPS and r.get("training") is True
            and not r.get("active") and r.get("changed") == 0]
    if not idle:
        return None
    return (f"`{idle[0]['module']}` is in training mode and `{idle[0]['fn']}` left every value unchanged "
            f"(p={num(idle[0]['p'])}): it never drops ({len(idle)} of {plural(len(records), 'measured call')})")


@effect("GL104")
def effect_at(obs: Observations, at: Anchor) -> Outcome:
    records = [r for r in obs.at("dropouts", at) if "fn" in r]
    if not records:
        return Outcome(NOT_REPRODUCED, "no functional dropout ran at this line")
    found = _evidence_eval(records) or _evidence_never(records)
    if found:
        return Outcome(CONFIRMED, found)
    modes = sorted({"training" if r.get("training") else "eval" for r in records if r.get("module")})
    return Outcome(NOT_REPRODUCED, f"{plural(len(records), 'measured call')} in {' and '.join(modes) or 'no'} mode; "
                                   f"none dropped in eval mode")


@scan("GL104")
def effect_anywhere(obs: Observations):
    found = []
    sites = obs.sites("dropouts", lambda r: "fn" in r)
    for at, records in sites:
        evidence = _evidence_eval(records) or _evidence_never(records)
        if evidence:
            found.append((at, evidence))
    evaluated = sum(1 for _, rs in sites for r in rs if r.get("training") is False)
    return found, (f"{plural(sum(len(rs) for _, rs in sites), 'functional dropout call')} measured "
                   f"({evaluated} with the module in eval mode): none dropped in eval mode")
