"""``gradlint verify --run SCRIPT [ARGS...]`` (or ``--run -m MODULE [ARGS...]``): lint a
user's program, run it once, join the two.

The program runs only here, because the user named it, in a child process, for as long
as it runs (a ``timeout`` only when one is given; Ctrl-C stops it and keeps what was
measured). While it runs, ``LiveReport`` tells on stderr what has been observed and which
findings are confirmed so far, so a quiet training script does not look hung. Each static
finding gets the verdict measured at its anchor; when the program fails, times out or is
stopped, the findings still print with what was measured until then.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Dict, List, Optional, Sequence, TextIO, Tuple

from ..engine import lint_paths
from ..selection import Selection
from . import CONFIRMED
from .effects import judge
from .imports import local_files
from .observations import Anchors, Observations
from .runner import RunResult, VerifyError, make_spec, require_torch, run_child

HEARTBEAT_SECONDS = 30.0


def module_file(name: str, cwd: Optional[str] = None) -> str:
    """The file ``python -m name`` would run, found without importing anything (the current
    folder first, as ``python -m`` has it, then ``sys.path``): ``a/b.py``, or
    ``a/b/__main__.py`` for a package."""
    parts = name.split(".")
    if not name or not all(p.isidentifier() for p in parts):
        raise VerifyError(f"-m {name}: not a module name")
    for root in [cwd or os.getcwd()] + [p for p in sys.path if p]:
        base = os.path.join(root, *parts)
        for candidate in (base + ".py", os.path.join(base, "__main__.py")):
            if os.path.isfile(candidate):
                return os.path.abspath(candidate)
    raise VerifyError(f"-m {name}: no module named {name!r} in the current folder or on sys.path")


def verify_program(script: str, args: Sequence[str] = (), selection: Optional[Selection] = None,
                   device: str = "cpu", timeout: Optional[float] = None, capture: bool = False,
                   module: Optional[str] = None, live: Optional["LiveReport"] = None
                   ) -> Tuple[List[dict], RunResult]:
    """Rows ``{path, line, code, verdict, evidence, message}`` for every finding, and the run.
    ``module``: run ``python -m module`` (``script`` is then ignored); ``live``: progress on
    its stream while the program runs."""
    if module:
        script = module_file(module)
    elif not os.path.isfile(script):
        raise VerifyError(f"{script}: no such file")
    require_torch()
    if device == "cuda":
        from .fixtures import check_device
        check_device(device)
    selection = selection or Selection()
    files = local_files(script)
    findings = sorted((f for f in lint_paths(files, selection) if f.code.startswith("GL")),
                      key=lambda f: (f.path, f.line, f.code))
    watch: Dict[str, List[int]] = {}
    for f in findings:
        watch.setdefault(os.path.realpath(f.path), []).append(f.line)
    spec = make_spec(script, args, files=files, watch=watch, device=device, module=module)
    anchors = Anchors()
    shown = {f: _shown(f.path, script) for f in findings}
    if live is not None:
        live.start(module or script, args, len(findings), len(files), timeout)
        progress = (lambda snapshot: live.update(snapshot, findings, shown, anchors))
    else:
        progress = None
    run = run_child(spec, timeout, capture=capture, progress=progress)
    obs = Observations(run.result)
    rows = []
    for f in findings:
        outcome = judge(f.code, obs, anchors.key(f.path, f.line))
        rows.append({"path": shown[f], "line": f.line, "code": f.code,
                     "verdict": outcome.verdict, "evidence": outcome.evidence, "message": f.message})
    return rows, run


def _shown(path: str, script: str) -> str:
    """A file as the user knows it: relative to the current folder when inside it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def steps_and_forwards(snapshot: dict) -> Tuple[int, int]:
    steps = sum(o.get("steps", 0) for o in snapshot.get("optimizers", []) or [])
    forwards = sum(n for _, _, n in snapshot.get("forward_totals", []) or [])
    return steps, forwards


class LiveReport:
    """What the user sees on stderr while ``--run`` runs: a banner, the device once the
    program has started, each finding as it is confirmed, and every ``HEARTBEAT_SECONDS``
    a line of what was observed. The program's own output goes to the same stream."""

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.confirmed: set = set()
        self.device: Optional[str] = None
        self.started = time.monotonic()
        self._beat = self.started

    def _say(self, text: str) -> None:
        self.stream.write(f"gradlint verify: {text}\n")
        self.stream.flush()

    def start(self, program: str, args: Sequence[str], findings: int, files: int, timeout: Optional[float]) -> None:
        command = " ".join([program, *args])
        limit = f"stopped after {timeout:g} s" if timeout else "no time limit"
        self._say(f"running `{command}` under the runtime monitors ({findings} finding"
                  f"{'s' if findings != 1 else ''} to check in {files} file{'s' if files != 1 else ''}; "
                  f"{limit}; Ctrl-C stops it and keeps what was measured)")

    def update(self, snapshot: dict, findings, shown, anchors: Anchors) -> None:
        if self.device is None and snapshot.get("device"):
            self.device = snapshot["device"]
            self._say(f"the program runs on {self.device} (torch {snapshot.get('torch', '?')})")
        obs = Observations(snapshot)
        new = []
        for f in findings:
            if f in self.confirmed:
                continue
            outcome = judge(f.code, obs, anchors.key(f.path, f.line))
            if outcome.verdict == CONFIRMED:
                self.confirmed.add(f)
                new.append((f, outcome))
        steps, forwards = steps_and_forwards(snapshot)
        for f, outcome in new:
            self._say(f"confirmed {f.code} at {shown[f]}:{f.line}: {outcome.evidence} "
                      f"({len(self.confirmed)} of {len(findings)} confirmed so far)")
        now = time.monotonic()
        if not new and now - self._beat >= HEARTBEAT_SECONDS:
            self._say(f"{now - self.started:.0f} s: {steps} optimizer step{'s' if steps != 1 else ''} and "
                      f"{forwards} forward call{'s' if forwards != 1 else ''} observed; "
                      f"{len(self.confirmed)} of {len(findings)} findings confirmed so far")
        if new or now - self._beat >= HEARTBEAT_SECONDS:
            self._beat = now
