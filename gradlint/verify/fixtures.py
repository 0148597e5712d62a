"""``gradlint verify``: run every fixture under the monitors and compare with its markers.

A bad fixture's ``# expect:`` lines must come out ``confirmed`` (``[no-effect]``: ``not
reproduced``; ``[cuda]``: confirmed only when the program ran on CUDA). A good fixture
must not show its rule's effect: the lines the linter flags there (none, when the linter
is right) must not be confirmed, and the rule's scan over the whole run must find the
effect nowhere except on lines marked ``# intended: GLxxx`` (the effect is there on
purpose, e.g. Monte Carlo dropout, and the rule rightly stays quiet).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple

from ..engine import default_jobs, lint_file
from ..expectations import Expectation, parse_expectations
from ..selection import Selection
from ..source import read_source
from . import CONFIRMED, EFFECT_ABSENT, NOT_REACHED, NOT_REPRODUCED, NOT_SCANNED
from .effects import CANDIDATES as RULE_CANDIDATES, SCANS, judge
from .observations import Anchors, Observations
from .statements import StatementIndex, subject_of
from .runner import RunResult, VerifyError, WarmPool, make_spec, require_torch, run_child

_DIR = re.compile(r"^GL\d{3}$")
_INTENDED = re.compile(r"#\s*intended:\s*(?P<body>GL\d{3}(?:\s*,\s*GL\d{3})*)")
NO_EFFECT = "no effect"  # expected at a line the linter flags but no marker names


@dataclass
class Row:
    code: str
    fixture: str
    path: str
    line: Optional[int]
    expected: str
    verdict: str
    evidence: str
    ok: bool
    device: Optional[str] = None   # where the fixture actually ran ("cpu", "cuda")

    def as_json(self) -> dict:
        return {"path": self.path, "line": self.line, "code": self.code, "verdict": self.verdict,
                "evidence": self.evidence, "fixture": self.fixture, "expected": self.expected, "ok": self.ok}


@dataclass
class Plan:
    path: str
    name: str
    code: str
    expectations: Dict[Tuple[int, str], Expectation]
    flagged: Set[Tuple[int, str]]
    intended: Set[Tuple[int, str]] = field(default_factory=set)
    candidates: List[int] = field(default_factory=list)

    @property
    def good(self) -> bool:
        return os.path.basename(self.path).startswith("good_")

    def anchors(self) -> List[Tuple[int, str]]:
        return sorted(set(self.expectations) | self.flagged)


def default_root() -> Optional[str]:
    """The ``fixtures`` folder of the checkout this gradlint runs from, or None (an installed
    gradlint has none). Never the current folder's: ``gradlint verify`` runs only its own
    fixtures or the paths it is given, never programs it happens to find."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    candidate = os.path.join(here, "fixtures")
    if os.path.isfile(os.path.join(here, "pyproject.toml")) and os.path.isdir(candidate):
        return candidate
    return None


def discover(root: str, paths: Sequence[str] = (), selection: Optional[Selection] = None) -> List[str]:
    """Fixture programs under ``root/GLxxx/`` (or the given files and folders), whose rule is selected."""
    found: List[str] = []
    tops = list(paths) or [root]
    for top in tops:
        if os.path.isfile(top):
            found.append(os.path.abspath(top))
            continue
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
            for name in sorted(files):
                if name.endswith(".py") and name.startswith(("bad_", "good_")):
                    found.append(os.path.abspath(os.path.join(folder, name)))
    selected = []
    for path in found:
        code = _code_of(path)
        if selection is None or code is None or code in selection:
            selected.append(path)
    return sorted(dict.fromkeys(selected))


def _code_of(path: str) -> Optional[str]:
    folder = os.path.basename(os.path.dirname(path))
    return folder if _DIR.match(folder) else None


def _bare_attribute(stmt, subject) -> bool:
    return subject.shape == "bare-attr"


def _sets_requires_grad(stmt, subject) -> bool:
    return subject.shape in ("setattr", "compare") and "require" in (subject.attr or "")


def _accumulates(stmt, subject) -> bool:
    return subject.shape in ("augassign", "setitem") or (
        subject.shape == "call" and subject.attr in ("append", "extend", "add_", "insert"))


# Rules whose effect is measured at a statement: in a good fixture, where no line is
# flagged, every statement of the rule's shape is measured instead (the effect predicate
# decides; these only choose where to look).
CANDIDATES = {"GL102": _bare_attribute, "GL302": _sets_requires_grad, "GL501": _accumulates}


def candidate_lines(code: str, text: str) -> List[int]:
    pick = CANDIDATES.get(code) or RULE_CANDIDATES.get(code)
    if pick is None:
        return []
    index = StatementIndex(text)
    lines = []
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            subject = subject_of(node)
            if subject is not None and pick(node, subject):
                lines.append(index.start(node.lineno))
    return sorted(set(lines))


def parse_intended(text: str) -> Set[Tuple[int, str]]:
    found = set()
    for number, line in enumerate(text.splitlines(), start=1):
        match = _INTENDED.search(line)
        if match:
            found |= {(number, code.strip()) for code in match.group("body").split(",")}
    return found


def plan(path: str, root: Optional[str], selection: Selection) -> Plan:
    text = read_source(path)
    expectations = {k: v for k, v in parse_expectations(text).items() if v.code in selection}
    flagged = {(f.line, f.code) for f in lint_file(path, selection) if f.code.startswith("GL")}
    code = _code_of(path) or (sorted({c for _, c in expectations})[:1] or ["GL"])[0]
    name = os.path.relpath(path, root) if root and path.startswith(os.path.abspath(root) + os.sep) else path
    good = os.path.basename(path).startswith("good_")
    candidates = candidate_lines(code, text) if good and code not in SCANS else []
    return Plan(path, name, code, expectations, flagged, parse_intended(text), candidates)


def expected_verdict(expectation: Optional[Expectation], ran_on_cuda: bool) -> str:
    if expectation is None:
        return NO_EFFECT
    if expectation.no_effect:
        return NOT_REPRODUCED
    if expectation.cuda_only and not ran_on_cuda:
        return NOT_REPRODUCED
    return CONFIRMED


def _matches(expected: str, verdict: str) -> bool:
    if expected == NO_EFFECT:
        return verdict != CONFIRMED
    return expected == verdict


def judge_fixture(fixture: Plan, run: RunResult, selection: Selection, timeout: float) -> List[Row]:
    """The rows of one fixture: one per anchor, plus the whole-run scan of a good fixture."""
    obs = Observations(run.result)
    anchors = Anchors()
    rows: List[Row] = []
    problem = run.problem(timeout)
    if run.result.get("status") == "error" or not run.result:
        return [Row(fixture.code, fixture.name, fixture.path, None, "run", "not run", problem or "no result", False)]
    for line, code in fixture.anchors():
        exp = fixture.expectations.get((line, code))
        expected = expected_verdict(exp, obs.cuda_used)
        outcome = judge(code, obs, anchors.key(fixture.path, line))
        evidence = outcome.evidence
        if exp is None:
            evidence = f"[flagged without a marker] {evidence}"
        rows.append(Row(code, fixture.name, fixture.path, line, expected, outcome.verdict, evidence,
                        _matches(expected, outcome.verdict)))
    if fixture.good:
        if problem:
            rows.append(Row(fixture.code, fixture.name, fixture.path, None, "runs cleanly", "failed", problem, False))
        if fixture.code in selection:
            rows.extend(_scan_rows(fixture, obs, anchors))
    return rows


def _scan_rows(fixture: Plan, obs: Observations, anchors: Anchors) -> List[Row]:
    code = fixture.code
    scan = SCANS.get(code)
    if scan is not None:
        found, summary = scan(obs)
    elif fixture.candidates:
        found = []
        reached = 0
        for line in fixture.candidates:
            at = anchors.key(fixture.path, line)
            outcome = judge(code, obs, at)
            reached += outcome.verdict != NOT_REACHED
            if outcome.verdict == CONFIRMED:
                found.append((at, outcome.evidence))
        summary = (f"measured at {reached} statement{'s' if reached != 1 else ''} of the rule's shape "
                   f"(lines {', '.join(map(str, fixture.candidates))}): no effect")
    else:
        return [Row(code, fixture.name, fixture.path, None, EFFECT_ABSENT, NOT_SCANNED,
                    f"no statement of {code}'s shape to measure, and none is flagged", True)]
    intended = {anchors.key(fixture.path, line): line for line, c in fixture.intended if c == code}
    rows: List[Row] = []
    seen = set()
    for at, evidence in found:
        if at[0] != os.path.realpath(fixture.path):
            continue
        seen.add(at)
        line = intended.get(at, at[1])
        expected = CONFIRMED if at in intended else EFFECT_ABSENT
        rows.append(Row(code, fixture.name, fixture.path, line, expected, CONFIRMED,
                        ("[intended] " if at in intended else "[effect in a good fixture] ") + evidence,
                        at in intended))
    for at, line in intended.items():
        if at not in seen:
            rows.append(Row(code, fixture.name, fixture.path, line, CONFIRMED, NOT_REPRODUCED,
                            "[intended] the effect marked here did not appear", False))
    if not rows:
        rows.append(Row(code, fixture.name, fixture.path, None, EFFECT_ABSENT, EFFECT_ABSENT, summary, True))
    return rows


def check_device(device: str) -> None:
    if device != "cuda":
        return
    probe = subprocess.run([sys.executable, "-c", "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"],
                           capture_output=True)
    if probe.returncode != 0:
        raise VerifyError("--device cuda: CUDA is not available to torch here (use --device cpu or auto)")


def verify_fixtures(root: Optional[str], paths: Sequence[str] = (), selection: Optional[Selection] = None,
                    device: str = "cpu", jobs: int = 0, timeout: float = 120.0,
                    runner=None) -> List[Row]:
    """Run the selected fixtures (in parallel) and judge each against its markers."""
    require_torch()
    selection = selection or Selection()
    if root is None and not paths:
        raise VerifyError("this gradlint has no fixtures of its own (they come with a checkout of its "
                          "repository): name fixture files or folders, or use --run SCRIPT")
    files = discover(root or ".", paths, selection)
    if not files:
        raise VerifyError("no fixtures selected")
    check_device(device)
    plans = [plan(path, root, selection) for path in files]
    jobs = max(1, min(jobs or default_jobs(), len(plans)))
    threads = 1 if jobs > 1 else None
    pool = WarmPool(jobs, device, threads) if runner is None and WarmPool.available() else None
    run = runner or (pool.run if pool is not None else
                     (lambda spec, timeout: run_child(spec, timeout, capture=True, threads=threads)))

    def one(p: Plan) -> List[Row]:
        watch = [line for line, _ in p.anchors()] + p.candidates
        spec = make_spec(p.path, watch={p.path: watch}, device=device)
        result = run(spec, timeout)
        rows = judge_fixture(p, result, selection, timeout)
        for row in rows:
            row.device = result.result.get("device")
        return rows

    try:
        with ThreadPoolExecutor(max_workers=jobs) as workers:
            results = list(workers.map(one, plans))
    finally:
        if pool is not None:
            pool.close()
    return [row for rows in results for row in rows]
