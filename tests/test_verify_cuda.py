"""CUDA paths of the verifier; they skip cleanly where no GPU is available."""

import pytest

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

from conftest import FIXTURES  # noqa: E402

from gradlint.selection import Selection  # noqa: E402
from gradlint.verify import CONFIRMED  # noqa: E402
from gradlint.verify.fixtures import verify_fixtures  # noqa: E402


@pytest.fixture(scope="module")
def cuda_table():
    rows = verify_fixtures(str(FIXTURES), selection=Selection(), device="cuda", jobs=2)
    by_fixture = {}
    for row in rows:
        by_fixture.setdefault(row.fixture, []).append(row)
    return by_fixture


def test_every_fixture_matches_on_cuda(cuda_table):
    bad = [(name, r.line, r.code, r.expected, r.verdict, r.evidence)
           for name, rows in cuda_table.items() for r in rows if not r.ok]
    assert not bad, bad


def test_cuda_only_grad_of_non_leaf_is_confirmed(cuda_table):
    rows = [r for r in cuda_table["GL401/bad_to_device_copy.py"] if r.code == "GL401"]
    assert [r.verdict for r in rows] == [CONFIRMED]
    assert "not a leaf Tensor" in rows[0].evidence


def test_memory_is_measured_with_cuda_statistics(cuda_table):
    rows = [r for r in cuda_table["GL201/bad_validate_without_no_grad.py"] if r.code == "GL201"]
    assert rows[0].verdict == CONFIRMED
    assert "CUDA memory held after the call" in rows[0].evidence


def test_auto_device_picks_cuda(tmp_path):
    rows = verify_fixtures(str(FIXTURES), [str(FIXTURES / "GL401" / "bad_to_device_copy.py")],
                           Selection(), device="auto", jobs=1)
    assert [r.verdict for r in rows if r.code == "GL401"] == [CONFIRMED]
