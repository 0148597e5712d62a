"""The JSON report: one document, schema version 1 (docs/output-formats.md describes it and
docs/gradlint-report.schema.json is its JSON Schema).

Stable contract: within a schema version, keys are only ever added, never renamed or
removed, and their meaning does not change.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Dict, List, TextIO

from .. import __version__
from ..catalog import CATALOG
from ..docs import doc_url
from ..finding import Finding

SCHEMA_VERSION = 1


def _location(finding: Finding) -> Dict[str, Any]:
    return {"path": finding.path, "cell": finding.cell, "line": finding.line, "column": finding.col,
            "end_line": finding.end_line, "end_column": finding.end_col}


def _finding(finding: Finding, docs_url=None) -> Dict[str, Any]:
    info = CATALOG[finding.code]
    fix = finding.fix
    return {**_location(finding), "code": finding.code, "name": info.name, "severity": info.severity,
            "message": finding.message, "help": finding.help or None, "url": doc_url(finding.code, docs_url),
            "fix": {"applicability": fix.applicability, "message": fix.description} if fix is not None else None}


def _error(finding: Finding) -> Dict[str, Any]:
    return {**_location(finding), "code": finding.code, "message": finding.message}


def report(run) -> Dict[str, Any]:
    problems: List[Finding] = [f for f in run.findings if not f.is_error]
    errors: List[Finding] = [f for f in run.findings if f.is_error]
    counts = Counter(f.code for f in problems)
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gradlint", "version": __version__},
        "summary": {
            "files_checked": run.files_checked,
            "problems": len(problems),
            "files_with_problems": len({f.path for f in problems}),
            "files_not_linted": len({f.path for f in errors}),
            **({"fixed": run.fixed} if getattr(run, "fixed", None) is not None else {}),
        },
        "findings": [_finding(f, getattr(run, "docs_url", None)) for f in problems],
        "errors": [_error(f) for f in errors],
        "statistics": [{"code": code, "name": CATALOG[code].name, "count": count}
                       for code, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))],
    }


def write(run, out: TextIO, color: bool = False) -> None:
    json.dump(report(run), out, indent=2, ensure_ascii=False)
    out.write("\n")
