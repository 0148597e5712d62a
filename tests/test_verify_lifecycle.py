"""The verifier runs only what it is told to, nothing it starts outlives it, and `--run` serves
real programs: every optimizer step watched, live progress, no default timeout, `-m`, the
device actually used."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from conftest import PYTHON, ROOT, run_env

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process checks read /proc")


def gradlint(*args, cwd, timeout=240, env=None):
    return subprocess.run([PYTHON, "-m", "gradlint", "verify", *args], capture_output=True, text=True,
                          cwd=cwd, env=env or run_env(), timeout=timeout)


def write(folder, name, text):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


SPAWNS = """
    import subprocess, sys, time
    import torch
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    with open("spawned.pid", "w") as handle:
        handle.write(str(child.pid))
    time.sleep({sleep})
"""


def test_verify_without_arguments_never_runs_the_current_folders_fixtures(tmp_path):
    """From an installed (non-editable) gradlint it ran every fixtures/**/bad_*.py it found."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "gradlint", site / "gradlint", ignore=shutil.ignore_patterns("__pycache__"))
    project = tmp_path / "project"
    write(project, "fixtures/GL101/bad_planted.py", "open('ran', 'w').close()\n")
    env = dict(run_env(), PYTHONPATH=str(site))
    proc = gradlint(cwd=project, env=env)
    assert proc.returncode == 2 and "has no fixtures of its own" in proc.stderr
    assert not (project / "ran").exists()


def test_a_fixture_that_times_out_takes_its_children_along(tmp_path):
    write(tmp_path, "GL101/good_spawns_and_hangs.py", SPAWNS.format(sleep=300))
    proc = gradlint("--timeout", "2", "GL101/good_spawns_and_hangs.py", cwd=tmp_path)
    assert "did not finish within 2 s" in proc.stdout
    assert gone(int((tmp_path / "spawned.pid").read_text()))


def test_killing_gradlint_kills_the_program_and_its_children(tmp_path):
    write(tmp_path, "hang.py", SPAWNS.format(sleep=300))
    proc = subprocess.Popen([PYTHON, "-m", "gradlint", "verify", "--run", "hang.py"], cwd=tmp_path, env=run_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (tmp_path / "spawned.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    spawned = int((tmp_path / "spawned.pid").read_text())
    program = int(open(f"/proc/{spawned}/stat").read().rsplit(")", 1)[1].split()[1])  # the child running hang.py
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert gone(program) and gone(spawned)


def test_killing_gradlint_verify_kills_its_fixture_servers_and_their_jobs(tmp_path):
    write(tmp_path, "GL101/good_hangs.py", SPAWNS.format(sleep=300))
    proc = subprocess.Popen([PYTHON, "-m", "gradlint", "verify", "GL101/good_hangs.py"], cwd=tmp_path,
                            env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (tmp_path / "spawned.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    spawned = int((tmp_path / "spawned.pid").read_text())
    job = int(open(f"/proc/{spawned}/stat").read().rsplit(")", 1)[1].split()[1])
    server = int(open(f"/proc/{job}/stat").read().rsplit(")", 1)[1].split()[1])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert gone(server) and gone(job) and gone(spawned)


LATE_FREEZE = """
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(100):
        if step == 60:
            for p in model[0].parameters():
                p.requires_grad = False
        optimizer.zero_grad(set_to_none=False)
        model(torch.randn(8, 4)).pow(2).mean().backward()
        optimizer.step()
"""


EVALUATES = """
    import subprocess, sys, time
    import torch
    import torch.nn as nn

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # left running
    with open("spawned.pid", "w") as handle:
        handle.write(str(child.pid))

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 32), nn.Dropout(0.5), nn.Linear(32, 1))
    model.load_state_dict(model.state_dict())
    test_batches = [torch.randn(8, 4)]
    for x in test_batches:
        print("score", model(x).mean().item())
    for pause in (2.1, 0.8):  # a quiet stretch: a forward after 2 s writes a progress snapshot
        time.sleep(pause)
        with torch.no_grad():
            model(torch.randn(2, 4))
"""


def test_run_shows_live_progress_and_the_device_and_kills_what_the_program_left(tmp_path):
    """It printed nothing until the program ended, `--device auto` came out as "on auto", and
    what a program that exits normally leaves running outlived it."""
    write(tmp_path, "evaluate.py", EVALUATES)
    proc = gradlint("--device", "auto", "--run", "evaluate.py", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("gradlint verify: ")]
    assert lines[0].startswith("gradlint verify: running `evaluate.py` under the runtime monitors (3 findings")
    assert "no time limit" in lines[0]
    assert any(line.startswith("gradlint verify: the program runs on ") for line in lines)
    confirmed = [line for line in lines if line.startswith("gradlint verify: confirmed ")]
    assert confirmed and "confirmed so far" in confirmed[0]
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert proc.stdout.rstrip().endswith(f"confirmed at run time on {expected}.")
    assert "on auto" not in proc.stdout
    assert gone(int((tmp_path / "spawned.pid").read_text()))


def test_run_dash_m_runs_a_module_and_watches_every_optimizer_step(tmp_path):
    """Frozen at step 60 of 100: it said "the optimizer held no frozen parameter" (it watched 50
    steps); and `-m` was not there."""
    write(tmp_path, "pkg/__init__.py", "")
    program = textwrap.dedent(LATE_FREEZE) + "import sys\nprint('argv', sys.argv[1:], __name__)\n"
    write(tmp_path, "pkg/train.py", program)
    proc = gradlint("--run", "-m", "pkg.train", "--epochs", "1", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "pkg/train.py:6  GL301  confirmed  frozen weight moved by" in proc.stdout
    assert "over 40 steps" in proc.stdout
    assert "argv ['--epochs', '1'] __main__" in proc.stderr
    missing = gradlint("--run", "-m", "pkg.nothing", cwd=tmp_path)
    assert missing.returncode == 2 and "no module named 'pkg.nothing'" in missing.stderr


def test_the_fixture_summary_names_the_device_used_not_auto():
    from gradlint.verify.fixtures import Row
    from gradlint.verify.report import devices_used

    rows = [Row("GL101", "f", "/f.py", 1, "confirmed", "confirmed", "e", True, device="cpu")]
    assert devices_used(rows, "auto") == "cpu"
    assert devices_used(rows + [Row("GL101", "g", "/g.py", 1, "c", "c", "e", True, device="cuda")], "auto") == \
        "cpu and cuda"
