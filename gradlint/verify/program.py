"""``gradlint verify --run SCRIPT [ARGS...]``: lint a user's program, run it once, join the two.

The program runs only here, because the user named it, in a child process with a
timeout. Each static finding gets the verdict measured at its anchor; when the program
fails or times out, the findings still print with what was measured until then.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence, Tuple

from ..engine import lint_paths
from ..selection import Selection
from .effects import judge
from .imports import local_files
from .observations import Anchors, Observations
from .runner import RunResult, VerifyError, make_spec, require_torch, run_child

DEFAULT_TIMEOUT = 300.0


def verify_program(script: str, args: Sequence[str] = (), selection: Optional[Selection] = None,
                   device: str = "cpu", timeout: float = DEFAULT_TIMEOUT,
                   capture: bool = False) -> Tuple[List[dict], RunResult]:
    """Rows ``{path, line, code, verdict, evidence, message}`` for every finding, and the run."""
    if not os.path.isfile(script):
        raise VerifyError(f"{script}: no such file")
    require_torch()
    if device == "cuda":
        from .fixtures import check_device
        check_device(device)
    selection = selection or Selection()
    files = local_files(script)
    findings = [f for f in lint_paths(files, selection) if f.code.startswith("GL")]
    watch: Dict[str, List[int]] = {}
    for f in findings:
        watch.setdefault(os.path.realpath(f.path), []).append(f.line)
    spec = make_spec(script, args, files=files, watch=watch, device=device)
    run = run_child(spec, timeout, capture=capture)
    obs = Observations(run.result)
    anchors = Anchors()
    rows = []
    for f in sorted(findings, key=lambda f: (f.path, f.line, f.code)):
        outcome = judge(f.code, obs, anchors.key(f.path, f.line))
        rows.append({"path": _shown(f.path, script), "line": f.line, "code": f.code,
                     "verdict": outcome.verdict, "evidence": outcome.evidence, "message": f.message})
    return rows, run


def _shown(path: str, script: str) -> str:
    """The script as the user named it; other files relative to the current folder when inside it."""
    if os.path.realpath(path) == os.path.realpath(script):
        return script
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel
