"""The verify table and its JSON form."""

from __future__ import annotations

import json
import os
from typing import List, Sequence, TextIO


def _table(header: Sequence[str], rows: List[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header) - 1)]
    for row in [header] + rows:
        cells = [str(c).ljust(w) for c, w in zip(row, widths)] + [str(row[-1])]
        out.write("  ".join(cells).rstrip() + "\n")


def write_fixture_table(rows, out: TextIO) -> None:
    header = ("", "RULE", "FIXTURE", "LINE", "EXPECTED", "VERDICT", "EVIDENCE")
    body = [("ok" if r.ok else "FAIL", r.code, r.fixture, "-" if r.line is None else str(r.line), r.expected,
             r.verdict, r.evidence) for r in rows]
    _table(header, body, out)


def fixture_summary(rows, device: str, seconds: float) -> str:
    fixtures = len({r.fixture for r in rows})
    failed = [r for r in rows if not r.ok]
    confirmed = sum(1 for r in rows if r.verdict == "confirmed")
    text = (f"{fixtures} fixtures, {len(rows)} outcomes on {device}: {confirmed} confirmed, "
            f"{len(failed)} not as expected ({seconds:.1f} s).")
    return text


def devices_used(rows, requested: str) -> str:
    """The devices the fixtures actually ran on ("cpu", "cuda", "cpu and cuda"), not "auto"."""
    used = sorted({r.device for r in rows if getattr(r, "device", None)})
    return " and ".join(used) if used else requested


def write_program_table(rows, out: TextIO, cwd: str = "") -> None:
    header = ("LOCATION", "RULE", "VERDICT", "EVIDENCE")
    body = [(f"{_rel(r['path'], cwd)}:{r['line']}", r["code"], r["verdict"], r["evidence"]) for r in rows]
    _table(header, body, out)


def _rel(path: str, cwd: str) -> str:
    try:
        rel = os.path.relpath(path, cwd or os.getcwd())
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def write_json(items: List[dict], out: TextIO) -> None:
    json.dump(items, out, indent=2)
    out.write("\n")
