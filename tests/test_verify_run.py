"""`gradlint verify --run SCRIPT [ARGS...]`: lint the script and the project files it
imports, run it once, join findings and measurements; JSON output, failures, timeouts."""

import json
import subprocess
import textwrap

import pytest

torch = pytest.importorskip("torch")

from conftest import PYTHON, ROOT, run_env  # noqa: E402

EVALUATION = """
import torch


def evaluate(model, batches):
    scores = []
    for x in batches:
        scores.append(model(x).mean().item())
    return scores
"""

TRAIN = """
import sys

import torch
import torch.nn as nn

from evaluation import evaluate

assert sys.argv[1:] == ["--epochs", "2"], sys.argv
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 32), nn.Dropout(0.5), nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for epoch in range(int(sys.argv[2])):
    opt.zero_grad()
    model(torch.randn(8, 4)).pow(2).mean().backward()
    opt.step()
print("scores", evaluate(model, [torch.randn(8, 4) for _ in range(2)]))
"""


def gradlint(*args, cwd, timeout=240):
    return subprocess.run([PYTHON, "-m", "gradlint", "verify", *args], capture_output=True, text=True,
                          cwd=cwd, env=run_env(), timeout=timeout)


def write(folder, name, text):
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path):
    write(tmp_path, "evaluation.py", EVALUATION)
    write(tmp_path, "train.py", TRAIN)
    return tmp_path


def test_run_joins_findings_in_imported_files_with_measurements(project):
    proc = gradlint("--format", "json", "--run", "train.py", "--epochs", "2", cwd=project)
    assert proc.returncode == 1, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows and all(set(r) == {"path", "line", "code", "verdict", "evidence"} for r in rows)
    by_code = {(r["path"], r["code"]): r for r in rows}
    gl101 = by_code[("evaluation.py", "GL101")]
    assert gl101["line"] == 7 and gl101["verdict"] == "confirmed"
    assert "two forward passes differ" in gl101["evidence"]
    gl201 = by_code[("evaluation.py", "GL201")]
    assert gl201["verdict"] == "confirmed" and "saved for backward" in gl201["evidence"]
    assert "scores" in proc.stderr  # the program's own output goes to stderr, JSON stays clean


def test_run_text_table(project):
    proc = gradlint("--run", "train.py", "--epochs", "2", cwd=project)
    assert proc.returncode == 1, proc.stderr
    assert "evaluation.py:7" in proc.stdout and "confirmed" in proc.stdout
    assert "confirmed at run time on cpu" in proc.stdout


def test_run_timeout_stops_the_program_and_keeps_partial_verdicts(tmp_path):
    write(tmp_path, "slow.py", """
        import time
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
        model.eval()
        test_batches = [torch.randn(4, 8)]
        for x in test_batches:
            print(model(x).sum().item())
        time.sleep(120)
        for x in test_batches:
            model(x)
    """)
    proc = gradlint("--timeout", "4", "--format", "json", "--run", "slow.py", cwd=tmp_path, timeout=120)
    assert "did not finish within 4 s" in proc.stderr
    rows = json.loads(proc.stdout)
    # the loop's forward ran and was measured; the one after the sleep never ran
    assert [r["verdict"] for r in rows if r["code"] == "GL201"] == ["confirmed", "not reached"]
    assert proc.returncode == 1


def test_run_reports_a_failing_program(tmp_path):
    write(tmp_path, "broken.py", """
        import torch
        import torch.nn as nn

        model = nn.Linear(3, 1).eval()
        test_batches = [torch.randn(2, 3)]
        for x in test_batches:
            model(x)
        raise ValueError("the data went missing")
    """)
    proc = gradlint("--run", "broken.py", cwd=tmp_path)
    assert "raised ValueError" in proc.stderr and "the data went missing" in proc.stderr
    assert proc.returncode == 1  # GL201 still confirmed before the failure


def test_run_clean_program_exits_zero(tmp_path):
    write(tmp_path, "fine.py", """
        import torch
        print(torch.ones(2).sum().item())
    """)
    proc = gradlint("--run", "fine.py", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "0 findings" in proc.stdout


def test_run_needs_a_script(tmp_path):
    proc = gradlint("--run", cwd=tmp_path)
    assert proc.returncode == 2
    proc = gradlint("--run", "missing.py", cwd=tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where CUDA is missing")
def test_device_cuda_without_cuda_is_a_clear_error(tmp_path):
    write(tmp_path, "fine.py", "print(1)\n")
    proc = gradlint("--device", "cuda", "--run", "fine.py", cwd=tmp_path)
    assert proc.returncode == 2 and "CUDA is not available" in proc.stderr


def test_verify_without_torch_says_how_to_install(tmp_path):
    blocker = textwrap.dedent("""
        import sys
        class _NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is not installed here")
                return None
        sys.meta_path.insert(0, _NoTorch())
        from gradlint.cli import main
        sys.argv = ["gradlint", "verify"]
        main()
    """)
    proc = subprocess.run([PYTHON, "-c", blocker], capture_output=True, text=True, cwd=ROOT, env=run_env())
    assert proc.returncode == 2
    assert "needs PyTorch" in proc.stderr


def test_monitors_do_not_change_the_programs_results(tmp_path):
    """The repeat and eval-mode forwards restore RNG and buffers: same numbers as a plain run."""
    write(tmp_path, "noisy.py", """
        import torch
        import torch.nn as nn

        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Dropout(0.5), nn.Linear(16, 1))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for step in range(3):
            opt.zero_grad()
            model(torch.randn(8, 4)).pow(2).mean().backward()
            opt.step()
        with torch.no_grad():
            val_preds = [model(torch.randn(8, 4)).sum().item() for _ in range(2)]
        print("RESULT", val_preds, model[1].running_mean.sum().item(), torch.rand(1).item())
    """)
    plain = subprocess.run([PYTHON, "noisy.py"], capture_output=True, text=True, cwd=tmp_path)
    verified = gradlint("--run", "noisy.py", cwd=tmp_path)
    result = [ln for ln in plain.stdout.splitlines() if ln.startswith("RESULT")]
    assert result and result[0] in verified.stderr.splitlines()
    assert "confirmed" in verified.stdout  # the GL101 forward was measured (and repeated) meanwhile
