"""SARIF 2.1.0 (OASIS), as code-scanning dashboards read it.

One run; the driver lists every implemented rule with its id, name, short and full
description, help text and help URI (the rule's doc page). Findings are results;
files that could not be linted (E902, E999) are tool execution notifications.
Columns count Unicode code points (``columnKind``), as gradlint's columns do.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any, Dict, List, Optional, TextIO
from urllib.parse import quote

from .. import __version__
from ..catalog import CATALOG
from ..docs import DOCS, doc_url, render_markdown
from ..finding import Finding
from ..rules import implemented

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
PROJECT_URL = "https://github.com/gradlint/gradlint"
SRCROOT = "%SRCROOT%"


def _plain(markdown: str) -> str:
    return " ".join(markdown.split())


def rule_descriptor(code: str) -> Dict[str, Any]:
    info = CATALOG[code]
    doc = DOCS.get(code)
    descriptor: Dict[str, Any] = {
        "id": code,
        "name": info.name,
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": _plain(f"{doc.what} {doc.why}") if doc else info.summary},
        "helpUri": doc_url(code),
        "defaultConfiguration": {"level": _level(code)},
        "properties": {"tags": ["pytorch", "correctness"], "severity": info.severity},
    }
    if doc is not None:
        page = render_markdown(doc).split("\n", 2)[2]
        descriptor["help"] = {"text": _plain(doc.what), "markdown": page}
    return descriptor


def _level(code: str) -> str:
    info = CATALOG.get(code)
    return "warning" if info is not None and info.severity == "warning" else "error"


def _artifact(path: str, root: str) -> Dict[str, Any]:
    absolute = os.path.abspath(path)
    rel = os.path.relpath(absolute, root)
    if rel.startswith(".."):
        return {"uri": pathlib.Path(absolute).as_uri()}
    return {"uri": quote(rel.replace(os.sep, "/")), "uriBaseId": SRCROOT}


def _location(finding: Finding, root: str) -> Dict[str, Any]:
    physical: Dict[str, Any] = {"artifactLocation": _artifact(finding.path, root)}
    if finding.cell is None:
        physical["region"] = {"startLine": finding.line, "startColumn": finding.col}
        return {"physicalLocation": physical}
    # A notebook: the line is a line of the cell, not of the .ipynb file's JSON text.
    return {"physicalLocation": physical,
            "logicalLocations": [{"name": f"cell {finding.cell}", "kind": "module"}],
            "properties": {"cell": finding.cell, "line": finding.line, "column": finding.col}}


def _message(finding: Finding) -> str:
    text = finding.message + (f"\nhelp: {finding.help}" if finding.help else "")
    if finding.cell is None:
        return text
    return f"cell {finding.cell}, line {finding.line}, col {finding.col}: {text}"


def sarif_log(findings: List[Finding], root: Optional[str] = None) -> Dict[str, Any]:
    root = os.path.abspath(root or os.getcwd())
    codes = implemented()
    index = {code: n for n, code in enumerate(codes)}
    results = []
    notifications = []
    for finding in findings:
        if finding.is_error:
            notifications.append({"level": "error", "message": {"text": f"{finding.code} {_message(finding)}"},
                                  "locations": [_location(finding, root)],
                                  "descriptor": {"id": finding.code}})
            continue
        result: Dict[str, Any] = {"ruleId": finding.code, "level": _level(finding.code),
                                  "message": {"text": _message(finding)},
                                  "locations": [_location(finding, root)]}
        if finding.code in index:
            result["ruleIndex"] = index[finding.code]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "gradlint", "version": __version__, "semanticVersion": __version__,
                                "informationUri": PROJECT_URL,
                                "rules": [rule_descriptor(code) for code in codes]}},
            "originalUriBaseIds": {SRCROOT: {"uri": pathlib.Path(root).as_uri().rstrip("/") + "/"}},
            "columnKind": "unicodeCodePoints",
            "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }


def write(run, out: TextIO, color: bool = False) -> None:
    json.dump(sarif_log(run.findings), out, indent=2, ensure_ascii=False)
    out.write("\n")
