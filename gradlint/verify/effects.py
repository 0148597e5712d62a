"""Each rule's runtime effect, defined once: a predicate over what the monitors measured.

``EFFECTS[code](obs, anchor)`` decides whether the rule's harm happened at the anchor
statement and says so with the measured numbers (evidence is built from measurements,
never written in). ``SCANS[code](obs)`` looks for the same harm anywhere in a run, for
good fixtures, where no line is flagged; rules whose effect only makes sense at an
anchor (a bare statement, a freeze site, an accumulator) have no scan.

Rules whose harm depends on conditions say which condition held: GL301 reports whether
the frozen parameters kept a zeroed ``.grad`` and which momentum / weight decay moved them.
"""

from __future__ import annotations

import re
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


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _tol(call: dict) -> float:
    return 1e-6 * max(1.0, float(call.get("out_scale") or 0.0))


def _mode_effects(calls: List[dict]) -> List[str]:
    """What training mode changed in these calls: repeat passes, eval-mode output, BatchNorm buffers."""
    parts = []
    repeat = [c["repeat_diff"] for c in calls if c.get("repeat_diff") is not None and c["repeat_diff"] > _tol(c)]
    if repeat:
        parts.append(f"two forward passes differ (max |d| {num(max(repeat))})")
    versus = [c["eval_diff"] for c in calls if c.get("eval_diff") is not None and c["eval_diff"] > _tol(c)]
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


def _inference(call: dict) -> bool:
    return not call.get("backprop") and not call.get("failed")


def _module(calls: List[dict]) -> str:
    return calls[0]["module"] if calls else "the model"


# -- GL1xx: train/eval mode ----------------------------------------------------------------------
@effect("GL101")
def eval_mode_missing(obs: Observations, at: Anchor) -> Outcome:
    calls = obs.at("forwards", at)
    if not calls:
        return Outcome(NOT_REPRODUCED, f"the line ran {_times(obs.runs(at))} but called no nn.Module")
    name = _module(calls)
    training = [c for c in calls if c["training"]]
    if not training:
        return Outcome(NOT_REPRODUCED, f"`{name}` was in eval mode at all {len(calls)} calls")
    parts = _mode_effects([c for c in training if c.get("detailed")])
    if parts:
        layers = ", ".join(training[0]["mode_dep"]) or "mode-dependent code"
        return Outcome(CONFIRMED, "; ".join(parts) + f" ({name} in training mode at {len(training)} of "
                                                  f"{len(calls)} calls; {layers})")
    skipped = [c.get("rerun") for c in training if c.get("rerun")]
    if skipped:
        return Outcome(NOT_REPRODUCED, f"`{name}` ran in training mode; the repeat forward was {skipped[0]}")
    return Outcome(NOT_REPRODUCED, f"`{name}` ran in training mode but its outputs and buffers did not change "
                                   f"(mode-dependent layers: {', '.join(training[0]['mode_dep']) or 'none'})")


@scan("GL101")
def scan_eval_mode(obs: Observations):
    calls = [c for c in obs.forwards if _inference(c) and c.get("path")]
    found = []
    for at in sorted({(c["path"], c["line"]) for c in calls}):
        here = [c for c in calls if (c["path"], c["line"]) == at and c["training"] and c.get("detailed")]
        parts = _mode_effects(here)
        if parts:
            found.append((at, "; ".join(parts) + f" ({_module(here)} in training mode, never backpropagated)"))
    evaluated = sum(1 for c in calls if not c["training"])
    if not calls:
        return found, "no inference forward: every forward was backpropagated"
    return found, (f"{plural(len(calls), 'inference forward')}: {evaluated} in eval mode, "
                   f"{len(calls) - evaluated} in training mode without a measurable change")


@effect("GL102")
def mode_method_not_called(obs: Observations, at: Anchor) -> Outcome:
    probes = obs.at("probes", at)
    if not probes:
        return Outcome(NOT_REPRODUCED, "the statement ran but was not measured")
    attr, subject = probes[0].get("attr"), probes[0].get("subject") or "the object"
    afters = [p["after"].get("subject") or {} for p in probes if "after" in p]
    runs = len(afters)
    if attr in ("eval", "train"):
        modules = [a for a in afters if a.get("kind") == "module"]
        if not modules:
            return Outcome(NOT_REPRODUCED, f"`{subject}` is not an nn.Module at run time")
        wanted = attr == "train"
        wrong = [a for a in modules if a["training"] != wanted]
        if wrong:
            return Outcome(CONFIRMED, f"`{subject}.training` is still {not wanted} after `{subject}.{attr}` "
                                      f"({len(wrong)} of {plural(runs, 'run')})")
        return Outcome(NOT_REPRODUCED, f"`{subject}` was already in {'training' if wanted else 'eval'} mode "
                                       f"each time the line ran")
    optimizers = [a for a in afters if a.get("kind") == "optimizer"]
    if not optimizers:
        return Outcome(NOT_REPRODUCED, f"`{subject}` is not a torch.optim optimizer at run time")
    if attr == "zero_grad":
        norms = [a.get("grad_norm") for a in optimizers]
        kept = [n for n in norms if n]
        if kept:
            trail = " -> ".join(num(n) for n in kept[:6])
            growth = f" ({num(kept[-1] / kept[0])}x: gradients add up across iterations)" if len(kept) > 1 else ""
            return Outcome(CONFIRMED, f"gradients not reset: grad norm after the line {trail}{growth}")
        return Outcome(NOT_REPRODUCED, "no gradient was held when the line ran")
    if attr == "step":
        serial = optimizers[0].get("serial")
        steps = sum(o["steps"] for o in obs.all("optimizers") if o.get("serial") == serial)
        moved = obs.at("movement", at)
        delta = max((m["moved"] for m in moved), default=None)
        if delta == 0 and steps == 0:
            return Outcome(CONFIRMED, f"weights unchanged after {runs} iterations (max |dW| 0); "
                                      f"`{subject}.step()` ran 0 times")
        return Outcome(NOT_REPRODUCED, f"weights moved by {num(delta)} ({steps} optimizer steps elsewhere)")
    return Outcome(NOT_REPRODUCED, f"bare `{subject}.{attr}`: no measured effect")


def _training_forwards(obs: Observations, module_id=None) -> List[dict]:
    return [f for f in obs.forwards if f["grad"] and f.get("backprop")
            and (module_id is None or f["mid"] == module_id)]


@effect("GL103")
def train_mode_not_restored(obs: Observations, at: Anchor) -> Outcome:
    seqs = obs.hit_seqs.get(at) or []
    if not seqs:
        return Outcome(NOT_REPRODUCED, "the line was not measured")
    module_id = None
    for p in obs.at("probes", at):
        subject = (p.get("after") or {}).get("subject") or {}
        if p.get("attr") in ("eval", "train") and subject.get("kind") == "module":
            module_id = subject["id"]
    steps = _training_forwards(obs, module_id)
    nexts = []
    for s in seqs:
        later = [f for f in steps if f["seq"] > s]
        if later:
            nexts.append(later[0])
    if not nexts:
        return Outcome(NOT_REPRODUCED, "no training step ran after the line")
    in_eval = [f for f in nexts if not f["training"]]
    if not in_eval:
        return Outcome(NOT_REPRODUCED, f"training resumed in training mode after each of {len(nexts)} runs "
                                       f"of the line")
    first = in_eval[0]
    if not first["mode_dep"]:
        return Outcome(NOT_REPRODUCED, f"training ran in eval mode after the line, but `{first['module']}` has "
                                       f"no dropout or batch norm, so nothing changed")
    after = [f for f in steps if f["seq"] > seqs[0]]
    evaluated = [f for f in after if not f["training"]]
    return Outcome(CONFIRMED, f"after the line, {len(evaluated)} of {len(after)} training forwards "
                              f"(line {first['line']}) ran with `training=False`: "
                              f"{', '.join(first['mode_dep'])} inactive while training")


@scan("GL103")
def scan_train_mode(obs: Observations):
    steps = [f for f in _training_forwards(obs) if f.get("path")]
    found = []
    for at in sorted({(f["path"], f["line"]) for f in steps}):
        bad = [f for f in steps if (f["path"], f["line"]) == at and not f["training"] and f["mode_dep"]]
        if bad:
            found.append((at, f"{len(bad)} training forwards ran with `training=False` "
                              f"({', '.join(bad[0]['mode_dep'])} inactive)"))
    return found, f"{plural(len(steps), 'training forward')}, all in training mode or without mode-dependent layers"


# -- GL2xx: gradient tracking ------------------------------------------------------------------
def _waste(calls: List[dict]) -> List[dict]:
    return [c for c in calls if c["grad"] and not c["inference"] and _inference(c) and c.get("saved_bytes")]


def _waste_text(calls: List[dict]) -> str:
    saved = [c["saved_bytes"] for c in calls]
    text = f"{size(sum(saved) / len(saved))} saved for backward per call, never used"
    mem = [c["cuda_mem"] for c in calls if c.get("cuda_mem") is not None]
    if mem:
        text += f"; CUDA memory held after the call +{size(max(mem))}"
    return text


@effect("GL201")
def grad_mode_missing(obs: Observations, at: Anchor) -> Outcome:
    calls = obs.at("forwards", at)
    if not calls:
        return Outcome(NOT_REPRODUCED, f"the line ran {_times(obs.runs(at))} but called no nn.Module")
    on = [c for c in calls if c["grad"] and not c["inference"]]
    if not on:
        return Outcome(NOT_REPRODUCED, f"gradient tracking was off at all {len(calls)} calls")
    wasted = _waste([c for c in on if c.get("detailed")])
    if wasted:
        return Outcome(CONFIRMED, _waste_text(wasted) + f" ({len(on)} of {len(calls)} calls with grad on)")
    if all(c.get("backprop") for c in on):
        return Outcome(NOT_REPRODUCED, "the outputs were backpropagated: the gradients were used")
    return Outcome(NOT_REPRODUCED, "nothing was saved for backward (no parameter or input requires grad)")


@scan("GL201")
def scan_grad_mode(obs: Observations):
    calls = [c for c in obs.forwards if c.get("path") and c.get("detailed")]
    found = []
    for at in sorted({(c["path"], c["line"]) for c in calls}):
        wasted = _waste([c for c in calls if (c["path"], c["line"]) == at])
        if wasted:
            found.append((at, _waste_text(wasted)))
    inference = [c for c in obs.forwards if _inference(c)]
    off = sum(1 for c in inference if not c["grad"] or c["inference"])
    if not inference:
        return found, "every forward was backpropagated (gradients used)"
    return found, (f"{plural(len(inference), 'forward')} never backpropagated: {off} with gradients off, "
                   f"the rest saved nothing for backward")


def _next_saving_forward(obs: Observations, seq: int) -> Optional[dict]:
    for call in obs.forwards:
        if call["seq"] > seq and call.get("detailed"):
            return call if call["grad"] and call.get("saved_bytes") else None
    return None


_CONTEXT_ERROR = re.compile(r"context manager|__enter__")


def _exceptions(obs: Observations, at: Optional[Anchor], kind: str, pattern) -> List[dict]:
    items = obs.at("exceptions", at) if at is not None else obs.all("exceptions")
    return [e for e in items if e["type"] == kind and pattern.search(e.get("message", ""))]


def _raised_scan(obs: Observations, kind: str, pattern, absent: str):
    """Whole-run scan of a good fixture for the exception a rule predicts."""
    raised = _exceptions(obs, None, kind, pattern)
    return ([((e["path"], e["line"]), f"{kind}: {_first_line(e['message'])}") for e in raised if e.get("path")],
            absent)


def _raised_at(obs: Observations, at: Anchor, kind: str, pattern, ran: str) -> Outcome:
    """Confirmed when the predicted exception was raised at the line."""
    raised = _exceptions(obs, at, kind, pattern)
    if raised:
        return Outcome(CONFIRMED, f"{kind}: {_first_line(raised[0]['message'])}")
    return Outcome(NOT_REPRODUCED, f"{ran} {_times(obs.runs(at))} without error")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


@effect("GL202")
def grad_mode_context_not_entered(obs: Observations, at: Anchor) -> Outcome:
    raised = _exceptions(obs, at, "TypeError", _CONTEXT_ERROR)
    if raised:
        return Outcome(CONFIRMED, f"TypeError: {_first_line(raised[0]['message'])}")
    probes = [p for p in obs.at("probes", at) if "after" in p]
    if not probes:
        return Outcome(NOT_REPRODUCED, "the statement ran but was not measured")
    entered = [p for p in probes if p["before"]["grad"] and not p["before"]["inference"]]
    if not entered:
        return Outcome(NOT_REPRODUCED, "gradients were already off where the statement ran")
    on = [p for p in entered if p["after"]["grad"] and not p["after"]["inference"]]
    if not on:
        return Outcome(NOT_REPRODUCED, f"gradients were off after the statement ({len(entered)} of "
                                       f"{len(entered)} runs)")
    text = (f"grad mode unchanged by the statement: torch.is_grad_enabled() still True after it "
            f"({len(on)} of {len(entered)} runs)")
    following = _next_saving_forward(obs, on[0]["seq"])
    if following is not None:
        text += (f"; the next forward ({following['module']}, line {following['line']}) saved "
                 f"{size(following['saved_bytes'])} for backward")
    return Outcome(CONFIRMED, text)


@scan("GL202")
def scan_context(obs: Observations):
    return _raised_scan(obs, "TypeError", _CONTEXT_ERROR, "no context-manager TypeError")


_NO_GRAPH = re.compile(r"does not require grad|does not have a grad_fn|[Ii]nference tensors? .*backward|"
                       r"[Ii]nference tensors cannot be saved for backward")


@effect("GL203")
def backward_under_no_grad(obs: Observations, at: Anchor) -> Outcome:
    return _raised_at(obs, at, "RuntimeError", _NO_GRAPH, "backward ran")


@scan("GL203")
def scan_backward(obs: Observations):
    return _raised_scan(obs, "RuntimeError", _NO_GRAPH, "backward never failed for want of a graph")


# -- GL3xx: freezing --------------------------------------------------------------------------
def _hyper(rec: dict) -> str:
    hyper = rec.get("hyper") or {}
    shown = [f"{k}={num(v) if isinstance(v, float) else v}" for k, v in hyper.items()
             if k in ("momentum", "weight_decay") and v]
    return f"{rec['type']}" + (f" {', '.join(shown)}" if shown else "")


@effect("GL301")
def frozen_params_in_optimizer(obs: Observations, at: Anchor) -> Outcome:
    built = obs.at("optimizers", at)
    if not built:
        return Outcome(NOT_REPRODUCED, "no optimizer was built at this line")
    rec = max(built, key=lambda r: (r["frozen_moved"], r["frozen"], r["steps"]))
    if rec["steps"] == 0:
        return Outcome(NOT_REPRODUCED, f"the {rec['type']} optimizer never stepped")
    if rec["frozen"] == 0:
        return Outcome(NOT_REPRODUCED, f"the optimizer held no frozen parameter at any of {rec['steps']} steps")
    if rec["frozen_moved"] > 0:
        return Outcome(CONFIRMED, f"frozen weight moved by {num(rec['frozen_moved'])} over {rec['frozen_steps']} "
                                  f"steps ({_hyper(rec)}; {rec['frozen_with_grad']} of {rec['frozen']} frozen "
                                  f"parameters kept a zeroed .grad)")
    if rec["frozen_with_grad"]:
        why = (f"{rec['frozen_with_grad']} kept a zeroed .grad, but {rec['type']} without momentum or weight "
               f"decay leaves them in place")
    else:
        why = "their .grad is None, so torch.optim skips them"
    return Outcome(NOT_REPRODUCED, f"{plural(rec['frozen'], 'frozen parameter')} held over "
                                   f"{plural(rec['frozen_steps'], 'step')} did not move ({why})")


@scan("GL301")
def scan_frozen(obs: Observations):
    moved = [o for o in obs.all("optimizers") if o["frozen_moved"] > 0 and o.get("path")]
    held = sum(o["frozen"] for o in obs.all("optimizers"))
    return ([((o["path"], o["line"]), f"frozen weight moved by {num(o['frozen_moved'])} ({_hyper(o)})")
             for o in moved],
            f"{plural(len(obs.all('optimizers')), 'optimizer')}, {plural(held, 'frozen parameter')} held, "
            f"none moved")


@effect("GL302")
def no_op_freeze(obs: Observations, at: Anchor) -> Outcome:
    """Nothing got frozen: right after the line, and still at the end of the run."""
    probes = [p for p in obs.at("probes", at) if "after" in p]
    if not probes:
        return Outcome(NOT_REPRODUCED, "the statement ran but was not measured")
    subject = probes[0].get("subject") or "the target"
    still = []
    for p in probes:
        a = p["after"].get("subject") or {}
        if a.get("kind") == "module" and a["params"] and a["trainable"] == a["params"]:
            still.append(f"all {a['params']} parameters of `{subject}` ({a['type']}) still require grad")
        elif a.get("kind") == "tensor" and a["requires_grad"]:
            still.append(f"`{subject}.requires_grad` is still True")
    if not still:
        return Outcome(NOT_REPRODUCED, f"`{subject}` no longer requires grad after the line")
    end = obs.at("movement", at)
    if end and all(m["requires_grad"] == 0 for m in end):
        return Outcome(NOT_REPRODUCED, f"`{subject}` still required grad right after the line, but not at the end "
                                       f"of the run (frozen later)")
    text = still[0] + f" after the line ({len(still)} of {len(probes)} runs)"
    for m in end:
        if m["moved"] > 0:
            text += f"; they moved by {num(m['moved'])} by the end of the run"
        elif m["with_grad"]:
            text += f"; {m['with_grad']} of {m['params']} received gradients"
    return Outcome(CONFIRMED, text)


_LEAF_FLAG = re.compile(r"requires_grad flags of leaf variables|leaf variables")


@effect("GL303")
def requires_grad_on_non_leaf(obs: Observations, at: Anchor) -> Outcome:
    return _raised_at(obs, at, "RuntimeError", _LEAF_FLAG, "the assignment ran")


@scan("GL303")
def scan_leaf_flag(obs: Observations):
    return _raised_scan(obs, "RuntimeError", _LEAF_FLAG, "no requires_grad assignment failed")


# -- GL4xx: .grad of non-leaf tensors ------------------------------------------------------------
_NON_LEAF = re.compile(r"\.grad attribute of a Tensor that is not a leaf Tensor")


def _non_leaf_warnings(items: List[dict]) -> List[dict]:
    return [w for w in items if w["category"] == "UserWarning" and _NON_LEAF.search(w["message"])]


@effect("GL401")
def grad_of_non_leaf(obs: Observations, at: Anchor) -> Outcome:
    warned = _non_leaf_warnings(obs.at("warnings", at))
    if warned:
        return Outcome(CONFIRMED, "UserWarning: " + warned[0]["message"].split(". ")[0])
    return Outcome(NOT_REPRODUCED, f"no non-leaf .grad warning at the line (it ran {_times(obs.runs(at))} on "
                                   f"{obs.device or 'cpu'})")


@scan("GL401")
def scan_non_leaf(obs: Observations):
    warned = [w for w in _non_leaf_warnings(obs.all("warnings")) if w.get("path")]
    return ([((w["path"], w["line"]), "UserWarning: " + w["message"].split(". ")[0]) for w in warned],
            "no non-leaf .grad warning")


# -- GL5xx: graph lifetime ----------------------------------------------------------------------
@effect("GL501")
def history_accumulated(obs: Observations, at: Anchor) -> Outcome:
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
