"""Linting never imports torch: it works where torch is not installed."""

import subprocess
import textwrap

from conftest import FIXTURES, PYTHON, ROOT, run_env

BLOCK_TORCH = textwrap.dedent("""
    import sys
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is not installed here")
            return None
    sys.meta_path.insert(0, _NoTorch())
    from gradlint.cli import main
    sys.argv = ["gradlint"] + sys.argv[1:]
    main()
""")


def test_lints_fixtures_with_torch_unimportable():
    proc = subprocess.run([PYTHON, "-c", BLOCK_TORCH, str(FIXTURES)], capture_output=True, text=True,
                          env=run_env(), cwd=ROOT)
    assert proc.returncode == 1, proc.stderr
    assert "GL101" in proc.stdout and "GL401" in proc.stdout
    assert "torch is not installed" not in proc.stderr
