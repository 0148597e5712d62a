import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def fixture_files():
    return sorted(FIXTURES.glob("GL*/*.py"))


def fixture_id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def run_env():
    """Environment for subprocesses that run gradlint from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


PYTHON = sys.executable
