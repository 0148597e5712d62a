"""The verifier over every fixture on CPU: each outcome must match the fixture's markers."""

import pytest

from conftest import FIXTURES, fixture_files, fixture_id

torch = pytest.importorskip("torch")

from gradlint.selection import Selection  # noqa: E402
from gradlint.verify import CONFIRMED, EFFECT_ABSENT, NOT_REPRODUCED  # noqa: E402
from gradlint.verify.fixtures import verify_fixtures  # noqa: E402

FILES = fixture_files()


@pytest.fixture(scope="module")
def table():
    rows = verify_fixtures(str(FIXTURES), selection=Selection(), device="cpu", jobs=2)
    by_fixture = {}
    for row in rows:
        by_fixture.setdefault(row.fixture, []).append(row)
    return by_fixture


@pytest.mark.parametrize("path", FILES, ids=[fixture_id(p) for p in FILES])
def test_fixture_outcomes_match_expectations(table, path):
    rows = table.get(fixture_id(path))
    assert rows, "the fixture produced no verify outcome"
    bad = [f"line {r.line} {r.code}: expected {r.expected}, got {r.verdict}: {r.evidence}" for r in rows if not r.ok]
    assert not bad, "\n".join(bad)


def test_every_bad_marker_has_measured_evidence(table):
    """Confirmed rows carry numbers or torch's own message, never a bare claim."""
    for rows in table.values():
        for row in rows:
            if row.verdict == CONFIRMED:
                assert any(ch.isdigit() for ch in row.evidence) or "Error" in row.evidence \
                    or "Warning" in row.evidence or "still" in row.evidence, row


def test_gl301_shows_both_conditions(table):
    """GL301's harm is conditional: the bad fixtures (frozen once training began) show the frozen
    weights moving through stale zeroed grads with momentum / weight decay; the good fixtures
    frozen before training hand frozen parameters over, and they stay put (not reported)."""
    rows = [r for name, rs in table.items() if name.startswith("GL301/bad_") for r in rs if r.code == "GL301"]
    assert rows and all(r.verdict == CONFIRMED for r in rows)
    assert all("frozen weight moved by" in r.evidence and "zeroed .grad" in r.evidence for r in rows)
    plain = [r for name, rs in table.items() if name.startswith("GL301/good_") for r in rs if r.code == "GL301"
             and "frozen parameters held, none moved" in r.evidence and not r.evidence.startswith("1 optimizer, 0")]
    assert len(plain) >= 3 and all(r.verdict == EFFECT_ABSENT for r in plain)


def test_good_fixtures_report_the_effect_absent(table):
    goods = {name: rows for name, rows in table.items() if "/good_" in name}
    assert goods
    absent = [name for name, rows in goods.items() if any(r.verdict == EFFECT_ABSENT for r in rows)]
    assert len(absent) >= len(goods) // 2


def test_cuda_only_marker_is_not_reproduced_on_cpu(table):
    rows = table["GL401/bad_to_device_copy.py"]
    assert [r.verdict for r in rows if r.code == "GL401"] == [NOT_REPRODUCED]
