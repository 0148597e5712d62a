"""Rules' runtime effects: the registry, the verdict, and the helpers effects share.

Each rule defines its effect once, beside its check in ``gradlint/rules/glNNN.py``: a
predicate over what the monitors measured. ``EFFECTS[code](obs, anchor)`` decides whether
the rule's harm happened at the anchor statement and says so with the measured numbers
(evidence is built from measurements, never written in). ``SCANS[code](obs)`` looks for
the same harm anywhere in a run, for good fixtures, where no line is flagged; rules whose
effect only makes sense at an anchor (a bare statement, a freeze site, an accumulator)
have no scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from . import CONFIRMED, NOT_REACHED, NOT_REPRODUCED, NOT_VERIFIED
from .observations import Anchor, Observations


@dataclass(frozen=True)
class Outcome:
    verdict: str
    evidence: str


Effect = Callable[[Observations, Anchor], Outcome]
Scan = Callable[[Observations], Tuple[List[Tuple[Anchor, str]], str]]
EFFECTS: Dict[str, Effect] = {}
SCANS: Dict[str, Scan] = {}
CANDIDATES: Dict[str, Callable] = {}   # code -> pick(ast.stmt, Subject): statements of the rule's shape


def effect(code: str):
    def register(fn: Effect) -> Effect:
        EFFECTS[code] = fn
        return fn
    return register


def scan(code: str):
    def register(fn: Scan) -> Scan:
        SCANS[code] = fn
        return fn
    return register


def candidates(code: str):
    """For a rule measured at a statement and without a scan: which statements of a good fixture
    have the rule's shape (the verifier measures each; the effect predicate decides)."""
    def register(fn):
        CANDIDATES[code] = fn
        return fn
    return register


def judge(code: str, obs: Observations, anchor: Anchor) -> Outcome:
    """The verdict for one (anchor, rule): confirmed, not reproduced or not reached."""
    check = EFFECTS.get(code)
    if check is None:
        return Outcome(NOT_VERIFIED, f"{code} has no runtime effect monitor yet")
    if not obs.reached(anchor):
        return Outcome(NOT_REACHED, "the line never ran" + _stopped(obs))
    return check(obs, anchor)


def _stopped(obs: Observations) -> str:
    exc = obs.final_exception
    if exc:
        where = f" at line {exc['line']}" if exc.get("line") else ""
        return f" (the program stopped with {exc['type']}{where})"
    if obs.status == "interrupted":
        return " (the program was interrupted)"
    return ""


# -- formatting ---------------------------------------------------------------------------------
def num(x: Optional[float]) -> str:
    if x is None:
        return "?"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.2g}" if abs(x) < 0.01 else f"{x:.2f}".rstrip("0").rstrip(".")


def size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} GB"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def tolerance(call: dict) -> float:
    return 1e-6 * max(1.0, float(call.get("out_scale") or 0.0))


def mode_effects(calls: List[dict]) -> List[str]:
    """What training mode changed in these calls: repeat passes, eval-mode output, BatchNorm buffers."""
    parts = []
    repeat = [c["repeat_diff"] for c in calls if c.get("repeat_diff") is not None and c["repeat_diff"] > tolerance(c)]
    if repeat:
        parts.append(f"two forward passes differ (max |d| {num(max(repeat))})")
    versus = [c["eval_diff"] for c in calls if c.get("eval_diff") is not None and c["eval_diff"] > tolerance(c)]
    if versus:
        parts.append(f"output differs from eval mode (max |d| {num(max(versus))})")
    changed: Dict[str, float] = {}
    for c in calls:
        for name, d in (c.get("bn_change") or {}).items():
            if d > 0:
                changed[name] = max(changed.get(name, 0.0), d)
    if changed:
        name = "running_mean" if "running_mean" in changed else sorted(changed)[0]
        parts.append(f"BatchNorm {name} changed (max |d| {num(changed[name])})")
    return parts


def is_inference(call: dict) -> bool:
    return not call.get("backprop") and not call.get("failed")


def module_of(calls: List[dict]) -> str:
    return calls[0]["module"] if calls else "the model"


def exceptions_of(obs: Observations, at: Optional[Anchor], kind: str, pattern) -> List[dict]:
    items = obs.at("exceptions", at) if at is not None else obs.all("exceptions")
    return [e for e in items if e["type"] == kind and pattern.search(e.get("message", ""))]


def raised_scan(obs: Observations, kind: str, pattern, absent: str):
    """Whole-run scan of a good fixture for the exception a rule predicts."""
    raised = exceptions_of(obs, None, kind, pattern)
    return ([((e["path"], e["line"]), f"{kind}: {first_line(e['message'])}") for e in raised if e.get("path")],
            absent)


def raised_at(obs: Observations, at: Anchor, kind: str, pattern, ran: str) -> Outcome:
    """Confirmed when the predicted exception was raised at the line."""
    raised = exceptions_of(obs, at, kind, pattern)
    if raised:
        return Outcome(CONFIRMED, f"{kind}: {first_line(raised[0]['message'])}")
    return Outcome(NOT_REPRODUCED, f"{ran} {times(obs.runs(at))} without error")


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


# Every rule module registers its effect and scan on import; its names above are all defined
# by now, so the rule modules can import this one whichever is imported first.
from .. import rules as _rules  # noqa: E402,F401
