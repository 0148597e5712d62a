"""The verifier's torch-free parts: statements, local imports, markers, predicates on data."""

import textwrap

from gradlint.verify import CONFIRMED, NOT_REACHED, NOT_REPRODUCED
from gradlint.verify.effects import EFFECTS, judge
from gradlint.verify.fixtures import candidate_lines, parse_intended
from gradlint.verify.imports import local_files
from gradlint.verify.observations import Observations
from gradlint.verify.statements import StatementIndex
from gradlint.rules import implemented


def test_every_implemented_rule_has_one_effect_predicate():
    assert set(implemented()) <= set(EFFECTS)


def test_statement_index_maps_continuation_lines_to_the_statement():
    index = StatementIndex(textwrap.dedent("""\
        x = 1
        loss = criterion(
            model(x),
            y)
        for a in b:
            with c:
                d += 1
    """))
    assert [index.start(n) for n in range(1, 8)] == [1, 2, 2, 2, 5, 6, 7]


def test_statement_subjects():
    source = "model.eval\nopt.step()\ntotal += loss\nmodel.fc.requires_grad = False\np.requires_grad == False\n"
    index = StatementIndex(source)
    got = [(index.subject(n).shape, index.subject(n).text, index.subject(n).attr) for n in range(1, 6)]
    assert got == [("bare-attr", "model", "eval"), ("call", "opt", "step"), ("augassign", "total", None),
                   ("setattr", "model.fc", "requires_grad"), ("compare", "p", "requires_grad")]


def test_local_imports_follow_project_files_only(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("from .models import Net\n")
    (tmp_path / "pkg" / "models.py").write_text("import torch\nclass Net: pass\n")
    (tmp_path / "helpers.py").write_text("import os\n")
    (tmp_path / "train.py").write_text("import torch\nimport helpers\nfrom pkg import models\n")
    names = [p.replace(str(tmp_path), "").lstrip("/") for p in local_files(str(tmp_path / "train.py"))]
    assert names == ["train.py", "helpers.py", "pkg/__init__.py", "pkg/models.py"]


def test_intended_markers_and_candidates():
    text = "x = m(a)  # intended: GL101\ny.append(z)\nm.eval\n"
    assert parse_intended(text) == {(1, "GL101")}
    assert candidate_lines("GL501", text) == [2]
    assert candidate_lines("GL102", text) == [3]


def _obs(**result):
    result.setdefault("status", "ok")
    return Observations(result)


def test_verdicts_from_plain_data():
    at = ("/p.py", 3)
    assert judge("GL101", _obs(), at).verdict == NOT_REACHED
    call = {"seq": 1, "path": "/p.py", "line": 3, "module": "Net", "mid": 1, "training": True, "grad": False,
            "inference": False, "mode_dep": ["Dropout"], "detailed": True, "backprop": False,
            "repeat_diff": 0.4, "eval_diff": 0.3, "out_scale": 1.0}
    confirmed = judge("GL101", _obs(forwards=[call], hits=[["/p.py", 3, 1]]), at)
    assert confirmed.verdict == CONFIRMED and "max |d| 0.4" in confirmed.evidence
    evaluated = dict(call, training=False)
    assert judge("GL101", _obs(forwards=[evaluated], hits=[["/p.py", 3, 1]]), at).verdict == NOT_REPRODUCED
    opt = {"serial": 1, "type": "SGD", "path": "/p.py", "line": 3, "params": 4, "hyper": {"momentum": 0.9},
           "steps": 3, "frozen_steps": 3, "frozen": 2, "frozen_with_grad": 2, "frozen_moved": 0.39}
    moved = judge("GL301", _obs(optimizers=[opt], hits=[["/p.py", 3, 1]]), at)
    assert moved.verdict == CONFIRMED and moved.evidence.startswith("frozen weight moved by 0.39 over 3 steps")
